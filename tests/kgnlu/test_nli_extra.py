"""Human-written pairs beside the generated ones (``kgnlu train nli --extra``): selection by
source, a seeded train/dev split, the recipe the manifest records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgnlu.training.nli_train import EXTRA_DEV_FRACTION, read_extra
from kgnlu.types import InputError

REAL = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "nli"
MNLI = REAL / "mnli_taxinli.jsonl"


@pytest.mark.skipif(not MNLI.is_file(), reason="../shared/realdata is absent")
def test_source_selection_split_and_recipe():
    spec = f"{MNLI}#MNLI_train"
    train, dev, recipe = read_extra([spec], seed=0)
    assert all(r["source"].startswith("MNLI_train") for r in train + dev)
    n = sum(1 for line in MNLI.read_text(encoding="utf-8").splitlines() if json.loads(line)["source"].startswith("MNLI_train"))
    assert len(train) + len(dev) == n and len(dev) == round(n * EXTRA_DEV_FRACTION)
    assert {(r["premise"], r["hypothesis"]) for r in train}.isdisjoint((r["premise"], r["hypothesis"]) for r in dev)
    assert recipe == [{"spec": spec, "sha256": recipe[0]["sha256"], "train": len(train), "dev": len(dev)}]
    assert read_extra([spec], seed=0) == (train, dev, recipe)  # seeded
    assert read_extra([spec], seed=1)[1] != dev
    capped = read_extra([spec], seed=0, max_per_file=100)
    assert len(capped[0]) + len(capped[1]) == 100


def test_missing_file_and_empty_selection(tmp_path):
    with pytest.raises(InputError, match="no file"):
        read_extra([str(tmp_path / "none.jsonl")], seed=0)
    f = tmp_path / "pairs.jsonl"
    f.write_text(json.dumps({"premise": "a b", "hypothesis": "a", "label": "entailment", "source": "x"}) + "\n")
    with pytest.raises(InputError, match="no pairs whose source starts with 'y'"):
        read_extra([f"{f}#y"], seed=0)
    assert len(read_extra([str(f)], seed=0)[1]) == 1  # a one-pair file still gives its dev part


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/realdata is absent")
def test_bucketed_batches_are_a_seeded_permutation_of_similar_lengths():
    """Batches of similar length: a Citation-Integrity pair (~130 tokens) no longer pads a batch of
    SNLI pairs (~30); every pair still comes once an epoch, in a seeded order."""
    import random
    import statistics

    from kgnlu.training.nli_train import PairSet, bucketed_order

    recs = read_extra([str(REAL / "snli_test.jsonl"), str(REAL / "citint_train.jsonl")], seed=0, max_per_file=800)[0]
    random.Random(0).shuffle(recs)
    pairs = PairSet([r["premise"] for r in recs], [r["hypothesis"] for r in recs], [r["label"] for r in recs],
                    [None] * len(recs))
    order = bucketed_order(pairs, 32, random.Random(0), pool=10)
    assert sorted(order) == list(range(len(recs)))
    assert order == bucketed_order(pairs, 32, random.Random(0), pool=10) != bucketed_order(pairs, 32, random.Random(1), pool=10)
    length = [len(p) + len(h) for p, h in zip(pairs.premises, pairs.hypotheses)]

    def mean_padded(o):  # what a batch costs: its longest pair, times its size
        return statistics.mean(max(length[j] for j in o[i:i + 32]) for i in range(0, len(o), 32))

    assert mean_padded(order) < 0.7 * mean_padded(list(range(len(recs))))
    full = [order[i:i + 32] for i in range(0, len(order) - len(order) % 32, 32)]
    assert all(len(b) == 32 for b in full)  # the one short batch is the last

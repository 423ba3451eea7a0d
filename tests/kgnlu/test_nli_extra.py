"""Human-written pairs beside the generated ones (``kgnlu train nli --extra``): selection by
source, a seeded train/dev split, the recipe the manifest records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgnlu.training.nli_train import EXTRA_DEV_FRACTION, read_extra

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
    with pytest.raises(FileNotFoundError, match="no file"):
        read_extra([str(tmp_path / "none.jsonl")], seed=0)
    f = tmp_path / "pairs.jsonl"
    f.write_text(json.dumps({"premise": "a b", "hypothesis": "a", "label": "entailment", "source": "x"}) + "\n")
    with pytest.raises(ValueError, match="no pairs whose source starts with 'y'"):
        read_extra([f"{f}#y"], seed=0)
    assert len(read_extra([str(f)], seed=0)[1]) == 1  # a one-pair file still gives its dev part

"""``kgnlu.training.nli_data``: NLI pairs generated from the KG, on the demo food ontology.

The demo KG (``demo_kg`` in conftest: food.ttl ingested once per session) is small, so most
pairs fall in train; dev and test hold out the few remaining concepts.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from kgnlu.kg.rules import Assertion, RuleEngine
from kgnlu.kg.tables import ClosureTables
from kgnlu.tasks.nli import VERDICT_TO_LABEL
from kgnlu.training import nli_data
from kgnlu.training.nli_concepts import pluralize, split_of, with_article

REPO = Path(__file__).resolve().parents[2]
DEV_SET = REPO / "data" / "nli_dev_clinical.jsonl"
N_TRAIN, N_DEV, N_TEST = 240, 30, 30


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def generated(demo_kg, tmp_path_factory):
    out = tmp_path_factory.mktemp("nli")
    stats = nli_data.generate(demo_kg, out, seed=0, n_train=N_TRAIN, n_dev=N_DEV, n_test=N_TEST)
    rows = {s: _read(out / f"{s}.jsonl") for s in nli_data.SPLITS}
    return out, stats, rows


@pytest.fixture(scope="module")
def tables(demo_kg):
    return ClosureTables(demo_kg / "current" / "tables.sqlite3")


def test_label_ids_are_explicit():
    assert nli_data.ID2LABEL == {0: "entailment", 1: "neutral", 2: "contradiction"}
    assert nli_data.LABEL2ID == {"entailment": 0, "neutral": 1, "contradiction": 2}


def test_files_and_row_contract(generated):
    out, stats, rows = generated
    assert {p.name for p in out.iterdir()} >= {"train.jsonl", "dev.jsonl", "test.jsonl", "stats.json"}
    assert json.loads((out / "stats.json").read_text())["domain"] == "food" == stats["domain"]
    assert len(rows["train"]) == N_TRAIN
    ids = set()
    for split, rs in rows.items():
        for r in rs:
            assert {"id", "premise", "hypothesis", "label", "type", "concepts", "split"} <= r.keys()
            assert r["split"] == split and r["label"] in nli_data.ID2LABEL.values()
            assert isinstance(r["id"], str) and r["id"] not in ids
            ids.add(r["id"])
            assert r["premise"].strip() and r["hypothesis"].strip() and r["premise"] != r["hypothesis"]
            assert r["type"] == "general" or r["label"] in {
                lab for lab, types in nli_data.TYPES.items() if r["type"] in types}
            assert sorted({iri for iri, _ in r["premise_concepts"] + r["hypothesis_concepts"]}) == r["concepts"]


def test_splits_are_disjoint_by_concept(generated, tables):
    _, _, rows = generated
    seen = {s: {c for r in rs for c in r["concepts"]} for s, rs in rows.items()}
    assert seen["train"], "train must hold concept pairs"
    assert not seen["train"] & seen["dev"] and not seen["train"] & seen["test"] and not seen["dev"] & seen["test"]
    # The partition is the seeded hash of the smallest IRI of the concept's equivalence class.
    for split, concepts in seen.items():
        for c in concepts:
            key = min([c, *(a for a in tables.ancestors(c) if c in tables.ancestors(a))])
            assert split_of(key, 0) == split


def test_balanced_labels_and_many_types(generated):
    _, stats, rows = generated
    counts = Counter(r["label"] for r in rows["train"])
    for label in nli_data.ID2LABEL.values():
        assert abs(counts[label] - N_TRAIN / 3) <= 0.1 * N_TRAIN, counts
    types = Counter(r["type"] for r in rows["train"])
    assert {"mono-up", "mono-down-neg", "reverse-up", "neg-upward", "clash-neg", "clash-disjoint", "syn-eq",
            "unrelated", "general"} <= types.keys(), types
    assert stats["splits"]["train"]["label"] == dict(sorted(counts.items()))


def _assertions(pairs, side):
    return [Assertion(iri, bool(neg), side, iri, 0, 0) for iri, neg in pairs]


def test_every_label_follows_from_the_closure_tables(generated, tables):
    """Replaying kg.rules on the intended assertions gives the gold label, for every KG-built pair
    (hedges and questions excepted: their premises assert nothing)."""
    _, _, rows = generated
    rules = RuleEngine(tables)
    checked = 0
    for r in (r for rs in rows.values() for r in rs):
        if r["type"] in nli_data.UNCHECKED:
            continue
        verdict = rules.decide(_assertions(r["premise_concepts"], "premise"), _assertions(r["hypothesis_concepts"], "hypothesis"))
        assert VERDICT_TO_LABEL[verdict.label] == r["label"], r
        checked += 1
    assert checked > N_TRAIN / 2


def test_spot_checks_per_type(generated, tables):
    _, _, rows = generated
    by_type: dict[str, list[dict]] = {}
    for r in rows["train"]:
        by_type.setdefault(r["type"], []).append(r)

    def one(r):
        (p, pn), = r["premise_concepts"]
        (h, hn), = r["hypothesis_concepts"]
        return p, pn, h, hn

    for r in by_type["mono-up"]:
        p, pn, h, hn = one(r)
        assert not pn and not hn and h in tables.ancestors(p) and r["label"] == "entailment"
    for r in by_type["mono-down-neg"]:
        p, pn, h, hn = one(r)
        assert pn and hn and p in tables.ancestors(h) and r["label"] == "entailment"
    for r in by_type["reverse-up"]:
        p, pn, h, hn = one(r)
        assert not pn and not hn and p in tables.ancestors(h) and not tables.is_subclass(p, h)
        assert r["label"] == "neutral"
    for r in by_type["neg-upward"]:
        p, pn, h, hn = one(r)
        assert pn and hn and h in tables.ancestors(p) and not tables.is_subclass(h, p) and r["label"] == "neutral"
    for r in by_type["clash-neg"]:
        p, pn, h, hn = one(r)
        assert pn != hn and r["label"] == "contradiction"
        assert tables.is_subclass(h, p) if pn else tables.is_subclass(p, h)
    for r in by_type["clash-disjoint"]:
        p, pn, h, hn = one(r)
        assert not pn and not hn and tables.disjoint(p, h) is not None and r["label"] == "contradiction"
        assert r["frame"] == "food_identity"  # "this is an apple" vs "this is meat", never "I ate ..."
    for r in by_type["syn-eq"]:
        p, pn, h, hn = one(r)
        assert pn == hn and tables.equivalent(p, h) and r["label"] == "entailment"
    for r in by_type["unrelated"]:
        p, _, h, _ = one(r)
        assert not tables.is_subclass(p, h) and not tables.is_subclass(h, p) and tables.disjoint(p, h) is None
        assert r["label"] == "neutral" and r["frame"] != "food_identity"
    for r in by_type["general"]:
        assert r["concepts"] == [] and r["premise_concepts"] == []


def test_linker_reads_the_generated_pairs(generated, demo_kg):
    _, _, rows = generated
    report = nli_data.validate(demo_kg, rows["train"], n=120)
    assert report["pairs"] == 120
    assert report["agreement"] >= 0.95, report["failures"][:5]


def test_same_seed_same_bytes_other_seed_other_data(demo_kg, generated, tmp_path):
    out, _, _ = generated
    nli_data.generate(demo_kg, tmp_path / "again", seed=0, n_train=N_TRAIN, n_dev=N_DEV, n_test=N_TEST)
    for split in nli_data.SPLITS:
        assert (tmp_path / "again" / f"{split}.jsonl").read_bytes() == (out / f"{split}.jsonl").read_bytes()
    nli_data.generate(demo_kg, tmp_path / "other", seed=1, n_train=N_TRAIN, n_dev=N_DEV, n_test=N_TEST)
    assert (tmp_path / "other" / "train.jsonl").read_bytes() != (out / "train.jsonl").read_bytes()


def test_cli_entry_point(demo_kg, tmp_path, capsys):
    rc = nli_data.main(["--kg", str(demo_kg), "--out", str(tmp_path / "o"), "--n-train", "30", "--n-dev", "6",
                        "--n-test", "6", "--validate", "0"])
    assert rc == 0
    assert json.loads(capsys.readouterr().out)["splits"]["train"]["total"] == 30
    assert len(_read(tmp_path / "o" / "train.jsonl")) == 30


def test_unknown_domain_is_refused(demo_kg, tmp_path):
    with pytest.raises(ValueError, match="unknown domain"):
        nli_data.generate(demo_kg, tmp_path, n_train=3, n_dev=0, n_test=0, domain="astronomy")


def test_surface_helpers():
    unc = {"beef", "fruit", "citrus fruit"}
    assert [pluralize(w, unc) for w in ("apple", "beef", "Granny Smith", "dairy product", "peach", "berry")] == [
        "apples", "beef", "Granny Smiths", "dairy products", "peaches", "berries"]
    assert [with_article(w, unc) for w in ("apple", "carrot", "beef", "citrus fruit")] == [
        "an apple", "a carrot", "beef", "citrus fruit"]


def test_template_file_pools():
    t = nli_data.load_templates()
    general = t["general"]
    assert len(general) >= 60
    counts = Counter(g["label"] for g in general)
    assert set(counts) == set(nli_data.ID2LABEL.values()) and max(counts.values()) - min(counts.values()) <= 3
    for name, frame in t["frames"].items():
        assert frame["kind"] in ("has", "is") and frame["pos"] and frame["neg"], name
        for slot in ("pos", "neg", "hedge", "question"):
            assert all("{x}" in s for s in frame.get(slot, ())), (name, slot)
        assert all("?" not in s for slot in ("pos", "neg", "multi_pos", "multi_neg", "mixed") for s in frame.get(slot, ()))


def test_clinical_dev_set_file():
    rows = _read(DEV_SET)
    assert len(rows) >= 150
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({(r["premise"], r["hypothesis"]) for r in rows}) == len(rows)
    counts = Counter(r["label"] for r in rows)
    assert set(counts) == set(nli_data.ID2LABEL.values())
    assert all(n >= 0.25 * len(rows) for n in counts.values()), counts
    for r in rows:
        assert r["premise"].strip() and r["hypothesis"].strip() and r["note"].strip()

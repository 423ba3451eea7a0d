"""Self-alignment training of the linker's LoRA adapter, on the demo KG plus a few food synonyms."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kgnlu.training.linker_train import (  # noqa: E402
    Pair, hard_batches, is_held_out, make_pairs, read_training, split_digest, synonym_groups, train,
)

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "ontologies" / "demo" / "food.ttl"
FOOD = "http://kgnlu.org/demo/food#"

# British and American names of foods: synonym groups the untuned encoder does not already know.
SYNONYMS = {
    "Aubergine": ("aubergine", "eggplant", "brinjal"), "Courgette": ("courgette", "zucchini"),
    "Coriander": ("coriander leaf", "cilantro"), "Chickpea": ("chickpea", "garbanzo bean", "ceci"),
    "Rocket": ("rocket salad", "arugula"), "Scallion": ("scallion", "spring onion", "green onion"),
    "Swede": ("swede", "rutabaga"), "Capsicum": ("capsicum", "bell pepper", "sweet pepper"),
    "Prawn": ("prawn", "shrimp"), "Mince": ("minced beef", "ground beef"), "Crisps": ("crisps", "potato chips"),
    "Biscuit": ("biscuit", "cookie"), "CandyFloss": ("candy floss", "cotton candy", "fairy floss"),
    "IceLolly": ("ice lolly", "popsicle"), "Beetroot": ("beetroot", "beet"), "Mangetout": ("mangetout", "snow pea"),
    "Jacket": ("jacket potato", "baked potato"), "Chips": ("chips", "french fries"),
}


def _extra_ttl(path: Path) -> Path:
    lines = ["@prefix : <http://kgnlu.org/demo/food#> .", "@prefix owl: <http://www.w3.org/2002/07/owl#> .",
             "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .",
             "@prefix oio: <http://www.geneontology.org/formats/oboInOwl#> .",
             "<http://kgnlu.org/demo/food-synonyms> a owl:Ontology .",
             ':Obsolete a owl:Class ; rdfs:label "obsolete fish finger" ; oio:hasExactSynonym "fish stick" .']
    for name, (label, *syns) in SYNONYMS.items():
        syn = " ; ".join(f'oio:hasExactSynonym "{s}"' for s in syns)
        lines.append(f':{name} a owl:Class ; rdfs:subClassOf :Food ; rdfs:label "{label}" ; {syn} .')
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def kg(tmp_path_factory) -> Path:
    from kgnlu.kg.ingest import ingest

    root = tmp_path_factory.mktemp("linker_train")
    out = root / "kg"
    ingest([DEMO, _extra_ttl(root / "synonyms.ttl")], out)
    return out


OPTIONS = dict(seed=3, epochs=6, max_pairs=None, batch_size=8, group=4, lr=2e-3, holdout=0.2, holdout_seed=1,
               sources=None, eval_queries=50, eval_pool=100, progress=False, command="kgnlu train linker --seed 3")


@pytest.fixture(scope="module")
def runs(kg, tmp_path_factory) -> tuple[dict, dict, Path, Path]:
    """Two runs in processes that use different thread counts, as two machines would: the recipe pins its own."""
    import torch

    a, b = tmp_path_factory.mktemp("adapter_a"), tmp_path_factory.mktemp("adapter_b")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        first = train(kg, a, **OPTIONS)
        assert torch.get_num_threads() == 2  # the caller's count, restored
        torch.set_num_threads(1)
        second = train(kg, b, **OPTIONS)
    finally:
        torch.set_num_threads(before)
    return first, second, a, b


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


def test_held_out_is_a_seeded_hash():
    iris = [f"{FOOD}C{i}" for i in range(2000)]
    held = [i for i in iris if is_held_out(i, 0, 0.1)]
    assert 150 < len(held) < 250  # about a tenth
    assert held == [i for i in iris if is_held_out(i, 0, 0.1)]  # same seed, same split
    assert held != [i for i in iris if is_held_out(i, 1, 0.1)]  # another seed, another split
    assert set(held) <= {i for i in iris if is_held_out(i, 0, 0.2)}  # nested fractions
    assert split_digest(held) == split_digest(list(reversed(held)))


def test_synonym_groups_skip_obsolete_and_put_the_label_first(kg):
    concepts, info = synonym_groups(kg)
    by_iri = {c.iri: c for c in concepts}
    aubergine = by_iri[FOOD + "Aubergine"]
    assert aubergine.names[0] == "aubergine" and set(aubergine.names) == {"aubergine", "eggplant", "brinjal"}
    assert set(aubergine.exact) == {"eggplant", "brinjal"}
    assert FOOD + "Obsolete" not in by_iri and FOOD + "Obsolete" in info["exact_iris"]
    assert "veggie" in by_iri[FOOD + "Vegetable"].names  # related synonyms are positives too
    with pytest.raises(ValueError, match="no lexicon entries"):
        synonym_groups(kg, sources=["hpo"])


def test_pairs_never_use_banned_texts_and_come_in_rounds(kg):
    concepts, _ = synonym_groups(kg)
    rounds, available = make_pairs(concepts, {"eggplant"}, seed=0, max_pairs=None, max_pairs_per_concept=3)
    pairs = [p for r in rounds for p in r]
    assert len(pairs) == available and all("eggplant" not in (p.anchor, p.positive) for p in pairs)
    assert all(len({p.concept for p in r}) == len(r) for r in rounds)  # one pair per concept per round
    cut, _ = make_pairs(concepts, set(), seed=0, max_pairs=5)
    assert sum(len(r) for r in cut) == 5


def test_hard_batches_group_nearest_neighbours():
    vecs = np.array([[1, 0], [0, 1], [0.99, 0.1], [0.1, 0.99]], dtype=np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    rounds = [[Pair(f"a{i}", f"p{i}", i) for i in range(4)]]
    batches = hard_batches(rounds, vecs, batch_size=2, seed=0, group=2)
    assert sorted(sorted(p.concept for p in b) for b in batches) == [[0, 2], [1, 3]]


def test_loss_decreases(runs):
    report = runs[0]
    losses = report["metrics"]["epoch_losses"]
    assert len(losses) == OPTIONS["epochs"] and losses[-1] < 0.8 * losses[0]
    assert report["metrics"]["loss_last"] < report["metrics"]["loss_first"]
    steps = [e for e in _log(runs[2]) if e["event"] == "step"]
    assert len(steps) == report["metrics"]["steps"] > 0 and all(np.isfinite(e["loss"]) for e in steps)


def test_deterministic_with_the_same_seed(runs):
    from safetensors.numpy import load_file

    a, b = runs[2], runs[3]
    assert runs[0]["metrics"]["epoch_losses"] == runs[1]["metrics"]["epoch_losses"]
    wa, wb = load_file(a / "adapter_model.safetensors"), load_file(b / "adapter_model.safetensors")
    assert wa.keys() == wb.keys() and len(wa) > 0
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k])


def test_trained_with_the_recipes_thread_count_whatever_the_process_uses(runs):
    """A backward pass's float sums follow torch's thread count: the shipped adapter was trained with
    one thread, and `kgnlu train linker` on a two-core machine used two, which gave other weights."""
    from kgnlu.config import LINKER_RECIPE_THREADS

    assert runs[0]["hyper"]["torch_threads"] == runs[1]["hyper"]["torch_threads"] == LINKER_RECIPE_THREADS
    assert read_training(runs[2])["hyper"]["torch_threads"] == LINKER_RECIPE_THREADS


def test_held_out_concepts_never_trained_on(kg, runs):
    report, out = runs[0], runs[2]
    concepts, _ = synonym_groups(kg)
    held = {c.iri for c in concepts if is_held_out(c.iri, OPTIONS["holdout_seed"], OPTIONS["holdout"])}
    assert held, "the split should hold out some demo concepts"
    banned = {n for c in concepts if c.iri in held for n in c.names}
    (pairs,) = [e for e in _log(out) if e["event"] == "pairs"]
    assert pairs["pairs"] and report["data"]["pairs"] == len(pairs["pairs"])
    for anchor, positive, iri in pairs["pairs"]:
        assert iri not in held and anchor not in banned and positive not in banned
    assert report["holdout"]["seed"] == 1 and report["holdout"]["fraction"] == 0.2
    assert report["holdout"]["held_out_concepts"] == len(held)


def test_adapter_saved_as_safetensors_and_loads(runs):
    from kgnlu.neural.encoder import MiniLMEncoder
    from kgnlu.neural.manifest import library_versions

    out = runs[2]
    assert (out / "adapter_model.safetensors").stat().st_size < 5_000_000
    assert not list(out.glob("*.bin")) and not list(out.glob("*.pt")) and not list(out.glob("*.pkl"))
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["r"] == 16 and cfg["base_model_name_or_path"].endswith("all-MiniLM-L6-v2")
    record = read_training(out)
    assert record["seed"] == OPTIONS["seed"] and record["command"] == OPTIONS["command"]
    assert record["versions"] == library_versions()  # the libraries that made the weights
    tuned, base = MiniLMEncoder(adapter=out, device="cpu"), MiniLMEncoder(device="cpu")
    assert tuned.fingerprint != base.fingerprint
    texts = ["eggplant", "aubergine", "cookie", "biscuit"]
    vt, vb = tuned.encode(texts), base.encode(texts)
    np.testing.assert_allclose(np.linalg.norm(vt, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vt, vb, atol=1e-3)
    # Trained pairs move closer together.
    assert float(vt[2] @ vt[3]) > float(vb[2] @ vb[3])

"""The dense lexicon index over a KG: build, retrieve, and never serve a stale index."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kgnlu.kg.index import FaissIndex, VectorCache  # noqa: E402
from tests.conftest import copy_kg  # noqa: E402
from kgnlu.kg.ingest import ingest  # noqa: E402
from kgnlu.kg.lexicon import Entry  # noqa: E402
from kgnlu.tasks.lexindex import (  # noqa: E402
    INDEXED_KINDS, DenseHit, build_lexicon_index, embed_with_cache, load_lexicon_index, embedding_key, select_entries,
    stale_reason,
)

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "ontologies" / "demo" / "food.ttl"
FOOD = "http://kgnlu.org/demo/food#"

KIWI = """
:Kiwi a owl:Class ; rdfs:subClassOf :Fruit ; rdfs:label "kiwi fruit" ; oio:hasExactSynonym "Chinese gooseberry" .
"""


@pytest.fixture(scope="module")
def encoder():
    from kgnlu.neural.encoder import MiniLMEncoder

    return MiniLMEncoder(device="cpu")


class RenamedEncoder:
    """The same vectors under another fingerprint, as a retrained adapter would have."""

    def __init__(self, inner, fingerprint: str):
        self.inner, self.fingerprint, self.dim = inner, fingerprint, inner.dim

    def encode(self, texts, batch_size=128, progress=None):
        return self.inner.encode(texts, batch_size=batch_size, progress=progress)


@pytest.fixture(scope="module")
def built(demo_kg, encoder, tmp_path_factory) -> tuple[Path, list]:
    """A copy of the demo KG with its index built once (and the progress calls it made)."""
    kg = copy_kg(demo_kg, tmp_path_factory.mktemp("lexindex") / "kg")
    calls = []
    load_lexicon_index(kg, encoder, progress=lambda d, t: calls.append((d, t)))
    return kg, calls


@pytest.fixture
def kg(built, tmp_path) -> Path:
    """A private copy of the indexed demo KG (index and vector cache included) to change."""
    return shutil.copytree(built[0], tmp_path / "kg", symlinks=True)


def top_iris(cands: list[DenseHit], n: int) -> list[str]:
    return [c.iri for c in cands[:n]]


def test_build_and_retrieve(built, encoder):
    kg, calls = built
    index = load_lexicon_index(kg, encoder)
    assert (kg / "index").is_symlink() and (kg / "index" / "index.faiss").is_file()
    meta = index.meta
    assert meta["encoder"] == encoder.fingerprint
    assert meta["manifest_hash"] == json.loads((kg / "current" / "manifest.json").read_text())["hash"]
    assert meta["counts"]["embedded"] == meta["counts"]["texts"] == len(index) > 20
    assert calls and calls[-1] == (meta["counts"]["texts"],) * 2
    assert stale_reason(kg, encoder) is None and index.stale_reason() is None

    res = index.search(["ascorbic acid", "vegetables", "veggies"], k=3)
    assert res[0][0].iri == FOOD + "VitaminC" and res[0][0].text == "ascorbic acid"
    assert res[0][0].kind == "exact" and res[0][0].score == pytest.approx(1.0, abs=1e-4)
    assert FOOD + "Vegetable" in top_iris(res[1], 3)
    assert FOOD + "Vegetable" in top_iris(res[2], 3)
    for cands in res:
        assert len(cands) == 3 and len({c.iri for c in cands}) == 3
        assert [c.score for c in cands] == sorted((c.score for c in cands), reverse=True)


def test_one_candidate_per_iri_with_its_best_text(built, encoder):
    index = load_lexicon_index(built[0], encoder)
    cands = index.search(["foodstuffs"], k=5)[0]
    assert len({c.iri for c in cands}) == len(cands)
    food = next(c for c in cands if c.iri == FOOD + "Food")
    assert food.text == "foodstuff"  # closer than the label "food"
    assert index.search([], k=3) == []


def test_only_indexed_kinds_are_embedded(built, encoder):
    index = load_lexicon_index(built[0], encoder)
    rows = index._rows.execute("SELECT DISTINCT kind FROM links").fetchall()
    assert {k for (k,) in rows} <= set(INDEXED_KINDS)
    texts = {t for (t,) in index._rows.execute("SELECT text FROM texts")}
    assert "veggie" not in texts  # a related synonym: left to the lexical matcher
    assert embedding_key("  Granny   Smith ") in texts


def test_loading_again_reuses_the_index(kg, encoder):
    first = load_lexicon_index(kg, encoder)
    second = load_lexicon_index(kg, encoder)
    assert second.directory == first.directory == (kg / "index").resolve()
    assert first.meta == second.meta


def test_changed_kg_makes_index_stale_and_rebuild_embeds_only_new_texts(kg, encoder, tmp_path):
    old = load_lexicon_index(kg, encoder)
    n_old = old.meta["counts"]["texts"]
    changed = tmp_path / "food.ttl"  # same source name: replaces the demo ontology
    changed.write_text(DEMO.read_text() + KIWI)
    assert ingest([changed], kg)["changed"]

    assert "KG" in stale_reason(kg, encoder) and old.stale_reason() is not None
    new = load_lexicon_index(kg, encoder)
    counts = new.meta["counts"]
    assert counts["texts"] == n_old + 2
    assert counts["embedded"] == 2 and counts["cached"] == n_old  # the cache misses are the new texts
    assert new.directory != old.directory and not old.directory.exists()
    assert new.search(["chinese gooseberry"], k=1)[0][0].iri == FOOD + "Kiwi"
    # The old handle still answers from the files it opened.
    assert old.search(["ascorbic acid"], k=1)[0][0].iri == FOOD + "VitaminC"


def test_other_encoder_makes_index_stale(kg, encoder):
    load_lexicon_index(kg, encoder)
    other = RenamedEncoder(encoder, "0ther")
    assert "encoder" in stale_reason(kg, other)
    index = load_lexicon_index(kg, other)
    assert index.meta["encoder"] == "0ther"
    assert index.meta["counts"]["embedded"] == index.meta["counts"]["texts"]  # its own, empty cache
    assert stale_reason(kg, encoder) is not None  # and now the first encoder's index is gone


def test_broken_index_is_rebuilt(kg, encoder):
    first = load_lexicon_index(kg, encoder)
    (first.directory / "rows.sqlite3").unlink()
    assert "missing" in stale_reason(kg, encoder)
    second = load_lexicon_index(kg, encoder)
    assert second.meta["counts"]["embedded"] == 0  # everything came from the cache
    (second.directory / "index.faiss").write_bytes(b"not a faiss index")
    third = load_lexicon_index(kg, encoder)
    assert third.directory != second.directory
    assert third.search(["ascorbic acid"], k=1)[0][0].iri == FOOD + "VitaminC"


def test_index_built_with_other_params_is_rebuilt(kg, encoder):
    flat = load_lexicon_index(kg, encoder)  # the demo KG is small: exact
    assert flat.index.kind == "flat" and stale_reason(kg, encoder) is None
    n = len(flat)
    assert "built as" in stale_reason(kg, encoder, hnsw_above=n - 1)
    hnsw = load_lexicon_index(kg, encoder, hnsw_above=n - 1)
    assert hnsw.index.kind == "hnsw" and hnsw.directory != flat.directory
    assert hnsw.meta["counts"]["embedded"] == 0  # only the faiss index was rebuilt
    assert hnsw.search(["ascorbic acid"], k=1)[0][0].iri == FOOD + "VitaminC"
    assert stale_reason(kg, encoder, hnsw_above=n - 1) is None
    assert load_lexicon_index(kg, encoder, hnsw_above=n - 1).directory == hnsw.directory  # reused
    # Same kind, other shape (an HNSW graph of other M): stale too.
    info = json.loads((hnsw.directory / "meta.json").read_text())
    (hnsw.directory / "meta.json").write_text(json.dumps({**info, "params": {**info["params"], "m": 8}}))
    assert "built as" in stale_reason(kg, encoder, hnsw_above=n - 1)
    # And back at the default threshold the index is flat again.
    assert load_lexicon_index(kg, encoder).index.kind == "flat"


def test_build_writes_meta_and_vectors_match_the_encoder(kg, encoder):
    directory = build_lexicon_index(kg, encoder)
    index = FaissIndex.load(directory)
    assert index.kind == "flat" and index.dim == encoder.dim
    q = encoder.encode(["ascorbic acid"])
    scores, _ = index.search(q, 1)
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-4)
    assert np.isfinite(scores).all()


def test_no_kg_is_a_clean_error(tmp_path, encoder):
    from kgnlu.kg.errors import StoreError

    with pytest.raises(StoreError, match="no KG"):
        load_lexicon_index(tmp_path / "nowhere", encoder)
    with pytest.raises(StoreError, match="no KG"):
        build_lexicon_index(tmp_path, encoder)
    assert not (tmp_path / "nowhere").exists() and not any(tmp_path.iterdir())


# -- entry selection (no model) -------------------------------------------------------------------


class FakeLexicon:
    def __init__(self, rows):
        self._entries = [Entry(iri, text, kind, lang, "src") for iri, text, kind, lang in rows]

    def entries(self):
        return list(self._entries)


LEX = FakeLexicon([
    ("A", "Macrocephaly", "label", None), ("A", "macrocephaly", "exact", None),
    ("A", "Big head", "exact", None), ("A", "Macrocephaly, relative", "exact", None),
    ("A", "Increased head circumference", "related", None), ("A", "Makrozephalie", "label", "de"),
    ("B", "Tylenol", "exact", None), ("B", "acetaminophen", "label", None), ("B", "APAP", "exact", None),
    ("B", "acetaminophen tablet", "exact", None), ("C", "big head", "label", "en"),
])


def test_selection_keeps_names_and_dedupes_normalised_texts():
    texts, links = select_entries(LEX, max_texts=10**6)
    assert texts[:3] == ["macrocephaly", "acetaminophen", "big head"]  # names first
    assert "increased head circumference" not in texts and "makrozephalie" not in texts
    a = [(text, kind) for _, iri, text, kind in links if iri == "A"]
    assert a == [("Macrocephaly", "label"), ("Big head", "exact"), ("Macrocephaly, relative", "exact")]
    # "big head" is one faiss row linked to two IRIs
    row = texts.index("big head")
    assert sorted(iri for r, iri, _, _ in links if r == row) == ["A", "C"]
    assert len(texts) == len(set(texts))


def test_selection_budget_prefers_novel_phrases_and_spreads_over_iris():
    texts, links = select_entries(LEX, max_texts=4)
    # 3 names, then round 1: A's "big head" is already a row (C's name), so it costs nothing;
    # B's best synonym is its only phrase; round 2 ("macrocephaly, relative", "apap") is over budget.
    assert texts == ["macrocephaly", "acetaminophen", "big head", "acetaminophen tablet"]
    assert ("A", "Big head") in {(iri, text) for _, iri, text, _ in links}
    texts, _ = select_entries(LEX, max_texts=1)
    assert texts == ["macrocephaly", "acetaminophen", "big head"]  # names are never dropped
    texts, _ = select_entries(LEX, max_texts=5)
    assert texts[-1] == "macrocephaly, relative"  # round 2: the phrase before single words
    _, links = select_entries(LEX, max_texts=10**6, max_synonyms_per_iri=1)
    assert [text for _, iri, text, kind in links if iri == "B" and kind == "exact"] == ["acetaminophen tablet"]


class CountingEncoder:
    """Deterministic fake vectors; fails on the call numbered ``fail_on``."""

    dim, fingerprint = 4, "count"

    def __init__(self, fail_on: int | None = None):
        self.calls, self.fail_on = [], fail_on

    def encode(self, texts, batch_size=128, progress=None):
        self.calls.append(list(texts))
        if len(self.calls) == self.fail_on:
            raise KeyboardInterrupt
        v = np.array([[len(t), 1.0, 0.0, 0.0] for t in texts], np.float32)
        if progress:
            progress(len(texts), len(texts))
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_embedding_is_cached_chunk_by_chunk(tmp_path):
    texts = [f"t{'x' * i}" for i in range(5)]
    with VectorCache(tmp_path, "count", 4) as cache:
        with pytest.raises(KeyboardInterrupt):
            embed_with_cache(texts, CountingEncoder(fail_on=2), cache, chunk=2)
        assert len(cache) == 2  # the first chunk survived the interruption
        enc, calls = CountingEncoder(), []
        vectors, n = embed_with_cache(texts, enc, cache, chunk=2, progress=lambda d, t: calls.append((d, t)))
        assert n == 3 and sum(len(c) for c in enc.calls) == 3 and calls[-1] == (3, 3)
        np.testing.assert_allclose(vectors, CountingEncoder().encode(texts), atol=1e-6)
        assert embed_with_cache(texts, enc, cache)[1] == 0

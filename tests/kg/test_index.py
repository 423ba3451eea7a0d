"""FaissIndex (flat and HNSW inner-product search, persistence, devices) and VectorCache."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from kgnlu.kg.index import HNSW_ABOVE, HNSW_EF_SEARCH, FaissIndex, VectorCache, gpu_available, index_params


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(x: np.ndarray, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    s = q @ x.T
    ids = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(s, ids, axis=1), ids


def test_flat_up_to_threshold_hnsw_above():
    x = unit_vectors(300)
    assert FaissIndex.build(x, hnsw_above=300).kind == "flat"
    assert FaissIndex.build(x, hnsw_above=299).kind == "hnsw"
    assert FaissIndex.build(x).kind == "flat"  # small KGs stay exact (default threshold 10k)
    assert index_params(HNSW_ABOVE) == {"kind": "flat"}
    assert index_params(HNSW_ABOVE + 1)["kind"] == "hnsw"


def test_hnsw_with_default_params_keeps_recall_against_flat():
    # Clustered data with off-data queries, a little like text embeddings; the default KG's
    # real numbers (recall@10 0.99 at efSearch 256) are in FaissIndex.build's docstring.
    rng = np.random.default_rng(3)
    centres = unit_vectors(200, dim=48, seed=4)
    x = centres[rng.integers(0, 200, 12_000)] + 0.15 * rng.standard_normal((12_000, 48)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = unit_vectors(200, dim=48, seed=5) + centres[rng.integers(0, 200, 200)]
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    hnsw, flat = FaissIndex.build(x), FaissIndex.build(x, hnsw_above=len(x))
    assert (hnsw.kind, flat.kind) == ("hnsw", "flat") and hnsw.ef_search == HNSW_EF_SEARCH
    _, exact = flat.search(q, 10)
    _, approx = hnsw.search(q, 10)
    assert np.mean(approx[:, 0] == exact[:, 0]) >= 0.98
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(approx.tolist(), exact.tolist())]) >= 0.98


def test_flat_search_matches_numpy():
    x, q = unit_vectors(1000), unit_vectors(50, seed=1)
    index = FaissIndex.build(x)
    scores, ids = index.search(q, 10)
    ref_scores, ref_ids = brute_force(x, q, 10)
    assert scores.shape == ids.shape == (50, 10)
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    np.testing.assert_allclose(scores, ref_scores, atol=1e-5)
    assert (ids == ref_ids).mean() > 0.99  # exact up to ties in float rounding


def test_hnsw_recall_and_determinism():
    x, q = unit_vectors(3000), unit_vectors(100, seed=1)
    a = FaissIndex.build(x, hnsw_above=1000)
    b = FaissIndex.build(x, hnsw_above=1000)
    _, ref = brute_force(x, q, 10)
    s_a, i_a = a.search(q, 10)
    s_b, i_b = b.search(q, 10)
    recall = np.mean([len(set(r) & set(h)) / 10 for r, h in zip(ref.tolist(), i_a.tolist())])
    assert recall > 0.9
    assert (i_a == i_b).all() and (s_a == s_b).all()


def test_k_larger_than_n_pads():
    index = FaissIndex.build(unit_vectors(3))
    scores, ids = index.search(unit_vectors(2, seed=1), 5)
    assert (ids[:, 3:] == -1).all() and np.isneginf(scores[:, 3:]).all()
    assert sorted(ids[0, :3].tolist()) == [0, 1, 2]


def test_arguments_are_validated():
    index = FaissIndex.build(unit_vectors(10, dim=8))
    with pytest.raises(ValueError, match="dimension"):
        index.search(unit_vectors(1, dim=4), 1)
    with pytest.raises(ValueError, match="k must be"):
        index.search(unit_vectors(1, dim=8), 0)
    with pytest.raises(ValueError, match="2-d"):
        FaissIndex.build(np.zeros(8, np.float32))


@pytest.mark.parametrize("hnsw_above", [10_000, 100])
def test_save_load_round_trip(tmp_path, hnsw_above):
    x, q = unit_vectors(500), unit_vectors(20, seed=1)
    meta = {"manifest_hash": "abc123", "encoder": "f00d"}
    index = FaissIndex.build(x, hnsw_above=hnsw_above, meta=meta)
    index.save(tmp_path / "ix")
    info = json.loads((tmp_path / "ix" / "meta.json").read_text())
    assert info["kind"] == index.kind and info["n"] == 500 and info["dim"] == 32 and info["meta"] == meta
    assert info["params"] == index.params == index_params(500, hnsw_above=hnsw_above)
    loaded = FaissIndex.load(tmp_path / "ix")
    assert (loaded.kind, loaded.n, loaded.dim, loaded.meta) == (index.kind, 500, 32, meta)
    assert loaded.params == index.params and loaded.ef_search == index.ef_search
    s0, i0 = index.search(q, 5)
    s1, i1 = loaded.search(q, 5)
    assert (i0 == i1).all()
    np.testing.assert_allclose(s0, s1, atol=1e-6)
    if index.kind == "hnsw":  # efSearch is a search-time setting: load may change it, no rebuild
        assert FaissIndex.load(tmp_path / "ix", ef_search=16).ef_search == 16


def test_meta_saved_before_params_reads_as_its_kind_only(tmp_path):
    for hnsw_above, directory in ((10_000, tmp_path / "flat"), (10, tmp_path / "hnsw")):
        FaissIndex.build(unit_vectors(50), hnsw_above=hnsw_above).save(directory)
        info = json.loads((directory / "meta.json").read_text())
        del info["params"]
        (directory / "meta.json").write_text(json.dumps(info))
        kind = info["kind"]
        assert FaissIndex.read_meta(directory)["params"] == {"kind": kind}
        assert FaissIndex.load(directory).params == {"kind": kind}
    # A flat one still matches what build would make; an HNSW one lacks its shape (stale).
    assert index_params(50) == {"kind": "flat"} != index_params(50, hnsw_above=10)


def test_meta_is_a_copy_and_with_meta_shares_the_index():
    index = FaissIndex.build(unit_vectors(5), meta={"a": 1})
    index.meta["a"] = 2
    assert index.meta == {"a": 1}
    other = index.with_meta({"b": 1})
    assert other.meta == {"b": 1} and other.n == index.n


def test_load_rejects_meta_that_does_not_match_the_index(tmp_path):
    FaissIndex.build(unit_vectors(10), meta={"manifest_hash": "x"}).save(tmp_path)
    info = json.loads((tmp_path / "meta.json").read_text())
    (tmp_path / "meta.json").write_text(json.dumps({**info, "n": 11}))
    with pytest.raises(ValueError, match="meta.json says"):
        FaissIndex.load(tmp_path)
    (tmp_path / "meta.json").write_text(json.dumps({**info, "format": 99}))
    with pytest.raises(ValueError, match="unknown index format"):
        FaissIndex.load(tmp_path)


def test_devices_on_this_machine():
    index = FaissIndex.build(unit_vectors(10))
    assert index.to_device("cpu").device == "cpu"
    if gpu_available():
        assert index.to_device("auto").device.startswith("cuda")
    else:
        assert index.to_device("auto").device == "cpu"
        with pytest.raises(RuntimeError, match="cuda"):
            index.to_device("cuda")
    with pytest.raises(ValueError):
        index.to_device("tpu")


@pytest.mark.skipif(not gpu_available(), reason="needs faiss-gpu and a GPU")
@pytest.mark.parametrize("hnsw_above", [10_000, 100])
def test_gpu_agrees_with_cpu(hnsw_above):
    index = FaissIndex.build(unit_vectors(5000, dim=64), hnsw_above=hnsw_above)
    assert index.gpu_agrees_with_cpu(unit_vectors(200, dim=64, seed=1), 10)


# -- VectorCache ---------------------------------------------------------------------------------


def test_cache_returns_only_what_was_put(tmp_path):
    vecs = unit_vectors(3, dim=8)
    with VectorCache(tmp_path, "fp1", 8) as cache:
        assert len(cache) == 0
        out, missing = cache.get_many(["a", "b"])
        assert missing == [0, 1] and not out.any()
        cache.put_many(["a", "b", "c"], vecs)
        out, missing = cache.get_many(["c", "x", "a", "a"])
        assert missing == [1]
        np.testing.assert_array_equal(out[[0, 2, 3]], vecs[[2, 0, 0]])
        assert len(cache) == 3


def test_cache_persists_per_fingerprint(tmp_path):
    with VectorCache(tmp_path, "fp1", 8) as cache:
        cache.put_many(["a"], unit_vectors(1, dim=8))
    with VectorCache(tmp_path, "fp1", 8) as cache:
        assert cache.get_many(["a"])[1] == []
    with VectorCache(tmp_path, "fp2", 8) as other:  # another encoder: nothing cached
        assert other.get_many(["a"])[1] == [0]


def test_cache_incremental_many_texts(tmp_path):
    texts = [f"term {i}" for i in range(1200)]  # more than one SQLite parameter chunk
    vecs = unit_vectors(1200, dim=8)
    with VectorCache(tmp_path, "fp", 8) as cache:
        cache.put_many(texts[:1000], vecs[:1000])
        out, missing = cache.get_many(texts)
        assert missing == list(range(1000, 1200))
        np.testing.assert_array_equal(out[:1000], vecs[:1000])


def test_cache_validates(tmp_path):
    with pytest.raises(ValueError, match="fingerprint"):
        VectorCache(tmp_path, "../x", 8)
    with VectorCache(tmp_path, "fp", 8) as cache:
        with pytest.raises(ValueError, match="dimension"):
            cache.put_many(["a"], unit_vectors(1, dim=4))
        with pytest.raises(ValueError, match="texts but"):
            cache.put_many(["a", "b"], unit_vectors(1, dim=8))


def test_cache_in_a_read_only_directory_serves_what_it_holds(tmp_path, freeze):
    """A KG mounted read-only: the cache is read (its WAL file without the -shm SQLite cannot
    create there), new vectors are kept nowhere, and a missing cache holds nothing."""
    vecs = unit_vectors(3, dim=8)
    with VectorCache(tmp_path / "cache", "fp", 8) as cache:
        cache.put_many(["a", "b"], vecs[:2])
    files = sorted(os.listdir(tmp_path / "cache"))
    assert files == ["vectors-fp.sqlite3"]  # no -shm left: only an immutable open can read it
    freeze(tmp_path / "cache")
    with VectorCache(tmp_path / "cache", "fp", 8) as cache:
        assert cache.read_only and len(cache) == 2
        out, missing = cache.get_many(["b", "x"])
        assert missing == [1]
        np.testing.assert_array_equal(out[0], vecs[1])
        cache.put_many(["x"], vecs[2:])
        assert cache.get_many(["x"])[1] == [0]
    with VectorCache(tmp_path / "cache", "other", 8) as empty:
        assert empty.read_only and len(empty) == 0 and empty.get_many(["a"])[1] == [0]
        empty.put_many(["a"], vecs[:1])
    assert sorted(os.listdir(tmp_path / "cache")) == files


def test_cache_falls_back_to_read_only_where_access_says_writable_but_is_not(tmp_path, freeze, monkeypatch):
    """os.access can say yes where the file system says no (NFS squashing root, ACLs)."""
    from kgnlu.kg import index

    with VectorCache(tmp_path / "cache", "fp", 8) as cache:
        cache.put_many(["a"], unit_vectors(1, dim=8))
    freeze(tmp_path / "cache")
    monkeypatch.setattr(index, "_writable", lambda directory, path: True)
    with VectorCache(tmp_path / "cache", "fp", 8) as cache:
        assert cache.read_only and cache.get_many(["a", "b"])[1] == [1]

"""Dense vector search for the linker: a faiss index over unit vectors, and a text→vector cache.

Vectors are L2-normalised float32, so inner product is cosine similarity. Up to ``hnsw_above``
rows the index is exact (``IndexFlatIP``); above it, ``IndexHNSWFlat`` trades a little recall for
sub-linear search (why HNSW, and why the threshold is ``HNSW_ABOVE`` = 10k: see ``FaissIndex.build``).
On a GPU every index is searched exactly (``GpuIndexFlatIP``): GPU faiss has no HNSW, and brute
force on a GPU is faster than HNSW on a CPU at our sizes.

This module holds no torch: the vectors come from ``kgnlu.neural`` through ``kgnlu.tasks``.

faiss-cpu and faiss-gpu install the same ``faiss`` package (never both); the one code path below
checks ``faiss.StandardGpuResources`` and ``faiss.get_num_gpus()`` to tell which one it got.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np

from .tables_schema import MMAP_BYTES

INDEX_FILE = "index.faiss"
META_FILE = "meta.json"
FORMAT = 1
KINDS = ("flat", "hnsw")
# Defaults chosen on the default KG (80k x 384 MiniLM vectors); see FaissIndex.build.
HNSW_ABOVE = 10_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256


def index_params(n: int, *, hnsw_above: int = HNSW_ABOVE, hnsw_m: int = HNSW_M,
                 ef_construction: int = HNSW_EF_CONSTRUCTION) -> dict:
    """What ``FaissIndex.build`` makes of ``n`` vectors: the kind and the parameters that shape it.

    Saved with the index, so a caller can tell an index built with other parameters (a stale
    one) without loading it. efSearch is not here: it is a search-time setting (see ``load``).
    """
    if n > hnsw_above:
        return {"kind": "hnsw", "m": int(hnsw_m), "ef_construction": int(ef_construction)}
    return {"kind": "flat"}


def gpu_available() -> bool:
    """True when this faiss build has GPU support and sees a GPU."""
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def _as_matrix(x: np.ndarray, dim: int | None = None, what: str = "vectors") -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"{what} must be 2-d (n, dim); got shape {x.shape}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{what} have dimension {x.shape[1]}; the index has {dim}")
    return x


@contextlib.contextmanager
def _omp_threads(n: int):
    """Run faiss with ``n`` OpenMP threads, restoring the previous setting afterwards."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


@contextlib.contextmanager
def _blas_for_small_batches():
    """Let faiss use BLAS (a matrix product) for small query batches too.

    faiss routes flat search through BLAS only for large batches (its
    ``distance_compute_blas_threshold`` defaults to 128000) and otherwise scans query by query,
    each query reading every vector again. One input's mentions are a small batch (2-20 queries),
    which a single matrix product answers for about the price of one scan. The top-k is the same
    (scores may differ in the last float bit). The tunable is process-wide, so it is set for the call and
    restored; two threads searching at once may leave it at 1, which only affects speed.
    """
    cvar = getattr(faiss, "cvar", None)
    if cvar is None or not hasattr(cvar, "distance_compute_blas_threshold"):
        yield
        return
    before = cvar.distance_compute_blas_threshold
    cvar.distance_compute_blas_threshold = 1
    try:
        yield
    finally:
        cvar.distance_compute_blas_threshold = before


class FaissIndex:
    """Inner-product search over unit vectors, with JSON metadata saved beside the faiss file.

    Build with :meth:`build`, or :meth:`load` a saved one. ``meta`` carries what the caller
    needs to tell a stale index from a fresh one (the KG manifest hash, the encoder fingerprint).
    """

    def __init__(self, index, kind: str, meta: dict | None = None, *, _cpu_index=None, device: str = "cpu",
                 params: dict | None = None):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
        self._index = index
        self._cpu = _cpu_index if _cpu_index is not None else index
        self.kind = kind
        self.device = device
        self._meta = dict(meta or {})
        self.params = dict(params or {"kind": kind})

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def build(cls, vectors: np.ndarray, *, hnsw_above: int = HNSW_ABOVE, meta: dict | None = None,
              hnsw_m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION,
              ef_search: int = HNSW_EF_SEARCH, deterministic: bool = True) -> FaissIndex:
        """Index ``vectors`` (n, dim); row i of the matrix is id i in search results.

        Exact (flat) up to ``hnsw_above`` rows, HNSW above. The parameters were chosen against
        flat search on the default KG's 80k x 384 lexicon vectors, with lexicon strings the index
        does not hold as queries (the comparison is in ``bench/results/index_choice.md``): HNSW
        with M=32, efConstruction=80, efSearch=256 keeps recall@10 near 0.99 at a small fraction
        of a flat scan's cost per query; a wider search beam buys little recall for its time, and
        IVF cannot reach recall 0.99 cheaply on these vectors: text embeddings barely cluster, so
        a query's neighbours spread over many lists.

        A flat scan reads every vector for every query, so its cost grows with the rows; on small
        CPUs it stops being cheap at a few thousand rows, hence ``HNSW_ABOVE`` = 10k, not the
        ~200k where a flat index is usually said to stop paying. Small KGs (the tests', the demo)
        stay exact.

        HNSW is built on one thread unless ``deterministic=False``: faiss inserts in parallel,
        and the graph (so the results) would then depend on thread timing. ``ef_search`` is the
        search-time beam width (recall against speed); ``load`` sets it again, so changing it
        needs no rebuild.
        """
        x = _as_matrix(vectors)
        n, dim = x.shape
        if dim == 0:
            raise ValueError("vectors must have at least one dimension")
        params = index_params(n, hnsw_above=hnsw_above, hnsw_m=hnsw_m, ef_construction=ef_construction)
        if params["kind"] == "hnsw":
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            index.hnsw.efSearch = ef_search
            with _omp_threads(1) if deterministic else contextlib.nullcontext():
                index.add(x)
            return cls(index, "hnsw", meta, params=params)
        index = faiss.IndexFlatIP(dim)
        index.add(x)
        return cls(index, "flat", meta, params=params)

    # -- properties --------------------------------------------------------------------------

    @property
    def n(self) -> int:
        return int(self._cpu.ntotal)

    @property
    def dim(self) -> int:
        return int(self._cpu.d)

    @property
    def meta(self) -> dict:
        """The caller's metadata (a copy)."""
        return dict(self._meta)

    def with_meta(self, meta: dict) -> FaissIndex:
        """The same index (shared, not copied) carrying ``meta`` instead."""
        out = FaissIndex(self._index, self.kind, meta, _cpu_index=self._cpu, device=self.device, params=self.params)
        if hasattr(self, "_gpu_resources"):
            out._gpu_resources = self._gpu_resources
        return out

    def __len__(self) -> int:
        return self.n

    @property
    def ef_search(self) -> int | None:
        """HNSW's search beam width; None for a flat index."""
        return int(self._cpu.hnsw.efSearch) if self.kind == "hnsw" else None

    def vectors(self) -> np.ndarray:
        """The indexed vectors, (n, dim); row i is id i (for benchmarks and rebuilding as another kind)."""
        stored = faiss.downcast_index(self._cpu.storage) if self.kind == "hnsw" else self._cpu
        return stored.reconstruct_n(0, self.n) if self.n else np.zeros((0, self.dim), np.float32)

    def __repr__(self) -> str:
        return f"FaissIndex(kind={self.kind!r}, n={self.n}, dim={self.dim}, device={self.device!r})"

    # -- search ------------------------------------------------------------------------------

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, ids)``, each (n_queries, k), best first; id -1 (score -inf) pads missing hits.

        Pass all queries at once: faiss answers a batch far faster than one call per query.
        """
        if k < 1:
            raise ValueError(f"k must be >= 1; got {k}")
        q = _as_matrix(queries, self.dim, "queries")
        if q.shape[0] == 0 or self.n == 0:
            return np.full((q.shape[0], k), -np.inf, np.float32), np.full((q.shape[0], k), -1, np.int64)
        kk = min(k, self.n)
        if self.device == "cpu":
            with _blas_for_small_batches():
                scores, ids = self._index.search(q, kk)
        else:
            scores, ids = self._index.search(q, kk)
        scores = np.where(ids < 0, -np.inf, scores).astype(np.float32)
        if kk < k:
            pad = k - kk
            scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
            ids = np.pad(ids, ((0, 0), (0, pad)), constant_values=-1)
        return scores, ids.astype(np.int64)

    # -- devices -----------------------------------------------------------------------------

    def to_device(self, device: str = "auto") -> FaissIndex:
        """This index on ``cpu`` or ``cuda[:n]``; ``auto`` is the first GPU when faiss has one.

        Returns a new object sharing the CPU index; the original is unchanged.
        """
        if device == "cpu" or (device == "auto" and not gpu_available()):
            return FaissIndex(self._cpu, self.kind, self._meta, device="cpu", params=self.params)
        if device != "auto" and not device.startswith("cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:n]'; got {device!r}")
        if not gpu_available():
            why = ("this faiss build has no GPU support (faiss-cpu is installed; install faiss-gpu "
                   "instead of it)" if not hasattr(faiss, "StandardGpuResources") else "faiss sees no GPU")
            raise RuntimeError(f"device={device!r}: {why}")
        gpu_id = int(device.split(":", 1)[1]) if ":" in device else 0
        res = faiss.StandardGpuResources()
        # GPU faiss has no HNSW (index_cpu_to_gpu raises on one): search the vectors it stores
        # exactly instead, which a GPU does faster than a CPU walks the graph at our sizes. Ids
        # are the same, since HNSW's storage holds row i as id i. (An IVF index would copy as it
        # is; kgnlu builds none, see build.)
        flat = faiss.downcast_index(self._cpu.storage) if self.kind == "hnsw" else self._cpu
        gpu = faiss.index_cpu_to_gpu(res, gpu_id, flat)
        out = FaissIndex(gpu, self.kind, self._meta, _cpu_index=self._cpu, device=f"cuda:{gpu_id}",
                         params=self.params)
        out._gpu_resources = res  # the GPU index is only valid while its resources live
        return out

    def gpu_agrees_with_cpu(self, queries: np.ndarray, k: int, *, min_overlap: float = 0.99,
                            atol: float = 1e-4) -> bool:
        """Search ``queries`` on CPU and GPU; True when the top-k sets agree (ties aside).

        Exact indexes must agree on ids (``min_overlap`` of them) and on scores to ``atol``.
        """
        cpu = self.to_device("cpu")
        gpu = self.to_device("cuda")
        s_cpu, i_cpu = cpu.search(queries, k)
        s_gpu, i_gpu = gpu.search(queries, k)
        if cpu.kind == "flat" and not np.allclose(s_cpu, s_gpu, atol=atol):
            return False
        overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(i_cpu.tolist(), i_gpu.tolist())])
        # An HNSW CPU search is approximate while the GPU search is exact: compare looser.
        return bool(overlap >= (min_overlap if cpu.kind == "flat" else min_overlap - 0.05))

    # -- persistence -------------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write ``index.faiss`` and ``meta.json`` into ``directory`` (created if needed)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._cpu, str(d / INDEX_FILE))
        info = {"format": FORMAT, "kind": self.kind, "n": self.n, "dim": self.dim, "params": self.params,
                "meta": self._meta}
        (d / META_FILE).write_text(json.dumps(info, indent=2, sort_keys=True))
        return d

    @staticmethod
    def read_meta(directory: str | Path) -> dict:
        """The saved ``meta.json`` (kind, n, dim, params, meta) without loading the index.

        Indexes saved before ``params`` existed get ``{"kind": kind}``: right for a flat index,
        and for an HNSW one it lacks the shape, so a caller comparing params rebuilds it.
        """
        info = json.loads((Path(directory) / META_FILE).read_text())
        if isinstance(info, dict) and not isinstance(info.get("params"), dict):
            info["params"] = {"kind": info.get("kind")}
        return info

    @classmethod
    def load(cls, directory: str | Path, *, ef_search: int = HNSW_EF_SEARCH) -> FaissIndex:
        """The index saved in ``directory``; an HNSW one searches with beam width ``ef_search``."""
        d = Path(directory)
        info = cls.read_meta(d)
        if info.get("format") != FORMAT or info.get("kind") not in KINDS:
            raise ValueError(f"{d / META_FILE}: unknown index format {info.get('format')!r}/{info.get('kind')!r}")
        index = faiss.read_index(str(d / INDEX_FILE))
        if index.ntotal != info["n"] or index.d != info["dim"]:
            raise ValueError(f"{d}: index has {index.ntotal}x{index.d} vectors but meta.json says "
                             f"{info['n']}x{info['dim']}")
        if info["kind"] == "hnsw":
            index.hnsw.efSearch = int(ef_search)
        return cls(index, info["kind"], info.get("meta") or {}, params=info["params"])


def _writable(directory: Path, path: Path) -> bool:
    """Whether ``path`` can be written (and ``directory``, made if missing, can hold its journal files)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    # os.access also sees a read-only mount and an immutable directory, where root's rights do not help.
    return os.access(directory, os.W_OK | os.X_OK) and (not path.exists() or os.access(path, os.R_OK | os.W_OK))


class VectorCache:
    """Text → vector, on disk, for one encoder fingerprint, so a re-ingest embeds only new texts.

    One SQLite file per fingerprint (``vectors-<fingerprint>.sqlite3`` under ``directory``);
    a changed encoder starts an empty cache and leaves the old file alone. Texts are stored
    exactly as given: the caller normalises them first. Entries are never evicted; delete the
    directory to reclaim the space (about 1.5 kB per text at dim 384).

    Where ``directory`` cannot be written (a KG mounted read-only, as docs/scaling.md suggests),
    the cache is opened read-only: it serves what it holds, ``put_many`` keeps nothing, and
    ``read_only`` is True. Without a file there, it holds nothing: the caller embeds every text,
    as it would on a cold cache. Callers need no other path for a read-only KG.
    """

    _CHUNK = 500  # SQLite's default limit on bound parameters is 999

    def __init__(self, directory: str | Path, fingerprint: str, dim: int):
        if not fingerprint or not all(c.isalnum() or c in "-_" for c in fingerprint):
            raise ValueError(f"fingerprint must be a non-empty [A-Za-z0-9_-] string; got {fingerprint!r}")
        self.directory = Path(directory)
        self.fingerprint = fingerprint
        self.dim = int(dim)
        self.path = self.directory / f"vectors-{fingerprint}.sqlite3"
        self.read_only = not _writable(self.directory, self.path)
        if self.read_only:
            self._db = self._open_read_only()
            return
        try:
            self._db = self._open()
        except sqlite3.OperationalError as e:
            # access() can say yes where the server says no (NFS squashing root, ACLs): read what is there.
            self.read_only = True
            try:
                self._db = self._open_read_only()
            except sqlite3.Error:
                raise e from None

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        # Reads dominate, and each vector (1.5 kB) spans pages that SQLite would otherwise copy in
        # through read() on every lookup; memory-mapped, they are read in place.
        db.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        db.execute("CREATE TABLE IF NOT EXISTS vectors (text TEXT PRIMARY KEY, vec BLOB NOT NULL) WITHOUT ROWID")
        db.commit()
        return db

    def _open_read_only(self) -> sqlite3.Connection | None:
        if not self.path.is_file():
            return None
        # A WAL database opens read-only only beside its -shm file, which SQLite cannot create in a
        # read-only directory; there it is opened as immutable instead. No writer can be using it
        # then (a WAL writer keeps the -shm file while it is open), and the rows of a cache never
        # change meaning (one text, one vector), so a later addition that this reader misses
        # only costs an embedding.
        last: sqlite3.Error | None = None
        for params in ("mode=ro", "mode=ro&immutable=1"):
            db = sqlite3.connect(f"file:{self.path}?{params}", uri=True, timeout=60, check_same_thread=False)
            try:
                db.execute("SELECT 1 FROM vectors LIMIT 1").fetchall()
            except sqlite3.OperationalError as e:
                db.close()
                last = e
                continue
            db.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            return db
        raise sqlite3.OperationalError(f"{self.path}: cannot open the vector cache read-only: {last}")

    def __len__(self) -> int:
        if self._db is None:
            return 0
        return self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    def get_many(self, texts: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        """``(vectors, missing)``: a (len(texts), dim) float32 matrix whose rows are filled for
        cached texts (zeros elsewhere), and the positions in ``texts`` not in the cache."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        found: dict[str, bytes] = {}
        unique = list(dict.fromkeys(texts)) if self._db is not None else []
        for i in range(0, len(unique), self._CHUNK):
            chunk = unique[i:i + self._CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(self._db.execute(f"SELECT text, vec FROM vectors WHERE text IN ({marks})", chunk))
        missing = []
        for i, t in enumerate(texts):
            blob = found.get(t)
            if blob is None or len(blob) != 4 * self.dim:
                missing.append(i)
            else:
                out[i] = np.frombuffer(blob, dtype=np.float32)
        return out, missing

    def put_many(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        x = _as_matrix(vectors, self.dim)
        if len(texts) != x.shape[0]:
            raise ValueError(f"{len(texts)} texts but {x.shape[0]} vectors")
        if self.read_only:
            return
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors (text, vec) VALUES (?, ?)",
                                 ((t, x[i].tobytes()) for i, t in enumerate(texts)))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    def __enter__(self) -> VectorCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["FaissIndex", "VectorCache", "gpu_available", "index_params", "HNSW_ABOVE", "HNSW_EF_SEARCH"]

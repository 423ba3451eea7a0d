"""The dense lexicon index: every selected label and synonym of the KG, embedded, in faiss.

Which entries are embedded (``NAME_KINDS``, ``SYNONYM_KINDS``, ``MAX_TEXTS``)
------------------------------------------------------------------------------
Budget: the default KG's index must build in under 4 minutes on 2 CPU cores, embeddings
included. Embedding takes most of that time and grows with the number of texts (ASSETS.md gives
all-MiniLM-L6-v2's rate), so ``MAX_TEXTS`` caps what is embedded, leaving room to select the
entries and build the HNSW index (one thread, for reproducible results;
``kgnlu.kg.index.FaissIndex.build`` explains why HNSW above 10k vectors). Lexicon of the
default KG (HPO + MONDO + HPOA diseases + drugs; 247.8k entries, 74.8k IRIs):

==========================================================  =======================
selection (after per-IRI dedupe of normalised texts)        unique texts to embed
==========================================================  =======================
every kind (label, exact, related, broad, narrow)           243.6k
names + exact/alt synonyms                                  181.7k (drugs: 108k)
names only (label, pref)                                     73.5k
**names + exact/alt synonyms up to MAX_TEXTS (chosen)**      80.0k (81.6k links)
==========================================================  =======================

- Every name (rdfs:label, skos:prefLabel) is embedded, whatever the budget.
- Exact synonyms and skos:altLabel fill the rest of ``MAX_TEXTS``, in rounds: each IRI's best
  remaining synonym per round (``MAX_SYNONYMS_PER_IRI`` rounds at most), so that no IRI hogs
  the budget (acetylcysteine alone has 83 variants). Within a round, multi-word synonyms come
  before single words, then the most novel (fewest words shared with the IRI's names). On the
  default KG this keeps 2.6k HPO and 4.2k drug synonyms (16.8k at 90k texts, 80k at 153.9k:
  raise ``MAX_TEXTS`` where a GPU or more time is available).
- Related, broad and narrow synonyms are not embedded: they name *other* concepts often enough
  to mislead a dense retriever ("veggie" is only *related* to "vegetable"; MONDO's synonyms all
  arrive as related). The lexical matcher still sees them.

Texts are normalised (lower case, single spaces: MiniLM's tokenizer is uncased, so case never
changes a vector) and deduplicated per IRI. Texts shared by several IRIs are embedded once: a
faiss row is one normalised text, and the ``links`` table maps it back to every (IRI, original
text, kind) that uses it.

Layout under the KG root::

    index -> index-<n>/   (symlink, swapped atomically by ``kg.kgdir.publish``)
        index.faiss, meta.json (index kind and params; manifest hash, encoder fingerprint,
                               selection, counts, timings)
        rows.sqlite3      texts(row, text), links(row, iri, text, kind)
    cache/                kg.index.VectorCache: text -> vector per encoder fingerprint

An index whose manifest hash, encoder fingerprint, selection or index params (flat or HNSW and
its shape, ``kgnlu.kg.index.index_params``) differ from the current ones, or whose files are
missing or unreadable, is stale: ``load_lexicon_index`` rebuilds it (from the vector cache, so
only the faiss build is paid again).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kgnlu.kg.errors import StoreError
from kgnlu.kg.index import HNSW_ABOVE, FaissIndex, VectorCache, index_params
from kgnlu.kg.kgdir import KGDir, artifact_lock, manifest_hash, publish
from kgnlu.kg.lexicon import KIND_RANK, Lexicon
from kgnlu.progress import CountCallback

if TYPE_CHECKING:
    from kgnlu.neural.encoder import TextEncoder


NAME_KINDS = ("label", "pref")
SYNONYM_KINDS = ("exact", "alt")
INDEXED_KINDS = NAME_KINDS + SYNONYM_KINDS
MAX_TEXTS = 80_000
MAX_SYNONYMS_PER_IRI = 8
_WORD = re.compile(r"[^\W_]+")
INDEX_LINK = "index"
CACHE_DIR = "cache"
ROWS_FILE = "rows.sqlite3"
INDEX_FORMAT = 1


@dataclass(frozen=True)
class DenseHit:
    """One dense-retrieval hit: the concept, the lexicon text that matched and its cosine."""

    iri: str
    text: str
    kind: str
    score: float


def embedding_key(text: str) -> str:
    """The key texts are deduplicated and embedded under (the encoder is uncased)."""
    return " ".join(text.lower().split())




def _english(lang: str | None) -> bool:
    return lang is None or lang == "" or lang.lower().startswith("en")


def selection() -> dict:
    """What decides which entries are indexed; part of the staleness check."""
    return {"format": INDEX_FORMAT, "names": list(NAME_KINDS), "synonyms": list(SYNONYM_KINDS),
            "max_texts": MAX_TEXTS, "max_synonyms_per_iri": MAX_SYNONYMS_PER_IRI,
            "normalise": "lower+spaces", "langs": "en"}


def _tokens(key: str) -> frozenset[str]:
    return frozenset(_WORD.findall(key))


def select_entries(lexicon: Lexicon, max_texts: int | None = None,
                   max_synonyms_per_iri: int | None = None) -> tuple[list[str], list[tuple[int, str, str, str]]]:
    """``(texts, links)``: unique normalised texts (faiss rows) and ``(row, iri, original text,
    kind)`` for every kept entry. Deterministic for a given lexicon.

    Every name is kept. Synonyms are added in rounds (each IRI's best remaining synonym per
    round, so no IRI hogs the budget), most novel first, until ``max_texts`` unique texts.
    """
    max_texts = MAX_TEXTS if max_texts is None else max_texts
    per_iri = MAX_SYNONYMS_PER_IRI if max_synonyms_per_iri is None else max_synonyms_per_iri
    names: dict[str, list[tuple]] = {}
    synonyms: dict[str, list[tuple]] = {}
    for order, e in enumerate(lexicon.entries()):
        if e.kind not in NAME_KINDS + SYNONYM_KINDS or not _english(e.lang):
            continue
        key = embedding_key(e.text)
        if key:
            target = names if e.kind in NAME_KINDS else synonyms
            target.setdefault(e.iri, []).append((KIND_RANK[e.kind], order, key, e.text, e.kind))

    rows: dict[str, int] = {}
    links: list[tuple[int, str, str, str]] = []
    kept: dict[str, set[str]] = {}

    def add(iri: str, key: str, text: str, kind: str) -> None:
        links.append((rows.setdefault(key, len(rows)), iri, text, kind))
        kept.setdefault(iri, set()).add(key)

    for iri, entries in names.items():
        for _, _, key, text, kind in sorted(entries):
            if key not in kept.get(iri, ()):
                add(iri, key, text, kind)

    # Priority: phrases before single words (brand names, abbreviations and spelling variants
    # are the lexical matcher's job; a dense vector of "meclomen" means little), then novelty,
    # the share of a synonym's words that its IRI's names lack: "big head" teaches the index
    # more about Macrocephaly than "macrocephaly, relative" does.
    queues: dict[str, list[tuple]] = {}
    for iri, entries in synonyms.items():
        known = frozenset().union(*(_tokens(k) for k in kept.get(iri, ())))
        best: dict[str, tuple] = {}
        for rank, order, key, text, kind in entries:
            if key in kept.get(iri, ()):
                continue
            words = _tokens(key)
            novelty = len(words - known) / max(1, len(words))
            item = (rank, len(words) < 2, -novelty, len(key), order, key, text, kind)
            if key not in best or item < best[key]:
                best[key] = item
        queues[iri] = sorted(best.values())[:per_iri]
    for r in range(per_iri):
        batch = sorted((q[r][1:3], q[r][4], iri, q[r]) for iri, q in queues.items() if len(q) > r)
        for _, _, iri, (*_, key, text, kind) in batch:
            if key in rows or len(rows) < max_texts:  # a text already embedded costs nothing
                add(iri, key, text, kind)
    return list(rows), links


def _current_hash(kg_root: Path) -> tuple[Path, str]:
    gen = KGDir(kg_root).current()
    m = gen.manifest()
    return gen.path, m.get("hash") or manifest_hash(m)


def embed_with_cache(texts: Sequence[str], encoder: TextEncoder, cache: VectorCache, *,
                     batch_size: int = 128, chunk: int = 4096,
                     progress: CountCallback | None = None) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``, embedding only those ``cache`` lacks; returns (vectors, n_embedded).

    New vectors go into the cache every ``chunk`` texts, so an interrupted build (Ctrl-C after
    three minutes of a four-minute build) keeps what it embedded and the next one resumes.
    ``progress(done, total)`` counts texts to embed, across chunks.
    """
    vectors, missing = cache.get_many(texts)
    if not missing:
        if progress is not None:
            progress(0, 0)
        return vectors, 0
    # Sort once by length so that each chunk, like each batch, pads to similar lengths.
    missing.sort(key=lambda i: (-len(texts[i]), i))
    total = len(missing)
    for start in range(0, total, chunk):
        idx = missing[start:start + chunk]
        part = [texts[i] for i in idx]

        def report(done: int, _: int, offset: int = start) -> None:
            if progress is not None:
                progress(offset + done, total)

        new = encoder.encode(part, batch_size=batch_size, progress=report)
        vectors[idx] = new
        cache.put_many(part, new)
    return vectors, total


def build_lexicon_index(kg_root: str | Path, encoder: TextEncoder, progress: CountCallback | None = None,
                        *, batch_size: int = 128, hnsw_above: int = HNSW_ABOVE) -> Path:
    """Embed the current generation's lexicon and publish the index at ``kg_root/index``.

    Builds unconditionally (see ``load_lexicon_index`` for build-if-stale). ``progress(done,
    total)`` is called after each embedded batch. Returns the index directory.
    """
    kg_root = Path(kg_root)
    _current_hash(kg_root)  # no KG: a clean StoreError before anything is written
    with artifact_lock(kg_root / INDEX_LINK):  # one builder per KG at a time
        return _build(kg_root, encoder, progress, batch_size, hnsw_above)


def _build(kg_root: Path, encoder: TextEncoder, progress: CountCallback | None, batch_size: int,
           hnsw_above: int) -> Path:
    t0 = time.perf_counter()
    gen, mhash = _current_hash(kg_root)
    texts, links = select_entries(Lexicon(gen / "tables.sqlite3"))
    t_read = time.perf_counter()
    with VectorCache(kg_root / CACHE_DIR, encoder.fingerprint, encoder.dim) as cache:
        vectors, n_embedded = embed_with_cache(texts, encoder, cache, batch_size=batch_size, progress=progress)
    t_embed = time.perf_counter()
    meta = {
        "manifest_hash": mhash, "encoder": encoder.fingerprint, "selection": selection(),
        "counts": {"texts": len(texts), "links": len(links), "iris": len({iri for _, iri, _, _ in links}),
                   "embedded": n_embedded, "cached": len(texts) - n_embedded},
    }
    index = FaissIndex.build(vectors, hnsw_above=hnsw_above)
    t_index = time.perf_counter()

    with publish(kg_root / INDEX_LINK, lock=False) as staging:  # the caller holds the lock
        staging.mkdir()
        rows = sqlite3.connect(staging / ROWS_FILE)
        rows.executescript("CREATE TABLE links (row INTEGER NOT NULL, iri TEXT NOT NULL, text TEXT NOT NULL, "
                           "kind TEXT NOT NULL); CREATE TABLE texts (row INTEGER PRIMARY KEY, text TEXT NOT NULL);")
        rows.executemany("INSERT INTO links VALUES (?,?,?,?)", links)
        rows.executemany("INSERT INTO texts VALUES (?,?)", enumerate(texts))
        rows.execute("CREATE INDEX links_row ON links (row)")
        rows.commit()
        rows.close()
        meta["seconds"] = {"read": round(t_read - t0, 3), "embed": round(t_embed - t_read, 3),
                           "index": round(t_index - t_embed, 3)}
        index.with_meta(meta).save(staging)
    # Readers hold open files, not paths, once loaded (faiss reads into memory, SQLite keeps its
    # descriptor), so publish may remove the previous index directory.
    return kg_root / os.readlink(kg_root / INDEX_LINK)


def stale_reason(kg_root: str | Path, encoder: TextEncoder, *, hnsw_above: int = HNSW_ABOVE) -> str | None:
    """Why the saved index cannot serve the current KG with ``encoder``; None when it can.

    ``hnsw_above`` is the flat/HNSW threshold the index should have been built with: an index
    of another kind or shape than ``index_params`` gives for its row count is stale.
    """
    kg_root = Path(kg_root)
    directory = kg_root / INDEX_LINK
    try:
        info = FaissIndex.read_meta(directory)
    except (OSError, ValueError) as e:
        return f"no readable index ({type(e).__name__})"
    meta = info.get("meta") or {}
    _, mhash = _current_hash(kg_root)
    if meta.get("manifest_hash") != mhash:
        return f"built for KG {meta.get('manifest_hash')}, the KG is now {mhash}"
    if meta.get("encoder") != encoder.fingerprint:
        return f"built with encoder {meta.get('encoder')}, the encoder is {encoder.fingerprint}"
    if meta.get("selection") != selection():
        return "built with another entry selection"
    wanted = index_params(int(info.get("n", 0)), hnsw_above=hnsw_above)
    if info.get("params") != wanted:
        return f"built as {info.get('params')}, wanted {wanted}"
    for name in ("index.faiss", ROWS_FILE):
        if not (directory / name).is_file():
            return f"missing {name}"
    return None


class LexiconIndex:
    """Dense candidates for mentions: encode, search faiss, map rows back to IRIs."""

    def __init__(self, kg_root: Path, directory: Path, index: FaissIndex, encoder: TextEncoder):
        self.kg_root = Path(kg_root)
        self.directory = Path(directory)
        self.index = index
        self.encoder = encoder
        self._rows = sqlite3.connect(f"file:{self.directory / ROWS_FILE}?mode=ro", uri=True,
                                     check_same_thread=False)
        self._rows.execute("SELECT 1 FROM links LIMIT 1")  # fail now, not at the first search

    @property
    def meta(self) -> dict:
        return self.index.meta

    @property
    def manifest_hash(self) -> str:
        return self.index.meta["manifest_hash"]

    def stale_reason(self) -> str | None:
        """Why this loaded index no longer serves its KG (a newer generation); None if it does."""
        _, mhash = _current_hash(self.kg_root)
        if mhash != self.manifest_hash:
            return f"built for KG {self.manifest_hash}, the KG is now {mhash}"
        return None

    def __len__(self) -> int:
        return len(self.index)

    def __repr__(self) -> str:
        return f"LexiconIndex({str(self.directory)!r}, rows={len(self)}, encoder={self.encoder.fingerprint!r})"

    def search(self, texts: Sequence[str], k: int = 10, *, batch_size: int = 128) -> list[list[DenseHit]]:
        """Up to ``k`` candidates per text, one per IRI (its best-scoring text), best first."""
        if not texts:
            return []
        q = self.encoder.encode([embedding_key(t) for t in texts], batch_size=batch_size)
        return self.search_vectors(q, k)

    def search_vectors(self, queries: np.ndarray, k: int = 10) -> list[list[DenseHit]]:
        """As :meth:`search`, for query vectors already encoded (normalised text, same encoder)."""
        # Several rows may name one IRI (synonyms), so over-fetch rows to fill k distinct IRIs.
        k_rows = min(len(self.index), max(3 * k, k + 10))
        if k_rows == 0:
            return [[] for _ in range(len(queries))]
        scores, ids = self.index.search(queries, k_rows)
        wanted = sorted({int(i) for i in ids.ravel() if i >= 0})
        links: dict[int, list[tuple[str, str, str]]] = {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            sql = f"SELECT row, iri, text, kind FROM links WHERE row IN ({','.join('?' * len(chunk))})"
            for row, iri, text, kind in self._rows.execute(sql, chunk):
                links.setdefault(row, []).append((iri, text, kind))
        out = []
        for srow, irow in zip(scores.tolist(), ids.tolist()):
            best: dict[str, DenseHit] = {}
            for score, row in zip(srow, irow):
                for iri, text, kind in links.get(row, ()):
                    c = best.get(iri)
                    if c is None or (score, -KIND_RANK[kind]) > (c.score, -KIND_RANK[c.kind]):
                        best[iri] = DenseHit(iri, text, kind, float(score))
            ranked = sorted(best.values(), key=lambda c: (-c.score, KIND_RANK[c.kind], c.iri))
            out.append(ranked[:k])
        return out

    def close(self) -> None:
        self._rows.close()


def _open(kg_root: Path, encoder: TextEncoder, device: str, hnsw_above: int) -> LexiconIndex:
    directory = (kg_root / INDEX_LINK).resolve(strict=True)
    index = FaissIndex.load(directory)
    meta = index.meta
    _, mhash = _current_hash(kg_root)
    # Re-check what was loaded: the link may have been swapped since stale_reason looked.
    if (meta.get("manifest_hash"), meta.get("encoder"), meta.get("selection"), index.params) != (
            mhash, encoder.fingerprint, selection(), index_params(index.n, hnsw_above=hnsw_above)):
        raise ValueError(f"{directory} does not match the current KG and encoder")
    return LexiconIndex(kg_root, directory, index.to_device(device), encoder)


def _cannot_build(kg_root: Path, why: str, error: OSError) -> StoreError:
    return StoreError(f"{kg_root}: no usable dense lexicon index ({why}), and none can be built in a read-only KG "
                      f"directory ({error.strerror}): build it where the KG is writable (a first `kgnlu link --dense`, "
                      "with the same --encoder if any) and copy the KG with its index, or link without --dense")


def load_lexicon_index(kg_root: str | Path, encoder: TextEncoder, progress: CountCallback | None = None,
                       *, device: str = "auto", batch_size: int = 128, hnsw_above: int = HNSW_ABOVE) -> LexiconIndex:
    """The index for the current KG generation and ``encoder``, rebuilt first if stale.

    Never returns a stale index: one whose KG manifest hash, encoder fingerprint, entry
    selection or index params (kind and shape for ``hnsw_above``) differ is rebuilt (embedding
    only texts missing from the cache), and one that fails to open is rebuilt too. ``device`` is where faiss searches (``auto``: a GPU when
    faiss has one).
    """
    kg_root = Path(kg_root)
    _current_hash(kg_root)  # no KG: a clean StoreError before anything is written
    force = False
    for _ in range(3):
        if force or (why := stale_reason(kg_root, encoder, hnsw_above=hnsw_above)) is not None:
            with contextlib.ExitStack() as held:
                try:
                    held.enter_context(artifact_lock(kg_root / INDEX_LINK))
                except OSError as e:
                    # Taking the lock is the first write: a read-only KG stops here, before minutes of embedding.
                    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                        raise _cannot_build(kg_root, "it fails to open" if force else why, e) from None
                    raise
                # Another process may have built it while we waited for the lock.
                if force or stale_reason(kg_root, encoder, hnsw_above=hnsw_above) is not None:
                    _build(kg_root, encoder, progress, batch_size, hnsw_above)
        try:
            return _open(kg_root, encoder, device, hnsw_above)
        except (OSError, ValueError, RuntimeError, sqlite3.Error, KeyError):
            force = True  # corrupt, or swapped under us: build our own and open that
    raise RuntimeError(f"could not open the lexicon index under {kg_root} after rebuilding it")


__all__ = ["DenseHit", "LexiconIndex", "INDEXED_KINDS", "MAX_TEXTS", "MAX_SYNONYMS_PER_IRI", "build_lexicon_index",
           "load_lexicon_index", "select_entries", "stale_reason", "embedding_key", "embed_with_cache"]

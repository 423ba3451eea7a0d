"""The Python API. ``Engine`` is what the medical QA backend and the CLI call.

Loading is lazy: constructing an Engine touches nothing; the KG's tables and store open on
first use, and reopen when another process publishes a new generation of the KG.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from kgnlu.config import build_dir, resolve_kg_dir
from kgnlu.types import IngestResult, KGStats, QueryResult, RemoveResult, SourceInfo, StoreError

Progress = Callable[[str], None]


def _noop(_: str) -> None:
    pass


def _source_info(entry: dict) -> SourceInfo:
    keys = SourceInfo.__dataclass_fields__
    return SourceInfo(**{k: v for k, v in entry.items() if k in keys})


class Engine:
    """One KG (and, once loaded, the models that read it)."""

    def __init__(self, kg: str | Path | None = None, model: str | Path | None = None, device: str = "auto"):
        from kgnlu.kg.kgdir import KGDir

        self.kg_dir = resolve_kg_dir(kg)
        self.model = model
        self.device = device
        self._kgdir = KGDir(self.kg_dir)
        self._lock = threading.RLock()
        self._generation: Path | None = None
        self._tables = None
        self._store = None

    @classmethod
    def load(cls, kg: str | Path | None = None, model: str | Path | None = None, device: str = "auto") -> Engine:
        return cls(kg, model, device)

    # -- KG lifecycle ------------------------------------------------------------------------

    @property
    def has_kg(self) -> bool:
        return self._kgdir.exists

    def ingest(self, paths: Sequence[str | Path], fmt: str | None = None, reasoner: str = "auto",
               name: str | None = None, imports_dir: str | Path | None = None,
               progress: Progress = _noop) -> IngestResult:
        from kgnlu.kg.ingest import ingest

        report = ingest([Path(p) for p in paths], self.kg_dir, fmt=fmt, reasoner_name=reasoner, name=name,
                        imports_dir=Path(imports_dir) if imports_dir else None, progress=progress)
        manifest = report["manifest"]
        return IngestResult(
            kg=report["kg"], changed=report["changed"], sources=[_source_info(e) for e in report["sources"]],
            reasoner=manifest.get("reasoner"), counts=manifest.get("counts", {}), timings=report["timings"],
        )

    def init_default_kg(self, progress: Progress = _noop) -> IngestResult:
        """Build the embedded medical KG (HPO, MONDO, HPO annotations, drugs) from packaged data.

        Idempotent: converted files are cached and unchanged sources are skipped by digest.
        """
        from kgnlu.kg.sources.build import build_all

        progress("converting packaged sources to OWL")
        paths = build_all(build_dir(), progress=progress)
        return self.ingest(paths, reasoner="auto", progress=progress)

    def ensure_kg(self, progress: Progress = _noop) -> None:
        """Build the default KG when there is none (first ``infer``, ``link`` or ``extract``)."""
        if not self.has_kg:
            self.init_default_kg(progress=progress)

    def remove_source(self, name: str, progress: Progress = _noop) -> RemoveResult:
        from kgnlu.kg.ingest import remove

        r = remove(name, self.kg_dir, progress=progress)
        return RemoveResult(kg=r["kg"], removed=r["removed"], triples_removed=r["triples_removed"],
                            counts=r["manifest"].get("counts", {}), timings=r["timings"])

    def kg_manifest(self) -> dict:
        return self._kgdir.current().manifest()

    def stats(self) -> KGStats:
        gen = self._kgdir.current()
        m = gen.manifest()
        c = m.get("counts", {})
        return KGStats(
            kg=str(self.kg_dir), generation=gen.path.name, manifest_hash=m.get("hash"),
            sources=[_source_info(e) for _, e in sorted(m["sources"].items())],
            triples=c.get("triples", 0), classes=c.get("classes", 0),
            object_properties=c.get("object_properties", 0), data_properties=c.get("data_properties", 0),
            annotation_properties=c.get("annotation_properties", 0), individuals=c.get("individuals", 0),
            reasoner=m.get("reasoner"), counts=c, timings=m.get("timings", {}),
        )

    # -- read access -------------------------------------------------------------------------

    def _refresh(self) -> None:
        """(Re)open the current generation if it changed since we last looked."""
        gen = self._kgdir.current().path
        if gen != self._generation:
            from kgnlu.kg.tables import ClosureTables

            if self._store is not None:
                self._store.close()
            self._tables = ClosureTables(gen / "tables.sqlite3")
            self._store = None
            self._generation = gen

    @property
    def tables(self):
        with self._lock:
            self._refresh()
            return self._tables

    @property
    def store(self):
        from kgnlu.kg.owlready_store import OwlreadyStore

        with self._lock:
            self._refresh()
            if self._store is None:
                self._store = OwlreadyStore(self._generation / "quadstore.sqlite3", read_only=True)
            return self._store

    def query(self, sparql: str) -> QueryResult:
        from kgnlu.kg.store import Literal

        if not self.has_kg:
            raise StoreError(f"no KG at {self.kg_dir}: run `kgnlu kg init` or `kgnlu ingest FILE` first")
        res = self.store.sparql(sparql)
        rows = [[(c.value if isinstance(c, Literal) else c) for c in row] for row in res.rows]
        return QueryResult(variables=res.variables, rows=rows)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
            self._store = self._tables = self._generation = None

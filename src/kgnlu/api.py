"""The Python API. ``Engine`` is what the medical QA backend and the CLI call.

Loading is lazy: constructing an Engine touches nothing; the KG's tables and store open on
first use, and reopen when another process publishes a new generation of the KG.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from kgnlu.config import build_dir, debug_enabled, linker_adapter_dir, resolve_kg_dir  # noqa: F401 (debug_enabled: CLI)
from kgnlu.types import (
    InferResult,
    IngestResult,
    InputError,
    KGStats,
    Mention,
    QueryResult,
    RemoveResult,
    SourceInfo,
    StoreError,
)

Progress = Callable[[str], None]


def _noop(_: str) -> None:
    pass


def _counting(progress: Progress, what: str) -> Callable[[int, int], None]:
    """Adapt a stage-message callback to the (done, total) callbacks of batch loops."""
    return lambda done, total: progress(f"{what} {done}/{total}")


def _source_info(entry: dict) -> SourceInfo:
    keys = SourceInfo.__dataclass_fields__
    return SourceInfo(**{k: v for k, v in entry.items() if k in keys})


class Engine:
    """One KG (and, once loaded, the models that read it)."""

    def __init__(self, kg: str | Path | None = None, model: str | Path | None = None, device: str = "auto",
                 dense: bool = True):
        from kgnlu.kg.kgdir import KGDir

        self.kg_dir = resolve_kg_dir(kg)
        self.model = model
        self.device = device
        self.dense = dense  # False: lexicon-only linking, no encoder or faiss (fast, no torch)
        self._kgdir = KGDir(self.kg_dir)
        self._lock = threading.RLock()
        self._generation: Path | None = None
        self._tables = None
        self._store = None
        self._linker = None
        self._rules = None
        self._encoder = None

    @classmethod
    def load(cls, kg: str | Path | None = None, model: str | Path | None = None, device: str = "auto",
             dense: bool = True) -> Engine:
        return cls(kg, model, device, dense)

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
        if self.dense and (report["changed"] or not self._index_fresh()):
            self.build_index(progress)
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
            self._linker = self._rules = None
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

    # -- linking and inference ---------------------------------------------------------------

    def encoder(self):
        """The linker's text encoder: MiniLM with the shipped self-alignment adapter, if any."""
        with self._lock:
            if self._encoder is None:
                from kgnlu.neural.encoder import MiniLMEncoder

                adapter = linker_adapter_dir()
                self._encoder = MiniLMEncoder(adapter=adapter if adapter.is_dir() else None, device=self.device)
            return self._encoder

    def _index_fresh(self) -> bool:
        from kgnlu.tasks.lexindex import stale_reason

        return stale_reason(self.kg_dir, self.encoder()) is None

    def build_index(self, progress: Progress = _noop) -> None:
        """Embed the lexicon entries the vector cache lacks and rebuild the faiss index."""
        from kgnlu.tasks.lexindex import load_lexicon_index

        load_lexicon_index(self.kg_dir, self.encoder(), progress=_counting(progress, "embedding lexicon"),
                           device=self.device)

    def linker(self, progress: Progress = _noop):
        from kgnlu.kg.lexicon import Lexicon
        from kgnlu.kg.matcher import LexiconMatcher
        from kgnlu.tasks.linking import Linker

        with self._lock:
            self.ensure_kg(progress)
            self._refresh()
            if self._linker is None:
                matcher = LexiconMatcher.from_entries(Lexicon(self._generation / "tables.sqlite3").entries())
                index = None
                if self.dense:
                    from kgnlu.tasks.lexindex import load_lexicon_index

                    index = load_lexicon_index(self.kg_dir, self.encoder(),
                                               progress=_counting(progress, "embedding lexicon"), device=self.device)
                self._linker = Linker(matcher, self._tables, index)
            return self._linker

    def rules(self):
        from kgnlu.kg.rules import RuleEngine

        with self._lock:
            self._refresh()
            if self._rules is None:
                self._rules = RuleEngine(self._tables)
            return self._rules

    def link(self, text: str, top_k: int = 0) -> list[Mention]:
        """The KG concepts ``text`` mentions, with polarity, in text order."""
        return self.linker().link(text, top_k=top_k)

    def link_many(self, texts: Sequence[str], top_k: int = 0) -> list[list[Mention]]:
        return self.linker().link_many(texts, top_k=top_k)

    def infer(self, premise: str, hypothesis: str, symbolic_only: bool = False) -> InferResult:
        """Entailment, neutral or contradiction for one pair, with proofs (see the result contract)."""
        from kgnlu.tasks.linking import check_text
        from kgnlu.tasks.nli import symbolic_infer

        premise, hypothesis = check_text(premise, "premise"), check_text(hypothesis, "hypothesis")
        if not premise.strip() or not hypothesis.strip():
            raise InputError("premise and hypothesis must both be non-empty")
        return symbolic_infer(self.linker(), self.rules(), premise, hypothesis)

    # -- relation extraction (tasks.relations) -----------------------------------------------

    def relation_kb(self):
        """The KG's relation inventory and standing rules (``kgnlu.kg.relations.RelationKB``)."""
        from kgnlu.kg.relations import RelationKB

        with self._lock:
            self._refresh()
            kb = getattr(self, "_relation_kb", None)
            if kb is None or kb.tables is not self._tables:
                kb = self._relation_kb = RelationKB(self._tables)
            return kb

    def relation_inventory(self) -> list[dict]:
        """The relations this KG can state: its object properties and ``is_a``, with domains and ranges."""
        return [r.as_dict() for r in self.relation_kb().inventory()]

    def relation_extractor(self, model: str | Path | None = None, progress: Progress = _noop,
                           untrained: bool = False):
        """The extractor over this KG, with the trained model at ``model`` (default: the shipped
        one under ``kgnlu/assets/re``) or, when there is none or ``untrained``, the KG +
        co-occurrence scorer (which says so in every result)."""
        from kgnlu.tasks.relations import CooccurrenceScorer, RelationExtractor, load_extractor

        with self._lock:
            linker = self.linker(progress)
            kb = self.relation_kb()
            cache = self.__dict__.setdefault("_extractors", {})
            key = (str(model) if model else None, untrained, id(linker), id(kb))
            if key not in cache:
                cache.clear()
                cache[key] = (RelationExtractor(linker, kb, CooccurrenceScorer()) if untrained else
                              load_extractor(linker, kb, model, device=self.device, progress=progress))
            return cache[key]

    def extract(self, text: str, threshold: float | None = None, model: str | Path | None = None,
                untrained: bool = False):
        """The relations ``text`` states between the KG concepts it mentions (``kgnlu.types.ExtractResult``)."""
        return self.extract_many([text], threshold, model, untrained)[0]

    def extract_many(self, texts: Sequence[str], threshold: float | None = None, model: str | Path | None = None,
                     untrained: bool = False):
        return self.relation_extractor(model, untrained=untrained).extract_many(texts, threshold)

    def add_extracted(self, relations, min_score: float, model_name: str = "", progress: Progress = _noop):
        """Write the novel ``relations`` scoring at least ``min_score`` into the ``extracted`` source
        (``kgnlu.types.WriteBackResult``); conflicting ones are reported, never written."""
        from kgnlu.tasks.re_writeback import write_back

        return write_back(self, list(relations), min_score, model_name, progress)

    def generate_relation_data(self, out_dir: str | Path, seed: int = 13, sizes: dict | None = None,
                               progress: Progress = _noop) -> dict:
        """Distant-supervision RE data from this KG (``kgnlu.training.re_data``); returns its meta."""
        from kgnlu.training.re_data import generate

        self.ensure_kg(progress)
        return generate(self.kg_dir, out_dir, seed=seed, sizes=sizes, progress=progress)

    def train_relations(self, data_dir: str | Path, out_dir: str | Path, progress: Progress = _noop, **options) -> dict:
        """Train the relation extractor on generated data (``kgnlu.training.re_train.train``)."""
        from kgnlu.training.re_train import train

        return train(self.kg_dir, data_dir, out_dir, progress=progress, **options)

    def evaluate_relations(self, path: str | Path, model: str | Path | None = None, untrained: bool = False,
                           progress: Progress = _noop) -> dict:
        """Micro/macro-F1 per relation and the confusion matrix on a gold JSONL file (``training.re_eval``)."""
        from kgnlu.tasks.relations import CooccurrenceScorer, RelationExtractor
        from kgnlu.training.re_eval import evaluate, read_records, render

        records = read_records(path)
        if untrained:
            extractor = RelationExtractor(self.linker(progress), self.relation_kb(), CooccurrenceScorer())
        else:
            extractor = self.relation_extractor(model, progress)
        report = evaluate(extractor, records, progress=progress)
        report["text"] = render(report)
        return report

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
            self._store = self._tables = self._generation = self._linker = self._rules = None

"""The Python API. ``Engine`` is what the medical QA backend and the CLI call.

Loading is lazy: constructing an Engine touches nothing; the KG's tables and store open on
first use, and reopen when another process publishes a new generation of the KG.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from kgnlu.config import (  # noqa: F401 (debug_enabled, NLI_RECIPE: CLI)
    NLI_RECIPE, build_dir, debug_enabled, nli_model_dir, resolve_kg_dir)
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
                 dense: bool = True, encoder=None):
        """``encoder``: the linker's text encoder. None: MiniLM with the shipped adapter; a local
        sentence-transformers folder (all-mpnet-base-v2, README "A larger encoder"); or any
        ``kgnlu.neural.encoder.TextEncoder``. Each encoder keeps its own vectors in the KG's cache;
        the KG's one faiss index is rebuilt from them when the encoder changes."""
        from kgnlu.kg.kgdir import KGDir

        self.kg_dir = resolve_kg_dir(kg)
        self.model = model
        self.device = device
        self.dense = dense  # False: lexicon-only linking, no encoder or faiss (fast, no torch)
        self.encoder_spec = encoder
        self._kgdir = KGDir(self.kg_dir)
        self._lock = threading.RLock()
        self._generation: Path | None = None
        self._tables = None
        self._store = None
        self._linker = None
        self._rules = None
        self._encoder = None
        self._nli = None  # (generation, FusedNLIPredictor | None)

    @classmethod
    def load(cls, kg: str | Path | None = None, model: str | Path | None = None, device: str = "auto",
             dense: bool = True, encoder=None) -> Engine:
        return cls(kg, model, device, dense, encoder)

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
        if report["changed"]:
            # Now rather than in the first `infer` after ingest (~10 s on the default KG).
            progress("mining phrase-rewrite rules from the KG's synonyms")
            with self._lock:
                self._refresh()
                rewriter = self._rewriter()
            if rewriter is not None:
                rewriter.close()
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
        """The linker's text encoder: the one given to the constructor, or MiniLM with the shipped
        self-alignment adapter, if any."""
        with self._lock:
            if self._encoder is None:
                from kgnlu.neural.encoder import load_encoder

                try:
                    self._encoder = load_encoder(self.encoder_spec, device=self.device)
                except (FileNotFoundError, ValueError) as e:  # a folder that is not a model
                    raise InputError(f"encoder: {e}") from None
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
        from kgnlu.tasks.linking import DEFAULT_NIL, DefinitionContext, Linker, calibrated_nil

        with self._lock:
            self.ensure_kg(progress)
            self._refresh()
            if self._linker is None:
                matcher = self._matcher()
                index, nil, scorers = None, DEFAULT_NIL, []
                if self.dense:
                    from kgnlu.kg.index import VectorCache
                    from kgnlu.tasks.lexindex import CACHE_DIR, load_lexicon_index

                    encoder = self.encoder()
                    index = load_lexicon_index(self.kg_dir, encoder,
                                               progress=_counting(progress, "embedding lexicon"), device=self.device)
                    if encoder.calibration_dir is not None:  # calibrated for that encoder (bench/link.py)
                        nil = calibrated_nil(encoder.calibration_dir, encoder.fingerprint)
                    vectors = VectorCache(self.kg_dir / CACHE_DIR, encoder.fingerprint, encoder.dim)
                    scorers.append(DefinitionContext(encoder, Lexicon(self._generation / "tables.sqlite3").definition,
                                                     cache=vectors))
                self._linker = Linker(matcher, self._tables, index, nil_threshold=nil, extra_scorers=scorers,
                                      rewriter=self._rewriter())
            return self._linker

    def train_linker(self, out_dir: str | Path, progress: Progress = _noop, bar: bool = True, **options) -> dict:
        """Train the linker encoder's self-alignment LoRA adapter on this KG's synonyms
        (``kgnlu.training.linker_train.train``; ``bar``: tqdm bars); returns its report (``training.json``)."""
        from kgnlu.training.linker_train import train

        self.ensure_kg(progress)
        return train(self.kg_dir, out_dir, progress=bar, **options)

    def _cache_file(self, kind: str, suffix: str) -> Path:
        """Where something derived from the current generation is kept: ``cache/<kind>-<manifest hash><suffix>``."""
        digest = self._kgdir.current().manifest().get("hash") or self._generation.name
        return self.kg_dir / "cache" / f"{kind}-{digest}{suffix}"

    @staticmethod
    def _drop_older(path: Path) -> None:
        """Make way for ``path`` (a ``_cache_file``): remove that kind's files of other generations.
        Raises OSError where the KG directory is read-only."""
        kind = path.name.split("-", 1)[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob(f"{kind}-*{path.suffix}"):
            old.unlink(missing_ok=True)

    def _matcher(self):
        """The lexicon matcher of the current generation, cached on disk under its manifest hash
        (loading it is several times faster than rebuilding it from ~250k lexicon entries)."""
        import os

        from kgnlu.kg.lexicon import Lexicon
        from kgnlu.kg.matcher import LexiconMatcher

        path = self._cache_file("matcher", ".json")
        try:
            return LexiconMatcher.load(path)
        except (OSError, ValueError):
            pass  # missing, or written by another matcher version: rebuild
        matcher = LexiconMatcher.from_entries(Lexicon(self._generation / "tables.sqlite3").entries())
        try:
            self._drop_older(path)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            matcher.save(tmp)
            tmp.replace(path)
        except OSError:
            pass  # a read-only KG directory still links, just without the cache
        return matcher

    def _rewriter(self):
        """The phrase rewriter of the current generation (``kg.rewrite``), kept on disk under its
        manifest hash: mining the default KG's rules takes ~10 s, opening the file milliseconds.
        None when the KG directory is read-only and has none."""
        import sqlite3

        from kgnlu.kg.lexicon import Lexicon
        from kgnlu.kg.rewrite import RewriteIndex

        path = self._cache_file("rewrite", ".sqlite3")
        try:
            return RewriteIndex(path)
        except (OSError, ValueError, sqlite3.Error):
            pass  # missing, or built with other settings: rebuild
        try:
            self._drop_older(path)
            return RewriteIndex.build(path, Lexicon(self._generation / "tables.sqlite3").entries(),
                                      path.stem.split("-", 1)[1])
        except (OSError, sqlite3.Error):
            return None  # a read-only or full KG directory still links, just without rewriting

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

    def nli_model_path(self) -> Path | None:
        """The fused NLI model this engine answers with: ``model`` if given, else the shipped one
        (``None`` when neither exists: answers are then symbolic only)."""
        path = Path(self.model) if self.model else nli_model_dir()
        if (path / "manifest.json").is_file():
            return path
        if self.model:
            raise InputError(f"{path}: not a trained NLI model (no manifest.json)")
        return None

    def nli_predictor(self, progress: Progress = _noop):
        """The fused NLI predictor over this KG, built once per KG generation (``None``: no model)."""
        with self._lock:
            linker = self.linker(progress)
            if self._nli is None or self._nli[0] != self._generation:
                path = self.nli_model_path()
                predictor = None
                if path is not None:
                    from kgnlu.config import resolve_device
                    from kgnlu.tasks.nli_fused import FusedNLIPredictor
                    from kgnlu.training.nli_train import default_node_vectors

                    progress("loading the NLI model")
                    device = resolve_device(self.device)
                    vectors = default_node_vectors(self._tables, device, cache_dir=self.kg_dir / "cache")
                    predictor = FusedNLIPredictor(path, linker, self.rules(), vectors, device=device)
                self._nli = (self._generation, predictor)
            return self._nli[1]

    @staticmethod
    def check_pair(premise, hypothesis, where: str = "") -> tuple[str, str]:
        """The pair as text, or an ``InputError`` (prefixed by ``where``): not text, too long, empty."""
        from kgnlu.tasks.linking import check_text

        try:
            premise, hypothesis = check_text(premise, "premise"), check_text(hypothesis, "hypothesis")
        except InputError as e:
            raise InputError(f"{where}{e}") from None
        if not isinstance(premise, str) or not premise.strip() or not hypothesis.strip():
            raise InputError(f"{where}premise and hypothesis must both be non-empty")
        return premise, hypothesis

    def infer(self, premise: str, hypothesis: str, symbolic_only: bool = False) -> InferResult:
        """Entailment, neutral or contradiction for one pair, with proofs (see the result contract).

        Answered by the fused model (the shipped one, or ``model``); from the KG rules alone when
        ``symbolic_only`` or when there is no trained model (``neural`` then says so).
        Safe to call from several threads at once.
        """
        return self.infer_many([(premise, hypothesis)], symbolic_only=symbolic_only)[0]

    def infer_many(self, pairs: Sequence[tuple[str, str]], symbolic_only: bool = False) -> list[InferResult]:
        """``infer`` over many pairs, batched through the model; results in input order."""
        from kgnlu.tasks.nli import symbolic_infer

        checked = []
        for n, pair in enumerate(pairs):
            try:
                p, h = pair
            except (TypeError, ValueError):
                raise InputError(f"pair {n + 1}: expected (premise, hypothesis)") from None
            checked.append(self.check_pair(p, h, f"pair {n + 1}: " if len(pairs) > 1 else ""))
        if not checked:
            return []
        predictor = None if symbolic_only else self.nli_predictor()
        if predictor is None:
            linker, rules = self.linker(), self.rules()
            results = [symbolic_infer(linker, rules, p, h) for p, h in checked]
            if not symbolic_only:
                for r in results:
                    r.neural = {"note": "no trained NLI model; symbolic verdict only"}
            return results
        return predictor.predict([p for p, _ in checked], [h for _, h in checked])

    def train_nli(self, data_dir: str | Path, out_dir: str | Path, *, seed: int = 0, regenerate: bool = False,
                  progress: Progress = _noop, bars: bool = True, data_options: dict | None = None, **options) -> dict:
        """Train the fused NLI model on pairs generated from this KG (``kgnlu.training.nli_data``,
        made first when ``data_dir`` has none); see ``kgnlu.training.nli_train.train``. Pairs
        kgnlu generated from other templates than the shipped ones are refused."""
        from kgnlu.training.nli_data import generate, stale_data
        from kgnlu.training.nli_train import train

        data_dir = Path(data_dir)
        present = (data_dir / "train.jsonl").is_file() and (data_dir / "dev.jsonl").is_file()
        if present and not regenerate and (why := stale_data(data_dir)):
            raise InputError(f"{data_dir}: {why}; generate it again (`kgnlu train nli --regenerate`)")
        self.ensure_kg(progress)
        if regenerate or not present:
            progress(f"generating NLI pairs into {data_dir}")
            generate(self.kg_dir, data_dir, seed=seed, **(data_options or {}))
        progress("training")
        return train(self.kg_dir, data_dir, out_dir, seed=seed, progress=bars, **options)

    def evaluate_nli(self, path: str | Path, model: str | Path | None = None, mode: str = "fused",
                     dev_file: str | Path | None = None, plots: str | Path | None = None,
                     max_pairs: int | None = None, progress: bool = False) -> dict:
        """Classification report, confusion matrix and ECE (temperature fitted on dev) of the fused
        model on a JSONL file (``kgnlu.training.nli_eval``); PNG plots under ``plots``."""
        from kgnlu.training.nli_eval import evaluate, write_plots

        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        model_dir = Path(model) if model else (Path(self.model) if self.model else nli_model_dir())
        if not (model_dir / "manifest.json").is_file():
            raise InputError(f"{model_dir}: no trained NLI model there (run `kgnlu train nli`)")
        self.ensure_kg()
        report = evaluate(model_dir, self.kg_dir, path, mode=mode, dev_file=dev_file, max_pairs=max_pairs,
                          progress=progress)
        if plots is not None:
            report["plots"] = [str(p) for p in write_plots(report, plots)]
        return report

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
        """Train the relation extractor on generated data (``kgnlu.training.re_train.train``).
        Data generated from other phrasing templates than the shipped ones is refused."""
        from kgnlu.training.re_data import stale_data
        from kgnlu.training.re_train import train

        if why := stale_data(data_dir):
            raise InputError(f"{data_dir}: {why}; generate it again (`kgnlu train re --regenerate`)")
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
            if self._linker is not None and self._linker.rewriter is not None:
                self._linker.rewriter.close()
            self._store = self._tables = self._generation = self._linker = self._rules = self._nli = None

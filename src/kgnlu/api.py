"""The Python API: ``Engine``, what the medical QA backend, the HTTP service and the CLI call.

>>> from kgnlu import Engine
>>> with Engine.load() as engine:                                  # doctest: +SKIP
...     result = engine.infer("The patient has focal seizures.", "The patient has seizures.")
...     result.label, round(result.gate, 2), result.symbolic.rules
('entailment', 1.0, ['mono-up'])

``Engine`` is a thin facade over ``kgnlu.runtime``: constructing one touches nothing; the KG's
tables and models open on first use, and reopen when another process publishes a new
generation of the KG. Every method is safe to call from several threads at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from kgnlu.config import debug_enabled  # noqa: F401 (the CLI's --debug reads it from here)
from kgnlu.progress import StageCallback, no_progress
from kgnlu.runtime import Runtime, model_linking, resolve_nli_model
from kgnlu.types import (
    ExtractResult,
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


# The most candidates ``link`` lists per mention (``top_k``), as ``kgnlu link --top-k`` and the service take.
MAX_TOP_K = 50


def _source_info(entry: dict) -> SourceInfo:
    keys = SourceInfo.__dataclass_fields__
    return SourceInfo(**{k: v for k, v in entry.items() if k in keys})


def default_kg_sources() -> dict[str, str]:
    """What ``Engine.init_default_kg`` (``kgnlu kg init``) builds: source name -> what it holds,
    in build order; an optional source says when it is built."""
    from kgnlu.kg.sources import OPTIONAL, SOURCES

    return {name: f"{what}; {OPTIONAL[name]}" if name in OPTIONAL else what for name, what in SOURCES.items()}


class Engine:
    """One KG, and the models that read it.

    Args:
        kg: the KG directory (None: ``$KGNLU_HOME``, else the user data dir). When it holds no KG,
            the first ``link``, ``infer`` or ``extract`` builds the default medical KG (minutes).
        model: a trained fused NLI model directory (default: the shipped one).
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        dense: also link through the faiss index of lexicon embeddings. None (the default):
            link as the NLI model was trained to (its manifest's ``linking``; lexicon-only for the
            shipped model), dense when ``encoder`` is given.
        encoder: the dense linker's text encoder: None (MiniLM with the shipped adapter), a local
            sentence-transformers folder, or a ``kgnlu.neural.encoder.TextEncoder``.
        curation: the curation model ``link`` applies (``tasks.curation``: which candidate mentions
            curators annotate, learned from annotated abstracts): "auto" (the default) the shipped
            one, learned on GSC+, where the KG holds HPO; a model directory (``kgnlu train
            curation``) applied whatever the KG holds; None: none. NLI and RE link as their models
            were trained, never through it.
    """

    def __init__(self, kg: str | Path | None = None, model: str | Path | None = None, device: str = "auto",
                 dense: bool | None = None, encoder=None, curation: str | Path | None = "auto"):
        self.model = model
        self.curation = curation
        linking = model_linking(resolve_nli_model(model))
        if dense is None:
            dense = encoder is not None or linking["dense"]
        self.runtime = Runtime(kg, dense=dense, rewrite=linking["rewrite"], forms=linking["forms"], encoder=encoder,
                               device=device)

    @property
    def kg_dir(self) -> Path:
        return self.runtime.kg_dir

    @property
    def dense(self) -> bool:
        """Whether linking also retrieves through the faiss index."""
        return self.runtime.dense

    @property
    def device(self) -> str:
        return self.runtime.device

    @classmethod
    def load(cls, kg: str | Path | None = None, model: str | Path | None = None, device: str = "auto",
             dense: bool | None = None, encoder=None, curation: str | Path | None = "auto") -> Engine:
        """An Engine over ``kg`` (see the class); use it as a context manager to close it."""
        return cls(kg, model, device, dense, encoder, curation)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Engine(kg={str(self.kg_dir)!r}, dense={self.dense}, device={self.device!r})"

    def session(self, progress: StageCallback = no_progress):
        """The ``kgnlu.runtime.KGSession`` of the KG's current generation."""
        return self.runtime.session(progress)

    # -- the KG ------------------------------------------------------------------------------

    @property
    def has_kg(self) -> bool:
        return self.runtime.has_kg

    def ingest(self, paths: Sequence[str | Path], fmt: str | None = None, reasoner: str | None = None,
               name: str | None = None, imports_dir: str | Path | None = None,
               progress: StageCallback = no_progress, store: str | None = None) -> IngestResult:
        """Add (or replace) sources in the KG: parse, reason, publish a new generation atomically.
        ``reasoner``: None keeps the one the KG was built with (``auto`` for a new KG), as the CLI does.
        ``store``: a SPARQL 1.1 endpoint to keep the triples in (fixed by the KG's first ingest)."""
        report = self.runtime.ingest(paths, progress, fmt=fmt, reasoner_name=reasoner, name=name,
                                     imports_dir=Path(imports_dir) if imports_dir else None, store_url=store)
        return self._ingest_result(report)

    def init_default_kg(self, progress: StageCallback = no_progress) -> IngestResult:
        """Build the embedded medical KG from packaged data: the sources of ``default_kg_sources()``."""
        return self._ingest_result(self.runtime.init_default_kg(progress))

    @staticmethod
    def _ingest_result(report: dict) -> IngestResult:
        manifest = report["manifest"]
        known = manifest.get("sources", {})
        # ingest reports an unchanged source by name and sha256 only; its triples, format and the
        # rest are in the manifest, under the name it was ingested as.
        entries = [{**known.get(e["name"], {}), **e} if e.get("status") == "unchanged" else e
                   for e in report["sources"]]
        return IngestResult(kg=report["kg"], changed=report["changed"],
                            sources=[_source_info(e) for e in entries],
                            reasoner=manifest.get("reasoner"), counts=manifest.get("counts", {}),
                            timings=report["timings"],
                            extracted_dropped_axioms=report.get("extracted_dropped_axioms", []))

    def ensure_kg(self, progress: StageCallback = no_progress) -> None:
        """Build the default KG when there is none."""
        self.runtime.ensure_kg(progress)

    def remove_source(self, name: str, progress: StageCallback = no_progress) -> RemoveResult:
        from kgnlu.kg.ingest import remove

        r = remove(name, self.kg_dir, progress=progress)
        return RemoveResult(kg=r["kg"], removed=r["removed"], triples_removed=r["triples_removed"],
                            counts=r["manifest"].get("counts", {}), timings=r["timings"],
                            extracted_dropped=r["extracted_dropped"],
                            extracted_dropped_axioms=r["extracted_dropped_axioms"], extracted_left=r["extracted_left"])

    def kg_manifest(self) -> dict:
        """The current generation's manifest: sources (with sha256 and versions), counts, hash."""
        return self.runtime.kgdir.current().manifest()

    def stats(self) -> KGStats:
        gen = self.runtime.kgdir.current()
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

    def query(self, sparql: str) -> QueryResult:
        """A SPARQL query over the KG (all sources merged into one default graph)."""
        from kgnlu.kg.store import Literal

        if not self.has_kg:
            raise StoreError(f"no KG at {self.kg_dir}: run `kgnlu kg init` or `kgnlu ingest FILE` first")
        res = self.session().sparql(sparql)
        rows = [[(c.value if isinstance(c, Literal) else c) for c in row] for row in res.rows]
        return QueryResult(variables=res.variables, rows=rows)

    @property
    def tables(self):
        """The closure tables of the current generation (``kgnlu.kg.tables.ClosureTables``)."""
        return self.session().tables

    @property
    def store(self):
        """The quadstore of the current generation, read-only."""
        return self.session().store

    def rules(self):
        """The rule engine over the closure tables (``kgnlu.kg.rules.RuleEngine``)."""
        return self.session().rules()

    # -- linking -----------------------------------------------------------------------------

    def encoder(self):
        """The dense linker's text encoder."""
        return self.runtime.encoder()

    def build_index(self, progress: StageCallback = no_progress) -> None:
        """Embed the lexicon entries the vector cache lacks and rebuild the faiss index."""
        self.runtime.build_index(progress)

    def linker(self, progress: StageCallback = no_progress):
        """The linker (``kgnlu.tasks.linking.Linker``), built once per KG generation."""
        return self.session(progress).linker(progress)

    def link(self, text: str, top_k: int = 0, branches: Sequence[str] | None = None, nested: bool = False) -> list[Mention]:
        """The KG concepts ``text`` mentions, with polarity and modifiers, in text order; ``branches``
        (sources, ``hpo:phenotype``, CURIEs/IRIs of subtree roots) limits what they may name;
        ``nested`` adds the terms inside longer ones ("schwannoma" in "vestibular schwannoma").

        The engine's curation model (``curation``) chooses among the candidates. A text that is
        empty or blank, or not text (``check_text``), and a ``top_k`` outside [0, 50] are an
        ``InputError``, as ``kgnlu link`` and the service refuse them.

        >>> [(m.text, m.negated) for m in engine.link("Denies chest pain.")]  # doctest: +SKIP
        [('chest pain', True)]
        """
        return self.link_many([text], top_k=top_k, branches=branches, nested=nested)[0]

    def link_many(self, texts: Sequence[str], top_k: int = 0, branches: Sequence[str] | None = None,
                  nested: bool = False) -> list[list[Mention]]:
        """``link`` over many texts, batched; results in input order."""
        texts = _checked_texts(texts)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 0 <= top_k <= MAX_TOP_K:
            raise InputError(f"top_k must be an integer within [0, {MAX_TOP_K}], not {top_k!r}")
        session = self.session()  # once: a call reads one KG generation, even while another is published
        return session.linker().link_many(texts, top_k=top_k, branches=branches, modifiers=True,
                                          nested=nested, forms=True, curator=self._curator(session))

    def curator(self, progress: StageCallback = no_progress):
        """The curation model ``link`` applies (``tasks.curation.Curator``), None when there is none."""
        return self._curator(self.session(progress)) if self.curation is not None else None

    def _curator(self, session):
        if self.curation is None:
            return None
        from kgnlu.tasks.curation import default_curator_path

        auto = str(self.curation) == "auto"
        path = default_curator_path() if auto else Path(self.curation)
        return session.curator(path, required=not auto)

    # -- NLI ---------------------------------------------------------------------------------

    def nli_model_path(self) -> Path | None:
        """The fused NLI model this engine answers with (None: answers are symbolic only)."""
        return resolve_nli_model(self.model)

    def nli_predictor(self, progress: StageCallback = no_progress):
        """The fused NLI predictor over the current generation (None when there is no model)."""
        path = self.nli_model_path()
        return None if path is None else self.session(progress).nli_predictor(path, progress)

    @staticmethod
    def check_text(text, what: str = "text", empty_ok: bool = True) -> str:
        """``text`` as a string, or a one-line ``InputError``: not text (bytes that are not UTF-8,
        NULs, lone surrogates), too long, or (unless ``empty_ok``) empty or blank, as ``link`` and
        ``extract`` refuse it. What every call checks, for callers to check first."""
        from kgnlu.tasks.text import check_text

        return check_text(text, what, empty_ok)

    @staticmethod
    def check_pair(premise, hypothesis, where: str = "") -> tuple[str, str]:
        """The pair as text, or an ``InputError`` (prefixed by ``where``): not text, too long, empty."""
        from kgnlu.tasks.text import check_pair

        return check_pair(premise, hypothesis, where)

    def infer(self, premise: str, hypothesis: str, symbolic_only: bool = False) -> InferResult:
        """Entailment, neutral or contradiction for one pair, with proofs (the result contract).

        Answered by the fused model (the shipped one, or ``model``); from the KG rules alone when
        ``symbolic_only`` or when there is no trained model (``neural`` then says so).
        """
        return self.infer_many([(premise, hypothesis)], symbolic_only=symbolic_only)[0]

    def infer_many(self, pairs: Sequence[tuple[str, str]] | Sequence[Mapping[str, str]],
                   symbolic_only: bool = False) -> list[InferResult]:
        """``infer`` over many pairs, batched through the model; results in input order. A pair is
        ``(premise, hypothesis)`` or a record with those two keys (a JSONL line, a service item)."""
        from kgnlu.tasks.nli import symbolic_infer

        pairs = list(_texts(pairs, "pairs"))
        checked = []
        for n, pair in enumerate(pairs):
            if isinstance(pair, Mapping):
                if "premise" not in pair or "hypothesis" not in pair:
                    raise InputError(f"pair {n + 1}: a record needs 'premise' and 'hypothesis'")
                pair = (pair["premise"], pair["hypothesis"])
            # A string of two characters unpacks into two too: "ab" is no pair.
            if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise InputError(f"pair {n + 1}: expected (premise, hypothesis)")
            checked.append(self.check_pair(*pair, f"pair {n + 1}: " if len(pairs) > 1 else ""))
        if not checked:
            return []
        predictor = None if symbolic_only else self.nli_predictor()
        if predictor is not None:
            return predictor.predict([p for p, _ in checked], [h for _, h in checked])
        session = self.session()
        linker, rules = session.linker(), session.rules()
        results = [symbolic_infer(linker, rules, p, h) for p, h in checked]
        if not symbolic_only:
            for r in results:
                r.neural = {"note": "no trained NLI model; symbolic verdict only"}
        return results

    # -- relation extraction -----------------------------------------------------------------

    def relation_kb(self):
        """The KG's relation inventory and standing rules (``kgnlu.kg.relations.RelationKB``)."""
        return self.session().relation_kb()

    def relation_inventory(self) -> list[dict]:
        """The relations this KG can state: its object properties and ``is_a``, with domains and ranges."""
        return [r.as_dict() for r in self.relation_kb().inventory()]

    def relation_extractor(self, model: str | Path | None = None, progress: StageCallback = no_progress,
                           untrained: bool = False):
        """The extractor with the trained model at ``model`` (default: the shipped one) or, when
        there is none or ``untrained``, the KG + co-occurrence scorer (which says so in every result)."""
        return self.session(progress).relation_extractor(model, progress, untrained)

    def extract(self, text: str, threshold: float | None = None, model: str | Path | None = None,
                untrained: bool = False) -> ExtractResult:
        """The relations ``text`` states between the KG concepts it mentions."""
        return self.extract_many([text], threshold, model, untrained)[0]

    def extract_many(self, texts: Sequence[str], threshold: float | None = None, model: str | Path | None = None,
                     untrained: bool = False) -> list[ExtractResult]:
        """``extract`` over many texts, batched; results in input order. An empty or blank text is
        an ``InputError``, as ``link`` says."""
        return self.relation_extractor(model, untrained=untrained).extract_many(_checked_texts(texts), threshold)

    def add_extracted(self, relations, min_score: float, model_name: str = "",
                      progress: StageCallback = no_progress):
        """Write the novel ``relations`` scoring at least ``min_score`` into the ``extracted`` source
        (``kgnlu.types.WriteBackResult``); conflicting ones are reported, never written."""
        from kgnlu.tasks.re_writeback import write_back

        return write_back(self, list(relations), min_score, model_name, progress)

    def close(self) -> None:
        """Release the KG's files and the loaded models; the Engine reopens them if used again.
        Calls still running in other threads may fail: close once they have returned."""
        self.runtime.close()


def _checked_texts(texts) -> list[str]:
    """``texts`` checked as the CLI and the service check them (``check_text``, and never empty or
    blank: ``kgnlu link ""`` and the service refuse one), prefixed ``text N:`` in a batch."""
    from kgnlu.tasks.text import check_text

    texts = list(_texts(texts))
    out = []
    for n, text in enumerate(texts):
        where = f"text {n + 1}: " if len(texts) > 1 else ""
        try:
            out.append(check_text(text, empty_ok=False))
        except InputError as e:
            raise InputError(f"{where}{e}") from None
    return out


def _texts(items, what: str = "texts"):
    """``items`` when it is a collection, not one text: a string iterates as its characters, and
    ``link_many("seizure")`` answered seven empty lists."""
    if isinstance(items, str | bytes):
        raise InputError(f"{what}: expected a list, not one {type(items).__name__} (the single form takes one)")
    return items

"""The runtime under ``Engine``: one opened KG generation and everything answering needs.

A ``KGSession`` opens one generation of a KG directory, keyed by its manifest hash, and builds
each part the answering path needs on first use, once: the closure tables, the quadstore, the
lexicon matcher and the phrase rewriter (both kept on disk under the manifest hash), the linker,
the rule engine, the relation KB, the node vectors, NLI predictors and relation extractors. It is
thread-safe, and ``close()`` releases all of it in one place.

A ``Runtime`` holds the current session of one KG directory, and the linker's text encoder
(which does not depend on the generation). It opens a new session when another process has
published a new generation. Training and evaluation take a session (``open_session``); nothing
here imports ``kgnlu.training``.
"""

from __future__ import annotations

import atexit
import re
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from kgnlu.config import build_dir, nli_model_dir, resolve_device, resolve_kg_dir
from kgnlu.kg.errors import InterruptedAfterWrite, StoreError
from kgnlu.progress import StageProgress, counting, no_progress
from kgnlu.types import InputError


# A SPARQL update after its prologue (comments, PREFIX and BASE declarations): the parser would
# only say it expected a query form at that place.
_UPDATE = re.compile(r"(?:\s+|#[^\n]*|PREFIX\s+[^\s:]*:\s*<[^>]*>|BASE\s+<[^>]*>)*"
                     r"(INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD|WITH)\b", re.IGNORECASE)


def model_linking(model_dir: Path | None) -> dict:
    """The linking a trained model was trained with (its manifest's ``linking``: ``dense``,
    ``rewrite``); with no model, the lexicon with phrase rewriting."""
    from kgnlu.neural.manifest import LEXICON_LINKING, ModelFormatError, model_linking as read_linking

    if model_dir is None:
        return dict(LEXICON_LINKING)
    try:
        return read_linking(model_dir)
    except ModelFormatError as e:
        raise InputError(str(e)) from None


def resolve_nli_model(model: str | Path | None) -> Path | None:
    """The fused NLI model directory: ``model`` if given (an ``InputError`` when it is not one),
    else the shipped one; ``None`` when neither exists (answers are then symbolic only)."""
    path = Path(model) if model else nli_model_dir()
    if (path / "manifest.json").is_file():
        return path
    if model:
        raise InputError(f"{path}: not a trained NLI model (no manifest.json)")
    return None


def default_node_vectors(tables, device: str = "cpu", cache_dir: str | Path | None = None):
    """The GNN's node vectors: each concept's label embedded by the frozen base MiniLM.

    With ``cache_dir`` (a KG's ``cache/``, shared with ``kgnlu.tasks.lexindex``), vectors are
    read from and written to the on-disk ``VectorCache`` of that encoder, keyed by the
    normalised label, so labels the lexicon index already embedded cost nothing.
    """
    from kgnlu.neural.encoder import MiniLMEncoder
    from kgnlu.tasks.subgraph import LabelVectors

    encoder = MiniLMEncoder(device=device)
    cache = None
    if cache_dir is not None:
        from kgnlu.kg.index import VectorCache

        cache = VectorCache(cache_dir, encoder.fingerprint, encoder.dim)
    return LabelVectors(encoder, tables.labels, cache=cache)


class KGSession:
    """One generation of a KG directory, opened read-only, with its answering parts built lazily.

    Args:
        kg_dir: the KG directory.
        generation: the generation to open (``KGDir.current()``).
        dense: link through the faiss index of lexicon embeddings too.
        rewrite: rewrite wordings the lexicon lacks into names it has (``kg.rewrite``).
        forms: the linker also reads other word forms and typos by default (``Linker.forms``).
        encoder: returns the linker's text encoder (called only when ``dense``).
        device: where the neural parts run (``auto``: CUDA when present).
    """

    def __init__(self, kg_dir: Path, generation, *, dense: bool = False, rewrite: bool = True, forms: bool = True,
                 encoder: Callable[[], object] | None = None, device: str = "auto"):
        from kgnlu.kg.tables import ClosureTables

        self.kg_dir = Path(kg_dir)
        self.path = generation.path
        self.manifest = generation.manifest()
        self.hash = self.manifest.get("hash") or self.path.name
        self.dense, self.rewrite, self.forms, self.device = dense, rewrite, forms, device
        self._encoder = encoder
        self.tables = ClosureTables(self.path / "tables.sqlite3")
        self._lock = threading.RLock()
        self._parts: dict = {}

    def _part(self, key, build: Callable[[], object]):
        with self._lock:
            if key not in self._parts:
                self._parts[key] = build()
            return self._parts[key]

    # -- the symbolic side -------------------------------------------------------------------

    @property
    def store(self):
        """The generation's triples: its quadstore, or the SPARQL store its manifest records
        (seeing only the graphs that manifest lists)."""
        from kgnlu.kg.owlready_store import OwlreadyStore
        from kgnlu.kg.sparql_store import SPARQLStore

        if self.manifest.get("store"):
            return self._part("store", lambda: SPARQLStore.from_manifest(self.manifest))
        return self._part("store", lambda: OwlreadyStore(self.path / "quadstore.sqlite3", read_only=True))

    def sparql(self, query: str):
        """``query`` answered by the generation's embedded SPARQL copy (``kg.sparql_copy``), or by
        the store itself where the generation has none: a KG kept in a SPARQL server, or one
        written before there were copies."""
        from kgnlu.kg import sparql_copy

        if isinstance(query, str) and (update := _UPDATE.match(query)):
            raise InputError(f"a SPARQL update ({update.group(1).upper()}) is not a query: the KG changes through "
                             "`kgnlu ingest` and `kgnlu kg remove`; ask with SELECT, ASK, CONSTRUCT or DESCRIBE")
        copy = self._part("sparql", lambda: sparql_copy.SparqlCopy(self.path) if sparql_copy.exists(self.path) else None)
        return (copy or self.store).sparql(query)

    def lexicon(self):
        from kgnlu.kg.lexicon import Lexicon

        return self._part("lexicon", lambda: Lexicon(self.path / "tables.sqlite3"))

    def rules(self):
        from kgnlu.kg.rules import RuleEngine
        from kgnlu.kg.words import WordRelations

        return self._part("rules", lambda: RuleEngine(self.tables, words=WordRelations(self.tables, self.lexicon())))

    def relation_kb(self):
        from kgnlu.kg.relations import RelationKB

        return self._part("relation_kb", lambda: RelationKB(self.tables))

    def cache_file(self, kind: str, suffix: str) -> Path:
        """Where something derived from this generation is kept: ``cache/<kind>-<hash><suffix>``."""
        return self.kg_dir / "cache" / f"{kind}-{self.hash}{suffix}"

    def matcher(self):
        """The lexicon matcher, kept on disk under the manifest hash: loading it is much faster
        than building it from the lexicon's entries."""
        from kgnlu.kg.kgdir import publish
        from kgnlu.kg.matcher import LexiconMatcher

        def build():
            path = self.cache_file("matcher", ".json")
            try:
                return LexiconMatcher.load(path)
            except (OSError, ValueError):
                pass  # missing, or written by another matcher version: rebuild
            matcher = LexiconMatcher.from_entries(self.lexicon().entries())
            try:
                with publish(path) as staging:
                    matcher.save(staging)
            except OSError:
                pass  # a read-only KG directory still links, just without the cache
            return matcher

        return self._part("matcher", build)

    def rewriter(self):
        """The phrase rewriter (``kg.rewrite``), kept on disk under the manifest hash: mining it
        takes seconds on the default KG, opening it milliseconds. A read-only KG directory without
        it gets one mined for this process, in a temporary directory removed at exit."""
        from kgnlu.kg.rewrite import RewriteIndex

        def build():
            path = self.cache_file("rewrite", ".sqlite3")
            try:
                return RewriteIndex(path)
            except (OSError, ValueError, sqlite3.Error):
                pass  # missing, or built with other settings: rebuild
            try:
                return RewriteIndex.build(path, self.lexicon().entries(), self.hash)
            except (OSError, sqlite3.Error):
                pass
            # A read-only or full KG directory: the rules are mined into a file of this process's
            # own, so that what a text links to does not depend on where the KG is mounted.
            own = Path(tempfile.mkdtemp(prefix="kgnlu-rewrite-"))
            atexit.register(shutil.rmtree, own, True)
            return RewriteIndex.build(own / path.name, self.lexicon().entries(), self.hash)

        return self._part("rewriter", build)

    # -- linking and the neural side -----------------------------------------------------------

    def linker(self, progress=no_progress, *, rewrite: bool | None = None, forms: bool | None = None):
        """The linker; ``rewrite`` and ``forms`` other than this session's give one of its own (a
        relation model trained with other linking than the NLI model's, ``relation_extractor``)."""
        from kgnlu.tasks.linking import DEFAULT_NIL, Linker

        rewrite = self.rewrite if rewrite is None else rewrite
        forms = self.forms if forms is None else forms

        def build():
            index, nil, scorers = None, DEFAULT_NIL, []
            if self.dense:
                from kgnlu.kg.index import VectorCache
                from kgnlu.tasks.lexindex import CACHE_DIR, load_lexicon_index
                from kgnlu.tasks.context import DefinitionContext
                from kgnlu.tasks.linking import calibrated_nil

                encoder = self._encoder()
                index = load_lexicon_index(self.kg_dir, encoder, progress=counting(progress, "embedding lexicon"),
                                           device=self.device)
                if encoder.calibration_dir is not None:
                    nil = calibrated_nil(encoder.calibration_dir, encoder.fingerprint)
                vectors = VectorCache(self.kg_dir / CACHE_DIR, encoder.fingerprint, encoder.dim)
                scorers.append(DefinitionContext(encoder, self.lexicon().definition, cache=vectors))
            return Linker(self.matcher(), self.tables, index, nil_threshold=nil, extra_scorers=scorers,
                          rewriter=self.rewriter() if rewrite else None, forms=forms)

        return self._part("linker" if (rewrite, forms) == (self.rewrite, self.forms) else ("linker", rewrite, forms),
                          build)

    def curator(self, path: Path, required: bool = False):
        """The curation model at ``path`` (``tasks.curation``) when it applies to this KG's
        concepts, else None; ``required``: applied whatever concepts the KG holds."""

        def build():
            from kgnlu.tasks.curation import load_curator

            curator = load_curator(path)
            return curator if required or curator.applies(lambda iri: self.tables.kind(iri) is not None) else None

        return self._part(("curator", str(path), required), build)

    def node_vectors(self):
        """The GNN's node vectors, as in training (``default_node_vectors``)."""
        return self._part("node_vectors", lambda: default_node_vectors(
            self.tables, resolve_device(self.device), cache_dir=self.kg_dir / "cache"))

    def nli_predictor(self, model_dir: Path, progress=no_progress, mode: str = "fused"):
        """The fused NLI predictor of the model at ``model_dir`` over this generation."""

        def build():
            from kgnlu.tasks.nli_fused import FusedNLIPredictor

            progress("loading the NLI model")
            return FusedNLIPredictor(model_dir, self.linker(progress), self.rules(), self.node_vectors(),
                                     device=resolve_device(self.device), mode=mode)

        return self._part(("nli", str(model_dir), mode), build)

    def relation_extractor(self, model: str | Path | None = None, progress=no_progress, untrained: bool = False):
        """The extractor with the trained model at ``model`` (default: the shipped one) or, when
        there is none or ``untrained``, the KG + co-occurrence scorer (which says so in every result).
        A trained model links as its manifest says (phrase rewriting, other word forms), as the NLI
        model does; dense retrieval is this session's (``kgnlu train re`` links lexicon-only)."""
        from kgnlu.tasks.relations import CooccurrenceScorer, RelationExtractor, default_model_dir, load_extractor

        def build():
            if untrained:
                return RelationExtractor(self.linker(progress), self.relation_kb(), CooccurrenceScorer())
            path = Path(model) if model else default_model_dir()
            trained = model_linking(path) if (path / "manifest.json").is_file() else {}
            linker = self.linker(progress, rewrite=trained.get("rewrite"), forms=trained.get("forms"))
            return load_extractor(linker, self.relation_kb(), model, device=self.device, progress=progress)

        return self._part(("extractor", str(model) if model else None, untrained), build)

    def close(self) -> None:
        with self._lock:
            parts, self._parts = self._parts, {}
        for key in ("store", "sparql", "rewriter"):
            if parts.get(key) is not None:
                parts[key].close()


def open_session(kg: str | Path | None = None, *, dense: bool = False, device: str = "auto",
                 linking: dict | None = None) -> KGSession:
    """A session on the current generation of ``kg`` (resolved as everywhere: ``--kg``, then
    ``$KGNLU_HOME``, then the user data dir), linking lexicon-only unless ``dense``; or, given a
    model's ``linking`` (``model_linking``), linking as that model was trained."""
    return (Runtime(kg, dense=dense, device=device) if linking is None else linked_as(kg, linking, device)).session()


def linked_as(kg: str | Path | None, linking: dict, device: str = "auto") -> Runtime:
    """A runtime whose linker links as a model's manifest says (``model_linking``)."""
    return Runtime(kg, dense=linking["dense"], rewrite=linking["rewrite"], forms=linking["forms"], device=device)


class Runtime:
    """The current session of one KG directory, and the linker's encoder.

    Args:
        kg: the KG directory (None: ``$KGNLU_HOME``, else the user data dir).
        dense: link through the faiss index of lexicon embeddings too.
        rewrite: rewrite wordings the lexicon lacks into names it has.
        forms: the linker also reads other word forms and typos by default (``Linker.forms``).
        encoder: None (MiniLM with the shipped adapter), a sentence-transformers folder, or a
            ``kgnlu.neural.encoder.TextEncoder``.
        device: where the neural parts run.
    """

    def __init__(self, kg: str | Path | None = None, *, dense: bool = False, rewrite: bool = True, forms: bool = True,
                 encoder=None, device: str = "auto"):
        from kgnlu.kg.kgdir import KGDir

        self.kg_dir = resolve_kg_dir(kg)
        if self.kg_dir.exists() and not self.kg_dir.is_dir():
            raise StoreError(f"{self.kg_dir} is a file, not a KG directory")
        self.kgdir = KGDir(self.kg_dir)
        self.dense, self.rewrite, self.forms, self.encoder_spec, self.device = dense, rewrite, forms, encoder, device
        self._lock = threading.RLock()
        self._session: KGSession | None = None
        self._encoder = None

    @property
    def has_kg(self) -> bool:
        return self.kgdir.exists

    def session(self, progress=no_progress) -> KGSession:
        """The session of the current generation; builds the default KG first when there is none."""
        with self._lock:
            self.ensure_kg(progress)
            current = self.kgdir.current()
            if self._session is None or self._session.path != current.path:
                # The old session is dropped, not closed: calls in flight in other threads still use
                # its parts (a linker, its rewriter's database), whose files close once collected.
                self._session = KGSession(self.kg_dir, current, dense=self.dense, rewrite=self.rewrite,
                                          forms=self.forms, encoder=self.encoder, device=self.device)
            return self._session

    def encoder(self):
        with self._lock:
            if self._encoder is None:
                from kgnlu.neural.encoder import load_encoder

                try:
                    self._encoder = load_encoder(self.encoder_spec, device=self.device)
                except (FileNotFoundError, ValueError) as e:  # a folder that is not a model
                    raise InputError(f"encoder: {e}") from None
            return self._encoder

    # -- writing the KG ----------------------------------------------------------------------

    def ingest(self, paths: Sequence[str | Path], progress=no_progress, **options) -> dict:
        """``kg.ingest.ingest``, then what the answering path derives from a new generation (the
        phrase rewriter; the lexicon index when linking is dense), now rather than on first use."""
        from kgnlu.kg.ingest import ingest

        report = ingest([Path(p) for p in paths], self.kg_dir, progress=progress, **options)
        try:
            if report["changed"]:
                progress("mining phrase-rewrite rules from the KG's synonyms")
                self.session().rewriter()
            if self.dense and (report["changed"] or not self.index_fresh()):
                self.build_index(progress)
        except KeyboardInterrupt:
            # Each cache is published whole or not at all; the KG itself is already written.
            raise InterruptedAfterWrite("interrupted after the KG was updated: the sources are in; the phrase-rewrite "
                                        "rules (and the dense index) are built on first use") from None
        return report

    def init_default_kg(self, progress=no_progress) -> dict:
        """Build the embedded medical KG from packaged data (the sources of ``kg.sources.SOURCES``).
        Idempotent: converted files are cached and unchanged sources are skipped by digest."""
        from kgnlu.kg.sources.build import build_all

        progress("converting packaged sources to OWL")
        paths = build_all(build_dir(), progress=progress)
        return self.ingest(paths, progress=progress, reasoner_name=None)  # as recorded; auto for a new KG

    def ensure_kg(self, progress=no_progress) -> None:
        """Build the default KG when there is none (a first ``infer``, ``link`` or ``extract``),
        saying so even when the caller shows no progress: it takes minutes."""
        with self._lock:
            if self.has_kg:
                return
            if progress is no_progress:
                progress = StageProgress()
            progress(f"no KG at {self.kg_dir}: building the default medical KG (several minutes, once)")
            self.init_default_kg(progress)

    def index_fresh(self) -> bool:
        from kgnlu.tasks.lexindex import stale_reason

        return stale_reason(self.kg_dir, self.encoder()) is None

    def build_index(self, progress=no_progress) -> None:
        """Embed the lexicon entries the vector cache lacks and rebuild the faiss index."""
        from kgnlu.tasks.lexindex import load_lexicon_index

        load_lexicon_index(self.kg_dir, self.encoder(), progress=counting(progress, "embedding lexicon"),
                           device=self.device)

    def close(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        # Outside this lock: closing waits for a part being built, and building the dense linker
        # takes this lock (``encoder``), so holding it here could deadlock.
        if session is not None:
            session.close()

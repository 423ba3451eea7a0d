"""Result dataclasses returned by ``kgnlu.api`` and printed by the CLI (``--json``).

Every result has ``to_dict()`` returning plain JSON values. The user-facing error types are
re-exported here so that callers need only ``kgnlu.api`` and ``kgnlu.types``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from kgnlu.kg.errors import (  # noqa: F401 - re-exported
    InconsistentOntologyError,
    InputError,
    KgnluError,
    ParseError,
    ReasonerError,
    StoreError,
    UnsafeInputError,
)


class _Dict:
    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SourceInfo(_Dict):
    name: str
    path: str
    sha256: str
    status: str = "present"  # added, replaced, unchanged, present
    format: str | None = None
    triples: int | None = None
    ontology_iri: str | None = None
    ingested_at: str | None = None
    imports: list[str] = field(default_factory=list)
    imports_not_fetched: list[str] = field(default_factory=list)


@dataclass
class IngestResult(_Dict):
    kg: str
    changed: bool
    sources: list[SourceInfo]
    reasoner: dict | None
    counts: dict
    timings: dict
    # relations of the ``extracted`` source dropped because a replaced source no longer has a class
    # they name, as ``RemoveResult`` reports them (subject, property, object, negated)
    extracted_dropped_axioms: list[dict] = field(default_factory=list)


@dataclass
class KGStats(_Dict):
    kg: str
    generation: str
    manifest_hash: str | None
    sources: list[SourceInfo]
    triples: int
    classes: int
    object_properties: int
    data_properties: int
    annotation_properties: int
    individuals: int
    reasoner: dict | None
    counts: dict
    timings: dict


@dataclass
class RemoveResult(_Dict):
    kg: str
    removed: str
    triples_removed: int
    counts: dict
    timings: dict
    # relations of the ``extracted`` source (extract --add-to-kg) dropped with it: about an IRI no
    # remaining source mentions; the axioms (subject, property, object, negated), and how many stay
    extracted_dropped: int = 0
    extracted_dropped_axioms: list[dict] = field(default_factory=list)
    extracted_left: int = 0


@dataclass
class QueryResult(_Dict):
    variables: list[str]
    rows: list[list[str | None]]


@dataclass
class Candidate(_Dict):
    """One concept a mention may name, with the evidence that proposed it."""

    iri: str
    label: str | None
    score: float
    via: str  # "lexicon" (a label or synonym matched), "rewrite" (kg.rewrite) or "dense" (faiss retrieval)
    matched: str  # the lexicon entry text that matched or was retrieved
    kind: str  # label, pref, exact, alt, related, narrow, broad


@dataclass
class Mention(_Dict):
    """A span of text linked to a KG concept, with its polarity."""

    text: str
    start: int
    end: int
    iri: str
    label: str | None
    score: float
    negated: bool
    via: str
    negation_cue: str | None = None
    candidates: list[Candidate] = field(default_factory=list)
    # An open claim ("possible X", "rule out X", "does she have X?"): not asserted, so the NLI
    # rules set it aside; ``negated`` still says which way it leans.
    hedged: bool = False
    hedge_cue: str | None = None
    # Other concepts whose name the span matches exactly as well as ``iri``'s (a disease and the
    # phenotype of the same name); the NLI rules may entail through them.
    readings: list[str] = field(default_factory=list)
    # Whose condition it is when the text says it is a relative's ("My father has X"): "father";
    # "family" for a family history that names no relative ("Family history of X").
    # None: the patient (or the speaker).
    experiencer: str | None = None
    # Qualifiers of this finding the text states (severity, laterality, onset, frequency, mode of
    # inheritance: concepts under the KG's modifier roots), ``{"iri", "label", "text"}`` each.
    modifiers: list[dict] = field(default_factory=list)


@dataclass
class SymbolicResult(_Dict):
    verdict: str  # entailment, contradiction, unknown
    proofs: list[list[dict]]
    rules: list[str]
    undecided: list[dict]
    decided: float
    explanation: list[str]


@dataclass
class InferResult(_Dict):
    """The result contract of ``Engine.infer`` (see DESIGN.md)."""

    label: str
    probabilities: dict[str, float]
    gate: float
    neural: dict
    symbolic: SymbolicResult
    entities: list[dict]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["symbolic"].pop("explanation")
        return d


@dataclass
class Relation(_Dict):
    """One relation a text states between two linked concepts (``Engine.extract``).

    ``subject``/``object``: ``{"iri", "label", "text", "start", "end", "score", "negated"}`` (offsets
    into the whole text); ``predicate``: ``{"iri", "name", "label"}``. ``status`` is the triple's
    standing against the KG (known, novel, conflicting), ``rule`` the rule that decided it and
    ``proof`` its axioms. ``gate`` is the weight given to the KG evidence (0 when untrained).
    ``hedged``: the text states it as an open claim, not a fact ("might present with X", "rule out
    X"): either mention is hedged (``Mention.hedged``); write-back never writes it.
    """

    subject: dict
    predicate: dict
    object: dict
    score: float
    negated: bool
    hedged: bool
    status: str
    rule: str
    proof: list[dict]
    evidence: dict  # {"sentence", "start", "end", "spans": [[s, e], [s, e]]}
    gate: float
    neural: dict | None = None  # {"probabilities": {...}, "kg_probabilities": {...}} when a model ran


@dataclass
class ExtractResult(_Dict):
    """The relations of one text, the concepts it mentions, and which scorer produced them."""

    text: str
    relations: list[Relation]
    entities: list[dict]
    model: str  # the trained model's name, or "untrained: KG + co-occurrence"
    candidates: int = 0  # ordered concept pairs that passed the domain/range filter


@dataclass
class WriteBackResult(_Dict):
    """What ``Engine.add_extracted`` wrote into the ``extracted`` source, and what it refused."""

    kg: str
    source: str
    added: list[dict]
    skipped: list[dict]  # {"triple", "reason"}: below the score, not novel, conflicting, not writable
    total: int  # triples in the source afterwards
    changed: bool
    error: str | None = None

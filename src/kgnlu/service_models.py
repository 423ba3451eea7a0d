"""The request and response bodies of ``kgnlu serve`` (``kgnlu.service``) as pydantic models.

The responses are the result contract of DESIGN.md: ``InferResult.to_dict()``, ``Mention.to_dict()``
and ``ExtractResult.to_dict()``. The service sends those dicts as they are; these models exist so
that ``/openapi.json`` and ``/docs`` describe them exactly. They forbid unknown keys, and the tests
validate every answer against them, so a field added to the contract without a model fails there.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# -- requests ------------------------------------------------------------------------------------


class _Request(BaseModel):
    # strict: a number where text belongs is a client bug to report, not to coerce
    model_config = ConfigDict(extra="forbid", strict=True)


# A text is never empty. The schema says so; the service checks it (``kgnlu.service``), in the words
# of the API and the CLI ("text is empty"), rather than pydantic's ``min_length``.
_NOT_EMPTY = {"minLength": 1}


class InferItem(_Request):
    """One premise/hypothesis pair (the ``kgnlu infer`` of one pair)."""

    premise: str = Field(json_schema_extra=_NOT_EMPTY, examples=["I like eating apples"])
    hypothesis: str = Field(json_schema_extra=_NOT_EMPTY, examples=["I like eating fruit"])
    symbolic_only: bool = Field(False, description="Answer from the KG rules alone (`kgnlu infer --symbolic-only`).")


class LinkItem(_Request):
    """One text to link (``kgnlu link``)."""

    text: str = Field(json_schema_extra=_NOT_EMPTY, examples=["I do not eat apples"])
    top_k: int = Field(0, ge=0, le=50, description="Also list the top K candidates per mention (`--top-k`).")
    branches: list[str] | None = Field(None, examples=[["hpo:phenotype", "mondo"]],
                                       description="Link only to these branches: source names (hpo, mondo), "
                                       "shortcuts (hpo:phenotype) or subtree roots as CURIE/IRI (HP:0000118) "
                                       "(`--only`).")
    nested: bool = Field(False, description="Also the terms inside longer ones (\"schwannoma\" in \"vestibular "
                         "schwannoma\"; `--nested`).")


class ExtractItem(_Request):
    """One text to read relations from (``kgnlu extract``)."""

    text: str = Field(json_schema_extra=_NOT_EMPTY, examples=["Bananas are not meat."])
    threshold: float | None = Field(None, ge=0.0, le=1.0,
                                    description="Least score of a reported relation (default 0.5; `--threshold`).")


# -- responses -----------------------------------------------------------------------------------


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Span(_Result):
    side: Literal["premise", "hypothesis"]
    start: int
    end: int
    text: str


class ProofStep(_Result):
    """One axiom or triple of a proof, the source it came from and, for a text step, its span."""

    subject: str
    predicate: str
    object: str
    source: str
    span: Span | None = Field(None, description="Present on the steps that rest on the text (source `text`).")


class Undecided(_Result):
    iri: str
    text: str
    negated: bool


class Symbolic(_Result):
    verdict: Literal["entailment", "contradiction", "unknown"]
    proofs: list[list[ProofStep]]
    rules: list[str]
    undecided: list[Undecided]
    decided: float


class NLIProbabilities(_Result):
    entailment: float
    neutral: float
    contradiction: float


class NeuralNLI(_Result):
    """The neural side's own probabilities; empty with ``symbolic_only``; a note when there is no model."""

    probabilities: NLIProbabilities | None = None
    note: str | None = None


class InferEntity(_Result):
    side: Literal["premise", "hypothesis"]
    text: str
    start: int
    end: int
    iri: str
    label: str | None
    score: float
    negated: bool
    hedged: bool
    experiencer: str | None = Field(None, description="Whose condition it is when not the patient's (\"father\"; "
                                    "\"family\": a family history that names no relative).")
    readings: list[str] = Field(default_factory=list, description="Other concepts the same words name exactly.")


class InferResult(_Result):
    """``InferResult.to_dict()``: the label, its probabilities, the gate, and both kinds of evidence."""

    label: Literal["entailment", "neutral", "contradiction"]
    probabilities: NLIProbabilities
    gate: float = Field(description="Weight given to the symbolic evidence, 0..1.")
    neural: NeuralNLI
    symbolic: Symbolic
    entities: list[InferEntity]


class Candidate(_Result):
    iri: str
    label: str | None
    score: float
    via: str
    matched: str
    kind: str


class Modifier(_Result):
    """A qualifier of a finding that the text states (severity, laterality, onset, frequency, mode of
    inheritance: a concept under the KG's modifier roots)."""

    iri: str
    label: str | None
    text: str


class MentionFields(_Result):
    """A span linked to a KG concept, with its polarity (``Mention`` without its modifiers and candidates,
    as an extract answer's entities carry it)."""

    text: str
    start: int
    end: int
    iri: str
    label: str | None
    score: float
    negated: bool
    via: str
    negation_cue: str | None
    hedged: bool
    hedge_cue: str | None
    readings: list[str]
    experiencer: str | None


class Mention(MentionFields):
    """``Mention.to_dict()``; ``candidates`` is empty unless the request asked for ``top_k``."""

    modifiers: list[Modifier] = Field(description="Qualifiers of this finding the text states, in text order.")
    candidates: list[Candidate]


class LinkResult(_Result):
    text: str
    mentions: list[Mention]


class Concept(_Result):
    iri: str
    label: str | None
    text: str
    start: int
    end: int
    score: float
    negated: bool


class Predicate(_Result):
    iri: str
    name: str
    label: str | None


class Evidence(_Result):
    sentence: str
    start: int
    end: int
    spans: list[list[int]] = Field(description="[start, end] of the subject's span, then of the object's.")


class NeuralRE(_Result):
    probabilities: dict[str, float]
    neural: dict[str, float]
    kg: dict[str, float]
    p_negated: float


class Relation(_Result):
    subject: Concept
    predicate: Predicate
    object: Concept
    score: float
    negated: bool
    hedged: bool = Field(description="Stated as an open claim (\"might\", \"rule out\"): either mention is hedged. "
                         "Never written to the KG.")
    status: str = Field(description="The triple's standing against the KG: known, novel or conflicting.")
    rule: str
    proof: list[ProofStep]
    evidence: Evidence
    gate: float
    neural: NeuralRE | None = None


class ExtractResult(_Result):
    """``ExtractResult.to_dict()``: the relations of one text and the concepts it mentions."""

    text: str
    relations: list[Relation]
    entities: list[MentionFields]
    model: str
    candidates: int


# -- the rest ------------------------------------------------------------------------------------


class Problem(BaseModel):
    """Every error: one line saying what was wrong."""

    detail: str


class Status(BaseModel):
    status: str


class Limits(BaseModel):
    max_items: int
    max_chars: int
    batch_size: int
    batch_wait_ms: float


class BatchCounts(BaseModel):
    batches: int = Field(description="Calls into the engine so far.")
    items: int = Field(description="Items answered by those calls: items / batches is the mean batch.")


class ModelInfo(BaseModel):
    name: str | None = None
    path: str | None
    manifest: dict[str, Any] | None


class Info(BaseModel):
    """What answers: the KG (its manifest: sources, versions, hash) and the models that read it."""

    kgnlu: str
    kg: dict[str, Any]
    nli_model: ModelInfo
    re_model: ModelInfo
    dense: bool
    batching: dict[str, BatchCounts] = Field(description="Per operation (infer, link, extract), in this worker.")
    limits: Limits


__all__ = ["InferItem", "LinkItem", "ExtractItem", "InferResult", "LinkResult", "ExtractResult", "Problem",
           "Status", "Info", "Limits", "ModelInfo"]

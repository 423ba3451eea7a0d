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


@dataclass
class QueryResult(_Dict):
    variables: list[str]
    rows: list[list[str | None]]

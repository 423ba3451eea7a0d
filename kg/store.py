"""The store protocol: a few triple operations, named sources, SPARQL.

Modelled on PyG's ``GraphStore``: public methods validate their arguments and call ``_hooks``
that a backend implements. A backend is one file (``OwlreadyStore`` here; a remote
``SPARQLStore`` would be another). ``MemoryStore`` is the in-memory fake the tests use.

Terms are plain values: an IRI is a ``str``, a blank node a ``str`` starting with ``_:``,
and a literal a :class:`Literal`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from .errors import InputError
from .ntriples import iter_ntriples
from .terms import Literal, Term, Triple


class SparqlResult(NamedTuple):
    variables: list[str]
    rows: list[list[Term | None]]


_SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def check_source_name(name: str) -> str:
    if not isinstance(name, str) or not _SOURCE_NAME.match(name):
        raise InputError(f"bad source name {name!r}: use letters, digits, '.', '_' or '-' (at most 100)")
    return name


def _check_term(t, what: str, literal_ok: bool = False) -> None:
    if isinstance(t, Literal):
        if not literal_ok:
            raise InputError(f"a literal cannot be the {what} of a triple")
        return
    if not isinstance(t, str) or not t or any(c in t for c in " <>\"\n"):
        raise InputError(f"bad {what} {t!r}: expected an IRI or a _:blank node")


class TripleStore(ABC):
    """What the rest of kgnlu needs from a triple store."""

    # -- public API: validate, then delegate ---------------------------------------------------

    def add(self, source: str, triples: Iterable[Triple]) -> int:
        """Add triples under ``source``; returns how many were new."""
        check_source_name(source)
        checked = []
        for s, p, o in triples:
            _check_term(s, "subject")
            _check_term(p, "predicate")
            if p.startswith("_:"):
                raise InputError("a blank node cannot be a predicate")
            _check_term(o, "object", literal_ok=True)
            checked.append((s, p, o))
        return self._add(source, checked)

    def load_ntriples(self, source: str, path: Path) -> int:
        """Bulk-load an N-Triples file (already validated by ``kg.formats``) under ``source``."""
        check_source_name(source)
        if source in self.sources():
            raise InputError(f"source {source!r} already exists; remove it first")
        return self._load_ntriples(source, Path(path))

    def remove_source(self, source: str) -> int:
        """Drop every triple that came from ``source``; returns how many were removed."""
        check_source_name(source)
        if source not in self.sources():
            raise InputError(f"no source named {source!r}; known: {', '.join(self.sources()) or 'none'}")
        return self._remove_source(source)

    def triples(self, s: str | None = None, p: str | None = None, o: Term | None = None,
                source: str | None = None) -> Iterator[Triple]:
        """Triples matching the pattern; ``None`` is a wildcard."""
        if source is not None and source not in self.sources():
            raise InputError(f"no source named {source!r}")
        return self._triples(s, p, o, source)

    def neighbours(self, node: str, direction: str = "both") -> list[tuple[str, str, str]]:
        """IRI-to-IRI edges touching ``node``, as (subject, predicate, object)."""
        _check_term(node, "node")
        if direction not in ("out", "in", "both"):
            raise InputError(f"direction must be out, in or both, not {direction!r}")
        return self._neighbours(node, direction)

    def sparql(self, query: str) -> SparqlResult:
        if not isinstance(query, str) or not query.strip():
            raise InputError("empty SPARQL query")
        return self._sparql(query)

    def sources(self) -> list[str]:
        return self._sources()

    def count(self, source: str | None = None) -> int:
        return self._count(source)

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    # -- hooks ---------------------------------------------------------------------------------

    @abstractmethod
    def _add(self, source: str, triples: list[Triple]) -> int: ...

    def _load_ntriples(self, source: str, path: Path) -> int:
        return self._add(source, list(iter_ntriples(path)))

    @abstractmethod
    def _remove_source(self, source: str) -> int: ...

    @abstractmethod
    def _triples(self, s, p, o, source) -> Iterator[Triple]: ...

    def _neighbours(self, node: str, direction: str) -> list[tuple[str, str, str]]:
        out = []
        if direction in ("out", "both"):
            out += [(s, p, o) for s, p, o in self._triples(node, None, None, None) if isinstance(o, str)]
        if direction in ("in", "both"):
            out += list(self._triples(None, None, node, None))
        return out

    @abstractmethod
    def _sparql(self, query: str) -> SparqlResult: ...

    @abstractmethod
    def _sources(self) -> list[str]: ...

    def _count(self, source: str | None) -> int:
        return sum(1 for _ in self._triples(None, None, None, source))


class MemoryStore(TripleStore):
    """A dict-of-sets store for tests; SPARQL goes through an rdflib graph built on demand."""

    def __init__(self):
        self._data: dict[str, set[Triple]] = {}

    def _add(self, source, triples):
        bucket = self._data.setdefault(source, set())
        before = len(bucket)
        bucket.update(triples)
        return len(bucket) - before

    def _remove_source(self, source):
        return len(self._data.pop(source))

    def _triples(self, s, p, o, source):
        buckets = [self._data[source]] if source else list(self._data.values())
        seen = set()
        for bucket in buckets:
            for t in bucket:
                if (s is None or t[0] == s) and (p is None or t[1] == p) and (o is None or t[2] == o) and t not in seen:
                    seen.add(t)
                    yield t

    def _sparql(self, query):
        import rdflib

        g = rdflib.Graph()
        for s, p, o in self._triples(None, None, None, None):
            g.add((to_rdflib(s), rdflib.URIRef(p), to_rdflib(o)))
        try:
            return result_from_rdflib(g.query(query))
        except Exception as e:  # as OwlreadyStore: a malformed query is the caller's error
            raise InputError(f"SPARQL query failed: {' '.join(str(e).split())[:200]}") from None

    def _sources(self):
        return sorted(self._data)


def to_rdflib(t: Term):
    import rdflib

    if isinstance(t, Literal):
        return rdflib.Literal(t.value, datatype=t.datatype, lang=t.lang)
    if t.startswith("_:"):
        return rdflib.BNode(t[2:])
    return rdflib.URIRef(t)


def from_rdflib(t) -> Term | None:
    import rdflib

    if t is None:
        return None
    if isinstance(t, rdflib.Literal):
        return Literal(str(t), str(t.datatype) if t.datatype else None, t.language)
    if isinstance(t, rdflib.BNode):
        return f"_:{t}"
    return str(t)


def result_from_rdflib(res) -> SparqlResult:
    if res.type == "ASK":
        return SparqlResult(["ask"], [[Literal(str(bool(res.askAnswer)).lower())]])
    if res.type in ("CONSTRUCT", "DESCRIBE"):
        return SparqlResult(["subject", "predicate", "object"], [[from_rdflib(x) for x in t] for t in res])
    variables = [str(v) for v in res.vars]
    return SparqlResult(variables, [[from_rdflib(row[v]) for v in res.vars] for row in res])

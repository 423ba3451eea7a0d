"""An embedded SPARQL engine for a generation: a pyoxigraph copy of the quadstore's triples.

The quadstore answers SPARQL through owlready2's SPARQL-to-SQL engine when it can and through
rdflib's view otherwise; the latter walks the KG triple by triple (a ``GROUP BY`` over the default
KG took minutes). Oxigraph is a SPARQL 1.1 engine with its own indexes. The copy is written when
the generation is (``build``, inside the write transaction, so it is published with the quadstore
and is never out of step with it) and opened read-only by readers (``SparqlCopy``).

The triples are exported through the store protocol, so the copy holds exactly the terms the
quadstore gives every other reader (owlready2's literal forms included), all in the default graph:
a triple told by two sources is one triple, as in the quadstore's SPARQL. Which source told a
triple is not in the copy; ``TripleStore.triples(source=...)`` has that.
"""

from __future__ import annotations

from pathlib import Path

from .errors import InputError, StoreError
from .ntriples import write_triples
from .store import SparqlResult, TripleStore
from .terms import Literal, Term
from .vocab import XSD_STRING

DIRNAME = "sparql"


def build(store: TripleStore, generation_dir: Path) -> int:
    """Write the copy of ``store`` into ``generation_dir/sparql``; returns how many triples."""
    import pyoxigraph

    generation_dir = Path(generation_dir)
    dest = generation_dir / DIRNAME
    if dest.exists():
        raise StoreError(f"{dest} exists: a SPARQL copy is written once, with its generation")
    export = generation_dir / "sparql-export.nt"
    try:
        n = write_triples(store.triples(), export)
        copy = pyoxigraph.Store(str(dest))
        copy.bulk_load(path=str(export), format=pyoxigraph.RdfFormat.N_TRIPLES)
        copy.optimize()  # compacts the bulk load: readers open it faster and it takes less disk
        copy.flush()
        del copy  # closes RocksDB before the generation is fsynced and published
    finally:
        export.unlink(missing_ok=True)
    return n


def exists(generation_dir: Path) -> bool:
    return (Path(generation_dir) / DIRNAME).is_dir()


class SparqlCopy:
    """The read-only SPARQL copy of one generation."""

    def __init__(self, generation_dir: Path):
        import pyoxigraph

        path = Path(generation_dir) / DIRNAME
        if not path.is_dir():
            raise StoreError(f"no SPARQL copy at {path}")
        self.path = path
        try:
            self._store = pyoxigraph.Store.read_only(str(path))
        except OSError as e:
            raise StoreError(f"cannot open the SPARQL copy {path}: {e}") from None

    def sparql(self, query: str) -> SparqlResult:
        import pyoxigraph

        if not isinstance(query, str) or not query.strip():
            raise InputError("empty SPARQL query")
        try:
            res = self._store.query(query)
            if isinstance(res, pyoxigraph.QueryBoolean):
                return SparqlResult(["ask"], [[Literal(str(bool(res)).lower())]])
            if isinstance(res, pyoxigraph.QueryTriples):
                return SparqlResult(["subject", "predicate", "object"], [[_term(t) for t in triple] for triple in res])
            names = [v.value for v in res.variables]
            return SparqlResult(names, [[_term(row[i]) for i in range(len(names))] for row in res])
        except (SyntaxError, ValueError, OSError) as e:  # a malformed query, an unsupported feature
            raise InputError(f"SPARQL query failed: {' '.join(str(e).split())[:200]}") from None

    def close(self) -> None:
        self._store = None


def _term(t) -> Term | None:
    import pyoxigraph

    if t is None:
        return None
    if isinstance(t, pyoxigraph.Literal):
        if t.language:
            return Literal(t.value, lang=t.language)
        dt = t.datatype.value
        return Literal(t.value, None if dt == XSD_STRING else dt)
    if isinstance(t, pyoxigraph.BlankNode):
        return f"_:{t.value}"
    return t.value

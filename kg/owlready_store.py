"""``OwlreadyStore``: the store protocol over an owlready2 quadstore persisted in SQLite.

Each source is one owlready2 ontology (one quad context ``c``). Owlready2 renames an ontology
after the ``owl:Ontology`` IRI found in its data; we put our own name back so that two sources
declaring the same ontology IRI stay apart, and keep the declared IRI in ``kgnlu_source``.
Reads go to SQL directly: the tables are ``objs(c,s,p,o)``, ``datas(c,s,p,o,d)`` and
``resources(storid, iri)``; blank nodes are negative storids.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

from .errors import ParseError, StoreError
from .store import Literal, SparqlResult, Term, TripleStore, result_from_rdflib
from .vocab import ONTOLOGY as OWL_ONTOLOGY, RDF_TYPE, XSD_STRING

SOURCE_BASE = "kgnlu-source:"


@functools.cache
def _quadstore_world():
    """An owlready2 ``World`` used only as a quadstore.

    A plain ``World`` turns every property of every stored ontology into a Python class when it
    opens a file; real ontologies (Brick: punned or cyclically typed entities) make that fail
    ("metaclass conflict"), and then the KG could never be reopened. kgnlu reads the tables
    directly, so the ontologies it opens skip that step.
    """
    import owlready2

    class _QuadOntology(owlready2.Ontology):
        def _load_properties(self, update_props=True):
            pass

    class _QuadWorld(owlready2.World):
        def get_ontology(self, base_iri, OntologyClass=None):
            return super().get_ontology(base_iri, OntologyClass or _QuadOntology)

    return _QuadWorld


_ORDER_BY = re.compile(r"\bORDER\s+BY\b", re.IGNORECASE)
_DISTINCT = re.compile(r"\bSELECT\s+(DISTINCT|REDUCED)\b", re.IGNORECASE)
_AGGREGATE = re.compile(r"\b(COUNT|SUM|AVG|MIN|MAX|GROUP_CONCAT|SAMPLE)\s*\(|\bGROUP\s+BY\b", re.IGNORECASE)


def _close_world(world, lock) -> None:
    with lock, contextlib.suppress(Exception):
        world.close()


class OwlreadyStore(TripleStore):
    def __init__(self, path: Path, read_only: bool = False):
        import owlready2  # noqa: F401  (a missing package fails here, not as "cannot open quadstore" below)

        self.path = Path(path)
        if read_only and not self.path.exists():
            raise StoreError(f"no quadstore at {self.path}")
        self.read_only = read_only
        self._lock = threading.RLock()
        try:
            self.world = _quadstore_world()(filename=str(self.path), exclusive=False, read_only=read_only)
        except Exception as e:  # sqlite3.DatabaseError on a corrupt file, etc.
            raise StoreError(f"cannot open quadstore {self.path}: {e}") from None
        self.graph = self.world.graph
        self.db = self.graph.db
        # owlready2 keeps each World it prepared a SPARQL query for in a module-level cache, so a
        # store that is merely dropped (a KG session retired for a new generation, while calls in
        # flight may still use it) would keep its file open: closed once this object is collected.
        self._closer = weakref.finalize(self, _close_world, self.world, self._lock)
        if not read_only:
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS kgnlu_source (name TEXT PRIMARY KEY, c INTEGER, ontology_iri TEXT)"
            )
        self._rdflib = None

    # -- helpers -------------------------------------------------------------------------------

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self.db.execute(query, params).fetchall()

    def storid(self, iri: str) -> int | None:
        row = self.sql("SELECT storid FROM resources WHERE iri=?", (iri,))
        return row[0][0] if row else None

    def iri(self, storid: int) -> str:
        if storid < 0:
            return f"_:b{-storid}"
        row = self.sql("SELECT iri FROM resources WHERE storid=?", (storid,))
        return row[0][0] if row else f"_:unknown{storid}"

    def context(self, source: str) -> int | None:
        row = self.sql("SELECT c FROM kgnlu_source WHERE name=?", (source,))
        return row[0][0] if row else None

    def source_contexts(self) -> dict[int, str]:
        return {c: name for name, c in self.sql("SELECT name, c FROM kgnlu_source")}

    def declared_ontology_iri(self, source: str) -> str | None:
        row = self.sql("SELECT ontology_iri FROM kgnlu_source WHERE name=?", (source,))
        return row[0][0] if row else None

    def commit(self) -> None:
        with self._lock:
            self.world.save()

    def close(self) -> None:
        self._closer()

    # -- hooks ---------------------------------------------------------------------------------

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(f"{self.path} is open read-only")

    def _new_context(self, source: str):
        self._writable()
        onto = self.world.get_ontology(f"{SOURCE_BASE}{source}#")
        return onto

    def _register(self, source: str, onto) -> None:
        c = onto.graph.c
        declared = self.sql(
            "SELECT r.iri FROM objs o JOIN resources r ON r.storid=o.s WHERE o.c=? AND o.p=? AND o.o=? LIMIT 1",
            (c, self.storid(RDF_TYPE), self.storid(OWL_ONTOLOGY) or -1),
        )
        with self._lock:
            self.db.execute("UPDATE ontologies SET iri=? WHERE c=?", (f"{SOURCE_BASE}{source}#", c))
            # owlready2 expects each ontology to declare itself; without this a read-only
            # reopen would try to write the declaration.
            onto._add_obj_triple_raw_spo(onto.storid, self.storid(RDF_TYPE), self.storid(OWL_ONTOLOGY))
            self.db.execute(
                "INSERT OR REPLACE INTO kgnlu_source VALUES (?,?,?)", (source, c, declared[0][0] if declared else None)
            )

    def _load_ntriples(self, source: str, path: Path) -> int:
        import owlready2

        onto = self._new_context(source)
        try:
            with self._lock, open(path, "rb") as f:
                onto.graph.parse(f, format="ntriples")
        except owlready2.OwlReadyOntologyParsingError as e:
            raise ParseError(f"{path}: {e}") from None
        self._register(source, onto)
        return self._count(source)

    def _add(self, source: str, triples: list) -> int:
        self._writable()
        c = self.context(source)
        onto = self.world.get_ontology(f"{SOURCE_BASE}{source}#") if c is not None else self._new_context(source)
        before = self._count(source) if c is not None else 0
        with self._lock:
            _, _, on_obj, on_data, _, _, new_blank, _, on_finish = onto.graph.create_parse_func(
                delete_existing_triples=False
            )
            blanks: dict[str, int] = {}

            def node(t: str):
                return blanks.setdefault(t, new_blank()) if t.startswith("_:") else t

            for s, p, o in triples:
                if isinstance(o, Literal):
                    d = f"@{o.lang}" if o.lang else (o.datatype or 0)
                    on_data(node(s), p, o.value, d)
                else:
                    on_obj(node(s), p, node(o))
            on_finish()
        self._register(source, onto)
        return self._count(source) - before

    def _remove_source(self, source: str) -> int:
        self._writable()
        c = self.context(source)
        n = self._count(source)
        with self._lock:
            self.db.execute("DELETE FROM objs WHERE c=?", (c,))
            self.db.execute("DELETE FROM datas WHERE c=?", (c,))
            self.db.execute("DELETE FROM ontologies WHERE c=?", (c,))
            self.db.execute("DELETE FROM kgnlu_source WHERE name=?", (source,))
        self._rdflib = None
        return n

    @staticmethod
    def _literal(value, d, datatype: str | None) -> Literal:
        if isinstance(d, str) and d.startswith("@"):
            return Literal(str(value), None, d[1:])
        if d in (0, 60, None, "") or datatype is None:
            return Literal(str(value))
        if datatype == XSD_STRING:
            return Literal(str(value))
        if isinstance(value, bool) or datatype.endswith("#boolean"):
            value = str(value).lower() if isinstance(value, bool) else value
        return Literal(str(value), datatype)

    def _triples(self, s, p, o, source) -> Iterator[tuple[str, str, Term]]:
        where, params = [], []
        for col, term in (("s", s), ("p", p)):
            if term is not None:
                sid = self._term_storid(term)
                if sid is None:
                    return
                where.append(f"t.{col}=?")
                params.append(sid)
        contexts = [self.context(source)] if source is not None else list(self.source_contexts())
        if not contexts:
            return
        where.append(f"t.c IN ({','.join('?' * len(contexts))})")
        params.extend(contexts)
        names = "JOIN resources rp ON rp.storid=t.p LEFT JOIN resources rs ON rs.storid=t.s"
        if o is None or not isinstance(o, Literal):
            obj_where, obj_params = list(where), list(params)
            if o is not None:
                oid = self._term_storid(o)
                obj_where = None if oid is None else obj_where + ["t.o=?"]
                obj_params.append(oid)
            if obj_where is not None:
                q = (f"SELECT DISTINCT t.s, rs.iri, rp.iri, t.o, ro.iri FROM objs t {names} "
                     f"LEFT JOIN resources ro ON ro.storid=t.o WHERE {' AND '.join(obj_where)}")
                for si, s_iri, p_iri, oi, o_iri in self.sql(q, tuple(obj_params)):
                    if s_iri is None or not s_iri.startswith(SOURCE_BASE):
                        yield s_iri or f"_:b{-si}", p_iri, o_iri or f"_:b{-oi}"
        if o is None or isinstance(o, Literal):
            q = (f"SELECT DISTINCT t.s, rs.iri, rp.iri, t.o, t.d, rd.iri FROM datas t {names} "
                 f"LEFT JOIN resources rd ON rd.storid=t.d WHERE {' AND '.join(where)}")
            for si, s_iri, p_iri, val, d, d_iri in self.sql(q, tuple(params)):
                lit = self._literal(val, d, d_iri)
                if o is None or lit == o:
                    yield s_iri or f"_:b{-si}", p_iri, lit

    def _term_storid(self, term: str) -> int | None:
        if term.startswith("_:b"):
            return -int(term[3:])
        return self.storid(term)

    def _neighbours(self, node, direction):
        sid = self._term_storid(node)
        if sid is None:
            return []
        out = []
        if direction in ("out", "both"):
            out += [(node, self.iri(p), self.iri(o)) for p, o in self.sql("SELECT DISTINCT p,o FROM objs WHERE s=?", (sid,))]
        if direction in ("in", "both"):
            out += [(self.iri(s), self.iri(p), node) for s, p in self.sql("SELECT DISTINCT s,p FROM objs WHERE o=?", (sid,))]
        return out

    def _sparql(self, query: str) -> SparqlResult:
        from .errors import InputError

        with self._lock:
            native = self._native_sparql(query)
            if native is not None:
                return native
            if self._rdflib is None:
                self._rdflib = _distinct_view(self.world.as_rdflib_graph())
            try:
                res = self._rdflib.query(query)
                return result_from_rdflib(res)
            except Exception as e:  # pyparsing errors, unsupported features
                msg = " ".join(str(e).split())[:200]
                raise InputError(f"SPARQL query failed: {msg}") from None

    def _native_sparql(self, query: str) -> SparqlResult | None:
        """A SELECT through owlready2's own SPARQL-to-SQL engine, which runs it as SQL on the
        quadstore instead of walking the rdflib view triple by triple. None when the engine cannot take the query (then rdflib answers)."""
        import owlready2.sparql.main as sparql

        # Where its answers would differ from SPARQL's, leave the query to rdflib: it orders IRIs
        # by storid, and it reads every source's copy of a triple (rows, counts repeat) -- harmless
        # only with one source, or for a DISTINCT select without aggregates.
        if _ORDER_BY.search(query):
            return None
        if len(self.source_contexts()) > 1 and not (_DISTINCT.search(query) and not _AGGREGATE.search(query)):
            return None
        try:
            prepared = self.world.prepare_sparql(query)
            if type(prepared) is not sparql.PreparedSelectQuery:
                return None
            raw = prepared.execute_raw()
            names = [c.lstrip("?$") for c in prepared.column_names]
            rows = []
            for r in raw:
                row, i = [], 0
                for kind in prepared.column_types:
                    if kind == "objs":
                        row.append(self._node(r[i]))
                        i += 1
                    elif kind == "onto":
                        row.append(str(r[i]))
                        i += 1
                    else:  # a value and its datatype: 'o' for a resource, a storid or '@lang' for a literal
                        value, d = r[i], r[i + 1]
                        if d == "o":
                            row.append(self._node(value))
                        elif value is None:
                            row.append(None)
                        elif isinstance(d, str) and d.startswith("@"):
                            row.append(Literal(str(value), lang=d[1:]))
                        else:
                            dt = self.iri(d) if isinstance(d, int) and d > 0 else None
                            row.append(Literal(str(value), datatype=dt))
                        i += 2
                rows.append(row)
            return SparqlResult(names, rows)
        except Exception:  # unsupported syntax, an IRI the read-only store lacks, ...: rdflib decides
            return None

    def _node(self, storid):
        if storid is None:
            return None
        if isinstance(storid, int):
            return self.iri(storid) if storid > 0 else f"_:b{-storid}"
        return str(storid)

    def _count_all(self, contexts: list[int]) -> int:
        """Distinct triples over all sources (a triple told by two sources counts once)."""
        own = [self.storid(f"{SOURCE_BASE}{name}") or 0 for name in self.source_contexts().values()]
        cs, os_ = ",".join("?" * len(contexts)), ",".join("?" * len(own))
        q = (f"SELECT COUNT(*) FROM (SELECT DISTINCT s,p,o FROM objs WHERE c IN ({cs}) AND s NOT IN ({os_})) UNION ALL "
             f"SELECT COUNT(*) FROM (SELECT DISTINCT s,p,o,d FROM datas WHERE c IN ({cs}) AND s NOT IN ({os_}))")
        return sum(r[0] for r in self.sql(q, (*contexts, *own, *contexts, *own)))

    def _sources(self) -> list[str]:
        return [r[0] for r in self.sql("SELECT name FROM kgnlu_source ORDER BY name")]

    def _count(self, source: str | None) -> int:
        if source is None:
            known = self.source_contexts()
            if not known:
                return 0
            return self._count_all(list(known))
        c, own = self.context(source), self.storid(f"{SOURCE_BASE}{source}")
        return sum(self.sql(f"SELECT COUNT(*) FROM {t} WHERE c=? AND s!=?", (c, own))[0][0] for t in ("objs", "datas"))


def _distinct_view(graph):
    """Adapt owlready2's rdflib view for SPARQL over the KG.

    - It yields a triple once per source that holds it; SPARQL over the default graph must see
      each triple once (else rows repeat), so repeats are dropped per pattern.
    - It interns every IRI a pattern mentions, i.e. writes to the quadstore; on a read-only store
      a query naming an IRI the KG lacks then failed. A pattern with an unknown IRI matches nothing.
    """
    import rdflib

    store = graph.store
    inner = store.triples
    lookup = store.triplelite._abbreviate

    def known(term) -> bool:
        if isinstance(term, rdflib.URIRef):
            return lookup(str(term), False) is not None
        if isinstance(term, rdflib.Literal) and term.language is None and term.datatype is not None:
            return lookup(str(term.datatype), False) is not None
        return True

    def triples(pattern, context=None):
        if not all(known(t) for t in pattern):
            return
        seen = set()
        for t, c in inner(pattern, context):
            if t not in seen:
                seen.add(t)
                yield t, c

    store.triples = triples
    return graph

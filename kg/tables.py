"""Closure tables: the reasoned KG materialised into SQLite, so that answering only looks things up.

``kg.tables_build.build_tables`` writes ``tables.sqlite3`` (schema: ``kg.tables_schema``) from the
store and a reasoner's ``Inference``; ``ClosureTables`` answers lookups from it. Entities are
interned as integers so that the ancestor table stays compact.

Disjointness is stored as declared pairs plus ``disjoint_with(cls, via, other)``: ``cls`` is
under ``via`` and ``via`` is declared disjoint with ``other``. That is disjointness inherited
down the hierarchy on one side; a lookup probes the other side's ancestors, so the table stays
linear in the size of the hierarchy instead of quadratic.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

from .tables_schema import MMAP_BYTES


@dataclass
class Step:
    """One axiom in a proof: ``subject predicate object``, the source it came from, and how that
    source derived it when it says (``note``: the ``rdfs:comment`` on the axiom's ``owl:Axiom``)."""

    subject: str
    predicate: str
    object: str
    source: str
    note: str = ""

    def as_dict(self) -> dict:
        out = {"subject": self.subject, "predicate": self.predicate, "object": self.object, "source": self.source}
        if self.note:
            out["note"] = self.note
        return out

    def cited(self) -> str:
        """The source, and its derivation when there is one: ``opposites: 'Decreased size …'``."""
        return f"{self.source}: {self.note}" if self.note else self.source


_LINK_KINDS = ("parent", "type", "child", "equivalent", "disjoint", "relation", "relation_to")
_SORTED_LINKS = frozenset({"parent", "equivalent", "disjoint"})
# ClosureTables.links in one query, not one per kind: subgraph extraction asks it for every node it
# expands, and each query pays SQLite's per-statement overhead. Each part is a subquery because a
# compound SELECT's parts may not carry their own LIMIT.
_LINKS_SQL = " UNION ALL ".join(f"SELECT * FROM (SELECT {k}, {part})" for k, part in enumerate([
    "sup, 0 FROM (SELECT DISTINCT sup FROM edges WHERE sub=:i)",
    "cls, 0 FROM (SELECT DISTINCT cls FROM types WHERE ind=:i)",
    "sub, 0 FROM (SELECT DISTINCT sub FROM edges WHERE sup=:i LIMIT :limit)",
    "b, 0 FROM (SELECT DISTINCT b FROM equivalents WHERE a=:i)",
    "b, 0 FROM (SELECT DISTINCT b FROM disjoint_decl WHERE a=:i)",
    "obj, negated FROM relations WHERE subj=:i LIMIT :limit",
    "subj, negated FROM relations WHERE obj=:i LIMIT :limit",
]))


_OBO = "http://purl.obolibrary.org/obo/"


def namespace(iri: str) -> str:
    """The IRI's ontology namespace: up to an OBO id's ``_`` (``.../obo/HP_`` of ``HP_0000118``), else
    up to the last ``#`` or ``/``; "" for an IRI with neither."""
    local = iri[len(_OBO):] if iri.startswith(_OBO) else None
    if local is not None and "/" not in local and "_" in local:
        return iri[:len(_OBO) + local.index("_") + 1]
    return iri[:max(iri.rfind("#"), iri.rfind("/")) + 1]


class ClosureTables:
    """Read-only lookups over ``tables.sqlite3``; safe to share between threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.path.exists():
            from .errors import StoreError

            raise StoreError(f"no closure tables at {self.path}")
        self._local = threading.local()
        self.meta = dict(self._q("SELECT key, value FROM meta"))
        self._sources = dict(self._q("SELECT id, name FROM sources"))
        # id, kind and label of an IRI in one query: a document's new concepts are each asked all
        # three. ``id`` and ``kind`` keep caches of their own: they are asked per candidate, and a
        # hit there costs no Python call.
        self._entity = lru_cache(maxsize=1 << 16)(self._entity_row)
        self.id = lru_cache(maxsize=1 << 16)(partial(self._column, 0))
        self.kind = lru_cache(maxsize=1 << 16)(partial(self._column, 1))
        self.iri = lru_cache(maxsize=1 << 16)(self._iri)
        self._replacements: dict[str, str | None] | None = None

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            db.execute(f"PRAGMA mmap_size={MMAP_BYTES}")  # read-only lookups: no copies through read()
        return db

    def _q(self, sql: str, params: tuple | dict = ()) -> list[tuple]:
        return self._db().execute(sql, params).fetchall()

    def _entity_row(self, iri: str) -> tuple[int, str, str] | None:
        row = self._q("SELECT id, kind, label FROM entities WHERE iri=?", (iri,))
        return row[0] if row else None

    def _column(self, i: int, iri: str):
        row = self._entity(iri)
        return None if row is None else row[i]

    def _iri(self, i: int) -> str:
        return self._q("SELECT iri FROM entities WHERE id=?", (i,))[0][0]

    def label(self, iri: str) -> str | None:
        row = self._entity(iri)
        return row[2] or None if row is not None else None

    def labels(self, iris: Sequence[str]) -> list[str | None]:
        """:meth:`label` of many IRIs, in one query per 500 (unknown IRIs and empty labels: None)."""
        found = self._rows_in("SELECT iri, label FROM entities WHERE iri IN ({})", iris)
        return [found.get(i) or None for i in iris]

    def _rows_in(self, sql: str, keys) -> dict:
        """``dict`` of the two-column rows of ``sql`` (one ``IN ({})``) over ``keys``, 500 at a time
        (SQLite's default limit on bound parameters is 999)."""
        unique, out = list(dict.fromkeys(keys)), {}
        for k in range(0, len(unique), 500):
            chunk = unique[k:k + 500]
            out.update(self._q(sql.format(",".join("?" * len(chunk))), tuple(chunk)))
        return out

    def source_name(self, i: int) -> str:
        return self._sources.get(i, "?")

    def source_names(self) -> list[str]:
        """The names of the sources that stated something (the manifest's), without the reasoners."""
        return sorted(n for n in self._sources.values() if not n.startswith("reasoner:"))

    def entity_source(self, iri: str) -> str | None:
        """The source that declared ``iri`` (its ``entities`` row), None when unknown."""
        row = self._q("SELECT source FROM entities WHERE iri=?", (iri,))
        return row[0][0] if row else None

    def source_namespaces(self, name: str, share: float = 0.05) -> list[str]:
        """The IRI namespaces (up to an OBO id's ``_``, else the last ``#`` or ``/``) of at least
        ``share`` of the classes and individuals first stated by source ``name``. An entity's row names only the
        first source that stated it (an annotation file may name a disease before its ontology
        does), so a source's concepts are better found by namespace."""
        counts: dict[str, int] = {}
        rows = self._q("SELECT iri FROM entities WHERE source=? AND kind IN ('class', 'individual')", (name,))
        for (iri,) in rows:
            if ns := namespace(iri):
                counts[ns] = counts.get(ns, 0) + 1
        return sorted(ns for ns, n in counts.items() if n >= share * len(rows))

    def has_prefix(self, prefix: str) -> bool:
        """Whether some entity's IRI starts with ``prefix`` (``iri`` is indexed: one range probe)."""
        return bool(self._q("SELECT 1 FROM entities WHERE iri >= ? AND iri < ? LIMIT 1", (prefix, prefix + "\U0010ffff")))

    def ancestors(self, iri: str) -> dict[str, int]:
        """Every strict ancestor of ``iri`` (through subclass and equivalence), with its distance."""
        i = self.id(iri)
        if i is None:
            return {}
        # One query, not one per ancestor's IRI: a document's new concepts each ask for theirs.
        return dict(self._q("SELECT e.iri, a.dist FROM ancestors a JOIN entities e ON e.id = a.anc WHERE a.cls=?",
                            (i,)))

    def descendants(self, iri: str) -> dict[str, int]:
        i = self.id(iri)
        if i is None:
            return {}
        return {self.iri(c): d for c, d in self._q("SELECT cls, dist FROM ancestors WHERE anc=?", (i,))}

    def n_descendants(self, iri: str) -> int:
        """``len(descendants(iri))``, counted in SQLite: a branch root has thousands of IRIs to read."""
        i = self.id(iri)
        return 0 if i is None else self._q("SELECT COUNT(*) FROM ancestors WHERE anc=?", (i,))[0][0]

    def n_classes_in(self, namespace: str) -> int:
        """How many classes have an IRI starting with ``namespace`` (one range count on the IRI index)."""
        return self._q("SELECT COUNT(*) FROM entities WHERE kind='class' AND iri >= ? AND iri < ?",
                       (namespace, namespace + "\U0010ffff"))[0][0]

    def is_under(self, iri: str, roots: Sequence[str]) -> bool:
        """Whether ``iri`` is one of ``roots`` or a subclass of one (``is_subclass``), in one query."""
        if iri in roots:
            return True
        i, ids = self.id(iri), [r for r in map(self.id, roots) if r is not None]
        if i is None or not ids:
            return False
        return bool(self._q(f"SELECT 1 FROM ancestors WHERE cls=? AND anc IN ({','.join('?' * len(ids))}) LIMIT 1",
                            (i, *ids)))

    def is_subclass(self, sub: str, sup: str) -> bool:
        a, b = self.id(sub), self.id(sup)
        if a is None or b is None:
            return False
        return a == b or bool(self._q("SELECT 1 FROM ancestors WHERE cls=? AND anc=?", (a, b)))

    def equivalent(self, a: str, b: str) -> bool:
        return a == b or (self.is_subclass(a, b) and self.is_subclass(b, a))

    def _edge_source(self, a: int, b: int) -> tuple[str, str]:
        row = self._q("SELECT source FROM edges WHERE sub=? AND sup=? ORDER BY source LIMIT 1", (a, b))
        if row:
            return "rdfs:subClassOf", self.source_name(row[0][0])
        row = self._q("SELECT source FROM equivalents WHERE a=? AND b=? ORDER BY source LIMIT 1", (a, b))
        return "owl:equivalentClass", self.source_name(row[0][0]) if row else "?"

    def chain(self, sub: str, sup: str) -> list[Step]:
        """The shortest axiom chain proving ``sub ⊑ sup`` ([] when they are the same class)."""
        a, b = self.id(sub), self.id(sup)
        if a is None or b is None or a == b:
            return []
        node = b
        path = [b]
        while node != a:
            row = self._q("SELECT pred FROM ancestors WHERE cls=? AND anc=?", (a, node))
            if not row:
                return []
            node = row[0][0] or a
            path.append(node)
            if len(path) > 10_000:
                break
        path.reverse()
        steps = []
        for x, y in zip(path, path[1:]):
            pred, src = self._edge_source(x, y)
            steps.append(Step(self.iri(x), pred, self.iri(y), src))
        return steps

    def disjoint(self, a: str, b: str) -> list[Step] | None:
        """A proof that ``a`` and ``b`` are disjoint, or None."""
        ia, ib = self.id(a), self.id(b)
        if ia is None or ib is None:
            return None
        for via, other in self._q("SELECT via, other FROM disjoint_with WHERE cls=?", (ia,)):
            o_iri = self.iri(other)
            if other == ib or self.is_subclass(b, o_iri):
                return (
                    self.chain(a, self.iri(via))
                    + [self._disjoint_step(via, other)]
                    + [Step(s.object, "^" + s.predicate, s.subject, s.source) for s in reversed(self.chain(b, o_iri))]
                )
        return None

    def unsatisfiable(self) -> dict[str, str]:
        return {self.iri(c): r for c, r in self._q("SELECT cls, reason FROM unsatisfiable")}

    def explain_unsatisfiable(self, cls: str) -> list[Step]:
        """The axioms that put ``cls`` under two disjoint classes ([] if the reason is elsewhere)."""
        i = self.id(cls)
        row = self._q("SELECT via, other FROM unsatisfiable WHERE cls=?", (i,)) if i else []
        if not row or row[0][0] is None:
            return []
        decl = self._disjoint_step(*row[0])
        return self.chain(cls, decl.subject) + self.chain(cls, decl.object) + [decl]

    def _disjoint_step(self, a: int, b: int) -> Step:
        """The declaration ``a owl:disjointWith b`` with its source and derivation note."""
        src = self._q("SELECT source FROM disjoint_decl WHERE a=? AND b=? LIMIT 1", (a, b))
        try:
            note = self._q("SELECT note FROM disjoint_notes WHERE a=? AND b=?", (a, b))
        except sqlite3.OperationalError:  # tables built before notes were kept
            note = []
        return Step(self.iri(a), "owl:disjointWith", self.iri(b), self.source_name(src[0][0]) if src else "?",
                    note[0][0] if note else "")

    def replacements(self) -> dict[str, str | None]:
        """Every deprecated entity (``owl:deprecated true``; OBO's ``is_obsolete``) -> the one that
        replaces it (IAO:0100001, OBO's ``replaced_by``), or None. Tables built before this table
        existed have none: they answer {} until the KG is ingested again."""
        if self._replacements is None:
            try:
                rows = self._q("SELECT e.iri, r.iri FROM deprecated d JOIN entities e ON e.id = d.id "
                               "LEFT JOIN entities r ON r.id = d.replaced_by")
            except sqlite3.OperationalError:
                rows = []
            self._replacements = dict(rows)
        return self._replacements

    def relations(self, subj: str, limit: int = -1) -> list[tuple[str, str, bool, str]]:
        """Class-level relations (prop, obj, negated, source) told on ``subj`` (the first ``limit``)."""
        i = self.id(subj)
        if i is None:
            return []
        sql = "SELECT prop, obj, negated, source FROM relations WHERE subj=? LIMIT ?"
        return [(self.iri(p), self.iri(o), bool(n), self.source_name(s)) for p, o, n, s in self._q(sql, (i, limit))]

    # Direct neighbours (for subgraph extraction): told or reasoner-added edges. Rows come in table
    # order (tables are written sorted), so ``limit`` keeps the same rows every time without a sort.

    def parents(self, iri: str) -> list[str]:
        """Direct superclasses of ``iri`` (``edges``; equivalents are :meth:`equivalents`)."""
        i = self.id(iri)
        sql = "SELECT DISTINCT sup FROM edges WHERE sub=? ORDER BY sup"
        return [self.iri(s) for (s,) in self._q(sql, (i,))] if i else []

    def children(self, iri: str, limit: int = -1) -> list[str]:
        """Direct subclasses of ``iri``, the first ``limit`` (-1: all)."""
        i = self.id(iri)
        sql = "SELECT DISTINCT sub FROM edges WHERE sup=? LIMIT ?"
        return [self.iri(s) for (s,) in self._q(sql, (i, limit))] if i else []

    def equivalents(self, iri: str) -> list[str]:
        """Classes asserted or inferred equivalent to ``iri``."""
        i = self.id(iri)
        sql = "SELECT DISTINCT b FROM equivalents WHERE a=? ORDER BY b"
        return [self.iri(b) for (b,) in self._q(sql, (i,))] if i else []

    def disjoint_partners(self, iri: str) -> list[str]:
        """Classes declared disjoint with ``iri`` (not the inherited ones)."""
        i = self.id(iri)
        sql = "SELECT DISTINCT b FROM disjoint_decl WHERE a=? ORDER BY b"
        return [self.iri(b) for (b,) in self._q(sql, (i,))] if i else []

    def relation_count(self, iri: str, role: str = "subj", limit: int = -1) -> int:
        """How many class-level relations have ``iri`` as their subject (``role="subj"``) or
        object (``"obj"``), counting up to ``limit``: ``len(relations(iri))`` without the rows."""
        if role not in ("subj", "obj"):
            raise ValueError(f"role must be 'subj' or 'obj', not {role!r}")
        i = self.id(iri)
        sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM relations WHERE {role}=? LIMIT ?)"
        return self._q(sql, (i, limit))[0][0] if i else 0

    def relations_to(self, obj: str, limit: int = -1) -> list[tuple[str, str, bool, str]]:
        """Class-level relations (subj, prop, negated, source) whose object is ``obj``."""
        i = self.id(obj)
        sql = "SELECT subj, prop, negated, source FROM relations WHERE obj=? LIMIT ?"
        return [(self.iri(s), self.iri(p), bool(n), self.source_name(src))
                for s, p, n, src in self._q(sql, (i, limit))] if i else []

    def links(self, iri: str, limit: int = -1) -> list[tuple[str, str, bool]]:
        """Every direct KG link of ``iri`` as ``(kind, other, negated)``, for subgraph extraction.

        Kinds, in this order: ``parent``, ``type`` (a class of an individual), ``child`` (the first
        ``limit``), ``equivalent``, ``disjoint``, ``relation`` (``iri`` is the subject; first
        ``limit``) and ``relation_to`` (``iri`` is the object; first ``limit``). The same rows
        as :meth:`parents`, :meth:`types`, :meth:`children`, :meth:`equivalents`,
        :meth:`disjoint_partners`, :meth:`relations` and :meth:`relations_to`, with the IRIs
        looked up in one query instead of one each (a subgraph's nodes are mostly uncached).
        """
        i = self.id(iri)
        if i is None:
            return []
        rows = self._q(_LINKS_SQL, {"i": i, "limit": limit})
        # SQLite keeps a UNION ALL's parts in order but may drop a subquery's ORDER BY: sort here,
        # stably, so the unsorted kinds keep the order their single lookups give.
        rows.sort(key=lambda r: (r[0], r[1] if _LINK_KINDS[r[0]] in _SORTED_LINKS else 0))
        names = self._rows_in("SELECT id, iri FROM entities WHERE id IN ({})", [j for _, j, _ in rows])
        return [(_LINK_KINDS[k], names[j], bool(neg)) for k, j, neg in rows]

    def domains(self, prop: str) -> list[str]:
        i = self.id(prop)
        return [self.iri(c) for (c,) in self._q("SELECT cls FROM prop_domain WHERE prop=?", (i,))] if i else []

    def ranges(self, prop: str) -> list[str]:
        i = self.id(prop)
        return [self.iri(c) for (c,) in self._q("SELECT cls FROM prop_range WHERE prop=?", (i,))] if i else []

    def inverses(self, prop: str) -> list[str]:
        i = self.id(prop)
        return [self.iri(c) for (c,) in self._q("SELECT inverse FROM prop_inverse WHERE prop=?", (i,))] if i else []

    def is_transitive(self, prop: str) -> bool:
        i = self.id(prop)
        return bool(i and self._q("SELECT 1 FROM properties WHERE id=? AND transitive=1", (i,)))

    def types(self, ind: str) -> list[str]:
        i = self.id(ind)
        return [self.iri(c) for (c,) in self._q("SELECT DISTINCT cls FROM types WHERE ind=?", (i,))] if i else []

    def type_source(self, ind: str, cls: str) -> str:
        """The source that types ``ind`` as ``cls`` ("reasoner" when only inferred)."""
        a, b = self.id(ind), self.id(cls)
        row = self._q("SELECT source FROM types WHERE ind=? AND cls=? ORDER BY source LIMIT 1", (a, b)) if a and b else []
        return self.source_name(row[0][0]) if row and row[0][0] is not None else "reasoner"

    def assertions(self, subj: str) -> list[tuple[str, str, str]]:
        i = self.id(subj)
        if i is None:
            return []
        return [(self.iri(p), self.iri(o), self.source_name(s))
                for p, o, s in self._q("SELECT prop, obj, source FROM assertions WHERE subj=?", (i,))]

    def subclass_pairs(self) -> set[tuple[str, str]]:
        """The whole named subsumption closure (for comparison against other reasoners)."""
        names = dict(self._q("SELECT id, iri FROM entities"))
        return {(names[c], names[a]) for c, a in self._q("SELECT cls, anc FROM ancestors")}

    def counts(self) -> dict[str, int]:
        out = {}
        for kind, n in self._q("SELECT kind, COUNT(*) FROM entities GROUP BY kind"):
            out[kind or "other"] = n
        for table in ("edges", "ancestors", "equivalents", "disjoint_decl", "relations", "assertions"):
            out[table] = self._q(f"SELECT COUNT(*) FROM {table}")[0][0]
        return out

    # Relation extraction (kg.relations): the property inventory and entailment lookups in SQL.

    def object_properties(self) -> list[str]:
        """IRIs of the object properties the KG declares, in id order."""
        sql = "SELECT e.iri FROM properties p JOIN entities e ON e.id=p.id WHERE p.kind='object_property' ORDER BY p.id"
        return [iri for (iri,) in self._q(sql)]

    def domain_axioms(self, prop: str) -> list[tuple[str, str]]:
        """``(class, source)`` of each ``rdfs:domain`` axiom of ``prop``."""
        i = self.id(prop)
        sql = "SELECT cls, source FROM prop_domain WHERE prop=? ORDER BY cls, source"
        return [(self.iri(c), self.source_name(s)) for c, s in self._q(sql, (i,))] if i else []

    def range_axioms(self, prop: str) -> list[tuple[str, str]]:
        """``(class, source)`` of each ``rdfs:range`` axiom of ``prop``."""
        i = self.id(prop)
        sql = "SELECT cls, source FROM prop_range WHERE prop=? ORDER BY cls, source"
        return [(self.iri(c), self.source_name(s)) for c, s in self._q(sql, (i,))] if i else []

    def relation_counts(self) -> dict[str, tuple[int, int]]:
        """Property IRI -> (positive, negated) class-level relations told with it."""
        out: dict[str, list[int]] = {}
        for p, n, c in self._q("SELECT prop, negated, COUNT(*) FROM relations GROUP BY prop, negated"):
            out.setdefault(self.iri(p), [0, 0])[int(bool(n))] += c
        return {k: (v[0], v[1]) for k, v in out.items()}

    def relation_rows(self, prop: str | None = None, negated: bool | None = None) -> list[tuple[str, str, str, bool, str]]:
        """Every class-level relation ``(subj, prop, obj, negated, source)``, of ``prop`` and with the
        polarity ``negated`` only, when given."""
        where, params = [], []
        if prop is not None:
            i = self.id(prop)
            if i is None:
                return []
            where.append("prop=?")
            params.append(i)
        if negated is not None:
            where.append("negated=?")
            params.append(int(negated))
        sql = "SELECT subj, prop, obj, negated, source FROM relations"
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY subj, prop, obj"
        return [(self.iri(s), self.iri(p), self.iri(o), bool(n), self.source_name(src))
                for s, p, o, n, src in self._q(sql, tuple(params))]

    def relations_matching(self, subjects: list[str], prop: str, obj: str, *, negated: bool, direction: str,
                           under: str | None = None) -> list[tuple[str, str, str]]:
        """Relations ``(subj, obj', source)`` of ``prop`` with the given polarity, told on one of
        ``subjects`` (or, with ``under``, on any strict subclass of that class), whose object
        ``obj'`` is ``obj`` itself or, for ``direction="sub"``, a subclass of it, for ``"sup"`` a
        superclass of it. One query, whatever the size of the hierarchy."""
        if direction not in ("sub", "sup"):
            raise ValueError(f"direction must be 'sub' or 'sup', not {direction!r}")
        p, o = self.id(prop), self.id(obj)
        if under is not None:
            u = self.id(under)
            if u is None or p is None or o is None:
                return []
            who, who_params = "r.subj IN (SELECT cls FROM ancestors WHERE anc=?)", (u,)
        else:
            ids = [i for i in (self.id(s) for s in subjects) if i is not None]
            if not ids or p is None or o is None:
                return []
            who, who_params = f"r.subj IN ({','.join('?' * len(ids))})", tuple(ids)
        link = "a.cls=r.obj AND a.anc=?" if direction == "sub" else "a.cls=? AND a.anc=r.obj"
        sql = (f"SELECT r.subj, r.obj, r.source FROM relations r WHERE {who} "
               f"AND r.prop=? AND r.negated=? AND (r.obj=? OR EXISTS (SELECT 1 FROM ancestors a WHERE {link}))")
        rows = self._q(sql, (*who_params, p, int(negated), o, o))
        return [(self.iri(s), self.iri(ob), self.source_name(src)) for s, ob, src in rows]

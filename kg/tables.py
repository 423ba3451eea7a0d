"""Closure tables: the reasoned KG materialised into SQLite, read back in microseconds.

``build_tables`` reads the store (told axioms, per source) and a reasoner's ``Inference``, and
writes ``tables.sqlite3``; ``ClosureTables`` answers lookups from it. Entities are interned as
integers so that the ancestor table stays compact. Every table is derived, so it is always
rebuilt from scratch after a source is added or removed.

Disjointness is stored as declared pairs plus ``disjoint_with(cls, via, other)``: ``cls`` is
under ``via`` and ``via`` is declared disjoint with ``other``. That is disjointness inherited
down the hierarchy on one side; a lookup probes the other side's ancestors, so the table stays
linear in the size of the hierarchy instead of quadratic.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .store import Literal, TripleStore
from .vocab import (
    ALL_DISJOINT, ANNOTATION_PROPERTY, CLASS, COMPLEMENT_OF, DATATYPE_PROPERTY, DEPRECATED, DISJOINT_UNION,
    DISJOINT_WITH, DOMAIN, EQUIVALENT_CLASS, FIRST, FUNCTIONAL_PROPERTY, IAO_REPLACED_BY, INTERSECTION_OF, INVERSE_OF,
    MEMBERS, NAMED_INDIVIDUAL, NIL, NOTHING, OBJECT_PROPERTY, ON_PROPERTY, RANGE, RDF_TYPE, RDFS_CLASS, REST,
    SOME_VALUES_FROM, SUBCLASS_OF, SUBPROPERTY_OF, SYMMETRIC_PROPERTY, THING, TRANSITIVE_PROPERTY, is_builtin,
)

# SQLite's memory map for read-mostly databases (address space, not memory: pages load on use).
MMAP_BYTES = 1 << 30

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE entities (id INTEGER PRIMARY KEY, iri TEXT UNIQUE NOT NULL, kind TEXT, label TEXT, source TEXT);
CREATE TABLE sources (id INTEGER PRIMARY KEY, name TEXT UNIQUE);
CREATE TABLE edges (sub INTEGER, sup INTEGER, source INTEGER, PRIMARY KEY (sub, sup, source));
CREATE TABLE ancestors (cls INTEGER, anc INTEGER, dist INTEGER, pred INTEGER, PRIMARY KEY (cls, anc)) WITHOUT ROWID;
CREATE TABLE equivalents (a INTEGER, b INTEGER, source INTEGER, PRIMARY KEY (a, b, source));
CREATE TABLE disjoint_decl (a INTEGER, b INTEGER, source INTEGER, PRIMARY KEY (a, b, source));
CREATE TABLE disjoint_with (cls INTEGER, via INTEGER, other INTEGER, PRIMARY KEY (cls, via, other)) WITHOUT ROWID;
CREATE TABLE unsatisfiable (cls INTEGER PRIMARY KEY, via INTEGER, other INTEGER, reason TEXT);
CREATE TABLE properties (id INTEGER PRIMARY KEY, kind TEXT, transitive INTEGER, symmetric INTEGER, functional INTEGER);
CREATE TABLE prop_domain (prop INTEGER, cls INTEGER, source INTEGER, PRIMARY KEY (prop, cls, source));
CREATE TABLE prop_range (prop INTEGER, cls INTEGER, source INTEGER, PRIMARY KEY (prop, cls, source));
CREATE TABLE prop_inverse (prop INTEGER, inverse INTEGER, PRIMARY KEY (prop, inverse));
CREATE TABLE prop_ancestors (prop INTEGER, anc INTEGER, dist INTEGER, PRIMARY KEY (prop, anc));
CREATE TABLE relations (subj INTEGER, prop INTEGER, obj INTEGER, negated INTEGER, source INTEGER);
CREATE TABLE assertions (subj INTEGER, prop INTEGER, obj INTEGER, source INTEGER);
CREATE TABLE types (ind INTEGER, cls INTEGER, source INTEGER, PRIMARY KEY (ind, cls, source));
CREATE TABLE deprecated (id INTEGER PRIMARY KEY, replaced_by INTEGER);
"""
INDEXES = """
CREATE INDEX edges_sup ON edges (sup);
CREATE INDEX anc_anc ON ancestors (anc);
CREATE INDEX rel_subj ON relations (subj);
CREATE INDEX rel_obj ON relations (obj);
CREATE INDEX asr_subj ON assertions (subj);
CREATE INDEX asr_obj ON assertions (obj);
CREATE INDEX types_cls ON types (cls);
"""


@dataclass
class Inference:
    """What a reasoner adds to the told axioms (named classes only)."""

    reasoner: str
    chosen_by: str = "option"
    subclass: set[tuple[str, str]] | None = None
    equivalent: set[tuple[str, str]] | None = None
    unsatisfiable: set[str] | None = None
    types: set[tuple[str, str]] | None = None
    seconds: float = 0.0
    note: str = ""


@dataclass
class Step:
    """One axiom in a proof: ``subject predicate object``, and the source it came from."""

    subject: str
    predicate: str
    object: str
    source: str

    def as_dict(self) -> dict:
        return {"subject": self.subject, "predicate": self.predicate, "object": self.object, "source": self.source}


class _Interner:
    def __init__(self):
        self.ids: dict[str, int] = {}
        self.kind: dict[int, str] = {}
        self.source: dict[int, str] = {}

    def __call__(self, iri: str, kind: str | None = None, source: str | None = None) -> int:
        i = self.ids.get(iri)
        if i is None:
            i = self.ids[iri] = len(self.ids) + 1
        if kind and self.kind.get(i) in (None, "class?"):
            self.kind[i] = kind
        if source and i not in self.source:
            self.source[i] = source
        return i


def _rdf_list(head: str, first: dict, rest: dict, limit: int = 10_000) -> list:
    out = []
    while head != NIL and head in first and len(out) < limit:
        out.append(first[head])
        head = rest.get(head, NIL)
    return out


def build_tables(store: TripleStore, inference: Inference, path: Path, manifest_hash: str, labels: dict[str, str]) -> dict:
    """Materialise the closure of ``store`` + ``inference`` into ``path``; returns counts."""
    ent = _Interner()
    src_ids: dict[str, int] = {}

    def sid(name: str) -> int:
        return src_ids.setdefault(name, len(src_ids) + 1)

    edges: set[tuple[int, int, int]] = set()
    equiv: set[tuple[int, int, int]] = set()
    disjoint: set[tuple[int, int, int]] = set()
    domains: set[tuple[int, int, int]] = set()
    ranges: set[tuple[int, int, int]] = set()
    inverses: set[tuple[int, int]] = set()
    subprops: dict[int, set[int]] = defaultdict(set)
    relations: set[tuple[int, int, int, int, int]] = set()
    assertions: set[tuple[int, int, int, int]] = set()
    types: set[tuple[int, int, int]] = set()
    prop_flags: dict[int, set[str]] = defaultdict(set)
    deprecated: set[str] = set()
    replaced_by: dict[str, str] = {}

    for source in store.sources():
        s_id = sid(source)
        by_pred: dict[str, list] = defaultdict(list)
        for s, p, o in store.triples(source=source):
            if p == DEPRECATED and isinstance(o, Literal) and o.value.strip().lower() in ("true", "1"):
                deprecated.add(s)
            if isinstance(o, Literal):
                continue
            by_pred[p].append((s, o))
        replaced_by.update(by_pred[IAO_REPLACED_BY])
        first = dict(by_pred[FIRST])
        rest = dict(by_pred[REST])
        on_prop = dict(by_pred[ON_PROPERTY])
        some = dict(by_pred[SOME_VALUES_FROM])
        complement = dict(by_pred[COMPLEMENT_OF])
        inter = dict(by_pred[INTERSECTION_OF])

        def named(x: str) -> bool:
            return not x.startswith("_:") and not is_builtin(x)

        object_props = set()
        for s, o in by_pred[RDF_TYPE]:
            if o in (CLASS, RDFS_CLASS) and named(s):
                ent(s, "class", source)
            elif o == OBJECT_PROPERTY and named(s):
                ent(s, "object_property", source)
                object_props.add(s)
            elif o == DATATYPE_PROPERTY and named(s):
                ent(s, "data_property", source)
            elif o == ANNOTATION_PROPERTY and named(s):
                ent(s, "annotation_property", source)
            elif o in (TRANSITIVE_PROPERTY, SYMMETRIC_PROPERTY, FUNCTIONAL_PROPERTY) and named(s):
                prop_flags[ent(s, "object_property", source)].add(o.rsplit("#", 1)[1])
                object_props.add(s)
            elif o == NAMED_INDIVIDUAL and named(s):
                ent(s, "individual", source)
        for s, o in by_pred[RDF_TYPE]:
            if named(s) and named(o) and o not in (CLASS, RDFS_CLASS, NAMED_INDIVIDUAL) and ent.kind.get(ent(o)) != "object_property":
                if ent.kind.get(ent(s)) in (None, "individual"):
                    types.add((ent(s, "individual", source), ent(o, "class", source), s_id))

        def restriction(node: str) -> tuple[str, str] | None:
            if node in on_prop and node in some and named(some[node]):
                return on_prop[node], some[node]
            return None

        def add_superclass(sub: str, sup: str) -> None:
            """sub ⊑ sup where sup may be a named class, a restriction, a complement or a conjunction."""
            if named(sup):
                edges.add((ent(sub, "class", source), ent(sup, "class", source), s_id))
            elif (r := restriction(sup)) is not None:
                relations.add((ent(sub, "class", source), ent(r[0], "object_property", source), ent(r[1], "class", source), 0, s_id))
            elif sup in complement and (r := restriction(complement[sup])) is not None:
                relations.add((ent(sub, "class", source), ent(r[0], "object_property", source), ent(r[1], "class", source), 1, s_id))
            elif sup in inter:
                for member in _rdf_list(inter[sup], first, rest):
                    add_superclass(sub, member)

        for s, o in by_pred[SUBCLASS_OF]:
            if named(s):
                add_superclass(s, o)
        for s, o in by_pred[EQUIVALENT_CLASS]:
            if named(s) and named(o):
                a, b = ent(s, "class", source), ent(o, "class", source)
                equiv.update({(a, b, s_id), (b, a, s_id)})
            elif named(s):
                add_superclass(s, o)  # C ≡ D implies C ⊑ D (the structural half of a definition)
            elif named(o):
                add_superclass(o, s)
        for s, o in by_pred[DISJOINT_WITH]:
            if named(s) and named(o):
                a, b = ent(s, "class", source), ent(o, "class", source)
                disjoint.update({(a, b, s_id), (b, a, s_id)})
        groups = [_rdf_list(o, first, rest) for s, o in by_pred[MEMBERS]]
        groups += [_rdf_list(o, first, rest) for s, o in by_pred[DISJOINT_UNION]]
        for s, o in by_pred[DISJOINT_UNION]:
            for m in _rdf_list(o, first, rest):
                if named(m) and named(s):
                    edges.add((ent(m, "class", source), ent(s, "class", source), s_id))
        all_disjoint_nodes = {s for s, o in by_pred[RDF_TYPE] if o == ALL_DISJOINT}
        for (s, o), members in zip(by_pred[MEMBERS] + by_pred[DISJOINT_UNION], groups):
            if s not in all_disjoint_nodes and (s, o) in by_pred[MEMBERS]:
                continue  # owl:members of something other than AllDisjointClasses
            names = [m for m in members if named(m)]
            for i, a in enumerate(names):
                for b in names[i + 1:]:
                    x, y = ent(a, "class", source), ent(b, "class", source)
                    disjoint.update({(x, y, s_id), (y, x, s_id)})
        for s, o in by_pred[DOMAIN]:
            if named(s) and named(o):
                domains.add((ent(s, None, source), ent(o, "class", source), s_id))
        for s, o in by_pred[RANGE]:
            if named(s) and named(o):
                ranges.add((ent(s, None, source), ent(o, None, source), s_id))
        for s, o in by_pred[INVERSE_OF]:
            if named(s) and named(o):
                a, b = ent(s, "object_property", source), ent(o, "object_property", source)
                inverses.update({(a, b), (b, a)})
        for s, o in by_pred[SUBPROPERTY_OF]:
            if named(s) and named(o):
                subprops[ent(s, None, source)].add(ent(o, None, source))
        for p in object_props:
            for s, o in by_pred[p]:
                if named(s) and named(o):
                    assertions.add((ent(s, "individual", source), ent(p), ent(o, "individual", source), s_id))

    # Reasoner conclusions, attributed to the reasoner.
    r_id = sid(f"reasoner:{inference.reasoner}")
    told = {(a, b) for a, b, _ in edges}
    for sub, sup in inference.subclass or ():
        if sup in (THING,) or sub == sup or is_builtin(sub) or is_builtin(sup):
            continue
        a, b = ent(sub, "class"), ent(sup, "class")
        if (a, b) not in told:
            edges.add((a, b, r_id))
    told_eq = {(a, b) for a, b, _ in equiv}
    for x, y in inference.equivalent or ():
        if is_builtin(x) or is_builtin(y) or x == y:
            continue
        a, b = ent(x, "class"), ent(y, "class")
        if (a, b) not in told_eq:
            equiv.update({(a, b, r_id), (b, a, r_id)})
    for ind, cls in inference.types or ():
        if not is_builtin(cls):
            types.add((ent(ind, "individual"), ent(cls, "class"), r_id))

    # Ancestors: BFS over sub ⊑ sup edges and both directions of equivalence.
    up: dict[int, list[int]] = defaultdict(list)
    for a, b, _ in edges:
        up[a].append(b)
    for a, b, _ in equiv:
        up[a].append(b)
    for k in up:
        up[k] = sorted(set(up[k]))
    ancestor_rows = []
    anc_sets: dict[int, dict[int, int]] = {}
    for c in sorted(up):
        seen = {c: (0, 0)}
        queue = deque([c])
        while queue:
            x = queue.popleft()
            d = seen[x][0]
            for y in up.get(x, ()):
                if y not in seen:
                    seen[y] = (d + 1, x)
                    queue.append(y)
        del seen[c]
        anc_sets[c] = {a: d for a, (d, _) in seen.items()}
        ancestor_rows.extend((c, a, d, pred) for a, (d, pred) in seen.items())

    # Disjointness inherited down one side; unsatisfiable = under both sides of a disjoint pair.
    partners: dict[int, set[int]] = defaultdict(set)
    for a, b, _ in disjoint:
        partners[a].add(b)
    disjoint_rows = []
    unsat: dict[int, tuple[int | None, int | None, str]] = {}
    classes = {i for i, k in ent.kind.items() if k == "class"} | set(up)
    for c in sorted(classes):
        lineage = {c: 0, **anc_sets.get(c, {})}
        for via in lineage:
            for other in partners.get(via, ()):
                disjoint_rows.append((c, via, other))
                if other in lineage:
                    unsat.setdefault(c, (via, other, "subclass of two disjoint classes"))
    iri_of = {i: iri for iri, i in ent.ids.items()}
    for iri in inference.unsatisfiable or ():
        if not is_builtin(iri):
            unsat.setdefault(ent(iri, "class"), (None, None, f"{inference.reasoner} proved it equivalent to owl:Nothing"))
    nothing = ent.ids.get(NOTHING)
    if nothing:
        for c, ancs in anc_sets.items():
            if nothing in ancs:
                unsat.setdefault(c, (None, None, "subclass of owl:Nothing"))

    # Property hierarchy.
    prop_anc_rows = []
    for p in subprops:
        seen = {p: 0}
        queue = deque([p])
        while queue:
            x = queue.popleft()
            for y in subprops.get(x, ()):
                if y not in seen:
                    seen[y] = seen[x] + 1
                    queue.append(y)
        prop_anc_rows.extend((p, a, d) for a, d in seen.items() if a != p)

    path = Path(path)
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    iri_of = {i: iri for iri, i in ent.ids.items()}
    db.executemany(
        "INSERT INTO entities VALUES (?,?,?,?,?)",
        ((i, iri, ent.kind.get(i), labels.get(iri), ent.source.get(i)) for iri, i in ent.ids.items()),
    )
    db.executemany("INSERT INTO sources VALUES (?,?)", ((i, n) for n, i in src_ids.items()))
    db.executemany("INSERT INTO edges VALUES (?,?,?)", sorted(edges))
    db.executemany("INSERT INTO ancestors VALUES (?,?,?,?)", ancestor_rows)
    db.executemany("INSERT INTO equivalents VALUES (?,?,?)", sorted(equiv))
    db.executemany("INSERT INTO disjoint_decl VALUES (?,?,?)", sorted(disjoint))
    db.executemany("INSERT OR IGNORE INTO disjoint_with VALUES (?,?,?)", disjoint_rows)
    db.executemany("INSERT INTO unsatisfiable VALUES (?,?,?,?)", ((c, *v) for c, v in sorted(unsat.items())))
    props = {i for i, k in ent.kind.items() if k and k.endswith("property")}
    db.executemany(
        "INSERT INTO properties VALUES (?,?,?,?,?)",
        ((p, ent.kind[p], int("TransitiveProperty" in prop_flags[p]), int("SymmetricProperty" in prop_flags[p]),
          int("FunctionalProperty" in prop_flags[p])) for p in sorted(props)),
    )
    db.executemany("INSERT INTO prop_domain VALUES (?,?,?)", sorted(domains))
    db.executemany("INSERT INTO prop_range VALUES (?,?,?)", sorted(ranges))
    db.executemany("INSERT INTO prop_inverse VALUES (?,?)", sorted(inverses))
    db.executemany("INSERT INTO prop_ancestors VALUES (?,?,?)", prop_anc_rows)
    db.executemany("INSERT INTO relations VALUES (?,?,?,?,?)", sorted(relations))
    db.executemany("INSERT INTO assertions VALUES (?,?,?,?)", sorted(assertions))
    db.executemany("INSERT INTO types VALUES (?,?,?)", sorted(types))
    db.executemany("INSERT INTO deprecated VALUES (?,?)", sorted(
        (ent.ids[d], ent.ids.get(replaced_by.get(d, ""))) for d in deprecated if d in ent.ids))
    db.executemany("INSERT INTO meta VALUES (?,?)", [("manifest_hash", manifest_hash), ("reasoner", inference.reasoner)])
    db.executescript(INDEXES)
    db.commit()
    db.close()
    kinds = defaultdict(int)
    for k in ent.kind.values():
        kinds[k] += 1
    return {
        "classes": kinds["class"],
        "object_properties": kinds["object_property"],
        "data_properties": kinds["data_property"],
        "annotation_properties": kinds["annotation_property"],
        "individuals": kinds["individual"],
        "subclass_edges": len(edges),
        "inferred_subclass_edges": sum(1 for *_, s in edges if s == r_id),
        "ancestor_pairs": len(ancestor_rows),
        "equivalent_pairs": len(equiv) // 2,
        "disjoint_pairs": len(disjoint) // 2,
        "relations": len(relations),
        "negated_relations": sum(1 for r in relations if r[3]),
        "assertions": len(assertions),
        "deprecated": sum(1 for d in deprecated if d in ent.ids),
        "unsatisfiable": [iri_of[c] for c in sorted(unsat)],
    }


_LINK_KINDS = ("parent", "type", "child", "equivalent", "disjoint", "relation", "relation_to")
_SORTED_LINKS = frozenset({"parent", "equivalent", "disjoint"})
# ClosureTables.links in one query, not one per kind: an uncached subgraph node cost 8 queries
# (0.16 ms on the default KG), now 2 (0.08 ms). Each part is a subquery because a compound SELECT's parts may not
# carry their own LIMIT.
_LINKS_SQL = " UNION ALL ".join(f"SELECT * FROM (SELECT {k}, {part})" for k, part in enumerate([
    "sup, 0 FROM (SELECT DISTINCT sup FROM edges WHERE sub=:i)",
    "cls, 0 FROM (SELECT DISTINCT cls FROM types WHERE ind=:i)",
    "sub, 0 FROM (SELECT DISTINCT sub FROM edges WHERE sup=:i LIMIT :limit)",
    "b, 0 FROM (SELECT DISTINCT b FROM equivalents WHERE a=:i)",
    "b, 0 FROM (SELECT DISTINCT b FROM disjoint_decl WHERE a=:i)",
    "obj, negated FROM relations WHERE subj=:i LIMIT :limit",
    "subj, negated FROM relations WHERE obj=:i LIMIT :limit",
]))


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
        self.id = lru_cache(maxsize=1 << 16)(self._id)
        self.iri = lru_cache(maxsize=1 << 16)(self._iri)
        self.kind = lru_cache(maxsize=1 << 16)(self._kind)
        self._replacements: dict[str, str | None] | None = None

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            db.execute(f"PRAGMA mmap_size={MMAP_BYTES}")  # read-only lookups: no copies through read()
        return db

    def _q(self, sql: str, params: tuple | dict = ()) -> list[tuple]:
        return self._db().execute(sql, params).fetchall()

    def _id(self, iri: str) -> int | None:
        row = self._q("SELECT id FROM entities WHERE iri=?", (iri,))
        return row[0][0] if row else None

    def _iri(self, i: int) -> str:
        return self._q("SELECT iri FROM entities WHERE id=?", (i,))[0][0]

    def label(self, iri: str) -> str | None:
        row = self._q("SELECT label FROM entities WHERE iri=?", (iri,))
        return row[0][0] if row and row[0][0] else None

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

    def _kind(self, iri: str) -> str | None:
        row = self._q("SELECT kind FROM entities WHERE iri=?", (iri,))
        return row[0][0] if row else None

    def source_name(self, i: int) -> str:
        return self._sources.get(i, "?")

    def ancestors(self, iri: str) -> dict[str, int]:
        """Every strict ancestor of ``iri`` (through subclass and equivalence), with its distance."""
        i = self.id(iri)
        if i is None:
            return {}
        return {self.iri(a): d for a, d in self._q("SELECT anc, dist FROM ancestors WHERE cls=?", (i,))}

    def descendants(self, iri: str) -> dict[str, int]:
        i = self.id(iri)
        if i is None:
            return {}
        return {self.iri(c): d for c, d in self._q("SELECT cls, dist FROM ancestors WHERE anc=?", (i,))}

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
                v_iri = self.iri(via)
                src = self._q("SELECT source FROM disjoint_decl WHERE a=? AND b=? LIMIT 1", (via, other))
                return (
                    self.chain(a, v_iri)
                    + [Step(v_iri, "owl:disjointWith", o_iri, self.source_name(src[0][0]) if src else "?")]
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
        via, other = self.iri(row[0][0]), self.iri(row[0][1])
        src = self._q("SELECT source FROM disjoint_decl WHERE a=? AND b=? LIMIT 1", row[0])
        decl = Step(via, "owl:disjointWith", other, self.source_name(src[0][0]) if src else "?")
        return self.chain(cls, via) + self.chain(cls, other) + [decl]

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

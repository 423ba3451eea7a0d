"""Building ``tables.sqlite3``: the told axioms of every source plus a reasoner's conclusions, closed.

``build_tables`` runs these steps, in this order (entities are numbered as they are first met, so
the order is part of the output; each source's triples are read in a canonical order, not the store's):

1. per source, ``_SourceReader``: declarations and ``rdf:type``, class axioms (subclass, with
   restrictions, complements and conjunctions unfolded; equivalence; disjointness, pairwise and in
   groups) and property axioms (domain, range, inverse, subproperty, individual assertions);
2. ``_add_inference``: the reasoner's subclass, equivalence and type conclusions that the told axioms
   (and its other conclusions) do not already imply;
3. ``_ancestors``: breadth-first closure over subclass and equivalence edges;
4. ``_disjointness``: disjointness inherited down one side, and the unsatisfiable classes;
5. ``_property_ancestors``: the subproperty closure;
6. ``_write``: every table of ``kg.tables_schema``, sorted, then the indexes.

Every table is derived, so it is always rebuilt from scratch after a source is added or removed.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path

from .store import Literal, TripleStore
from .tables_schema import INDEXES, SCHEMA
from .vocab import (
    ALL_DISJOINT, ANNOTATED_PROPERTY, ANNOTATED_SOURCE, ANNOTATED_TARGET, ANNOTATION_PROPERTY, CLASS, COMMENT,
    COMPLEMENT_OF, DATATYPE_PROPERTY, DEPRECATED, DISJOINT_UNION,
    DISJOINT_WITH, DOMAIN, EQUIVALENT_CLASS, FIRST, FUNCTIONAL_PROPERTY, IAO_REPLACED_BY, INTERSECTION_OF, INVERSE_OF,
    MEMBERS, NAMED_INDIVIDUAL, NIL, NOTHING, OBJECT_PROPERTY, ON_PROPERTY, RANGE, RDF_TYPE, RDFS_CLASS, REST,
    SOME_VALUES_FROM, SUBCLASS_OF, SUBPROPERTY_OF, SYMMETRIC_PROPERTY, THING, TRANSITIVE_PROPERTY, is_builtin,
)


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


@dataclass
class _Axioms:
    """The rows gathered from every source and the reasoner, over interned ids."""

    edges: set[tuple[int, int, int]] = field(default_factory=set)  # (sub, sup, source)
    equiv: set[tuple[int, int, int]] = field(default_factory=set)
    disjoint: set[tuple[int, int, int]] = field(default_factory=set)
    disjoint_notes: dict[tuple[int, int], str] = field(default_factory=dict)
    domains: set[tuple[int, int, int]] = field(default_factory=set)
    ranges: set[tuple[int, int, int]] = field(default_factory=set)
    inverses: set[tuple[int, int]] = field(default_factory=set)
    subprops: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    relations: set[tuple[int, int, int, int, int]] = field(default_factory=set)  # (subj, prop, obj, negated, source)
    assertions: set[tuple[int, int, int, int]] = field(default_factory=set)
    types: set[tuple[int, int, int]] = field(default_factory=set)
    prop_flags: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    deprecated: set[str] = field(default_factory=set)
    replaced_by: dict[str, str] = field(default_factory=dict)


def _rdf_list(head: str, first: dict, rest: dict, limit: int = 10_000) -> list:
    out = []
    while head != NIL and head in first and len(out) < limit:
        out.append(first[head])
        head = rest.get(head, NIL)
    return out


def _named(x: str) -> bool:
    return not x.startswith("_:") and not is_builtin(x)


def _canonical_order(by_pred: dict[str, list[tuple[str, str]]]) -> None:
    """Sort each predicate's (subject, object) pairs by their terms, so that the tables (entity
    numbers included) are the same whatever order a store yields its triples in. Blank-node
    labels are the store's own: a blank node sorts by the named terms it points to."""
    named_of: dict[str, list[str]] = defaultdict(list)
    for p, pairs in by_pred.items():
        for s, o in pairs:
            if s.startswith("_:") and not o.startswith("_:"):
                named_of[s].append(f"{p} {o}")

    blank_key = {b: "\n".join(sorted(named)) for b, named in named_of.items()}

    def key(term: str) -> tuple[int, str]:
        return (1, blank_key.get(term, "")) if term.startswith("_:") else (0, term)

    for pairs in by_pred.values():
        pairs.sort(key=lambda so: (key(so[0]), key(so[1])))


class _SourceReader:
    """The told axioms of one source, added to ``ax``."""

    def __init__(self, store: TripleStore, source: str, s_id: int, ent: _Interner, ax: _Axioms):
        self.source, self.s_id, self.ent, self.ax = source, s_id, ent, ax
        by_pred: dict[str, list] = defaultdict(list)
        self.comments: dict[str, str] = {}  # blank node (an owl:Axiom) -> its rdfs:comment
        for s, p, o in store.triples(source=source):
            if p == DEPRECATED and isinstance(o, Literal) and o.value.strip().lower() in ("true", "1"):
                ax.deprecated.add(s)
            if isinstance(o, Literal):
                if p == COMMENT and s.startswith("_:"):
                    self.comments[s] = min(o.value, self.comments.get(s, o.value))
                continue
            by_pred[p].append((s, o))
        _canonical_order(by_pred)
        ax.replaced_by.update(by_pred[IAO_REPLACED_BY])
        self.by_pred = by_pred
        self.first, self.rest = dict(by_pred[FIRST]), dict(by_pred[REST])
        self.on_prop, self.some = dict(by_pred[ON_PROPERTY]), dict(by_pred[SOME_VALUES_FROM])
        self.complement, self.inter = dict(by_pred[COMPLEMENT_OF]), dict(by_pred[INTERSECTION_OF])

    def read(self) -> None:
        object_props = self.declarations()
        self.class_axioms()
        self.property_axioms(object_props)

    def declarations(self) -> set[str]:
        """Entity kinds from ``rdf:type``, and the types of individuals; returns the object properties."""
        ent, source, ax = self.ent, self.source, self.ax
        object_props = set()
        for s, o in self.by_pred[RDF_TYPE]:
            if o in (CLASS, RDFS_CLASS) and _named(s):
                ent(s, "class", source)
            elif o == OBJECT_PROPERTY and _named(s):
                ent(s, "object_property", source)
                object_props.add(s)
            elif o == DATATYPE_PROPERTY and _named(s):
                ent(s, "data_property", source)
            elif o == ANNOTATION_PROPERTY and _named(s):
                ent(s, "annotation_property", source)
            elif o in (TRANSITIVE_PROPERTY, SYMMETRIC_PROPERTY, FUNCTIONAL_PROPERTY) and _named(s):
                ax.prop_flags[ent(s, "object_property", source)].add(o.rsplit("#", 1)[1])
                object_props.add(s)
            elif o == NAMED_INDIVIDUAL and _named(s):
                ent(s, "individual", source)
        for s, o in self.by_pred[RDF_TYPE]:
            if (_named(s) and _named(o) and o not in (CLASS, RDFS_CLASS, NAMED_INDIVIDUAL)
                    and ent.kind.get(ent(o)) != "object_property"):
                if ent.kind.get(ent(s)) in (None, "individual"):
                    ax.types.add((ent(s, "individual", source), ent(o, "class", source), self.s_id))
        return object_props

    def _restriction(self, node: str) -> tuple[str, str] | None:
        if node in self.on_prop and node in self.some and _named(self.some[node]):
            return self.on_prop[node], self.some[node]
        return None

    def add_superclass(self, sub: str, sup: str) -> None:
        """sub ⊑ sup where sup may be a named class, a restriction, a complement or a conjunction."""
        ent, source, s_id = self.ent, self.source, self.s_id
        if _named(sup):
            self.ax.edges.add((ent(sub, "class", source), ent(sup, "class", source), s_id))
        elif (r := self._restriction(sup)) is not None:
            self.ax.relations.add((ent(sub, "class", source), ent(r[0], "object_property", source),
                                   ent(r[1], "class", source), 0, s_id))
        elif sup in self.complement and (r := self._restriction(self.complement[sup])) is not None:
            self.ax.relations.add((ent(sub, "class", source), ent(r[0], "object_property", source),
                                   ent(r[1], "class", source), 1, s_id))
        elif sup in self.inter:
            for member in _rdf_list(self.inter[sup], self.first, self.rest):
                self.add_superclass(sub, member)

    def class_axioms(self) -> None:
        ent, source, s_id, by_pred, ax = self.ent, self.source, self.s_id, self.by_pred, self.ax
        for s, o in by_pred[SUBCLASS_OF]:
            if _named(s):
                self.add_superclass(s, o)
        for s, o in by_pred[EQUIVALENT_CLASS]:
            if _named(s) and _named(o):
                a, b = ent(s, "class", source), ent(o, "class", source)
                ax.equiv.update({(a, b, s_id), (b, a, s_id)})
            elif _named(s):
                self.add_superclass(s, o)  # C ≡ D implies C ⊑ D (the structural half of a definition)
            elif _named(o):
                self.add_superclass(o, s)
        for s, o in by_pred[DISJOINT_WITH]:
            if _named(s) and _named(o):
                a, b = ent(s, "class", source), ent(o, "class", source)
                ax.disjoint.update({(a, b, s_id), (b, a, s_id)})
        self._disjoint_notes()
        self._disjoint_groups()

    def _disjoint_notes(self) -> None:
        """The ``rdfs:comment`` of an ``owl:Axiom`` annotating ``A owl:disjointWith B``: how the
        source derived the pair (``kg.sources.opposites`` writes one on each)."""
        by_pred = self.by_pred
        notes = {s: self.comments[s] for s, o in by_pred[ANNOTATED_PROPERTY]
                 if o == DISJOINT_WITH and s in self.comments}
        if not notes:
            return
        subj, obj = dict(by_pred[ANNOTATED_SOURCE]), dict(by_pred[ANNOTATED_TARGET])
        for ax_node, note in notes.items():
            s, o = subj.get(ax_node), obj.get(ax_node)
            if s and o and _named(s) and _named(o):
                a, b = self.ent(s, "class", self.source), self.ent(o, "class", self.source)
                self.ax.disjoint_notes.setdefault((a, b), note)
                self.ax.disjoint_notes.setdefault((b, a), note)

    def _disjoint_groups(self) -> None:
        """``owl:AllDisjointClasses`` members and ``owl:disjointUnionOf`` parts: pairwise disjoint."""
        ent, source, s_id, by_pred, ax = self.ent, self.source, self.s_id, self.by_pred, self.ax
        groups = [_rdf_list(o, self.first, self.rest) for s, o in by_pred[MEMBERS]]
        groups += [_rdf_list(o, self.first, self.rest) for s, o in by_pred[DISJOINT_UNION]]
        for s, o in by_pred[DISJOINT_UNION]:
            for m in _rdf_list(o, self.first, self.rest):
                if _named(m) and _named(s):
                    ax.edges.add((ent(m, "class", source), ent(s, "class", source), s_id))
        all_disjoint_nodes = {s for s, o in by_pred[RDF_TYPE] if o == ALL_DISJOINT}
        for (s, o), members in zip(by_pred[MEMBERS] + by_pred[DISJOINT_UNION], groups):
            if s not in all_disjoint_nodes and (s, o) in by_pred[MEMBERS]:
                continue  # owl:members of something other than AllDisjointClasses
            names = [m for m in members if _named(m)]
            for i, a in enumerate(names):
                for b in names[i + 1:]:
                    x, y = ent(a, "class", source), ent(b, "class", source)
                    ax.disjoint.update({(x, y, s_id), (y, x, s_id)})

    def property_axioms(self, object_props: set[str]) -> None:
        ent, source, s_id, by_pred, ax = self.ent, self.source, self.s_id, self.by_pred, self.ax
        for s, o in by_pred[DOMAIN]:
            if _named(s) and _named(o):
                ax.domains.add((ent(s, None, source), ent(o, "class", source), s_id))
        for s, o in by_pred[RANGE]:
            if _named(s) and _named(o):
                ax.ranges.add((ent(s, None, source), ent(o, None, source), s_id))
        for s, o in by_pred[INVERSE_OF]:
            if _named(s) and _named(o):
                a, b = ent(s, "object_property", source), ent(o, "object_property", source)
                ax.inverses.update({(a, b), (b, a)})
        for s, o in by_pred[SUBPROPERTY_OF]:
            if _named(s) and _named(o):
                ax.subprops[ent(s, None, source)].add(ent(o, None, source))
        for p in object_props:
            for s, o in by_pred[p]:
                if _named(s) and _named(o):
                    ax.assertions.add((ent(s, "individual", source), ent(p), ent(o, "individual", source), s_id))


def _add_inference(inference: Inference, r_id: int, ent: _Interner, ax: _Axioms) -> None:
    """The reasoner's conclusions that do not follow from the told axioms, attributed to the reasoner.

    Reasoners restate what the told hierarchy already implies: OWL 2 RL returns the whole closure
    (``A ⊑ C`` of a told ``A ⊑ B ⊑ C``, both directions of a told ``A ≡ B``), HermiT the direct
    hierarchy with each group of equivalent classes named by one member. Kept, such an edge would be
    the shortest path in ``ancestors``, and a proof would cite ``reasoner:…`` where told axioms with
    their sources prove the step. So a conclusion is kept only when the told subclass and
    equivalence edges (read both ways), together with the reasoner's conclusions kept so far, do not
    already imply it: subclass conclusions first, in sorted order, then equivalences (so that a
    reasoner's ``A ≡ B`` is kept over its ``A ⊑ B`` and ``B ⊑ A``), then types, where a type
    is dropped when it is told or another type of the individual, told or kept, is under it. Every dropped
    conclusion follows from what is kept, so the closure (``ancestors``) is the same as keeping all.
    """
    told: dict[int, set[int]] = defaultdict(set)
    for a, b, _ in [*ax.edges, *ax.equiv]:
        told[a].add(b)
    told_anc: dict[int, set[int]] = {}

    def implied(a: int, b: int) -> bool:
        if a not in told_anc:
            told_anc[a] = _reachable(a, told, {})
        return b in told_anc[a]

    sub_candidates = []
    for sub, sup in sorted(inference.subclass or ()):
        if sup in (THING,) or sub == sup or is_builtin(sub) or is_builtin(sup):
            continue
        a, b = ent(sub, "class"), ent(sup, "class")
        if not implied(a, b):
            sub_candidates.append((a, b))
    eq_candidates = set()
    for x, y in sorted(inference.equivalent or ()):
        if is_builtin(x) or is_builtin(y) or x == y:
            continue
        a, b = ent(x, "class"), ent(y, "class")
        if not (implied(a, b) and implied(b, a)):
            eq_candidates.add((min(a, b), max(a, b)))
    # The conclusions the told edges do not imply may still imply one another (RL's A ⊑ C of an
    # inferred A ⊑ B and a told B ⊑ C): drop each that the told edges and the others still give.
    inferred: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))  # arc -> how many conclusions
    arcs = [[(a, b)] for a, b in sub_candidates] + [[(a, b), (b, a)] for a, b in sorted(eq_candidates)]
    for group in arcs:
        for a, b in group:
            inferred[a][b] += 1
    kept = []
    for group in arcs:
        for a, b in group:
            inferred[a][b] -= 1
        if all(b in _reachable(a, told, inferred, goal=b) for a, b in group):
            continue
        for a, b in group:
            inferred[a][b] += 1
        kept.append(group)
    for group in kept:
        if len(group) == 1:
            ax.edges.add((*group[0], r_id))
        else:
            ax.equiv.update((a, b, r_id) for a, b in group)
    _add_types(inference, r_id, ent, ax, told, inferred)


def _add_types(inference: Inference, r_id: int, ent: _Interner, ax: _Axioms, told: dict[int, set[int]],
               inferred: dict[int, dict[int, int]]) -> None:
    """The reasoner's types of individuals, less those under another type of the same individual
    (told, or inferred and kept): RL types each individual with every ancestor of its classes."""
    told_types: dict[int, set[int]] = defaultdict(set)
    for ind, cls, _ in ax.types:
        told_types[ind].add(cls)
    candidates = [(ent(ind, "individual"), ent(cls, "class"))
                  for ind, cls in sorted(inference.types or ()) if not is_builtin(cls)]
    inf_types: dict[int, set[int]] = defaultdict(set)
    for i, c in candidates:
        inf_types[i].add(c)
    above: dict[int, set[int]] = {}

    def under(c: int, t: int) -> bool:
        if t not in above:  # one walk per class, however many individuals have it
            above[t] = _reachable(t, told, inferred)
        return c in above[t]

    for i, c in candidates:
        others = (told_types[i] | inf_types[i]) - {c}
        if c in told_types[i] or any(under(c, t) for t in others):
            inf_types[i].discard(c)
        else:
            ax.types.add((i, c, r_id))


def _reachable(start: int, told: dict[int, set[int]], inferred: dict[int, dict[int, int]],
               goal: int | None = None) -> set[int]:
    """The classes above ``start`` over told arcs and the reasoner's arcs still counted (not
    ``start`` itself unless on a cycle); stops early once ``goal`` is reached."""
    seen: set[int] = set()
    queue = deque([start])
    while queue:
        x = queue.popleft()
        for y in (*told.get(x, ()), *(y for y, n in inferred.get(x, {}).items() if n > 0)):
            if y not in seen:
                seen.add(y)
                if y == goal:
                    return seen
                queue.append(y)
    return seen


def _ancestors(ax: _Axioms) -> tuple[dict[int, list[int]], list[tuple], dict[int, dict[int, int]]]:
    """BFS over sub ⊑ sup edges and both directions of equivalence: (the upward adjacency,
    ancestor rows ``(cls, anc, dist, pred)``, and each class's ancestors with their distance)."""
    up: dict[int, list[int]] = defaultdict(list)
    for a, b, _ in ax.edges:
        up[a].append(b)
    for a, b, _ in ax.equiv:
        up[a].append(b)
    for k in up:
        up[k] = sorted(set(up[k]))
    rows = []
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
        rows.extend((c, a, d, pred) for a, (d, pred) in seen.items())
    return up, rows, anc_sets


def _disjointness(ent: _Interner, ax: _Axioms, up: dict, anc_sets: dict[int, dict[int, int]],
                  inference: Inference) -> tuple[list[tuple[int, int, int]], dict[int, tuple]]:
    """Disjointness inherited down one side (``disjoint_with`` rows), and the unsatisfiable classes:
    under both sides of a disjoint pair, proved empty by the reasoner, or under ``owl:Nothing``."""
    partners: dict[int, set[int]] = defaultdict(set)
    for a, b, _ in ax.disjoint:
        partners[a].add(b)
    rows = []
    unsat: dict[int, tuple[int | None, int | None, str]] = {}
    classes = {i for i, k in ent.kind.items() if k == "class"} | set(up)
    for c in sorted(classes):
        lineage = {c: 0, **anc_sets.get(c, {})}
        for via in lineage:
            for other in partners.get(via, ()):
                rows.append((c, via, other))
                if other in lineage:
                    unsat.setdefault(c, (via, other, "subclass of two disjoint classes"))
    for iri in inference.unsatisfiable or ():
        if not is_builtin(iri):
            why = f"{inference.reasoner} proved it equivalent to owl:Nothing"
            unsat.setdefault(ent(iri, "class"), (None, None, why))
    nothing = ent.ids.get(NOTHING)
    if nothing:
        for c, ancs in anc_sets.items():
            if nothing in ancs:
                unsat.setdefault(c, (None, None, "subclass of owl:Nothing"))
    return rows, unsat


def _property_ancestors(subprops: dict[int, set[int]]) -> list[tuple[int, int, int]]:
    rows = []
    for p in subprops:
        seen = {p: 0}
        queue = deque([p])
        while queue:
            x = queue.popleft()
            for y in subprops.get(x, ()):
                if y not in seen:
                    seen[y] = seen[x] + 1
                    queue.append(y)
        rows.extend((p, a, d) for a, d in seen.items() if a != p)
    return rows


def _write(path: Path, ent: _Interner, src_ids: dict[str, int], ax: _Axioms, rows: dict[str, list],
           unsat: dict[int, tuple], labels: dict[str, str], meta: list[tuple[str, str]]) -> None:
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    db.executemany(
        "INSERT INTO entities VALUES (?,?,?,?,?)",
        ((i, iri, ent.kind.get(i), labels.get(iri), ent.source.get(i)) for iri, i in ent.ids.items()),
    )
    db.executemany("INSERT INTO sources VALUES (?,?)", ((i, n) for n, i in src_ids.items()))
    db.executemany("INSERT INTO edges VALUES (?,?,?)", sorted(ax.edges))
    db.executemany("INSERT INTO ancestors VALUES (?,?,?,?)", rows["ancestors"])
    db.executemany("INSERT INTO equivalents VALUES (?,?,?)", sorted(ax.equiv))
    db.executemany("INSERT INTO disjoint_decl VALUES (?,?,?)", sorted(ax.disjoint))
    db.executemany("INSERT INTO disjoint_notes VALUES (?,?,?)",
                   ((a, b, n) for (a, b), n in sorted(ax.disjoint_notes.items())))
    db.executemany("INSERT OR IGNORE INTO disjoint_with VALUES (?,?,?)", rows["disjoint_with"])
    db.executemany("INSERT INTO unsatisfiable VALUES (?,?,?,?)", ((c, *v) for c, v in sorted(unsat.items())))
    props = {i for i, k in ent.kind.items() if k and k.endswith("property")}
    flags = ax.prop_flags
    db.executemany(
        "INSERT INTO properties VALUES (?,?,?,?,?)",
        ((p, ent.kind[p], int("TransitiveProperty" in flags[p]), int("SymmetricProperty" in flags[p]),
          int("FunctionalProperty" in flags[p])) for p in sorted(props)),
    )
    db.executemany("INSERT INTO prop_domain VALUES (?,?,?)", sorted(ax.domains))
    db.executemany("INSERT INTO prop_range VALUES (?,?,?)", sorted(ax.ranges))
    db.executemany("INSERT INTO prop_inverse VALUES (?,?)", sorted(ax.inverses))
    db.executemany("INSERT INTO prop_ancestors VALUES (?,?,?)", rows["prop_ancestors"])
    db.executemany("INSERT INTO relations VALUES (?,?,?,?,?)", sorted(ax.relations))
    db.executemany("INSERT INTO assertions VALUES (?,?,?,?)", sorted(ax.assertions))
    db.executemany("INSERT INTO types VALUES (?,?,?)", sorted(ax.types))
    db.executemany("INSERT INTO deprecated VALUES (?,?)", sorted(
        (ent.ids[d], ent.ids.get(ax.replaced_by.get(d, ""))) for d in ax.deprecated if d in ent.ids))
    db.executemany("INSERT INTO meta VALUES (?,?)", meta)
    db.executescript(INDEXES)
    db.commit()
    db.close()


def build_tables(store: TripleStore, inference: Inference, path: Path, manifest_hash: str,
                 labels: dict[str, str]) -> dict:
    """Materialise the closure of ``store`` + ``inference`` into ``path``; returns counts."""
    ent = _Interner()
    src_ids: dict[str, int] = {}
    ax = _Axioms()
    for source in store.sources():
        s_id = src_ids.setdefault(source, len(src_ids) + 1)
        _SourceReader(store, source, s_id, ent, ax).read()
    r_id = src_ids.setdefault(f"reasoner:{inference.reasoner}", len(src_ids) + 1)
    _add_inference(inference, r_id, ent, ax)
    up, ancestor_rows, anc_sets = _ancestors(ax)
    disjoint_rows, unsat = _disjointness(ent, ax, up, anc_sets, inference)
    rows = {"ancestors": ancestor_rows, "disjoint_with": disjoint_rows,
            "prop_ancestors": _property_ancestors(ax.subprops)}
    _write(Path(path), ent, src_ids, ax, rows, unsat, labels,
           [("manifest_hash", manifest_hash), ("reasoner", inference.reasoner)])
    kinds = defaultdict(int)
    for k in ent.kind.values():
        kinds[k] += 1
    iri_of = {i: iri for iri, i in ent.ids.items()}
    return {
        "classes": kinds["class"],
        "object_properties": kinds["object_property"],
        "data_properties": kinds["data_property"],
        "annotation_properties": kinds["annotation_property"],
        "individuals": kinds["individual"],
        "subclass_edges": len(ax.edges),
        # the reasoner's edges that the told axioms do not imply (see _add_inference); KGs built before
        # counted every edge it returned that was not told, implied ones included
        "inferred_subclass_edges": sum(1 for *_, s in ax.edges if s == r_id),
        "ancestor_pairs": len(ancestor_rows),
        "equivalent_pairs": len(ax.equiv) // 2,
        "disjoint_pairs": len(ax.disjoint) // 2,
        "relations": len(ax.relations),
        "negated_relations": sum(1 for r in ax.relations if r[3]),
        "assertions": len(ax.assertions),
        "deprecated": sum(1 for d in ax.deprecated if d in ent.ids),
        "unsatisfiable": [iri_of[c] for c in sorted(unsat)],
    }

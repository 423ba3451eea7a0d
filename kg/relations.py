"""Relations between KG concepts: the inventory, ontology constraints, and a triple's standing.

The relation inventory is read from the KG, not hard-coded: every object property the KG
declares, with its label, OWL domains and ranges and how many class-level facts use it, plus
``is_a`` (``rdfs:subClassOf``), which every ontology has. An ontology a user ingests brings its own
properties. On the default medical KG the facts come from these sources:

===========================  ===========  ==================================================
relation                     source       facts
===========================  ===========  ==================================================
``is_a``                     hpo, mondo,  the class hierarchies (``rdfs:subClassOf``)
                             drugs
``has_phenotype``            hpoa         HPO annotations, aspect P (``RO:0002200``), incl.
(RO:0002200)                              NOT annotations as ``D ⊑ ¬∃RO:0002200.P``
``has_mode_of_inheritance``  hpoa         aspect I (range: HP:0000005)
``has_clinical_course``      hpoa         aspect C (range: HP:0031797)
``has_clinical_modifier``    hpoa         aspect M (range: HP:0012823)
``has_past_medical_history`` hpoa         aspect H (range: HP:0032443)
``part_of``, ``inheres_in``  hpo          declared, no class-level facts
``treats``/``indicated_for`` (none)       no packaged source holds drug->disease indications
                                          (``drug-named-entity-recognition`` has names and
                                          ids only), so the default KG has no such property
===========================  ===========  ==================================================

A triple ``(S, p, O)`` read from text has a **standing** against the KG, decided by the named
rules below through the closure tables only (no reasoner at query time). Each answer carries its
proof as ``kg.tables.Step`` s, the axioms it rests on with their sources, as ``kg.rules`` does.

=================  ===========  ================================================================
rule               standing     condition (A ranges over S and its ancestors)
=================  ===========  ================================================================
``rel-asserted``   known        ``S ⊑ ∃p.O`` is told
``rel-entailed``   known        ``S ⊑ A``, ``A ⊑ ∃p.Y``, ``Y ⊑ O`` (not all trivial)
``neg-asserted``   known        (negated triple) ``S ⊑ ¬∃p.O`` is told
``neg-entailed``   known        (negated triple) ``S ⊑ A``, ``A ⊑ ¬∃p.Y``, ``O ⊑ Y``
``clash-not``      conflicting  ``S ⊑ A``, ``A ⊑ ¬∃p.Y``, ``O ⊑ Y``: a NOT annotation denies it
``clash-has``      conflicting  (negated triple) ``S ⊑ A``, ``A ⊑ ∃p.Y``, ``Y ⊑ O``
``clash-range``    conflicting  O is disjoint with a range of p, or not under any of them
``clash-domain``   conflicting  S is disjoint with a domain of p, or not under any of them
``isa-chain``      known        (is_a) ``S ⊑ O`` through the hierarchy
``isa-disjoint``   conflicting  (is_a) S and O are disjoint
``isa-cycle``      conflicting  (is_a) ``O ⊏ S``: adding ``S ⊑ O`` would merge two classes
``neg-isa-known``  known        (negated is_a) S and O are disjoint
``neg-isa-clash``  conflicting  (negated is_a) ``S ⊑ O`` through the hierarchy
``clash-below``    conflicting  (``thorough``) a subclass D of S says the opposite (``D ⊑ ¬∃p.Y``
                                with ``O ⊑ Y``, or for a negated triple ``D ⊑ ∃p.Y`` with ``Y ⊑ O``):
                                adding the triple would make D unsatisfiable
``isa-clash``      conflicting  (``thorough``, is_a) S or a subclass of S denies what O or an
                                ancestor of O asserts (or the reverse): ``S ⊑ O`` would make it
                                unsatisfiable
``no-axiom``       novel        none of the above
=================  ===========  ================================================================

The ``thorough`` rules scan the subject's whole subtree, which can take a second for a general
subject, so extraction leaves them out and writing back to the KG runs them: there a triple is
added only if it is novel under every rule.

Domain and range are read closed-world for the ``clash-`` rules: OWL would instead infer that S
(O) is in the domain (range), which is rarely what a text means, and a wrong triple could then
type a disease as a phenotype. A negated triple with a clashing domain or range is vacuously
true and counts as known (rule ``neg-range``). Steps of a negated restriction have the
predicate ``¬<property IRI>``; an inverse step (read from the object's side) starts with ``^``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from .tables import ClosureTables, Step

IS_A = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
IS_A_NAME = "is_a"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
KNOWN, NOVEL, CONFLICTING = "known", "novel", "conflicting"
STANDINGS = (KNOWN, NOVEL, CONFLICTING)
NEG = "¬"
RULES = ("rel-asserted", "rel-entailed", "neg-asserted", "neg-entailed", "clash-not", "clash-has", "clash-range",
         "clash-domain", "neg-range", "isa-chain", "isa-disjoint", "isa-cycle", "neg-isa-known", "neg-isa-clash",
         "clash-below", "isa-clash", "no-axiom")


@dataclass(frozen=True)
class RelationType:
    """One relation of the inventory: an object property of the KG, or ``is_a``."""

    iri: str
    name: str  # a short id from the label: "has_phenotype"
    label: str
    domains: tuple[str, ...] = ()
    ranges: tuple[str, ...] = ()
    facts: int = 0
    negated_facts: int = 0
    source: str | None = None

    def as_dict(self) -> dict:
        return {"iri": self.iri, "name": self.name, "label": self.label, "domains": list(self.domains),
                "ranges": list(self.ranges), "facts": self.facts, "negated_facts": self.negated_facts,
                "source": self.source}


@dataclass(frozen=True)
class Standing:
    """A triple's standing against the KG and why."""

    status: str  # KNOWN | NOVEL | CONFLICTING
    rule: str
    steps: tuple[Step, ...] = field(default=())

    def proof(self) -> list[dict]:
        return [s.as_dict() for s in self.steps]


def slug(label: str) -> str:
    """``has phenotype`` -> ``has_phenotype``; ``containsNutrient`` -> ``contains_nutrient``."""
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", label)
    return re.sub(r"[^0-9a-z]+", "_", s.lower()).strip("_") or "relation"


def local_name(iri: str) -> str:
    return re.split(r"[#/]", iri.rstrip("/#"))[-1]


class RelationKB:
    """The relation inventory of one KG and the rules over it (lookups only; thread-safe)."""

    def __init__(self, tables: ClosureTables):
        self.tables = tables
        self._inventory: list[RelationType] | None = None
        self._root_set: frozenset[str] | None = None
        self._neg_rows: list[tuple[str, str, str, str]] | None = None
        self.ancestors = lru_cache(maxsize=1 << 14)(self._ancestors)

    # -- inventory ---------------------------------------------------------------------------

    def inventory(self) -> list[RelationType]:
        """``is_a`` first, then the object properties in the KG's order."""
        if self._inventory is None:
            t = self.tables
            counts = t.relation_counts()
            out = [RelationType(IS_A, IS_A_NAME, "is a", source="owl")]
            names = {IS_A_NAME}
            for iri in t.object_properties():
                label = t.label(iri) or local_name(iri)
                name = slug(label)
                if name in names:  # two properties with one label: keep both apart
                    name = f"{name}_{slug(local_name(iri))}"
                names.add(name)
                pos, neg = counts.get(iri, (0, 0))
                out.append(RelationType(iri, name, label, tuple(c for c, _ in t.domain_axioms(iri)),
                                        tuple(c for c, _ in t.range_axioms(iri)), pos, neg,
                                        self._declaring_source(iri)))
            self._inventory = out
        return self._inventory

    def _declaring_source(self, iri: str) -> str | None:
        axioms = self.tables.domain_axioms(iri) + self.tables.range_axioms(iri)
        return axioms[0][1] if axioms else None

    def relation(self, key: str) -> RelationType | None:
        """A relation by IRI or name."""
        for r in self.inventory():
            if key in (r.iri, r.name):
                return r
        return None

    # -- ontology constraints ----------------------------------------------------------------

    def _ancestors(self, iri: str) -> frozenset[str]:
        """``iri``, its ancestors, and (for an individual) its types and their ancestors."""
        t = self.tables
        out = {iri, *t.ancestors(iri)}
        for cls in t.types(iri):
            out.add(cls)
            out.update(t.ancestors(cls))
        return frozenset(out)

    def _under_any(self, iri: str, classes: Iterable[str]) -> bool:
        anc = self.ancestors(iri)
        return any(c in anc for c in classes)

    def admissible(self, subj: str, rel: RelationType, obj: str) -> bool:
        """Whether ``(subj, rel, obj)`` fits the property's OWL domain and range (through the closure).

        ``is_a`` needs two classes of one hierarchy: one under the other, or sharing an ancestor
        that is not a top-level root of that hierarchy's branch. A property without a declared
        domain (range) admits any subject (object).
        """
        if subj == obj:
            return False
        if rel.iri == IS_A:
            t = self.tables
            if t.kind(subj) == "individual" or t.kind(obj) == "individual":
                return False
            a, b = self.ancestors(subj), self.ancestors(obj)
            return obj in a or subj in b or bool((a & b) - self._roots())
        if rel.domains and not self._under_any(subj, rel.domains):
            return False
        return not (rel.ranges and not self._under_any(obj, rel.ranges))

    def _roots(self) -> frozenset[str]:
        """Very general classes (the domains and ranges of the properties, their ancestors and
        parents, owl:Thing): sharing one of them says little about two classes being comparable
        by is_a."""
        if self._root_set is not None:
            return self._root_set
        roots = set()
        t = self.tables
        for r in self.inventory():
            for c in (*r.domains, *r.ranges):
                roots.add(c)
                roots.update(t.ancestors(c))
        for c in list(roots):
            roots.update(t.parents(c))
        roots.add("http://www.w3.org/2002/07/owl#Thing")
        self._root_set = frozenset(roots)
        return self._root_set

    def comparable(self, a: str, b: str) -> bool:
        """Two classes of one hierarchy (a common ancestor other than owl:Thing): enough for an
        is_a the text states explicitly ("X is a kind of Y"), even a wrong one, which the
        standing then reports as conflicting."""
        if self.tables.kind(a) == "individual" or self.tables.kind(b) == "individual":
            return False
        common = self.ancestors(a) & self.ancestors(b)
        return bool(common - {"http://www.w3.org/2002/07/owl#Thing"})

    def admissible_relations(self, subj: str, obj: str, relations: Iterable[RelationType] | None = None
                             ) -> list[RelationType]:
        return [r for r in (relations if relations is not None else self.inventory()) if self.admissible(subj, r, obj)]

    # -- standing ----------------------------------------------------------------------------

    def standing(self, subj: str, prop: str, obj: str, negated: bool = False, thorough: bool = False) -> Standing:
        """Known, novel or conflicting, with the rule and proof (see the module docstring)."""
        if prop in (IS_A, IS_A_NAME):
            st = self._isa_standing(subj, obj, negated)
            if thorough and st.status == NOVEL and not negated:
                return self._isa_clash(subj, obj) or st
            return st
        rel = self.relation(prop)
        prop = rel.iri if rel else prop
        clash = self._domain_range_clash(subj, rel, obj) if rel else None
        if clash is not None:
            return Standing(KNOWN, "neg-range", clash.steps) if negated else clash
        t = self.tables
        subjects = sorted(self.ancestors(subj))
        # Rows supporting the triple as read, and rows clashing with it.
        support = t.relations_matching(subjects, prop, obj, negated=negated, direction="sup" if negated else "sub")
        against = t.relations_matching(subjects, prop, obj, negated=not negated, direction="sub" if negated else "sup")
        if support:
            steps = min((self._restriction_proof(subj, prop, obj, a, y, src, negated) for a, y, src in support), key=len)
            direct = len(steps) == 1
            rule = ("neg-" if negated else "rel-") + ("asserted" if direct else "entailed")
            return Standing(KNOWN, rule, tuple(steps))
        if against:
            steps = min((self._restriction_proof(subj, prop, obj, a, y, src, not negated) for a, y, src in against),
                        key=len)
            return Standing(CONFLICTING, "clash-has" if negated else "clash-not", tuple(steps))
        if thorough:
            below = t.relations_matching([], prop, obj, negated=not negated, direction="sub" if negated else "sup",
                                         under=subj)
            if below:
                d, y, src = min(below)
                steps = [*t.chain(d, subj), *self._restriction_proof(d, prop, obj, d, y, src, not negated)]
                return Standing(CONFLICTING, "clash-below", tuple(steps))
        return Standing(NOVEL, "no-axiom")

    def _negated_rows(self) -> list[tuple[str, str, str, str]]:
        if self._neg_rows is None:
            self._neg_rows = [(s, p, o, src) for s, p, o, _, src in self.tables.relation_rows(negated=True)]
        return self._neg_rows

    def _isa_clash(self, subj: str, obj: str) -> Standing | None:
        """Whether ``subj ⊑ obj`` would make ``subj`` or a subclass unsatisfiable through a NOT
        annotation (the only negative axioms besides disjointness, which ``isa-disjoint`` covers)."""
        t = self.tables
        up = self.ancestors(obj)  # obj and its ancestors: what subj would inherit
        for a, p, y, src in self._negated_rows():
            if a in up:  # O-side denies p.Y: does subj (or below) have p.Y' with Y' ⊑ Y?
                hits = t.relations_matching([subj], p, y, negated=False, direction="sub") or \
                    t.relations_matching([], p, y, negated=False, direction="sub", under=subj)
                if hits:
                    d, y2, src2 = hits[0]
                    return Standing(CONFLICTING, "isa-clash", (*t.chain(d, subj), Step(d, p, y2, src2),
                                                              *t.chain(y2, y), *t.chain(obj, a), Step(a, NEG + p, y, src)))
            elif a == subj or subj in self.ancestors(a):  # subj-side denies p.Y: does obj's side assert it?
                hits = t.relations_matching(sorted(up), p, y, negated=False, direction="sub")
                if hits:
                    b, y2, src2 = hits[0]
                    return Standing(CONFLICTING, "isa-clash", (*t.chain(a, subj), Step(a, NEG + p, y, src),
                                                              *t.chain(obj, b), Step(b, p, y2, src2), *t.chain(y2, y)))
        return None

    def _restriction_proof(self, subj: str, prop: str, obj: str, a: str, y: str, source: str,
                           negated: bool) -> list[Step]:
        """``S ⊑ … ⊑ A``, ``A ⊑ (¬)∃p.Y``, then ``Y ⊑ … ⊑ O`` (positive) or ``O ⊑ … ⊑ Y`` (negated)."""
        t = self.tables
        head = self._is_a_steps(subj, a)
        axiom = Step(a, (NEG if negated else "") + prop, y, source)
        tail = t.chain(obj, y) if negated else t.chain(y, obj)
        return [*head, axiom, *tail]

    def _is_a_steps(self, x: str, y: str) -> list[Step]:
        """``x ⊑ … ⊑ y`` (through ``rdf:type`` first when x is an individual)."""
        t = self.tables
        if x == y:
            return []
        if t.is_subclass(x, y):
            return t.chain(x, y)
        for cls in t.types(x):
            if cls == y or t.is_subclass(cls, y):
                return [Step(x, "rdf:type", cls, t.type_source(x, cls)), *t.chain(cls, y)]
        return []

    def _domain_range_clash(self, subj: str, rel: RelationType, obj: str) -> Standing | None:
        t = self.tables
        for side, node, classes, axioms, pred in (
            ("range", obj, rel.ranges, t.range_axioms, "rdfs:range"),
            ("domain", subj, rel.domains, t.domain_axioms, "rdfs:domain"),
        ):
            if not classes or self._under_any(node, classes):
                continue
            decl = [Step(rel.iri, pred, c, src) for c, src in axioms(rel.iri)]
            for c, src in axioms(rel.iri):
                proof = t.disjoint(node, c)
                if proof is not None:
                    return Standing(CONFLICTING, f"clash-{side}", (*decl, *proof))
            # Not under any declared class: closed-world reading (see the module docstring).
            return Standing(CONFLICTING, f"clash-{side}", tuple(decl))
        return None

    def _isa_standing(self, subj: str, obj: str, negated: bool) -> Standing:
        t = self.tables
        chain = self._is_a_steps(subj, obj) if obj in self.ancestors(subj) else None
        disjoint = None if chain is not None else t.disjoint(subj, obj)
        if negated:
            if disjoint is not None:
                return Standing(KNOWN, "neg-isa-known", tuple(disjoint))
            if chain is not None:
                return Standing(CONFLICTING, "neg-isa-clash", tuple(chain))
            return Standing(NOVEL, "no-axiom")
        if chain is not None:
            return Standing(KNOWN, "isa-chain", tuple(chain))
        if disjoint is not None:
            return Standing(CONFLICTING, "isa-disjoint", tuple(disjoint))
        if subj in self.ancestors(obj):
            return Standing(CONFLICTING, "isa-cycle", tuple(self._is_a_steps(obj, subj)))
        return Standing(NOVEL, "no-axiom")


def render_standing(s: Standing, label=lambda iri: None) -> str:
    """One line: ``Marfan syndrome has phenotype Ectopia lentis (hpoa) [rel-asserted: known]``."""
    def name(x: str) -> str:
        return label(x) or local_name(x)

    parts = []
    for st in s.steps:
        pred = st.predicate
        subj, obj = st.subject, st.object
        if pred.startswith("^"):
            subj, obj, pred = obj, subj, pred[1:]
        neg = pred.startswith(NEG)
        pred = pred[len(NEG):] if neg else pred
        short = {"rdfs:subClassOf": "⊑", "owl:equivalentClass": "≡", "owl:disjointWith": "⊓⊥", "rdf:type": "∈",
                 "rdfs:range": "range", "rdfs:domain": "domain"}.get(pred, name(pred) if "://" in pred else pred)
        parts.append(f"{name(subj)} {'NOT ' if neg else ''}{short} {name(obj)} ({st.cited()})")
    return f"{', '.join(parts) or 'no axiom'} [{s.rule}: {s.status}]"


__all__ = ["IS_A", "IS_A_NAME", "KNOWN", "NOVEL", "CONFLICTING", "STANDINGS", "RULES", "RelationKB", "RelationType",
           "Standing", "render_standing", "slug"]

"""kg.relations: the relation inventory, OWL domain/range filtering, and one test per standing rule.

The rules run on a small medical-style ontology ingested once per module (structural reasoner,
no Java). Each test quotes its rule from ``kgnlu.kg.relations``.
"""

from __future__ import annotations

import pytest

from kgnlu.kg.relations import (
    CONFLICTING, IS_A, KNOWN, NEG, NOVEL, RULES, RelationKB, render_standing, slug,
)

M = "http://kgnlu.org/test/med#"
HAS = M + "hasPhenotype"
ONTOLOGY = f"""
@prefix : <{M}> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<http://kgnlu.org/test/med> a owl:Ontology .
:hasPhenotype a owl:ObjectProperty ; rdfs:label "has phenotype" ; rdfs:domain :Disease ; rdfs:range :Phenotype .
:partOf a owl:ObjectProperty ; rdfs:label "part of" .
:Disease a owl:Class ; rdfs:label "disease" .
:Phenotype a owl:Class ; rdfs:label "phenotype" .
:Drug a owl:Class ; rdfs:label "drug" ; owl:disjointWith :Phenotype .
:Aspirin a owl:Class ; rdfs:subClassOf :Drug ; rdfs:label "aspirin" .
:ConnectiveTissueDisease a owl:Class ; rdfs:subClassOf :Disease ; rdfs:label "connective tissue disease" ;
    rdfs:subClassOf [ a owl:Restriction ; owl:onProperty :hasPhenotype ; owl:someValuesFrom :JointHypermobility ] .
:Marfan a owl:Class ; rdfs:subClassOf :ConnectiveTissueDisease ; rdfs:label "Marfan syndrome" ;
    rdfs:subClassOf [ a owl:Restriction ; owl:onProperty :hasPhenotype ; owl:someValuesFrom :EctopiaLentis ] ;
    rdfs:subClassOf [ owl:complementOf [ a owl:Restriction ; owl:onProperty :hasPhenotype ;
                                         owl:someValuesFrom :IntellectualDisability ] ] .
:NeonatalMarfan a owl:Class ; rdfs:subClassOf :Marfan ; rdfs:label "neonatal Marfan syndrome" .
:Homocystinuria a owl:Class ; rdfs:subClassOf :Disease ; rdfs:label "homocystinuria" ;
    rdfs:subClassOf [ a owl:Restriction ; owl:onProperty :hasPhenotype ; owl:someValuesFrom :SevereID ] .
:EyeAbnormality a owl:Class ; rdfs:subClassOf :Phenotype ; rdfs:label "eye abnormality" .
:EctopiaLentis a owl:Class ; rdfs:subClassOf :EyeAbnormality ; rdfs:label "ectopia lentis" .
:JointHypermobility a owl:Class ; rdfs:subClassOf :Phenotype ; rdfs:label "joint hypermobility" .
:IntellectualDisability a owl:Class ; rdfs:subClassOf :Phenotype ; rdfs:label "intellectual disability" .
:SevereID a owl:Class ; rdfs:subClassOf :IntellectualDisability ; rdfs:label "severe intellectual disability" .
:Seizure a owl:Class ; rdfs:subClassOf :Phenotype ; rdfs:label "seizure" .
:FocalSeizure a owl:Class ; rdfs:subClassOf :Seizure ; rdfs:label "focal seizure" .
"""


@pytest.fixture(scope="module")
def kb(tmp_path_factory) -> RelationKB:
    from kgnlu.kg.ingest import ingest
    from kgnlu.kg.tables import ClosureTables

    root = tmp_path_factory.mktemp("relkb")
    src = root / "med.ttl"
    src.write_text(ONTOLOGY, encoding="utf-8")
    ingest([src], root / "kg", reasoner_name="structural")
    return RelationKB(ClosureTables(root / "kg" / "current" / "tables.sqlite3"))


def _steps(st):
    def short(x: str) -> str:
        return x.rsplit("#", 1)[-1].split(":")[-1]

    return [(short(s.subject), short(s.predicate), short(s.object)) for s in st.steps]


# -- inventory and constraints ------------------------------------------------------------------

def test_inventory_comes_from_the_kg(kb):
    inv = kb.inventory()
    assert inv[0].iri == IS_A and inv[0].name == "is_a"
    by_name = {r.name: r for r in inv}
    assert set(by_name) == {"is_a", "has_phenotype", "part_of"}
    hp = by_name["has_phenotype"]
    assert hp.domains == (M + "Disease",) and hp.ranges == (M + "Phenotype",)
    assert (hp.facts, hp.negated_facts) == (3, 1)
    assert kb.relation(HAS) is hp and kb.relation("has_phenotype") is hp


def test_slug():
    assert slug("has phenotype") == "has_phenotype"
    assert slug("containsNutrient") == "contains_nutrient"


def test_a_drug_cannot_have_a_phenotype(kb):
    hp = kb.relation("has_phenotype")
    assert kb.admissible(M + "Marfan", hp, M + "Seizure")
    assert not kb.admissible(M + "Aspirin", hp, M + "Seizure")  # domain: Disease
    assert not kb.admissible(M + "Marfan", hp, M + "Aspirin")  # range: Phenotype
    assert not kb.admissible(M + "Marfan", hp, M + "Marfan")


def test_is_a_needs_one_hierarchy(kb):
    isa = kb.relation(IS_A)
    assert kb.admissible(M + "FocalSeizure", isa, M + "Seizure")
    assert kb.admissible(M + "Seizure", isa, M + "FocalSeizure")  # the model decides the direction
    assert not kb.admissible(M + "Marfan", isa, M + "Seizure")  # a disease and a phenotype
    assert kb.admissible(M + "Aspirin", isa, M + "Drug")


def test_property_without_domain_admits_anything(kb):
    part = kb.relation("part_of")
    assert kb.admissible(M + "Seizure", part, M + "Marfan")


# -- one test per rule ---------------------------------------------------------------------------

def test_rel_asserted(kb):
    """``rel-asserted``: ``S ⊑ ∃p.O`` is told -> known."""
    st = kb.standing(M + "Marfan", HAS, M + "EctopiaLentis")
    assert (st.status, st.rule) == (KNOWN, "rel-asserted")
    assert _steps(st) == [("Marfan", "hasPhenotype", "EctopiaLentis")]
    assert st.steps[0].source == "med"


def test_rel_entailed_through_subject_ancestor(kb):
    """``rel-entailed``: ``S ⊑ A``, ``A ⊑ ∃p.Y``, ``Y ⊑ O`` -> known (here S ⊑ A)."""
    st = kb.standing(M + "NeonatalMarfan", HAS, M + "JointHypermobility")
    assert (st.status, st.rule) == (KNOWN, "rel-entailed")
    assert _steps(st) == [("NeonatalMarfan", "subClassOf", "Marfan"), ("Marfan", "subClassOf", "ConnectiveTissueDisease"),
                          ("ConnectiveTissueDisease", "hasPhenotype", "JointHypermobility")]


def test_rel_entailed_through_object_subclass(kb):
    """``rel-entailed``: ... ``Y ⊑ O`` (S has ectopia lentis, so it has an eye abnormality)."""
    st = kb.standing(M + "Marfan", HAS, M + "EyeAbnormality")
    assert (st.status, st.rule) == (KNOWN, "rel-entailed")
    assert _steps(st)[-1] == ("EctopiaLentis", "subClassOf", "EyeAbnormality")


def test_neg_asserted(kb):
    """``neg-asserted``: (negated triple) ``S ⊑ ¬∃p.O`` is told -> known."""
    st = kb.standing(M + "Marfan", HAS, M + "IntellectualDisability", negated=True)
    assert (st.status, st.rule) == (KNOWN, "neg-asserted")
    assert st.steps[0].predicate == NEG + HAS


def test_neg_entailed(kb):
    """``neg-entailed``: ``S ⊑ A``, ``A ⊑ ¬∃p.Y``, ``O ⊑ Y`` -> known."""
    st = kb.standing(M + "NeonatalMarfan", HAS, M + "SevereID", negated=True)
    assert (st.status, st.rule) == (KNOWN, "neg-entailed")
    assert _steps(st)[-1] == ("SevereID", "subClassOf", "IntellectualDisability")


def test_clash_not(kb):
    """``clash-not``: ``S ⊑ A``, ``A ⊑ ¬∃p.Y``, ``O ⊑ Y``: a NOT annotation denies it -> conflicting."""
    st = kb.standing(M + "NeonatalMarfan", HAS, M + "SevereID")
    assert (st.status, st.rule) == (CONFLICTING, "clash-not")
    assert any(s.predicate == NEG + HAS for s in st.steps)


def test_clash_has(kb):
    """``clash-has``: (negated triple) ``S ⊑ A``, ``A ⊑ ∃p.Y``, ``Y ⊑ O`` -> conflicting."""
    st = kb.standing(M + "Marfan", HAS, M + "EyeAbnormality", negated=True)
    assert (st.status, st.rule) == (CONFLICTING, "clash-has")


def test_clash_range_disjoint(kb):
    """``clash-range``: O is disjoint with a range of p -> conflicting (proof names the disjointness)."""
    st = kb.standing(M + "Marfan", HAS, M + "Aspirin")
    assert (st.status, st.rule) == (CONFLICTING, "clash-range")
    preds = [s.predicate for s in st.steps]
    assert "rdfs:range" in preds and "owl:disjointWith" in preds


def test_clash_range_outside(kb):
    """``clash-range``: ... or O is not under any range of p (closed-world reading)."""
    st = kb.standing(M + "Marfan", HAS, M + "Homocystinuria")
    assert (st.status, st.rule) == (CONFLICTING, "clash-range")
    assert [s.predicate for s in st.steps] == ["rdfs:range"]


def test_clash_domain(kb):
    """``clash-domain``: S is disjoint with a domain of p, or not under any of them -> conflicting."""
    st = kb.standing(M + "Aspirin", HAS, M + "Seizure")
    assert (st.status, st.rule) == (CONFLICTING, "clash-domain")


def test_neg_range(kb):
    """``neg-range``: a negated triple with a clashing domain or range is vacuously true -> known."""
    st = kb.standing(M + "Marfan", HAS, M + "Aspirin", negated=True)
    assert (st.status, st.rule) == (KNOWN, "neg-range")


def test_isa_chain(kb):
    """``isa-chain``: (is_a) ``S ⊑ O`` through the hierarchy -> known."""
    st = kb.standing(M + "FocalSeizure", IS_A, M + "Phenotype")
    assert (st.status, st.rule) == (KNOWN, "isa-chain")
    assert _steps(st) == [("FocalSeizure", "subClassOf", "Seizure"), ("Seizure", "subClassOf", "Phenotype")]


def test_isa_disjoint(kb):
    """``isa-disjoint``: (is_a) S and O are disjoint -> conflicting."""
    st = kb.standing(M + "Aspirin", "is_a", M + "Phenotype")
    assert (st.status, st.rule) == (CONFLICTING, "isa-disjoint")


def test_isa_cycle(kb):
    """``isa-cycle``: (is_a) ``O ⊏ S``: adding ``S ⊑ O`` would merge two classes -> conflicting."""
    st = kb.standing(M + "Seizure", IS_A, M + "FocalSeizure")
    assert (st.status, st.rule) == (CONFLICTING, "isa-cycle")


def test_neg_isa_known(kb):
    """``neg-isa-known``: (negated is_a) S and O are disjoint -> known."""
    st = kb.standing(M + "Aspirin", IS_A, M + "Phenotype", negated=True)
    assert (st.status, st.rule) == (KNOWN, "neg-isa-known")


def test_neg_isa_clash(kb):
    """``neg-isa-clash``: (negated is_a) ``S ⊑ O`` through the hierarchy -> conflicting."""
    st = kb.standing(M + "FocalSeizure", IS_A, M + "Seizure", negated=True)
    assert (st.status, st.rule) == (CONFLICTING, "neg-isa-clash")


def test_clash_below(kb):
    """``clash-below``: (thorough) a subclass D of S says the opposite: adding the triple would
    make D unsatisfiable -> conflicting. Without ``thorough`` the rule is not run."""
    assert kb.standing(M + "ConnectiveTissueDisease", HAS, M + "SevereID").status == NOVEL
    st = kb.standing(M + "ConnectiveTissueDisease", HAS, M + "SevereID", thorough=True)
    assert (st.status, st.rule) == (CONFLICTING, "clash-below")
    assert _steps(st)[0] == ("Marfan", "subClassOf", "ConnectiveTissueDisease")


def test_isa_clash(kb):
    """``isa-clash``: (thorough, is_a) S or a subclass of S denies what O asserts, or the reverse."""
    assert kb.standing(M + "Homocystinuria", IS_A, M + "Marfan").status == NOVEL
    st = kb.standing(M + "Homocystinuria", IS_A, M + "Marfan", thorough=True)
    assert (st.status, st.rule) == (CONFLICTING, "isa-clash")


def test_no_axiom(kb):
    """``no-axiom``: none of the above -> novel, with an empty proof."""
    st = kb.standing(M + "Marfan", HAS, M + "Seizure", thorough=True)
    assert (st.status, st.rule, st.steps) == (NOVEL, "no-axiom", ())


def test_every_rule_is_listed():
    tested = {"rel-asserted", "rel-entailed", "neg-asserted", "neg-entailed", "clash-not", "clash-has", "clash-range",
              "clash-domain", "neg-range", "isa-chain", "isa-disjoint", "isa-cycle", "neg-isa-known", "neg-isa-clash",
              "clash-below", "isa-clash", "no-axiom"}
    assert set(RULES) == tested


def test_render(kb):
    st = kb.standing(M + "Marfan", HAS, M + "EyeAbnormality")
    line = render_standing(st, kb.tables.label)
    assert line == ("Marfan syndrome has phenotype ectopia lentis (med), ectopia lentis ⊑ eye abnormality (med) "
                    "[rel-entailed: known]")


def test_food_demo_inventory(demo_kg):
    from kgnlu.kg.tables import ClosureTables

    kb = RelationKB(ClosureTables(demo_kg / "current" / "tables.sqlite3"))
    names = [r.name for r in kb.inventory()]
    assert names[0] == "is_a" and {"contains_nutrient", "eats"} <= set(names)
    food = "http://kgnlu.org/demo/food#"
    st = kb.standing(food + "Beef", food + "containsNutrient", food + "VitaminC")
    assert (st.status, st.rule) == (CONFLICTING, "clash-not")

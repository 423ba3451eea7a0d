"""The symbolic NLI rules, one rule per test, over the demo food ontology (HermiT-classified)."""

from pathlib import Path

import pytest

from kgnlu.kg.ingest import ingest
from kgnlu.kg.kgdir import TABLES, KGDir
from kgnlu.kg.rules import CONTRADICTION, ENTAILMENT, UNKNOWN, Assertion, RuleEngine
from kgnlu.kg.tables import ClosureTables

FOOD = Path(__file__).resolve().parents[2] / "ontologies" / "demo" / "food.ttl"
N = "http://kgnlu.org/demo/food#"


@pytest.fixture(scope="module")
def rules(tmp_path_factory) -> RuleEngine:
    kg = tmp_path_factory.mktemp("food-kg")
    ingest([FOOD], kg)
    return RuleEngine(ClosureTables(KGDir(kg).current().path / TABLES))


def pos(name: str, side: str = "premise", text: str | None = None) -> Assertion:
    text = text or name.lower()
    return Assertion(N + name, False, side, text, 0, len(text))


def neg(name: str, side: str = "premise", text: str | None = None) -> Assertion:
    return Assertion(N + name, True, side, text or name.lower(), 0, len(text or name))


def test_mono_up(rules):
    """mono-up: +X ⊢ +Y if X ⊑ Y ("I like eating apples" ⊢ "I like eating fruit")."""
    v = rules.decide([pos("Apple")], [pos("Fruit", "hypothesis")])
    assert v.label == ENTAILMENT and [p.rule for p in v.proofs] == ["mono-up"]
    (proof,) = v.proofs
    assert [(s.subject, s.predicate, s.object, s.source) for s in proof.axioms] == [
        (N + "Apple", "rdfs:subClassOf", N + "Fruit", "food")]
    assert rules.explain(v) == ["apple ⊑ fruit (food) ⇒ premise +apple entails hypothesis +fruit  [mono-up]"]


def test_mono_up_is_not_downward(rules):
    """mono-up only goes up: +Y does not give +X for a more specific X (a lexical-overlap trap)."""
    v = rules.decide([pos("Fruit")], [pos("Apple", "hypothesis")])
    assert v.label == UNKNOWN and [a.iri for a in v.undecided] == [N + "Apple"]


def test_mono_up_transitive_chain(rules):
    """mono-up: the chain GrannySmith ⊑ Apple ⊑ Fruit ⊑ Food is cited step by step."""
    v = rules.decide([pos("GrannySmith")], [pos("Food", "hypothesis")])
    assert v.label == ENTAILMENT
    assert [(s.subject, s.object) for s in v.proofs[0].axioms] == [
        (N + "GrannySmith", N + "Apple"), (N + "Apple", N + "Fruit"), (N + "Fruit", N + "Food")]


def test_mono_down_neg(rules):
    """mono-down-neg: -Y ⊢ -X if X ⊑ Y ("no fruit" ⊢ "no apples")."""
    v = rules.decide([neg("Fruit")], [neg("Apple", "hypothesis")])
    assert v.label == ENTAILMENT and v.proofs[0].rule == "mono-down-neg"
    assert v.proofs[0].axioms[0].predicate == "rdfs:subClassOf"


def test_mono_down_neg_not_upward(rules):
    """mono-down-neg does not license -X ⊢ -Y ("no apples" leaves "no fruit" open)."""
    assert rules.decide([neg("Apple")], [neg("Fruit", "hypothesis")]).label == UNKNOWN


def test_syn_eq_equivalent_classes(rules):
    """syn-eq: +X ⊢ +Y if X ≡ Y (Yoghurt ≡ Yogurt)."""
    v = rules.decide([pos("Yoghurt")], [pos("Yogurt", "hypothesis")])
    assert v.label == ENTAILMENT and v.proofs[0].rule == "syn-eq"
    assert v.proofs[0].axioms[0].predicate == "owl:equivalentClass"


def test_syn_eq_same_concept_under_negation(rules):
    """syn-eq: -X ⊢ -Y if X ≡ Y, here the same concept named twice (a synonym)."""
    v = rules.decide([neg("Food", text="foodstuff")], [neg("Food", "hypothesis", "food")])
    assert v.label == ENTAILMENT and v.proofs[0].rule == "syn-eq" and v.proofs[0].axioms == ()


def test_clash_neg_positive_premise(rules):
    """clash-neg: +X vs -Y with X ⊑ Y ("apples" contradicts "no fruit")."""
    v = rules.decide([pos("Apple")], [neg("Fruit", "hypothesis")])
    assert v.label == CONTRADICTION and v.proofs[0].rule == "clash-neg"


def test_clash_neg_negative_premise(rules):
    """clash-neg: -Y vs +X with X ⊑ Y ("no fruit" contradicts "an orange")."""
    v = rules.decide([neg("Fruit")], [pos("Orange", "hypothesis")])
    assert v.label == CONTRADICTION and v.proofs[0].rule == "clash-neg"
    assert [s.object for s in v.proofs[0].axioms] == [N + "Citrus", N + "Fruit"]


def test_clash_disjoint(rules):
    """clash-disjoint: +X vs +Y with X and Y disjoint, inherited down (Apple ⊑ Fruit ⊥ Vegetable ⊒ Carrot)."""
    v = rules.decide([pos("Apple")], [pos("Carrot", "hypothesis")])
    assert v.label == CONTRADICTION and v.proofs[0].rule == "clash-disjoint"
    preds = [s.predicate for s in v.proofs[0].axioms]
    assert "owl:disjointWith" in preds
    assert "fruit ⊓⊥ vegetable (food)" in rules.explain(v)[0]


def test_what_the_premise_states_does_not_clash_through_another_of_its_assertions(rules):
    """"The patient had hypokalemia and later hyperkalemia." / "...had hypokalemia." was a
    contradiction at gate 1.0: a premise with two disjoint findings speaks of two times or places."""
    v = rules.decide([pos("Apple"), pos("Carrot")], [pos("Apple", "hypothesis")])
    assert v.label == ENTAILMENT and v.proofs[0].rule == "syn-eq"
    assert rules.decide([pos("Carrot")], [pos("Apple", "hypothesis")]).label == CONTRADICTION


def test_clash_disjoint_from_all_disjoint_classes(rules):
    """clash-disjoint also reads owl:AllDisjointClasses (Fruit, Meat, Dairy)."""
    assert rules.decide([pos("Banana")], [pos("Beef", "hypothesis")]).label == CONTRADICTION


def test_disjoint_neg(rules):
    """disjoint-neg: +X entails -Y when X and Y are disjoint ("an apple" ⊢ "not a carrot": what is
    a fruit is no vegetable); natural logic's alternation under a negation on one side."""
    v = rules.decide([pos("Apple")], [neg("Carrot", "hypothesis")])
    assert v.label == ENTAILMENT and [p.rule for p in v.proofs] == ["disjoint-neg"]
    assert "owl:disjointWith" in [s.predicate for s in v.proofs[0].axioms]
    assert "entails hypothesis -carrot" in rules.explain(v)[0]
    # Not the other way round (-X says nothing of Y), nor without disjointness.
    assert rules.decide([neg("Carrot")], [pos("Apple", "hypothesis")]).label == UNKNOWN
    assert rules.decide([pos("Apple")], [neg("VitaminC", "hypothesis", "vitamin C")]).label == UNKNOWN


def test_disjoint_neg_needs_the_linked_concepts_not_a_reading(rules):
    """Two ontologies' namesakes may be stated disjoint by accident: as clash-disjoint, disjoint-neg
    goes through the linked concepts only."""
    from dataclasses import replace

    premise = replace(pos("VitaminC", text="apple"), readings=(N + "Apple",))
    assert rules.decide([premise], [neg("Carrot", "hypothesis")]).label == UNKNOWN
    hypothesis = replace(neg("VitaminC", "hypothesis", "carrot"), readings=(N + "Carrot",))
    assert rules.decide([pos("Apple")], [hypothesis]).label == UNKNOWN


def test_two_negations_never_clash(rules):
    """-X and -Y never clash, even when X and Y are disjoint."""
    assert rules.decide([neg("Apple")], [neg("Carrot", "hypothesis")]).label == UNKNOWN


def test_individual_is_instance_of_its_types(rules):
    """mono-up through rdf:type: my lunch ∈ Apple ⊑ Fruit."""
    v = rules.decide([pos("myLunch", text="my lunch")], [pos("Fruit", "hypothesis")])
    assert v.label == ENTAILMENT and v.proofs[0].axioms[0].predicate == "rdf:type"


def test_every_hypothesis_assertion_must_follow(rules):
    """Entailment needs all hypothesis assertions; the undecided one is named."""
    v = rules.decide([pos("Apple")], [pos("Fruit", "hypothesis"), pos("VitaminC", "hypothesis", "vitamin C")])
    assert v.label == UNKNOWN and v.decided == 0.5 and [a.iri for a in v.undecided] == [N + "VitaminC"]
    assert any("undecided" in line and "vitamin C" in line for line in rules.explain(v))


def test_an_entailment_may_go_through_an_equally_good_reading(rules):
    """A name that several concepts carry (here: pretend "apple" also names Carrot, and the
    hypothesis word also names Fruit) entails through a reading; the proof names the one used."""
    from dataclasses import replace

    premise = replace(pos("Carrot", text="apple"), readings=(N + "Apple",))
    hypothesis = replace(pos("Vegetable", "hypothesis", "fruit"), readings=(N + "Fruit",))
    v = rules.decide([premise], [replace(pos("Food", "hypothesis"), readings=())])
    assert v.label == ENTAILMENT  # Carrot ⊑ Food already
    v = rules.decide([premise], [hypothesis])
    assert v.label == ENTAILMENT and [p.rule for p in v.proofs] == ["mono-up"]  # Carrot ⊑ Vegetable
    v = rules.decide([pos("Apple")], [hypothesis])  # Apple ⊥ Vegetable, but Apple ⊑ Fruit: no clash
    assert v.label == ENTAILMENT and v.proofs[0].hypothesis.iri == N + "Fruit"


def test_readings_make_no_disjointness_clash(rules):
    """Apple vs the hypothesis's linked concept Vegetable is a clash; vs a mere reading it is not."""
    from dataclasses import replace

    assert rules.decide([pos("Apple")], [pos("Vegetable", "hypothesis")]).label == CONTRADICTION
    v = rules.decide([pos("Apple")], [replace(pos("Fruit", "hypothesis"), readings=(N + "Vegetable",))])
    assert v.label == ENTAILMENT
    v = rules.decide([pos("Apple")], [replace(pos("Meat", "hypothesis"), readings=(N + "Vegetable",))])
    assert v.label == CONTRADICTION  # the linked concept itself still clashes (Fruit ⊥ Meat)
    v = rules.decide([pos("Apple")], [replace(pos("VitaminC", "hypothesis"), readings=(N + "Vegetable",))])
    assert v.label == UNKNOWN  # only a reading would clash


def test_a_denied_name_denies_each_reading(rules):
    """clash-neg through a reading: "no apple" (read as Carrot or Apple) vs +GrannySmith."""
    from dataclasses import replace

    denied = replace(neg("Carrot", text="apple"), readings=(N + "Apple",))
    v = rules.decide([denied], [pos("GrannySmith", "hypothesis", "granny smith")])
    assert v.label == CONTRADICTION and v.proofs[0].rule == "clash-neg" and v.proofs[0].premise.iri == N + "Apple"


def test_assertions_about_different_people_neither_entail_nor_clash(rules):
    """"My father eats apples" ⊢ "My father eats fruit", but says nothing of the patient."""
    from dataclasses import replace

    father = replace(pos("Apple"), experiencer="father")
    assert rules.decide([father], [replace(pos("Fruit", "hypothesis"), experiencer="father")]).label == ENTAILMENT
    assert rules.decide([father], [pos("Fruit", "hypothesis")]).label == UNKNOWN
    assert rules.decide([father], [neg("Fruit", "hypothesis")]).label == UNKNOWN
    assert rules.decide([father], [replace(neg("Fruit", "hypothesis"), experiencer="father")]).label == CONTRADICTION


def test_nothing_linked_is_unknown(rules):
    assert rules.decide([], [pos("Fruit", "hypothesis")]).label == UNKNOWN
    assert rules.decide([pos("Fruit")], []).label == UNKNOWN


def test_proof_steps_follow_the_result_contract(rules):
    """A proof is premise span, axiom steps with sources, hypothesis span."""
    v = rules.decide([pos("Apple", text="apples")], [pos("Fruit", "hypothesis")])
    steps = v.to_dict()["proofs"][0]
    assert steps[0]["span"] == {"side": "premise", "start": 0, "end": 6, "text": "apples"}
    assert steps[1] == {"subject": N + "Apple", "predicate": "rdfs:subClassOf", "object": N + "Fruit", "source": "food"}
    assert steps[-1]["span"]["side"] == "hypothesis"
    assert all({"subject", "predicate", "object", "source"} <= set(s) for s in steps)

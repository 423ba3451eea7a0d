"""The alignment guard on the rules' verdict (issue 21, first step): ``kgnlu.tasks.nli_align`` and
``kgnlu.tasks.nli.decide``."""

from __future__ import annotations

import pytest

from kgnlu.tasks.nli_align import lemma, unaccounted
from kgnlu.types import Mention


def _m(text: str, sentence: str, negated: bool = False, hedged: bool = False, hedge_cue: str | None = None) -> Mention:
    start = sentence.index(text)
    return Mention(text=text, start=start, end=start + len(text), iri=f"x:{text}", label=text, score=1.0,
                   negated=negated, via="test", hedged=hedged, hedge_cue=hedge_cue)


def _check(premise: str, hypothesis: str, p: list[tuple], h: list[tuple], proved: list[str] | None = None):
    pm = [_m(t, premise, *rest) for t, *rest in p]
    hm = [_m(t, hypothesis, *rest) for t, *rest in h]
    spans = [(m.start, m.end) for m in hm if proved is None or m.text in proved]
    return unaccounted(premise, hypothesis, pm, hm, spans)


def test_an_unaccounted_content_word_blocks():
    why = _check("A man in the middle east with a cart selling corn.", "An old man is selling corn from his brother's cart.",
                 [("corn",)], [("corn",)])
    assert "old" in why and "brother's" in why


def test_lemma_equal_tokens_are_accounted():
    assert lemma("eating") == lemma("eat") and lemma("apples") == lemma("apple") and lemma("sitting") == lemma("sits")
    assert lemma("studies") == lemma("study") and lemma("Pt") == lemma("patient")
    assert _check("Two girls are sitting on the benches.", "A girl sits on a bench.", [("girls",)], [("girl",)]) == []


def test_the_premise_order_is_kept():
    why = _check("A girl in a green cap, with a little boy behind her.", "A boy in a green cap.", [("cap",)], [("cap",)])
    assert "order: green" in why


def test_a_modal_context_on_one_side_blocks():
    assert "modal: think" in _check("Charles thinks that James has a water gun.", "James has a water gun.",
                                    [("water gun",)], [("water gun",)])
    assert "modal: may" in _check("The patient has pneumonia.", "The patient may have pneumonia.",
                                  [("pneumonia",)], [("pneumonia",)])
    assert _check("Charles thinks that James has a water gun.", "Charles thinks that James has a gun.",
                  [("water gun",)], [("gun",)]) == []


def test_a_frequency_the_premise_does_not_state_blocks():
    # MNLI dev-matched: "an entrance conference is generally held with ... central agencies" does not
    # say "each year"; the concept rules' "central" ≡ "central" must not stand for the sentence.
    premise = "An entrance conference is generally held with applicable central agencies."
    why = _check(premise, "An entrance conference is held with central agencies each year.", [("central",)], [("central",)])
    assert why == ["frequency: each year"]
    assert _check("The review is held with agencies each year.", "The review is held with agencies each year.",
                  [("agencies",)], [("agencies",)]) == []
    # in a clinical frame the frequency is the frame's: "takes X daily" reads "is on X"
    assert _check("She takes aspirin.", "She takes a salicylate daily.", [("aspirin",)], [("salicylate",)]) == []
    # a time frame is still read as the frame of the finding
    assert _check("She has asthma.", "She has had asthma since childhood.", [("asthma",)], [("asthma",)]) == []


def test_a_hedge_the_linker_modelled_is_not_a_modal_context():
    # "possible" hedges the premise mention, which the rules already set aside.
    why = _check("Possible pneumonia; the patient has a cough.", "The patient has a cough.",
                 [("pneumonia", False, True, "possible"), ("cough",)], [("cough",)])
    assert why == []


def test_negation_cues_are_accounted_when_an_assertion_carries_them():
    assert _check("The patient has focal seizures.", "The patient denies seizures.",
                  [("focal seizures",)], [("seizures", True)]) == []
    assert _check("The patient has focal seizures.", "The patient does not have seizures.",
                  [("focal seizures",)], [("seizures", True)]) == []
    # A cue no negated assertion carries: its scope is unknown to the rules.
    assert "not" in _check("The patient has focal seizures.", "The patient has not had focal seizures, they say.",
                           [("focal seizures",)], [("focal seizures",)])


def test_a_premise_word_that_takes_the_concept_back_blocks():
    """"allergic to aspirin" does not take aspirin; "her rash resolved" has no rash now; a word
    inside a name ("immune epilepsy") is the name's."""
    why = _check("The patient is allergic to aspirin.", "The patient takes aspirin.", [("aspirin",)], [("aspirin",)])
    assert why == ["premise: allergic"]
    assert _check("Her rash resolved last week.", "She has a rash.", [("rash",)], [("rash",)]) == ["premise: resolved"]
    assert _check("Pneumonia versus atelectasis.", "Pneumonia.", [("Pneumonia",)], [("Pneumonia",)]) == ["premise: versus"]
    assert _check("She has immune epilepsy.", "She has immune epilepsy.", [("immune epilepsy",)],
                  [("immune epilepsy",)]) == []
    assert _check("The patient takes aspirin.", "The patient takes aspirin.", [("aspirin",)], [("aspirin",)]) == []


def test_a_premise_denial_a_hedged_assertion_carries_has_a_known_scope():
    """"The patient has asthma; there is no family history of asthma." / "The patient has asthma.":
    the "no" denies the family's asthma (negated and hedged), not the patient's."""
    p = "The patient has asthma; there is no family history of asthma."
    pm = [_m("asthma", p), Mention(text="asthma", start=p.rindex("asthma"), end=len(p) - 1, iri="x:asthma",
                                   label="asthma", score=1.0, negated=True, via="test", hedged=True)]
    hm = [_m("asthma", "The patient has asthma.")]
    assert unaccounted(p, "The patient has asthma.", pm, hm, [(hm[0].start, hm[0].end)]) == []
    assert "premise negation: no" in unaccounted(p, "The patient has asthma.", pm[:1], hm, [(hm[0].start, hm[0].end)])


def test_a_past_and_a_present_claim_do_not_match():
    why = _check("The patient had hypertension ten years ago.", "The patient currently has hypertension.",
                 [("hypertension",)], [("hypertension",)])
    assert why == ["time: ago, currently"]
    assert "time: today, yesterday" in _check("The patient has a fever today.", "The patient had a fever yesterday.",
                                              [("fever",)], [("fever",)])
    # no time on the hypothesis's side: the clinical reading of "history of" stands
    assert _check("The patient has a history of asthma.", "The patient has asthma.", [("asthma",)], [("asthma",)]) == []
    assert _check("Fever now.", "The patient has a fever now.", [("Fever",)], [("fever",)]) == []


def test_numbers_and_names_must_match():
    assert "3" in _check("The patient has seizures.", "The patient has 3 seizures.", [("seizures",)], [("seizures",)])
    assert "Maria" in _check("The patient has seizures.", "Maria has seizures.", [("seizures",)], [("seizures",)])


def test_the_clinical_frame_still_entails():
    assert _check("The patient has focal seizures.", "The patient has seizures.",
                  [("focal seizures",)], [("seizures",)]) == []
    assert _check("Pt presents with focal seizures.", "The patient has seizures.",
                  [("focal seizures",)], [("seizures",)]) == []
    # "patient" is no function word: it must be in the premise.
    assert "patient" in _check("My son has focal seizures.", "The patient has seizures.",
                               [("focal seizures",)], [("seizures",)])


def test_words_of_an_unproved_mention_need_the_premise():
    assert "pneumonia" in _check("The patient has a cough.", "The patient has a cough and pneumonia.",
                                 [("cough",)], [("cough",), ("pneumonia",)], proved=["cough"])


@pytest.fixture(scope="module")
def demo_engine(demo_kg):
    from kgnlu.api import Engine

    engine = Engine(demo_kg, dense=False)
    return engine.linker(), engine.rules()


def _decide(demo_engine, premise: str, hypothesis: str, guard: bool | None = True, logic: str = "bag"):
    """The concept-bag rules under the guard (``logic="natlog"``: natural logic after them)."""
    from kgnlu.tasks.nli import decide

    linker, rules = demo_engine
    pm, hm = linker.link_many([premise, hypothesis])
    return decide(rules, premise, hypothesis, pm, hm, guard=guard, logic=logic)


def test_the_seed_example_on_the_demo_kg(demo_engine):
    assert _decide(demo_engine, "I like eating apples", "I like eating fruit").label == "entailment"
    assert _decide(demo_engine, "I like eating fruit", "I like eating apples").label == "unknown"
    assert _decide(demo_engine, "I do not like eating fruit", "I like eating apples").label == "contradiction"
    assert _decide(demo_engine, "I like eating apples", "I do not like eating fruit").label == "contradiction"
    assert _decide(demo_engine, "The patient has an orange.", "The patient has a citrus fruit.").label == "entailment"


def test_a_blocked_verdict_says_why(demo_engine):
    from kgnlu.tasks.nli import symbolic_result

    v = _decide(demo_engine, "I like eating apples", "I hate eating fruit")
    assert v.label == "unknown" and v.unaccounted == ["hate"]
    assert _decide(demo_engine, "I like eating apples", "I hate eating fruit", guard=False).label == "entailment"
    # Natural logic reads the sentence: "hate" is a word the premise lacks, so no verdict either.
    assert _decide(demo_engine, "I like eating apples", "I hate eating fruit", logic="natlog").label == "unknown"
    _, rules = demo_engine
    result = symbolic_result(rules, v)
    assert any(u["text"] == "hate" and u["iri"] == "" for u in result.undecided)
    assert any("'hate'" in line for line in result.explanation)


def test_the_guard_follows_the_module_default(demo_engine, monkeypatch):
    import kgnlu.tasks.nli as nli

    monkeypatch.setattr(nli, "GUARD", True)
    assert _decide(demo_engine, "I like eating apples", "I hate eating fruit", guard=None).label == "unknown"
    monkeypatch.setattr(nli, "GUARD", False)
    assert _decide(demo_engine, "I like eating apples", "I hate eating fruit", guard=None).label == "entailment"

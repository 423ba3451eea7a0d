"""NLI over a pair: link both sides, run the symbolic rules, and (with a model) fuse with neural evidence.

``symbolic_only`` answers from the rule layer alone: its verdict is the label, with "unknown"
read as "neutral", and the gate is 1 (all weight on symbolic evidence).

``decide`` is the one place a pair's verdict is computed from its texts and mentions (symbolic
inference, the fused predictor, training's features and the benchmarks call it). Two readings
(``logic``):

- ``"natlog"`` (``LOGIC``, the default): the concept rules' verdict when the alignment guard
  (``kgnlu.tasks.nli_align``) accounts for every hypothesis word, else the natural-logic verdict
  read from the two sentences (``kgnlu.tasks.natlog``);
- ``"bag"``: the concept rules alone, as before issue 21, set aside when the guard is on (``GUARD``,
  or ``guard=True``) and some hypothesis word is accounted for by neither the premise nor a proof.
  A fused model saved without a ``logic`` in its feature spec was trained on these.
"""

from __future__ import annotations

from collections.abc import Sequence

from kgnlu.kg.rules import CONTRADICTION, ENTAILMENT, UNKNOWN, Assertion, RuleEngine, Verdict
from kgnlu.labels import ID2LABEL, LABEL2ID, VERDICT_TO_LABEL  # noqa: F401 - re-exported
from kgnlu.tasks import natlog
from kgnlu.types import InferResult, Mention, SymbolicResult


def assertions(mentions: Sequence[Mention], side: str) -> list[Assertion]:
    """What a text asserts: its mentions with their polarity, leaving out hedged ones ("possible
    pneumonia" neither affirms nor denies pneumonia, so it can support or clash with nothing)."""
    return [Assertion(m.iri, m.negated, side, m.text, m.start, m.end, tuple(m.readings), m.experiencer)
            for m in mentions if not m.hedged]


# The alignment guard's default everywhere ``decide`` is called without ``guard`` (the rules alone,
# training's features). A fused model follows the verdicts it was trained on (its feature spec's
# "guard"; models saved without one read the concept-bag verdicts, guard off). Off: a model trained
# on guarded verdicts loses 1.8 points on the clinical set and gains nothing on the real sets
# (bench/results/nli_guarded_model.md).
GUARD = False
LOGICS = ("natlog", "bag")
LOGIC = "natlog"


# A hypothesis that says a little more than the clash ("I use an inhaler for my asthma" against "I don't
# have asthma") still contradicts: H ⊏ X and P ⊏ ¬X. One that says much more is another sentence, whose
# negation scopes the linker may misread ("... had no idea that he had diabetes before ..."): on the
# real dev sets every such contradiction with more than two unaccounted words was wrong but one.
MAX_EXTRA_WORDS = 2


def _still_blocks_a_contradiction(why: str) -> bool:
    """Whether a reason of the alignment guard still sets a concept clash aside: a modal, an unread
    negation, two times ("previously had hypokalemia" / "currently has hyperkalemia"), or someone
    else ("the patient" when the premise is not about them)."""
    from kgnlu.tasks.nli_align import PERSON_WORDS, _is_negation, lemma

    return (why.startswith(("modal:", "premise negation:", "time:")) or _is_negation(why)
            or lemma(why) == "patient" or why.lower() in PERSON_WORDS)


def decide(rules: RuleEngine, premise: str, hypothesis: str, premise_mentions: Sequence[Mention],
           hypothesis_mentions: Sequence[Mention], *, guard: bool | None = None, logic: str | None = None) -> Verdict:
    """The verdict for one pair under ``logic`` (default ``LOGIC``); ``guard`` applies to ``"bag"``
    (default ``GUARD``; ``"natlog"`` always guards the concept rules)."""
    from kgnlu.tasks.nli_align import unaccounted

    logic = LOGIC if logic is None else logic
    if logic not in LOGICS:
        raise ValueError(f"unknown NLI rule logic {logic!r}; known: {', '.join(LOGICS)}")
    verdict = rules.decide(assertions(premise_mentions, "premise"), assertions(hypothesis_mentions, "hypothesis"))
    by_text = logic == "natlog"
    if not (by_text or (GUARD if guard is None else guard)):
        return verdict
    why: list[str] = []
    if verdict.label != UNKNOWN:
        spans = [(p.hypothesis.start, p.hypothesis.end) for p in verdict.proofs]
        why = unaccounted(premise, hypothesis, premise_mentions, hypothesis_mentions, spans)
        if by_text and verdict.label == CONTRADICTION and len(why) <= MAX_EXTRA_WORDS:
            why = [w for w in why if _still_blocks_a_contradiction(w)]
        if by_text and not why:
            # Questions, quantifiers, possessives ... the concept rules do not read either.
            surface = natlog.surface_check(premise, hypothesis, premise_mentions, hypothesis_mentions, concepts=True)
            why = [surface] if surface else []
        if not why:
            return verdict
    if by_text:
        text_verdict = natlog.verdict(rules.words, premise, hypothesis, premise_mentions, hypothesis_mentions,
                                      [p for p in verdict.proofs if p.conclusion == ENTAILMENT])
        if text_verdict.label != UNKNOWN:
            return text_verdict
        why = why or text_verdict.unaccounted
    return Verdict(UNKNOWN, proofs=verdict.proofs, undecided=verdict.undecided, decided=verdict.decided,
                   unaccounted=why)


def hedge_notes(premise: Sequence[Mention], hypothesis: Sequence[Mention]) -> list[str]:
    """Explanation lines for the mentions set aside as hedged, and for those about a relative."""
    sides = (("premise", premise), ("hypothesis", hypothesis))
    return ([f"not asserted: {side} {m.text!r} (hedged by {m.hedge_cue!r})" for side, ms in sides for m in ms
             if m.hedged]
            + [f"about the {m.experiencer}: {side} {m.text!r}" for side, ms in sides for m in ms
               if m.experiencer and not m.hedged])


def entities(premise: Sequence[Mention], hypothesis: Sequence[Mention]) -> list[dict]:
    out = []
    for side, ms in (("premise", premise), ("hypothesis", hypothesis)):
        for m in ms:
            out.append({"side": side, "text": m.text, "start": m.start, "end": m.end, "iri": m.iri,
                        "label": m.label, "score": m.score, "negated": m.negated, "hedged": m.hedged,
                        "experiencer": m.experiencer, "readings": list(m.readings)})
    return out


def symbolic_result(rules: RuleEngine, verdict: Verdict, premise: Sequence[Mention] = (),
                    hypothesis: Sequence[Mention] = ()) -> SymbolicResult:
    d = verdict.to_dict()
    return SymbolicResult(verdict=d["verdict"], proofs=d["proofs"], rules=d["rules"], undecided=d["undecided"],
                          decided=round(d["decided"], 4),
                          explanation=rules.explain(verdict) + natlog.explain(verdict) + hedge_notes(premise, hypothesis))


def symbolic_infer(linker, rules: RuleEngine, premise: str, hypothesis: str, *, guard: bool | None = None,
                   logic: str | None = None) -> InferResult:
    p_m, h_m = linker.link_many([premise, hypothesis])
    verdict = decide(rules, premise, hypothesis, p_m, h_m, guard=guard, logic=logic)
    label = VERDICT_TO_LABEL[verdict.label]
    probs = {name: (1.0 if name == label else 0.0) for name in ID2LABEL.values()}
    return InferResult(label=label, probabilities=probs, gate=1.0, neural={},
                       symbolic=symbolic_result(rules, verdict, p_m, h_m), entities=entities(p_m, h_m))

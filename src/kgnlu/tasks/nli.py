"""NLI over a pair: link both sides, run the symbolic rules, and (with a model) fuse with neural evidence.

``symbolic_only`` answers from the rule layer alone: its verdict is the label, with "unknown"
read as "neutral", and the gate is 1 (all weight on symbolic evidence).

``decide`` is the one place a pair's verdict is computed from its texts and mentions (symbolic
inference, the fused predictor, training's features and the benchmarks call it): the rules'
verdict, set aside, when the alignment guard is on (``GUARD``, or ``guard=True``;
``kgnlu.tasks.nli_align``), if some hypothesis word is accounted for by neither the premise nor a proof.
"""

from __future__ import annotations

from collections.abc import Sequence

from kgnlu.kg.rules import UNKNOWN, Assertion, RuleEngine, Verdict
from kgnlu.labels import ID2LABEL, LABEL2ID, VERDICT_TO_LABEL  # noqa: F401 - re-exported
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


def decide(rules: RuleEngine, premise: str, hypothesis: str, premise_mentions: Sequence[Mention],
           hypothesis_mentions: Sequence[Mention], *, guard: bool | None = None) -> Verdict:
    """The verdict for one pair. ``guard=False``: the concept-bag rules alone (the verdict before
    issue 21); default ``GUARD``."""
    from kgnlu.tasks.nli_align import unaccounted

    verdict = rules.decide(assertions(premise_mentions, "premise"), assertions(hypothesis_mentions, "hypothesis"))
    if not (GUARD if guard is None else guard) or verdict.label == UNKNOWN:
        return verdict
    spans = [(p.hypothesis.start, p.hypothesis.end) for p in verdict.proofs]
    why = unaccounted(premise, hypothesis, premise_mentions, hypothesis_mentions, spans)
    if not why:
        return verdict
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
                        "label": m.label, "score": m.score, "negated": m.negated, "hedged": m.hedged})
    return out


def symbolic_result(rules: RuleEngine, verdict: Verdict, premise: Sequence[Mention] = (),
                    hypothesis: Sequence[Mention] = ()) -> SymbolicResult:
    d = verdict.to_dict()
    return SymbolicResult(verdict=d["verdict"], proofs=d["proofs"], rules=d["rules"], undecided=d["undecided"],
                          decided=round(d["decided"], 4),
                          explanation=rules.explain(verdict) + hedge_notes(premise, hypothesis))


def symbolic_infer(linker, rules: RuleEngine, premise: str, hypothesis: str, *, guard: bool | None = None) -> InferResult:
    p_m, h_m = linker.link_many([premise, hypothesis])
    verdict = decide(rules, premise, hypothesis, p_m, h_m, guard=guard)
    label = VERDICT_TO_LABEL[verdict.label]
    probs = {name: (1.0 if name == label else 0.0) for name in ID2LABEL.values()}
    return InferResult(label=label, probabilities=probs, gate=1.0, neural={},
                       symbolic=symbolic_result(rules, verdict, p_m, h_m), entities=entities(p_m, h_m))

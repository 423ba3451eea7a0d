"""The alignment guard of the NLI rule layer (issue 21, first step): decide only on the whole sentence.

``kgnlu.kg.rules`` decides on a bag of linked concepts: one concept both sides mention was enough
for an entailment ("corn" ⊢ "corn" whatever the sentences say around it). The guard lets a verdict
of the rules stand only when **every content word of the hypothesis is accounted for**:

- it lies inside a hypothesis mention whose assertion a proof of the verdict uses (the relation of
  that span to the premise is what the rules proved), or
- an equal or lemma-equal token occurs in the premise (:func:`lemma`: lower case, plural and
  -ed/-ing endings stripped, a few clinical abbreviations expanded: "Pt" is "patient"), the words
  so matched coming in the premise's order (a subsequence of it), or
- it is a closed-class word (:data:`FUNCTION_WORDS`: determiners, pronouns, auxiliaries,
  conjunctions, the prepositions that only link, "in", "on", "at" among them; a spatial one,
  "near", "over", "behind", is a content word), a word of the clinical assertion frame
  (:data:`FRAME_WORDS`: "presents with", "history of", "exam notable for", "takes" a drug, "the
  doctor told us": the assertion's polarity stands for them), a time word (:data:`TIME_WORDS`: the
  rules do not model time, a known hole; but a frequency the premise does not state, "each year",
  is a claim, unaccounted, outside a clinical frame such as "takes X daily": :func:`frequencies`;
  and a premise in the past against a hypothesis in the present, :data:`PAST_WORDS` and
  :data:`PRESENT_WORDS`, "ten years ago" / "currently", is unaccounted too),
  or a negation cue (:data:`NEGATION_CUES`) on a side where some assertion is negated (the polarity
  is already in the assertions; a cue with no negated assertion behind it is unaccounted, and so is
  a premise's).

"Patient" is a content word: it must be in the premise ("Pt" counts), unless the premise is about
the patient without saying so ("she", or a note's nominal sentence that names no one else:
``_premise_is_about_the_patient``). Numbers, dates and names are content words: unmatched, they
leave the pair unknown. Opaque and modal contexts the rules do not model (:data:`MODAL_CUES`: "thinks", "believes", "may", "might",
"if", "could" ...) give unknown unless both sides have the same ones; a cue that hedges a linked
mention ("possible pneumonia") is already modelled (the mention is set aside) and does not count.

Nothing here reads the KG: it compares the two texts, given the linker's mentions and the verdict.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_TOKEN = re.compile(r"[A-Za-z]+(?:n't|'[A-Za-z]+)?|\d+(?:[.,:/]\d+)*")

FUNCTION_WORDS = frozenset("""
a an the this that these those some any each either another such what which whose who whom
i me my mine myself we us our ours ourselves you your yours yourself he him his himself she her hers herself
it its itself they them their theirs themselves one ones there here
be is am are was were been being have has had having do does did doing will shall can
to of for with from by about during before after among upon within via per in on at out
and or but so as than because while although though also too just very then
""".split())

FRAME_WORDS = frozenset("""
present presents presented presenting presentation exam examination examined physical notable significant
reveal reveals revealed show shows showed shown finding findings include includes including noted note notes
report reports reported complain complains complained complaint symptom symptoms sign signs
history known diagnosis diagnosed diagnose confirmed confirm workup assessment clinically clinical
suffer suffers suffered suffering experience experiences experienced experiencing get gets got getting
evidence consistent found find personal final pmh case observed admitted test tests came back living
doctor doctors told tell tells said say says heard seen
take takes took taking taken receive receives received receiving use uses used using med meds medication
medications home treated started start starts continue continues continued
""".split())

# The rules do not model time: the frame's time ("lately", "since childhood", "last year") is read as the
# generated set's labels read it, the finding itself being what the pair is about. A known hole.
TIME_WORDS = frozenset("""
now today currently current lately recently recent past prior previous previously remote ago since still ongoing
daily every day days week weeks month months year years morning night tonight few last childhood established
""".split())

# Two times a pair's sides put a claim at: the rules do not model time, but a premise about the
# past and a hypothesis about the present are no match ("had hypertension ten years ago" /
# "currently has hypertension", "a fever yesterday" / "a fever today"), nor the other way round.
PAST_WORDS = frozenset("previously formerly prior past ago yesterday history earlier".split())
PRESENT_WORDS = frozenset("now currently current today presently tonight".split())

NEGATION_CUES = frozenset("""
no not never none nobody nothing neither nor without deny denies denied denying negative absent absence free
cannot ruled rule rules excluded
""".split())

MODAL_CUES = frozenset("""
may might could would should must if unless whether maybe perhaps possibly possible probably probable likely
unlikely think thinks thought believe believes believed suppose supposes supposed suspect suspects suspected
doubt doubts wonder wonders want wants wish wishes hope hopes seem seems seemed appear appears appeared
""".split())

ABBREVIATIONS = {"pt": "patient", "pts": "patient", "hx": "history", "dx": "diagnosis", "sx": "symptom"}


def lemma(word: str) -> str:
    """A crude lemma: lower case, an abbreviation expanded, -ies/-es/-s/-ed/-ing and a final e stripped,
    a doubled final consonant collapsed ("sitting", "sits" and "sit" all give "sit")."""
    w = word.lower()
    if w.endswith("'s"):
        w = w[:-2]
    w = ABBREVIATIONS.get(w, w)
    if not w.isalpha():
        return w
    if len(w) > 4 and w.endswith(("ies", "ied")):
        w = w[:-3] + "y"
    elif len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
    elif len(w) > 4 and w.endswith("ed"):
        w = w[:-2]
    elif len(w) > 4 and w.endswith("es") and w[-3] in "sxz" or w.endswith(("ches", "shes")):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    if len(w) > 2 and w[-1] == w[-2] and w[-1] not in "aeiou":
        w = w[:-1]
    return w


FRAME_LEMMAS = frozenset(lemma(w) for w in FRAME_WORDS | TIME_WORDS)

# Words whose deletion does not generalise: what they qualify is not, or not yet, or no longer so
# ("a fake doctor" is no doctor, "unable to walk" does not walk, "allergic to aspirin" takes none,
# "her rash resolved" has none now, "pneumonia versus atelectasis" may have neither).
NOT_SUBSECTIVE = frozenset("""fake false mock pseudo imitation counterfeit fictional fictitious imaginary
hypothetical alleged allegedly supposed supposedly purported purportedly apparent apparently
former ex future potential potentially planned intended almost nearly barely
unable forgot forget forgets forgotten fail fails failed failing refuse refused refuses
allergic allergy allergies intolerant intolerance immune immunity resistant vaccinated vaccine vaccination
immunized immunised screened screening risk risks prevent prevents prevented prevention prophylaxis
prophylactic avoid avoids avoided contraindicated versus vs suggestive suggest suggests suggesting
compatible resolved resolves resolving gone stopped quit quitting discontinued cured recovered""".split())

# A frequency is a claim ("held each year" says more than "held"), so a hypothesis's frequency the premise
# does not state leaves an entailment unproved; but in a clinical frame ("takes X daily", "gets migraines
# every month") it is part of the frame, read as the generated set's labels read it ("is on X").
_EVERY = frozenset("each every per".split())
_UNITS = frozenset("day week month year morning night evening hour".split())
_FREQUENCY_WORDS = frozenset("daily nightly weekly monthly yearly annually hourly".split())


def frequencies(words: Sequence[str]) -> list[str]:
    """The frequency phrases among ``words``: "each year", "every morning", "daily"."""
    low = [w.lower() for w in words]
    out = [w for w in low if w in _FREQUENCY_WORDS]
    out += [f"{w} {n}" for w, n in zip(low, low[1:]) if w in _EVERY and n.rstrip("s") in _UNITS]
    return out


def tokens(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


# Who else a premise may be about: then "the patient" of a hypothesis is not its subject.
PERSON_WORDS = frozenset("""
i me my we us our you your man men woman women boy boys girl girls child children kid kids baby person people
son sons daughter daughters mother father mom dad parent parents husband wife brother sister sibling friend
grandmother grandfather aunt uncle cousin family doctor nurse
""".split())


def _premise_is_about_the_patient(p_tokens) -> bool:
    """Whether "the patient" of a hypothesis is the premise's subject: the premise says "patient" (or
    "Pt", "she", "he"), or it is a clinical note's nominal sentence that names no one ("Exam notable
    for microcephaly.", "No wheezing on auscultation."), whose subject is the patient by default."""
    words = [w.lower().split("'")[0] for w, _, _ in p_tokens]
    if any(lemma(w) == "patient" or w in ("she", "he", "her", "his", "him") for w in words):
        return True
    return not any(w in PERSON_WORDS for w in words)


_NOT_A_DENIAL = frozenset({"free", "rule", "rules", "absence", "absent"})  # "absence seizures", "rule of thumb"


def _is_negation(word: str) -> bool:
    w = word.lower()
    return w in NEGATION_CUES or w.endswith("n't")


def _modals(text: str, mentions: Sequence) -> set[str]:
    modelled = {w.lower() for m in mentions if getattr(m, "hedged", False) and m.hedge_cue
                for w, _, _ in tokens(m.hedge_cue)}
    return {lemma(w) for w, _, _ in tokens(text) if w.lower() in MODAL_CUES and w.lower() not in modelled}


def unaccounted(premise: str, hypothesis: str, premise_mentions: Sequence, hypothesis_mentions: Sequence,
                proved_spans: Sequence[tuple[int, int]]) -> list[str]:
    """Why the verdict may not stand: the hypothesis words nothing accounts for, and the opaque or
    modal cues one side has and the other lacks (``"modal: may"``). Empty: the verdict stands.

    ``proved_spans``: the ``(start, end)`` of the hypothesis mentions a proof of the verdict uses.
    """
    p_tokens = tokens(premise)
    p_lemmas = {lemma(w) for w, _, _ in p_tokens} | {w.lower() for w, _, _ in p_tokens}
    h_negated = any(m.negated and not m.hedged for m in hypothesis_mentions)
    # A premise denial some premise assertion carries, asserted or not ("no family history of asthma"):
    # its scope is known.
    p_negated = any(m.negated for m in premise_mentions)
    patient_ok = _premise_is_about_the_patient(p_tokens)
    why: list[str] = []
    matched: list[tuple[str, set[str]]] = []
    h_tokens = tokens(hypothesis)
    for word, start, end in h_tokens:
        low = word.lower()
        if "'" in low and not low.endswith("n't"):  # I've, I'm, she's: the clitic is an auxiliary
            low = low.split("'")[0]
        if any(s <= start and end <= e for s, e in proved_spans):
            continue
        if low in FUNCTION_WORDS or low in MODAL_CUES:  # modal cues are compared below
            continue
        if _is_negation(word):
            if not h_negated:
                why.append(word)
            continue
        lw = lemma(word)
        if lw in FRAME_LEMMAS or (lw == "patient" and patient_ok):
            continue
        if low in p_lemmas or lw in p_lemmas:
            matched.append((word, {low, lw}))
            continue
        why.append(word)
    # The words matched in the premise come in the premise's order ("a boy in a green cap" does not
    # align with "a girl in a green cap, a boy behind her"): a greedy subsequence match.
    p_seq = [{w.lower(), lemma(w)} for w, _, _ in p_tokens]
    at = 0
    for word, forms in matched:
        nxt = next((i for i in range(at, len(p_seq)) if p_seq[i] & forms), None)
        if nxt is None:
            why.append(f"order: {word}")
        else:
            at = nxt + 1
    # A denial in the premise that no premise assertion carries: its scope is unknown to the rules.
    if not p_negated:
        words = [w for w, _, _ in p_tokens]
        why.extend(f"premise negation: {w}" for i, w in enumerate(words)
                   if _is_negation(w) and w.lower() not in _NOT_A_DENIAL
                   and not (w.lower() == "not" and words[i + 1:i + 2] in (["only"], ["just"])))
    # A premise word that takes back what it qualifies ("allergic to aspirin", "rash resolved"):
    # a concept the two sides share is not claimed alike.
    h_lows = {w.lower() for w, _, _ in h_tokens}
    why.extend(f"premise: {w}" for w, s, e in p_tokens if w.lower() in NOT_SUBSECTIVE and w.lower() not in h_lows
               and not any(m.start <= s and e <= m.end for m in premise_mentions))  # "immune epilepsy" is a name
    p_modal, h_modal = _modals(premise, premise_mentions), _modals(hypothesis, hypothesis_mentions)
    why.extend(f"modal: {c}" for c in sorted(p_modal ^ h_modal))
    p_lows = {w.lower() for w, _, _ in p_tokens}
    if (h_lows & PRESENT_WORDS and p_lows & PAST_WORDS) or (h_lows & PAST_WORDS and p_lows & PRESENT_WORDS
                                                            and not p_lows & PAST_WORDS):
        why.append("time: " + ", ".join(sorted((p_lows | h_lows) & (PAST_WORDS | PRESENT_WORDS))))
    h_words = [w for w, _, _ in h_tokens]
    if not any(w.lower() in FRAME_WORDS for w in h_words):
        stated = set(frequencies([w for w, _, _ in p_tokens]))
        why.extend(f"frequency: {f}" for f in frequencies(h_words) if f not in stated)
    return list(dict.fromkeys(why))


__all__ = ["FRAME_WORDS", "FUNCTION_WORDS", "MODAL_CUES", "NEGATION_CUES", "NOT_SUBSECTIVE", "PAST_WORDS",
           "PRESENT_WORDS", "TIME_WORDS",
           "frequencies", "lemma", "tokens", "unaccounted"]

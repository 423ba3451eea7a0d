"""NegEx-style polarity of mentions: which cue, if any, negates each span of a text.

The algorithm follows NegEx (Chapman et al., 2001) with the span-aware refinements a linker
can afford because it already knows where its mentions are:

1. The text is tokenised (words, punctuation, newlines) with character offsets. Trigger phrases
   are matched case-insensitively on whole tokens, longest first, left to right, so
   "no evidence of" wins over "no" and the pseudo-negation "no increase" wins over "no".
   Tokens inside a mention never act as triggers: in "absence seizure" or "Absent thumb" the
   word belongs to the concept's name, it does not negate it.
2. A *pre* trigger negates forward, a *post* trigger backward. Some words ("absent",
   "negative", "ruled out", "excluded", "none") are both: "absent reflexes" vs "reflexes
   absent". They act backward when the clause ends right after them (or an agent/place phrase
   follows: "ruled out by CT", "absent in all quadrants"), and forward otherwise.
3. Scope stops at a sentence boundary (. ? ! ; or a line break that does not continue a list),
   at a conjunction that turns the clause ("but", "however", "although", "aside from",
   "secondary to", an affirmation such as "reports" or "positive for"), and at any other
   trigger, pseudo-triggers included, save "family history of" after a denial and filler words
   ("no other family history of X": X is denied) and "and with" after a denial that ends in
   "with". A bare "negative" reaches only the mention right after it ("negative Babinski sign",
   not "negative mood and anxiety"), and after a word that is not a function word it is that
   word's result ("Coombs negative hemolytic anemia"). A refusal ("declined", "refused") denies
   the care refused, up to the "for" or "of" of what it was for ("declined surgery for the
   hernia"). "w/o" is "without"; a bare "free" right after a mention is its state ("Chest pain free
   at rest", not "free T4"); "none since" says a finding did not recur, not that it never was; a
   verb after "and" ("no fever and has a cough") and "definite" open a new claim. Scope also
   stops after ``MAX_GAP`` words that are neither mentions nor list connectors, counted from the
   trigger or from the last list connector that follows a mention, so that lists of any length
   ("denies fever, chills, night sweats, weight loss, or palpitations") stay in scope while a
   remote mention does not. Walking backward, a comma ends the scope unless it sits in a list
   closed by "and"/"or" ("fever, chills and rigors were absent"), since a fronted clause ("Given
   the normal lactate, sepsis is unlikely") is the commoner reading.
4. Pseudo-triggers ("no increase", "not only", "with or without") negate nothing.
5. Hedges (ConText's *possible* and *hypothetical*: "possible", "rule out", "cannot be excluded",
   "concern for", "might have", "evaluate for"; its *other experiencer*: "family history of";
   and a change over time: "resolved", "was stopped") assert nothing about the patient now.
   ``hedge_cues`` reports them with the same scopes, directions and stops, and a mention in a
   question ("Does the patient have anemia?") is hedged by its "?", as is one a "?" stands before
   ("? pulmonary embolism", "?PE", up to a comma). A modal ("may", "might",
   "could", "should") hedges forward only, and "May" the month or a name ("in May", "May 2020",
   "Dr. May": capitalised inside a sentence, or before a number) is no cue. Hedges never change
   ``negated``: a hedged mention keeps its polarity, and consumers (the NLI rules) decide what
   an unasserted claim is worth.

When several cues cover one span the nearest wins.

6. Experiencers: ``experiencers`` names the relative a sentence makes the subject ("My father has
   X": the father's X). Unlike "family history of X", that is no hedge: X is asserted, of someone
   other than the patient. A relative joined to the patient ("The patient and her mother both have
   asthma") leaves the finding the patient's.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from typing import NamedTuple, Sequence

# Words of padding a scope tolerates between the trigger (or a list connector) and a mention.
# NegEx uses a 5-word window; ours does not count the mentions themselves nor "and"/"or"/",".
MAX_GAP = 5

PRE, POST, EITHER, PSEUDO, CONJ, HEDGE = "pre", "post", "either", "pseudo", "conj", "hedge"

_PRE = """
no | not | denies | denied | deny | denying | without | negative for | absence of |
free of | rules out | was ruled out for | is ruled out for | been ruled out for | ruled out for |
rule him out | rule her out | rule the patient out | ruled him out | ruled her out |
ruled the patient out | can rule out | no evidence of |
no evidence for | no evidence to suggest | no new evidence of | no other evidence of |
no definite evidence of | no convincing evidence of | no radiographic evidence of |
no mammographic evidence of | no sign of | no signs of | no symptoms of | no history of |
no prior history of | no personal history of | no family history of | no complaints of |
no findings of | no findings to indicate | no suggestion of | no suspicion of | no abnormal |
no new | no significant | no suspicious | no definite | no acute | no longer | never |
never had | never developed | neither | cannot | can not | cannot see | did not | does not |
do not | did not have | does not have | did not exhibit | not demonstrate | not exhibit |
not had | not have | not known to have | not associated with | not complain of |
not appreciate | not reveal | not feel | patient was not | didn't | doesn't | don't | isn't |
wasn't | aren't | weren't | hasn't | haven't | hadn't | can't | won't | didnt | doesnt |
dont | isnt | wasnt | cant | lack of | lacks | lacked | lacking | unremarkable for |
fails to reveal | failed to reveal | fails to show | failed to show | fails to demonstrate |
failed to demonstrate | with no | without any | without evidence of | without any evidence of |
without indication of | without sign of | without signs of | nothing to suggest |
nothing suggestive of | not suggestive of | rather than | declined | declines | refused | refuses | w / o |
not true that | is not true that | not the case that | is not the case that |
was negative for | is negative for | were negative for | are negative for | negative : |
negative family history for | negative family history of | negative family history
"""

_POST = """
was ruled out | is ruled out | were ruled out | are ruled out | has been ruled out |
have been ruled out | had been ruled out | was excluded | is excluded | were excluded |
are excluded | has been excluded | have been excluded | is absent | was absent | are absent |
were absent | unlikely | is unlikely | was unlikely | was negative | is negative |
were negative | are negative | not seen | not visualized | not visualised | not identified |
not appreciated | not demonstrated | not detected | not found | not noted | not observed |
not present | not evident | - free | free
"""

_EITHER = "ruled out | excluded | absent | negative | none"

_PSEUDO = """
no increase | no increased | no significant increase | no change | no significant change |
no interval change | no definite change | no suspicious change | no change in |
not necessarily | not only | not cause | not drain | not extend |
without difficulty | without further | without any further |
no further | gram negative | gram-negative | with or without | not drop | no drop |
not limited to | whether or not | no improvement | no improvement in | no relief | no relief of |
no response | no response to | no benefit | no benefit from | no worsening | no worsening of |
no resolution | no resolution of | did not improve | not improve | did not respond | not respond |
failed to respond | failed to improve | no significant improvement | no clinical improvement |
without improvement | did not have improvement | not improving |
and none since | and none since then | and none after | and none afterwards | and none thereafter |
w / o contrast | without contrast | with and without contrast | w / and w / o contrast | w and w / o contrast |
without iv contrast | w / o iv contrast
"""

# Hedges: the claim is open. Direction as for EITHER: backward when the clause ends right after.
_HEDGE = """
possible | possibly | probable | probably | likely | most likely | presumed | presumably |
suspected | suspect | suspicious for | suspicion for | suspicion of | concern for | suggestive of |
suggestive for |
concerning for | worrisome for | worried | worried about | afraid | questionable |
question of | unclear | uncertain | not certain if | not certain whether | not sure if |
not sure whether | unsure if | unsure whether |
wonder if | wondering if | differential includes | differential diagnosis includes |
differential diagnosis of | ddx | evaluate for | evaluation for | evaluated for | workup for |
work up for | work-up for | assess for | screen for | screening for | test me for |
test him for | test her for | test for | testing for | are testing | is testing | were testing |
might | might have | might be | might or might not | may | may or may not |
may have | may be | may need | may start | may develop | could | could be | could have |
maybe | perhaps | consider | considering | consider starting | thinking about | if | in case of |
rule out | to rule out | r/o | rule out for | not ruled out | not been ruled out |
not be ruled out | not rule out | cannot be ruled out | can not be ruled out | cannot rule out |
can't rule out | cannot be excluded | can not be excluded | cannot exclude | can't exclude |
not excluded | not be excluded | not been excluded | to exclude | should i | should |
family history of | family history | family hx of | fh of |
resolved | has resolved | was stopped | stopped | was held | held | was discontinued | discontinued
"""

# ConText's *other experiencer* beyond "family history of": a relative named in a sentence makes
# the conditions stated after it, to the end of the sentence, that relative's ("My father has X
# but not Y", "the doctor told us my daughter doesn't have X"), until the text turns back to the
# patient ("he", "she", "the patient") or to what the relative says ("Her mother reports that she
# has a fever" is about the patient); a closing "for/in [my] RELATIVE" claims the conditions
# before it in its sentence ("X was ruled out for my grandfather").
_RELATIVES = frozenset("""mother father mom dad brother brothers sister sisters sibling siblings son sons
    daughter daughters aunt uncle cousin grandmother grandfather grandma grandpa parent parents twin""".split())
_CANONICAL_RELATIVE = {"mom": "mother", "dad": "father", "grandma": "grandmother", "grandpa": "grandfather",
                       "brothers": "brother", "sisters": "sister", "siblings": "sibling", "sons": "son",
                       "daughters": "daughter", "parents": "parent"}
_DETERMINERS = frozenset("my his her their our your the a".split())
_LINEAGE = frozenset("maternal paternal".split())
_AGES = frozenset("younger older elder big little twin".split())
_PATIENT = frozenset("patient pt proband he she i me".split())
_BACK_TO_PATIENT = frozenset("""he she patient pt i reports reported says said states stated tells told notes
    noted noticed brought thinks thought worries worried asks asked believes mentions mentioned explains
    explained describes described""".split())
# A relative who found her or him found the patient ("Her mother found her with a fever"); one who
# "was found" to have something, or "found with" it, is the one who has it.
_FOUND = frozenset({"found", "finds"})

# Clause-turning words: NegEx's conjunction list plus affirmation cues, which open a new claim.
_CONJ = """
but | however | although | though | yet | still | nevertheless | nonetheless | whereas |
except | except for | aside from | apart from | other than | besides | which | who | unless |
because | since | secondary to | due to | cause of | cause for | causes of | source of |
sources of | reason for | reasons for | etiology of | etiology for | origin of | origin for |
as the cause of | as a cause of | reports | reported | reporting | endorses | endorsed |
complains of | complained of | complaining of | admits to | presents with | presented with |
presenting with | positive for | significant for | notable for | remarkable for | now has |
and with | and has | and had | and have | and is | and was | and reports | and complains of |
and he | and she | and the patient | and patient | definite | in a patient with |
in patients with
"""

# Modal verbs among the hedges: they hedge forward only ("Cannabinoids may not mirror ...": not the cannabinoids).
_MODALS = frozenset("may might could should".split())

# After an EITHER trigger, these followers mean "the negated thing came before me".
_POST_FOLLOWERS = frozenset("by with on in at via per throughout bilaterally today now as before after".split())

# List connectors: they neither count towards the gap nor end a scope.
_CONNECTORS = frozenset({",", "and", "or", "nor", "/", "&"})

# A period after these is not a sentence boundary. "ms", "st", "etc" are left out on purpose:
# "history of MS." and "fever, chills, etc." end sentences more often than they abbreviate.
_ABBREVIATIONS = frozenset("dr mr mrs vs approx e.g i.e".split())

# Words, newlines and single punctuation marks; the group makes ``split`` keep the tokens. The first
# branch is only a faster path through the second, for an ASCII word that nothing joins on to.
_TOKEN = re.compile(r"([a-zA-Z0-9]+(?![^\W_]|[\u0300-\u036f'’])"
                    r"|(?:[a-zA-Z0-9]+|[^\W_]|[\u0300-\u036f])+(?:['’][^\W_]+)*|\n|[^\w\s]|_)")

_SENTENCE_ENDS = frozenset({".", "!", ";", "?", "\n"})
# A refusal denies the care refused, not what it was for: "declined surgery for the hernia".
_REFUSALS = frozenset("declined declines refused refuses".split())
_INDICATION = frozenset({"for", "of"})  # "refused to take aspirin" refuses the aspirin
# A bare "free" is the state of the mention right before it when the phrase ends there or goes on
# to when ("Chest pain free at rest", "Seizure free for two years"); "free T4" names a hormone.
_AFTER_FREE = frozenset("at since for now today and but with x in on".split())
# Words after which a bare "negative" opens a phrase ("a negative Babinski sign", "ROS: negative
# headache"); after any other word it is that word's result: "Coombs negative hemolytic anemia",
# "culture negative endocarditis", "triple negative breast cancer".
_BEFORE_NEGATIVE = frozenset("""a an the his her their its our my your and or but with without of for in on at to
    is was were are be been being had has have otherwise remained remains all also still show shows showed
    reveal reveals revealed demonstrate demonstrates demonstrated display displays displayed exert exerts
    exerted test tests tested prove proves proved appear appears appeared seem seems seemed""".split())
# Words a denial may have before "family history of" and still deny it ("no other family history of X").
_FILLERS = frozenset("other significant known any a an prior relevant pertinent positive".split())


@dataclass(frozen=True)
class Cue:
    """A negation trigger as it appears in the text; ``kind`` is its resolved direction."""

    trigger: str
    start: int
    end: int
    kind: str  # "pre" | "post"


class _Tokens(NamedTuple):
    """A text's tokens as columns: the scans below read one column across many tokens."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    lows: tuple[str, ...]  # casefolded, "’" as "'"


class _Event(NamedTuple):
    role: str
    first: int  # token index of the first trigger token
    last: int  # token index of the last trigger token
    experiencer: bool = False  # also hedges what it covers: "no family history of X" is not about the patient


@lru_cache(maxsize=4)  # polarity_cues and experiencers read the same text one after the other
def _tokens(text: str) -> _Tokens:
    parts = _TOKEN.split(text)  # gap, token, gap, ..., token, gap
    offsets = list(accumulate(map(len, parts)))
    words = parts[1::2]
    # No token holds a space and casefold maps each character on its own, so one call folds them all.
    lows = " ".join(words).casefold().replace("’", "'").split(" ") if words else ()
    return _Tokens(tuple(offsets[0:-1:2]), tuple(offsets[1::2]), tuple(lows))


def _experiencer(phrase: tuple[str, ...]) -> bool:
    """"(no) family history of": the condition is a relative's, whatever the polarity."""
    return "family" in phrase or phrase[:1] == ("fh",)


def _phrase_table() -> dict[str, list[tuple[tuple[str, ...], str, bool]]]:
    """First token -> [(phrase tokens, role, experiencer)], longest first."""
    table: dict[str, list[tuple[tuple[str, ...], str, bool]]] = {}
    for role, block in ((PRE, _PRE), (POST, _POST), (EITHER, _EITHER), (PSEUDO, _PSEUDO), (CONJ, _CONJ),
                        (HEDGE, _HEDGE)):
        for phrase in block.split("|"):
            toks = _tokens(phrase.strip()).lows
            if toks:
                table.setdefault(toks[0], []).append((toks, role, _experiencer(toks)))
    for options in table.values():
        options.sort(key=lambda o: -len(o[0]))
    return table


_PHRASES = _phrase_table()  # read-only after import: a constant, like the tables it is built from
_CUE_WORDS = frozenset(w for options in _PHRASES.values() for phrase, _, _ in options for w in phrase)


@lru_cache(maxsize=4)  # as _tokens: both polarity_cues and experiencers need them
def _boundaries(text: str) -> tuple[bool, ...]:
    """Which tokens end a sentence (and therefore every scope that reaches them)."""
    _, ends, lows = _tokens(text)
    out = [False] * len(lows)
    for i in [i for i, low in enumerate(lows) if low in _SENTENCE_ENDS]:
        low, prev = lows[i], lows[i - 1] if i else ""
        if low in (";", "?", "!"):
            out[i] = True
        elif low == ".":
            # "3.5 mg" and "Dr. Smith" are not sentence ends; ". " and a final "." are.
            end = ends[i]
            followed_by_space = end == len(text) or text[end].isspace() or text[end] in "\"')]<["  # "<" "[": a citation
            prev3 = "".join(lows[max(0, i - 3):i])  # "e.g." / "i.e."
            out[i] = followed_by_space and prev not in _ABBREVIATIONS and prev3 not in _ABBREVIATIONS
        else:
            # A wrapped list ("denies fever,\nchills") continues; anything else, or a blank line, ends.
            out[i] = prev not in _CONNECTORS
    return tuple(out)


def experiencers(text: str, spans: Sequence[tuple[int, int]], names: Sequence[tuple[int, int]] | None = None,
                 hedges: Sequence[Cue | None] | None = None) -> list[str | None]:
    """For each span, the relative whose condition the text says it is ("father" for "My dad has
    X"), or ``None`` (the patient, or the speaker). See ``_RELATIVES``: the relative's sentence,
    after the relative, up to a turn back to the patient. Such a mention is still asserted:
    "My father has X" entails "My father has Y" when X ⊑ Y, and says nothing of the patient.

    ``names``: the spans that are names of concepts (default: ``spans``); a relative's word inside
    one ("Parent-of-origin effect") names no person. Dense guesses that swallowed a "father" are
    better left out of them.

    ``hedges``: the spans' hedge cues (``hedge_cues``); a span that "family history of" hedges and
    no named relative claims is "family"'s."""
    starts, ends, lows = _tokens(text)
    named = spans if names is None else names
    # A relative after "by" is the agent of what befalls the patient ("brought in by her mother for confusion").
    relatives = {i for i, low in enumerate(lows)
                 if low in _RELATIVES and not any(s <= starts[i] < e for s, e in named)
                 and "by" not in lows[max(0, i - 2):i] and not _with_patient(lows, i)}
    # Most texts name no relative: then there are no marks and nothing to claim.
    stop = _boundaries(text) if relatives else ()
    mark_at: list[int] = []  # char offsets, ascending
    mark_who: list[str | None] = []  # the experiencer from mark_at[k] on
    current = None
    for i in range(min(relatives, default=len(lows)), len(lows)):
        if i in relatives:
            current = _CANONICAL_RELATIVE.get(lows[i], lows[i])
            mark_at.append(ends[i])
            mark_who.append(current)
        elif current is not None and (stop[i] or lows[i] in _BACK_TO_PATIENT
                                      or lows[i] in _FOUND and lows[i + 1:i + 2] in (("her",), ("him",))):
            current = None
            mark_at.append(starts[i])
            mark_who.append(None)
    out = []
    for start, _ in spans:
        k = bisect_right(mark_at, start)
        out.append(mark_who[k - 1] if k else None)
    # "... ruled out X for my grandfather": a closing "for/in [my] RELATIVE" claims its sentence.
    sentence_start, first = 0, 0  # the sentence's first character and token
    for i in range(len(lows)) if relatives else ():
        if stop[i]:
            sentence_start, first = ends[i], i + 1
        elif i in relatives:
            j = i - 1
            while j >= 0 and (lows[j] in _DETERMINERS or lows[j] in _LINEAGE):  # "in her maternal grandmother"
                j -= 1
            # Not when the sentence shares it: "...also present in her maternal grandmother", "in the
            # proband at age 5 and in her maternal grandmother at 60".
            said = lows[first:max(j, first)]
            if j >= 0 and lows[j] in ("for", "in") and not ("also" in said or _PATIENT.intersection(said)):
                rel = _CANONICAL_RELATIVE.get(lows[i], lows[i])
                out = [rel if w is None and sentence_start <= s < starts[j] else w
                       for (s, _), w in zip(spans, out)]
    if hedges is not None:
        out = [w if w is not None or h is None or not _experiencer(_tokens(h.trigger).lows) else "family"
               for w, h in zip(out, hedges)]
    return out


def _with_patient(lows: tuple[str, ...], i: int) -> bool:
    """Whether the relative at ``i`` shares its clause's subject with the patient: "The patient and
    her mother both have asthma", "This patient and his younger brother exhibited hearing loss"."""
    j = i - 1
    while j >= 0 and (lows[j] in _DETERMINERS or lows[j] in _LINEAGE or lows[j] in _AGES):
        j -= 1
    if j >= 1 and lows[j] == "and" and lows[j - 1] in _PATIENT:
        return True
    return i + 2 < len(lows) and lows[i + 1] == "and" and lows[i + 2] in _PATIENT


def _month(text: str, toks: _Tokens, i: int) -> bool:
    """Whether the token "may" at ``i`` is the month (or a name), not the modal: "May" before a number
    ("May 2020", "on May 3") or capitalised inside a sentence ("in May", "3 May", "Dr. May")."""
    starts, ends, lows = toks
    if i + 1 < len(lows) and lows[i + 1][0].isdecimal():
        return True
    if text[starts[i]:ends[i]] != "May":  # "may", and "MAY" in a heading, are the modal
        return False
    k = i - 1
    while k >= 0 and lows[k] in _OPENERS:
        k -= 1
    return k >= 0 and not _boundaries(text)[k]  # "May" opening a sentence is the modal


_OPENERS = frozenset("\"'([“‘")  # what may stand before a sentence's first word


def _events(toks: _Tokens, mentions_at: dict[int, list[int]], text: str) -> list[_Event]:
    """Trigger, pseudo-trigger and conjunction phrases, leftmost-longest, outside mentions
    (experiencer phrases excepted: HPO has a concept named "Family history"; "May" the month is none)."""
    lows = toks.lows
    n = len(lows)
    events: list[_Event] = []
    free = 0  # the first token not inside an earlier phrase
    for i in [i for i, low in enumerate(lows) if low in _PHRASES]:  # most tokens start no phrase
        if i < free or (lows[i] == "may" and _month(text, toks, i)):
            continue
        for phrase, role, experiencer in _PHRASES[lows[i]]:
            j = i + len(phrase)
            # The last word first: it rejects most of the 40 phrases that start with "no" or "not" cheaply.
            if (j <= n and lows[j - 1] == phrase[-1] and lows[i:j] == phrase
                    and (experiencer or not any(k in mentions_at for k in range(i, j)))):
                events.append(_Event(role, i, j - 1, experiencer))
                free = j
                break
    return events


def _resolve(event: _Event, lows: tuple[str, ...], stop: list[bool]) -> str:
    """Direction of a trigger: EITHER becomes pre or post from what follows it."""
    if event.role not in (EITHER, HEDGE):
        return event.role
    if lows[event.first] in _MODALS:  # a modal scopes the verb after it, whatever follows ("may not", "may possibly")
        return PRE
    nxt = event.last + 1
    if nxt >= len(lows) or stop[nxt] or lows[nxt] in _CONNECTORS or lows[nxt] in _POST_FOLLOWERS:
        return POST
    if not lows[nxt][0].isalnum():  # "Fever: absent." / "absent)" — punctuation closes the phrase
        return POST
    return PRE


def _free_applies(ev: _Event, lows: tuple[str, ...], mentions_at: dict[int, list[int]]) -> bool:
    """Whether an event is a cue at all: a bare "free" only right after a mention (``_AFTER_FREE``)."""
    if lows[ev.first:ev.last + 1] != ("free",):
        return True
    nxt = lows[ev.last + 1] if ev.last + 1 < len(lows) else "."
    return ev.first - 1 in mentions_at and (not nxt[0].isalnum() or nxt in _AFTER_FREE)


def _scope(start: int, step: int, lows: tuple[str, ...], stop: list[bool],
           mentions_at: dict[int, list[int]], max_gap: int = MAX_GAP) -> set[int]:
    """Mentions reached walking from token ``start`` by ``step`` (+1 forward, -1 backward)."""
    covered: set[int] = set()
    gap, after_mention, in_list = 0, False, False
    k, n = start, len(lows)
    while 0 <= k < n and not stop[k]:
        if k in mentions_at:
            covered.update(mentions_at[k])
            after_mention = True
        elif lows[k] in _CONNECTORS:
            # Walking back, a comma outside an "X, Y and Z" list closes a fronted clause:
            # "Given the normal lactate, sepsis is unlikely" negates sepsis only.
            if step < 0 and lows[k] == "," and not in_list:
                break
            if after_mention:  # the list goes on: the next item gets a fresh window
                gap = 0
                in_list = in_list or lows[k] != ","
        elif lows[k][0].isalnum():
            gap += 1
            after_mention = False
            if gap > max_gap:
                break
        k += step
    return covered


def negation_cues(text: str, spans: Sequence[tuple[int, int]]) -> list[Cue | None]:
    """For each mention span ``(start, end)`` (character offsets into ``text``), the cue that
    negates it, or ``None`` when the mention is affirmed (or merely hedged)."""
    return _cues(text, spans)[0]


def hedge_cues(text: str, spans: Sequence[tuple[int, int]]) -> list[Cue | None]:
    """For each span, the hedge that leaves it open ("possible", "rule out", a question's "?"),
    or ``None`` when it is asserted (affirmed or negated)."""
    return _cues(text, spans)[1]


def polarity_cues(text: str, spans: Sequence[tuple[int, int]]) -> tuple[list[Cue | None], list[Cue | None]]:
    """``(negation_cues, hedge_cues)`` in one pass."""
    return _cues(text, spans)


def _mentions_at(toks: _Tokens, spans: Sequence[tuple[int, int]]) -> dict[int, list[int]]:
    """Token index -> the spans that overlap it (found by bisection); tokens of no mention are left out."""
    mentions_at: dict[int, list[int]] = {}
    starts, ends = toks.starts, toks.ends
    for m, (s, e) in enumerate(spans):
        k = bisect_right(ends, s)
        while k < len(starts) and starts[k] < e:
            mentions_at.setdefault(k, []).append(m)
            k += 1
    return mentions_at


def cue_spans(text: str, spans: Sequence[tuple[int, int]] = (), family: bool = True) -> list[tuple[int, int]]:
    """``(start, end)`` of every trigger, pseudo-trigger, conjunction and hedge phrase of ``text``
    outside ``spans`` (the mentions): words that say how a finding is meant, never a finding.
    ``family`` False: not the experiencer phrases ("family history of")."""
    toks = _tokens(text)
    return [(toks.starts[ev.first], toks.ends[ev.last]) for ev in _events(toks, _mentions_at(toks, spans), text)
            if family or not ev.experiencer]


def within_cues(text: str, spans: Sequence[tuple[int, int]]) -> list[bool]:
    """For each span, whether it lies inside a trigger, hedge or conjunction phrase, which names no
    finding ("excluded" in "Pneumonia was excluded" is no mention of HPO's Excluded). An experiencer
    phrase is no such cue: HPO names a concept "Family history"."""
    # Most spans hold a word no cue phrase has: they cannot lie inside one, and the text need not be read.
    maybe = [all(w.casefold().replace("’", "'") in _CUE_WORDS for w in _TOKEN.findall(text, s, e)) for s, e in spans]
    if not any(maybe):
        return maybe
    cues = cue_spans(text, family=False)
    return [m and any(a <= s and e <= b for a, b in cues) for m, (s, e) in zip(maybe, spans)]


def _cues(text: str, spans: Sequence[tuple[int, int]]) -> tuple[list[Cue | None], list[Cue | None]]:
    spans = [(int(s), int(e)) for s, e in spans]
    for s, e in spans:
        if not 0 <= s <= e <= len(text):
            raise ValueError(f"span ({s}, {e}) is outside a text of length {len(text)}")
    if not spans:
        return [], []
    toks = _tokens(text)
    starts, ends, lows = toks
    mentions_at = _mentions_at(toks, spans)
    events = [ev for ev in _events(toks, mentions_at, text) if _free_applies(ev, lows, mentions_at)]
    stop = list(_boundaries(text))
    before = None
    for ev in events:  # every trigger, pseudo-trigger and conjunction closes the other scopes...
        # ...but "family history of" right after a negation ("no other family history of X",
        # "denies family history of X") is what the negation denies: X is negated and hedged; and
        # "and with" goes on a denial that ends in "with" ("not associated with nausea and with photophobia").
        after = before is not None and before.role in (PRE, EITHER)
        if not (after and ev.experiencer and all(w in _FILLERS for w in lows[before.last + 1:ev.first])
                or after and ev.role == CONJ and lows[ev.first:ev.last + 1] == ("and", "with")
                and lows[before.last] == "with"):
            for k in range(ev.first, ev.last + 1):
                stop[k] = True
        before = ev

    best: list[tuple[int, Cue] | None] = [None] * len(spans)
    hedge: list[tuple[int, Cue] | None] = [None] * len(spans)
    for ev in events:
        if ev.role in (PSEUDO, CONJ):
            continue
        kind = _resolve(ev, lows, stop)
        # A bare "negative" denies only what it stands before ("negative Babinski sign"), not what a
        # noun of its own leads ("negative mood and anxiety"), and after a test it names is the
        # test's result ("HIV negative hemolytic anemia", "ANCA-negative vasculitis").
        bare = ev.role == EITHER and lows[ev.first] == "negative"
        if bare and ev.first and (lows[ev.first - 1] == "-" or ev.first - 1 in mentions_at
                                  or lows[ev.first - 1].isalnum() and lows[ev.first - 1] not in _BEFORE_NEGATIVE
                                  and ev.last + 1 in mentions_at):  # "negative staining", "negative feedback": no
            kind = POST
        start, end = starts[ev.first], ends[ev.last]
        cue = Cue(text[start:end], start, end, kind)
        if kind == PRE:
            covered = _scope(ev.last + 1, 1, lows, stop, mentions_at, 0 if bare else MAX_GAP)
            if lows[ev.last] in _REFUSALS:
                cut = next((starts[k] for k in range(ev.last + 1, len(lows)) if lows[k] in _INDICATION), len(text))
                covered = [m for m in covered if spans[m][0] < cut]
        else:
            covered = _scope(ev.first - 1, -1, lows, stop, mentions_at)
        tables = [hedge] if ev.role == HEDGE else [best, hedge] if ev.experiencer else [best]
        for m in covered:
            s, e = spans[m]
            distance = s - end if kind == PRE else start - e
            for table in tables:
                if table[m] is None or distance < table[m][0]:
                    table[m] = (distance, cue)
    if "?" in text:  # the only character that folds to "?"
        _questions(toks, stop, mentions_at, hedge)
    return [b[1] if b else None for b in best], [h[1] if h else None for h in hedge]


def _questions(toks: _Tokens, stop: list[bool], mentions_at: dict[int, list[int]],
               hedge: list[tuple[int, Cue] | None]) -> None:
    """Mentions in a sentence that ends with "?" are hedged by it (unless a hedge word already is),
    and so are those a "?" stands before, as clinical notes query a diagnosis ("? pulmonary
    embolism", "?PE"): a "?" that opens a line or follows a space or a mark, before a word."""
    starts, ends, lows = toks
    first = 0  # the sentence's first token
    for k in [k for k, low in enumerate(lows) if low in _SENTENCE_ENDS]:
        if lows[k] == "?" and k + 1 < len(lows) and lows[k + 1][0].isalnum() and (
                k == 0 or starts[k] > ends[k - 1] or lows[k - 1] in ("\n", ":", ",", "(")):
            j = k + 1
            while j < len(lows) and not stop[j] and lows[j] != ",":  # "? pneumonia, cough": one item
                j += 1
            cue = Cue("?", starts[k], ends[k], PRE)
            for m in [m for i in range(k + 1, j) for m in mentions_at.get(i, ())]:
                if hedge[m] is None:
                    hedge[m] = (0, cue)
            first = k + 1
            continue
        question = lows[k] == "?"
        if question or stop[k]:
            if question:
                cue = Cue("?", starts[k], ends[k], POST)
                for m in [m for i in range(first, k + 1) for m in mentions_at.get(i, ())]:
                    if hedge[m] is None:
                        hedge[m] = (0, cue)
            first = k + 1


def negated(text: str, spans: Sequence[tuple[int, int]]) -> list[bool]:
    """For each span, whether a negation cue has it in scope."""
    return [cue is not None for cue in negation_cues(text, spans)]


__all__ = ["experiencers", "Cue", "MAX_GAP", "cue_spans", "hedge_cues", "negated", "negation_cues", "polarity_cues",
           "within_cues"]

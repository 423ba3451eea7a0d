"""Natural logic by alignment (issue 21): a verdict read from the two sentences, not from a bag of concepts.

The hypothesis is aligned to the premise word by word, in order (the family of NatLog, MacCartney and
Manning 2009, and MonaLog). Every content word of the hypothesis must be accounted for:

- by a premise word after the previous one, with the relation the KG gives between the two words
  (``kg.words.WordRelations``: ``≡`` the same word or a synonym, ``⊏`` the premise word is a kind of
  the hypothesis word, ``⊐`` the reverse, ``|`` disjoint, e.g. WordNet antonyms);
- or it is an insertion, ``⊐`` (the hypothesis says more).

Premise content words left over are deletions, ``⊏`` (dropping a modifier makes a sentence more
general). Each edit's relation is projected through its context: inside the scope of a negation
(from the cue to the end of its clause) ``⊏`` and ``⊐`` swap, as do ``|`` and ``‿``. A negation only one
side has is one more edit, ``^``, applied after the word edits when the hypothesis adds it and
before them when it drops the premise's. The edits are joined left to right with MacCartney's join
table; ``≡`` or ``⊏`` is an entailment, ``^`` or ``|`` a contradiction, anything else unknown.

What the sentences' surface cannot settle gives **unknown**, never a guess (each measured on the
real dev sets, ``bench/symbolic.py``):

- modal and opaque cues on one side only ("may", "thinks", "if"), questions, quantifiers other
  than the plain existential ("all", "every", "no", "few", "only", "most") unless both sides have
  the same and nothing but equal words differ, two negations on a side, a negation whose clause
  is too short to have a scope ("Not really, ..."), an interjection "no" ("no I just painted"), and
  words that deny only sometimes ("free", "absent", "rule");
- a hypothesis number the premise does not have, a possessive the premise lacks ("her child"),
  a premise clause that only reports the aligned one ("the accounts created the impression that
  ..."), a deleted verb between aligned words ("a girl [holds her friend] wearing jeans": the
  words around it change roles), a deleted person before the aligned words ("His mother has
  diabetes" is not "He has diabetes"), negations at different places, a word of a linked concept
  against a word of a linked concept of the same ontology with another name (the ontology relates
  those: HPO's "ocular hypertension" is no kind of its "hypertension", whatever deleting "ocular"
  says);
- a contradiction that also inserts words: "Two elderly men" | "two elderly women having a
  conversation with their children" holds in natural logic, but the curators read it neutral.

Prepositions are content words here (they must align), unlike in the alignment guard: "by the year
2000" is not "in the year 2000".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from kgnlu.kg.rules import CONTRADICTION, ENTAILMENT, UNKNOWN, Assertion, Proof, Verdict
from kgnlu.kg.tables import Step
from kgnlu.kg.words import ALTERNATION, EQ, FORWARD, INDEPENDENT, REVERSE, WordRelations, is_number
from kgnlu.tasks.nli_align import (FUNCTION_WORDS, MODAL_CUES, NEGATION_CUES, NOT_SUBSECTIVE, TIME_WORDS, _modals,
                                    lemma)
from kgnlu.tasks.readings import ontology

NEGATION, COVER = "^", "‿"
# MacCartney and Manning's join of two relations (x R y, y S z => x (R ⋈ S) z); ≡ is the identity.
_JOIN = {
    FORWARD: {FORWARD: FORWARD, REVERSE: INDEPENDENT, NEGATION: ALTERNATION, ALTERNATION: ALTERNATION, COVER: INDEPENDENT},
    REVERSE: {FORWARD: INDEPENDENT, REVERSE: REVERSE, NEGATION: COVER, ALTERNATION: INDEPENDENT, COVER: COVER},
    NEGATION: {FORWARD: COVER, REVERSE: ALTERNATION, NEGATION: EQ, ALTERNATION: REVERSE, COVER: FORWARD},
    ALTERNATION: {FORWARD: INDEPENDENT, REVERSE: ALTERNATION, NEGATION: FORWARD, ALTERNATION: INDEPENDENT, COVER: FORWARD},
    COVER: {FORWARD: COVER, REVERSE: INDEPENDENT, NEGATION: REVERSE, ALTERNATION: REVERSE, COVER: INDEPENDENT},
}
_DOWNWARD = {FORWARD: REVERSE, REVERSE: FORWARD, ALTERNATION: COVER, COVER: ALTERNATION}

# Words that deny only in some readings ("free of pain" / "a free concert", "absence seizures").
AMBIGUOUS_DENIALS = frozenset({"free", "rule", "rules", "absence", "absent"})
NEGATIONS = (NEGATION_CUES - AMBIGUOUS_DENIALS) | {"nobody", "nothing", "none", "noone"}
# Whose condition a premise may state without the hypothesis saying so ("His mother has diabetes").
RELATIVES = frozenset("""mother mothers father fathers mom dad parent parents son sons daughter daughters husband wife
brother brothers sister sisters sibling siblings friend friends grandmother grandfather aunt uncle cousin family""".split())
QUANTIFIERS = frozenset({"all", "every", "each", "most", "few", "only", "many", "several", "both", "neither"})
POSSESSIVES = frozenset({"my", "your", "his", "its", "our", "their", "her"})
PREPOSITIONS = frozenset("""in on at by near under inside outside into onto behind above below beside across through
along around toward towards against between from with without""".split())
# Function words of the guard that carry meaning an alignment must keep.
CONTENT_FUNCTION_WORDS = PREPOSITIONS | frozenset("""before after during out up down off over himself herself themselves
itself myself yourself ourselves what which who whom whose where when why how just only alone""".split())
_CLAUSE_BREAKS = frozenset({",", ";", ".", "!", "and", "but", "while", "who", "which", "because", "although", "when"})
_PRONOUNS = frozenset({"i", "you", "he", "she", "it", "we", "they", "me", "him", "her", "us", "them", ",", "."})
_TOKEN = re.compile(r"[A-Za-z]+(?:n't|'[A-Za-z]+)?|\d+(?:[.,:/]\d+)*|[,;.!?]")


def join(a: str, b: str) -> str:
    if a == EQ:
        return b
    if b == EQ:
        return a
    if INDEPENDENT in (a, b):
        return INDEPENDENT
    return _JOIN[a][b]


def project(relation: str, downward: bool) -> str:
    return _DOWNWARD.get(relation, relation) if downward else relation


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int

    @property
    def low(self) -> str:
        return self.text.lower()


@dataclass(frozen=True)
class Edit:
    kind: str  # "match" | "substitute" | "delete" | "insert" | "negate"
    premise: Token | None
    hypothesis: Token | None
    relation: str  # the lexical relation, premise to hypothesis
    projected: str  # the relation after projection through its context
    axioms: tuple[Step, ...] = ()
    concepts: tuple[str, str] | None = None  # (premise, hypothesis) IRIs of a concept the concept rules proved

    def render(self) -> str:
        p = self.premise.text if self.premise else "∅"
        h = self.hypothesis.text if self.hypothesis else "∅"
        proj = "" if self.projected == self.relation else f", projected {self.projected}"
        return f"{self.kind} {p!r} → {h!r}: {self.relation}{proj}"


def tokens(text: str) -> list[Token]:
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def is_negation(t: Token) -> bool:
    return t.low in NEGATIONS or t.low.endswith("n't")


def is_content(t: Token) -> bool:
    if not t.text[0].isalnum():
        return False
    if t.text.isupper() and (len(t.text) > 1 or t.start > 0):  # "US", "MRI", "hemophilia A": not "us", "a"
        return True
    low = t.low.split("'")[0] if "'" in t.low and not t.low.endswith("n't") else t.low
    if low in CONTENT_FUNCTION_WORDS:
        return True
    return not (low in FUNCTION_WORDS or low in MODAL_CUES or is_negation(t))


def _has_possessive(ts: list[Token]) -> bool:
    # "her" is a possessive before a content word ("her child"), an object pronoun otherwise.
    return any(t.low in POSSESSIVES and (t.low != "her" or (i + 1 < len(ts) and is_content(ts[i + 1])))
               for i, t in enumerate(ts))


def _quantifiers(ts: list[Token]) -> set[str]:
    """The quantifiers of a sentence, but not of a time phrase ("every morning": the rules do not model
    time) nor the "only" of "not only ... but also"."""
    out = set()
    for i, t in enumerate(ts):
        if t.low not in QUANTIFIERS:
            continue
        if i + 1 < len(ts) and ts[i + 1].low in TIME_WORDS:
            continue
        if t.low == "only" and i > 0 and ts[i - 1].low == "not":
            continue
        out.add(t.low)
    return out


def _downward(ts: list[Token]) -> list[bool]:
    """Whether each token lies in a negation's scope: from the cue to the end of its clause."""
    out, on = [], False
    for t in ts:
        if is_negation(t):
            on = True
            out.append(False)
            continue
        if t.low in _CLAUSE_BREAKS:
            on = False
        out.append(on)
    return out


def _unknown(why: str) -> Verdict:
    return Verdict(UNKNOWN, unaccounted=[why])


def surface_check(premise: str, hypothesis: str, premise_mentions: Sequence = (),
                  hypothesis_mentions: Sequence = (), *, concepts: bool = False) -> str | None:
    """Why the surface of the pair leaves it to no rule (see the module doc), or None. ``concepts``:
    for a verdict of the concept rules, which read hedges and experiencers themselves."""
    return _surface_check(premise, hypothesis, tokens(premise), tokens(hypothesis), premise_mentions,
                          hypothesis_mentions, concepts)


def _surface_check(premise: str, hypothesis: str, pt: list[Token], ht: list[Token], premise_mentions,
                   hypothesis_mentions, concepts: bool = False) -> str | None:
    modal = _modals(premise, premise_mentions) ^ _modals(hypothesis, hypothesis_mentions)
    if modal:
        return "modal: " + ", ".join(sorted(modal))
    # The linker's hedges ("possible", "might", "workup for ... pending") and experiencers ("my wife")
    # are read by the concept rules, not by the alignment.
    hedged = [m.text for m in (*premise_mentions, *hypothesis_mentions) if getattr(m, "hedged", False)]
    if hedged and not concepts:
        return f"hedged: {hedged[0]!r}"
    if not concepts and ({getattr(m, "experiencer", None) for m in premise_mentions} - {None} or
                         {getattr(m, "experiencer", None) for m in hypothesis_mentions} - {None}):
        return "about a relative"
    for side, ts in (("premise", pt), ("hypothesis", ht)):
        words = [t.low for t in ts]
        if "?" in words:
            return f"{side}: a question"
        if concepts:  # the linker has read the negations and the frame ("my doctor confirmed")
            continue
        if AMBIGUOUS_DENIALS & set(words):
            return f"{side}: a word that denies only sometimes"
        for i, t in enumerate(ts):
            if t.low == "no" and (i + 1 == len(ts) or ts[i + 1].low in _PRONOUNS):
                return f"{side}: 'no' as an interjection"
        cues = [i for i, t in enumerate(ts) if is_negation(t)]
        if len(cues) > 1:
            return f"{side}: more than one negation"
        for i in cues:
            k = i + 1
            while k < len(ts) and ts[k].text not in ",;.!":
                k += 1
            if not any(is_content(t) and not t.low.endswith("ly") for t in ts[i + 1:k]):  # "Not really, ..."
                return f"{side}: negation {ts[i].text!r} with no clause to scope over"
    pq, hq = _quantifiers(pt), _quantifiers(ht)
    if pq != hq:
        return "quantifier: " + ", ".join(sorted(pq ^ hq))
    if not concepts and _has_possessive(ht) and not _has_possessive(pt):
        return "a possessive the premise lacks"
    return None


def relate(words: WordRelations, p: str, h: str, lexical: bool = True) -> tuple[str, tuple[Step, ...]]:
    """The relation of premise word ``p`` to hypothesis word ``h``: equal crude lemmas ("Pt" and
    "patient", "sitting" and "sits", with or without a lexical KG), else what the KG's words say
    (``lexical``; off for words inside two linked concepts, which the concept rules relate)."""
    if not (is_number(p) or is_number(h)) and lemma(p) == lemma(h):
        return EQ, ()
    return words.relation(p, h) if lexical else (INDEPENDENT, ())


def inside(t: Token, mentions: Sequence) -> bool:
    """Whether a mention covers the whole token."""
    return any(m.start <= t.start and t.end <= m.end for m in mentions)


def _name_of(t: Token, mentions: Sequence) -> tuple[tuple[str, ...], str] | None:
    """The lemmas of the words of the mention that covers ``t`` and the ontology of its concept, or
    None. (Not its readings': MONDO's "anxiety" is a hereditary susceptibility, no anxiety disorder.)"""
    m = next((m for m in mentions if m.start <= t.start and t.end <= m.end), None)
    if m is None:
        return None
    return tuple(lemma(w.text) for w in tokens(m.text) if is_content(w)), ontology(getattr(m, "iri", ""))


def _relate_in(words: WordRelations, p: Token, h: Token, p_name, h_name) -> tuple[str, tuple[Step, ...]]:
    """``relate`` for two words of the pair, given the names of the linked concepts they lie in.
    Two words in two concepts of one ontology with other names are that ontology's to relate, not
    the words': HPO puts "ocular hypertension" under no (systemic) "hypertension", though deleting
    "ocular" would make it one. Across ontologies the KG's silence says nothing ("essential
    hypertension" in MONDO, "hypertension" in HPO), and the words stand."""
    if p_name is not None and h_name is not None and p_name[0] != h_name[0] and p_name[1] == h_name[1]:
        return INDEPENDENT, ()
    return relate(words, p.text, h.text, not (p_name is not None and h_name is not None))


def _concept_units(pt: list[Token], ht: list[Token], proofs: Sequence[Proof]) -> dict[int, tuple[list[int], list[int], str, Proof]]:
    """Hypothesis token index -> (its span's hypothesis tokens, the premise span's tokens, relation, proof)
    for the affirmed concepts the concept rules proved: "myocardial infarction" ≡ "heart attack"
    (``syn-eq``), "focal seizure" ⊏ "seizure" (``mono-up``). The alignment takes each as one unit."""
    units = {}
    for pr in proofs:
        # A disjoint-neg proof ("hypertension" | "hypotension", the hypothesis denying the second) aligns
        # the two words as alternation; the hypothesis's negation is an edit of its own.
        if pr.rule == "disjoint-neg" and not pr.premise.negated:
            relation = ALTERNATION
        elif pr.rule in ("syn-eq", "mono-up") and not pr.premise.negated and not pr.hypothesis.negated:
            relation = EQ if pr.rule == "syn-eq" else FORWARD
        else:
            continue
        hs = [i for i, t in enumerate(ht) if pr.hypothesis.start <= t.start and t.end <= pr.hypothesis.end]
        ps = [j for j, t in enumerate(pt) if pr.premise.start <= t.start and t.end <= pr.premise.end]
        if hs and ps:
            units[hs[0]] = (hs, ps, relation, pr)
    return units


def _align(words: WordRelations, pt: list[Token], ht: list[Token], pc: list[int], hc: list[int],
           premise_mentions: Sequence = (), hypothesis_mentions: Sequence = (), proofs: Sequence[Proof] = ()):
    """Greedy in-order alignment: each hypothesis content word to the first premise content word after
    the previous one that stands to it as ≡, else ⊏, else ⊐, else |; a concept the concept rules
    proved, as one unit. Returns the edits of the hypothesis words (in order) and the aligned premise
    indices, or the reason for unknown."""
    edits: list[tuple[int | None, int, str, tuple[Step, ...]]] = []
    units = _concept_units(pt, ht, proofs)
    p_names = {j: _name_of(pt[j], premise_mentions) for j in pc}
    covered: set[int] = set()
    cursor, used = 0, []
    for i in hc:
        if i in covered:
            continue
        if i in units:
            hs, ps, rel, proof = units[i]
            if ps[0] >= cursor:
                covered.update(hs)
                used.extend(j for j in ps if j in set(pc))
                cursor = ps[-1] + 1
                edits.append((ps[-1], i, rel, proof))
                continue
        h = ht[i]
        found = None
        h_name = _name_of(h, hypothesis_mentions)
        rels = {j: _relate_in(words, pt[j], h, p_names[j], h_name) for j in pc if j >= cursor}
        for want in (EQ, FORWARD, REVERSE, ALTERNATION):
            found = next(((j, rel) for j, rel in rels.items() if rel[0] == want), None)
            if found:
                break
        if found is None:
            if is_number(h.text):
                return None, f"a number the premise does not have: {h.text!r}"
            edits.append((None, i, REVERSE, ()))
            continue
        j, (rel, axioms) = found
        used.append(j)
        cursor = j + 1
        edits.append((j, i, rel, axioms))
    return (edits, used), None


def verdict(words: WordRelations, premise: str, hypothesis: str, premise_mentions: Sequence = (),
            hypothesis_mentions: Sequence = (), concept_proofs: Sequence[Proof] = ()) -> Verdict:
    """The natural-logic verdict for one pair: entailment or contradiction with the edit sequence as
    proof, or unknown with the reason in ``unaccounted``. ``concept_proofs``: the concept rules'
    proofs for some hypothesis mentions, whose spans then align as units."""
    pt, ht = tokens(premise), tokens(hypothesis)
    why = _surface_check(premise, hypothesis, pt, ht, premise_mentions, hypothesis_mentions)
    if why:
        return _unknown(why)
    pc = [j for j, t in enumerate(pt) if is_content(t)]
    hc = [i for i, t in enumerate(ht) if is_content(t)]
    if not hc:
        return _unknown("no content word in the hypothesis")
    aligned, why = _align(words, pt, ht, pc, hc, premise_mentions, hypothesis_mentions, concept_proofs)
    if why:
        return _unknown(why)
    h_edits, used = aligned
    if used:
        for t, tok in enumerate(pt):
            if tok.low in ("that", "whether") and min(used) > t and any(j < t and j not in used for j in pc):
                return _unknown(f"the premise reports the aligned clause ({tok.text!r})")
    p_cue = next((j for j, t in enumerate(pt) if is_negation(t)), None)
    h_cue = next((i for i, t in enumerate(ht) if is_negation(t)), None)
    if p_cue is not None and h_cue is not None:
        before_h = sum(1 for i in hc if i < h_cue)
        before_p = sum(1 for j in used if j < p_cue)
        if before_h != before_p:
            return _unknown("the two negations are at different places")
    down = _downward(pt)
    lo, hi = (min(used), max(used)) if used else (0, -1)
    edits: list[Edit] = []
    for j, i, rel, axioms in h_edits:
        d = down[j] if j is not None and h_cue is not None and p_cue is not None else False
        if isinstance(axioms, Proof):  # a concept the concept rules proved, as one unit
            pr = axioms
            edits.append(Edit("substitute", Token(pr.premise.text, pr.premise.start, pr.premise.end),
                              Token(pr.hypothesis.text, pr.hypothesis.start, pr.hypothesis.end), rel,
                              project(rel, d), pr.axioms, (pr.premise.iri, pr.hypothesis.iri)))
            continue
        kind = "insert" if j is None else ("match" if rel == EQ and not axioms else "substitute")
        edits.append(Edit(kind, pt[j] if j is not None else None, ht[i], rel, project(rel, d), axioms))
    used_set = set(used)
    for j in pc:
        if j in used_set:
            continue
        w = pt[j].low
        rel = FORWARD
        if lo < j < hi and (w.endswith(("ing", "ed")) or (w.endswith("s") and words.bases(w, "v"))):
            rel = INDEPENDENT  # a verb between aligned words: its arguments change roles
        elif used and j < lo and w in RELATIVES:
            rel = INDEPENDENT  # the premise is about someone the hypothesis does not name
        elif w in NOT_SUBSECTIVE and not inside(pt[j], premise_mentions):  # "immune epilepsy" is a name
            rel = INDEPENDENT
        d = down[j] if h_cue is not None and p_cue is not None else False
        edits.append(Edit("delete", pt[j], None, rel, project(rel, d), ()))
    if p_cue is not None and h_cue is None:
        edits.insert(0, Edit("negate", pt[p_cue], None, NEGATION, NEGATION))
    elif h_cue is not None and p_cue is None:
        edits.append(Edit("negate", None, ht[h_cue], NEGATION, NEGATION))
    quantified = _quantifiers(pt)
    if quantified and any(e.kind != "match" for e in edits):
        return _unknown("quantified: only equal words may differ around " + ", ".join(sorted(quantified)))
    relation = EQ
    for e in edits:
        relation = join(relation, e.projected)
    decided = sum(1 for e in edits if e.hypothesis is not None and e.kind != "insert") / len(hc)
    if relation in (EQ, FORWARD, NEGATION, ALTERNATION) and any(e.kind == "insert" for e in edits):
        # Natural logic allows it under a negation ("She hates me" ⊢ "She doesn't like people like me"),
        # but an inserted word changes what the sentence is about more often than it restricts it.
        return _unknown("a verdict that also inserts words: " + ", ".join(repr(e.hypothesis.text) for e in edits
                                                                         if e.kind == "insert"))
    if relation in (EQ, FORWARD):
        label = ENTAILMENT
    elif relation in (NEGATION, ALTERNATION):
        for cue, ts, idx in ((p_cue, pt, used), (h_cue, ht, hc)):
            if cue is not None and not any(k > cue for k in idx):
                return _unknown(f"negation {ts[cue].text!r} scopes over no aligned word")
        label = CONTRADICTION
    else:
        return Verdict(UNKNOWN, decided=decided, unaccounted=[f"{e.render()}" for e in edits
                                                              if e.projected not in (EQ, FORWARD)][:5])
    return Verdict(label, proofs=_proofs(edits, label, pt[p_cue] if p_cue is not None else None,
                                         ht[h_cue] if h_cue is not None else None), decided=decided, edits=edits)


def _assertion(t: Token, side: str, iri: str = "", negated: bool = False) -> Assertion:
    return Assertion(iri, negated, side, t.text, t.start, t.end)


def _proofs(edits: list[Edit], label: str, p_cue: Token | None, h_cue: Token | None) -> list[Proof]:
    """The edits a reader needs: each substitution with its axioms, and the negation edit (shown on
    the first aligned word in its scope)."""
    both = p_cue is not None and h_cue is not None
    out = []
    for e in edits:
        if e.kind != "substitute":
            continue
        first = e.axioms[0].subject if e.axioms else ""
        last = first if e.relation == EQ else (e.axioms[-1].object if e.axioms else "")
        # Alternation is a clash, unless a negation on one side turns it into an entailment ("tall" ⊢ "not short").
        clash = "clash-disjoint" if label == CONTRADICTION else "disjoint-neg"
        rule = {EQ: "syn-eq", ALTERNATION: clash, FORWARD: "mono-up"}.get(e.relation, "mono-down-neg")
        p_iri, h_iri = e.concepts or ((last, first) if e.relation == REVERSE else (first, last))
        down = both and e.projected != e.relation
        h_negated = down or rule == "disjoint-neg" and h_cue is not None
        out.append(Proof(rule, _assertion(e.premise, "premise", p_iri, down),
                         _assertion(e.hypothesis, "hypothesis", h_iri, h_negated),
                         e.axioms, CONTRADICTION if rule == "clash-disjoint" else ENTAILMENT))
    negate = next((e for e in edits if e.kind == "negate"), None)
    if negate is not None and label == CONTRADICTION:  # in an entailment, the negation is the disjoint-neg's
        cue = negate.premise or negate.hypothesis
        side = "premise" if negate.premise is not None else "hypothesis"
        scoped = next((e for e in edits if e.premise is not None and e.hypothesis is not None
                       and (e.premise if side == "premise" else e.hypothesis).start > cue.start), None)
        if scoped is not None:
            out.append(Proof("clash-neg", _assertion(scoped.premise, "premise", negated=side == "premise"),
                             _assertion(scoped.hypothesis, "hypothesis", negated=side == "hypothesis"), (), CONTRADICTION))
    return out


def explain(verdict: Verdict) -> list[str]:
    """The edit sequence, one line per edit that is not a plain match."""
    edits = [e for e in getattr(verdict, "edits", ()) if e.kind != "match"]
    if not edits:
        return []
    return ["natural logic, edits in order (premise → hypothesis): " + "; ".join(e.render() for e in edits)]


__all__ = ["Edit", "explain", "join", "project", "relate", "surface_check", "tokens", "verdict"]

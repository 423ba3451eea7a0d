"""Candidate pairs for relation extraction: sentences, entity markers and the pairs the ontology admits.

Shared by the scorers of ``tasks.relations`` and the tensor building of ``tasks.re_features``:

- ``split_sentences``: a rule-based splitter; a relation must be stated in one sentence.
- ``candidates``: every ordered pair of mentions in a sentence (both orders), kept when some
  relation of the KG's inventory admits it under its OWL domain and range
  (``kg.relations.RelationKB.admissible``): a drug cannot ``has_phenotype``. When the top concepts
  of two mentions admit nothing, their alternative candidate concepts are tried (the ontology
  disambiguates "homocystinuria" the phenotype from homocystinuria the disease). Properties that
  no trained head knows and that have neither facts nor domain and range need a lexical cue
  (their label's words in the sentence, ``cued``), or every pair of concepts would be a candidate.
- ``marked`` / ``marked_all``: the sentence with entity markers, as the cross-encoder reads it.
- ``Scored``: what a scorer decides about one candidate.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

from kgnlu.kg.matcher import normalize
from kgnlu.kg.relations import IS_A, RelationKB, RelationType, Standing
from kgnlu.types import Mention

MAX_PAIRS_PER_SENTENCE = 64
MAX_MENTIONS_PER_SENTENCE = 16
ALT_MARGIN = 0.2  # an alternative concept of a mention is tried if it scores within this of the best
MARKERS = ("[E1]", "[/E1]", "[E2]", "[/E2]")
MENTION_MARKERS = ("[E]", "[/E]")  # around every mention of a sentence (``marked_all``)

# Sentence ends: . ! ? and any closing quotes or brackets, then citation markers glued to them or
# bracketed ("infection.4 SARS", "deterioration.25 The", ".6, 7, 8 We", ".[3] ", ".[32], [33] In",
# Citation-Integrity's ".<|cit|> "), then space and a word that may open a sentence (``_opens``); or a
# blank line. Not after common abbreviations, single initials ("e.g.", "Dr.", "J. Smith", "p. 12"),
# inside a number ("2.5 mM", "17p11.2 SMS"), or before a lowercase word ("E. coli") unless it is
# gene-like ("p53", "mTOR").
_ABBREV = {"e.g", "i.e", "dr", "mr", "mrs", "ms", "vs", "approx", "fig", "figs", "no", "nos", "st", "etc", "cf",
           "al", "resp", "incl", "ca", "pp", "vol", "ref", "refs", "eq", "sp", "spp", "prof", "viz"}
_SUP = "\u2070\u00b9\u00b2\u00b3\u2074-\u2079"  # superscript digits
_GLUED = rf"\d{{1,3}}(?:[-\u2013]\d{{1,3}})?|[{_SUP}]+(?:[-\u2013\u207b][{_SUP}]+)?"
_MARK = r"\[(?:\d{1,3}(?:\s*[-\u2013,]\s*\d{1,3})*|(?:<\|\w+\|>)+)\]|<\|\w+\|>"
_END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*"
                  rf"(?P<cite>(?:{_GLUED}|\s*(?:{_MARK}))(?:\s*,\s*(?:{_GLUED}|{_MARK})|\s*(?:{_MARK}))*)?"
                  r"(?=\s+[\"'\u201c\u2018(\[]?\w)|\n\s*\n")
_NEXT = re.compile(r"\s+[\"'\u201c\u2018(\[]?([^\s.,;:!?)\]]+)")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
CUE_STOP = frozenset("has have is a an the of in to with by for at on part".split())

# Hearst-style patterns for is_a between a subject (X) and an object (Y) mention.
_ISA_XY = re.compile(r"^\s*(,?\s*(which|that)\s+)?(is|are|was|were|represents?|constitutes?)\s+"
                     r"(not\s+|no\s+longer\s+)?(now\s+)?"
                     r"(considered|classified|regarded|recognized|recognised|thought|known)?\s*(to\s+be\s+|as\s+)?"
                     r"(a|an|one|the)?\s*((rare|common|specific|particular|distinct|severe|mild|clinical|"
                     r"genetic|inherited|hereditary|heterogeneous|special|major)\s+)*"
                     r"((form|type|kind|subtype|variant|class|category|subset|example|manifestation|cause)s?\s+of\s+)?"
                     r"(\w+\s+)?$", re.I)
_ISA_YX = re.compile(r"^\s*,?\s*(such\s+as|including|like|e\.g\.,?|especially|particularly|for\s+example)\s*$", re.I)
_ISA_X_OTHER_Y = re.compile(r"^\s*,?\s*(and|or)\s+(other|another)\s+(forms?\s+of\s+|types?\s+of\s+)?$", re.I)


def _opens(word: str) -> str:
    """Whether ``word`` may open a sentence: "cap" (an uppercase, caseless or Greek letter, or a
    digit: "Down", "É", "β-catenin", "12"), "gene" (lowercase with a digit or a capital: "p53",
    "mTOR", "miR-21"), or "" (a lowercase word)."""
    c = word[:1]
    if not c or c.isupper() or c.isdecimal() or (c.isalpha() and not c.islower()):
        return "cap" if c else ""
    if unicodedata.name(c, "").startswith("GREEK"):
        return "cap"
    if c.islower() and any(ch.isdecimal() or ch.isupper() for ch in word):
        return "gene"
    return ""


def _number_goes_on(text: str, at: int) -> bool:
    """Whether the digits glued after the period at ``at`` continue a number ("2.5", "17p11.2",
    "P < .05") rather than cite ("infection.4", "COVID-19.4")."""
    before = text[at - 1] if at else " "
    if before.isspace() or before in "<>=\u2264\u2265~\u223c\u00b1(,\u2212-":
        return True
    token = re.search(r"[\w-]*$", text[max(0, at - 40):at]).group()
    return before.isdecimal() and not re.search(r"[A-Za-z]{2,}-\d{1,3}$", token)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of the sentences of ``text`` (whitespace trimmed, none empty)."""
    spans, start = [], 0
    for m in _END.finditer(text):
        if "\n" not in m.group():
            nxt = _NEXT.match(text, m.end())
            opens = _opens(nxt.group(1) if nxt else "")
            cite = m.group("cite") or ""
            if not opens or (cite[:1].isdecimal() and _number_goes_on(text, m.start())):
                continue
        if m.group().startswith((".",)) and "\n" not in m.group():
            word = re.search(r"(\S*?)\s*([\w.]+)\.*$", text[start:m.start()])
            prev = word.group(2).lower().rstrip(".") if word else ""
            before = word.group(1) if word else ""
            # "Dr. J. Smith", "Mary J. Smith" and "J. Smith" hold initials; "vitamin C. Lemons" and, at
            # the start of a sentence, "Hepatitis B. Patients" end one.
            first = len(text[start:m.start()].split()) <= 2  # ``before`` opens the sentence
            b = before.lower().rstrip(".")
            initial = len(prev) == 1 and prev.isalpha() and (
                (before[:1].isupper() and (b in _ABBREV or not first)) or (word.group(2).isupper() and not before))
            page = len(prev) == 1 and prev.islower() and not cite and nxt.group(1)[:1].isdecimal()  # "p. 12"
            dotted = opens == "gene" and (len(prev) <= 1 or "." in prev)  # "i.v. mRNA", "E. coli"
            if prev in _ABBREV or initial or page or dotted:
                continue
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def isa_pattern(text: str, subj: Mention, obj: Mention) -> bool:
    """Whether the words between the two mentions read as "X is a (form of) Y" or "Y such as X"."""
    if subj.end <= obj.start:
        return bool(_ISA_XY.match(text[subj.end:obj.start]) or _ISA_X_OTHER_Y.match(text[subj.end:obj.start]))
    if obj.end <= subj.start:
        return bool(_ISA_YX.match(text[obj.end:subj.start]))
    return False


def _splice(text: str, sentence: tuple[int, int], inserts: Sequence[tuple[int, str]]) -> str:
    """The sentence with each tag inserted at its offset, in the order given; whitespace collapsed."""
    a, b = sentence
    out, pos = [], a
    for at, tag in inserts:
        out.append(text[pos:at])
        out.append(tag)
        pos = at
    out.append(text[pos:b])
    return " ".join("".join(out).split())


def marked(text: str, sentence: tuple[int, int], subj: Mention, obj: Mention) -> str:
    """The sentence with ``[E1] subject [/E1]`` and ``[E2] object [/E2]`` inserted, in text order."""
    inserts = sorted([(subj.start, " [E1] "), (subj.end, " [/E1] "), (obj.start, " [E2] "), (obj.end, " [/E2] ")],
                     key=lambda t: (t[0], not t[1].startswith(" [/")))  # at one offset, close before open
    return _splice(text, sentence, inserts)


def marked_all(text: str, sentence: tuple[int, int], mentions: Sequence[Mention]) -> tuple[str, list[int]]:
    """The sentence with every one of ``mentions`` between ``[E]`` and ``[/E]``, and the ordinal of
    each mention's opening marker among the opening markers (the k-th ``[E]`` opens mention k's span).

    One marked sentence serves all candidate pairs of the sentence: the encoder reads it once, and
    a pair is read off at its two mentions' markers (its direction is the order of the two vectors).
    """
    # At one offset: closing markers first, inner spans' closing first; then opening, outer spans first.
    order = sorted([(m.start, 1, -(m.end - m.start), i) for i, m in enumerate(mentions)]
                   + [(m.end, 0, m.end - m.start, i) for i, m in enumerate(mentions)])
    inserts, ordinal, opened = [], [0] * len(mentions), 0
    for at, is_open, _, i in order:
        if is_open:
            ordinal[i] = opened
            opened += 1
        inserts.append((at, f" {MENTION_MARKERS[0]} " if is_open else f" {MENTION_MARKERS[1]} "))
    return _splice(text, sentence, inserts), ordinal


@dataclass
class CandidatePair:
    """An ordered pair of mentions in one sentence and the relations the ontology admits for it."""

    text: str
    sentence: tuple[int, int]
    subj: Mention
    obj: Mention
    subj_iri: str
    obj_iri: str
    relations: list[RelationType]  # admissible, in inventory order
    isa_cue: bool = False
    others: tuple[Mention, ...] = ()  # the sentence's other mentions
    alternative: bool = False  # a mention's alternative concept was needed to admit a relation
    standings: dict[str, Standing] = field(default_factory=dict)  # relation IRI -> standing (as negated reads)

    @property
    def mentions_in_sentence(self) -> int:
        return len(self.others) + 2

    @property
    def negated(self) -> bool:
        """NegEx polarity of the pair: either mention in a negation scope."""
        return bool(self.subj.negated or self.obj.negated)

    def marked(self) -> str:
        return marked(self.text, self.sentence, self.subj, self.obj)

    def marked_all(self) -> tuple[str, int, int]:
        """The sentence with all its mentions marked (``marked_all``), and the ordinals of the
        subject's and the object's opening markers. The same text for every pair of the sentence."""
        ms = sorted((self.subj, self.obj, *self.others), key=lambda m: (m.start, m.end))
        text, ordinal = marked_all(self.text, self.sentence, ms)
        at = {id(m): k for k, m in enumerate(ms)}
        return text, ordinal[at[id(self.subj)]], ordinal[at[id(self.obj)]]

    def key(self) -> tuple:
        return (self.sentence, self.subj.start, self.subj.end, self.obj.start, self.obj.end)


def options(m: Mention) -> list[tuple[str, float]]:
    """The mention's concept and its close alternatives, best first."""
    out = [(m.iri, m.score)]
    for c in m.candidates:
        if c.iri != m.iri and c.score >= m.score - ALT_MARGIN and all(c.iri != o for o, _ in out):
            out.append((c.iri, c.score))
    return out[:4]


def stem(word: str) -> str:
    """A crude English stem, enough to match "contains" with "contain" but not "inherited" with "inheres"."""
    w = word.lower()
    for suffix in ("ing", "ed", "es", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: -len(suffix)]
    return w


def cued(rel: RelationType, sentence: str) -> bool:
    """Whether every content word of the relation's label (stemmed) occurs in ``sentence``."""
    words = [stem(w) for w in _WORD.findall(rel.label) if w.lower() not in CUE_STOP]
    if not words:
        return False
    toks = {stem(w) for w in _WORD.findall(sentence)}
    return all(w in toks for w in words)


def needs_cue(rel: RelationType, trained: frozenset[str]) -> bool:
    """Properties a scorer cannot place by training or by the ontology need their label in the text."""
    return rel.iri not in trained and rel.iri != IS_A and not rel.facts and not (rel.domains and rel.ranges)


def _kept(ms: list[Mention]) -> list[Mention]:
    """At most ``MAX_MENTIONS_PER_SENTENCE`` of one sentence's mentions (in text order), with a warning
    when some are left out: one mention of each concept first (a repeat restates its first mention's
    pairs, and the relations are deduplicated anyway), then the best linked, then the earliest. A
    long list ("covariates were: age, alcohol, ..., insulin, insulin, ...") keeps its distinct concepts."""
    if len(ms) <= MAX_MENTIONS_PER_SENTENCE:
        return ms
    seen: set[str] = set()
    rank = []
    for i, m in enumerate(ms):
        rank.append((m.iri in seen, -m.score, i))
        seen.add(m.iri)
    warnings.warn(f"a sentence with more than {MAX_MENTIONS_PER_SENTENCE} mentions: relation extraction reads "
                  f"{MAX_MENTIONS_PER_SENTENCE} of them (one per concept first, then the best linked)", stacklevel=3)
    return [ms[i] for i in sorted(sorted(range(len(ms)), key=rank.__getitem__)[:MAX_MENTIONS_PER_SENTENCE])]


def candidates(text: str, mentions: Sequence[Mention], kb: RelationKB, trained: frozenset[str] = frozenset(),
               sentences: list[tuple[int, int]] | None = None) -> list[CandidatePair]:
    """Ordered mention pairs within one sentence, filtered by OWL domain and range (see the module doc)."""
    sentences = sentences if sentences is not None else split_sentences(text)
    inventory = kb.inventory()
    out: list[CandidatePair] = []
    for sent in sentences:
        ms = _kept([m for m in mentions if sent[0] <= m.start and m.end <= sent[1]])
        stext = text[sent[0]:sent[1]]
        rels = [r for r in inventory if not needs_cue(r, trained) or cued(r, stext)]
        n = 0
        for s in ms:
            for o in ms:
                if s is o or (s.start < o.end and o.start < s.end):
                    continue
                if normalize(s.text) == normalize(o.text):  # a term repeated states nothing about itself
                    continue
                found = weak = None
                isa = isa_pattern(text, s, o)
                if isa:  # "X is a form of Y": read both mentions in one hierarchy if any reading allows
                    found = next(((si, oi, [r for r in rels if r.iri == IS_A])
                                  for si, _ in options(s) for oi, _ in options(o)
                                  if si != oi and kb.comparable(si, oi)), None)
                    if found and not found[2]:
                        found = None
                for si, _ in options(s) if found is None else ():
                    for oi, _ in options(o):
                        if si == oi:
                            continue
                        adm = [r for r in rels if kb.admissible(si, r, oi)
                               or (r.iri == IS_A and isa and kb.comparable(si, oi))]
                        # is_a needs a cue or a trained head; without one it is noise between siblings
                        adm = [r for r in adm if r.iri != IS_A or isa or IS_A in trained]
                        # A pair that admits only an uncued is_a is a weak reading: an alternative
                        # concept admitting a property (a disease name read as the phenotype of the
                        # same name) is preferred to it.
                        if adm and (isa or any(r.iri != IS_A for r in adm)):
                            found = (si, oi, adm)
                            break
                        if adm and weak is None:
                            weak = (si, oi, adm)
                    if found:
                        break
                found = found or weak
                if found and n < MAX_PAIRS_PER_SENTENCE:
                    si, oi, adm = found
                    alt = si != s.iri or oi != o.iri
                    others = tuple(m for m in ms if m is not s and m is not o)
                    out.append(CandidatePair(text, sent, s, o, si, oi, adm, isa, others, alt))
                n += bool(found)
        if n > MAX_PAIRS_PER_SENTENCE:
            warnings.warn(f"a sentence with more than {MAX_PAIRS_PER_SENTENCE} candidate pairs: relation extraction "
                          f"scores the first {MAX_PAIRS_PER_SENTENCE}", stacklevel=2)
    return out


def fill_standings(cands: Sequence[CandidatePair], kb: RelationKB) -> None:
    """Each candidate's standing for each admissible relation, read with the pair's polarity."""
    for c in cands:
        for r in c.relations:
            if r.iri not in c.standings:
                c.standings[r.iri] = kb.standing(c.subj_iri, r.iri, c.obj_iri, c.negated)


@dataclass
class Scored:
    """A scorer's decision about one candidate."""

    relation: RelationType | None  # None: no relation stated
    score: float
    negated: bool
    gate: float = 0.0
    neural: dict | None = None

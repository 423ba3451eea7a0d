"""Word-level relations read from a lexical KG (WordNet's synsets, ``kg.sources.wordnet``).

``WordRelations.relation(p, h)`` says how a premise word stands to a hypothesis word, in the
natural-logic vocabulary of MacCartney and Manning: ``≡`` (the same word, a shared base form, a
shared synset), ``⊏`` (the premise word is a kind of the hypothesis word: "apples" ⊏ "fruit"),
``⊐`` (the reverse), ``|`` (disjoint: antonyms, and what disjointness inherits: "man" | "woman"), or
``#`` (nothing known), with the axioms that prove it.

A premise word is read in its most frequent sense only (the first sense of each of its base forms;
the KG marks it as an exact synonym), a hypothesis word in any sense: reading both in every sense
makes "game" a kind of "gamble". Base forms: the word itself, its irregular inflections (in the
KG), and WordNet's regular detachment rules for nouns and verbs ("sitting" -> "sit"). Adjectives
keep their degree: "better" is not "good". Numbers relate only to themselves ("triplet" is a
WordNet synonym of "three").
"""

from __future__ import annotations

import re
from functools import lru_cache

from .lexicon import Lexicon
from .tables import ClosureTables, Step

EQ, FORWARD, REVERSE, ALTERNATION, INDEPENDENT = "≡", "⊏", "⊐", "|", "#"

# WordNet's morphy detachment rules (wnintro(3WN)): suffix -> replacement, tried in order.
_DETACH = {"n": (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
                 ("men", "man"), ("ies", "y")),
           "v": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"),
                 ("ing", ""))}
NUMBER_WORDS = frozenset("""zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred
thousand million billion dozen couple pair single""".split())
_DIGIT = re.compile(r"\d")


def is_number(word: str) -> bool:
    return word.lower() in NUMBER_WORDS or bool(_DIGIT.match(word))


class WordRelations:
    """Relations between words through the KG's word senses; empty (only ``≡`` on equal words) when
    the KG has no lexical source."""

    def __init__(self, tables: ClosureTables, lexicon: Lexicon | None):
        self.tables = tables
        self._lexicon = lexicon
        self._index: dict[tuple[str, str], tuple[list[str], list[str]]] | None = None

    def _senses(self) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
        """(word, part of speech) -> (first-sense synsets, all synsets), loaded on first use."""
        if self._index is None:
            index: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
            for text, iri, kind in self._lexicon.word_senses() if self._lexicon is not None else ():
                first, every = index.setdefault((text.lower(), iri[-1]), ([], []))
                every.append(iri)
                if kind == "exact":
                    first.append(iri)
            self._index = index
        return self._index

    def bases(self, word: str, pos: str) -> list[str]:
        w = word.lower()
        index = self._senses()
        out = [w] if (w, pos) in index else []
        for suffix, repl in _DETACH.get(pos, ()):
            if w.endswith(suffix) and len(w) > len(suffix) + 1:
                base = w[: len(w) - len(suffix)] + repl
                if (base, pos) in index and base not in out:
                    out.append(base)
        return out

    def senses(self, word: str, pos: str, first_only: bool) -> list[str]:
        index = self._senses()
        out: list[str] = []
        for base in self.bases(word, pos):
            first, every = index[(base, pos)]
            out += first if first_only else every
        return list(dict.fromkeys(out))

    def same_word(self, a: str, b: str) -> bool:
        """Equal, or sharing a noun, verb or adverb base form ("sits", "sitting")."""
        if a.lower() == b.lower():
            return True
        if is_number(a) or is_number(b):
            return False
        return any(set(self.bases(a, pos)) & set(self.bases(b, pos)) for pos in "nvr")

    @lru_cache(maxsize=65536)
    def _ancestors(self, iri: str) -> frozenset[str]:
        return frozenset(self.tables.ancestors(iri))

    @lru_cache(maxsize=65536)
    def relation(self, p: str, h: str) -> tuple[str, tuple[Step, ...]]:
        if self.same_word(p, h):
            return EQ, ()
        if is_number(p) or is_number(h):
            return INDEPENDENT, ()
        found: tuple[str, tuple[Step, ...]] | None = None
        for pos in "nva":
            sp, sh = self.senses(p, pos, True), self.senses(h, pos, False)
            if not sp or not sh:
                continue
            shared = [s for s in sp if s in sh]
            if shared:  # synonyms: two words of one synset
                src = self.tables.entity_source(shared[0]) or "?"
                return EQ, tuple(Step(shared[0], "oboInOwl:hasExactSynonym", f'"{w}"', src) for w in (p, h))
            for s in sp:
                up = [t for t in sh if t in self._ancestors(s)]
                if up:
                    return FORWARD, tuple(self.tables.chain(s, up[0]))
            if found is None:
                for t in self.senses(h, pos, True):
                    down = [s for s in sp if s in self._ancestors(t)]
                    if down:
                        found = (REVERSE, tuple(self.tables.chain(t, down[0])))
                        break
            if found is None:
                for s in sp:
                    for t in sh:
                        proof = self.tables.disjoint(s, t)
                        if proof is not None:
                            found = (ALTERNATION, tuple(proof))
                            break
                    if found:
                        break
        return found or (INDEPENDENT, ())


__all__ = ["ALTERNATION", "EQ", "FORWARD", "INDEPENDENT", "NUMBER_WORDS", "REVERSE", "WordRelations", "is_number"]

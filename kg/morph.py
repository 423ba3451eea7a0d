"""A word's stem for matching derived forms: "dysplastic" and "dysplasia", "patellar" and
"patella", "chalazia" and "chalazion", "absent" and "absence", "increasing" and "increased".

Curators write findings in whatever form the sentence needs ("patellar dysplasia" for HPO's
"Dysplastic patella", "bridging of sella turcica" for "Bridged sella turcica"), and the medical
vocabulary pairs its nouns and adjectives through a handful of Greek and Latin endings
(-ia/-ic, -sis/-tic, -a/-al/-ar, -ion/-ia, -ence/-ent, -sion/-sive). ``stem`` strips the one ending that
``_ENDINGS`` lists first, from a word already normalised by ``kg.matcher.normalize_token``
(casefolded, singular). It is not a general stemmer: both sides of a lookup go through it, so
what matters is that a derived pair meets and that distinct findings do not. Hence the stem
keeps at least ``MIN_STEM`` letters ("renal", "lesion" stay whole) and no ending that English
uses for unrelated words ("-er", "-ive") is stripped; "-sive" is, as "-sion"'s adjective
("hypertensive", "convulsive").

``same_numbers`` says whether two word sequences name the same numbers, in any notation ("2" and
"ii", "5th" and "fifth"): the rewrite rules (``kg.rewrite``) may change a phrase's words, not them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

MIN_STEM = 4
# (ending, what replaces it); longest first within a family, so that "-ically" is not read as "-ly".
# "-ence"/"-ency"/"-ent" keep their "n": "absence" and "absent" meet at "absen".
_ENDINGS = (
    ("ically", ""), ("ality", ""), ("ally", ""), ("ations", ""), ("ation", ""), ("atous", ""), ("ement", ""),
    ("ment", ""), ("ness", ""), ("ical", ""), ("ated", ""), ("ating", ""), ("ence", "en"), ("ency", "en"), ("stic", ""),
    ("sive", "s"),
    ("sia", ""), ("sis", ""), ("tic", ""), ("ity", ""), ("ism", ""), ("ing", ""), ("ion", ""), ("ous", ""),
    ("ata", ""), ("ent", "en"), ("ic", ""), ("ia", ""), ("al", ""), ("ar", ""), ("ed", ""), ("ely", ""), ("ly", ""),
    ("on", ""), ("um", ""), ("a", ""), ("e", ""), ("y", ""),
)


# The endings of adjectives and of Greek and Latin nouns, by which a single word names a finding
# in another form ("anemic", "cirrhotic", "edematous", "hypertensive", "patellar", "chalazia").
# A word that loses another ending ("infected", "events", "negative", "rarely") is an everyday
# word too often to be read alone: on the default KG, whose drugs have brand names, "even" was
# Romosozumab (Evenity) and "infected" a ciprofloxacin tracer.
FINDING_ENDINGS = frozenset({"ic", "tic", "stic", "ical", "ous", "atous", "sive", "al", "ar", "ia", "sia", "sis",
                             "a", "ata", "on", "um"})


@lru_cache(maxsize=1 << 16)
def split(word: str) -> tuple[str, str]:
    """``(stem, ending)``: ``word`` (normalised) without its derivational ending, and the ending
    stripped ("" for none); short or non-alphabetic words as they are."""
    if len(word) <= MIN_STEM or not word.isalpha():
        return word, ""
    for ending, replacement in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) + len(replacement) >= MIN_STEM:
            return word[: -len(ending)] + replacement, ending
    return word, ""


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """``word`` (normalised) without its derivational ending; short or non-alphabetic words as they are."""
    return split(word)[0]


_ORDINALS = {w: n for n, w in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth".split(), 1)}
_NOTATIONS = {w: n for words in ("one two three four five six seven eight nine ten eleven twelve",
                                 "i ii iii iv v vi vii viii ix x xi xii") for n, w in enumerate(words.split(), 1)}


def same_numbers(lhs: Sequence[str], rhs: Sequence[str]) -> bool:
    """Whether a rewrite of ``lhs`` into ``rhs`` keeps the numbers it names. A number names a
    member of a series (type 1 diabetes, factor 21), so a rule that drops it or turns it into
    another ("1" -> "2", "2" -> "alpha", seen across drug names) changes what a phrase names;
    notations of one number may swap ("2" and "ii", "5th" and "fifth"), and an ordinal may become
    a word ("5th" and "pinkie"), not another ordinal. Nor may a deletion drop a number: that
    brought back "fibroblast growth factor 21" as FGF7."""

    def numbers(tokens: Sequence[str], words: bool) -> tuple[list[int], list[int]]:
        cardinals, ordinals = [], []
        for t in tokens:
            if t.isdigit():
                cardinals.append(int(t))
            elif t[:-2].isdigit() and t[-2:] in ("st", "nd", "rd", "th"):
                ordinals.append(int(t[:-2]))
            elif t in _ORDINALS:
                ordinals.append(_ORDINALS[t])
            elif words and t in _NOTATIONS:  # "x" of "x-linked" is a letter unless a number faces it
                cardinals.append(_NOTATIONS[t])
        return sorted(cardinals), sorted(ordinals)

    (c1, o1), (c2, o2) = numbers(lhs, False), numbers(rhs, False)
    if c1 != c2:
        (c1, _), (c2, _) = numbers(lhs, True), numbers(rhs, True)
    return c1 == c2 and (o1 == o2 or not o1 or not o2)


__all__ = ["FINDING_ENDINGS", "MIN_STEM", "same_numbers", "split", "stem"]

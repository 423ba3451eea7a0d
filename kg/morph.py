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
"""

from __future__ import annotations

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


__all__ = ["FINDING_ENDINGS", "MIN_STEM", "split", "stem"]

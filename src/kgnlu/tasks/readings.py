"""Which candidates of a mention are other readings of its words, not rivals to choose between.

A mention links one concept; the others its words name exactly are kept as ``Mention.readings``,
which the NLI rules and relation extraction read as well (``kgnlu.kg.rules``). Two kinds:
namesakes (two ontologies' terms with the same label) and another ontology's term whose exact
synonym is those words.
"""

from __future__ import annotations

from kgnlu.kg.matcher import normalize_token
from kgnlu.types import Candidate


def namesake_key(c: Candidate) -> str | None:
    """The normalised label when the text matched the concept's own label, else None.

    Concepts of curated ontologies whose primary labels coincide are namesakes, one notion seen
    by two ontologies (MONDO's disease and HPO's phenotype "diabetes mellitus"); homonyms
    ("Apple" the company, "apple" the fruit) show up through synonyms and abbreviations instead.
    """
    if c.via != "lexicon" or c.kind not in ("label", "pref") or not c.label:
        return None
    return " ".join(normalize_token(w) for w in c.label.split())


def ontology(iri: str) -> str:
    """The namespace an IRI's ontology mints terms in: ``.../obo/MONDO_`` for ``.../obo/MONDO_0018177``."""
    local = iri.rsplit("/", 1)[-1].rsplit("#", 1)[-1]
    return iri[: len(iri) - len(local)] + (local.split("_", 1)[0] + "_" if "_" in local else "")


def reads_as(c: Candidate, best: Candidate) -> bool:
    """``c`` is another reading of the words ``best`` matched: a namesake of it, or the term of
    another ontology that has those words as an exact synonym while ``best`` has them as its label
    (or the other way round): MONDO's disease "glioblastoma" and HPO's phenotype "Glioblastoma
    multiforme", exact synonym "Glioblastoma". Within one ontology an exact synonym shared with a
    label is a homonym to tell apart, not a second view of one condition."""
    key = namesake_key(best)
    if key is not None and namesake_key(c) == key:
        return True
    kinds = {best.kind, c.kind}
    return (best.via == c.via == "lexicon" and kinds <= {"label", "pref", "exact"} and kinds & {"label", "pref"}
            and ontology(best.iri) != ontology(c.iri))


__all__ = ["namesake_key", "ontology", "reads_as"]

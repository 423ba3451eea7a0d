"""The lexicon: every label and synonym of every entity, with its type and source, plus definitions.

Extracted from annotation properties (rdfs:label, skos:prefLabel/altLabel, oboInOwl
exact/related/broad/narrow synonyms, IAO/skos definitions) and stored beside the closure tables.
The linker (matcher, dense index) is built on top of this table.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .store import Literal, TripleStore
from .vocab import (
    ANNOTATED_PROPERTY, ANNOTATED_SOURCE, ANNOTATED_TARGET, COMMENT, DEFINITION_PROPERTIES, LABEL, LEXICAL_PROPERTIES,
    OBOINOWL,
)

SYNONYM_TYPE = OBOINOWL + "hasSynonymType"

KIND_RANK = {"label": 0, "pref": 1, "exact": 2, "alt": 3, "related": 4, "narrow": 5, "broad": 6}
# The entity kinds a mention may name: properties have labels too, but a mention names a thing.
LINKABLE = ("class", "individual")
# Word senses of a lexical KG (WordNet's synsets, ``kg.sources.wordnet``): words for the natural-logic
# rules to compare ("apple" ⊑ "fruit"), never linked as concepts ("man", "water", "playing" would be
# mentions in every sentence).
WORD_SENSE_PREFIXES = ("http://wordnet-rdf.princeton.edu/",)
_NOT_A_WORD_SENSE = " AND ".join(f"iri NOT LIKE '{p}%'" for p in WORD_SENSE_PREFIXES)


def is_word_sense(iri: str) -> bool:
    return iri.startswith(WORD_SENSE_PREFIXES)


@dataclass(frozen=True)
class Entry:
    iri: str
    text: str
    kind: str  # label, pref, alt, exact, related, broad, narrow
    lang: str | None
    source: str
    type: str | None = None  # the synonym type (oboInOwl:hasSynonymType), e.g. an OBO LAYPERSON IRI


def _english(lang: str | None) -> bool:
    return lang is None or lang.lower().startswith("en")


def extract(store: TripleStore) -> tuple[list[Entry], dict[str, str], list[tuple[str, str, str]]]:
    """(entries, preferred label per IRI, definitions) from every source of ``store``."""
    entries: set[Entry] = set()
    definitions: dict[str, tuple[int, str, str]] = {}
    for source in store.sources():
        types = _synonym_types(store, source)
        for prop, kind in LEXICAL_PROPERTIES.items():
            for s, _, o in store.triples(p=prop, source=source):
                if isinstance(o, Literal) and o.value.strip() and not s.startswith("_:"):
                    entries.add(Entry(s, " ".join(o.value.split()), kind, o.lang, source,
                                      types.get((s, prop, o.value))))
        for rank, prop in enumerate((*DEFINITION_PROPERTIES, COMMENT)):
            for s, _, o in store.triples(p=prop, source=source):
                if isinstance(o, Literal) and _english(o.lang) and not s.startswith("_:"):
                    text = " ".join(o.value.split())
                    # Of two definitions by one property, the first in text order: the store's order is arbitrary.
                    if s not in definitions or (rank, text) < definitions[s][:2]:
                        definitions[s] = (rank, text, source)
    labels: dict[str, tuple] = {}
    for e in entries:
        key = (KIND_RANK[e.kind], not _english(e.lang), e.lang or "", e.text)
        if e.kind in ("label", "pref", "exact", "alt") and (e.iri not in labels or key < labels[e.iri][0]):
            labels[e.iri] = (key, e.text)
    ordered = sorted(entries, key=lambda e: (e.iri, KIND_RANK[e.kind], e.text, e.lang or "", e.source))
    return ordered, {k: v[1] for k, v in labels.items()}, [(k, v[1], v[2]) for k, v in sorted(definitions.items())]


def _synonym_types(store: TripleStore, source: str) -> dict[tuple[str, str, str], str]:
    """(entity, property, text) -> synonym type, read from the owl:Axiom annotations that carry it."""
    typed = {ax: t for ax, _, t in store.triples(p=SYNONYM_TYPE, source=source) if not isinstance(t, Literal)}
    if not typed:
        return {}
    parts: dict[str, dict[str, object]] = {}
    for pred, key in ((ANNOTATED_SOURCE, "s"), (ANNOTATED_PROPERTY, "p"), (ANNOTATED_TARGET, "o")):
        for ax, _, v in store.triples(p=pred, source=source):
            if ax in typed:
                parts.setdefault(ax, {})[key] = v
    out = {}
    for ax, t in typed.items():
        d = parts.get(ax, {})
        if isinstance(d.get("o"), Literal) and isinstance(d.get("s"), str) and isinstance(d.get("p"), str):
            key = (d["s"], d["p"], d["o"].value)
            out[key] = min(t, out.get(key, t))  # one type when axioms disagree, whatever the store's order
    return out


def write(db_path: Path, entries: list[Entry], definitions: list[tuple[str, str, str]]) -> dict:
    db = sqlite3.connect(db_path)
    db.executescript(
        """
        CREATE TABLE IF NOT EXISTS lexicon (id INTEGER PRIMARY KEY, iri TEXT, text TEXT, kind TEXT, lang TEXT, source TEXT, type TEXT);
        CREATE TABLE IF NOT EXISTS definitions (iri TEXT PRIMARY KEY, text TEXT, source TEXT);
        DELETE FROM lexicon; DELETE FROM definitions;
        """
    )
    db.executemany(
        "INSERT INTO lexicon (iri, text, kind, lang, source, type) VALUES (?,?,?,?,?,?)",
        ((e.iri, e.text, e.kind, e.lang, e.source, e.type) for e in entries),
    )
    db.executemany("INSERT INTO definitions VALUES (?,?,?)", definitions)
    db.execute("CREATE INDEX IF NOT EXISTS lexicon_iri ON lexicon (iri)")
    db.commit()
    counts = dict(db.execute("SELECT kind, COUNT(*) FROM lexicon GROUP BY kind").fetchall())
    db.close()
    return {"lexicon_entries": len(entries), "lexicon_by_kind": counts, "definitions": len(definitions)}


class Lexicon:
    """Read access to the lexicon table."""

    def __init__(self, db_path: Path):
        self.db_path = Path(db_path)
        self._db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, check_same_thread=False)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(lexicon)")}
        self._cols = "iri, text, kind, lang, source" + (", type" if "type" in columns else "")  # older KGs lack it

    def entries(self, iri: str | None = None) -> list[Entry]:
        """Every entry of one IRI, or of every entity the linker may link (word senses left out)."""
        if iri is None:
            rows = self._db.execute(f"SELECT {self._cols} FROM lexicon WHERE {_NOT_A_WORD_SENSE} ORDER BY id").fetchall()
        else:
            rows = self._db.execute(f"SELECT {self._cols} FROM lexicon WHERE iri=? ORDER BY id", (iri,)).fetchall()
        return [Entry(*r) for r in rows]

    def definition(self, iri: str) -> str | None:
        row = self._db.execute("SELECT text FROM definitions WHERE iri=?", (iri,)).fetchone()
        return row[0] if row else None

    def word_senses(self) -> list[tuple[str, str, str]]:
        """(word, synset IRI, kind) of the lexical KG's synonyms: kind "exact" where the synset is the
        word's first sense, "related" otherwise (``kg.sources.wordnet``)."""
        like = " OR ".join(f"iri LIKE '{p}%'" for p in WORD_SENSE_PREFIXES)
        return self._db.execute(f"SELECT text, iri, kind FROM lexicon WHERE ({like}) AND kind IN ('exact', 'related') "
                                "ORDER BY id").fetchall()

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM lexicon").fetchone()[0]


__all__ = ["Entry", "Lexicon", "extract", "is_word_sense", "write", "LABEL"]

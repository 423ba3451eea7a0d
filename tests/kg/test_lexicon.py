"""The lexicon: labels and synonyms with their kind, language and source, and definitions."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgnlu.kg.ingest import ingest
from kgnlu.kg.kgdir import KGDir
from kgnlu.kg.lexicon import Entry, Lexicon, extract
from kgnlu.kg.store import Literal, MemoryStore
from kgnlu.kg.tables import ClosureTables
from kgnlu.kg.vocab import IAO_DEFINITION, LABEL, OBOINOWL, SKOS_ALT, SKOS_DEFINITION, SKOS_PREF

FOOD = "http://kgnlu.org/demo/food#"
OBO = "http://purl.obolibrary.org/obo/"
EX = "http://ex.org/"


@pytest.fixture(scope="module")
def demo_lexicon(demo_kg) -> Lexicon:
    return Lexicon(KGDir(demo_kg).current().tables)


def _by_iri(lex: Lexicon, local: str) -> set[tuple[str, str]]:
    return {(e.text, e.kind) for e in lex.entries(FOOD + local)}


def test_demo_labels_and_synonyms_with_kinds(demo_lexicon):
    assert _by_iri(demo_lexicon, "Food") == {("food", "label"), ("foodstuff", "exact")}
    assert _by_iri(demo_lexicon, "Vegetable") == {("vegetable", "label"), ("veggie", "related")}
    assert _by_iri(demo_lexicon, "Dairy") == {("dairy product", "label"), ("dairy", "alt")}
    assert _by_iri(demo_lexicon, "VitaminC") == {("vitamin C", "label"), ("ascorbic acid", "exact")}
    assert _by_iri(demo_lexicon, "GrannySmith") == {("Granny Smith", "label")}
    assert _by_iri(demo_lexicon, "eats") == {("eats", "label")}
    assert _by_iri(demo_lexicon, "myLunch") == {("my lunch", "label")}


def test_demo_lexicon_sources_and_counts(demo_lexicon, demo_kg):
    entries = demo_lexicon.entries()
    assert {e.source for e in entries} == {"food"}
    kinds = {}
    for e in entries:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    assert kinds == {"label": 24, "exact": 2, "related": 1, "alt": 1}
    counts = KGDir(demo_kg).current().manifest()["counts"]
    assert counts["lexicon_entries"] == len(demo_lexicon) == len(entries)
    assert counts["lexicon_by_kind"] == kinds
    # Every class of the demo ontology has a label in the lexicon.
    classes = [line.split()[0][1:] for line in (Path(__file__).resolve().parents[2] / "ontologies" / "demo" /
                                                "food.ttl").read_text().splitlines()
               if line.startswith(":") and " a owl:Class" in line]
    assert len(classes) == 19
    assert all(any(e.kind == "label" for e in demo_lexicon.entries(FOOD + c)) for c in classes)


def test_demo_definitions(demo_lexicon):
    assert demo_lexicon.definition(FOOD + "Apple") == "The round fruit of the apple tree, Malus domestica."
    assert demo_lexicon.definition(FOOD + "Fruit").startswith("The sweet, seed-bearing part")
    assert demo_lexicon.definition(FOOD + "Banana") is None


def test_demo_preferred_labels_in_closure_tables(demo_kg):
    tables = ClosureTables(KGDir(demo_kg).current().tables)
    assert tables.label(FOOD + "Dairy") == "dairy product"  # the rdfs:label, not the skos:altLabel
    assert tables.label(FOOD + "VitaminC") == "vitamin C"


def test_extract_kinds_languages_whitespace_and_preference():
    s = MemoryStore()
    s.add("a", [
        (EX + "x", SKOS_PREF, Literal("Pref X")),
        (EX + "x", SKOS_ALT, Literal("  alt\n   x ")),
        (EX + "x", LABEL, Literal("étiquette", lang="fr")),
        (EX + "x", LABEL, Literal("label x", lang="en")),
        (EX + "x", OBOINOWL + "hasBroadSynonym", Literal("broad x")),
        (EX + "x", OBOINOWL + "hasNarrowSynonym", Literal("narrow x")),
        (EX + "x", OBOINOWL + "hasExactSynonym", Literal("   ")),  # blank: dropped
        ("_:b", LABEL, Literal("blank")),  # blank nodes have no lexicon entries
        (EX + "y", OBOINOWL + "hasExactSynonym", Literal("exact y")),
        (EX + "x", "http://www.w3.org/2000/01/rdf-schema#comment", Literal("a comment")),
        (EX + "x", SKOS_DEFINITION, Literal("skos def")),
        (EX + "y", SKOS_DEFINITION, Literal("définition", lang="fr")),
    ])
    s.add("b", [(EX + "x", IAO_DEFINITION, Literal("iao def", lang="en")), (EX + "x", LABEL, Literal("label x", lang="en"))])
    entries, labels, definitions = extract(s)
    assert set(entries) == {
        Entry(EX + "x", "Pref X", "pref", None, "a"),
        Entry(EX + "x", "alt x", "alt", None, "a"),
        Entry(EX + "x", "étiquette", "label", "fr", "a"),
        Entry(EX + "x", "label x", "label", "en", "a"),
        Entry(EX + "x", "label x", "label", "en", "b"),
        Entry(EX + "x", "broad x", "broad", None, "a"),
        Entry(EX + "x", "narrow x", "narrow", None, "a"),
        Entry(EX + "y", "exact y", "exact", None, "a"),
    }
    # Preferred label: an English rdfs:label beats a French one and a skos:prefLabel; else the best synonym.
    assert labels == {EX + "x": "label x", EX + "y": "exact y"}
    # Definitions: IAO beats skos:definition beats rdfs:comment; only English (or untagged) ones.
    assert dict((iri, text) for iri, text, _ in definitions) == {EX + "x": "iao def"}
    assert [src for iri, _, src in definitions if iri == EX + "x"] == ["b"]


# -- OBO synonyms and their types ------------------------------------------------------------------

SYN_OBO = """format-version: 1.2
ontology: syn
synonymtypedef: LAYPERSON "layperson term"

[Term]
id: SYN:0000001
name: myocardial infarction
synonym: "heart attack" EXACT LAYPERSON []
synonym: "MI" RELATED []
synonym: "cardiac infarction" NARROW [PMID:1]
synonym: "heart disease" BROAD []
"""
MI = OBO + "SYN_0000001"


@pytest.fixture(scope="module")
def syn_kg(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("syn")
    (d / "syn.obo").write_text(SYN_OBO)
    ingest([d / "syn.obo"], d / "kg", reasoner_name="structural")
    return d / "kg"


def test_obo_synonym_scopes_become_kinds(syn_kg):
    lex = Lexicon(KGDir(syn_kg).current().tables)
    assert {(e.text, e.kind) for e in lex.entries(MI)} == {
        ("myocardial infarction", "label"), ("heart attack", "exact"), ("MI", "related"),
        ("cardiac infarction", "narrow"), ("heart disease", "broad")}


def test_obo_synonym_type_reaches_the_store(syn_kg):
    """The type is kept in the KG as an owl:Axiom annotation (oboInOwl:hasSynonymType)."""
    from kgnlu.kg.owlready_store import OwlreadyStore

    store = OwlreadyStore(KGDir(syn_kg).current().quadstore, read_only=True)
    try:
        typed = [s for s, _, _ in store.triples(p=OBOINOWL + "hasSynonymType", o=OBO + "syn#LAYPERSON")]
        assert len(typed) == 1
        axiom = dict((p, o) for _, p, o in store.triples(s=typed[0]))
        assert axiom["http://www.w3.org/2002/07/owl#annotatedSource"] == MI
        assert axiom["http://www.w3.org/2002/07/owl#annotatedTarget"] == Literal("heart attack")
    finally:
        store.close()


def test_obo_synonym_type_is_kept_in_the_lexicon(syn_kg):
    lex = Lexicon(KGDir(syn_kg).current().tables)
    (entry,) = [e for e in lex.entries(MI) if e.text == "heart attack"]
    assert entry.type is not None and entry.type.endswith("LAYPERSON")

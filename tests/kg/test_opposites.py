"""Opposite HPO phenotypes derived from PATO (kg.sources.opposites): on the packaged HPO and PATO,
and the derivation note kept by the closure tables and shown in a proof."""

from __future__ import annotations

import pytest

from kgnlu.kg.sources import opposites
from kgnlu.kg.sources.mondo import cellxgene_file, load
from kgnlu.kg.store import MemoryStore
from kgnlu.kg.tables import ClosureTables
from kgnlu.kg.tables_build import Inference, build_tables

HP = "http://purl.obolibrary.org/obo/HP_"


@pytest.fixture(scope="module")
def pato_pairs():
    return opposites.opposite_words(load(cellxgene_file("PATO")))


@pytest.fixture(scope="module")
def derived(pato_pairs):
    with open(opposites.hp_obo(), encoding="utf-8") as fh:
        terms = opposites.read_hpo(fh)
    uberon = load(cellxgene_file("UBERON"))
    anatomy = opposites.anatomy_names(uberon, {w for w, _ in pato_pairs})
    pairs = {**pato_pairs, **opposites.prefix_words(terms)}
    found, skipped = opposites.derive(terms, pairs, anatomy, opposites.part_names(uberon))
    return terms, {(o.a, o.b): o for o in found}, skipped


def test_pato_gives_the_opposite_words_and_not_the_ambiguous_ones(pato_pairs):
    for a, b in [("increased", "decreased"), ("high", "low"), ("long", "short"), ("large", "small"),
                 ("deep", "shallow"), ("hyperpigmented", "hypopigmented")]:
        assert (a, b) in pato_pairs and (b, a) in pato_pairs, (a, b)
    # PATO's speed says "high speed" | "slow speed": one quality alone does not make high | slow
    assert ("high", "slow") not in pato_pairs and ("high", "small") not in pato_pairs
    assert pato_pairs[("increased", "decreased")].increased.startswith(opposites.INCREASED)


def test_pairs_that_clinicians_take_for_granted(derived):
    _, found, _ = derived
    micro = found[("HP:0000252", "HP:0000256")]  # Microcephaly | Macrocephaly
    assert (micro.name_a, micro.name_b) == ("Decreased size of cranium", "Increased size of cranium")
    assert "PATO:0002300" in micro.comment() and "'Decreased size of cranium'" in micro.comment()
    assert ("HP:0000098", "HP:0004322") in found  # Tall stature | Short stature
    assert ("HP:0001943", "HP:0003074") in found  # Hypoglycemia | Hyperglycemia ("Low | High blood sugar")


def test_opposite_greek_prefixes_on_a_stem_of_one_bearer(derived):
    terms, found, _ = derived
    by_name = {}
    for t in terms.values():
        for name in t.names:
            by_name.setdefault(name, t.id)

    def pair(x, y):
        return found.get(tuple(sorted((by_name[x], by_name[y]))))
    # HPO's synonyms differ in more than one word ("Slow heartbeats" | "Fast heart rate")
    brady = pair("Bradycardia", "Tachycardia")
    assert brady is not None and "Greek prefixes: tachy- (fast) | brady- (slow)" in brady.comment()
    for x, y in [("Hypokalemia", "Hyperkalemia"), ("Hypothyroidism", "Hyperthyroidism"), ("Tachypnea", "Bradypnea"),
                 ("Hypothermia", "Fever"), ("Thrombocytopenia", "Thrombocytosis"),
                 ("Neutropenia", "Neutrophilia")]:  # Fever's exact synonym: Hyperthermia
        assert pair(x, y) is not None, (x, y)
    # Qualities that vary by place or member, which a patient has both ways at once
    for x, y in [("Hypotonia", "Hypertonia"), ("Hyporeflexia", "Hyperreflexia"), ("Hypodontia", "Hyperdontia"),
                 ("Increased adipose tissue", "Decreased adipose tissue"), ("Hypotrichosis", "Hypertrichosis"),
                 ("Polydactyly", "Oligodactyly"), ("Hypotension", "Hypertension")]:
        assert pair(x, y) is None, (x, y)
    # A bearer with members keeps only its members' pairs
    assert pair("Hyperlipidemia", "Hypolipidemia") is None
    assert pair("Hypertriglyceridemia", "Hypotriglyceridemia") is not None
    assert pair("Lymphopenia", "Lymphocytosis") is None  # T lymphocytopenia with an increased B cell count


def test_words_inside_a_name_or_naming_a_part_make_no_pair(derived):
    terms, found, _ = derived
    by_label = {t.names[0]: t.id for t in terms.values()}

    def pair(x, y):
        a, b = sorted((by_label[x], by_label[y]))
        return (a, b) in found
    assert not pair("Neoplasm of the small intestine", "Neoplasm of the large intestine")  # UBERON names
    assert not pair("Abnormal small intestine morphology", "Abnormal large intestine morphology")
    assert not pair("Decreased HDL cholesterol concentration", "Decreased LDL cholesterol concentration")


def test_a_bearer_with_members_keeps_only_the_members_pairs(derived):
    terms, found, skipped = derived
    by_label = {t.names[0]: t.id for t in terms.values()}

    def pair(x, y):
        return tuple(sorted((by_label[x], by_label[y]))) in found
    # Increased IgG | Decreased IgG would make Increased IgG1 | Decreased IgG2
    assert not pair("Increased circulating IgG concentration", "Decreased circulating IgG concentration")
    assert pair("Decreased circulating IgG1 concentration", "Increased circulating IgG1 level")
    assert not pair("Short toe", "Long toe") and pair("Long hallux", "Short hallux")
    assert skipped > 0


def test_no_pair_makes_a_term_unsatisfiable(derived):
    terms, found, _ = derived
    up: dict[str, set[str]] = {}

    def ancestors(t):
        if t not in up:
            up[t] = {t}.union(*(ancestors(p) for p in terms[t].parents if p in terms))
        return up[t]
    below = {}
    for t in terms:
        for a in ancestors(t):
            below.setdefault(a, set()).add(t)
    assert len(found) > 300
    for a, b in found:
        assert not below[a] & below[b], (a, b)
        assert opposites.PHENOTYPIC_ABNORMALITY in ancestors(a) and opposites.PHENOTYPIC_ABNORMALITY in ancestors(b)


def test_the_tables_keep_the_derivation_and_a_proof_shows_it(tmp_path):
    from kgnlu.kg.ntriples import OWL_DISJOINTWITH, RDFS_COMMENT, atomic_ntriples, iri, lit

    nt = tmp_path / "opp.nt"
    with atomic_ntriples(nt, bnode_prefix="t") as w:
        w.annotate(iri(HP + "0000252"), OWL_DISJOINTWITH, iri(HP + "0000256"), [(RDFS_COMMENT, lit("why not"))])
        w.triple(iri(HP + "0000253"), iri("http://www.w3.org/2000/01/rdf-schema#subClassOf"), iri(HP + "0000252"))
        w.triple(iri(HP + "1"), OWL_DISJOINTWITH, iri(HP + "2"))
    store = MemoryStore()
    store.load_ntriples("opposites", nt)
    build_tables(store, Inference("structural"), tmp_path / "t.sqlite3", "test", {})
    tables = ClosureTables(tmp_path / "t.sqlite3")
    proof = tables.disjoint(HP + "0000256", HP + "0000253")
    decl = [s for s in proof if s.predicate == "owl:disjointWith"]
    assert [(s.source, s.note) for s in decl] == [("opposites", "why not")]
    assert decl[0].as_dict()["note"] == "why not" and decl[0].cited() == "opposites: why not"
    plain = tables.disjoint(HP + "1", HP + "2")
    assert plain[0].note == "" and "note" not in plain[0].as_dict()

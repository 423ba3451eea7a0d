"""``kg.ingest`` with a user's own ontologies: source names that collide or escape, the reasoner a
KG was built with kept by later writes, unsupported OWL syntaxes, and a failed first ingest that
leaves no directory behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgnlu.kg import formats
from kgnlu.kg.errors import InputError, ParseError
from kgnlu.kg.ingest import ingest, remove
from kgnlu.kg.kgdir import KGDir

PREFIXES = """@prefix : <http://ex.org/t#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
"""
OFN = "Prefix(:=<http://ex.org/>)\nOntology(<http://ex.org/o>\nDeclaration(Class(:A))\nSubClassOf(:A :B)\n)\n"
MANCHESTER = "Prefix: : <http://ex.org/>\nOntology: <http://ex.org/o>\nClass: A\n    SubClassOf: B\n"


def ttl(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PREFIXES + body)
    return path


def reasoner_of(kg: Path) -> tuple[str, str]:
    r = KGDir(kg).current().manifest()["reasoner"]
    return r["name"], r["requested"]


# -- source names --------------------------------------------------------------------------------


def test_two_files_with_one_default_name_are_refused_before_writing(tmp_path, hash_tree):
    a = ttl(tmp_path / "A" / "onto.ttl", ":X a owl:Class .\n")
    b = ttl(tmp_path / "B" / "onto.ttl", ":Y a owl:Class .\n")
    with pytest.raises(InputError, match=r"both be source 'onto'.*distinct names.*--name applies to one file"):
        ingest([a, b], tmp_path / "kg", reasoner_name="none")
    assert not (tmp_path / "kg").exists()
    ingest([ttl(tmp_path / "other.ttl", ":Z a owl:Class .\n")], tmp_path / "kg2", reasoner_name="none")
    before = hash_tree(tmp_path / "kg2")
    with pytest.raises(InputError, match="distinct names"):
        ingest([a, b], tmp_path / "kg2", reasoner_name="none")
    assert hash_tree(tmp_path / "kg2") == before
    with pytest.raises(InputError, match="given twice"):
        ingest([a, a], tmp_path / "kg2", reasoner_name="none")


def test_an_import_named_like_a_given_file_is_refused(tmp_path):
    main = ttl(tmp_path / "main.ttl", ":X a owl:Class .\n<http://ex.org/main> owl:imports <http://ex.org/base.ttl> .\n")
    given = ttl(tmp_path / "given" / "base.ttl", ":Y a owl:Class .\n")
    ttl(tmp_path / "imports" / "base.ttl", ":Z a owl:Class .\n")
    with pytest.raises(InputError, match="both be source 'base'"):
        ingest([main, given], tmp_path / "kg", reasoner_name="none", imports_dir=tmp_path / "imports")
    assert not (tmp_path / "kg").exists()


@pytest.mark.parametrize("bad", ["../esc", "x/y", "", ".hidden"])
def test_bad_name_is_refused_before_any_file_is_written(tmp_path, monkeypatch, bad):
    """The name became ``staging/NAME.normalised.nt`` before it was checked: ``../esc`` wrote
    outside the staging directory, ``x/y`` failed as a parse error."""
    src = ttl(tmp_path / "in" / "a.ttl", ":X a owl:Class .\n")
    written: list[Path] = []
    monkeypatch.setattr(formats, "to_ntriples", lambda path, out, *a, **k: written.append(out))
    with pytest.raises(InputError, match="bad source name"):
        ingest([src], tmp_path / "d" / "kg", name=bad, reasoner_name="none")
    assert written == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


# -- the recorded reasoner -------------------------------------------------------------------------


def test_a_later_ingest_reuses_the_recorded_reasoner(tmp_path):
    kg = tmp_path / "kg"
    ingest([ttl(tmp_path / "a.ttl", ":A a owl:Class .\n")], kg, reasoner_name="structural")
    ingest([ttl(tmp_path / "b.ttl", ":B a owl:Class ; rdfs:subClassOf :A .\n")], kg)
    assert reasoner_of(kg) == ("structural", "structural")
    ingest([ttl(tmp_path / "c.ttl", ":C a owl:Class .\n")], kg, reasoner_name="rl")  # an explicit one wins
    assert reasoner_of(kg) == ("rl", "rl")
    remove("c", kg)
    assert reasoner_of(kg) == ("rl", "rl")


def test_a_kg_built_without_reasoning_stays_so(tmp_path):
    kg = tmp_path / "kg"
    ingest([ttl(tmp_path / "a.ttl", ":A a owl:Class .\n")], kg, reasoner_name="none")
    ingest([ttl(tmp_path / "b.ttl", ":B a owl:Class ; rdfs:subClassOf :A .\n")], kg)
    assert reasoner_of(kg) == ("none", "none")


def test_a_new_kg_defaults_to_auto(tmp_path):
    ingest([ttl(tmp_path / "a.ttl", ":A a owl:Class .\n")], tmp_path / "kg")
    assert reasoner_of(tmp_path / "kg")[1] == "auto"


# -- unsupported OWL syntaxes ----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "what"), [(OFN, "OWL functional syntax"), ("# c\n" + OFN, "OWL functional syntax"),
                                            (MANCHESTER, "OWL Manchester syntax")])
def test_unsupported_owl_syntax_is_named(tmp_path, text, what):
    f = tmp_path / "onto.ofn"
    f.write_text(text)
    with pytest.raises(InputError, match=f"{what} is not supported; convert it first") as e:
        formats.to_ntriples(f, tmp_path / "out.nt")
    assert not isinstance(e.value, ParseError) and "\n" not in str(e.value)


@pytest.mark.parametrize("head", ["PREFIX : <http://ex.org/t#>", "PREFIX t: <http://ex.org/t#>",
                                  "prefix : <http://ex.org/t#>"])
def test_sparql_style_turtle_prefix_is_still_turtle(tmp_path, head):
    f = tmp_path / "onto.ttl"
    f.write_text(f"{head}\n<http://ex.org/t#A> a <http://www.w3.org/2002/07/owl#Class> .\n")
    assert formats.to_ntriples(f, tmp_path / "out.nt").format == "turtle"


# -- a failed first ingest -------------------------------------------------------------------------


def test_a_failed_first_ingest_leaves_no_directory(tmp_path):
    empty = tmp_path / "empty.ttl"
    empty.write_text("")
    with pytest.raises(InputError, match="empty file"):
        ingest([empty], tmp_path / "a" / "b" / "kg", reasoner_name="none")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.ttl"]


def test_a_failed_first_ingest_keeps_a_directory_it_did_not_create(tmp_path):
    kg = tmp_path / "kg"
    kg.mkdir()
    (tmp_path / "broken.ttl").write_text(PREFIXES + ":A a \n")
    with pytest.raises(ParseError):
        ingest([tmp_path / "broken.ttl"], kg, reasoner_name="none")
    assert kg.is_dir() and list(kg.iterdir()) == []
    (kg / "notes.txt").write_text("mine")
    with pytest.raises(ParseError):
        ingest([tmp_path / "broken.ttl"], kg, reasoner_name="none")
    assert sorted(p.name for p in kg.iterdir()) == [".lock", "notes.txt"]

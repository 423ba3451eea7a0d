"""Every input format gives the same KG; the format comes from --format, else the content, else the suffix.

The six-class test ontology is written by hand in Turtle (tests/data/tst.ttl), OWL/XML (tst.owx) and
OBO (tst.obo); RDF/XML, N-Triples and JSON-LD are serialised from the Turtle by rdflib.
"""

from __future__ import annotations

import gzip
import random
import shutil
from pathlib import Path

import pytest

from kgnlu.kg import formats
from kgnlu.kg.errors import InputError, ParseError
from kgnlu.kg.ingest import ingest
from kgnlu.kg.kgdir import KGDir
from kgnlu.kg.tables import ClosureTables

DATA = Path(__file__).resolve().parents[1] / "data"
OBO = "http://purl.obolibrary.org/obo/"
TST = {i: f"{OBO}TST_000000{i}" for i in range(1, 7)}
PARENT = {2: 1, 3: 2, 4: 2, 5: 1, 6: 5}


def _closure() -> set[tuple[str, str]]:
    out = set()
    for c in PARENT:
        p = c
        while p in PARENT:
            p = PARENT[p]
            out.add((TST[c], TST[p]))
    return out


EXPECTED_CLOSURE = _closure()  # 8 pairs: 2⊑1, 3⊑2, 3⊑1, 4⊑2, 4⊑1, 5⊑1, 6⊑5, 6⊑1


@pytest.fixture(scope="module")
def variants(tmp_path_factory) -> dict[str, Path]:
    """The same ontology in every format (and gzipped twice)."""
    import rdflib

    d = tmp_path_factory.mktemp("formats")
    g = rdflib.Graph().parse(DATA / "tst.ttl", format="turtle")
    out = {"turtle": d / "tst.ttl", "owlxml": d / "tst.owx", "obo": d / "tst.obo"}
    for key, src in (("turtle", "tst.ttl"), ("owlxml", "tst.owx"), ("obo", "tst.obo")):
        shutil.copy(DATA / src, out[key])
    for key, name, fmt in (("rdfxml", "tst.owl", "xml"), ("ntriples", "tst.nt", "nt"), ("jsonld", "tst.jsonld", "json-ld")):
        out[key] = d / name
        g.serialize(destination=str(out[key]), format=fmt, encoding="utf-8")
    out["turtle.gz"] = d / "tst.ttl.gz"
    out["turtle.gz"].write_bytes(gzip.compress((DATA / "tst.ttl").read_bytes()))
    out["rdfxml-gz-no-suffix"] = d / "tst-compressed.owl"  # gzip is found by magic number, not by name
    out["rdfxml-gz-no-suffix"].write_bytes(gzip.compress(out["rdfxml"].read_bytes()))
    return out


def _ingest(path: Path, kg: Path, **kw) -> tuple[dict, ClosureTables]:
    report = ingest([path], kg, reasoner_name="structural", **kw)
    return report, ClosureTables(KGDir(kg).current().tables)


def _named_pairs(tables: ClosureTables) -> set[tuple[str, str]]:
    return {(a, b) for a, b in tables.subclass_pairs() if a.startswith(OBO + "TST_") and b.startswith(OBO + "TST_")}


@pytest.mark.parametrize("variant, fmt", [
    ("turtle", "turtle"), ("rdfxml", "rdfxml"), ("owlxml", "owlxml"), ("ntriples", "ntriples"),
    ("jsonld", "jsonld"),
    ("obo", "obo"),
    ("turtle.gz", "turtle"), ("rdfxml-gz-no-suffix", "rdfxml"),
])
def test_every_format_gives_the_same_kg(variants, tmp_path, variant, fmt):
    report, tables = _ingest(variants[variant], tmp_path / "kg")
    (src,) = report["sources"]
    assert src["status"] == "added"
    assert src["format"] == fmt and src["format_from"] == "content"
    assert report["manifest"]["counts"]["classes"] == 6
    assert {tables.kind(iri) for iri in TST.values()} == {"class"}
    assert _named_pairs(tables) == EXPECTED_CLOSURE
    assert tables.label(TST[6]) == "sparrow"


# -- detection order: --format > content > suffix ---------------------------------------------------


def test_turtle_named_owl_is_sniffed_as_turtle(tmp_path):
    p = tmp_path / "looks-like-rdfxml.owl"
    shutil.copy(DATA / "tst.ttl", p)
    report, tables = _ingest(p, tmp_path / "kg")
    assert (report["sources"][0]["format"], report["sources"][0]["format_from"]) == ("turtle", "content")
    assert _named_pairs(tables) == EXPECTED_CLOSURE


def test_ntriples_named_ttl_is_sniffed_as_ntriples(variants, tmp_path):
    p = tmp_path / "really.ttl"
    shutil.copy(variants["ntriples"], p)
    report, _ = _ingest(p, tmp_path / "kg")
    assert (report["sources"][0]["format"], report["sources"][0]["format_from"]) == ("ntriples", "content")


def test_format_option_beats_content(variants, tmp_path):
    """N-Triples is Turtle too: --format turtle is obeyed, not second-guessed."""
    report, tables = _ingest(variants["ntriples"], tmp_path / "kg", fmt="turtle")
    assert (report["sources"][0]["format"], report["sources"][0]["format_from"]) == ("turtle", "option")
    assert _named_pairs(tables) == EXPECTED_CLOSURE


def test_format_option_aliases(variants, tmp_path):
    report, _ = _ingest(variants["rdfxml"], tmp_path / "kg", fmt="RDF/XML")
    assert (report["sources"][0]["format"], report["sources"][0]["format_from"]) == ("rdfxml", "option")


def test_suffix_is_the_last_resort(tmp_path):
    """A Turtle file opening with a collection is not recognisable by content; .ttl decides."""
    text = ("( <http://ex.org/a> ) <http://ex.org/p> <http://ex.org/o> .\n"
            "<http://ex.org/C> a <http://www.w3.org/2002/07/owl#Class> .\n")
    assert formats.sniff(text) is None
    p = tmp_path / "collection.ttl"
    p.write_text(text)
    report, _ = _ingest(p, tmp_path / "kg")
    assert (report["sources"][0]["format"], report["sources"][0]["format_from"]) == ("turtle", "suffix")
    q = tmp_path / "collection.txt"
    q.write_text(text)
    with pytest.raises(InputError, match="cannot tell the format"):
        _ingest(q, tmp_path / "kg2")


@pytest.mark.parametrize("text, expected", [
    ('<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', "rdfxml"),
    ('<rdf:RDF\n  xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', "rdfxml"),
    ('<?xml version="1.0"?>\n<Ontology xmlns="http://www.w3.org/2002/07/owl#" ontologyIRI="http://x"/>', "owlxml"),
    ("@prefix : <http://x#> .\n:a :b :c .", "turtle"),
    ("PREFIX : <http://x#>\n:a :b :c .", "turtle"),
    ("# comment\n@base <http://x/> .\n<a> <b> <c> .", "turtle"),
    ("<http://x/a> <http://x/b> <http://x/c> .\n", "ntriples"),
    ('<http://x/a> <http://x/b> "lit"@en .\n_:b1 <http://x/b> <http://x/c> .\n', "ntriples"),
    ("<http://x/a> a <http://x/c> .\n", "turtle"),
    ("[] a <http://x/C> .\n", None),
    ('{"@id": "http://x/a"}', "jsonld"),
    ('[{"@id": "http://x/a"}]', "jsonld"),
    ("format-version: 1.2\nontology: x\n", "obo"),
    ("[Term]\nid: X:1\n", "obo"),
    ("hello world", None),
])
def test_sniff(text, expected):
    assert formats.sniff(text) == expected


def test_unknown_format_option():
    with pytest.raises(InputError, match="unknown --format 'n3'"):
        formats.normalise_format("n3")


def test_wrong_format_option_is_a_parse_error(variants, tmp_path):
    with pytest.raises(ParseError, match=r"does not parse as turtle \(given by --format\)"):
        formats.to_ntriples(variants["rdfxml"], tmp_path / "out.nt", "turtle")


def test_normalised_ntriples_are_readable_by_the_store_parser(variants, tmp_path):
    from kgnlu.kg.ntriples import iter_ntriples

    n = formats.to_ntriples(variants["jsonld"], tmp_path / "out.nt")
    triples = list(iter_ntriples(n.ntriples))
    assert len(triples) == n.triples
    assert (TST[2], "http://www.w3.org/2000/01/rdf-schema#subClassOf", TST[1]) in triples


def test_multi_member_gzip_is_read_whole(tmp_path):
    """``cat a.gz b.gz`` is a valid gzip file; every member counts."""
    text = (DATA / "tst.ttl").read_text()
    cut = text.index("obo:TST_0000004")
    p = tmp_path / "two-members.ttl.gz"
    p.write_bytes(gzip.compress(text[:cut].encode()) + gzip.compress(text[cut:].encode()))
    assert formats.read_bytes(p) == text.encode()
    _, tables = _ingest(p, tmp_path / "kg")
    assert _named_pairs(tables) == EXPECTED_CLOSURE


def test_a_gzip_bomb_is_refused_at_a_hundred_times_its_size(tmp_path, monkeypatch):
    """A 3 MB file of gzip that held 3 GB of spaces took 22 GB of memory before the parser gave up.
    Past ``RATIO_FREE`` (lowered here) it may grow ``MAX_RATIO`` times its size; text grows 5-20x."""
    monkeypatch.setattr(formats, "RATIO_FREE", 1 << 20)
    bomb = tmp_path / "bomb.ttl.gz"
    bomb.write_bytes(gzip.compress(b"@prefix : <http://x#> .\n#" + b" " * (40 << 20)))
    assert len(bomb.read_bytes()) < 100_000
    with pytest.raises(InputError, match="likely gzip bomb"):
        formats.read_bytes(bomb)
    rng = random.Random(0)  # N-Triples of random IRIs: text as compressible as an ontology's
    text = "".join(f"<http://x.org/{rng.getrandbits(64):x}> <http://x.org/p> \"{rng.random()}\" .\n"
                   for _ in range(30_000)).encode()
    plain = tmp_path / "big.ttl.gz"
    plain.write_bytes(gzip.compress(text))
    assert len(text) > (1 << 20) and formats.read_bytes(plain) == text


def test_truncated_gzip_is_refused(tmp_path):
    p = tmp_path / "cut.ttl.gz"
    p.write_bytes(gzip.compress((DATA / "tst.ttl").read_bytes())[:-20])
    with pytest.raises(ParseError, match="truncated gzip"):
        formats.read_bytes(p)

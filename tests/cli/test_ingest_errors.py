"""Bad input to ``kgnlu ingest``, each through a real child process.

Every case must: exit 2, print exactly one line on stderr starting ``error:``, print no traceback,
and leave the KG directory byte-for-byte as it was (every file but the ``.lock``). ``-q`` turns off
the progress log, which goes to stderr too when it is not a terminal.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
from pathlib import Path

import pytest

OWLREADY_ONTOS = Path(__import__("owlready2").__file__).parent / "ontos"
RDF_HEAD = ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#" xmlns:owl="http://www.w3.org/2002/07/owl#">')


def _assert_refused(res, kg_before: dict, kg_after: dict, *, contains: str | None = None):
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert len(res.stderr_lines) == 1, res.stderr
    assert res.stderr_lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    if contains:
        assert contains in res.stderr_lines[0]
    assert kg_after == kg_before


def _bad_files(d: Path) -> dict[str, tuple[Path, list[str], str]]:
    """name -> (file, extra CLI args, a phrase the error line must contain)."""
    garbage = d / "garbage.owl"
    garbage.write_bytes(bytes(range(256)) * 40)
    latin1 = d / "latin1.ttl"
    latin1.write_bytes("@prefix : <http://x#> .\n:caf\xe9 a :C .\n".encode("latin-1"))
    truncated = d / "truncated.owl"
    full = (OWLREADY_ONTOS / "dcterms.owl").read_bytes()
    truncated.write_bytes(full[: len(full) // 2])
    bad_gz = d / "bad.ttl.gz"
    bad_gz.write_bytes(gzip.compress(b"@prefix : <http://x#> .\n:a :b :c .\n")[:-12])
    empty = d / "empty.ttl"
    empty.write_bytes(b"")
    blank = d / "blank.ttl"
    blank.write_text("   \n\n\t\n")
    comments_only = d / "comments.ttl"
    comments_only.write_text("# nothing but a comment\n@prefix : <http://x#> .\n")
    bad_nt = d / "bad.nt"
    bad_nt.write_text("<http://x/a> <http://x/b> <http://x/c> .\n<http://x/a> <http://x/b> \n")
    bad_json = d / "bad.jsonld"
    bad_json.write_text('{"@id": "http://x/a", ')
    remote_ctx = d / "remote.jsonld"
    remote_ctx.write_text('{"@context": "http://schema.org/", "@id": "http://x/a", "name": "x"}')
    rdfxml = OWLREADY_ONTOS / "dcterms.owl"
    external_dtd = d / "dtd.owl"
    external_dtd.write_text('<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF SYSTEM "http://example.invalid/x.dtd">\n'
                            f"{RDF_HEAD}</rdf:RDF>\n")
    param_entity = d / "param.owl"
    param_entity.write_text('<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [ <!ENTITY % p SYSTEM "file:///etc/passwd"> %p; ]>\n'
                            f"{RDF_HEAD}</rdf:RDF>\n")
    recursive = d / "recursive.owl"
    recursive.write_text('<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [ <!ENTITY a "&b;"> <!ENTITY b "&a;"> ]>\n'
                         f'{RDF_HEAD}<rdf:Description rdf:about="http://x/a"><rdfs:label>&a;</rdfs:label>'
                         "</rdf:Description></rdf:RDF>\n")
    functional = d / "fs.ofn"
    functional.write_text("Prefix(:=<http://ex.org/>)\nOntology(<http://ex.org/o>\nDeclaration(Class(:A))\n)\n")
    return {
        "missing file": (d / "no-such-file.owl", [], "no such file"),
        "directory": (d, [], "is a directory"),
        "binary garbage": (garbage, [], "binary"),
        "not utf-8": (latin1, [], "not UTF-8"),
        "truncated rdf/xml": (truncated, [], "does not parse as rdfxml"),
        "truncated gzip": (bad_gz, [], "truncated gzip"),
        "empty file": (empty, [], "empty file"),
        "whitespace only": (blank, [], "empty file"),
        "no triples": (comments_only, [], "no triples"),
        "broken n-triples": (bad_nt, [], "does not parse"),
        "broken json-ld": (bad_json, [], "jsonld"),
        "remote json-ld context": (remote_ctx, [], "remote JSON-LD @context"),
        "wrong --format": (rdfxml, ["--format", "turtle"], "does not parse as turtle (given by --format)"),
        "unknown --format": (rdfxml, ["--format", "n3"], "unknown --format 'n3'"),
        "unknown --reasoner": (rdfxml, ["--reasoner", "fact++"], "unknown --reasoner"),
        "bad --name": (rdfxml, ["--name", "has space"], "bad source name"),
        "--name with a slash": (rdfxml, ["--name", "x/y"], "bad source name"),
        "--name out of staging": (rdfxml, ["--name", "../esc"], "bad source name"),
        "OWL functional syntax": (functional, [], "OWL functional syntax is not supported; convert it first"),
        "--imports not a dir": (rdfxml, ["--imports", str(d / "nowhere")], "not a directory"),
        "external DTD": (external_dtd, [], "external DTD"),
        "parameter entity": (param_entity, [], "parameter entity"),
        "recursive entity": (recursive, [], "recursive entity"),
    }


CASE_IDS = [
    "missing file", "directory", "binary garbage", "not utf-8", "truncated rdf/xml", "truncated gzip", "empty file",
    "whitespace only", "no triples", "broken n-triples", "broken json-ld", "remote json-ld context", "wrong --format",
    "unknown --format", "unknown --reasoner", "bad --name", "--name with a slash", "--name out of staging",
    "OWL functional syntax", "--imports not a dir", "external DTD", "parameter entity", "recursive entity",
]


def test_case_list_is_complete(tmp_path):
    assert sorted(_bad_files(tmp_path)) == sorted(CASE_IDS)


@pytest.mark.parametrize("case", CASE_IDS)
def test_bad_input_is_refused_cleanly(case, kg_copy, tmp_path, cli, hash_tree):
    inputs = tmp_path / "in"
    inputs.mkdir()
    path, args, phrase = _bad_files(inputs)[case]
    before = hash_tree(kg_copy)
    res = cli("ingest", path, "--kg", kg_copy, "-q", *args)
    _assert_refused(res, before, hash_tree(kg_copy), contains=phrase)


def test_bad_input_into_a_new_kg_creates_no_generation(tmp_path, cli):
    bad = tmp_path / "empty.ttl"
    bad.write_text("")
    res = cli("ingest", bad, "--kg", tmp_path / "kg", "-q")
    assert res.returncode == 2 and len(res.stderr_lines) == 1
    assert not (tmp_path / "kg" / "current").exists()


def test_bad_input_into_a_new_kg_leaves_no_directory(tmp_path, cli):
    """A failed first ingest left an empty KG directory behind (with only its .lock)."""
    bad = tmp_path / "empty.ttl"
    bad.write_text("")
    res = cli("ingest", bad, "--kg", tmp_path / "new" / "kg", "-q")
    assert res.returncode == 2 and len(res.stderr_lines) == 1
    assert not (tmp_path / "new").exists()


def test_two_files_with_one_name_are_refused(kg_copy, tmp_path, cli, hash_tree):
    """Both loaded under one source name: the second replaced the first, and the exit was 0."""
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "onto.ttl").write_text(f"<http://x/{d}> a <http://www.w3.org/2002/07/owl#Class> .\n")
    before = hash_tree(kg_copy)
    res = cli("ingest", tmp_path / "a" / "onto.ttl", tmp_path / "b" / "onto.ttl", "--kg", kg_copy, "-q")
    _assert_refused(res, before, hash_tree(kg_copy), contains="give files with distinct names")
    assert "--name applies to one file" in res.stderr


# -- hostile XML -----------------------------------------------------------------------------------

XXE = f"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
{RDF_HEAD}
  <owl:Class rdf:about="http://x/Leak"><rdfs:label>&xxe;</rdfs:label></owl:Class>
</rdf:RDF>
"""


def test_xxe_is_refused_and_never_read(kg_copy, tmp_path, cli, hash_tree):
    f = tmp_path / "xxe.owl"
    f.write_text(XXE)
    before = hash_tree(kg_copy)
    res = cli("ingest", f, "--kg", kg_copy, "-q")
    _assert_refused(res, before, hash_tree(kg_copy), contains="XXE")
    passwd = Path("/etc/passwd").read_text() if Path("/etc/passwd").exists() else "root:x:0:0"
    first = passwd.splitlines()[0]
    assert first not in res.stdout + res.stderr
    for p in kg_copy.rglob("*"):
        if p.is_file():
            assert first.encode() not in p.read_bytes()


def test_xxe_as_owlxml_is_refused(kg_copy, tmp_path, cli, hash_tree):
    f = tmp_path / "xxe.owx"
    f.write_text('<?xml version="1.0"?>\n<!DOCTYPE Ontology [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n'
                 '<Ontology xmlns="http://www.w3.org/2002/07/owl#" ontologyIRI="http://x/o">'
                 '<Declaration><Class IRI="http://x/&xxe;"/></Declaration></Ontology>\n')
    before = hash_tree(kg_copy)
    res = cli("ingest", f, "--kg", kg_copy, "-q")
    _assert_refused(res, before, hash_tree(kg_copy), contains="XXE")


def _billion_laughs(levels: int = 10, fanout: int = 10) -> str:
    ents = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * fanout}">' for i in range(1, levels)]
    return ('<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n' + "\n".join(ents) + "\n]>\n"
            f'{RDF_HEAD}<rdf:Description rdf:about="http://x/a"><rdfs:label>&lol{levels - 1};</rdfs:label>'
            "</rdf:Description></rdf:RDF>\n")


def test_billion_laughs_fails_fast_with_little_memory(kg_copy, tmp_path, hash_tree):
    bomb = tmp_path / "bomb.owl"
    bomb.write_text(_billion_laughs())  # 10^9 "lol"s, 3 GB expanded
    before = hash_tree(kg_copy)
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    t0 = time.monotonic()
    # The CLI runs under a small wrapper that reports its peak RSS: Linux keeps a process's peak
    # across exec, so a child forked straight from this (large) test process would report ours.
    wrapper = ("import resource, subprocess, sys; rc = subprocess.call(sys.argv[1:]); "
               "sys.stdout.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); sys.exit(rc)")
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", "kgnlu.cli.main", "ingest", str(bomb),
                               "--kg", str(kg_copy), "-q"], stdout=o, stderr=e, stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - t0
    stderr = err.read_text()
    assert proc.returncode == 2, stderr
    # A hang guard, not a speed target: a process started under load takes seconds to import.
    assert elapsed < 30, f"took {elapsed:.1f} s"
    peak_kib = int(out.read_text())  # KiB on Linux
    assert 0 < peak_kib < 400 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "bomb" in lines[0]
    assert "Traceback" not in stderr
    assert hash_tree(kg_copy) == before


def test_quadratic_blowup_is_refused(tmp_path):
    """One big entity referenced many times (no nesting) is caught by the same expansion budget."""
    from kgnlu.kg.errors import UnsafeInputError
    from kgnlu.kg.formats import screen_xml

    text = (f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [ <!ENTITY big "{"x" * 20000}"> ]>\n'
            f'{RDF_HEAD}<rdf:Description rdf:about="http://x/a"><rdfs:label>&big;&big;</rdfs:label>'
            "</rdf:Description></rdf:RDF>\n")
    with pytest.raises(UnsafeInputError):
        screen_xml(tmp_path / "q.owl", text)


def test_harmless_internal_entities_are_allowed(tmp_path, cli):
    """OWL files often abbreviate namespaces with internal entities; those must still load."""
    f = tmp_path / "entities.owl"
    f.write_text('<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n  <!ENTITY owl "http://www.w3.org/2002/07/owl#">\n'
                 '  <!ENTITY ex "http://x/onto#">\n]>\n'
                 f'{RDF_HEAD}\n  <owl:Class rdf:about="&ex;A"/>\n'
                 '  <owl:Class rdf:about="&ex;B"><rdfs:subClassOf rdf:resource="&ex;A"/></owl:Class>\n</rdf:RDF>\n')
    res = cli("ingest", f, "--kg", tmp_path / "kg", "--reasoner", "structural", "--json")
    assert res.returncode == 0, res.stderr
    import json

    assert json.loads(res.stdout)["counts"]["classes"] == 2

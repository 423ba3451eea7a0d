"""The ``kgnlu`` command: start-up, ``kg stats``, ``kg query`` and their errors.

Output and exit codes are checked in-process with typer's ``CliRunner``; start-up (what gets
imported) and process behaviour go through a real child process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from kgnlu.cli.main import app

FOOD = "http://kgnlu.org/demo/food#"
HEAVY = ("torch", "transformers", "sentence_transformers", "torch_geometric", "faiss", "peft")
SUBCLASS_OF_FRUIT = ("SELECT ?c WHERE { ?c <http://www.w3.org/2000/01/rdf-schema#subClassOf> "
                     f"<{FOOD}Fruit> }} ORDER BY ?c")


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner, *args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


# -- start-up --------------------------------------------------------------------------------------

_PROBE = """
import json, runpy, sys
sys.argv = ["kgnlu", *json.loads(sys.argv[1])]
code = 0
try:
    runpy.run_module("kgnlu.cli.main", run_name="__main__")
except SystemExit as e:
    code = e.code or 0
print("\\nPROBE " + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


@pytest.mark.parametrize("argv", [["--help"], ["ingest", "--help"], ["kg", "--help"], ["kg", "query", "--help"],
                                  ["--version"]])
def test_help_is_light(argv):
    """--help must not pay for the neural stack (nor for the RDF stack)."""
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(argv)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    probe = json.loads(proc.stdout.rsplit("PROBE ", 1)[1])
    assert probe["code"] == 0
    loaded = {m.split(".")[0] for m in probe["modules"]}
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert not loaded & {"rdflib", "owlready2"}, sorted(loaded & {"rdflib", "owlready2"})


def test_help_through_the_installed_script():
    exe = shutil.which("kgnlu") or pytest.skip("the kgnlu script is not on PATH")
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == ""
    for command in ("ingest", "kg"):
        assert command in proc.stdout


def test_help_via_importtime():
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "kgnlu.cli.main", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "typer" in imported  # the probe works
    assert not imported & set(HEAVY)


def test_version(runner):
    from kgnlu import __version__

    r = invoke(runner, "--version")
    assert r.exit_code == 0 and r.stdout.strip() == __version__


# -- kg stats --------------------------------------------------------------------------------------


def test_stats_json(runner, demo_kg):
    r = invoke(runner, "kg", "stats", "--kg", demo_kg, "--json")
    assert r.exit_code == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["kg"] == str(demo_kg) and s["generation"].startswith("gen-")
    assert len(s["manifest_hash"]) == 16
    (src,) = s["sources"]
    assert src["name"] == "food" and src["format"] == "turtle" and src["triples"] == 96
    assert len(src["sha256"]) == 64 and src["ontology_iri"] == "http://kgnlu.org/demo/food"
    assert (s["triples"], s["classes"], s["object_properties"], s["data_properties"], s["individuals"]) == (
        96, 19, 2, 0, 2)
    assert s["annotation_properties"] == 0
    assert s["reasoner"]["name"] == "hermit" and s["reasoner"]["requested"] == "hermit"
    assert s["counts"]["equivalent_pairs"] == 1 and s["counts"]["disjoint_pairs"] == 4
    assert s["counts"]["lexicon_entries"] == 28
    assert {"parse:food", "load:food", "reason", "lexicon", "tables"} <= set(s["timings"])
    assert all(isinstance(v, (int, float)) and v >= 0 for v in s["timings"].values())


def test_stats_text(runner, demo_kg):
    r = invoke(runner, "kg", "stats", "--kg", demo_kg)
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"KG          {demo_kg} (gen-")
    assert "triples     96" in lines and "classes     19" in lines and "individuals 2" in lines
    assert any(ln.startswith("reasoner    hermit") for ln in lines)
    assert any(ln.strip().startswith("food ") and "96 triples" in ln for ln in lines)


def test_stats_from_kgnlu_home(runner, demo_kg, monkeypatch):
    monkeypatch.setenv("KGNLU_HOME", str(demo_kg))
    r = invoke(runner, "kg", "stats", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["kg"] == str(demo_kg)


@pytest.mark.parametrize("which", ["missing", "empty"])
def test_stats_without_a_kg(runner, tmp_path, which):
    kg = tmp_path / "kg"
    if which == "empty":
        kg.mkdir()
    r = invoke(runner, "kg", "stats", "--kg", kg)
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr == f"error: no KG at {kg}: run `kgnlu kg init` or `kgnlu ingest FILE` first\n"
    assert kg.exists() == (which == "empty")  # reading never creates a KG directory


def test_stats_without_a_kg_process(tmp_path, cli):
    res = cli("kg", "stats", "--kg", tmp_path / "nothing", "--json")
    assert res.returncode == 2 and len(res.stderr_lines) == 1 and res.stderr_lines[0].startswith("error: no KG at")
    assert "Traceback" not in res.stderr and res.stdout == ""


# -- kg query --------------------------------------------------------------------------------------


def test_query_table(runner, demo_kg):
    r = invoke(runner, "kg", "query", SUBCLASS_OF_FRUIT, "--kg", demo_kg)
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].rstrip() == "c"
    assert set(lines[1].strip()) == {"-"}
    assert [ln.strip() for ln in lines[2:5]] == [FOOD + "Apple", FOOD + "Banana", FOOD + "Citrus"]
    assert lines[5] == "3 row(s)"


def test_query_table_limit(runner, demo_kg):
    r = invoke(runner, "kg", "query", SUBCLASS_OF_FRUIT, "--kg", demo_kg, "--limit", "1")
    assert r.exit_code == 0
    assert r.stdout.splitlines()[-1] == "3 row(s) (showing 1)"
    assert len(r.stdout.splitlines()) == 4


def test_query_json(runner, demo_kg):
    r = invoke(runner, "kg", "query", SUBCLASS_OF_FRUIT, "--kg", demo_kg, "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout) == {"variables": ["c"], "rows": [[FOOD + "Apple"], [FOOD + "Banana"], [FOOD + "Citrus"]]}


@pytest.mark.parametrize("update", ["INSERT DATA { <http://a> <http://b> <http://c> }",
                                    "PREFIX x: <http://x#>\n# a comment\nclear all", "LOAD <http://example.org/x.ttl>"])
def test_a_sparql_update_is_refused_by_name(runner, demo_kg, update, hash_tree):
    """The store refuses updates anyway; the error says why, not "expected CONSTRUCT" at a column."""
    before = hash_tree(demo_kg)
    r = invoke(runner, "kg", "query", update, "--kg", demo_kg)
    assert r.exit_code == 2 and "SPARQL update" in r.stderr and "kgnlu ingest" in r.stderr
    assert hash_tree(demo_kg) == before
    r = invoke(runner, "kg", "query", "PREFIX insert: <http://x#> ASK { ?s a insert:A }", "--kg", demo_kg)
    assert r.exit_code == 0, r.stderr


def test_query_literals_and_aggregates(runner, demo_kg):
    q = (f"SELECT ?label (COUNT(?x) AS ?n) WHERE {{ <{FOOD}Dairy> <http://www.w3.org/2004/02/skos/core#altLabel> "
         "?label . OPTIONAL { ?x ?p ?label } } GROUP BY ?label")
    r = invoke(runner, "kg", "query", q, "--kg", demo_kg, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == {"variables": ["label", "n"], "rows": [["dairy", "1"]]}


def test_query_naming_unknown_iris(runner, demo_kg, hash_tree):
    """The KG is opened read-only: a query about IRIs it lacks must answer, not fail on a write."""
    before = hash_tree(demo_kg)
    r = invoke(runner, "kg", "query", "ASK { <http://nowhere.example/x> ?p ?o }", "--kg", demo_kg, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == {"variables": ["ask"], "rows": [["false"]]}
    r = invoke(runner, "kg", "query", f"SELECT ?p WHERE {{ <{FOOD}Apple> ?p <{FOOD}Pizza> }}", "--kg", demo_kg)
    assert r.exit_code == 0 and r.stdout.splitlines()[-1] == "0 row(s)"
    assert hash_tree(demo_kg) == before


def test_query_ask(runner, demo_kg):
    r = invoke(runner, "kg", "query", f"ASK {{ <{FOOD}Apple> ?p <{FOOD}Fruit> }}", "--kg", demo_kg, "--json")
    assert json.loads(r.stdout) == {"variables": ["ask"], "rows": [["true"]]}


@pytest.mark.parametrize("query", [
    "SELEC ?x WHERE { ?x ?p ?o }",
    "SELECT ?x WHERE { ?x ?p }",
    "   ",
    f"INSERT DATA {{ <{FOOD}X> <{FOOD}p> <{FOOD}Y> }}",
])
def test_query_errors_are_one_line(runner, demo_kg, query, hash_tree):
    before = hash_tree(demo_kg)
    r = invoke(runner, "kg", "query", query, "--kg", demo_kg)
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ")
    assert hash_tree(demo_kg) == before


def test_malformed_query_process(demo_kg, cli):
    res = cli("kg", "query", "SELECT WHERE {", "--kg", demo_kg)
    assert res.returncode == 2
    assert len(res.stderr_lines) == 1 and res.stderr_lines[0].startswith("error: SPARQL query failed")
    assert "Traceback" not in res.stderr


def test_query_without_a_kg(runner, tmp_path):
    r = invoke(runner, "kg", "query", "ASK { ?s ?p ?o }", "--kg", tmp_path / "none")
    assert r.exit_code == 2 and r.stderr.startswith("error: no KG at")


# -- ingest output ---------------------------------------------------------------------------------


def test_ingest_text_output(tmp_path, runner):
    from pathlib import Path

    tst = Path(__file__).resolve().parents[1] / "data" / "tst.ttl"
    r = invoke(runner, "ingest", tst, "--kg", tmp_path / "kg", "--reasoner", "structural", "-q")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["added", "tst", "18", "triples,", "turtle"]
    assert lines[1].startswith("reasoner  structural (requested)")
    assert lines[2] == f"KG        {tmp_path / 'kg'}: 18 triples, 6 classes, 0 individuals, 6 lexicon entries"
    r = invoke(runner, "ingest", tst, "--kg", tmp_path / "kg")
    assert r.stdout.splitlines() == ["unchanged tst                  same sha256 as before",
                                     f"KG unchanged: {tmp_path / 'kg'}"]


def test_ingest_keeps_the_reasoner_the_kg_was_built_with(tmp_path, runner):
    """Without -r, a later ingest re-reasoned the whole KG with auto (HermiT or RL)."""
    from pathlib import Path

    tst = Path(__file__).resolve().parents[1] / "data" / "tst.ttl"
    more = tmp_path / "more.ttl"
    more.write_text("<http://x/M> a <http://www.w3.org/2002/07/owl#Class> .\n")
    r = invoke(runner, "ingest", tst, "--kg", tmp_path / "kg", "-r", "structural", "--no-embed", "-q")
    assert r.exit_code == 0, r.stderr
    r = invoke(runner, "ingest", more, "--kg", tmp_path / "kg", "--no-embed", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["reasoner"] | {"seconds": 0} == {
        "name": "structural", "requested": "structural", "why": "requested", "seconds": 0}
    help_text = " ".join(invoke(runner, "ingest", "--help").stdout.split())
    assert "default: the one the KG was built with" in help_text


# -- kg init ---------------------------------------------------------------------------------------


def test_kg_init_help_lists_every_source_it_builds(runner):
    from kgnlu.kg.sources.build import SOURCES

    r = invoke(runner, "kg", "init", "--help")
    assert r.exit_code == 0
    text = " ".join(r.stdout.split())
    assert all(f"{name} (" in text for name in SOURCES), (list(SOURCES), text)
    assert "opposites (" in text and "wordnet (" in text


def test_kg_init_on_an_up_to_date_kg_prints_each_source_with_its_triples(runner, tmp_path, monkeypatch):
    """A second ``kg init`` printed ``unchanged hpo  triples``: an unchanged source's report has
    no count of its own. The packaged build is swapped for the demo ontology here."""
    from pathlib import Path

    from kgnlu.runtime import Runtime

    demo = Path(__file__).resolve().parents[2] / "ontologies" / "demo" / "food.ttl"
    monkeypatch.setattr(Runtime, "init_default_kg", lambda self, progress: self.ingest([demo], progress))
    kg = tmp_path / "kg"
    first = invoke(runner, "kg", "init", "--kg", kg, "--no-embed")
    assert first.exit_code == 0 and first.stdout.splitlines()[0].split() == ["added", "food", "96", "triples"]
    again = invoke(runner, "kg", "init", "--kg", kg, "--no-embed")
    assert again.exit_code == 0 and again.stdout.splitlines()[0].split() == ["unchanged", "food", "96", "triples"]
    (food,) = json.loads(invoke(runner, "kg", "init", "--kg", kg, "--no-embed", "--json").stdout)["sources"]
    assert (food["status"], food["triples"], food["format"]) == ("unchanged", 96, "turtle")


def test_internal_errors_are_one_line_too(tmp_path, cli):
    """An unexpected exception is a bug, but it still prints one line (exit 1) unless KGNLU_DEBUG is set."""
    kg = tmp_path / "kg"
    (kg / "gen-000001").mkdir(parents=True)
    (kg / "gen-000001" / "manifest.json").write_text("{not json")
    os.symlink("gen-000001", kg / "current")
    res = cli("kg", "stats", "--kg", kg)
    assert res.returncode in (1, 2)
    assert len(res.stderr_lines) == 1 and res.stderr_lines[0].startswith("error: ")
    assert "Traceback" not in res.stderr
    res = cli("kg", "stats", "--kg", kg, env={"KGNLU_DEBUG": "1"})
    assert "Traceback" in res.stderr

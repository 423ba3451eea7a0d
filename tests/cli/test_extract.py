"""``kgnlu extract`` / ``kgnlu eval re`` in a child process, on the demo food KG: JSON output, bad input
as one-line errors naming the line, and a reversible ``--add-to-kg``. ``--untrained`` keeps these
runs free of torch (the trained path is tested through the API)."""

from __future__ import annotations

import json

from tests.conftest import copy_kg, run_cli

FOOD = "http://kgnlu.org/demo/food#"


def test_extract_json(demo_kg):
    r = run_cli("extract", "Oranges contain vitamin C. Beef does not contain vitamin C.", "--kg", demo_kg, "--json",
                "--untrained")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    got = {(x["subject"]["iri"], x["predicate"]["name"], x["object"]["iri"], x["negated"], x["status"])
           for x in out["relations"]}
    assert got == {(FOOD + "Orange", "contains_nutrient", FOOD + "VitaminC", False, "known"),
                   (FOOD + "Beef", "contains_nutrient", FOOD + "VitaminC", True, "known")}
    assert out["model"].startswith("untrained")


def test_bad_input(demo_kg, tmp_path):
    for cmd, text in (("extract", ""), ("extract", " \n\t"), ("link", "")):  # as --input and the service refuse it
        r = run_cli(cmd, text, "--kg", demo_kg, "--json", *(("--untrained",) if cmd == "extract" else ()))
        assert (r.returncode, r.stderr_lines, r.stdout) == (2, ["error: text is empty"], "")
    r = run_cli("extract", "x" * 100_001, "--kg", demo_kg, "--untrained")
    assert r.returncode == 2 and len(r.stderr_lines) == 1 and "100000" in r.stderr
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"Oranges contain vitamin C.\n\xff\xfe\x00\x01\n")
    r = run_cli("extract", "--input", binary, "--kg", demo_kg, "--untrained")
    assert r.returncode == 2 and r.stderr_lines == [f"error: {binary}:2: not UTF-8 (byte 0)"]
    bad = tmp_path / "in.jsonl"
    bad.write_text('{"text": "Oranges contain vitamin C."}\n{"text": \n', encoding="utf-8")
    r = run_cli("extract", "--input", bad, "--kg", demo_kg, "--untrained")
    assert r.returncode == 2 and len(r.stderr_lines) == 1 and f"{bad}:2:" in r.stderr


def test_add_to_kg_and_remove(demo_kg, tmp_path):
    kg = copy_kg(demo_kg, tmp_path / "kg")
    r = run_cli("extract", "Lemons contain vitamin C. Beef contains vitamin C.", "--kg", kg, "--untrained",
                "--add-to-kg", "--min-score", "0.5", "--json")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    added = lines[-1]["added_to_kg"]
    assert [a["subject"] for a in added["added"]] == [FOOD + "Lemon"]
    assert added["skipped"][0]["reason"].startswith("conflicting")
    r = run_cli("extract", "Lemons contain vitamin C.", "--kg", kg, "--untrained", "--json")
    assert json.loads(r.stdout)["relations"][0]["status"] == "known"
    r = run_cli("kg", "remove", "--source", "extracted", "--kg", kg, "--json")
    assert r.returncode == 0, r.stderr
    r = run_cli("extract", "Lemons contain vitamin C.", "--kg", kg, "--untrained", "--json")
    assert json.loads(r.stdout)["relations"][0]["status"] == "novel"


def test_removing_the_ontology_says_what_it_took_from_extracted(demo_kg, tmp_path):
    """The extracted "lemons contain vitamin C" stayed after food went: a relation about IRIs nothing declared."""
    kg = copy_kg(demo_kg, tmp_path / "kg")
    r = run_cli("extract", "Lemons contain vitamin C.", "--kg", kg, "--untrained", "--add-to-kg", "--min-score", "0.5",
                "-q")
    assert r.returncode == 0 and "added 1 triple(s)" in r.stdout, r.stderr
    r = run_cli("kg", "remove", "--source", "food", "--kg", kg)
    assert r.returncode == 0, r.stderr
    assert ("dropped 1 extracted relation(s) about classes no remaining source has (source 'extracted', none left: "
            "the source is removed; --json lists them)") in r.stdout
    r = run_cli("kg", "stats", "--kg", kg, "--json")
    assert json.loads(r.stdout)["sources"] == [] and json.loads(r.stdout)["triples"] == 0


def test_add_to_kg_refuses_a_batch_contradiction_and_hedges(demo_kg, tmp_path):
    kg = copy_kg(demo_kg, tmp_path / "kg")
    texts = tmp_path / "c.txt"
    texts.write_text("Lemons contain vitamin C.\nLemons do not contain vitamin C.\nBananas might contain vitamin C.\n",
                     encoding="utf-8")
    r = run_cli("extract", "--input", texts, "--kg", kg, "--untrained", "-q", "--add-to-kg", "--min-score", "0.5")
    assert r.returncode == 0, r.stderr
    assert "banana MAYBE contains_nutrient vitamin C" in r.stdout
    assert "added 0 triple(s)" in r.stdout
    assert "skipped lemon NOT contains_nutrient vitamin C: conflicting within the batch" in r.stdout
    assert "skipped lemon contains_nutrient vitamin C: conflicting within the batch" in r.stdout
    assert "skipped banana MAYBE contains_nutrient vitamin C: hedged" in r.stdout


def test_eval_re(demo_kg, tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"text": "Oranges contain vitamin C.", "gold": [
        {"subject": [0, 7], "object": [16, 25], "relation": "contains_nutrient", "negated": False}]}) + "\n",
        encoding="utf-8")
    r = run_cli("eval", "re", gold, "--kg", demo_kg, "--untrained", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["micro"]["f1"] == 1.0 and rep["per_class"]["contains_nutrient"]["support"] == 1
    gold.write_text('{"text": "x", "gold": []}\nnot json\n', encoding="utf-8")
    r = run_cli("eval", "re", gold, "--kg", demo_kg, "--untrained")
    assert r.returncode == 2 and len(r.stderr_lines) == 1 and f"{gold}:2:" in r.stderr


def test_train_re_on_a_kg_without_relations_is_a_one_line_error(demo_kg, tmp_path):
    """The generator drew from an empty list of facts: an IndexError after the data folder was made."""
    r = run_cli("train", "re", "--kg", demo_kg, "--data", tmp_path / "data", "--out", tmp_path / "out", "-q")
    assert r.returncode == 2 and len(r.stderr_lines) == 1 and "relation extraction trains on a KG with both" in r.stderr
    assert not (tmp_path / "data").exists() and not (tmp_path / "out").exists()

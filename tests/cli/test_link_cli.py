"""`kgnlu link` as a user runs it (child processes, lexicon-only: no model load)."""

import json

from tests.conftest import run_cli


def test_readable_output_marks_polarity_hedges_and_experiencers(demo_kg):
    text = "I ate no apples, maybe a banana; my father eats carrots."
    res = run_cli("link", "--kg", demo_kg, "--lexicon-only", text)
    assert res.returncode == 0, res.stderr
    lines = {line.split("'")[1]: line for line in res.stdout.splitlines() if "'" in line}
    assert " NOT " in lines["apples"] and "MAYBE" not in lines["apples"]
    assert " MAYBE " in lines["banana"]
    assert lines["carrots"].endswith("(of the father)") and "(of the" not in lines["apples"]


def test_json_output_and_batch_input(demo_kg, tmp_path):
    batch = tmp_path / "texts.jsonl"
    batch.write_text(json.dumps({"text": "My father eats apples."}) + "\n" + json.dumps({"text": "No fruit."}) + "\n")
    res = run_cli("link", "--kg", demo_kg, "--lexicon-only", "--json", "--input", batch)
    assert res.returncode == 0, res.stderr
    docs = [json.loads(line) for line in res.stdout.splitlines()]
    (apples,) = docs[0]["mentions"]
    assert (apples["text"], apples["experiencer"], apples["readings"], apples["hedged"]) == ("apples", "father", [], False)
    (fruit,) = docs[1]["mentions"]
    assert fruit["negated"] and fruit["experiencer"] is None
    batch.write_text(json.dumps({"text": "Apples."}) + "\n" + json.dumps({"text": ""}) + "\n")
    res = run_cli("link", "--kg", demo_kg, "--lexicon-only", "--input", batch)
    assert res.returncode == 2 and res.stderr.strip().endswith("texts.jsonl:2: text is empty")


def test_binary_input_is_a_one_line_error(demo_kg, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00binary\x00")
    res = run_cli("link", "--kg", demo_kg, "--lexicon-only", "--input", bad)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "bad.txt" in res.stderr


def test_bad_encoder_folder_is_a_one_line_error(demo_kg, tmp_path):
    res = run_cli("link", "--kg", demo_kg, "--encoder", tmp_path, "an apple")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [f"error: encoder: {tmp_path}: not a sentence-transformers model folder (no modules.json)"]
    res = run_cli("link", "--kg", demo_kg, "--encoder", tmp_path, "--lexicon-only", "an apple")
    assert res.returncode == 2 and res.stderr.strip().splitlines() == ["error: --encoder needs dense retrieval: drop --lexicon-only"]


def test_json_is_the_python_apis(demo_kg):
    """``kgnlu link --json`` prints what ``Mention.to_dict()`` gives (it dropped the empty
    ``candidates`` list that the API and the service keep)."""
    from kgnlu import Engine

    text = "I ate no apples, maybe a banana; my father eats carrots."
    res = run_cli("link", "--kg", demo_kg, "--lexicon-only", "--json", text)
    assert res.returncode == 0, res.stderr
    with Engine.load(demo_kg, dense=False) as engine:
        assert json.loads(res.stdout)["mentions"] == [m.to_dict() for m in engine.link(text)]


def test_a_kg_path_that_is_a_file_and_an_output_that_is_a_folder_are_one_line_errors(tmp_path):
    afile = tmp_path / "notes.txt"
    afile.write_text("not a KG")
    res = run_cli("link", "--kg", afile, "apples")
    assert res.returncode == 2 and res.stderr_lines == [f"error: {afile} is a file, not a KG directory"]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"premise": "I eat apples", "hypothesis": "I eat fruit"}) + "\n")
    res = run_cli("infer", "--input", pairs, "--output", tmp_path, "--kg", tmp_path / "kg")
    assert res.returncode == 2 and res.stderr_lines == [f"error: --output {tmp_path}: is a directory; give a file"]
    assert not (tmp_path / "kg").exists()

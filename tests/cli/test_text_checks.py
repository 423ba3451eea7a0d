"""Text a command cannot read is a one-line error before any KG work: ``infer``, ``link`` and
``extract`` on an empty KG directory would otherwise build the default KG (minutes) first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgnlu.api import Engine
from kgnlu.types import InputError
from tests.conftest import run_cli

# Bytes that are not UTF-8 reach Python as lone surrogates (argv, surrogateescape).
NOT_UTF8 = "caf\udce9"


@pytest.mark.parametrize("argv, why", [
    (["infer", "-p", NOT_UTF8, "-H", "coffee"], "premise is not valid Unicode"),
    (["infer", "-p", "", "-H", "coffee"], "premise is empty"),
    (["link", NOT_UTF8], "text is not valid Unicode"),
    (["extract", NOT_UTF8], "text is not valid Unicode"),
], ids=["infer-surrogate", "infer-empty", "link-surrogate", "extract-surrogate"])
def test_unreadable_text_fails_before_any_kg_is_built(tmp_path, argv, why):
    r = run_cli(*argv, "--kg", tmp_path / "kg")
    assert r.returncode == 2 and len(r.stderr_lines) == 1 and why in r.stderr, r.stderr
    assert not (tmp_path / "kg").exists()


def test_a_batch_line_with_unreadable_text_names_its_line(tmp_path):
    batch = tmp_path / "texts.jsonl"
    # json.dumps writes a lone surrogate as an escape, which json.loads reads back as one.
    batch.write_text(json.dumps({"text": "apples"}) + "\n" + json.dumps({"text": NOT_UTF8}) + "\n")
    r = run_cli("link", "--kg", tmp_path / "kg", "--input", batch)
    assert r.returncode == 2 and "texts.jsonl:2:" in r.stderr and "not valid Unicode" in r.stderr
    assert not (tmp_path / "kg").exists()


def test_the_python_api_refuses_a_lone_surrogate_as_input(demo_kg):
    with Engine(demo_kg) as engine:
        with pytest.raises(InputError, match="premise is not valid Unicode"):
            engine.infer(NOT_UTF8, "coffee", symbolic_only=True)
        with pytest.raises(InputError, match="text is not valid Unicode"):
            engine.link(NOT_UTF8)


def test_infer_writes_a_single_pair_to_its_output_file(demo_kg, tmp_path):
    out = tmp_path / "out.jsonl"
    r = run_cli("infer", "--kg", demo_kg, "--symbolic-only", "-p", "I eat an apple.", "-H", "I eat a fruit.", "-o", out)
    assert r.returncode == 0, r.stderr
    (line,) = out.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["label"] == "entailment" and r.stdout == ""


def test_train_nli_gate_out_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    shipped = Path(__file__).resolve().parents[2] / "src" / "kgnlu" / "assets" / "nli"
    r = run_cli("train", "nli-gate", "--model", shipped, "--kg", tmp_path / "kg", "--data",
                tmp_path / "data", "--out", tmp_path / "afile", "-q")
    assert r.returncode == 2 and len(r.stderr_lines) == 1 and "afile is a file, not a model folder" in r.stderr

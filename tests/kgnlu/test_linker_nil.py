"""The NIL threshold's calibration (``kgnlu.training.linker_nil``), which ``kgnlu train linker``
writes and ``bench/link.py`` only reports."""

from __future__ import annotations

import ast
import json
import os
import random
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kgnlu.tasks.linking import DEFAULT_NIL, NIL_FILE, calibrated_nil  # noqa: E402
from kgnlu.training import linker_split  # noqa: E402
from kgnlu.training.linker_nil import calibrate, nil_phrases, write_nil  # noqa: E402
from kgnlu.training.linker_split import held_out_obo  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

OBO = """format-version: 1.2
ontology: hp

[Term]
id: HP:0000001
name: All

[Term]
id: HP:0001658
name: Myocardial infarction
synonym: "Heart attack" EXACT []
synonym: "Heart problem" BROAD []
is_a: HP:0000001 ! All

[Term]
id: HP:0002315
name: Headache
synonym: "Cephalalgia" EXACT []
synonym: "Head pain" EXACT layperson []
is_a: HP:0000001 ! All

[Term]
id: HP:0000002
name: obsolete Abnormality of body height
synonym: "Height \\"anomaly\\"" EXACT []
is_obsolete: true

[Term]
id: HP:0001945
name: Fever
is_a: HP:0000001 ! All
"""


def test_calibrate_picks_the_best_f1_halfway_below():
    """At t = 0.7 all three positives link and one negative does (F1 6/7, the best); the threshold
    sits halfway between 0.7 and the next score below it, 0.6."""
    nil = calibrate([0.9, 0.8, 0.7], [0.6, 0.75])
    assert nil == {"nil_threshold": 0.65, "f1": 0.8571, "precision": 0.75, "recall": 1.0, "positives": 3,
                   "negatives": 2}
    assert calibrate([0.5], [])["nil_threshold"] == 0.5  # nothing below: the score itself


def test_calibrate_gives_the_numbers_bench_link_gave():
    """The function moved out of bench/link.py unchanged: the last version of the bench that
    calibrated (commit 211813e) computes the same thresholds on the same scores."""
    try:
        old = subprocess.run(["git", "show", "211813e:bench/link.py"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("no git history here")
    tree = ast.parse(old)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "calibrate")
    scope: dict = {}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), "old_link", "exec"), scope)
    rng = random.Random(0)
    for _ in range(20):
        pos = [round(rng.uniform(0.3, 1.0), 4) for _ in range(rng.randint(1, 60))]
        neg = [round(rng.uniform(-1.0, 0.8), 4) for _ in range(rng.randint(0, 40))]
        assert calibrate(pos, neg) == scope["calibrate"](pos, neg)


def test_held_out_obo_removes_exact_synonyms_of_held_out_terms(tmp_path):
    src, dst = tmp_path / "hp.obo", tmp_path / "out.obo"
    src.write_text(OBO)
    queries, held = held_out_obo(src, dst, seed=0, fraction=1.0)  # every term with an EXACT synonym held out
    assert queries == [("Heart attack", "http://purl.obolibrary.org/obo/HP_0001658"),
                       ("Cephalalgia", "http://purl.obolibrary.org/obo/HP_0002315"),
                       ("Head pain", "http://purl.obolibrary.org/obo/HP_0002315")]
    assert held == ["http://purl.obolibrary.org/obo/HP_0000002", "http://purl.obolibrary.org/obo/HP_0001658",
                    "http://purl.obolibrary.org/obo/HP_0002315"]  # obsolete too, but not as a query
    out = dst.read_text()
    assert "EXACT" not in out and 'synonym: "Heart problem" BROAD []' in out and "name: Headache" in out
    assert held_out_obo(src, dst, seed=0, fraction=0.0) == ([], []) and dst.read_text() == OBO


def test_written_threshold_is_what_the_linker_reads(tmp_path):
    nil = calibrate([0.9, 0.8, 0.7], [0.6, 0.75])
    path = write_nil(tmp_path, nil, "abc")
    doc = json.loads(path.read_text())
    assert path.name == NIL_FILE and doc["encoder"] == "abc"
    assert doc["calibrated_on"] == {"positives": "3 held-out HPO EXACT synonyms",
                                    "negatives": "2 phrases of data/nil_phrases.txt"}
    assert calibrated_nil(tmp_path, "abc") == 0.65
    assert calibrated_nil(tmp_path, "another encoder") == DEFAULT_NIL


def test_nil_phrases_skip_comments_and_blanks(tmp_path):
    (tmp_path / "p.txt").write_text("# comment\nthe weekend\n\n  a cup of coffee \n")
    assert nil_phrases(tmp_path / "p.txt") == ["the weekend", "a cup of coffee"]
    assert len(nil_phrases(REPO / "data" / "nil_phrases.txt")) > 200


def test_train_linker_calibrate_only(minilm_folder, tmp_path, monkeypatch):
    """``kgnlu train linker --calibrate-only`` on a model folder: the held-out HPO KG is built,
    its synonyms and the NIL phrases searched, and linker.json written for that encoder only."""
    from kgnlu.training.linker_train import train

    obo = tmp_path / "hp.obo"
    obo.write_text(OBO)
    monkeypatch.setattr(linker_split, "hp_obo", lambda: obo)
    phrases = tmp_path / "nil.txt"
    phrases.write_text("a cup of coffee\nthe weekend\nparking ticket\n")
    report = train(None, minilm_folder, calibrate_only=True, nil_phrases=phrases, holdout=1.0, holdout_seed=0,
                   calibration_work=tmp_path / "work", progress=False)
    assert report["positives"] == 3 and report["negatives"] == 3
    assert report["holdout"]["fraction"] == 1.0 and 0.0 < report["nil_threshold"] < 1.0
    doc = json.loads((minilm_folder / NIL_FILE).read_text())
    assert doc["encoder"] == report["encoder"] and doc["nil_threshold"] == report["nil_threshold"]
    assert calibrated_nil(minilm_folder, report["encoder"]) == report["nil_threshold"]
    assert (tmp_path / "work" / "kg").is_dir()  # kept for the next run

    # An adapter's own split comes from its training.json; a calibration on another split is refused.
    (minilm_folder / "training.json").write_text(json.dumps({"holdout": {"seed": 0, "fraction": 1.0,
                                                                          "digest_exact": "not this split"}}))
    with pytest.raises(ValueError, match="whose synonyms it has seen"):
        train(None, minilm_folder, calibrate_only=True, nil_phrases=phrases, calibration_work=tmp_path / "work",
              progress=False)
    with pytest.raises(ValueError, match="needs nil_phrases"):
        train(None, minilm_folder, calibrate_only=True, progress=False)


def test_bench_link_writes_nothing_beside_the_encoders():
    """bench/link.py reports the calibration; only ``kgnlu train linker`` writes linker.json. Every
    file it writes is its own report (``--out`` and the JSON beside it)."""
    source = (REPO / "bench" / "link.py").read_text()
    assert "write_nil" not in source and "assets" not in source.replace('"assets" / "linker"', "")
    writes = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in ("write_text", "write_bytes", "open", "mkdir", "symlink_to", "unlink"):
            writes.append(ast.unparse(node.func.value))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            writes.append("open(" + ast.unparse(node.args[0]) + ")")
    allowed = {"args.out", "args.out.parent", "args.out.with_suffix('.json')", "out_json", "work", "cache", "link"}
    assert writes and set(writes) <= allowed, set(writes) - allowed

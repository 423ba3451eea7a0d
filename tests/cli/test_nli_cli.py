"""``kgnlu train nli`` and ``kgnlu eval nli`` as a user runs them, on the demo food KG: a tiny
training run from generated pairs, then the evaluation report, its JSON and its PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgnlu.neural.manifest import library_versions
from kgnlu.tasks.nli_features import PROOF_FEATURES
from kgnlu.training import nli_data
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def trained(demo_kg, tmp_path_factory):
    root = tmp_path_factory.mktemp("nli-cli")
    data, model = root / "data", root / "model"
    nli_data.generate(demo_kg, data, seed=0, n_train=48, n_dev=16, n_test=24)
    r = run_cli("train", "nli", "--kg", demo_kg, "--data", data, "--out", model, "--seed", "0", "--epochs", "1",
                "--max-train", "32", "--max-dev", "16", "--batch-size", "16", "--json", timeout=600)
    assert r.returncode == 0, r.stderr
    return data, model, json.loads(r.stdout)


def test_train_nli_saves_a_model_with_its_log_and_command(trained):
    _, model, summary = trained
    assert summary["n_train"] == 32 and summary["seed"] == 0
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["id2label"] == {"0": "entailment", "1": "neutral", "2": "contradiction"}
    assert manifest["training"]["options"]["command"].startswith("kgnlu train nli --kg ")
    # the libraries that made the weights, and those that refit the gate (the same run here)
    assert manifest["training"]["versions"] == manifest["training"]["gate_fit"]["versions"] == library_versions()
    assert (model / "adapter" / "adapter_model.safetensors").is_file()
    assert not list(model.rglob("*.bin")) and not list(model.rglob("*.pt"))  # no pickles
    assert [json.loads(x)["epoch"] for x in (model / "train_log.jsonl").read_text().splitlines()] == [1]


def test_eval_nli_report_json_and_plots(trained, demo_kg, tmp_path):
    data, model, _ = trained
    r = run_cli("eval", "nli", data / "test.jsonl", "--kg", demo_kg, "--model", model, "--plots", tmp_path, "--json",
                timeout=600)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["n"] == 24 and 0.0 <= report["accuracy"] <= 1.0 and 0.0 <= report["ece"] <= 1.0
    assert report["confusion"]["labels"] == ["entailment", "neutral", "contradiction"]
    assert sum(map(sum, report["confusion"]["matrix"])) == 24
    assert {p.rsplit("/", 1)[-1] for p in report["plots"]} == {"reliability.png", "confusion.png"}
    assert all((tmp_path / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in ("reliability.png", "confusion.png"))
    text = run_cli("eval", "nli", data / "test.jsonl", "--kg", demo_kg, "--model", model, "--mode", "symbolic", "-q",
                   timeout=600)
    assert text.returncode == 0 and "macro-F1" in text.stdout and "ECE" in text.stdout


def test_eval_nli_bad_mode_and_missing_model(demo_kg, tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"premise": "I eat apples", "hypothesis": "I eat fruit", "label": "entailment"}) + "\n")
    r = run_cli("eval", "nli", gold, "--kg", demo_kg, "--mode", "magic")
    assert r.returncode == 2 and r.stderr_lines == ["error: --mode must be one of fused, neural, symbolic, no-gnn, not 'magic'"]
    r = run_cli("eval", "nli", gold, "--kg", demo_kg, "--model", tmp_path / "nothing")
    assert r.returncode == 2 and len(r.stderr_lines) == 1 and "no trained NLI model" in r.stderr


def test_train_nli_refuses_pairs_generated_from_other_templates(trained, demo_kg, tmp_path):
    """Pairs an older kgnlu generated would train a model the shipped templates no longer describe."""
    from kgnlu.training.nli_data import stale_data

    data, _, _ = trained
    assert stale_data(data) is None  # generated here from the shipped templates
    old = tmp_path / "old"
    old.mkdir()
    for name in ("train.jsonl", "dev.jsonl"):
        (old / name).write_bytes((data / name).read_bytes())
    assert stale_data(old) is None  # no stats.json: pairs from elsewhere are taken as they are
    stats = json.loads((data / "stats.json").read_text())
    (old / "stats.json").write_text(json.dumps({**stats, "templates_sha256": "0" * 16}))
    r = run_cli("train", "nli", "--kg", demo_kg, "--data", old, "--out", tmp_path / "model", "--epochs", "1",
                "--max-train", "16", "--max-dev", "16")
    assert r.returncode == 2 and len(r.stderr_lines) == 1
    assert "other templates than nli.json" in r.stderr and "--regenerate" in r.stderr
    assert not (tmp_path / "model").exists()


SNLI = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "nli" / "snli_dev.jsonl"


@pytest.mark.skipif(not SNLI.is_file(), reason="../shared/realdata is absent")
def test_eval_nli_binary_set(trained, demo_kg, tmp_path):
    """An RTE-style file (entailment / not_entailment) is scored as binary: real SNLI pairs, their
    neutral and contradiction labels written as a binary set's spellings."""
    _, model, _ = trained
    records = [json.loads(line) for line in SNLI.read_text(encoding="utf-8").splitlines()[:40]]
    three, two = tmp_path / "three.jsonl", tmp_path / "two.jsonl"
    three.write_text("".join(json.dumps(r) + "\n" for r in records))
    spellings = ["not_entailment", "non-entailment", "Not Entailment"]
    two.write_text("".join(json.dumps({**r, "label": r["label"] if r["label"] == "entailment" else spellings[i % 3]}) + "\n"
                           for i, r in enumerate(records)))
    reports = {}
    for f in (three, two):
        r = run_cli("eval", "nli", f, "--kg", demo_kg, "--model", model, "--json", timeout=600)
        assert r.returncode == 0, r.stderr
        reports[f.stem] = json.loads(r.stdout)
    b, t = reports["two"], reports["three"]
    assert b["binary"] is True and t["binary"] is False
    assert b["confusion"]["labels"] == ["entailment", "not_entailment"]
    entailed = sum(r["label"] == "entailment" for r in records)
    assert b["per_class"]["entailment"]["support"] == t["per_class"]["entailment"]["support"] == entailed
    assert b["per_class"]["not_entailment"]["support"] == len(records) - entailed
    # binary says entailment only where P(e) > P(n) + P(c), so only where the 3-way argmax is e too
    assert sum(row[0] for row in b["confusion"]["matrix"]) <= sum(row[0] for row in t["confusion"]["matrix"])
    assert b["confusion"]["matrix"][0][0] <= t["confusion"]["matrix"][0][0]
    assert 0.0 <= b["ece"] <= 1.0


@pytest.mark.parametrize("content, why", [
    (json.dumps({"premise": "I eat apples", "hypothesis": "I eat fruit", "label": "maybe"}), "gold.jsonl:1: label 'maybe'"),
    ('{"premise": "a", "hypothesis": "b", "label": "neutral"}\n{"premise": "a" "hypothesis"}', "gold.jsonl:2: not JSON"),
    ('{"premise": "a", "hyp": "b", "label": "neutral"}', "gold.jsonl:1: a record needs string 'premise'"),
    ("[1, 2]", "gold.jsonl:1: not a JSON object"),
    (b'{"premise": "a\xff", "hypothesis": "b", "label": "neutral"}', "gold.jsonl: not UTF-8 text"),
    (b"", "gold.jsonl: no records"),
    (b"\n  \n", "gold.jsonl: no records"),
    ('{"premise": "", "hypothesis": "b", "label": "neutral"}', "gold.jsonl:1: premise is empty"),
    ('{"premise": "a", "hypothesis": " ", "label": "neutral"}', "gold.jsonl:1: hypothesis is empty"),
    (json.dumps({"premise": "a" * 100_001, "hypothesis": "b", "label": "neutral"}), "gold.jsonl:1: premise has 100001"),
    ('{"premise": "a\\u0000b", "hypothesis": "b", "label": "neutral"}', "gold.jsonl:1: premise contains NUL bytes"),
    ('{"premise": "a", "hypothesis": "b", "label": ["entailment"]}', "gold.jsonl:1: label ['entailment'] is not"),
    ("".join(json.dumps({"premise": "a", "hypothesis": "b", "label": y}) + "\n"
             for y in ("entailment", "neutral", "not_entailment")),
     "gold.jsonl:3: label 'not_entailment' is binary, but line 2's 'neutral' is three-way"),
], ids=["label", "json", "fields", "array", "utf8", "empty", "blank", "empty-text", "blank-text", "huge-text", "nul",
        "label-list", "mixed-schemes"])
def test_eval_nli_bad_file_is_one_line_before_any_kg_work(tmp_path, content, why):
    """Checked before the KG is opened (or, with none, built: minutes): here --kg names nothing."""
    gold = tmp_path / "gold.jsonl"
    gold.write_bytes(content if isinstance(content, bytes) else content.encode() + b"\n")
    r = run_cli("eval", "nli", gold, "--kg", tmp_path / "no-kg-here")
    assert r.returncode == 2 and len(r.stderr_lines) == 1 and why in r.stderr and "internal" not in r.stderr
    assert not (tmp_path / "no-kg-here").exists()


@pytest.mark.parametrize("argv, why", [
    (["--dev", "{tmp}/nothing.jsonl"], "error: --dev {tmp}/nothing.jsonl: no such file"),
    (["--dev", "{tmp}/bad.jsonl"], "error: --dev {tmp}/bad.jsonl:2: not JSON"),
    (["--dev", "{tmp}/two.jsonl"], "error: --dev {tmp}/two.jsonl:1: label 'not_entailment' is binary, but the file "
                                   "scored is three-way"),
    (["--dev", "{tmp}/gold.jsonl"], "error: --dev {tmp}/gold.jsonl: is the file scored"),
    (["--plots", "{tmp}/two.jsonl"], "error: --plots {tmp}/two.jsonl: is a file, not a directory"),
    (["--plots", "{tmp}/two.jsonl/plots"], "error: --plots {tmp}/two.jsonl/plots: {tmp}/two.jsonl is a file"),
    (["--dev", "{tmp}/bad.jsonl", "{tmp}"], "error: {tmp}: is a directory"),  # FILE a directory: checked first
], ids=["dev-missing", "dev-malformed", "dev-binary-for-three-way", "dev-is-file", "plots-file", "plots-under-file",
        "file-is-dir"])
def test_eval_nli_dev_plots_and_file_are_checked_before_any_kg_work(tmp_path, argv, why):
    """They failed after FILE was scored (a bad --dev, --plots a file), or were taken silently
    (a missing --dev: no temperature fitted), or misnamed (a directory: "no such file")."""
    pair = {"premise": "I eat apples", "hypothesis": "I eat fruit"}
    (tmp_path / "gold.jsonl").write_text(json.dumps({**pair, "label": "entailment"}) + "\n"
                                         + json.dumps({**pair, "label": "neutral"}) + "\n")
    (tmp_path / "two.jsonl").write_text(json.dumps({**pair, "label": "not_entailment"}) + "\n")
    (tmp_path / "bad.jsonl").write_text(json.dumps({**pair, "label": "neutral"}) + "\n{\n")
    argv = [a.format(tmp=tmp_path) for a in argv]
    gold = [] if argv[-1] == str(tmp_path) else [tmp_path / "gold.jsonl"]
    r = run_cli("eval", "nli", *gold, *argv, "--kg", tmp_path / "no-kg-here")
    assert r.returncode == 2 and r.stderr_lines[0].startswith(why.format(tmp=tmp_path)), r.stderr
    assert len(r.stderr_lines) == 1 and not (tmp_path / "no-kg-here").exists()


@pytest.mark.skipif(not SNLI.is_file(), reason="../shared/realdata is absent")
def test_train_nli_with_human_written_pairs(trained, demo_kg, tmp_path):
    """--extra: real SNLI pairs trained on beside the generated ones, recorded in the manifest."""
    data, _, _ = trained
    extra = tmp_path / "snli.jsonl"
    extra.write_text("".join(line + "\n" for line in SNLI.read_text(encoding="utf-8").splitlines()[:20]))
    model = tmp_path / "model"
    r = run_cli("train", "nli", "--kg", demo_kg, "--data", data, "--out", model, "--seed", "0", "--epochs", "1",
                "--max-train", "16", "--max-dev", "8", "--batch-size", "16", "--extra", extra, "--json", timeout=600)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["n_train"] == 16 + 18 and summary["n_dev"] == 8 + 2
    recipe = json.loads((model / "manifest.json").read_text())["training"]["options"]["extra"]
    assert recipe == [{"spec": str(extra.resolve()), "sha256": recipe[0]["sha256"], "train": 18, "dev": 2}]
    r = run_cli("train", "nli", "--kg", demo_kg, "--data", data, "--out", model, "--extra", tmp_path / "none.jsonl")
    assert r.returncode != 0 and len(r.stderr_lines) == 1 and "none.jsonl" in r.stderr


def test_train_nli_ends_by_fitting_the_gate_on_proved_verdicts(trained):
    """The last stage of `kgnlu train nli`: the gate's decided-verdict head, fitted on the dev set."""
    _, model, summary = trained
    fit = summary["gate_fit"]
    assert fit["pairs"] == 16 and 0 < fit["decided_pairs"] <= 16 and fit["dev_nll_after"] < fit["dev_nll_fresh_head"]
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["training"]["gate_fit"] == {**fit, "command": manifest["training"]["options"]["command"]}
    gate = json.loads((model / "gate" / "config.json").read_text())
    assert gate["decided_dim"] == len(PROOF_FEATURES)  # the verdict and its proof, nothing of the text


def test_train_nli_gate_refits_a_saved_model_as_training_did(trained, demo_kg, tmp_path):
    """`kgnlu train nli-gate` rebuilds the dev set the manifest records and fits the same head the
    training run fitted; only the gate and the manifest differ from the model it read."""
    import torch
    from safetensors.torch import load_file

    data, model, _ = trained
    out = tmp_path / "refit"
    r = run_cli("train", "nli-gate", "--model", model, "--kg", demo_kg, "--data", data, "--out", out, "--json",
                timeout=600)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["pairs"] == 16 and report["command"].startswith("kgnlu train nli-gate --model ")
    for part in ("adapter/adapter_model.safetensors", "heads/model.safetensors", "gnn/model.safetensors"):
        assert (out / part).read_bytes() == (model / part).read_bytes()
    a, b = load_file(str(model / "gate" / "model.safetensors")), load_file(str(out / "gate" / "model.safetensors"))
    assert a.keys() == b.keys() and {"decided.weight", "decided.bias"} <= a.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"]["gate_fit"]["command"] == report["command"]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in model.iterdir())  # nothing staged left
    # The reading the refit sets, recorded where the predictor reads it; training itself kept its own.
    assert report["reading"] == {"gate_mask": "undecided", "graph": "both"}
    assert {k: manifest["config"]["features"][k] for k in ("gate_mask", "graph")} == report["reading"]
    assert manifest["training"]["features"]["gate_mask"] == "decided"


def test_train_nli_gate_sets_the_reading_it_is_asked_for(trained, demo_kg, tmp_path, hash_tree):
    """--gate-mask and --graph choose how the refitted model reads undecided pairs; the trained
    reading ("decided", "all") gives it back. A reading kgnlu does not know is a one-line error."""
    data, model, _ = trained
    out = tmp_path / "as-trained"
    r = run_cli("train", "nli-gate", "--model", model, "--kg", demo_kg, "--data", data, "--out", out, "--json",
                "--gate-mask", "decided", "--graph", "all", timeout=600)
    assert r.returncode == 0, r.stderr
    features = json.loads((out / "manifest.json").read_text())["config"]["features"]
    assert (features["gate_mask"], features["graph"]) == ("decided", "all")
    before = hash_tree(model)
    r = run_cli("train", "nli-gate", "--model", model, "--kg", demo_kg, "--data", data, "--graph", "some")
    assert r.returncode == 2 and len(r.stderr_lines) == 1 and "graph to one of" in r.stderr
    assert hash_tree(model) == before


def test_train_nli_gate_refuses_a_dev_set_the_model_was_not_trained_against(trained, demo_kg, tmp_path, hash_tree):
    data, model, _ = trained
    other = tmp_path / "other"
    other.mkdir()
    (other / "dev.jsonl").write_text((data / "dev.jsonl").read_text().replace("\n", "\n\n", 1))
    before = hash_tree(model)
    r = run_cli("train", "nli-gate", "--model", model, "--kg", demo_kg, "--data", other)
    assert r.returncode == 2 and len(r.stderr_lines) == 1
    assert "not the dev set this model was trained against" in r.stderr
    r = run_cli("train", "nli-gate", "--model", model, "--kg", demo_kg, "--data", tmp_path / "nothing")
    assert r.returncode == 2 and len(r.stderr_lines) == 1 and "dev.jsonl: not found" in r.stderr
    assert hash_tree(model) == before


@pytest.mark.parametrize("argv, why", [
    (["nli", "--device", "foo"], "--device foo: give cpu or cuda"),
    (["nli", "--lr", "nan"], "--lr nan: give a learning rate above 0"),
    (["nli", "--lr", "-1"], "--lr -1.0: give a learning rate above 0"),
    (["nli", "--threads", "9999"], "--threads 9999: this machine has"),
    (["re", "--device", "cuda:x"], "--device cuda:x: give cpu or cuda"),
    (["nli-gate", "--model", "m", "--device", "gpu"], "--device gpu: give cpu or cuda"),
], ids=["device", "lr-nan", "lr-negative", "threads", "re-device", "gate-device"])
def test_training_options_are_checked_before_any_work(tmp_path, argv, why):
    """They were internal errors from torch, some only after the model had loaded."""
    r = run_cli("train", *argv, "--kg", tmp_path / "kg", "--data", tmp_path / "data", "-q",
                *([] if argv[0] == "nli-gate" else ["--out", tmp_path / "out"]))
    assert r.returncode == 2 and len(r.stderr_lines) == 1 and why in r.stderr
    assert not any(tmp_path.iterdir())  # no KG built, no data generated, no model folder

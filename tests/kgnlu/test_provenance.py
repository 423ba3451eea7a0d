"""Every trained model's record keeps what made it: the library versions (``training.versions``)
and, run from the CLI, the command line. The NLI, linker and curation trainers are checked in
their own tests' runs; the relation extractor's here, on three hand-written sentences."""

from __future__ import annotations

import json
import os
import sys
from importlib import metadata

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kgnlu.neural import manifest  # noqa: E402
from kgnlu.neural.manifest import library_versions, read_manifest  # noqa: E402

IS_A = "http://www.w3.org/2000/01/rdf-schema#subClassOf"


def test_library_versions_are_the_installed_ones_and_a_missing_one_is_absent(monkeypatch):
    versions = library_versions()
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
    for name in ("torch", "transformers", "peft", "numpy"):
        assert versions[name] == metadata.version(name)
    monkeypatch.setattr(manifest, "WEIGHT_LIBRARIES", ("numpy", "no-such-kgnlu-package"))
    assert library_versions() == {"python": versions["python"], "numpy": versions["numpy"]}


def _record(text: str, subject: str, obj: str) -> dict:
    s, o = text.index(subject), text.index(obj)
    return {"text": text, "gold": [{"subject": [s, s + len(subject)], "object": [o, o + len(obj)],
                                    "relation_iri": IS_A, "negated": False}]}


def test_relation_training_records_the_versions_and_its_command(demo_kg, tmp_path):
    from kgnlu.training import re_train

    records = [_record("Apples are a kind of fruit, unlike beef.", "Apples", "fruit"),
               _record("A carrot is a vegetable, and so is spinach.", "carrot", "vegetable"),
               _record("Cheese is a dairy product; lemons are fruit.", "Cheese", "dairy product")]
    data = tmp_path / "data"
    data.mkdir()
    for name in ("train.jsonl", "dev.jsonl"):
        (data / name).write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    (data / "meta.json").write_text(json.dumps({"relations": []}), encoding="utf-8")
    report = re_train.train(demo_kg, data, tmp_path / "model", epochs=1, max_train=8, max_dev=8, batch_size=4,
                            num_layers=1, threads=1, progress=lambda _: None, command="kgnlu train re --seed 13")
    training = read_manifest(tmp_path / "model")["training"]
    assert training["command"] == report["command"] == "kgnlu train re --seed 13"
    assert training["versions"] == report["versions"] == library_versions()


@pytest.mark.parametrize("argv, job", [
    (["train", "re", "--data", "DATA", "--out", "OUT", "--seed", "5", "--json"], "train_relations"),
    (["train", "linker", "--out", "OUT", "--seed", "5", "--json"], "train_linker"),
])
def test_the_cli_hands_its_command_line_to_the_trainer(monkeypatch, tmp_path, capsys, argv, job):
    """As ``kgnlu train nli`` and ``train curation`` do: the trainer records it beside the versions."""
    import kgnlu.training.jobs as jobs
    from kgnlu.cli import main

    (tmp_path / "train.jsonl").write_text("")  # present: `train re` generates no data
    argv = [str(tmp_path) if a == "DATA" else str(tmp_path / "out") if a == "OUT" else a for a in argv]
    seen = {}

    def fake(*args, **options):
        seen.update(options)
        return {"trained": True}

    monkeypatch.setattr(jobs, job, fake)
    monkeypatch.setattr(sys, "argv", ["kgnlu", *argv[:2], "--kg", str(tmp_path / "kg"), *argv[2:]])
    with pytest.raises(SystemExit) as exit_:
        main.main()
    assert exit_.value.code in (0, None) and json.loads(capsys.readouterr().out) == {"trained": True}
    assert seen["command"] == f"kgnlu {' '.join(argv[:2])} --kg {tmp_path / 'kg'} {' '.join(argv[2:])}"

"""The task models' one save/load (``kgnlu.neural.component``): dispatch on the manifest's type,
round trips, one-line errors, the linking mode a manifest records, and version-1 manifests."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kgnlu.neural.component import (  # noqa: E402
    LEXICON_LINKING, MANIFEST_NAME, ModelFormatError, load_model, model_linking, read_manifest, save_model)
from kgnlu.neural.fused import FusedNLI  # noqa: E402
from kgnlu.neural.re_head import RelationModel  # noqa: E402
from kgnlu.types import InputError  # noqa: E402

ASSETS = Path(__file__).resolve().parents[2] / "src" / "kgnlu" / "assets"
RE_LABELS = ["none", "is_a", "contains_nutrient"]
SYM = [f"f{i}" for i in range(6)]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def nli_batch(tok) -> dict:
    g = torch.Generator().manual_seed(0)
    enc = dict(tok(["I like eating apples", "The patient has no fever"],
                   ["I like eating fruit", "The patient has a fever"], padding=True, return_tensors="pt"))
    enc.update(x=torch.randn(5, 384, generator=g), role=torch.rand(5, 3, generator=g).round(),
               edge_index=torch.tensor([[0, 1, 3], [1, 2, 4]]), edge_type=torch.tensor([0, 1, 2]),
               node_batch=torch.tensor([0, 0, 0, 1, 1]), symbolic=torch.rand(2, 15, generator=g),
               verdict=torch.tensor([0, 2]), has_linked=torch.tensor([1.0, 0.0]),
               gate_open=torch.tensor([1.0, 0.0]))
    return enc


def re_batch(tok) -> dict:
    """Two sentences with two marked mentions each, read as both pairs of each sentence."""
    g = torch.Generator().manual_seed(1)
    enc = dict(tok(["[unused0] Oranges [unused1] contain [unused0] vitamin C [unused1] .",
                    "[unused0] Beef [unused1] is a kind of [unused0] meat [unused1] ."], padding=True,
                   return_tensors="pt"))
    m = tok.convert_tokens_to_ids(["[unused0]"])[0]
    pos = [(enc["input_ids"][r] == m).nonzero().flatten().tolist() for r in range(2)]
    enc.update(rows=torch.tensor([0, 0, 1, 1]), e1=torch.tensor([pos[0][0], pos[0][1], pos[1][0], pos[1][1]]),
               e2=torch.tensor([pos[0][1], pos[0][0], pos[1][1], pos[1][0]]), symbolic=torch.rand(4, len(SYM), generator=g),
               label_mask=torch.tensor([[1, 0, 1], [1, 1, 1], [1, 1, 0], [1, 1, 1]], dtype=torch.bool),
               negex=torch.zeros(4, 2))
    return enc


@pytest.fixture(scope="module")
def nli_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = FusedNLI.create(sym_dim=15, num_relations=7, num_layers=1, gnn_hidden=16, gate_hidden=8)
    return model.save(tmp_path_factory.mktemp("nli") / "m", training={"note": "test"})


@pytest.fixture(scope="module")
def re_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = RelationModel.create(labels=RE_LABELS, label_iris=["", "is_a", "contains"], sym_features=SYM,
                                 known_index=[-1, 1, 4], num_layers=1)
    model.temperature = 0.5  # as fitted on dev after training: saved with the model
    return model.save(tmp_path_factory.mktemp("re") / "m", linking={"dense": False, "rewrite": False})


def copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def edit_manifest(directory: Path, change) -> None:
    path = directory / MANIFEST_NAME
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def one_line(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


# -- round trips ---------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["nli", "re"])
def test_round_trip_gives_identical_outputs(which, nli_dir, re_dir, tmp_path):
    """Saved, loaded by type, saved again and loaded again: the same numbers at every step."""
    directory, cls, batch_of = (nli_dir, FusedNLI, nli_batch) if which == "nli" else (re_dir, RelationModel, re_batch)
    first = load_model(directory)
    assert type(first) is cls and not first.training
    again = load_model(save_model(first, tmp_path / "again", training=first.manifest["training"],
                                  linking=first.manifest["linking"]))
    batch = batch_of(first.tokenizer)
    with torch.inference_mode():
        a, b = first(batch), again(batch)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert read_manifest(directory)["config"] == read_manifest(tmp_path / "again")["config"]


def test_manifest_records_what_inference_repeats(nli_dir, re_dir):
    nli, re = read_manifest(nli_dir), read_manifest(re_dir)
    assert nli["type"] == "kgnlu-fused-nli" and re["type"] == "kgnlu-relation-extractor"
    assert nli["id2label"] == {"0": "entailment", "1": "neutral", "2": "contradiction"}
    assert re["id2label"] == {"0": "none", "1": "is_a", "2": "contains_nutrient"}
    # A record written without "forms" reads as trained without them.
    assert nli["linking"] == LEXICON_LINKING and re["linking"] == {"dense": False, "rewrite": False, "forms": False}
    for m in (nli, re):
        assert m["config"]["num_layers"] == 1 and m["config"]["max_length"] > 0
        assert len(m["config"]["base_model"]["fingerprint"]) == 16
    assert re["config"]["temperature"] == 0.5
    assert RelationModel.load(re_dir, merge=False).temperature == 0.5


def test_each_class_refuses_the_other_type(nli_dir, re_dir):
    with pytest.raises(ModelFormatError) as e:
        FusedNLI.load(re_dir)
    assert "'kgnlu-relation-extractor' model, not 'kgnlu-fused-nli'" in one_line(e)
    with pytest.raises(ModelFormatError, match="'kgnlu-fused-nli' model, not 'kgnlu-relation-extractor'"):
        RelationModel.load(nli_dir)


# -- one-line errors -----------------------------------------------------------------------------

def test_unknown_type(nli_dir, tmp_path):
    d = copy_model(nli_dir, tmp_path / "m")
    edit_manifest(d, lambda m: m.update(type="kgnlu-sentiment"))
    with pytest.raises(ModelFormatError) as e:
        load_model(d)
    assert "unknown model type 'kgnlu-sentiment' (known: kgnlu-fused-nli, kgnlu-relation-extractor)" in one_line(e)


def test_missing_file(re_dir, tmp_path):
    d = copy_model(re_dir, tmp_path / "m")
    (d / "heads" / "model.safetensors").unlink()
    with pytest.raises(ModelFormatError) as e:
        load_model(d)
    assert one_line(e) == f"{d}: missing heads/model.safetensors (listed in manifest.json)"
    (d / MANIFEST_NAME).unlink()
    with pytest.raises(ModelFormatError, match="not a saved model \\(no manifest.json\\)"):
        load_model(d)


def test_label_order_mismatch(nli_dir, re_dir, tmp_path):
    """A manifest whose class order is not the one the outputs are read in is refused, not misread."""
    d = copy_model(nli_dir, tmp_path / "nli")
    edit_manifest(d, lambda m: m.update(id2label={"0": "contradiction", "1": "neutral", "2": "entailment"}))
    with pytest.raises(ModelFormatError) as e:
        load_model(d)
    assert "id2label ['contradiction', 'neutral', 'entailment'] differs from the label order" in one_line(e)
    d = copy_model(re_dir, tmp_path / "re")
    edit_manifest(d, lambda m: m["id2label"].update({"1": "contains_nutrient", "2": "is_a"}))
    with pytest.raises(ModelFormatError, match="differs from the label order \\['none', 'is_a', 'contains_nutrient'\\]"):
        load_model(d)


def test_heads_for_other_labels_are_refused(re_dir, tmp_path):
    d = copy_model(re_dir, tmp_path / "m")
    edit_manifest(d, lambda m: (m["config"].update(labels=["none", "is_a"]), m.update(id2label={"0": "none", "1": "is_a"})))
    with pytest.raises(ModelFormatError, match="2 labels but heads for 3"):
        load_model(d, merge=False)


def test_bad_linking_record(nli_dir, tmp_path):
    d = copy_model(nli_dir, tmp_path / "m")
    edit_manifest(d, lambda m: m.update(linking={"dense": "no"}))
    with pytest.raises(ModelFormatError, match="'linking' must be an object with a boolean 'dense'"):
        model_linking(d)


def test_tasks_turn_load_errors_into_input_errors(nli_dir, re_dir, tmp_path):
    """What a user gave as a model folder fails as an input error (exit code 2), in one line."""
    from kgnlu.tasks.nli_fused import FusedNLIPredictor
    from kgnlu.tasks.relations import load_extractor

    d = copy_model(nli_dir, tmp_path / "nli")
    (d / "gate" / "config.json").unlink()
    with pytest.raises(InputError) as e:
        FusedNLIPredictor(d, linker=None, rules=None, node_vectors=None)
    assert one_line(e) == f"{d}: missing gate/config.json (listed in manifest.json)"
    with pytest.raises(InputError) as e:
        load_extractor(None, None, nli_dir, device="cpu")
    assert "'kgnlu-fused-nli' model, not 'kgnlu-relation-extractor'" in one_line(e)


# -- the shipped models --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["nli", "re"])
def test_shipped_manifests_record_lexicon_only_linking(name):
    """Both shipped models were trained on mentions of the lexicon linker with phrase rewriting
    (``Engine(kg, dense=False)`` in nli_train and re_train), and say so."""
    if not (ASSETS / name / MANIFEST_NAME).is_file():
        pytest.skip(f"no shipped {name} model")
    manifest = read_manifest(ASSETS / name)
    assert manifest["version"] == 2 and "format" not in json.loads((ASSETS / name / MANIFEST_NAME).read_text())
    assert model_linking(ASSETS / name) == {"dense": False, "rewrite": True, "forms": False}
    assert manifest["config"]["num_layers"] == 4
    if name == "re":
        assert [manifest["id2label"][str(i)] for i in range(5)] == manifest["config"]["labels"]


def test_version_1_manifests_still_load(tmp_path):
    """A model saved before the manifest had ``type`` and ``linking`` loads as it did: same outputs,
    linking read as what every training run did then."""
    src = ASSETS / "re"
    if not (src / MANIFEST_NAME).is_file():
        pytest.skip("no shipped relation model")
    old = copy_model(src, tmp_path / "old")

    def to_v1(m):
        m.update(format=m.pop("type"), version=1)
        del m["linking"], m["id2label"]

    edit_manifest(old, to_v1)
    manifest = read_manifest(old)
    assert manifest["type"] == "kgnlu-relation-extractor" and manifest["linking"] == LEXICON_LINKING
    assert manifest["id2label"] == read_manifest(src)["id2label"]
    a, b = RelationModel.load(src), RelationModel.load(old)
    batch = re_batch(a.tokenizer)
    batch["symbolic"] = torch.rand(4, len(a.config["sym_features"]), generator=torch.Generator().manual_seed(2))
    batch["label_mask"] = torch.ones(4, len(a.labels), dtype=torch.bool)
    with torch.inference_mode():
        assert torch.equal(a(batch)["probs"], b(batch)["probs"])


# -- the linker's mode, as training records it ---------------------------------------------------

def test_linker_mode():
    from types import SimpleNamespace

    from kgnlu.tasks.linking import Linker

    tables = SimpleNamespace(replacements=lambda: {})
    assert Linker(None, tables).mode == {"dense": False, "rewrite": False, "forms": True}
    assert Linker(None, tables, rewriter=object(), forms=False).mode == {"dense": False, "rewrite": True,
                                                                          "forms": False}
    index = SimpleNamespace(encoder=SimpleNamespace(fingerprint="abc"))
    assert Linker(None, tables, index, nil_threshold=0.6).mode == {"dense": True, "rewrite": False, "forms": True,
                                                                  "encoder": "abc", "nil_threshold": 0.6}

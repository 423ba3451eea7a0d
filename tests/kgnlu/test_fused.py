"""FusedNLI end to end on the demo food KG: forward contract, the gate rule, modes, save/load,
a tiny overfit, deterministic training, evaluation, and a thread-safe predictor."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kgnlu.labels import LABELS  # noqa: E402
from kgnlu.neural.fused import FusedNLI, fused_loss  # noqa: E402
from kgnlu.tasks.nli_features import SYMBOLIC_FEATURES, collate, feature_spec, featurize  # noqa: E402
from kgnlu.tasks.subgraph import EDGE_TYPES  # noqa: E402
from kgnlu.types import InferResult  # noqa: E402
from tests.conftest import fixed_vectors, in_threads  # noqa: E402


PAIRS = [  # (premise, hypothesis, gold)
    ("I like eating apples", "I like eating fruit", "entailment"),
    ("I ate a carrot", "I ate a banana", "contradiction"),
    ("I like eating fruit", "I like eating apples", "neutral"),
    ("The weather is nice", "The weather is not nice", "contradiction"),  # nothing links: neural only
    ("The weather is nice", "It is sunny", "neutral"),
    ("I ate an orange", "I did not eat any fruit", "contradiction"),
]
SMALL = {"gnn_hidden": 32, "gate_hidden": 16}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def engine(demo_kg):
    from kgnlu.api import Engine

    e = Engine(demo_kg, dense=False)
    yield e
    e.close()


@pytest.fixture(scope="module")
def features(engine):
    from kgnlu.tasks.nli import assertions

    out = []
    for p, h, _ in PAIRS:
        pm, hm = engine.link_many([p, h])
        v = engine.rules().decide(assertions(pm, "premise"), assertions(hm, "hypothesis"))
        out.append(featurize(pm, hm, v, engine.tables, fixed_vectors))
    return out


def new_model(seed: int = 0, **kw) -> FusedNLI:
    torch.manual_seed(seed)
    return FusedNLI.create(sym_dim=len(SYMBOLIC_FEATURES), num_relations=len(EDGE_TYPES),
                           features=feature_spec(node_vectors="fixed-random"), **{**SMALL, **kw})


@pytest.fixture(scope="module")
def model() -> FusedNLI:
    return new_model().eval()


def make_batch(model, features, idx=None, labels=True):
    idx = range(len(PAIRS)) if idx is None else idx
    return collate([features[i] for i in idx], model.tokenizer, [PAIRS[i][0] for i in idx],
                   [PAIRS[i][1] for i in idx], labels=[PAIRS[i][2] for i in idx] if labels else None, node_dim=384)


def test_forward_contract(model, features):
    with torch.inference_mode():
        out = model(make_batch(model, features))
    n = len(PAIRS)
    for key in ("probs", "logits_neural", "p_neural", "p_symbolic", "p_text"):
        assert out[key].shape == (n, 3), key
    assert out["gate"].shape == (n,) and out["pooled"].shape == (n, 384) and out["graph"].shape == (n, 4 * 32)
    torch.testing.assert_close(out["probs"].sum(-1), torch.ones(n))
    g = out["gate"][:, None]
    torch.testing.assert_close(out["probs"], g * out["p_symbolic"] + (1 - g) * out["p_neural"])
    assert ((out["gate"] >= 0) & (out["gate"] <= 1)).all()


def test_nothing_linked_gate_below_0_2(model, features):
    """When neither text links a concept the gate is closed, even if the MLP wants it open."""
    unlinked = [i for i, f in enumerate(features) if not f.gate_open]
    assert unlinked == [3, 4] and not any(features[i].has_linked for i in unlinked)
    gate_bias = model.gate.mlp[3].bias
    saved = gate_bias.detach().clone()
    try:
        with torch.no_grad():
            gate_bias.fill_(20.0)
        with torch.inference_mode():
            out = model(make_batch(model, features))
    finally:
        with torch.no_grad():
            gate_bias.copy_(saved)
    assert (out["gate"][unlinked] < 0.2).all()
    assert (out["gate_raw"][unlinked] > 0.99).all()
    linked = [i for i in range(len(PAIRS)) if i not in unlinked]
    assert (out["gate"][linked] > 0.99).all()
    torch.testing.assert_close(out["probs"][unlinked], out["p_neural"][unlinked])


def test_modes(model, features):
    batch = make_batch(model, features)
    with torch.inference_mode():
        fused = model(batch)
        neural = model(batch, mode="neural")
        symbolic = model(batch, mode="symbolic")
        no_gnn = model(batch, mode="no-gnn")
    torch.testing.assert_close(neural["probs"], fused["p_text"])
    assert (neural["gate"] == 0).all() and (symbolic["gate"] == 1).all()
    torch.testing.assert_close(symbolic["probs"], fused["p_symbolic"])
    assert (no_gnn["graph"] == 0).all() and no_gnn["probs"].shape == (len(PAIRS), 3)
    with pytest.raises(ValueError):
        model(batch, mode="both")


def test_all_unlinked_batch_and_no_gnn_model(features):
    m = new_model(use_gnn=False).eval()
    assert m.gnn is None and m.heads.graph is None
    with torch.inference_mode():
        out = m(make_batch(m, features, idx=[3, 4]))
    assert out["graph"].shape == (2, 0) and (out["gate"] == 0).all()
    torch.testing.assert_close(out["p_neural"], out["p_text"])


def test_save_load_round_trip(model, features, tmp_path):
    model.save(tmp_path / "m", training={"note": "test"})
    files = sorted(p.relative_to(tmp_path / "m").as_posix() for p in (tmp_path / "m").rglob("*") if p.is_file())
    for want in ("manifest.json", "adapter/adapter_config.json", "adapter/adapter_model.safetensors",
                 "gnn/config.json", "gnn/model.safetensors", "heads/config.json", "heads/model.safetensors",
                 "gate/config.json", "gate/model.safetensors"):
        assert want in files
    assert not [f for f in files if f.endswith((".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt"))]
    assert sum(p.stat().st_size for p in (tmp_path / "m").rglob("*") if p.is_file()) < 20 * 2**20
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["id2label"] == {"0": "entailment", "1": "neutral", "2": "contradiction"}
    assert [c["name"] for c in manifest["components"]] == ["adapter", "gnn", "heads", "gate"]
    assert manifest["training"] == {"note": "test"} and manifest["config"]["lora"]["r"] == 8

    batch = make_batch(model, features)
    with torch.inference_mode():
        before = model(batch)
        loaded = FusedNLI.load(tmp_path / "m")
        after = loaded(batch)
        merged_model = FusedNLI.load(tmp_path / "m", merge=True)
        merged = merged_model(batch)
    for key in ("probs", "p_neural", "p_symbolic", "gate"):
        assert torch.equal(before[key], after[key]), key
        torch.testing.assert_close(before[key], merged[key], rtol=1e-4, atol=1e-5)
    with pytest.raises(RuntimeError, match="merged"):
        merged_model.save(tmp_path / "again")  # would write the whole encoder, not an adapter


def test_tiny_overfit(features):
    """A handful of steps on the demo pairs: every pair right, the README example included."""
    torch.manual_seed(0)
    m = new_model(seed=1)
    m.train()
    opt = torch.optim.AdamW(m.trainable_parameters(), lr=3e-3)
    batch = make_batch(m, features)
    losses = []
    for _ in range(5):
        out = m(batch)
        loss, _ = fused_loss(out, batch["labels"], batch["has_linked"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    m.eval()
    with torch.inference_mode():
        out = m(batch)
    pred = [LABELS[i] for i in out["probs"].argmax(-1).tolist()]
    assert pred[0] == "entailment"  # "I like eating apples" |= "I like eating fruit"
    assert pred == [gold for *_, gold in PAIRS]
    assert losses[-1] < 0.5 * losses[0]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps({"premise": p, "hypothesis": h, "label": y}) + "\n" for p, h, y in rows))


@pytest.fixture(scope="module")
def trained(demo_kg, tmp_path_factory):
    """Two trainings with the same seed on tiny data."""
    from kgnlu.training.nli_train import train

    data = tmp_path_factory.mktemp("nli_data")
    write_jsonl(data / "train.jsonl", PAIRS[:4])
    write_jsonl(data / "dev.jsonl", PAIRS[4:])
    runs = []
    for name in ("a", "b"):
        out = tmp_path_factory.mktemp(f"run_{name}")
        summary = train(demo_kg, data, out, seed=3, epochs=1, batch_size=2, lr=1e-3, node_vectors=fixed_vectors,
                        progress=False, model_options=SMALL)
        runs.append((out, summary))
    return data, runs


def test_training_is_deterministic(trained):
    from safetensors.torch import load_file

    _, [(a, sa), (b, sb)] = trained
    assert sa["epochs_run"] == 1 and sa["best_epoch"] == 1 and sa["n_train"] == 4 and sa["n_dev"] == 2
    tensors = 0
    for f in sorted(a.rglob("*.safetensors")):
        ta, tb = load_file(str(f)), load_file(str(b / f.relative_to(a)))
        assert ta.keys() == tb.keys()
        for k in ta:
            assert torch.equal(ta[k], tb[k]), (f, k)
            tensors += 1
    assert tensors > 20
    log = [json.loads(line) for line in (a / "train_log.jsonl").read_text().splitlines()]
    assert log[0]["epoch"] == 1 and {"loss", "dev", "seconds", "nll", "aux", "gate_penalty"} <= log[0].keys()
    assert not [p for p in a.rglob("*") if p.suffix in (".pt", ".pkl", ".bin", ".pth")]
    manifest = json.loads((a / "manifest.json").read_text())
    assert manifest["training"]["seed"] == 3 and manifest["config"]["features"]["node_vectors"] == "unspecified"
    assert manifest["config"]["num_layers"] == 4  # the recipe's, as model_options named no num_layers


def test_evaluate_and_plots(trained, demo_kg, tmp_path):
    from kgnlu.training.nli_eval import evaluate, write_plots
    from kgnlu.training.nli_metrics import fit_temperature

    data, [(a, _), _] = trained
    report = evaluate(a, demo_kg, data / "train.jsonl", mode="fused", node_vectors=fixed_vectors)
    assert report["n"] == 4 and report["confusion"]["labels"] == list(LABELS)
    assert sum(map(sum, report["confusion"]["matrix"])) == 4
    assert set(report["per_class"]) == set(LABELS) and 0 <= report["macro_f1"] <= 1
    assert report["temperature_fitted_on"].endswith("dev.jsonl") and len(report["reliability"]["raw"]) == 15
    # the gate over pairs whose mask is closed (none among these four: each is decided or linked)
    assert report["gate"]["mean_closed"] is None and report["gate"]["mean_unlinked"] is not None
    symbolic = evaluate(a, demo_kg, data / "train.jsonl", mode="symbolic", node_vectors=fixed_vectors)
    assert symbolic["gate"]["mean"] == 1.0
    pytest.importorskip("matplotlib")
    paths = write_plots(report, tmp_path / "plots")
    assert [p.name for p in paths] == ["reliability.png", "confusion.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)
    # temperature scaling recovers a known temperature
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2000, 3)) * 3
    y = np.array([rng.choice(3, p=np.exp(r / 2) / np.exp(r / 2).sum()) for r in z])
    assert fit_temperature(z, y) == pytest.approx(2.0, rel=0.15)


def test_predictor_result_contract_and_threads(trained, engine):
    from kgnlu.tasks.nli_fused import FusedNLIPredictor

    _, [(a, _), _] = trained
    predictor = FusedNLIPredictor(a, engine.linker(), engine.rules(), fixed_vectors, batch_size=4)
    premises, hypotheses = [p for p, _, _ in PAIRS], [h for _, h, _ in PAIRS]
    reference = predictor.predict(premises, hypotheses)
    assert len(reference) == len(PAIRS) and all(isinstance(r, InferResult) for r in reference)
    r0 = reference[0].to_dict()
    assert r0["label"] in LABELS and set(r0["probabilities"]) == set(LABELS)
    assert sum(r0["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert set(r0["neural"]["probabilities"]) == set(LABELS) and 0 <= r0["gate"] <= 1
    assert r0["symbolic"]["verdict"] == "entailment" and r0["symbolic"]["proofs"]
    assert [e["side"] for e in r0["entities"]] == ["premise", "hypothesis"]
    assert reference[4].gate < 0.2 and reference[4].entities == []  # nothing linked

    results = in_threads(lambda: [r.to_dict() for r in predictor.predict(premises, hypotheses)], 8)
    assert all(r == [x.to_dict() for x in reference] for r in results)


def test_the_predictor_reads_the_gate_mask_the_model_was_trained_with(engine):
    """A model saved before the mask had a name was trained with the "linked" one and keeps it;
    likewise the rules' guard (off for a model saved without one)."""
    from kgnlu.tasks.nli_fused import FusedNLIPredictor

    new, old = new_model(), new_model()
    del old.config["features"]["gate_mask"]
    p_new, p_old = (FusedNLIPredictor(m, engine.linker(), engine.rules(), fixed_vectors) for m in (new, old))
    assert p_new._opts["gate_mask"] == "decided" and p_old._opts["gate_mask"] == "linked"
    # the rules' verdicts too: a model's spec says whether it was trained on guarded ones
    assert p_old.guard is False and "guard" in new.config["features"]
    guarded = new_model()
    guarded.config["features"]["guard"] = True
    assert FusedNLIPredictor(guarded, engine.linker(), engine.rules(), fixed_vectors).guard is True
    assert FusedNLIPredictor(guarded, engine.linker(), engine.rules(), fixed_vectors, guard=False).guard is False
    # premise linked, hypothesis not, the rules undecided: closed for the new model only
    r_new, r_old = (p.predict(["I like eating apples"], ["The weather is nice"])[0] for p in (p_new, p_old))
    assert r_new.gate == 0.0 and r_old.gate > 0.0


def test_the_predictor_reads_the_subgraph_sides_and_mask_a_refit_set(engine):
    """A model whose spec says graph="both" and gate_mask="undecided" (what `kgnlu train nli-gate`
    sets) answers a one-sided pair and an unknown that proved part of the hypothesis with the
    neural side alone: gate 0, and for the one-sided pair the cross-encoder's own probabilities."""
    import torch

    from kgnlu.tasks.nli_fused import FusedNLIPredictor

    model = new_model()
    with torch.no_grad():  # a graph term that matters, so that reading no subgraph shows
        model.heads.graph.weight.normal_(0, 1, generator=torch.Generator().manual_seed(0))
    pairs = (["I like eating apples"] * 2, ["The weather is nice", "I like eating apples in the park"])
    before = FusedNLIPredictor(model, engine.linker(), engine.rules(), fixed_vectors).predict(*pairs)
    assert before[1].gate > 0.0
    model.config["features"] = {**model.config["features"], "gate_mask": "undecided", "graph": "both"}
    after = FusedNLIPredictor(model, engine.linker(), engine.rules(), fixed_vectors).predict(*pairs)
    assert [r.gate for r in after] == [0.0, 0.0]
    text = FusedNLIPredictor(model, engine.linker(), engine.rules(), fixed_vectors, mode="neural").predict(*pairs)
    assert after[0].probabilities == text[0].probabilities != before[0].probabilities
    assert after[1].probabilities == after[1].neural["probabilities"] == before[1].neural["probabilities"]


def test_the_shipped_model_was_trained_with_the_recipe_every_entry_point_defaults_to():
    """training.jobs.train_nli, nli_train.train and `kgnlu train nli` default to NLI_RECIPE, and the
    shipped model's manifest shows it was trained with exactly that."""
    import inspect
    from pathlib import Path

    from kgnlu.config import NLI_RECIPE, NLI_RECIPE_EXTRA, nli_model_dir
    from kgnlu.training.nli_train import train

    defaults = inspect.signature(train).parameters
    for key, value in NLI_RECIPE.items():
        if key != "num_layers":
            assert defaults[key].default == value, key
    options = json.loads((Path(nli_model_dir()) / "manifest.json").read_text())["training"]["options"]
    assert {k: options[k] for k in NLI_RECIPE if k != "num_layers"} == {k: v for k, v in NLI_RECIPE.items()
                                                                      if k != "num_layers"}
    assert options["model_options"] == {"num_layers": NLI_RECIPE["num_layers"]} and options["seed"] == 0
    # the human-written files of `--real DIR`: the recipe's names, whatever folder held them
    assert [e["spec"].rsplit("/", 1)[-1] for e in options["extra"]] == list(NLI_RECIPE_EXTRA)


def test_a_model_with_the_reading_features_and_a_symbolic_gate_is_fed_as_it_was_trained(engine, tmp_path):
    """The opt-in variant (READING_FEATURES, a gate over the symbolic features alone) saves, loads
    and predicts: the predictor builds the features its spec names; the default model reads all."""
    from kgnlu.tasks.nli_features import READING_FEATURES
    from kgnlu.tasks.nli_fused import FusedNLIPredictor

    torch.manual_seed(0)
    spec = feature_spec(node_vectors="fixed-random", reading=True)
    dim = len(SYMBOLIC_FEATURES) + len(READING_FEATURES)
    variant = FusedNLI.create(sym_dim=dim, num_relations=len(EDGE_TYPES), features=spec, gate_inputs="symbolic",
                              **SMALL)
    variant.save(tmp_path / "variant")
    again = FusedNLI.load(tmp_path / "variant")
    assert again.gate.inputs == "symbolic" and again.gate.in_dim == dim
    predictor = FusedNLIPredictor(again, engine.linker(), engine.rules(), fixed_vectors)
    assert predictor._opts["names"] == list(SYMBOLIC_FEATURES + READING_FEATURES)
    r = predictor.predict_one("I like eating apples", "I like eating fruit")
    assert r.symbolic.verdict == "entailment" and 0.0 < r.gate <= 1.0
    default = new_model()
    assert default.gate.inputs == "all"
    assert default.gate.in_dim == 384 + default.gnn.out_channels + len(SYMBOLIC_FEATURES)

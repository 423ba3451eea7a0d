"""Fitting the gate's decided-verdict head (``EvidenceGate(decided_dim=...)``) on held-out pairs.

A trained fused model's gate weighs a proved verdict from what the text looks like: it learned on
generated pairs that a proof is always right, and on human-written training pairs (which the
cross-encoder has learned by heart) that a proof is never needed, so on unseen real text it gave
proofs a weight of about 0.1 where they are 96-99% precise. The decided-verdict head reads the
verdict and its proof alone (``PROOF_FEATURES``) and is fitted on pairs the model never took a
gradient step on: the training run's dev set (the generated dev pairs and the dev part of each
human-written file), so it learns how far a proof is right, not how far the cross-encoder
remembers the pair.

``fit_decided_head`` fits it in place (full batch, seeded, the rest of the model frozen);
``refit_gate`` does it for a saved model, rebuilding the dev set its manifest records, and writes
the gate and the manifest only (``kgnlu train nli-gate``). ``kgnlu train nli`` ends with the fit.

The refit also sets how the model reads undecided pairs from then on (``READING``): the gate mask
"undecided" (an unknown verdict that proved part of the hypothesis leaves the pair to the neural
side) and a subgraph only for pairs both of whose sides link a concept. The reading adds no weight:
the pairs it closes get the neural answer the model already computes. Training
keeps the mask it was given, so the same commands reproduce a shipped model. Measured on the frozen
outputs of pairs the model never trained on: bench/results/nli_gate_undecided.md.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from kgnlu.types import InputError

STEPS = 300
LR = 0.05
WEIGHT_DECAY = 0.01
READING = {"gate_mask": "undecided", "graph": "both"}  # what a refitted model reads at inference


def frozen_outputs(model, pairs, batch_size: int = 64) -> dict:
    """What the gate reads, over ``pairs`` (a ``nli_train.PairSet``), as tensors: the model's
    outputs in eval mode (``nli_train.run_model``) and the pairs' own features, mask and labels."""
    import numpy as np
    import torch

    from kgnlu.labels import LABEL2ID
    from kgnlu.neural.fused import UNKNOWN_VERDICT
    from kgnlu.training.nli_train import run_model

    out = run_model(model, pairs, batch_size=batch_size, keys=("pooled", "graph", "p_symbolic", "p_neural"))
    x = {k: torch.from_numpy(v) for k, v in out.items()}
    features = pairs.features
    x["symbolic"] = torch.from_numpy(np.stack([f.symbolic for f in features])).float()
    x["mask"] = torch.tensor([float(f.gate_open) for f in features])
    x["decided"] = torch.tensor([f.verdict != UNKNOWN_VERDICT for f in features])
    x["labels"] = torch.tensor([LABEL2ID[y] if isinstance(y, str) else int(y) for y in pairs.labels])
    return x


def _nll(gate, x: dict):
    import torch

    p, _, _ = gate(x["pooled"], x["graph"], x["symbolic"], x["mask"], x["p_symbolic"], x["p_neural"], x["decided"])
    return torch.nn.functional.nll_loss(p.clamp(min=1e-8).log(), x["labels"])


def fit_decided_head(model, pairs, *, steps: int = STEPS, lr: float = LR, weight_decay: float = WEIGHT_DECAY,
                     seed: int = 0) -> dict:
    """Give ``model.gate`` a fresh decided-verdict head and fit it on ``pairs`` (labelled; nothing
    else moves). Returns what the manifest records: pairs, decided pairs, the dev NLL of the fused
    answer before, with the fresh head (g = 1/2 on decided pairs) and after, and the mean gate on
    decided pairs before and after. The NLL after may exceed the one before: the head that is
    replaced could tell generated pairs from real ones, this one cannot by design."""
    import torch

    from kgnlu.tasks.nli_features import PROOF_FEATURES, spec_features

    names = spec_features(model.config["features"])
    if tuple(names[:len(PROOF_FEATURES)]) != PROOF_FEATURES:
        raise ValueError(f"the model's symbolic features do not start with the proof's {PROOF_FEATURES}: {names}")
    gate = model.gate
    x = {k: v.to(gate.mlp[0].weight.device) for k, v in frozen_outputs(model, pairs).items()}
    gate.eval()  # no dropout: the MLP's answer on unknown verdicts is a constant of the fit

    def decided_gate() -> float:
        with torch.no_grad():
            _, g, _ = gate(x["pooled"], x["graph"], x["symbolic"], x["mask"], x["p_symbolic"], x["p_neural"],
                           x["decided"])
        return round(float(g[x["decided"]].mean()), 4) if bool(x["decided"].any()) else 0.0

    with torch.no_grad():
        before, gate_before = float(_nll(gate, x)), decided_gate()
    torch.manual_seed(seed)
    gate.add_decided_head(len(PROOF_FEATURES))
    with torch.no_grad():
        start = float(_nll(gate, x))
    opt = torch.optim.AdamW(gate.decided.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        opt.zero_grad()
        loss = _nll(gate, x)
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = float(_nll(gate, x))
    return {"pairs": int(len(x["labels"])), "decided_pairs": int(x["decided"].sum()), "steps": steps, "lr": lr,
            "weight_decay": weight_decay, "seed": seed, "dev_nll_before": round(before, 6),
            "dev_nll_fresh_head": round(start, 6), "dev_nll_after": round(after, 6),
            "decided_gate_before": gate_before, "decided_gate_after": decided_gate()}


def save_gate(model, model_dir: str | Path, gate_fit: dict) -> None:
    """Write ``model``'s gate over ``model_dir``'s, and its feature spec and ``gate_fit`` into the
    manifest. Each is written beside its target and renamed over it, so an interrupted save leaves
    whole files (a new gate under an old manifest still loads: the gate's config says what it holds)."""
    from kgnlu.neural.manifest import MANIFEST_NAME

    model_dir = Path(model_dir)
    manifest = json.loads((model_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest.setdefault("training", {})["gate_fit"] = gate_fit
    manifest.setdefault("config", {})["features"] = model.config["features"]
    staged, old = model_dir / "gate.new", model_dir / "gate.old"
    for leftover in (staged, old):
        shutil.rmtree(leftover, ignore_errors=True)
    model.gate.save(staged)
    (model_dir / "gate").rename(old)
    staged.rename(model_dir / "gate")
    shutil.rmtree(old)
    text = model_dir / (MANIFEST_NAME + ".new")
    text.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    text.replace(model_dir / MANIFEST_NAME)


def recorded_extra(manifest: dict, real_dir: str | Path | None = None) -> tuple[list[dict], list[dict]]:
    """The human-written pairs a model's training run trained on and validated on, rebuilt from its
    manifest's recipe (``read_extra`` with the recorded specs, seed and cap). A file that moved is
    looked for in ``real_dir``; a file whose content differs from the one trained on is refused
    (its parts would not be the ones training drew)."""
    from kgnlu.training.nli_train import file_sha256, read_extra

    options = (manifest.get("training") or {}).get("options") or {}
    where: dict[str, str] = {}
    for item in options.get("extra") or []:
        recorded = Path(item["spec"].partition("#")[0])
        found = recorded if recorded.is_file() or real_dir is None else Path(real_dir) / recorded.name
        if not found.is_file():
            raise InputError(f"{recorded.name}: not found at {recorded}" + (f" nor in {real_dir}" if real_dir else
                                                                            "; pass the folder that holds it"))
        if file_sha256(found) != item["sha256"]:
            raise InputError(f"{found}: not the file this model was trained on (sha256 differs)")
        where[str(recorded)] = str(found)
    specs = [item["spec"] for item in options.get("extra") or []]
    train, dev, _ = read_extra(specs, options.get("seed", 0), options.get("max_extra"), where=where)
    return train, dev


def recorded_dev_set(manifest: dict, data_dir: str | Path, real_dir: str | Path | None = None) -> list[dict]:
    """The dev pairs a model's training run validated on, rebuilt from its manifest: the first
    ``max_dev`` pairs of ``data_dir/dev.jsonl`` and the dev part of each human-written file
    (:func:`recorded_extra`)."""
    from kgnlu.training.nli_train import DEV_FILE, file_sha256, read_jsonl

    training = manifest.get("training") or {}
    dev_path = Path(data_dir) / DEV_FILE
    if not dev_path.is_file():
        raise InputError(f"{dev_path}: not found (the generated pairs the model was trained with)")
    if training.get("dev_sha256") and file_sha256(dev_path) != training["dev_sha256"]:
        raise InputError(f"{dev_path} is not the dev set this model was trained against (sha256 differs)")
    records = read_jsonl(dev_path, (training.get("options") or {}).get("max_dev"))
    return records + recorded_extra(manifest, real_dir)[1]


def refit_gate(model_dir: str | Path, kg_dir: str | Path | None, data_dir: str | Path, out_dir: str | Path,
               *, real_dir: str | Path | None = None, device: str = "cpu",
               progress: Callable[[str], None] = lambda _: None, command: str | None = None,
               reading: dict | None = None) -> dict:
    """Fit the decided-verdict head of the model saved in ``model_dir`` on its recorded dev set
    (:func:`recorded_dev_set`), linked and decided over ``kg_dir``, with the model reading pairs as
    ``reading`` says (``gate_mask`` and ``graph`` of its feature spec; default ``READING``); the
    model with the new gate goes to ``out_dir`` (``model_dir`` itself: only the gate and the
    manifest are rewritten)."""
    from kgnlu.tasks.nli_features import GATE_MASKS, GRAPH_SIDES
    from kgnlu.neural.fused import FusedNLI
    from kgnlu.neural.manifest import library_versions, read_manifest
    from kgnlu.runtime import default_node_vectors, open_session
    from kgnlu.training.nli_train import deterministic, precompute

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    in_place = out_dir.resolve() == model_dir.resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir} is a file, not a model folder")
    if not in_place and out_dir.exists() and any(out_dir.iterdir()):
        raise InputError(f"{out_dir} exists and is not empty")
    reading = {**READING, **(reading or {})}
    if reading["gate_mask"] not in GATE_MASKS or reading["graph"] not in GRAPH_SIDES or set(reading) != set(READING):
        raise InputError(f"reading must set gate_mask to one of {GATE_MASKS} and graph to one of {GRAPH_SIDES}, "
                         f"not {reading}")
    manifest = read_manifest(model_dir, FusedNLI.TYPE)
    records = recorded_dev_set(manifest, data_dir, real_dir)
    seed = (manifest.get("training") or {}).get("seed", 0)
    with deterministic(seed, (manifest.get("training") or {}).get("options", {}).get("num_threads")):
        progress(f"loading {model_dir}")
        model = FusedNLI.load(model_dir, device)
        session = open_session(kg_dir, device=device, linking=manifest["linking"])  # as the model was trained
        vectors = default_node_vectors(session.tables, device, cache_dir=session.kg_dir / "cache")
        spec = model.config["features"] = {**model.config["features"], **reading}
        progress(f"features of {len(records)} dev pairs")
        pairs = precompute(records, session.linker(), session.rules(), session.tables, vectors, spec=spec)
        progress("fitting the decided-verdict head")
        stats = fit_decided_head(model, pairs, seed=seed)
    stats.update(command=command, kg_manifest_hash=session.manifest.get("hash"), reading=reading,
                 labels=dict(sorted(Counter(pairs.labels).items())), versions=library_versions())
    if not in_place:
        shutil.copytree(model_dir, out_dir, dirs_exist_ok=True)
    save_gate(model, out_dir, stats)
    return stats


__all__ = ["READING", "fit_decided_head", "frozen_outputs", "recorded_dev_set", "recorded_extra", "refit_gate",
           "save_gate"]

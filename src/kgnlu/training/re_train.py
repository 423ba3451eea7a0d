"""Training of the relation extractor (``kgnlu.neural.re_head.RelationModel``) on generated data.

``train(kg_dir, data_dir, out_dir)`` reads ``train.jsonl`` and ``dev.jsonl`` written by
``training.re_data``, links every sentence with the lexicon linker, builds the candidate pairs
exactly as the extractor does at inference (``tasks.relations.candidates``), labels each one from
the gold spans (``none`` when the sentence states nothing about the pair) and computes its KG
evidence features once, honouring each record's ``hide`` list. Then it trains the LoRA adapter,
the heads and the gate (MiniLM stays frozen); dev micro-F1 is measured every ``eval_every``
steps and training stops when it has not improved ``patience`` times in a row. The best model is
calibrated (one temperature, fitted on dev by NLL) and saved to ``out_dir`` with
``train_log.jsonl``.

The defaults (3,000 training pairs, positives and sampled negatives 1:1, at most 2 epochs) are
sized to train in minutes on a 2-core CPU.
Same seed, data and machine: same weights (seeded python/numpy/torch, deterministic algorithms, torch's
thread count pinned: ``threads``).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kgnlu.config import RE_RECIPE_THREADS
from kgnlu.kg.relations import IS_A, NOVEL, RelationKB, Standing
from kgnlu.tasks.re_candidates import CandidatePair, candidates, fill_standings
from kgnlu.training.records import json_records

TRAIN_FILE, DEV_FILE, TEST_FILE = "train.jsonl", "dev.jsonl", "test.jsonl"
LOG_FILE, META_FILE = "train_log.jsonl", "meta.json"


def read_records(path: str | Path, limit: int | None = None) -> list[dict]:
    """RE records (``text`` and ``gold``); a bad line is an error naming it."""
    def check(rec: dict) -> str | None:
        if not isinstance(rec.get("text"), str) or not isinstance(rec.get("gold"), list):
            return "a record needs a string 'text' and a list 'gold'"
        return None

    return json_records(path, limit, check)


def label_set(data_dir: str | Path) -> tuple[list[str], list[str]]:
    """Head labels (``none``, ``is_a``, then the data's relations) and their IRIs, from ``meta.json``."""
    meta = json.loads((Path(data_dir) / META_FILE).read_text(encoding="utf-8"))
    labels, iris = ["none", "is_a"], ["", IS_A]
    for r in meta["relations"]:
        labels.append(r["name"])
        iris.append(r["iri"])
    return labels, iris


@dataclass
class Example:
    cand: CandidatePair
    label: int  # index into the head labels
    negated: bool
    feats: tuple  # (features, label mask)
    record: int  # index of the source record
    graph: tuple | None = None  # (node vectors, edges, roles) when the model has a GNN


def _overlap(a: Sequence[int], b: Sequence[int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def prepare(records: Sequence[dict], linker, kb: RelationKB, labels: Sequence[str], label_iris: Sequence[str],
            progress: Callable[[str], None] = lambda s: None, hide: bool = True) -> tuple[list[Example], dict]:
    """Candidates of every record with their gold label and features; and coverage statistics.

    A gold relation whose pair the candidates miss (a mention not linked, or linked to a concept
    outside the property's domain or range) is counted in ``stats["gold_missed"]``; a candidate
    whose gold relation the ontology does not admit for the linked concepts is dropped.
    """
    from kgnlu.tasks.re_features import FeatureBuilder

    builder = FeatureBuilder(kb, labels, label_iris)
    index = {iri: j for j, iri in enumerate(label_iris) if iri}
    texts = [r["text"] for r in records]
    out: list[Example] = []
    stats = Counter()
    step = 500
    for start in range(0, len(texts), step):
        progress(f"linking and featurising {start}/{len(texts)}")
        linked = linker.link_many(texts[start:start + step], top_k=5)
        for k, (rec, ms) in enumerate(zip(records[start:start + step], linked)):
            cands = candidates(rec["text"], ms, kb, builder.trained)
            fill_standings(cands, kb)
            hidden = {tuple(h) for h in rec.get("hide", ())} if hide else set()
            covered = set()
            for c in cands:
                for r in c.relations:
                    if (c.subj_iri, r.iri, c.obj_iri) in hidden:
                        c.standings[r.iri] = Standing(NOVEL, "no-axiom")
                gold = next((g for g in rec["gold"] if _overlap((c.subj.start, c.subj.end), g["subject"])
                             and _overlap((c.obj.start, c.obj.end), g["object"])), None)
                if gold is None:
                    label, negated = 0, False
                elif gold["relation_iri"] in index and any(r.iri == gold["relation_iri"] for r in c.relations):
                    label, negated = index[gold["relation_iri"]], bool(gold["negated"])
                    covered.add(id(gold))
                else:
                    stats["dropped_inadmissible"] += 1
                    continue
                out.append(Example(c, label, negated, builder.features(c), start + k))
                stats["positive" if label else "negative"] += 1
            stats["gold"] += len(rec["gold"])
            stats["gold_missed"] += sum(1 for g in rec["gold"] if id(g) not in covered)
    return out, dict(stats)


def _batches(examples: Sequence[Example], builder, tokenizer, batch_size: int, max_length: int, rng=None,
             marking: str = "pair"):
    """Batches in a shuffled order (``rng``) or sorted by length. With ``sentence`` marking a
    record's pairs stay together, so that its sentence is encoded once for all of them."""
    from kgnlu.tasks.re_features import batch_order, collate

    if rng is not None:
        order = list(range(len(examples)))
        rng.shuffle(order)
        if marking == "sentence":
            first: dict[int, int] = {}
            for pos, i in enumerate(order):
                first.setdefault(examples[i].record, pos)
            order.sort(key=lambda i: first[examples[i].record])  # stable: shuffled within a record
    else:
        order = batch_order([e.cand for e in examples], marking)
    for s in range(0, len(order), batch_size):
        chunk = [examples[i] for i in order[s:s + batch_size]]
        graphs = [e.graph for e in chunk] if chunk[0].graph is not None else None
        yield chunk, collate([e.cand for e in chunk], builder, tokenizer, max_length=max_length, marking=marking,
                             labels=[e.label for e in chunk], negated=[e.negated for e in chunk],
                             neg_weight=[1.0 if e.label else 0.0 for e in chunk], feats=[e.feats for e in chunk],
                             graphs=graphs)



def predict(model, examples: Sequence[Example], builder, mode: str = "fused", batch_size: int = 64) -> dict:
    """Probabilities ``(N, C)``, negation probabilities ``(N,)``, gates ``(N,)`` and the masked
    logits ``z_neural``, ``z_kg`` ``(N, C)``, in example order."""
    import torch

    from kgnlu.neural.fused import batch_to

    n, c = len(examples), len(builder.labels)
    out_np = {"probs": np.zeros((n, c), np.float32), "z_neural": np.zeros((n, c), np.float32),
              "z_kg": np.zeros((n, c), np.float32), "negated": np.zeros(n, np.float32), "gate": np.zeros(n, np.float32)}
    pos = {id(e): i for i, e in enumerate(examples)}
    model.eval()
    with torch.inference_mode():
        for chunk, batch in _batches(examples, builder, model.tokenizer, batch_size, model.config["max_length"],
                                     marking=model.config.get("marking", "pair")):
            out = model(batch_to(batch, model.device), mode=mode)
            idx = [pos[id(e)] for e in chunk]
            for k in ("probs", "z_neural", "z_kg", "gate"):
                out_np[k][idx] = out[k].float().cpu().numpy()
            out_np["negated"][idx] = torch.sigmoid(out["neg_logit"]).float().cpu().numpy()
    return out_np


def candidate_f1(examples: Sequence[Example], pred: dict) -> float:
    """Micro-F1 over candidate pairs: a hit needs the relation and the polarity right."""
    tp = fp = fn = 0
    for e, p, n in zip(examples, pred["probs"], pred["negated"]):
        y = int(p.argmax())
        gold = (e.label, e.negated) if e.label else None
        guess = (y, bool(n > 0.5)) if y else None
        tp += gold is not None and gold == guess
        fp += guess is not None and gold != guess
        fn += gold is not None and gold != guess
    return 2 * tp / max(1, 2 * tp + fp + fn)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def fit_temperature(model, examples: Sequence[Example], builder) -> float:
    """The temperature minimising dev NLL of the fused probabilities (grid over 0.5-3).

    The gate does not depend on the temperature, so one pass gives the logits and the gate and
    the grid is searched on them: ``p = g softmax(z_kg / T) + (1 - g) softmax(z_neural / T)``.
    """
    model.temperature = 1.0
    out = predict(model, examples, builder)
    labels = np.array([e.label for e in examples])
    g = out["gate"][:, None]
    best = (math.inf, 1.0)
    for t in (0.5, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0):
        with np.errstate(over="ignore"):  # masked labels hold float32's lowest value; /t < 1 sends them to -inf, as meant
            p = g * _softmax(out["z_kg"] / t) + (1 - g) * _softmax(out["z_neural"] / t)
        nll = float(-np.log(np.clip(p[np.arange(len(labels)), labels], 1e-8, 1)).mean())
        best = min(best, (nll, t))
    model.temperature = best[1]
    return best[1]


def train(kg_dir: str | Path, data_dir: str | Path, out_dir: str | Path, *, seed: int = 13, epochs: int = 2,
          batch_size: int = 16, lr: float = 1e-3, max_train: int | None = 3000, max_dev: int | None = 1200,
          neg_ratio: float = 1.0, eval_every: int = 60, patience: int = 3, use_gnn: bool = False,
          marking: str = "sentence", num_layers: int | None = 4, threads: int | None = RE_RECIPE_THREADS,
          time_budget_s: float | None = None, device: str = "cpu", progress: Callable[[str], None] = print,
          command: str | None = None) -> dict:
    """Train, early-stop on dev, calibrate and save; returns the training report (also in the manifest).

    ``max_train`` caps the training pairs after sampling negatives (``neg_ratio`` per positive);
    ``time_budget_s`` stops training early (the best model so far is kept; the report says so);
    ``marking`` and ``num_layers`` are the model's (``RelationModel.create``); ``threads``: torch's
    thread count for the run (restored after; None: as it is), the shipped model's by default, as
    other counts train other weights. ``command``: the command line that ran this training, kept in
    the report beside the library versions (``library_versions``).
    """
    from kgnlu.training.nli_train import deterministic

    with deterministic(seed, threads):
        return _train(kg_dir, data_dir, out_dir, seed=seed, epochs=epochs, batch_size=batch_size, lr=lr,
                      max_train=max_train, max_dev=max_dev, neg_ratio=neg_ratio, eval_every=eval_every,
                      patience=patience, use_gnn=use_gnn, marking=marking, num_layers=num_layers,
                      time_budget_s=time_budget_s, device=device, progress=progress, command=command)


def _train(kg_dir: str | Path, data_dir: str | Path, out_dir: str | Path, *, seed: int, epochs: int, batch_size: int,
           lr: float, max_train: int | None, max_dev: int | None, neg_ratio: float, eval_every: int, patience: int,
           use_gnn: bool, marking: str, num_layers: int | None, time_budget_s: float | None, device: str,
           progress: Callable[[str], None], command: str | None) -> dict:
    import torch

    from kgnlu.runtime import open_session
    from kgnlu.neural.manifest import library_versions
    from kgnlu.neural.re_head import RelationModel, relation_loss
    from kgnlu.neural.fused import batch_to
    from kgnlu.tasks.re_features import FeatureBuilder, known_index, sym_feature_names

    t_start = time.perf_counter()
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    labels, label_iris = label_set(data_dir)
    session = open_session(kg_dir, device=device)
    linker = session.linker(progress)
    kb = session.relation_kb()
    builder = FeatureBuilder(kb, labels, label_iris)
    train_recs, dev_recs = read_records(data_dir / TRAIN_FILE), read_records(data_dir / DEV_FILE)
    progress(f"preparing {len(train_recs)} training sentences")
    train_ex, train_stats = prepare(train_recs, linker, kb, labels, label_iris, progress)
    progress(f"preparing {len(dev_recs)} dev sentences")
    dev_ex, dev_stats = prepare(dev_recs, linker, kb, labels, label_iris, progress, hide=False)
    rng = random.Random(seed)
    pos = [e for e in train_ex if e.label]
    neg = [e for e in train_ex if not e.label]
    neg = rng.sample(neg, min(len(neg), int(len(pos) * neg_ratio)))
    train_set = pos + neg
    rng.shuffle(train_set)
    if max_train:
        train_set = train_set[:max_train]
    if max_dev and len(dev_ex) > max_dev:
        dev_ex = random.Random(seed + 1).sample(dev_ex, max_dev)
    if use_gnn:
        from kgnlu.tasks.re_features import label_graph_builder

        progress("building subgraphs and label vectors for the GNN")
        graphs = label_graph_builder(session.tables, device)
        for e in [*train_set, *dev_ex]:
            e.graph = graphs(e.cand)
    progress(f"{len(train_set)} training pairs ({sum(1 for e in train_set if e.label)} positive), {len(dev_ex)} dev pairs")

    model = RelationModel.create(labels=labels, label_iris=label_iris, sym_features=sym_feature_names(labels),
                                 known_index=known_index(labels), use_gnn=use_gnn, marking=marking,
                                 num_layers=num_layers,
                                 features={"sym_features": sym_feature_names(labels)}).to(device)
    kg_loss = model.fit_kg_head(torch.from_numpy(np.stack([e.feats[0] for e in train_set])).to(device),
                                torch.from_numpy(np.stack([e.feats[1] for e in train_set])).to(device),
                                torch.tensor([e.label for e in train_set], device=device))
    progress(f"KG head fitted alone: cross-entropy {kg_loss:.3f}")
    params = model.trainable_parameters()
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    total_steps = epochs * math.ceil(len(train_set) / batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 20) * max(0.05, 1 - s / total_steps))
    log_path = out_dir / LOG_FILE
    out_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w", encoding="utf-8")
    best = {"f1": -1.0, "step": 0, "state": None}
    bad, step, stopped = 0, 0, "epochs"
    batch_rng = random.Random(seed + 2)
    t_train = time.perf_counter()
    try:
        for epoch in range(epochs):
            model.train()
            for chunk, batch in _batches(train_set, builder, model.tokenizer, batch_size, model.config["max_length"],
                                         batch_rng, marking=model.config["marking"]):
                b = batch_to(batch, device)
                out = model(b)
                loss, parts = relation_loss(out, b["labels"], b["negated"], b["neg_weight"])
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                sched.step()
                step += 1
                if step % eval_every == 0 or step == total_steps:
                    f1 = candidate_f1(dev_ex, predict(model, dev_ex, builder))
                    model.train()
                    rate = step * batch_size / (time.perf_counter() - t_train)
                    rec = {"step": step, "epoch": epoch, "loss": round(float(loss.detach()), 4),
                           **{k: round(v, 4) for k, v in parts.items()}, "dev_f1": round(f1, 4),
                           "pairs_per_s": round(rate, 1), "elapsed_s": round(time.perf_counter() - t_start, 1)}
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
                    progress(f"step {step}/{total_steps} loss {float(loss.detach()):.3f} dev F1 {f1:.3f} ({rate:.1f} pairs/s)")
                    if f1 > best["f1"]:
                        best = {"f1": f1, "step": step,
                                "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}
                        bad = 0
                    else:
                        bad += 1
                        if bad >= patience:
                            stopped = "early stopping"
                            raise StopIteration
                if time_budget_s and time.perf_counter() - t_start > time_budget_s:
                    stopped = "time budget"
                    raise StopIteration
    except StopIteration:
        pass
    finally:
        log.close()
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    progress("calibrating the temperature on dev")
    temperature = fit_temperature(model, dev_ex, builder)
    report = {
        "name": f"kgnlu-re (MiniLM + LoRA r8{' + R-GCN' if use_gnn else ''}, seed {seed})", "seed": seed,
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "marking": marking,
        "num_layers": model.config["num_layers"], "steps": step, "best_step": best["step"],
        "best_dev_f1": round(best["f1"], 4), "stopped": stopped, "temperature": temperature,
        "train_pairs": len(train_set), "dev_pairs": len(dev_ex), "train_stats": train_stats, "dev_stats": dev_stats,
        "kg_head_fit_loss": round(kg_loss, 4), "opinion_dropout": model.opinion_dropout,
        "data_meta": json.loads((data_dir / META_FILE).read_text(encoding="utf-8")).get("kg_manifest"),
        "kg_manifest": session.manifest.get("hash"), "seconds": round(time.perf_counter() - t_start, 1),
        "device": device, "threads": torch.get_num_threads(), "command": command, "versions": library_versions(),
    }
    model.save(out_dir, training=report, linking=linker.mode)  # inference must link as training did
    progress(f"saved to {out_dir} (dev F1 {best['f1']:.3f}, {report['seconds']} s)")
    return report


__all__ = ["Example", "candidate_f1", "fit_temperature", "label_set", "predict", "prepare", "read_records", "train"]

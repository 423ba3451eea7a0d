"""Training of the fused NLI model (``kgnlu.neural.fused.FusedNLI``) on pairs generated from the KG.

``train(kg_dir, data_dir, out_dir)`` reads ``train.jsonl`` and ``dev.jsonl`` (records
``{"premise", "hypothesis", "label", ...}``), computes each pair's features once (lexicon
linking, the rule layer's verdict, the subgraph, label vectors), then trains end to end: the
MiniLM weights stay frozen, the LoRA adapters, GNN, heads and gate learn. Epochs stop early when
dev macro-F1 has not improved for ``patience`` epochs; the best model is saved to ``out_dir``
with ``train_log.jsonl`` (one JSON line per epoch) beside it.

Same seed, same data, same machine: same weights (torch, numpy and python seeded, deterministic
algorithms on for the run, batches drawn from a seeded ``random.Random``).

On a CPU shared with other busy jobs, pass ``num_threads=1``: two OpenMP threads on two busy
cores spin-wait on each other and train several times slower than one. Of the features, embedding
uncached labels is the slow part, which is why they go through the KG's ``VectorCache``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kgnlu.config import NLI_RECIPE
from kgnlu.labels import LABEL2ID, NOT_ENTAILMENT
from kgnlu.neural.manifest import library_versions
from kgnlu.progress import bar as progress_bar
from kgnlu.training.records import json_records
from kgnlu.types import InputError

TRAIN_FILE, DEV_FILE, LOG_FILE = "train.jsonl", "dev.jsonl", "train_log.jsonl"


def read_jsonl(path: str | Path, limit: int | None = None, *, binary_ok: bool = False, check_texts: bool = False,
               lines: list[int] | None = None) -> list[dict]:
    """Records with ``premise``, ``hypothesis`` and a ``label`` among ``kgnlu.labels.LABELS``;
    with ``binary_ok``, also ``not_entailment`` (its spellings in ``NOT_ENTAILMENT`` read as that).
    ``check_texts``: both texts checked as the engine checks a pair (``tasks.text.check_pair``:
    text, not too long, not empty). ``lines`` gets each record's line number."""
    from kgnlu.tasks.text import check_pair

    def check(rec: dict) -> str | None:
        if not isinstance(rec.get("premise"), str) or not isinstance(rec.get("hypothesis"), str):
            return "a record needs string 'premise' and 'hypothesis'"
        label = rec.get("label")
        if binary_ok and isinstance(label, str) and label.strip().lower() in NOT_ENTAILMENT:
            rec["label"] = "not_entailment"
        elif not isinstance(label, str) or label not in LABEL2ID:  # a list or object is no label (nor hashable)
            known = sorted(LABEL2ID) + (["not_entailment"] if binary_ok else [])
            shown = repr(label) if len(repr(label)) <= 60 else repr(label)[:57] + "..."
            return f"label {shown} is not one of {known}"
        if check_texts:
            try:
                rec["premise"], rec["hypothesis"] = check_pair(rec["premise"], rec["hypothesis"])
            except InputError as e:
                return str(e)
        return None

    return json_records(path, limit, check, lines)


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


EXTRA_DEV_FRACTION = 0.1


def read_extra(specs: Sequence[str], seed: int, max_per_file: int | None = None,
               where: dict[str, str] | None = None) -> tuple[list[dict], list[dict], list[dict]]:
    """Human-written pairs to train on beside the generated ones: ``PATH`` or ``PATH#SOURCE`` (only
    the records whose ``source`` starts with SOURCE, e.g. ``mnli_taxinli.jsonl#MNLI_train``).

    Each file's records (at most ``max_per_file``, a seeded sample) are split, seeded, into train and
    a dev part (``EXTRA_DEV_FRACTION``) that joins early stopping. Returns (train, dev, recipe): the
    recipe names each file with its sha256 and counts, for the model's manifest.

    ``where`` maps a path in ``specs`` to where that file is now: the split stays the one drawn
    for the path given (a manifest's recorded path), so a moved file gives the same pairs."""
    train_recs, dev_recs, recipe = [], [], []
    for spec in specs:
        path, _, source = str(spec).partition("#")
        read_from = (where or {}).get(path, path)
        if not Path(read_from).is_file():
            raise InputError(f"human-written pairs {spec}: no file {read_from}")
        # the sample is seeded by the absolute path: the same files give the same pairs from any working dir
        spec = str(Path(path).resolve()) + (f"#{source}" if source else "")
        path = read_from
        recs = [r for r in read_jsonl(path) if not source or str(r.get("source", "")).startswith(source)]
        if not recs:
            where = f" whose source starts with {source!r}" if source else ""
            raise InputError(f"human-written pairs {spec}: no pairs{where}")
        rng = random.Random(f"{seed}:{spec}")
        rng.shuffle(recs)
        recs = recs[:max_per_file] if max_per_file else recs
        n_dev = max(1, round(len(recs) * EXTRA_DEV_FRACTION))
        dev_recs += recs[:n_dev]
        train_recs += recs[n_dev:]
        recipe.append({"spec": str(spec), "sha256": file_sha256(path), "train": len(recs) - n_dev, "dev": n_dev})
    return train_recs, dev_recs, recipe


@dataclass
class PairSet:
    """Pairs with their precomputed features, ready to batch."""

    premises: list[str]
    hypotheses: list[str]
    labels: list[str]
    features: list  # kgnlu.tasks.nli_features.PairFeatures

    def __len__(self) -> int:
        return len(self.premises)


def precompute(records: Sequence[dict], linker, rules, tables, node_vectors, *, spec: dict,
               progress: bool = False, desc: str = "features", guard: bool | None = None) -> PairSet:
    """Link both sides, decide with the rules (``kgnlu.tasks.nli.decide``, as inference does), extract
    subgraphs, embed their nodes: once per pair. The verdicts follow ``spec``'s guard (the model's:
    off for a spec without one) unless ``guard`` is given."""
    from kgnlu.tasks.nli import decide
    from kgnlu.tasks.nli_features import featurize, graph_sides, reads_graph, spec_features, trained_reading
    from kgnlu.tasks.subgraph import HOPS, MAX_FANOUT, MAX_NODES, extract_subgraph

    gate_mask, trained_guard, logic = trained_reading(spec)
    guard = trained_guard if guard is None else guard
    premises = [r["premise"] for r in records]
    hypotheses = [r["hypothesis"] for r in records]
    texts = list(dict.fromkeys(premises + hypotheses))
    mentions: dict[str, list] = {}
    for i in progress_bar(range(0, len(texts), 256), f"{desc}: linking", progress):
        chunk = texts[i:i + 256]
        mentions.update(zip(chunk, linker.link_many(chunk)))
    opts = {"hops": spec.get("hops", HOPS), "max_nodes": spec.get("max_nodes", MAX_NODES),
            "max_fanout": spec.get("max_fanout", MAX_FANOUT)}
    graph = graph_sides(spec)
    staged = []
    for p, h in progress_bar(list(zip(premises, hypotheses)), f"{desc}: rules+subgraphs", progress):
        pm, hm = mentions[p], mentions[h]
        verdict = decide(rules, p, h, pm, hm, guard=guard, logic=logic)
        sg = extract_subgraph(tables, [m.iri for m in pm], [m.iri for m in hm], **opts) \
            if reads_graph(pm, hm, graph) else None
        staged.append((pm, hm, verdict, sg))
    if hasattr(node_vectors, "prefetch"):
        node_vectors.prefetch([iri for *_, sg in staged if sg is not None for iri in sg.nodes])
    names = spec_features(spec)
    features = [featurize(pm, hm, v, tables, node_vectors, subgraph=sg, gate_mask=gate_mask, graph=graph, texts=(p, h),
                          names=names, **opts) for p, h, (pm, hm, v, sg) in zip(premises, hypotheses, staged)]
    return PairSet(premises, hypotheses, [r.get("label") for r in records], features)


def batches(pairs: PairSet, tokenizer, batch_size: int, order: Sequence[int] | None = None, *,
            max_length: int = 128, node_dim: int = 384, with_labels: bool = True):
    """``(indices, batch)`` for consecutive slices of ``order`` (default: input order)."""
    from kgnlu.tasks.nli_features import collate

    order = list(range(len(pairs))) if order is None else list(order)
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        yield idx, collate([pairs.features[j] for j in idx], tokenizer, [pairs.premises[j] for j in idx],
                           [pairs.hypotheses[j] for j in idx],
                           labels=[pairs.labels[j] for j in idx] if with_labels else None,
                           max_length=max_length, node_dim=node_dim)


BUCKET_POOL = 50


def bucketed_order(pairs: PairSet, batch_size: int, rng: random.Random, pool: int = BUCKET_POOL) -> list[int]:
    """A shuffled epoch order whose batches hold pairs of similar length.

    A batch is padded to its longest pair, and one long biomedical pair (~130 tokens) among short
    SNLI ones (~30) quadruples the batch's cost. So the shuffled order is cut into pools of
    ``pool`` batches, each pool sorted by length (characters) and cut into batches, and the batches
    are shuffled: every batch is still a random draw of its pool, in a random place in the epoch."""
    order = list(range(len(pairs)))
    rng.shuffle(order)
    chunks = []
    for i in range(0, len(order), batch_size * pool):
        part = sorted(order[i:i + batch_size * pool], key=lambda j: len(pairs.premises[j]) + len(pairs.hypotheses[j]))
        chunks += [part[k:k + batch_size] for k in range(0, len(part), batch_size)]
    # ``batches`` re-slices the flat order by batch_size: the one short chunk (the last pool's) goes last
    full, short = [c for c in chunks if len(c) == batch_size], [c for c in chunks if len(c) < batch_size]
    rng.shuffle(full)
    return [j for chunk in full + short for j in chunk]


def run_model(model, pairs: PairSet, *, batch_size: int = 64, mode: str = "fused", progress: bool = False,
              desc: str = "predict", keys: Sequence[str] = ("probs", "p_neural", "p_text", "p_symbolic", "gate"),
              ) -> dict[str, np.ndarray]:
    """The model's outputs over ``pairs`` in eval mode, as numpy, in input order: by default
    ``probs``, ``p_neural``, ``p_text``, ``p_symbolic`` ``(n, 3)`` and ``gate`` ``(n,)``; ``keys``
    names others of ``FusedNLI.forward``'s outputs (``pooled``, ``graph``)."""
    import torch

    from kgnlu.neural.fused import batch_to

    out: dict[str, list] = {k: [] for k in keys}
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            steps = progress_bar(batches(pairs, model.tokenizer, batch_size, max_length=model.config["max_length"],
                                         node_dim=model.config["node_dim"], with_labels=False),
                                 desc, progress, total=-(-len(pairs) // batch_size))
            for _, batch in steps:
                res = model(batch_to(batch, model.device), mode=mode)
                for k in keys:
                    out[k].append(res[k].float().cpu().numpy())
    finally:
        model.train(was_training)
    return {k: (np.concatenate(v) if v else np.zeros((0, 3) if k != "gate" else (0,), np.float32))
            for k, v in out.items()}


@contextlib.contextmanager
def deterministic(seed: int, num_threads: int | None = None):
    """Seed python, numpy and torch, and turn on deterministic algorithms (and set torch's
    thread count, if given) for the block only."""
    import torch

    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.get_num_threads())
    torch_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if num_threads:
        torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.set_num_threads(before[2])


def train(kg_dir: str | Path, data_dir: str | Path, out_dir: str | Path, *, seed: int = 0,
          epochs: int = NLI_RECIPE["epochs"], batch_size: int = NLI_RECIPE["batch_size"], lr: float = NLI_RECIPE["lr"],
          patience: int = NLI_RECIPE["patience"], max_train: int | None = NLI_RECIPE["max_train"],
          max_dev: int | None = NLI_RECIPE["max_dev"], use_gnn: bool = True, weight_decay: float = 0.01,
          node_vectors: Callable | None = None, device: str = "cpu", progress: bool = True,
          eval_batch_size: int = 64, num_threads: int | None = NLI_RECIPE["num_threads"],
          model_options: dict | None = None, loss_options: dict | None = None, command: str | None = None,
          extra: Sequence[str] = (), max_extra: int | None = NLI_RECIPE["max_extra"],
          guard: bool | None = None, reading: bool = False) -> dict:
    """Train the fused model and save the best epoch (by dev macro-F1) to ``out_dir``.

    The defaults are the shipped model's recipe (``kgnlu.config.NLI_RECIPE``), MiniLM's first
    ``NLI_RECIPE["num_layers"]`` layers included unless ``model_options`` names ``num_layers``.

    Args:
        kg_dir: the KG the pairs were generated from (linking and rules read it).
        data_dir: holds ``train.jsonl`` and ``dev.jsonl``.
        out_dir: receives the model (``FusedNLI.save``) and ``train_log.jsonl``.
        patience: epochs without a better dev macro-F1 before stopping.
        max_train, max_dev: use only the first N records of each file.
        use_gnn: False trains the "fused without GNN" ablation.
        node_vectors: IRIs -> label vectors (default: the frozen MiniLM over labels, cached in the
            KG's ``cache/``, see :func:`default_node_vectors`); its ``name`` goes into the manifest.
        num_threads: torch threads for the run (restored after). On a CPU shared with other busy
            processes 1 thread can be several times faster than 2.
        model_options: extra keyword arguments of ``FusedNLI.create`` (``lora_r``, ``gnn_hidden``,
            ``num_layers``...).
        loss_options: keyword arguments of ``kgnlu.neural.fused.fused_loss``.
        command: the command line that ran this training (recorded in the model's metadata with
            every option above, so that the run can be repeated).
        extra: human-written pair files trained on beside the generated pairs (``read_extra``: a
            dev part of each joins the generated dev set); ``max_extra`` caps each file (0 or None: all).
        guard: train on the rules' verdicts with the alignment guard (``kgnlu.tasks.nli.decide``;
            None: its default ``GUARD``); the feature spec records it and inference follows it.
        reading: also feed the model ``tasks.nli_features.READING_FEATURES`` (with
            ``model_options={"gate_inputs": "symbolic"}``, the gate reads nothing else).

    Returns a summary: best epoch and dev metrics, epochs run, pairs/s, seconds, paths.
    """
    from kgnlu.runtime import default_node_vectors, open_session
    from kgnlu.tasks.nli_features import feature_spec

    t0 = time.perf_counter()
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    train_path, dev_path = data_dir / TRAIN_FILE, data_dir / DEV_FILE
    for p in (train_path, dev_path):
        if not p.is_file():
            raise InputError(f"{p} is missing: training needs {TRAIN_FILE} and {DEV_FILE} in {data_dir}")
    train_recs, dev_recs = read_jsonl(train_path, max_train), read_jsonl(dev_path, max_dev)
    if not train_recs or not dev_recs:
        raise InputError(f"{data_dir}: empty {TRAIN_FILE} or {DEV_FILE}")
    extra_train, extra_dev, extra_recipe = read_extra(extra, seed, max_extra)
    train_recs, dev_recs = train_recs + extra_train, dev_recs + extra_dev
    out_dir.mkdir(parents=True, exist_ok=True)
    model_options = {"num_layers": NLI_RECIPE["num_layers"], **(model_options or {})}
    options = {"kg_dir": str(kg_dir), "data_dir": str(data_dir), "seed": seed, "epochs": epochs,
               "batch_size": batch_size, "lr": lr, "patience": patience, "max_train": max_train, "max_dev": max_dev,
               "use_gnn": use_gnn, "weight_decay": weight_decay, "device": device, "num_threads": num_threads,
               "eval_batch_size": eval_batch_size, "model_options": model_options or {},
               "loss_options": loss_options or {}, "command": command, "extra": extra_recipe, "max_extra": max_extra,
               "reading": reading}
    with deterministic(seed, num_threads):
        session = open_session(kg_dir, device=device)
        tables, linker, rules = session.tables, session.linker(), session.rules()
        if node_vectors is None:
            node_vectors = default_node_vectors(tables, device, cache_dir=session.kg_dir / "cache")
        spec = feature_spec(node_vectors=getattr(node_vectors, "name", "unspecified"), guard=guard, reading=reading)
        train_set = precompute(train_recs, linker, rules, tables, node_vectors, spec=spec, progress=progress,
                               desc="train")
        dev_set = precompute(dev_recs, linker, rules, tables, node_vectors, spec=spec, progress=progress, desc="dev")
        summary: dict = {"out_dir": str(out_dir), "log": str(out_dir / LOG_FILE), "n_train": len(train_set),
                         "n_dev": len(dev_set), "seed": seed, "feature_seconds": round(time.perf_counter() - t0, 2)}
        meta = {"summary": summary, "spec": spec, "train_path": train_path, "dev_path": dev_path, "session": session,
                "lr": lr, "batch_size": batch_size, "epochs": epochs, "patience": patience, "use_gnn": use_gnn,
                "options": options}
        torch_seed(seed)  # the same initial weights whatever the feature stage drew
        summary.update(_fit(train_set, dev_set, out_dir, meta, seed=seed, epochs=epochs, batch_size=batch_size,
                            lr=lr, patience=patience, use_gnn=use_gnn, weight_decay=weight_decay, device=device,
                            progress=progress, eval_batch_size=eval_batch_size, model_options=model_options,
                            loss_options=loss_options, linking=linker.mode))
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return summary


def torch_seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2 ** 32)  # numpy's seeds stop at 2**32
    torch.manual_seed(seed)


def _fit(train_set: PairSet, dev_set: PairSet, out_dir: Path, meta: dict, *, seed: int, epochs: int,
         batch_size: int, lr: float, patience: int, use_gnn: bool, weight_decay: float, device: str,
         progress: bool, eval_batch_size: int, model_options: dict | None, loss_options: dict | None,
         linking: dict | None = None) -> dict:
    """The training loop proper: epochs, dev macro-F1, early stopping, the log, the best model
    (its manifest records ``linking``, the linker's mode the pairs were featurised with)."""
    import torch

    from kgnlu.neural.fused import FusedNLI, batch_to, fused_loss
    from kgnlu.tasks.subgraph import EDGE_TYPES
    from kgnlu.training.nli_metrics import classification_metrics

    log_path = out_dir / LOG_FILE
    log_path.write_text("", encoding="utf-8")
    model = FusedNLI.create(sym_dim=len(meta["spec"]["symbolic_features"]), num_relations=len(EDGE_TYPES),
                            use_gnn=use_gnn, features=meta["spec"], **(model_options or {})).to(device)
    params = model.trainable_parameters()
    optim = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    steps_per_epoch = -(-len(train_set) // batch_size)
    total = max(1, steps_per_epoch * epochs)
    warmup = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    order_rng = random.Random(seed)
    best_f1, best_epoch, bad, epochs_run, train_seconds, seen = -1.0, 0, 0, 0, 0.0, 0
    best_dev: dict = {}
    for epoch in range(1, epochs + 1):
        t_epoch = time.perf_counter()
        model.train()
        order = bucketed_order(train_set, batch_size, order_rng)
        sums: dict[str, float] = {}
        n_steps = 0
        steps = progress_bar(batches(train_set, model.tokenizer, batch_size, order,
                                     max_length=model.config["max_length"], node_dim=model.config["node_dim"]),
                             f"epoch {epoch}/{epochs}", progress, total=steps_per_epoch)
        for idx, batch in steps:
            batch = batch_to(batch, device)
            out = model(batch)
            loss, parts = fused_loss(out, batch["labels"], batch["gate_open"], **(loss_options or {}))
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optim.step()
            sched.step()
            n_steps += 1
            seen += len(idx)
            for k, v in {"loss": float(loss.detach()), **parts}.items():
                sums[k] = sums.get(k, 0.0) + v
        t_train = time.perf_counter() - t_epoch
        train_seconds += t_train
        dev_out = run_model(model, dev_set, batch_size=eval_batch_size, progress=progress, desc="dev")
        dev = classification_metrics(dev_set.labels, dev_out["probs"])
        dev["gate_mean"] = float(dev_out["gate"].mean()) if len(dev_out["gate"]) else 0.0
        epochs_run = epoch
        entry = {"epoch": epoch, "loss": round(sums["loss"] / max(1, n_steps), 6),
                 **{k: round(v / max(1, n_steps), 6) for k, v in sums.items() if k != "loss"},
                 "dev": {k: dev[k] for k in ("accuracy", "macro_f1", "gate_mean")},
                 "dev_f1": {k: v["f1"] for k, v in dev["per_class"].items()},
                 "seconds": round(time.perf_counter() - t_epoch, 2),
                 "train_pairs_per_s": round(len(order) / t_train, 2)}
        improved = dev["macro_f1"] > best_f1
        if improved:
            best_f1, best_epoch, bad, best_dev = dev["macro_f1"], epoch, 0, dev
            model.save(out_dir, training=_metadata(epoch=epoch, dev=dev, **meta), linking=linking)
        else:
            bad += 1
        entry["saved"] = improved
        with log_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")
        if progress:
            print(f"epoch {epoch}: loss {entry['loss']:.4f}  dev macro-F1 {dev['macro_f1']:.4f}  "
                  f"acc {dev['accuracy']:.4f}  gate {dev['gate_mean']:.3f}" + ("  (saved)" if improved else ""),
                  file=sys.stderr, flush=True)
        if bad >= patience:
            break
    return {"best_epoch": best_epoch, "best_dev_macro_f1": best_f1, "best_dev": best_dev, "epochs_run": epochs_run,
            "train_pairs_per_s": round(seen / train_seconds, 2) if train_seconds else None}


def _metadata(*, summary: dict, spec: dict, train_path: Path, dev_path: Path, session, epoch: int, dev: dict,
              lr: float, batch_size: int, epochs: int, patience: int, use_gnn: bool, options: dict | None = None) -> dict:
    kg_hash = session.manifest.get("hash")
    return {"seed": summary["seed"], "epoch": epoch, "epochs": epochs, "patience": patience, "lr": lr,
            "batch_size": batch_size, "use_gnn": use_gnn, "n_train": summary["n_train"], "n_dev": summary["n_dev"],
            "train_sha256": file_sha256(train_path), "dev_sha256": file_sha256(dev_path), "kg_manifest_hash": kg_hash,
            "dev": {k: dev[k] for k in ("accuracy", "macro_f1")}, "features": spec, "options": options or {},
            "versions": library_versions()}


__all__ = ["PairSet", "batches", "bucketed_order", "deterministic", "precompute", "read_jsonl", "run_model", "train"]

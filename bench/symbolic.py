"""Symbolic NLI benchmark: precision and coverage of the rule layer's verdicts, and its speed.

For each pair the lexicon linker reads premise and hypothesis and ``kgnlu.kg.rules`` decides
entailment, contradiction or unknown from the closure tables alone (no torch). Reported per set:

- **precision** of the entailment verdicts and of the contradiction verdicts (gold label equal to
  the verdict, among pairs given that verdict; target ≥ 0.97);
- **coverage**: the share of pairs that get a verdict other than unknown, overall and among the
  pairs whose gold label is entailment or contradiction;
- the errors, so that a precision below target can be read (``--show-errors``).

Sets: the generated test split (concepts held out from training, ``kgnlu.training.nli_data``)
and the hand-checked clinical dev set; with ``--real DIR`` (default ``../shared/realdata/nli``)
also the human-written dev sets of ``bench/nli.py`` (SNLI dev, MNLI dev-matched and
dev-mismatched, Citation-Integrity dev), whole by default (``--max-real N`` takes the same seeded
samples as ``bench/nli.py``). Speed: the warm verdict alone (on the
already-linked mentions: the rules and the alignment guard, ``kgnlu.tasks.nli.decide``) and linking
plus verdict, per pair, p50 per set. The rules are ``decide``'s default reading, natural logic
by alignment (``logic="natlog"``: the guarded concept rules, else ``kgnlu.tasks.natlog``); the same
run scores the concept-bag rules before issue 21 (``logic="bag"``, no guard) beside them.

Usage: ``python bench/symbolic.py --kg DIR [--data data/generated/nli] [--real DIR] [--out bench/results/symbolic.md]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DECIDED = ("entailment", "contradiction")


def read(path: Path, limit: int | None) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit] if limit else rows


def score(engine, rows: list[dict], logic: str = "natlog") -> dict:
    from kgnlu.tasks.natlog import explain as natlog_explain
    from kgnlu.tasks.nli import decide

    linker, rules = engine.linker(), engine.rules()
    given = {v: 0 for v in DECIDED}
    right = {v: 0 for v in DECIDED}
    errors, decide_ms, total_ms = [], [], []
    gold_decidable = covered_decidable = by_text = 0
    for r in rows:
        t0 = time.perf_counter()
        p_m, h_m = linker.link_many([r["premise"], r["hypothesis"]])
        t1 = time.perf_counter()
        v = decide(rules, r["premise"], r["hypothesis"], p_m, h_m, guard=False, logic=logic)
        verdict = v.label
        t2 = time.perf_counter()
        decide_ms.append((t2 - t1) * 1000)
        total_ms.append((t2 - t0) * 1000)
        if r["label"] in DECIDED:
            gold_decidable += 1
            covered_decidable += verdict in DECIDED
        if verdict in DECIDED:
            by_text += bool(v.edits)
            given[verdict] += 1
            right[verdict] += verdict == r["label"]
            if verdict != r["label"]:
                errors.append({"id": r.get("id"), "verdict": verdict, "gold": r["label"],
                               "premise": r["premise"], "hypothesis": r["hypothesis"],
                               "rules": [pr.rule for pr in v.proofs],
                               "explanation": (rules.explain(v) + natlog_explain(v))[:3]})
    n = len(rows)
    gold = Counter(r["label"] for r in rows)
    return {
        "pairs": n,
        "gold": dict(gold),
        "precision": {v: (right[v] / given[v] if given[v] else None) for v in DECIDED},
        "given": given,
        "coverage": sum(given.values()) / n if n else 0.0,
        "decided_by_natural_logic": by_text,
        "coverage_of_gold_decidable": covered_decidable / gold_decidable if gold_decidable else None,
        "decide_ms_p50": statistics.median(decide_ms) if decide_ms else None,
        "link_and_decide_ms_p50": statistics.median(total_ms) if total_ms else None,
        "errors": errors,
    }


def fmt(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def _bench_nli():
    """``bench/nli.py`` as a module: the real sets and their samples are defined once, there."""
    spec = importlib.util.spec_from_file_location("bench_nli", Path(__file__).resolve().with_name("nli.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _short(text: str, n: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n - 1] + "…"


def render(results: dict, kg: str, seconds: float, *, real_names=(), skipped: list[str] = (), real_note: str = "",
           nli_json: dict | None = None, command: str = "", old: dict | None = None) -> str:
    lines = ["# Symbolic NLI benchmark (`bench/symbolic.py`)", "",
             (f"Run on {time.strftime('%Y-%m-%d')}. Machine: {platform.machine()}, {os.cpu_count()} cores, CPU only "
              f"(shared: timings are upper bounds). KG `{kg}`, lexicon linking, rules from the closure tables only. "
              f"Run took {seconds:.0f} s."), "", f"Command: `{command}`", ""]
    lines += [f"**Skipped**: {why}." for why in skipped] + ([""] if skipped else [])
    if real_note:
        lines += [real_note, ""]
    lines += ["| set | pairs | precision entailment (n) | precision contradiction (n) | coverage | coverage of gold ent/con |",
              "|---|---:|---|---|---:|---:|"]
    for name, r in results.items():
        p, g = r["precision"], r["given"]
        lines.append(f"| {name} | {r['pairs']} | {fmt(p['entailment'])} ({g['entailment']}) | "
                     f"{fmt(p['contradiction'])} ({g['contradiction']}) | {r['coverage']:.3f} | "
                     f"{fmt(r['coverage_of_gold_decidable'])} |")
    if old:
        lines += ["", ("The concept-bag rules before issue 21 (`decide(..., logic=\"bag\")`) beside natural logic by "
                       "alignment, same run, same linking:"), "",
                  ("| set | old: precision ent (n) | old: precision con (n) | old: coverage | old: coverage of gold ent/con "
                   "| new: precision ent (n) | new: precision con (n) | new: coverage | new: coverage of gold ent/con |"),
                  "|---|---|---|---:|---:|---|---|---:|---:|"]
        for name, r in results.items():
            cells = []
            for x in (old[name], r):
                p, g = x["precision"], x["given"]
                cells += [f"{fmt(p['entailment'])} ({g['entailment']})", f"{fmt(p['contradiction'])} ({g['contradiction']})",
                          f"{x['coverage']:.3f}", fmt(x["coverage_of_gold_decidable"])]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", "Of the new verdicts, those read from the sentences by natural logic (the rest are the concept "
                  "rules' under the alignment guard), per set: "
                  + "; ".join(f"{name} {r['decided_by_natural_logic']} of {sum(r['given'].values())}"
                              for name, r in results.items()) + ".",
                  "", "The first table, the errors and the speeds are the new rules (`decide`'s default, `logic=\"natlog\"`)."]
    lines += ["", "| speed (warm, per pair, p50) | verdict alone (concept rules, guard, natural logic), ms | linking both texts + verdict, ms |",
              "|---|---:|---:|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['decide_ms_p50']:.3f} | {r['link_and_decide_ms_p50']:.3f} |")
    lines += ["", "Target: the verdict alone < 5 ms per pair."]
    for name, r in results.items():
        if r["errors"]:
            lines += ["", f"Wrong verdicts on {name} (first 10 of {len(r['errors'])}):", ""]
            lines += [f"- {e['verdict']} (gold {e['gold']}): {_short(e['premise'])!r} / {_short(e['hypothesis'])!r}"
                      for e in r["errors"][:10]]
    if real_names:
        lines += [""] + analysis(results, real_names, nli_json)
    return "\n".join(lines) + "\n"


def analysis(results: dict, real_names, nli_json: dict | None) -> list[str]:
    lines = ["## Analysis (real sets)", ""]
    for name in real_names:
        r = results[name]
        n, gold = r["pairs"], r["gold"]
        parts = []
        for v in DECIDED:
            if r["given"][v]:
                parts.append(f"their {r['given'][v]} {v} verdicts are right {r['precision'][v]:.0%} of the time "
                             f"(the share of {v} in the set, what a random verdict would score: {gold.get(v, 0) / n:.0%})")
            else:
                parts.append(f"they give no {v} verdict")
        lines.append(f"- **{name}**: the rules decide {r['coverage']:.1%} of {n} pairs "
                     f"({fmt(r['coverage_of_gold_decidable'])} of the gold entailments and contradictions); "
                     + "; ".join(parts) + ".")
    fired = Counter(rule for name in real_names for e in results[name]["errors"] for rule in set(e["rules"]))
    n_err = sum(len(results[name]["errors"]) for name in real_names)
    if n_err:
        lines += ["", f"The rules behind the {n_err} wrong verdicts on the real sets (a verdict can rest on several): "
                  + ", ".join(f"{rule} {c}" for rule, c in fired.most_common(8)) + "."]
    real = (nli_json or {}).get("real") or {}
    if real.get("analysis"):
        an = real["analysis"]
        e = sum(a["fused_errors"] for a in an.values())
        d = sum(a["decided_wrong_gate_over_half_fused_wrong"] for a in an.values())
        u = sum(a["unknown_wrong_gate_over_half_fused_wrong"] for a in an.values())
        what = (f"What the fused model makes of them (`bench/results/nli.json`, {nli_json.get('date', 'undated')}, "
                f"over the pairs it scored of these sets, counted per set below): of its {e} errors, {d} ({d / e:.0%}) "
                f"are pairs where the rules decided wrongly and the gate exceeded 0.5, and {u} ({u / e:.0%}) pairs "
                f"where the rules said unknown on a non-neutral pair under a gate > 0.5 (a confident neutral). Per set:")
        lines += ["", what]
        for name, a in an.items():
            lines.append(f"- {name} ({a['pairs']} pairs): {a['decided_wrong_gate_over_half']} wrong decided verdicts "
                         f"under a gate > 0.5 "
                         f"({a['decided_wrong_gate_over_half_fused_wrong']} fused errors of {a['fused_errors']}); "
                         f"{a['unknown_wrong_gate_over_half_fused_wrong']} confident-neutral errors.")
    picks = []
    for k in range(5):
        for name in real_names[k % len(real_names):] + real_names[:k % len(real_names)]:
            errs = [e for e in results[name]["errors"] if e not in picks]
            if errs:
                picks.append(errs[(k // len(real_names)) % len(errs)] if len(errs) > 1 else errs[0])
                picks[-1]["set"] = name
                break
    if picks:
        lines += ["", f"**{len(picks)} illustrative wrong verdicts** (each set in turn, in file order):", ""]
        for i, e in enumerate(picks, 1):
            lines.append(f"{i}. *{e['set']}*: {_short(e['premise'])!r} / {_short(e['hypothesis'])!r}: rules "
                         f"**{e['verdict']}**, gold **{e['gold']}**; proof: {_short('; '.join(e['explanation']), 200)}.")
    return lines


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kg", required=True)
    ap.add_argument("--data", default=str(REPO / "data" / "generated" / "nli"))
    ap.add_argument("--clinical", default=str(REPO / "data" / "nli_dev_clinical.jsonl"))
    ap.add_argument("--max-test", type=int, default=None)
    ap.add_argument("--real", default=str(REPO.parent / "shared" / "realdata" / "nli"),
                    help="the real NLI sets (../shared/realdata/nli)")
    ap.add_argument("--max-real", type=int, default=0, help="pairs per real set, bench/nli.py's seeded sample (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--nli-json", default=str(REPO / "bench" / "results" / "nli.json"),
                    help="bench/nli.py's raw numbers, quoted in the analysis when present")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "symbolic.md"))
    args = ap.parse_args(argv)

    from kgnlu.api import Engine

    t0 = time.perf_counter()
    engine = Engine(args.kg, dense=False)
    sets, skipped, real_names, real_note = {}, [], [], ""
    if (Path(args.data) / "test.jsonl").is_file():
        sets["generated test (held-out concepts)"] = read(Path(args.data) / "test.jsonl", args.max_test)
    else:
        skipped.append(f"generated test: no {Path(args.data) / 'test.jsonl'} (make it with `python -m "
                       f"kgnlu.training.nli_data --kg KG --out {args.data} --seed 0`)")
    if Path(args.clinical).is_file():
        sets["clinical dev (hand-checked)"] = read(Path(args.clinical), None)
    else:
        skipped.append(f"clinical dev: no {args.clinical}")
    if not args.skip_real:
        parts = _bench_nli().real_parts(args.real, args.max_real, None, args.seed)
        if "missing" in parts:
            skipped.append(f"real sets: {parts['missing']}")
        else:
            for name, part in parts["report"].items():
                sets[name] = part["rows"]
                real_names.append(name)
            real_note = ("Real, human-written sets (`--real`): " + "; ".join(
                f"{name}: {len(p['rows'])} of {p['total']} pairs of `{p['what']}`" for name, p in parts["report"].items())
                + ". Gold labels as the files give them; the rules' unknown is not counted as a verdict.")
    engine.linker()
    results = {name: score(engine, rows) for name, rows in sets.items()}
    old = {name: score(engine, rows, logic="bag") for name, rows in sets.items()}
    nli_json = None
    if args.nli_json and Path(args.nli_json).is_file():
        nli_json = json.loads(Path(args.nli_json).read_text(encoding="utf-8"))
    text = render(results, args.kg, time.perf_counter() - t0, real_names=real_names, skipped=skipped,
                  real_note=real_note, nli_json=nli_json,
                  command=" ".join(["python", "bench/symbolic.py"] + sys.argv[1:]), old=old)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    Path(args.out).with_suffix(".json").write_text(json.dumps(
        {"date": time.strftime("%Y-%m-%d"), "command": sys.argv, "kg": args.kg, "skipped": skipped, "results": results,
         "results_concept_bag": {name: {k: v for k, v in r.items() if k != "errors"} for name, r in old.items()}},
        indent=1), encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()

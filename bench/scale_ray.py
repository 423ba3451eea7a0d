"""Batch ``infer`` on Ray against the in-process batch (``bench/scale.py --part ray`` calls ``report``).

The pairs are SNLI dev pairs (``../shared/realdata/nli/snli_dev.jsonl``, else generated food pairs),
on the demo KG unless a KG is given. In-process is what ``kgnlu infer --input`` does: one Engine,
torch on every core, the input in chunks of ``kgnlu.scale.CHUNK``. On Ray, each worker is one actor
with one Engine and one torch thread; its time includes starting the actors and loading their
Engines, as a run's does, and so does the in-process "with load" figure. Each Ray run's answers are
checked against the in-process ones.

Usage alone: ``python bench/scale_ray.py [--kg DIR] [--pairs N]`` (prints the dict as JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNLI = REPO.parent / "shared" / "realdata" / "nli" / "snli_dev.jsonl"


def bench_pairs(n: int) -> list[tuple[str, str]]:
    if SNLI.is_file():
        rows = [json.loads(line) for line in SNLI.read_text(encoding="utf-8").splitlines()[:n]]
        return [(r["premise"], r["hypothesis"]) for r in rows]
    foods = ["apples", "bananas", "Granny Smith apples", "cheese", "meat", "fruit", "vegetables", "food"]
    pairs = [(f"I like eating {a}", f"I {neg}eat {b}") for a in foods for b in foods for neg in ("", "do not ")]
    return (pairs * (n // len(pairs) + 1))[:n]


def demo_kg() -> Path:
    from kgnlu.kg.ingest import ingest

    kg = Path(tempfile.mkdtemp(prefix="kgnlu-scale-demo-")) / "kg"
    ingest([REPO / "ontologies" / "demo" / "food.ttl"], kg, reasoner_name="hermit")
    return kg


def measure(kg: Path | None = None, pairs: int = 2000, workers: tuple[int, ...] = (1, 2), num_cpus: int | None = None) -> dict:
    """Pairs per second: ``in_process`` (answering only, and with the Engine's load) and
    ``ray_N`` for each number of workers, on a local Ray cluster started here."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from kgnlu.api import Engine
    from kgnlu.scale import CHUNK, connect, ray_map

    import torch

    kg = kg or demo_kg()
    items = bench_pairs(pairs)
    out: dict = {"pairs": len(items), "kg": str(kg), "cpus": os.cpu_count()}
    default_threads = torch.get_num_threads()
    expected: list = []
    # torch on every core is the CLI's default; one thread is each Ray worker's, and on shared cores
    # it can be the faster of the two (OpenMP threads spin-wait on each other when a core is busy)
    for key, threads in (("in_process", default_threads), ("in_process_1_thread", 1)):
        torch.set_num_threads(threads)
        start = time.perf_counter()
        engine = Engine(kg)
        engine.linker()
        engine.nli_predictor()
        loaded = time.perf_counter()
        answers = [r.to_dict() for i in range(0, len(items), CHUNK) for r in engine.infer_many(items[i:i + CHUNK])]
        end = time.perf_counter()
        expected = expected if key != "in_process" else answers  # the CLI's answers are the reference
        engine.close()
        out[key] = {"threads": threads, "pairs_per_s": len(items) / (end - loaded),
                    "pairs_per_s_with_load": len(items) / (end - start), "load_s": loaded - start,
                    "answer_s": end - loaded, "identical": answers == expected}
    torch.set_num_threads(default_threads)
    connect(None, **({"num_cpus": num_cpus} if num_cpus else {}))
    for n in workers:
        start = time.perf_counter()
        got = ray_map("infer", items, {"kg": kg}, workers=n)
        seconds = time.perf_counter() - start
        out[f"ray_{n}"] = {"pairs_per_s": len(items) / seconds, "seconds": seconds,
                           "identical": [r.to_dict() for r in got] == expected}
    return out


def report(kg: Path | None, pairs: int) -> str:
    """``measure`` as a markdown table, with the ratios to in-process."""
    load = os.getloadavg()[0]
    m = measure(kg, pairs)
    base = m["in_process"]["pairs_per_s_with_load"]  # what `kgnlu infer --input` does on this machine
    rows = [f"{date.today().isoformat()}; {m['pairs']} SNLI dev pairs on {'the demo KG' if kg is None else m['kg']}; "
            f"{m['cpus']} cores; 1-minute load average {load:.2f} before, {os.getloadavg()[0]:.2f} after. Answers "
            "checked against the in-process batch's. Each Ray worker is one actor with one Engine and one torch "
            "thread; its time includes starting the actors and loading their Engines (Ray's own start-up is not "
            "counted).", "Command: `python bench/scale.py --part ray`", "",
            "| run | pairs/s | of in-process (with load) | seconds | answers identical |", "|---|---|---|---|---|"]
    for key in ("in_process", "in_process_1_thread"):
        r = m[key]
        rows += [f"| in-process, {r['threads']} torch thread(s), answering only | {r['pairs_per_s']:.1f} | | "
                 f"{r['answer_s']:.1f} | {'yes' if r['identical'] else 'NO'} |",
                 f"| in-process, {r['threads']} torch thread(s), with the Engine's load | {r['pairs_per_s_with_load']:.1f} | "
                 f"{r['pairs_per_s_with_load'] / base:.0%} | {r['load_s'] + r['answer_s']:.1f} | |"]
    workers = sorted((int(k[4:]), m[k]) for k in m if k.startswith("ray_"))
    for n, r in workers:
        rows.append(f"| Ray, {n} worker(s), with start and load | {r['pairs_per_s']:.1f} | {r['pairs_per_s'] / base:.0%} | "
                    f"{r['seconds']:.1f} | {'yes' if r['identical'] else 'NO'} |")
    best = max(workers, key=lambda w: w[1]["pairs_per_s"])
    rows += ["", f"The best Ray run ({best[0]} worker(s)) reaches {best[1]['pairs_per_s'] / base:.0%} of the in-process "
             f"batch on all of this machine's {m['cpus']} cores: on one machine Ray adds start-up and the driver's work "
             "and brings no speed-up; it pays across machines."]
    return "\n".join(rows)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kg", type=Path, default=None)
    ap.add_argument("--pairs", type=int, default=2000)
    args = ap.parse_args()
    print(json.dumps(measure(args.kg, args.pairs), indent=2))

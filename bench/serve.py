"""Service benchmark: ``kgnlu serve`` under concurrent clients against ``Engine.infer_many`` in-process.

1. In-process: ``Engine.infer_many`` over the pairs in chunks of the batch the service formed
   (``--batch`` if given, else the clients' count capped by ``--batch-size``), for ``--duration``
   seconds after a warm-up: pairs/s.
2. Served: ``kgnlu serve`` in a child process on 127.0.0.1 (same KG, same torch threads),
   ``--clients`` concurrent httpx clients each posting one pair per ``/v1/infer`` request, for
   ``--duration`` seconds after a warm-up: pairs/s, p50/p99 latency per request, errors (any
   non-200 or transport error), the server's peak RSS (VmHWM) and its mean batch (``/v1/info``).

The ratio served / in-process is what HTTP, JSON, the clients (on the same cores) and the
micro-batcher's wait cost. Pairs: short SNLI dev pairs from ``../shared/realdata/nli/snli_dev.jsonl``
when present, else generated ones.

Usage: ``python bench/serve.py [--kg DIR] [--clients 16] [--duration 20]``; without ``--kg`` the demo
ontology is ingested into a temporary KG. Writes ``bench/results/serve.md`` (``--out``) and prints it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNLI = REPO.parent / "shared" / "realdata" / "nli" / "snli_dev.jsonl"


def load_pairs(n: int, max_chars: int = 120) -> tuple[list[tuple[str, str]], str]:
    if SNLI.is_file():
        pairs = []
        for line in SNLI.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if len(r["premise"]) + len(r["hypothesis"]) <= max_chars:
                pairs.append((r["premise"], r["hypothesis"]))
            if len(pairs) == n:
                break
        return pairs, f"SNLI dev, the first {len(pairs)} pairs of at most {max_chars} characters together"
    foods = ["apples", "bananas", "cheese", "meat", "fruit", "vegetables", "dairy", "food"]
    pairs = [(f"The patient eats {a} every day.", f"The patient does {'not ' * (i % 2)}eat {b}.")
             for i, (a, b) in enumerate((a, b) for a in foods for b in foods)]
    return pairs[:n], f"{min(n, len(pairs))} generated pairs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class InProcess:
    """``Engine.infer_many`` in this process over chunks of ``batch`` pairs."""

    def __init__(self, kg: Path, pairs, batch: int, threads: int):
        import torch

        from kgnlu.api import Engine

        torch.set_num_threads(threads)
        self.engine = Engine.load(kg=kg, dense=False)
        self.chunks = [pairs[i:i + batch] for i in range(0, len(pairs), batch)]
        for chunk in self.chunks[:3]:
            self.engine.infer_many(chunk)
        self.k = 0

    def run(self, duration: float) -> dict:
        done, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < duration:
            done += len(self.engine.infer_many(self.chunks[self.k % len(self.chunks)]))
            self.k += 1
        return {"pairs": done, "seconds": time.perf_counter() - t0}


async def clients(base: str, pairs, n: int, warmup: float, duration: float, offset: int) -> dict:
    """``n`` clients posting one pair per request; what finished after ``warmup`` counts."""
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    counted = {"pairs": 0, "all": 0}
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + duration

    async def client(i: int, http: httpx.AsyncClient):
        k = offset + i
        while (now := time.perf_counter()) < stop_at:
            p, h = pairs[k % len(pairs)]
            k += n
            try:
                r = await http.post("/v1/infer", json={"premise": p, "hypothesis": h})
                ok, why = r.status_code == 200, f"{r.status_code}: {r.text[:200]}"
            except httpx.HTTPError as e:
                ok, why = False, f"{type(e).__name__}: {e}"
            counted["all"] += ok
            if now >= measure_from:
                latencies.append(time.perf_counter() - now)
                counted["pairs"] += ok
                if not ok:
                    errors.append(why)

    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        await asyncio.gather(*(client(i, http) for i in range(n)))
    return {"pairs": counted["pairs"], "all_pairs": counted["all"], "seconds": time.perf_counter() - measure_from,
            "latencies": latencies, "errors": errors}


class Server:
    """``kgnlu serve`` in a child process on a free local port."""

    def __init__(self, kg: Path, args):
        import httpx

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "kgnlu.cli.main", "serve", "--kg", str(kg), "--port", str(self.port),
               "--threads", str(args.threads), "--batch-size", str(args.batch_size),
               "--batch-wait-ms", str(args.batch_wait_ms), "--log-level", "warning"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"kgnlu serve exited: {self.proc.stderr.read()[-2000:]}")
            try:
                if httpx.get(self.base + "/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("kgnlu serve not ready in 300 s")
            time.sleep(0.2)

    def batching(self) -> dict:
        import httpx

        return httpx.get(self.base + "/v1/info").json()["batching"]["infer"]

    def peak_rss_mib(self) -> float:
        """Peak RSS (VmHWM) of the server and its engine process, added up."""
        import psutil

        total = 0
        for p in [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]:
            status = Path(f"/proc/{p.pid}/status").read_text()
            total += int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmHWM")))
        return total / 1024

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU seconds so far of the HTTP process and of its engine process."""
        import psutil

        main = psutil.Process(self.proc.pid)
        engine = sum(sum(c.cpu_times()[:2]) for c in main.children(recursive=True))
        return sum(main.cpu_times()[:2]), engine

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def measure(kg: Path, pairs, batch: int, args) -> tuple[dict, dict]:
    """In-process and served, in alternating rounds, so that both see the same load from
    whatever else runs on these cores."""
    local = InProcess(kg, pairs, batch, args.threads)
    server = Server(kg, args)
    try:
        asyncio.run(clients(server.base, pairs, args.clients, args.warmup, 0, 0))
        before = server.batching()
        per_round = args.duration / args.rounds
        lp = ls = sp = ss = every = 0.0
        latencies, errors = [], []
        cpu = {"in-process": 0.0, "http": 0.0, "engine": 0.0, "clients": 0.0}
        for r in range(args.rounds):
            t0 = time.process_time()
            a = local.run(per_round)
            t1 = time.process_time()
            h0, e0 = server.cpu_seconds()
            b = asyncio.run(clients(server.base, pairs, args.clients, 0.5, per_round, r * 7))
            h1, e1 = server.cpu_seconds()
            cpu["in-process"] += t1 - t0
            cpu["http"], cpu["engine"], cpu["clients"] = (cpu["http"] + h1 - h0, cpu["engine"] + e1 - e0,
                                                          cpu["clients"] + time.process_time() - t1)
            lp, ls, sp, ss = lp + a["pairs"], ls + a["seconds"], sp + b["pairs"], ss + b["seconds"]
            every += b["all_pairs"]
            latencies += b["latencies"]
            errors += b["errors"]
            print(f"round {r + 1}: in-process {a['pairs'] / a['seconds']:.1f}, served {b['pairs'] / b['seconds']:.1f} "
                  "pairs/s", file=sys.stderr)
        after = server.batching()
        latencies.sort()
        q = statistics.quantiles(latencies, n=100)
        remote = {"pairs_per_s": sp / ss, "p50_ms": 1000 * q[49], "p99_ms": 1000 * q[98], "requests": len(latencies),
                  "errors": len(errors), "error_examples": errors[:3], "peak_rss_mib": server.peak_rss_mib(),
                  "mean_batch": (after["items"] - before["items"]) / max(1, after["batches"] - before["batches"]),
                  "cpu_ms": {"in-process": 1000 * cpu["in-process"] / lp,
                             **{k: 1000 * cpu[k] / every for k in ("engine", "http", "clients")}}}
    finally:
        server.stop()
    return {"pairs_per_s": lp / ls}, remote


def update_section(path: Path, name: str, text: str) -> None:
    """Write ``text`` as section ``name`` of ``path``, keeping the sections other scripts wrote."""
    begin, end = f"<!-- {name} -->\n", f"<!-- /{name} -->\n"
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    block = begin + text + end
    if begin in old and end in old:
        new = old[:old.index(begin)] + block + old[old.index(end) + len(end):]
    else:
        new = old + ("\n" if old else "") + block
    path.write_text(new, encoding="utf-8")


def ingest_demo(tmp: Path) -> Path:
    kg = tmp / "kg"
    subprocess.run([sys.executable, "-m", "kgnlu.cli.main", "ingest", str(REPO / "ontologies" / "demo" / "food.ttl"),
                    "--kg", str(kg), "--quiet"], check=True, stdout=subprocess.DEVNULL)
    return kg


def render(args, kg_desc: str, pairs_desc: str, local: dict, remote: dict, batch: int, argv: list[str]) -> str:
    ratio = remote["pairs_per_s"] / local["pairs_per_s"]
    verdict = "met" if ratio >= 0.8 and remote["errors"] == 0 else "missed"
    lines = [
        "## Throughput", "",
        f"{date.today().isoformat()}; {os.cpu_count()} cores ({platform.processor() or platform.machine()}), shared with other "
        f"work; torch threads: {args.threads}; KG: {kg_desc}; pairs: {pairs_desc}.",
        f"Command: `python {' '.join(shlex.quote(a) for a in argv)}`", "",
        f"Server: `kgnlu serve --threads {args.threads} --batch-size {args.batch_size} --batch-wait-ms "
        f"{args.batch_wait_ms}`, one worker; {args.clients} concurrent httpx clients (one asyncio process on the "
        f"same cores), one pair per request, {args.duration:g} s measured in {args.rounds} rounds alternating with the in-process ones, after {args.warmup:g} s of warm-up. "
        f"In-process: `Engine.infer_many` in chunks of {batch} pairs for {args.duration:g} s in all.", "",
        "| | pairs/s | p50 ms | p99 ms | errors | peak RSS MiB | mean batch |",
        "|---|---|---|---|---|---|---|",
        f"| in-process `Engine.infer_many` | {local['pairs_per_s']:.1f} | | | | | {batch} |",
        f"| served, {args.clients} clients | {remote['pairs_per_s']:.1f} | {remote['p50_ms']:.0f} | {remote['p99_ms']:.0f} "
        f"| {remote['errors']} of {remote['requests']} | {remote['peak_rss_mib']:.0f} | {remote['mean_batch']:.1f} |", "",
        f"Served / in-process: **{ratio:.0%}** (target 80%: {verdict}).", "",
        "CPU milliseconds per pair: in-process {in-process:.2f}; served: engine process {engine:.2f}, HTTP process "
        "{http:.2f}, httpx clients {clients:.2f}.".format(**remote["cpu_ms"]),
    ]
    if remote["error_examples"]:
        lines += ["", "Errors, first few: " + "; ".join(f"`{e}`" for e in remote["error_examples"])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kg", type=Path, help="KG directory (default: the demo ontology ingested into a temp dir)")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=4, help="alternations of in-process and served phases")
    ap.add_argument("--pairs", type=int, default=256)
    ap.add_argument("--threads", type=int, default=max(1, len(os.sched_getaffinity(0)) - 1),
                    help="torch threads, in-process and in the server (default: kgnlu serve's)")
    ap.add_argument("--batch-size", type=int, default=32, help="the server's --batch-size")
    ap.add_argument("--batch-wait-ms", type=float, default=10.0, help="the server's --batch-wait-ms")
    ap.add_argument("--batch", type=int, help="in-process chunk (default: min(clients, batch size))")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "serve.md")
    args = ap.parse_args(argv)
    batch = args.batch or min(args.clients, args.batch_size)
    pairs, pairs_desc = load_pairs(args.pairs)
    with tempfile.TemporaryDirectory() as tmp:
        kg = args.kg or ingest_demo(Path(tmp))
        kg_desc = f"`{args.kg}`" if args.kg else "the demo ontology (ontologies/demo/food.ttl)"
        local, remote = measure(kg, pairs, batch, args)
    text = render(args, kg_desc, pairs_desc, local, remote, batch, ["bench/serve.py", *(argv or sys.argv[1:])])
    update_section(args.out, "throughput", text)
    print(text)


if __name__ == "__main__":
    main()

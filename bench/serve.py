"""Service benchmark: ``kgnlu serve`` under concurrent clients against ``Engine.infer_many`` in-process.

1. In-process: ``Engine.infer_many`` over the pairs in chunks of the batch the service formed
   (``--batch`` if given, else the clients' count capped by ``--batch-size``), for ``--duration``
   seconds after a warm-up: pairs/s.
2. Served: ``kgnlu serve`` in a child process on 127.0.0.1 (same KG, same torch threads),
   ``--clients`` concurrent httpx clients posting to ``/v1/infer``, for ``--duration`` seconds
   after a warm-up, twice: one pair per request (the row the target is judged on), then
   ``--per-request`` pairs per request (a list, as a QA backend sending its candidate answers
   would): pairs/s, p50/p99 latency per request, errors (any non-200 or transport error), the
   server's peak RSS (VmHWM) and its mean batch (``/v1/info``).

The three take turns in rounds, and the 1-minute load average is read after each. The ratio
served / in-process is what HTTP, JSON, the clients (on the same cores) and the micro-batcher's
wait cost; the CPU time per pair of each process says where it goes. Pairs: short SNLI dev pairs from ``../shared/realdata/nli/snli_dev.jsonl``
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


def bodies(pairs, per_request: int) -> list[bytes]:
    """The request bodies, encoded once: one pair (an object) or ``per_request`` pairs (a list)."""
    items = [{"premise": p, "hypothesis": h} for p, h in pairs]
    if per_request == 1:
        return [json.dumps(x).encode() for x in items]
    return [json.dumps([items[(i + j) % len(items)] for j in range(per_request)]).encode()
            for i in range(0, len(items), per_request)]


def run_async(coro):
    """``asyncio.run`` on uvloop where it is installed (it is, with ``uvicorn[standard]``): the
    clients share the cores with the server, so their event loop should cost little."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


async def clients(base: str, body_list: list[bytes], per_request: int, n: int, warmup: float, duration: float,
                  offset: int) -> dict:
    """``n`` clients, each an ``httpx.AsyncClient`` with one keep-alive connection, posting the bodies
    in turn; what finished after ``warmup`` counts. One client each rather than one pool of ``n``
    connections: httpcore's pool looks at every connection of the pool on every request."""
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    counted = {"pairs": 0, "all": 0}
    headers = {"content-type": "application/json"}

    async def client(i: int, http: httpx.AsyncClient):
        k = offset + i
        built: dict[int, httpx.Request] = {}  # each request built once, and sent again when its turn comes
        while (now := time.perf_counter()) < stop_at:
            j = k % len(body_list)
            k += n
            if j not in built:
                built[j] = http.build_request("POST", "/v1/infer", content=body_list[j], headers=headers)
            try:
                r = await http.send(built[j])
                ok, why = r.status_code == 200, f"{r.status_code}: {r.text[:200]}"
            except httpx.HTTPError as e:
                ok, why = False, f"{type(e).__name__}: {e}"
            counted["all"] += per_request * ok
            if now >= measure_from:
                latencies.append(time.perf_counter() - now)
                counted["pairs"] += per_request * ok
                if not ok:
                    errors.append(why)

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    https = [httpx.AsyncClient(base_url=base, timeout=60, limits=limits, verify=False) for _ in range(n)]
    cpu0, start = time.process_time(), time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + duration
    await asyncio.gather(*(client(i, http) for i, http in enumerate(https)))
    cpu = time.process_time() - cpu0
    for http in https:
        await http.aclose()
    return {"pairs": counted["pairs"], "all_pairs": counted["all"], "seconds": time.perf_counter() - measure_from,
            "latencies": latencies, "errors": errors, "cpu": cpu}


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


def measure(kg: Path, pairs, batch: int, args) -> tuple[dict, dict[str, dict], list[float]]:
    """In-process and served (one pair per request, then ``--per-request`` pairs), in alternating
    rounds, so that all see the same load from whatever else runs on these cores."""
    local = InProcess(kg, pairs, batch, args.threads)
    server = Server(kg, args)
    rows = {"one": 1, "many": args.per_request}
    loads = [os.getloadavg()[0]]
    try:
        for per_request in rows.values():
            run_async(clients(server.base, bodies(pairs, per_request), per_request, args.clients, args.warmup, 0, 0))
        per_round = args.duration / args.rounds
        lp = ls = lcpu = 0.0
        acc = {row: {"pairs": 0, "seconds": 0.0, "all": 0, "latencies": [], "errors": [], "items": 0, "batches": 0,
                     "http": 0.0, "engine": 0.0, "clients": 0.0} for row in rows}
        for r in range(args.rounds):
            t0 = time.process_time()
            a = local.run(per_round)
            lcpu += time.process_time() - t0
            lp, ls = lp + a["pairs"], ls + a["seconds"]
            line = [f"round {r + 1}: in-process {a['pairs'] / a['seconds']:.1f}"]
            for row, per_request in rows.items():
                before, (h0, e0) = server.batching(), server.cpu_seconds()
                b = run_async(clients(server.base, bodies(pairs, per_request), per_request, args.clients, 0.5,
                                      per_round, r * 7))
                after, (h1, e1) = server.batching(), server.cpu_seconds()
                x = acc[row]
                x["pairs"] += b["pairs"]
                x["seconds"] += b["seconds"]
                x["all"] += b["all_pairs"]
                x["latencies"] += b["latencies"]
                x["errors"] += b["errors"]
                x["items"] += after["items"] - before["items"]
                x["batches"] += after["batches"] - before["batches"]
                x["http"], x["engine"], x["clients"] = x["http"] + h1 - h0, x["engine"] + e1 - e0, x["clients"] + b["cpu"]
                line.append(f"served ({per_request} a request) {b['pairs'] / b['seconds']:.1f}")
            loads.append(os.getloadavg()[0])
            print(", ".join(line) + f" pairs/s; load {loads[-1]:.2f}", file=sys.stderr)
        remote = {}
        for row, x in acc.items():
            q = statistics.quantiles(sorted(x["latencies"]), n=100)
            remote[row] = {"per_request": rows[row], "pairs_per_s": x["pairs"] / x["seconds"], "p50_ms": 1000 * q[49],
                           "p99_ms": 1000 * q[98], "requests": len(x["latencies"]), "errors": len(x["errors"]),
                           "error_examples": x["errors"][:3], "mean_batch": x["items"] / max(1, x["batches"]),
                           "cpu_ms": {k: 1000 * x[k] / max(1, x["all"]) for k in ("engine", "http", "clients")}}
        rss = server.peak_rss_mib()
        for x in remote.values():
            x["peak_rss_mib"] = rss
    finally:
        server.stop()
    return {"pairs_per_s": lp / ls, "cpu_ms": 1000 * lcpu / lp}, remote, loads


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


def render(args, kg_desc: str, pairs_desc: str, local: dict, remote: dict[str, dict], batch: int, loads: list[float],
           argv: list[str]) -> str:
    one, many = remote["one"], remote["many"]
    ratio = one["pairs_per_s"] / local["pairs_per_s"]
    verdict = "met" if ratio >= 0.8 and one["errors"] == 0 else "missed"
    lines = [
        "## Throughput", "",
        f"{date.today().isoformat()}; {os.cpu_count()} cores ({platform.processor() or platform.machine()}), shared with other "
        f"work: 1-minute load average {min(loads):.2f} to {max(loads):.2f} (before the run and after each round; it counts this benchmark's own processes); "
        f"torch threads: {args.threads}; KG: {kg_desc}; pairs: {pairs_desc}.",
        f"Command: `python {' '.join(shlex.quote(a) for a in argv)}`", "",
        f"Server: `kgnlu serve --threads {args.threads} --batch-size {args.batch_size} --batch-wait-ms "
        f"{args.batch_wait_ms:g}`, one worker. Clients: {args.clients} concurrent `httpx.AsyncClient`s, one keep-alive "
        f"connection each, in one asyncio process (uvloop) on the same cores, each request built once and sent again in turn. "
        f"Each row {args.duration:g} s measured in {args.rounds} rounds, the three rows taking turns, after "
        f"{args.warmup:g} s of warm-up. In-process: `Engine.infer_many` in chunks of {batch} pairs.", "",
        "| | pairs/s | of in-process | p50 ms | p99 ms | errors | peak RSS MiB | mean batch |",
        "|---|---|---|---|---|---|---|---|",
        f"| in-process `Engine.infer_many` | {local['pairs_per_s']:.1f} | | | | | | {batch} |",
    ]
    for x, what in ((one, "one pair per request"), (many, f"{many['per_request']} pairs per request (a list)")):
        lines.append(f"| served, {args.clients} clients, {what} | {x['pairs_per_s']:.1f} | "
                     f"{x['pairs_per_s'] / local['pairs_per_s']:.0%} | {x['p50_ms']:.0f} | {x['p99_ms']:.0f} | "
                     f"{x['errors']} of {x['requests']} | {x['peak_rss_mib']:.0f} | {x['mean_batch']:.1f} |")
    lines += ["", f"One pair per request, served / in-process: **{ratio:.0%}** (target 80%: {verdict}).", "",
              f"CPU milliseconds per pair: in-process {local['cpu_ms']:.2f}; served, one pair per request: "
              "engine process {engine:.2f}, HTTP process {http:.2f}, httpx clients {clients:.2f}; ".format(**one["cpu_ms"])
              + f"served, {many['per_request']} pairs per request: "
              "engine process {engine:.2f}, HTTP process {http:.2f}, httpx clients {clients:.2f}.".format(**many["cpu_ms"])]
    examples = one["error_examples"] + many["error_examples"]
    if examples:
        lines += ["", "Errors, first few: " + "; ".join(f"`{e}`" for e in examples)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kg", type=Path, help="KG directory (default: the demo ontology ingested into a temp dir)")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=4, help="alternations of in-process and served phases")
    ap.add_argument("--per-request", type=int, default=8, help="pairs per request of the second served row")
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
        local, remote, loads = measure(kg, pairs, batch, args)
    text = render(args, kg_desc, pairs_desc, local, remote, batch, loads, ["bench/serve.py", *(argv or sys.argv[1:])])
    update_section(args.out, "throughput", text)
    print(text)


if __name__ == "__main__":
    main()

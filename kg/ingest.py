"""``ingest`` and ``remove``: every write to a KG goes through here, inside one transaction.

A write loads sources into a staging copy of the quadstore, classifies the whole KG, checks it is
consistent, rebuilds the closure tables and the lexicon, and only then publishes the new
generation (see ``kg.kgdir``). Whatever goes wrong before publishing leaves the KG as it was.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from kgnlu.progress import StageCallback
from . import formats, lexicon, reasoner, sparql_copy, sparql_store
from .errors import InputError
from .imports import ImportResolver
from .kgdir import KGDir, empty_manifest, manifest_hash, write_manifest, QUADSTORE, TABLES
from .ntriples import term
from .owlready_store import OwlreadyStore
from .store import TripleStore, check_source_name
from .tables import ClosureTables
from .tables_build import build_tables
from .vocab import (
    ANNOTATED_SOURCE, ANNOTATED_TARGET, CLASS, COMPLEMENT_OF, ON_PROPERTY, OWL, RDF, RDF_TYPE, RDFS, SOME_VALUES_FROM,
    SUBCLASS_OF,
)

# The source ``kgnlu extract --add-to-kg`` writes into (``kgnlu.tasks.re_writeback.SOURCE`` is this name):
# axioms about other sources' classes, which ``remove`` drops once no other source has those classes.
EXTRACTED_SOURCE = "extracted"


class _Unchanged(Exception):
    """Raised inside a transaction to abandon it: the write would change nothing."""


def _noop(_: str) -> None:
    pass


def default_name(path: Path) -> str:
    name = Path(path).name
    for suffix in (".gz", ".owl", ".rdf", ".xml", ".owx", ".ttl", ".nt", ".jsonld", ".json", ".obo"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in name).strip("-.") or "source"
    return cleaned[:100]


def _distinct_names(paths: list[Path], name: str | None) -> list[str]:
    """The source name of each path; refuses two paths that would share one (the second would
    silently replace the first)."""
    if name is not None:
        return [check_source_name(name)]
    names: dict[str, Path] = {}
    for p in paths:
        n = default_name(p)
        if n in names:
            same = names[n].resolve() == p.resolve()
            what = f"{p} is given twice" if same else f"{names[n]} and {p} would both be source {n!r}"
            raise InputError(f"{what}; give files with distinct names (--name applies to one file only)")
        names[n] = p
    return list(names)


def ingest(paths: Sequence[Path], kg_dir: Path, fmt: str | None = None, reasoner_name: str | None = None,
           name: str | None = None, imports_dir: Path | None = None, progress: StageCallback = _noop,
           store_url: str | None = None, origin: str | None = None) -> dict:
    """Ingest ``paths`` into the KG at ``kg_dir``; returns a report (dict of plain values).

    ``reasoner_name``: None reuses the reasoner the KG records as requested (as ``remove`` does),
    else ``auto`` for a new KG. A failed first ingest removes the directory it created.

    ``store_url``: keep the triples in that SPARQL 1.1 store (``kg.sparql_store``) instead of the
    embedded quadstore; the first ingest records it, later writes go to the recorded store.
    ``origin``: what the manifest records as the source's path instead of the file's own, for a
    file written only to be ingested (a temporary one, gone once the ingest returns); one path."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("no file to ingest")
    if name is not None and len(paths) > 1:
        raise InputError("--name applies to one file; give one path or drop --name")
    names = _distinct_names(paths, name)  # before anything is written: a name becomes a file name
    if origin is not None and len(paths) > 1:
        raise InputError("an origin names one file; give one path")
    fmt = formats.normalise_format(fmt)
    if reasoner_name is not None and reasoner_name not in reasoner.REASONERS:
        raise InputError(f"unknown --reasoner {reasoner_name!r}; choose one of {', '.join(reasoner.REASONERS)}")
    if imports_dir is not None and not Path(imports_dir).is_dir():
        raise InputError(f"--imports {imports_dir}: not a directory")
    for p in paths:
        formats.check_file(p)  # fail fast on a missing or unreadable file, before taking the lock
    resolver = ImportResolver(imports_dir)  # reads the directory's catalog, if any: a bad one fails here
    kg = KGDir(kg_dir)
    report: dict = {"kg": str(kg.root), "sources": [], "changed": False}
    timings: dict[str, float] = {}
    created = _missing_dirs(kg.root)
    lock_existed = (kg.root / ".lock").exists()
    try:
        with kg.transaction() as staging:
            manifest = _read_manifest(staging)
            recorded = _recorded_reasoner(manifest)
            requested = reasoner_name or recorded or "auto"
            store = sparql_store.open_for_write(manifest, store_url, kg.root) or OwlreadyStore(staging / QUADSTORE)
            try:
                todo = [(p, n, origin) for p, n in zip(paths, names)]
                seen = {p.resolve() for p in paths}  # each file is loaded once, however often imported
                loaded: dict[str, Path] = {}
                while todo:
                    path, src_name, src_origin = todo.pop(0)
                    entry = _load_one(store, manifest, path, src_name, fmt, staging, progress, timings, src_origin,
                                      loaded)
                    report["sources"].append(entry)
                    for iri in entry.get("imports", []):
                        local = resolver.resolve(iri)
                        if local is None:
                            entry.setdefault("imports_not_fetched", []).append(iri)
                            continue
                        entry.setdefault("imports_resolved", {})[iri] = str(local)
                        if local.resolve() not in seen:
                            seen.add(local.resolve())
                            todo.append((local, default_name(local), None))
                # An explicit reasoner other than the one the KG was built with re-reasons it, even
                # when no source changed; none given (or the same one) leaves an unchanged KG alone.
                rereason = reasoner_name is not None and bool(manifest["sources"]) and reasoner_name != recorded
                if not rereason and not any(e["status"] in ("added", "replaced") for e in report["sources"]):
                    raise _Unchanged
                if any(e["status"] == "replaced" for e in report["sources"]):  # a new version may lack a class
                    report["extracted_dropped_axioms"], _ = _drop_orphaned_extracted(store, manifest, staging)
                store.commit()
                _classify_and_tabulate(store, manifest, staging, requested, progress, timings)
                report["changed"] = True
            finally:
                store.close()
            manifest["timings"] = timings
            if "store" in manifest:
                manifest["store"] = store.describe()
            write_manifest(staging, manifest)
            report["manifest"] = manifest
        sparql_store.collect_after_publish(manifest)
    except _Unchanged:
        report["manifest"] = kg.current().manifest() if kg.exists else empty_manifest()
    except BaseException:
        if not kg.exists:
            _undo_first_write(kg.root, created, lock_existed)
        raise
    report["timings"] = timings
    return report


def _recorded_reasoner(manifest: dict) -> str | None:
    """The reasoner the KG was last asked for (``--reasoner``, ``auto`` included); None for a new KG."""
    return (manifest.get("reasoner") or {}).get("requested")


def _missing_dirs(root: Path) -> list[Path]:
    """``root`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    p = root.absolute()
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    return missing


def _undo_first_write(root: Path, created: list[Path], lock_existed: bool) -> None:
    """After a failed first ingest, leave the file system as it was: drop the ``.lock`` this write
    made, then the directories it made, each only if empty (another writer's files stay)."""
    try:
        if not lock_existed and [p.name for p in root.iterdir()] == [".lock"]:
            (root / ".lock").unlink()
    except OSError:
        return
    for d in created:
        try:
            d.rmdir()
        except OSError:
            if d.exists():
                return


def remove(source: str, kg_dir: Path, progress: StageCallback = _noop) -> dict:
    """Remove one source and everything inferred from it (the KG is re-classified without it), and the
    relations ``extract --add-to-kg`` wrote about its classes, once no other source has them (the
    report's ``extracted_dropped``)."""
    kg = KGDir(kg_dir)
    current = kg.current()  # raises a clean error when there is no KG
    if source not in current.manifest()["sources"]:
        known = ", ".join(sorted(current.manifest()["sources"])) or "none"
        raise InputError(f"no source named {source!r} in {kg.root}; known: {known}")
    timings: dict[str, float] = {}
    with kg.transaction() as staging:
        manifest = _read_manifest(staging)
        store = sparql_store.open_for_write(manifest, None, kg.root) or OwlreadyStore(staging / QUADSTORE)
        try:
            progress(f"removing {source}")
            t0 = time.perf_counter()
            removed = store.remove_source(source)
            dropped, left = _drop_orphaned_extracted(store, manifest, staging)
            if "store" in manifest:
                manifest["store"] = store.describe()
            else:
                _vacuum(store)
            del manifest["sources"][source]
            timings["remove"] = round(time.perf_counter() - t0, 3)
            _classify_and_tabulate(store, manifest, staging, _recorded_reasoner(manifest) or "auto", progress, timings)
        finally:
            store.close()
        manifest["timings"] = timings
        write_manifest(staging, manifest)
    sparql_store.collect_after_publish(manifest)
    return {"kg": str(kg.root), "removed": source, "triples_removed": removed, "manifest": manifest, "timings": timings,
            "extracted_dropped": len(dropped), "extracted_dropped_axioms": dropped, "extracted_left": left}


def _extracted_axioms(triples: set) -> list[tuple[dict, set]]:
    """The axioms ``kgnlu extract --add-to-kg`` wrote, each as (what it states, its own triples): the
    ``owl:Axiom`` annotation, ``S rdfs:subClassOf T`` and T's restriction (and complement), where T is
    O (is_a), ``[owl:onProperty p; owl:someValuesFrom O]`` or ``[owl:complementOf that]``. An axiom of
    another shape is left out (so never dropped)."""
    by_s: dict[str, list] = defaultdict(list)
    for t in triples:
        by_s[t[0]].append(t)

    def one(node, p):
        return next((o for _, q, o in by_s.get(node, ()) if q == p), None)

    out = []
    for a in [s for s, p, o in triples if p == RDF_TYPE and o == OWL + "Axiom"]:
        s, target = one(a, ANNOTATED_SOURCE), one(a, ANNOTATED_TARGET)
        if not isinstance(s, str) or not isinstance(target, str) or (s, SUBCLASS_OF, target) not in triples:
            continue
        own = {*by_s[a], (s, SUBCLASS_OF, target)}
        prop, obj, negated = SUBCLASS_OF, target, False  # is_a
        if target.startswith("_:"):
            restriction = target
            own.update(by_s.get(target, ()))
            if (inner := one(target, COMPLEMENT_OF)) is not None:
                negated, restriction = True, inner
                own.update(by_s.get(inner, ()))
            prop, obj = one(restriction, ON_PROPERTY), one(restriction, SOME_VALUES_FROM)
        if not all(isinstance(x, str) and not x.startswith("_:") for x in (s, prop, obj)):
            continue
        out.append(({"subject": s, "property": prop, "object": obj, "negated": negated}, own))
    return out


def _drop_orphaned_extracted(store: TripleStore, manifest: dict, staging: Path) -> tuple[list[dict], int]:
    """Drop the extracted axioms whose subject, property or object no source but ``extracted``
    mentions any more (its own ``owl:Class`` declarations aside, nothing else in the KG says what the
    IRI is); returns them and how many extracted axioms stay. A source left with none is removed."""
    if EXTRACTED_SOURCE not in store.sources():  # none, or the one just removed
        return [], 0
    triples = set(store.triples(source=EXTRACTED_SOURCE))
    axioms = _extracted_axioms(triples)
    others = [s for s in store.sources() if s != EXTRACTED_SOURCE]
    known: dict[str, bool] = {}

    def kept(x: str) -> bool:
        if x.startswith((OWL, RDF, RDFS)):
            return True
        if x not in known:
            known[x] = any(any(True for _ in store.triples(**{where: x}, source=src))
                           for src in others for where in ("s", "o"))
        return known[x]

    dropped = [(d, own) for d, own in axioms if not all([kept(d["subject"]), kept(d["property"]), kept(d["object"])])]
    if not dropped:
        return [], len(axioms)
    gone = {x for x, k in known.items() if not k}
    drop = set().union(*(own for _, own in dropped))
    rest = [t for t in triples if t not in drop and not (t[1] == RDF_TYPE and t[0] in gone)]
    store.remove_source(EXTRACTED_SOURCE)
    if source_gone := not any(p == RDF_TYPE and o == OWL + "Axiom" for _, p, o in rest):
        del manifest["sources"][EXTRACTED_SOURCE]  # what stays is its ontology header
    else:
        data = "".join(sorted(f"{term(s)} {term(p)} {term(o)} .\n" for s, p, o in rest)).encode("utf-8")
        path = staging / f"{EXTRACTED_SOURCE}.normalised.nt"
        try:
            path.write_bytes(data)
            n = store.load_ntriples(EXTRACTED_SOURCE, path)
        finally:
            path.unlink(missing_ok=True)
        manifest["sources"][EXTRACTED_SOURCE].update(triples=n, sha256=hashlib.sha256(data).hexdigest())
    return [d for d, _ in dropped], 0 if source_gone else len(axioms) - len(dropped)


def _vacuum(store: OwlreadyStore) -> None:
    """Forget IRIs no source uses any more; keep owlready2's reserved built-ins (storid <= 300)
    and the datatypes of the literals that remain (datas.d), or those would lose their type."""
    store.db.execute("DELETE FROM resources WHERE storid > 300 AND storid NOT IN (SELECT s FROM objs "
                     "UNION SELECT p FROM objs UNION SELECT o FROM objs UNION SELECT s FROM datas "
                     "UNION SELECT p FROM datas UNION SELECT d FROM datas WHERE typeof(d) = 'integer')")
    store.commit()
    store.db.execute("VACUUM")


def _read_manifest(staging: Path) -> dict:
    from .kgdir import Generation

    return Generation(staging).manifest()


def _load_one(store: OwlreadyStore, manifest: dict, path: Path, src_name: str, fmt: str | None, staging: Path,
              progress: StageCallback, timings: dict, origin: str | None = None,
              loaded: dict[str, Path] | None = None) -> dict:
    """``loaded``: the sources this write has loaded so far, by name; one more under the same name
    (an import named like a file given) is refused rather than replacing it."""
    check_source_name(src_name)  # it names a file in the staging directory
    raw = formats.read_file(path)  # read once: hashed here, parsed below
    digest = hashlib.sha256(raw).hexdigest()
    known = manifest["sources"]
    for other, info in known.items():
        if info["sha256"] == digest:
            return {"name": other, "path": origin or str(path), "status": "unchanged", "sha256": digest}
    if loaded is not None:
        if src_name in loaded:
            raise InputError(f"{loaded[src_name]} and {path} would both be source {src_name!r}; "
                             "give files with distinct names")
        loaded[src_name] = path
    status = "added"
    if src_name in known:
        progress(f"replacing {src_name}")
        store.remove_source(src_name)
        del known[src_name]
        status = "replaced"
    progress(f"parsing {path.name}")
    t0 = time.perf_counter()
    nt = staging / f"{src_name}.normalised.nt"
    try:
        norm = formats.to_ntriples(path, nt, fmt, raw)
        timings[f"parse:{src_name}"] = round(time.perf_counter() - t0, 3)
        progress(f"loading {src_name} into the quadstore")
        t0 = time.perf_counter()
        n = store.load_ntriples(src_name, nt)
        timings[f"load:{src_name}"] = round(time.perf_counter() - t0, 3)
    finally:
        nt.unlink(missing_ok=True)
    entry = {
        "name": src_name, "path": origin or str(Path(path).resolve()), "sha256": digest, "format": norm.format,
        "format_from": norm.format_from, "triples": n, "imports": norm.imports,
        "ontology_iri": store.declared_ontology_iri(src_name),
        "ingested_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    known[src_name] = entry
    return {**entry, "status": status}


def _classify_and_tabulate(store: OwlreadyStore, manifest: dict, staging: Path, requested: str,
                           progress: StageCallback, timings: dict) -> None:
    n_triples = store.count()
    n_classes = sum(1 for _ in store.triples(p=RDF_TYPE, o=CLASS))
    chosen, why = reasoner.choose(requested, n_triples, n_classes)
    progress(f"reasoning ({chosen})")
    t0 = time.perf_counter()
    inference = reasoner.run(chosen, store, staging, chosen_by=why)
    timings["reason"] = round(time.perf_counter() - t0, 3)

    progress("extracting the lexicon")
    t0 = time.perf_counter()
    entries, labels, definitions = lexicon.extract(store)
    timings["lexicon"] = round(time.perf_counter() - t0, 3)

    progress("materialising closure tables")
    t0 = time.perf_counter()
    manifest["reasoner"] = {"name": chosen, "requested": requested, "why": why, "seconds": inference.seconds}
    mhash = manifest_hash(manifest)
    counts = build_tables(store, inference, staging / TABLES, mhash, labels)
    counts.update(lexicon.write(staging / TABLES, entries, definitions))
    timings["tables"] = round(time.perf_counter() - t0, 3)

    unsat = counts.pop("unsatisfiable")
    if chosen != "none":
        tables = ClosureTables(staging / TABLES)
        if unsat:
            raise reasoner.unsatisfiable_error(tables, unsat)
        # An individual of two disjoint classes: HermiT refuses it, the RL and structural closures do not.
        if clash := reasoner.clash_error(tables):
            raise clash

    if "store" not in manifest:  # a KG in a SPARQL store answers SPARQL there
        progress("building the SPARQL copy")
        t0 = time.perf_counter()
        sparql_copy.build(store, staging)
        timings["sparql"] = round(time.perf_counter() - t0, 3)
    counts["unsatisfiable"] = len(unsat)
    counts["triples"] = n_triples
    manifest["counts"] = counts
    manifest["hash"] = mhash

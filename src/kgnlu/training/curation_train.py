"""``kgnlu train curation``: learn which of the linker's candidates curators annotate
(``tasks.curation``) from documents annotated with concept mentions, in GSC+'s format.

Every figure it reports is cross-validated by document: a fold's documents are linked and scored
with statistics and weights learned from the other folds only. Inside the training folds, each
document's feature rows read priors and aliases from the *other* training documents (its own
counts subtracted), so that a row never sees its own labels, as a new document's never will.
The threshold is the highest of a fixed grid whose cross-validated F1 is within one gold mention's
worth (1/gold) of the best; the saved model is fitted on every document with it.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kgnlu.kg.ntriples import obo_iri
from kgnlu.neural.manifest import library_versions
from kgnlu.tasks.curation import FORMAT, AliasIndex, Candidate, Curator, Regression, Stats, keep_scored
from kgnlu.tasks.curation import norm_text
from kgnlu.types import InputError

THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
# HPO's top-level branches: the shipped model's roots (its concepts are HPO's).
HPO_ROOTS = tuple(obo_iri(f"HP:{n}") for n in
                  ("0000118", "0012823", "0000005", "0040279", "0031797", "0032443", "0032223"))


@dataclass
class AnnotatedDoc:
    pmid: str
    text: str
    mentions: list[tuple[int, int, str, str]] = field(default_factory=list)  # start, end, text, concept id


def read_annotated(path: str | Path) -> list[AnnotatedDoc]:
    """Blocks separated by a blank line: a document id line, the text on one line, then
    ``start<TAB>end<TAB>mention<TAB>concept id`` lines (GSC+ as PhenoTagger distributes it)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"annotated documents not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    docs, block = [], []
    for n, line in enumerate(text.split("\n") + [""], start=1):
        line = line.rstrip("\r")
        if line.strip():
            block.append((n, line))
            continue
        if block:
            docs.append(_block(block, path, len(docs)))
            block = []
    if not docs:
        raise InputError(f"{path}: no documents (expected blocks of id, text and mention lines)")
    return docs


def _block(block: list[tuple[int, str]], path: Path, i: int) -> AnnotatedDoc:
    if len(block) < 2:
        raise InputError(f"{path}:{block[0][0]}: block {i + 1} has no text line")
    doc = AnnotatedDoc(block[0][1].strip(), block[1][1])
    for n, line in block[2:]:
        where = f"{path}:{n}: block {i + 1} ({doc.pmid})"
        parts = line.split("\t")
        if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
            raise InputError(f"{where}: bad mention line {line!r} "
                             "(expected start, end, mention, concept id, tab-separated)")
        start, end = int(parts[0]), int(parts[1])
        if not 0 <= start < end <= len(doc.text):
            raise InputError(f"{where}: mention {start}-{end} is outside the {len(doc.text)}-character text")
        # Exact: every mention of GSC+ reads as its text does (case and spaces included), so a
        # difference means offsets counted otherwise (another encoding, a shifted text), and the
        # gold spans would silently point at other words.
        if doc.text[start:end] != parts[2]:
            raise InputError(f"{where}: mention {start}-{end} is {parts[2]!r} but the text there reads "
                             f"{doc.text[start:end]!r}")
        doc.mentions.append((start, end, parts[2], parts[3].strip()))
    return doc


def curie_iri(cid: str) -> str:
    """An OBO CURIE ("HP:0001250") as its PURL; an IRI as it is."""
    return cid if "://" in cid else obo_iri(cid)


class _Proposer:
    """What ``Linker.link_many`` needs of a curator to propose candidates: aliases, and keep all."""

    def __init__(self, stats: Stats, min_rate: float, roots: Sequence[str]):
        self._index = AliasIndex(stats.aliases(min_rate))
        self.roots = list(roots)

    def alias_spans(self, text: str) -> list[tuple[int, int, str]]:
        return self._index.spans(text)

    def keep(self, cands, features, nested: bool = True) -> list[bool]:
        return [True] * len(cands)


def _occurrences(text: str, surfaces: Sequence[str]) -> Counter:
    low = text.lower()
    out = Counter()
    for s in surfaces:
        if s in low:
            out[s] = len(re.findall(r"(?<!\w)" + re.escape(s) + r"(?!\w)", low))
    return out


class CurationData:
    """The documents, their gold, the linker's plain proposals and each document's counts."""

    def __init__(self, linker, docs: list[AnnotatedDoc], roots: Sequence[str], min_rate: float):
        self.linker, self.docs, self.roots, self.min_rate = linker, docs, list(roots), min_rate
        # A gold concept deprecated since is the one that replaces it (one that nothing replaces
        # stays as it is: no candidate can match it).
        self.gold = [{(s, e, linker.current_iri(iri) or iri) for s, e, iri in
                      ((s, e, curie_iri(c)) for s, e, _, c in d.mentions)} for d in docs]
        plain = linker.link_many([d.text for d in docs], modifiers=True, nested=True, forms=True)
        surfaces = sorted({d.text[s:e].lower() for d in docs for s, e, _, _ in d.mentions})
        self.doc_stats = []
        for d, gold, ms in zip(docs, self.gold, plain):
            st = Stats()
            for (s, e, iri), m in {(m.start, m.end, m.iri): m for m in ms}.items():
                hit = (s, e, iri) in gold
                st.concept_pred[iri] += 1
                st.concept_gold[iri] += hit
                t = norm_text(m.text)
                st.text_pred[t] += 1
                st.text_gold[t] += hit
            for s, e, iri in gold:
                st.alias.setdefault(d.text[s:e].lower(), Counter())[iri] += 1
            st.alias_seen = _occurrences(d.text, surfaces)
            self.doc_stats.append(st)
        self.features = linker.curation_features(_Proposer(Stats(), min_rate, self.roots))

    def pooled(self, idx: Sequence[int]) -> Stats:
        out = Stats()
        for i in idx:
            out.add(self.doc_stats[i])
        return out

    def candidates(self, i: int, stats: Stats) -> list[Candidate]:
        ms = self.linker.link_many([self.docs[i].text], modifiers=True, forms=True,
                                   curator=_Proposer(stats, self.min_rate, self.roots))[0]
        seen, out = set(), []
        for c in self.linker.curation_candidates(ms, self.linker.scope()):
            if (c.start, c.end, c.iri) not in seen:
                seen.add((c.start, c.end, c.iri))
                out.append(c)
        return out

    def training_rows(self, idx: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        pooled = self.pooled(idx)
        xs, ys = [], []
        for i in idx:
            own = Stats()
            own.add(pooled)
            own.add(self.doc_stats[i], -1)  # the document's own labels never reach its rows
            cands = self.candidates(i, own)
            if cands:
                xs.append(self.features.rows(cands, own))
                ys += [(c.start, c.end, c.iri) in self.gold[i] for c in cands]
        if not xs:
            raise InputError("the linker found no candidate mention in the training documents: nothing to learn "
                             "(does the KG hold the ontology they are annotated with?)")
        return np.vstack(xs), np.array(ys, dtype=np.float64)


def _prf(tp: int, pred: int, gold: int) -> dict:
    p = tp / pred if pred else 0.0
    r = tp / gold if gold else 0.0
    return {"p": round(p, 4), "r": round(r, 4), "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
            "tp": tp, "pred": pred, "gold": gold}


def cross_validate(data: CurationData, folds: int = 5, seed: int = 0, l2: float = 0.01,
                   progress: Callable[[str], None] = lambda _: None) -> dict:
    """Document folds (seeded shuffle): each fold scored by a model of the others. Returns P/R/F1
    at every threshold of ``THRESHOLDS`` (nested terms kept, as ``nested=True`` links), the
    candidates' own, the best threshold's with nested terms dropped (``flat``: as plain linking
    answers) and each document's kept ``(start, end, iri)`` at the best threshold, both ways."""
    n = len(data.docs)
    if n < folds or folds < 2:
        raise InputError(f"{n} documents cannot make {folds} folds (need at least 2 folds and a document each)")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    fold_of = {d: k % folds for k, d in enumerate(order)}
    scored: list[tuple[list[Candidate], np.ndarray, Stats]] = [([], np.zeros(0), Stats()) for _ in range(n)]
    for k in range(folds):
        progress(f"cross-validation fold {k + 1}/{folds}")
        train = [i for i in range(n) if fold_of[i] != k]
        x, y = data.training_rows(train)
        reg = Regression.fit(x, y, l2=l2)
        pooled = data.pooled(train)
        for i in (i for i in range(n) if fold_of[i] == k):
            if cands := data.candidates(i, pooled):
                scored[i] = (cands, reg.predict(data.features.rows(cands, pooled)), pooled)

    def kept(t: float, nested: bool = True) -> list[list[tuple[int, int, str]]]:
        return [sorted((c.start, c.end, c.iri) for c, k in
                       zip(cands, keep_scored(cands, p, t, st, data.features, nested)) if k)
                for cands, p, st in scored]

    def prf(rows) -> dict:
        tp = sum(len(set(r) & g) for r, g in zip(rows, data.gold))
        return _prf(tp, sum(map(len, rows)), sum(len(g) for g in data.gold))

    by_t = {t: prf(kept(t)) for t in THRESHOLDS}
    # A difference of less than one mention's worth of F1 is noise: of the thresholds that close to the
    # best, the highest keeps the fewest mentions the curators never annotated ("fall asleep": Falls).
    top, one_mention = max(v["f1"] for v in by_t.values()), 1 / max(1, sum(len(g) for g in data.gold))
    best = max(t for t in THRESHOLDS if by_t[t]["f1"] >= top - one_mention)
    every = [sorted({(c.start, c.end, c.iri) for c in cands}) for cands, _, _ in scored]
    return {"folds": folds, "seed": seed, "by_threshold": {str(t): v for t, v in by_t.items()},
            "threshold": best, "candidates": prf(every), "cv": by_t[best], "cv_flat": prf(kept(best, False)),
            "predictions": kept(best), "predictions_flat": kept(best, False)}


def train_curation(linker, path: Path, out: Path | None = None, folds: int = 5, seed: int = 0,
                   min_alias_rate: float = 0.3, l2: float = 0.01, roots: Sequence[str] = HPO_ROOTS,
                   command: str | None = None, progress: Callable[[str], None] = lambda _: None,
                   docs: list[AnnotatedDoc] | None = None) -> dict:
    """Cross-validate, then fit on every document and save in ``out`` (when given); ``docs``: the
    file's documents when the caller has read them already."""
    docs = read_annotated(path) if docs is None else docs
    progress(f"linking {len(docs)} documents")
    data = CurationData(linker, docs, roots, min_alias_rate)
    report = cross_validate(data, folds, seed, l2, progress)
    progress("fitting on every document")
    x, y = data.training_rows(range(len(docs)))
    reg = Regression.fit(x, y, l2=l2)
    config = {
        "format": FORMAT, "features": data.features.names, "roots": list(roots), "threshold": report["threshold"],
        "min_alias_rate": min_alias_rate, "l2": l2, "stats": data.pooled(range(len(docs))).to_json(),
        "training": {"data": str(path), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
                     "documents": len(docs), "mentions": sum(len(g) for g in data.gold), "rows": len(y),
                     "linking": {**linker.mode, "forms": True, "nested": True}, "command": command,
                     "versions": library_versions(),
                     "cross_validation": {k: v for k, v in report.items() if not k.startswith("predictions")}},
    }
    curator = Curator(config, reg)
    if out is not None:
        curator.save(Path(out))
    return {**report, "curator": curator, "rows": len(y)}

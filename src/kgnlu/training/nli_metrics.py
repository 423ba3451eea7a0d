"""Scores of NLI predictions: accuracy, macro-F1, confusion, reliability (ECE) and temperature
scaling. Shared by training (dev scores), evaluation and the benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kgnlu.labels import LABEL2ID, LABELS

ECE_BINS = 15


def classification_metrics(gold: Sequence[str], probs: np.ndarray, labels: Sequence[str] = LABELS) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix
    (rows: gold, columns: predicted, both in ``labels`` order: ``kgnlu.labels.LABELS``, or
    ``BINARY_LABELS`` with ``probs`` from ``to_binary``)."""
    index = {name: i for i, name in enumerate(labels)}
    y = np.array([index[g] for g in gold], dtype=np.int64)
    pred = np.asarray(probs).argmax(-1) if len(y) else np.zeros(0, np.int64)
    k = len(labels)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    per_class = {}
    for i, name in enumerate(labels):
        tp, fp, fn = cm[i, i], cm[:, i].sum() - cm[i, i], cm[i, :].sum() - cm[i, i]
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        per_class[name] = {"precision": float(p), "recall": float(r), "f1": float(2 * p * r / (p + r)) if p + r else 0.0,
                           "support": int(cm[i, :].sum())}
    return {"n": int(len(y)), "accuracy": float((pred == y).mean()) if len(y) else 0.0,
            "macro_f1": float(np.mean([c["f1"] for c in per_class.values()])), "per_class": per_class,
            "confusion": {"labels": list(labels), "rows": "gold", "columns": "predicted", "matrix": cm.tolist()}}


def to_binary(probs: np.ndarray) -> np.ndarray:
    """``(n, 3)`` probabilities in ``LABELS`` order as ``(n, 2)``: entailment, and not (neutral +
    contradiction), the columns of ``BINARY_LABELS``."""
    probs = np.asarray(probs, dtype=np.float64)
    e = LABEL2ID["entailment"]
    return np.stack([probs[:, e], probs.sum(-1) - probs[:, e]], axis=-1) if len(probs) else np.zeros((0, 2))


def binary_gold(gold: Sequence[str]) -> list[str]:
    """Gold labels as ``BINARY_LABELS``: neutral and contradiction are not entailment."""
    return [g if g == "entailment" else "not_entailment" for g in gold]


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _nll(logits: np.ndarray, labels: np.ndarray, t: float) -> float:
    return float(-log_softmax(logits / t)[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: Sequence[int] | np.ndarray, lo: float = 0.05, hi: float = 20.0) -> float:
    """The temperature ``T`` minimising the NLL of ``softmax(logits / T)``: a log-spaced grid,
    then golden-section refinement around its best point (deterministic, no optimiser state).

    ``logits`` may be log-probabilities (what a mixture such as the fused model gives)."""
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        return 1.0
    grid = np.exp(np.linspace(np.log(lo), np.log(hi), 121))
    losses = [_nll(logits, labels, t) for t in grid]
    i = int(np.argmin(losses))
    a, b = np.log(grid[max(0, i - 1)]), np.log(grid[min(len(grid) - 1, i + 1)])
    phi = (np.sqrt(5) - 1) / 2
    for _ in range(40):
        c, d = b - phi * (b - a), a + phi * (b - a)
        if _nll(logits, labels, np.exp(c)) <= _nll(logits, labels, np.exp(d)):
            b = d
        else:
            a = c
    return float(np.exp((a + b) / 2))


def reliability(probs: np.ndarray, labels: Sequence[int] | np.ndarray, bins: int = ECE_BINS) -> dict:
    """Expected calibration error over ``bins`` equal-width confidence bins, and the bins."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    conf = probs.max(-1) if len(labels) else np.zeros(0)
    correct = (probs.argmax(-1) == labels) if len(labels) else np.zeros(0, bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        m = which == b
        n = int(m.sum())
        acc = float(correct[m].mean()) if n else 0.0
        cf = float(conf[m].mean()) if n else 0.0
        ece += n / max(1, len(labels)) * abs(acc - cf)
        rows.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "count": n, "accuracy": acc, "confidence": cf})
    return {"ece": float(ece), "bins": rows}


def ece_floor(probs: np.ndarray, bins: int = ECE_BINS, draws: int = 200, seed: int = 0) -> dict:
    """The ECE a perfectly calibrated model with these answers would show on this many pairs: labels
    drawn from ``probs`` themselves, ``draws`` times (seeded). ECE is a biased estimate on small
    sets; an ECE near this floor is all a calibrated model can reach there.

    Returns ``{"mean", "p90"}`` over the draws."""
    probs = np.asarray(probs, dtype=np.float64)
    if not len(probs):
        return {"mean": 0.0, "p90": 0.0}
    cum = np.cumsum(probs / probs.sum(-1, keepdims=True), axis=-1)
    u = np.random.default_rng(seed).random((draws, len(probs)))
    labels = np.minimum((u[:, :, None] > cum[None]).sum(-1), probs.shape[-1] - 1)
    eces = [reliability(probs, y, bins)["ece"] for y in labels]
    return {"mean": float(np.mean(eces)), "p90": float(np.percentile(eces, 90))}


def paired(gold: Sequence[int] | np.ndarray, a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> dict:
    """Two systems' answers on the same pairs, compared pair by pair: how many differ, how many of
    those only ``a`` answers right, only ``b``, and the exact two-sided McNemar p-value (a binomial
    test on the pairs only one of them gets right). Two accuracies a few pairs apart on thousands
    of pairs are often the same system to this test."""
    from math import comb

    gold, a, b = (np.asarray(x) for x in (gold, a, b))
    a_only, b_only = int(((a == gold) & (b != gold)).sum()), int(((a != gold) & (b == gold)).sum())
    n, k = a_only + b_only, min(a_only, b_only)
    p = 1.0 if n == 0 else min(1.0, 2 * sum(comb(n, i) for i in range(k + 1)) / 2 ** n)
    return {"differ": int((a != b).sum()), "a_only": a_only, "b_only": b_only, "p": p}


def logits_of(probs: np.ndarray) -> np.ndarray:
    return np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0))

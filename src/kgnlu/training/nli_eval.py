"""Evaluation of a trained fused NLI model: per-class scores, confusion matrix, calibration.

``evaluate(model_dir, kg_dir, file, mode=...)`` scores one JSONL file in one of the model's modes
(``fused``, ``neural``, ``symbolic``, ``no-gnn``; see ``kgnlu.neural.fused``). Calibration is
the expected calibration error over 15 equal-width confidence bins, before and after temperature
scaling; the temperature is fitted on the dev file (``dev.jsonl`` beside ``file`` unless given),
never on the file being scored. A binary file (gold labels ``entailment`` and ``not_entailment``,
RTE-style) is scored as one: neutral and contradiction are summed into not-entailment, for the
predictions and for a three-way dev file alike; a file whose labels mix the two schemes, or a binary
dev file for a three-way file, is refused (``read_gold``, ``dev_set``: before anything loads).
``write_plots`` draws the reliability diagram and the confusion matrix as PNG files.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kgnlu.labels import BINARY_LABELS, LABELS
from kgnlu.training.nli_metrics import (ECE_BINS, binary_gold, classification_metrics, ece_floor, fit_temperature,
                                        log_softmax, logits_of, reliability, to_binary)
from kgnlu.types import InputError

SCHEMES = "three-way (entailment/neutral/contradiction) or binary (entailment/not_entailment)"


def read_gold(path: str | Path, limit: int | None = None, *, binary: bool | None = None, what: str = "") -> list[dict]:
    """The pairs of a gold file (the first ``limit``): ``read_jsonl`` with binary labels allowed and
    each pair's texts checked as the engine checks them. An ``InputError``, led by ``what``, for a
    file that is missing, a directory or holds no pairs, and for labels of two schemes: three-way
    and binary in one file, or binary where ``binary`` is False (a dev file for a three-way file)."""
    from kgnlu.training.nli_train import read_jsonl

    path = Path(path)
    try:
        if path.is_dir():
            raise InputError(f"{path}: is a directory")
        if not path.exists():
            raise InputError(f"{path}: no such file")
        lines: list[int] = []
        recs = read_jsonl(path, limit, binary_ok=True, check_texts=True, lines=lines)
        if not recs:
            raise InputError(f"{path}: no records")
        first = None  # (line, label) of the first label that only one scheme has
        for n, rec in zip(lines, recs):
            label = rec["label"]
            if label == "entailment":  # both schemes have it
                continue
            if label == "not_entailment" and binary is False:
                raise InputError(f"{path}:{n}: label 'not_entailment' is binary, but the file scored is three-way: "
                                 "fit its temperature on three-way pairs")
            if first is None:
                first = (n, label)
            elif (label == "not_entailment") != (first[1] == "not_entailment"):
                raise InputError(f"{path}:{n}: label {label!r} is {_scheme(label)}, but line {first[0]}'s {first[1]!r} "
                                 f"is {_scheme(first[1])}: a file's labels are {SCHEMES}, not both")
    except InputError as e:
        raise InputError(f"{what}{e}") from None
    return recs


def _scheme(label: str) -> str:
    return "binary" if label == "not_entailment" else "three-way"


def is_binary(records: list[dict]) -> bool:
    return any(r["label"] == "not_entailment" for r in records)


def dev_set(file: str | Path, dev_file: str | Path | None, binary: bool,
            limit: int | None = None) -> tuple[Path | None, list[dict] | None]:
    """Where the temperature is fitted, and its pairs (``read_gold``): ``dev_file`` when given (an
    ``InputError`` when it is missing, bad, the file scored itself, or binary for a three-way file),
    else ``dev.jsonl`` beside ``file`` where there is one; (None, None) when there is none."""
    file = Path(file)
    if dev_file is None:
        dev = file.with_name("dev.jsonl")
        if not dev.is_file() or dev.resolve() == file.resolve():
            return None, None
        return dev, read_gold(dev, limit, binary=binary)
    dev = Path(dev_file)
    if dev.is_file() and dev.resolve() == file.resolve():
        raise InputError(f"--dev {dev}: is the file scored; the temperature is fitted on other pairs")
    return dev, read_gold(dev, limit, binary=binary, what="--dev ")


def evaluate(model_dir: str | Path, kg_dir: str | Path, file: str | Path, *, mode: str = "fused",
             dev_file: str | Path | None = None, batch_size: int = 64, node_vectors: Callable | None = None,
             device: str = "cpu", max_pairs: int | None = None, progress: bool = False,
             records: list[dict] | None = None, dev_records: list[dict] | None = None) -> dict:
    """Scores of the model in ``model_dir`` on the pairs of ``file`` (JSONL), in ``mode``;
    ``records``: the file's pairs when the caller has read them already (``read_gold``), and
    ``dev_records`` those of ``dev_file`` (``dev_set``).

    Returns ``accuracy``, ``macro_f1``, ``per_class`` (precision, recall, F1, support),
    ``confusion`` (explicit label order), ``ece`` (raw), ``temperature`` (fitted on the dev file)
    and ``ece_calibrated``, ``ece_floor`` (``nli_metrics.ece_floor`` of the calibrated answers: what a
    calibrated model would show on this many pairs), the ``reliability`` bins of both, the mean gate, and timings.
    """
    from kgnlu.neural.fused import MODES, FusedNLI
    from kgnlu.runtime import default_node_vectors, model_linking, open_session
    from kgnlu.training.nli_train import precompute, run_model

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    t0 = time.perf_counter()
    file = Path(file)
    recs = records if records is not None else read_gold(file, max_pairs)  # bad input before the model loads
    binary = is_binary(recs)
    if dev_records is None:
        dev_file, dev_records = dev_set(file, dev_file, binary, max_pairs)
    model = FusedNLI.load(model_dir, device, merge=True)
    session = open_session(kg_dir, device=device, linking=model_linking(model_dir))  # as `infer` links
    tables = session.tables
    if node_vectors is None:
        node_vectors = default_node_vectors(tables, device, cache_dir=session.kg_dir / "cache")
    spec = model.config["features"]
    names = BINARY_LABELS if binary else LABELS

    def scored(gold: list[str], probs: np.ndarray) -> tuple[list[str], np.ndarray]:
        return (binary_gold(gold), to_binary(probs)) if binary else (gold, probs)

    pairs = precompute(recs, session.linker(), session.rules(), tables, node_vectors, spec=spec, progress=progress,
                       desc=file.stem)
    t_feat = time.perf_counter() - t0
    t1 = time.perf_counter()
    out = run_model(model, pairs, batch_size=batch_size, mode=mode, progress=progress, desc=f"{file.stem} ({mode})")
    t_model = time.perf_counter() - t1
    gold, probs = scored(pairs.labels, out["probs"])
    labels = np.array([names.index(y) for y in gold], dtype=np.int64)
    report = {"mode": mode, "file": str(file), "model": str(model_dir), "binary": binary,
              **classification_metrics(gold, probs, names)}

    if dev_records is not None:
        dev_pairs = precompute(dev_records, session.linker(), session.rules(), tables, node_vectors, spec=spec,
                               progress=progress, desc="dev")
        dev_gold, dev_probs = scored(dev_pairs.labels, run_model(model, dev_pairs, batch_size=batch_size, mode=mode)["probs"])
        t = fit_temperature(logits_of(dev_probs), [names.index(y) for y in dev_gold])
        fitted_on = str(dev_file)
    else:
        t, fitted_on = 1.0, None  # nothing held out to fit on: report the raw calibration only
    raw = reliability(probs, labels)
    scaled = np.exp(log_softmax(logits_of(probs) / t))
    calibrated = reliability(scaled, labels)
    linked = np.array([f.has_linked for f in pairs.features], dtype=bool)
    closed = ~np.array([f.gate_open for f in pairs.features], dtype=bool)
    report.update(
        ece=raw["ece"], temperature=t, temperature_fitted_on=fitted_on, ece_calibrated=calibrated["ece"],
        ece_floor=ece_floor(scaled)["mean"],
        reliability={"bins": ECE_BINS, "raw": raw["bins"], "calibrated": calibrated["bins"]},
        gate={"mean": float(out["gate"].mean()) if len(labels) else 0.0,
              "mean_linked": float(out["gate"][linked].mean()) if linked.any() else None,
              "mean_unlinked": float(out["gate"][~linked].mean()) if (~linked).any() else None,
              "mean_closed": float(out["gate"][closed].mean()) if closed.any() else None},
        seconds={"features": round(t_feat, 2), "model": round(t_model, 2), "total": round(time.perf_counter() - t0, 2)},
        pairs_per_s=round(len(labels) / t_model, 1) if t_model else None,
    )
    return report


def write_plots(report: dict, out_dir: str | Path) -> list[Path]:
    """``reliability.png`` (raw and temperature-scaled) and ``confusion.png`` under ``out_dir``."""
    # A bare Figure renders with the Agg canvas and touches no pyplot state (no global backend switch).
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []

    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    for key, color, name in (("raw", "tab:blue", "raw"), ("calibrated", "tab:orange", f"T={report['temperature']:.2f}")):
        bins = report["reliability"][key]
        centers = [(b["lo"] + b["hi"]) / 2 for b in bins if b["count"]]
        accs = [b["accuracy"] for b in bins if b["count"]]
        ece = report["ece"] if key == "raw" else report["ece_calibrated"]
        ax.plot(centers, accs, "o-", color=color, label=f"{name} (ECE {ece:.3f})")
    ax.plot([0, 1], [0, 1], "--", color="gray", linewidth=1)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy",
           title=f"reliability ({report['mode']}, {report['reliability']['bins']} bins)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    paths.append(out_dir / "reliability.png")
    fig.savefig(paths[-1], dpi=100)

    cm = np.array(report["confusion"]["matrix"])
    names = report["confusion"]["labels"]
    fig = Figure(figsize=(5, 4.5))
    ax = fig.subplots()
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set(xlabel="predicted", ylabel="gold", title=f"confusion ({report['mode']}, n={report['n']})")
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    fig.tight_layout()
    paths.append(out_dir / "confusion.png")
    fig.savefig(paths[-1], dpi=100)
    return paths


__all__ = ["dev_set", "evaluate", "is_binary", "read_gold", "write_plots"]

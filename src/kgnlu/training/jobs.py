"""Training and evaluation jobs over a KG: what ``kgnlu train`` and ``kgnlu eval`` run.

Each job opens the KG through ``kgnlu.runtime`` (building the default KG first when the
directory holds none) and hands a session, or the KG directory, to the trainer or evaluator.
They sit beside the runtime, never under it: the answering path imports nothing from here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from kgnlu.config import (  # noqa: F401 (the CLI's defaults)
    LINKER_RECIPE_THREADS, NLI_RECIPE, NLI_RECIPE_EXTRA, RE_RECIPE_THREADS, nli_model_dir)
from kgnlu.progress import StageCallback, no_progress
from kgnlu.runtime import Runtime, linked_as
from kgnlu.types import InputError


def check_device(device: str) -> None:
    """``cpu``, or ``cuda`` / ``cuda:N`` where torch sees a GPU; else an ``InputError`` (torch's own
    error comes only once the model is loaded)."""
    from kgnlu.config import resolve_device

    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise InputError(f"--device {device}: give cpu or cuda (cuda:N)")
    if device != "cpu" and resolve_device("auto") != "cuda":
        raise InputError(f"--device {device}: torch sees no CUDA GPU here; use --device cpu")


def _kg(kg: str | Path | None, progress: StageCallback, linking: dict | None = None) -> Runtime:
    runtime = Runtime(kg, dense=False) if linking is None else linked_as(kg, linking)
    runtime.ensure_kg(progress)
    return runtime


def train_nli(kg: str | Path | None, data_dir: str | Path, out_dir: str | Path, *, seed: int = 0,
              regenerate: bool = False, progress: StageCallback = no_progress, bars: bool = True,
              data_options: dict | None = None, gate_fit: bool = True, **options) -> dict:
    """Train the fused NLI model on pairs generated from the KG (``kgnlu.training.nli_data``,
    made first when ``data_dir`` has none); see ``kgnlu.training.nli_train.train``. Pairs
    kgnlu generated from other templates than the shipped ones are refused. ``gate_fit``: end
    with :func:`refit_nli_gate` on the saved model (its report is the summary's ``gate_fit``)."""
    from kgnlu.training.nli_data import generate, stale_data
    from kgnlu.training.nli_train import train

    data_dir = Path(data_dir)
    present = (data_dir / "train.jsonl").is_file() and (data_dir / "dev.jsonl").is_file()
    if present and not regenerate and (why := stale_data(data_dir)):
        raise InputError(f"{data_dir}: {why}; generate it again (`kgnlu train nli --regenerate`)")
    runtime = _kg(kg, progress)
    if regenerate or not present:
        progress(f"generating NLI pairs into {data_dir}")
        generate(runtime.kg_dir, data_dir, seed=seed, **(data_options or {}))
    progress("training")
    summary = train(runtime.kg_dir, data_dir, out_dir, seed=seed, progress=bars, **options)
    if gate_fit:
        summary["gate_fit"] = refit_nli_gate(out_dir, runtime.kg_dir, data_dir, progress=progress,
                                             device=options.get("device", "cpu"), command=options.get("command"))
    return summary


def refit_nli_gate(model: str | Path, kg: str | Path | None, data_dir: str | Path, out_dir: str | Path | None = None,
                   *, real_dir: str | Path | None = None, device: str = "cpu", progress: StageCallback = no_progress,
                   command: str | None = None, reading: dict | None = None) -> dict:
    """Fit a saved fused NLI model's weight on proved verdicts on its recorded dev set and set how
    it reads undecided pairs (``kgnlu.training.nli_gate.refit_gate``); ``out_dir`` defaults to
    ``model`` (the gate and the manifest rewritten in place)."""
    from kgnlu.training.nli_gate import refit_gate

    model = Path(model)
    if not (model / "manifest.json").is_file():
        raise InputError(f"{model}: no trained NLI model there (run `kgnlu train nli`)")
    runtime = _kg(kg, progress)
    return refit_gate(model, runtime.kg_dir, data_dir, out_dir or model, real_dir=real_dir, device=device,
                      progress=progress, command=command, reading=reading)


def evaluate_nli(kg: str | Path | None, path: str | Path, model: str | Path | None = None, mode: str = "fused",
                 dev_file: str | Path | None = None, plots: str | Path | None = None,
                 max_pairs: int | None = None, progress: bool = False) -> dict:
    """Classification report, confusion matrix and ECE (temperature fitted on dev) of a fused
    model on a JSONL file (``kgnlu.training.nli_eval``); PNG plots under ``plots``. The file, the
    dev file and ``plots`` are checked before the KG is built or opened and the model loads."""
    from kgnlu.training.nli_eval import dev_set, evaluate, is_binary, read_gold, write_plots

    records = read_gold(path, max_pairs)
    dev_file, dev_records = dev_set(path, dev_file, is_binary(records), max_pairs)
    if plots is not None:
        _check_out_dir(Path(plots), "--plots")
    model_dir = Path(model) if model else nli_model_dir()
    if not (model_dir / "manifest.json").is_file():
        raise InputError(f"{model_dir}: no trained NLI model there (run `kgnlu train nli`)")
    runtime = _kg(kg, no_progress)
    report = evaluate(model_dir, runtime.kg_dir, path, mode=mode, dev_file=dev_file, max_pairs=max_pairs,
                      progress=progress, records=records, dev_records=dev_records)
    if plots is not None:
        try:
            report["plots"] = [str(p) for p in write_plots(report, plots)]
        except OSError as e:
            raise InputError(f"--plots {plots}: {e.strerror or e}") from None
    return report


def _check_out_dir(path: Path, option: str) -> None:
    """A directory that is there or can be made: not a file, nor under one, and writable."""
    for at in (path, *path.parents):
        if not at.exists():
            continue
        if not at.is_dir():
            raise InputError(f"{option} {path}: " + ("is a file, not a directory" if at == path
                                                     else f"{at} is a file, not a directory"))
        if not os.access(at, os.W_OK | os.X_OK):
            raise InputError(f"{option} {path}: {at} is not writable")
        return


def train_linker(kg: str | Path | None, out_dir: str | Path, progress: StageCallback = no_progress,
                 bar: bool = True, **options) -> dict:
    """Train the linker encoder's self-alignment LoRA adapter on the KG's synonyms
    (``kgnlu.training.linker_train.train``); returns its report (``training.json``)."""
    from kgnlu.training.linker_train import train

    runtime = _kg(kg, progress)
    return train(runtime.kg_dir, out_dir, progress=bar, **options)


def train_curation(kg: str | Path | None, data: str | Path, out_dir: str | Path | None,
                   progress: StageCallback = no_progress, **options) -> dict:
    """Learn which linked candidates curators annotate from annotated documents, cross-validated
    by document (``kgnlu.training.curation_train``); linked as ``Engine.link`` links (lexicon-only)."""
    from kgnlu.runtime import model_linking, resolve_nli_model
    from kgnlu.training.curation_train import read_annotated
    from kgnlu.training.curation_train import train_curation as train

    docs = read_annotated(data)  # a bad file is refused before the KG and the linker load, not after
    runtime = _kg(kg, progress, {**model_linking(resolve_nli_model(None)), "dense": False})
    return train(runtime.session(progress).linker(progress), Path(data), Path(out_dir) if out_dir else None,
                 progress=progress, docs=docs, **options)


def generate_relation_data(kg: str | Path | None, out_dir: str | Path, seed: int = 13, sizes: dict | None = None,
                           progress: StageCallback = no_progress) -> dict:
    """Distant-supervision RE data from the KG (``kgnlu.training.re_data``); returns its meta."""
    from kgnlu.training.re_data import generate

    runtime = _kg(kg, progress)
    return generate(runtime.kg_dir, out_dir, seed=seed, sizes=sizes, progress=progress)


def train_relations(kg: str | Path | None, data_dir: str | Path, out_dir: str | Path,
                    progress: StageCallback = no_progress, **options) -> dict:
    """Train the relation extractor on generated data (``kgnlu.training.re_train.train``).
    Data generated from other phrasing templates than the shipped ones is refused."""
    from kgnlu.training.re_data import stale_data
    from kgnlu.training.re_train import train

    if why := stale_data(data_dir):
        raise InputError(f"{data_dir}: {why}; generate it again (`kgnlu train re --regenerate`)")
    runtime = _kg(kg, progress)
    return train(runtime.kg_dir, data_dir, out_dir, progress=progress, **options)


def evaluate_relations(kg: str | Path | None, path: str | Path, model: str | Path | None = None,
                       untrained: bool = False, progress: StageCallback = no_progress) -> dict:
    """Micro/macro-F1 per relation and the confusion matrix on a gold JSONL file (``training.re_eval``)."""
    from kgnlu.training.re_eval import evaluate, read_records, render

    from kgnlu.runtime import model_linking, resolve_nli_model

    records = read_records(path)
    # Linked as `kgnlu extract` links: the engine's linking is its NLI model's.
    runtime = _kg(kg, progress, model_linking(resolve_nli_model(None)))
    extractor = runtime.session(progress).relation_extractor(model, progress, untrained)
    report = evaluate(extractor, records, progress=progress)
    report["text"] = render(report)
    return report

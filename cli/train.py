"""``kgnlu train``: reproduce kgnlu's trained parts from its KG and a seed (one subcommand per model)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import typer

from kgnlu.cli._common import (KG_OPTION, TYPER_SETTINGS, StageProgress, command_line, fail, handle_errors,
                               print_json)

from kgnlu.training.jobs import LINKER_RECIPE_THREADS, NLI_RECIPE, NLI_RECIPE_EXTRA, RE_RECIPE_THREADS


def _check(device: str | None = None, lr: float | None = None, threads: int | None = None) -> None:
    """Options a training run would otherwise trip on minutes in, as an internal error."""
    if device is not None:
        from kgnlu.training.jobs import check_device

        check_device(device)
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        fail(f"--lr {lr}: give a learning rate above 0")
    # The recipes' own counts always pass: they reproduce the shipped models on any machine, slowly on one core.
    if threads is not None and threads > max(os.cpu_count() or 1, NLI_RECIPE["num_threads"], RE_RECIPE_THREADS):
        fail(f"--threads {threads}: this machine has {os.cpu_count()} cores; more threads only contend")


app = typer.Typer(help="Train kgnlu's models on supervision generated from the KG.", **TYPER_SETTINGS)


@app.callback()
def _group() -> None:
    """Train kgnlu's models on supervision generated from the KG."""


def train_re(kg: Path | None, data: Path, out: Path, seed: int = 13, regenerate: bool = False, progress=None,
             **options) -> dict:
    """Plain function behind ``kgnlu train re``: generate the data if needed, train, save; the report."""
    import kgnlu.training.jobs as jobs

    progress = progress or (lambda _: None)
    if regenerate or not (Path(data) / "train.jsonl").is_file():
        jobs.generate_relation_data(kg, data, seed=seed, progress=progress)
    return jobs.train_relations(kg, data, out, progress=progress, seed=seed, **options)


@app.command("re")
@handle_errors
def train_re_cli(
    kg: Path | None = KG_OPTION,
    data: Path = typer.Option(Path("data/generated/re"), "--data", help="Generated data (made here first if missing)."),
    out: Path = typer.Option(Path("data/generated/re-model"), "--out", help="Where the trained model is saved."),
    seed: int = typer.Option(13, "--seed", help="Seed of the data and of training."),
    regenerate: bool = typer.Option(False, "--regenerate", help="Generate the data again even if present."),
    epochs: int = typer.Option(2, "--epochs", min=1),
    max_train: int = typer.Option(3000, "--max-train", min=16, help="Training pairs (positives and sampled negatives)."),
    time_budget: float | None = typer.Option(None, "--time-budget", help="Stop training after this many seconds (best model kept)."),
    layers: int = typer.Option(4, "--layers", min=1, max=6, help="Keep only MiniLM's first N of 6 layers."),
    threads: int = typer.Option(RE_RECIPE_THREADS, "--threads", min=1,
                                help="torch threads (the shipped model's count; another trains other weights)."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    json_out: bool = typer.Option(False, "--json", help="Print the training report as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Train the relation extractor (LoRA on MiniLM, heads, gate) on distant supervision from the KG."""
    _check(device, threads=threads)
    with StageProgress(enabled=not (quiet or json_out)) as progress:
        report = train_re(kg, data, out, seed, regenerate, progress, epochs=epochs, max_train=max_train,
                          time_budget_s=time_budget, num_layers=layers, device=device, threads=threads,
                          command=command_line())
    if json_out:
        print_json(report)
    else:
        typer.echo(f"saved {out}: dev F1 {report['best_dev_f1']:.3f} after {report['best_step']} steps "
                   f"({report['stopped']}), {report['seconds']} s")


def train_nli(kg: Path | None, data: Path, out: Path, seed: int = 0, regenerate: bool = False, progress=None,
              command: str | None = None, **options) -> dict:
    """Plain function behind ``kgnlu train nli``: generate the pairs if needed, train, save; the summary."""
    import kgnlu.training.jobs as jobs

    opts = {k: v for k, v in options.items() if v is not None}
    return jobs.train_nli(kg, data, out, seed=seed, regenerate=regenerate, progress=progress or (lambda _: None),
                          command=command, **opts)


@app.command("nli")
@handle_errors
def train_nli_cli(
    kg: Path | None = KG_OPTION,
    data: Path = typer.Option(Path("data/generated/nli"), "--data", help="Generated pairs (made here first if missing)."),
    out: Path = typer.Option(Path("data/generated/nli-model"), "--out",
                             help="Where the model is saved (the shipped one is src/kgnlu/assets/nli)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the data and of training."),
    regenerate: bool = typer.Option(False, "--regenerate", help="Generate the pairs again even if present."),
    epochs: int = typer.Option(NLI_RECIPE["epochs"], "--epochs", min=1),
    max_train: int = typer.Option(NLI_RECIPE["max_train"], "--max-train", min=8, help="Use the first N training pairs."),
    max_dev: int = typer.Option(NLI_RECIPE["max_dev"], "--max-dev", min=8, help="Use the first N dev pairs."),
    batch_size: int = typer.Option(NLI_RECIPE["batch_size"], "--batch-size", min=1),
    lr: float = typer.Option(NLI_RECIPE["lr"], "--lr"),
    patience: int = typer.Option(NLI_RECIPE["patience"], "--patience", min=1, help="Epochs without a better dev macro-F1 before stopping."),
    threads: int = typer.Option(NLI_RECIPE["num_threads"], "--threads", min=1, help="torch threads (1 is fastest on a busy CPU)."),
    no_gnn: bool = typer.Option(False, "--no-gnn", help="Train the fused-without-GNN ablation."),
    layers: int = typer.Option(NLI_RECIPE["num_layers"], "--layers", min=1, max=6,
                               help="Keep only MiniLM's first N of 6 layers."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    extra: list[str] = typer.Option([], "--extra", metavar="FILE[#SOURCE]", help="Human-written pairs (JSONL, 3-way labels) to train on too; "
                                    "FILE#SOURCE keeps the records whose 'source' starts with SOURCE. Repeatable; "
                                    "a tenth of each joins the dev set."),
    real: Path | None = typer.Option(None, "--real", help="The shared real-data NLI folder: train on the shipped model's "
                                     f"human-written pairs there ({', '.join(NLI_RECIPE_EXTRA)}) unless --extra names others."),
    max_extra: int = typer.Option(NLI_RECIPE["max_extra"], "--max-extra", min=0,
                                  help="At most N pairs of each --extra file (a seeded sample); 0: all."),
    guard: bool = typer.Option(False, "--guard", help="Train on the rules' verdicts with the alignment guard "
                               "(every hypothesis word accounted for); the model then applies it at inference."),
    gate_fit: bool = typer.Option(True, "--gate-fit/--no-gate-fit", help="End by fitting the gate's weight on proved "
                                  "verdicts on the dev set (as `kgnlu train nli-gate` does)."),
    json_out: bool = typer.Option(False, "--json", help="Print the training summary as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Train the fused NLI model (LoRA on MiniLM, R-GCN, heads, gate) on pairs generated from the KG,
    and on human-written pairs given with --extra.

    Early stopping on dev macro-F1; the run log is ``train_log.jsonl`` beside the model, and the
    options (with this command line) are recorded in the model's manifest.
    """
    _check(device, lr, threads)
    command = command_line()
    if real is not None and not extra:
        extra = [str(real / name) for name in NLI_RECIPE_EXTRA]  # FILE#SOURCE: the folder goes before it
    with StageProgress(enabled=not (quiet or json_out)) as progress:
        report = train_nli(kg, data, out, seed, regenerate, progress, command=command, epochs=epochs,
                           max_train=max_train, max_dev=max_dev, batch_size=batch_size, lr=lr, patience=patience,
                           num_threads=threads, use_gnn=not no_gnn, device=device, bars=not (quiet or json_out),
                           model_options={"num_layers": layers}, extra=list(extra), max_extra=max_extra,
                           guard=guard or None, gate_fit=gate_fit)
    if json_out:
        print_json(report)
    else:
        typer.echo(f"saved {out}: best epoch {report['best_epoch']}, dev macro-F1 {report['best_dev_macro_f1']:.4f} "
                   f"({report['n_train']} train pairs, {report['train_pairs_per_s']} pairs/s, {report['seconds']} s); "
                   f"log {report['log']}")


@app.command("nli-gate")
@handle_errors
def train_nli_gate_cli(
    model: Path = typer.Option(..., "--model", help="A trained fused NLI model directory."),
    kg: Path | None = KG_OPTION,
    data: Path = typer.Option(Path("data/generated/nli"), "--data",
                              help="The generated pairs the model was trained with (its dev.jsonl is checked)."),
    real: Path | None = typer.Option(None, "--real", help="Where the human-written files it trained on are now, "
                                     "if not at the paths its manifest records."),
    out: Path | None = typer.Option(None, "--out", help="Write the model here (default: rewrite the gate in --model)."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    gate_mask: str = typer.Option("undecided", "--gate-mask", help="When the neural answer stands alone: "
                                  "undecided (also on an unknown verdict that proved part of the hypothesis), "
                                  "decided (as trained), or the older readings decidable and linked."),
    graph: str = typer.Option("both", "--graph", help="Which pairs the GNN reads: both (both sides link a "
                              "concept) or all (as trained)."),
    json_out: bool = typer.Option(False, "--json", help="Print the fit's record as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Fit a trained NLI model's gate weight on proved verdicts on its dev set (pairs it never trained
    on), the rest of the model frozen: a proof then weighs what it is worth on the dev set, whatever
    the text looks like. It also sets which undecided pairs the neural side answers alone
    (--gate-mask, --graph). Only the gate and the manifest are rewritten."""
    import kgnlu.training.jobs as jobs

    _check(device)
    command = command_line()
    with StageProgress(enabled=not (quiet or json_out)) as progress:
        report = jobs.refit_nli_gate(model, kg, data, out, real_dir=real, device=device, progress=progress,
                                     command=command, reading={"gate_mask": gate_mask, "graph": graph})
    if json_out:
        print_json(report)
    else:
        typer.echo(f"saved {out or model}: gate on proved verdicts {report['decided_gate_before']:.2f} -> "
                   f"{report['decided_gate_after']:.2f} over {report['decided_pairs']} of {report['pairs']} dev pairs; "
                   f"dev NLL {report['dev_nll_before']:.4f} -> {report['dev_nll_after']:.4f}")


@app.command("curation")
@handle_errors
def train_curation_cli(
    data: Path = typer.Option(..., "--data", help="Annotated documents in GSC+'s format (blocks of id, text and "
                              "start/end/mention/concept lines), e.g. ../shared/realdata/hpo/gsc_plus_dev.tsv."),
    kg: Path | None = KG_OPTION,
    out: Path | None = typer.Option(None, "--out", help="Where the model is saved (the shipped one: "
                                    "src/kgnlu/assets/curation); without it, only cross-validate."),
    folds: int = typer.Option(5, "--folds", min=2, help="Cross-validation folds, by document."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fold shuffle."),
    min_alias_rate: float = typer.Option(0.3, "--min-alias-rate", min=0.0, max=1.0,
                                         help="Propose an annotated surface as an alias where it is annotated at least "
                                              "this often where it occurs."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Learn which of the linker's candidate mentions curators annotate (nested terms, grouping
    classes, aliases no ontology lists) from annotated documents; report cross-validated P/R/F1."""
    import kgnlu.training.jobs as jobs

    if out is not None and (out.exists() and not out.is_dir() or any(p.is_file() for p in out.parents)):
        fail(f"--out {out}: a file is in the way; give a folder")  # found before the cross-validation, not after
    command = command_line()
    with StageProgress(enabled=not (quiet or json_out)) as progress:
        report = jobs.train_curation(kg, data, out, progress=progress, folds=folds, seed=seed,
                                     min_alias_rate=min_alias_rate, command=command)
    report = {k: v for k, v in report.items() if k not in ("curator", "predictions", "predictions_flat")}
    if json_out:
        print_json(report)
        return
    c, cv, flat = report["candidates"], report["cv"], report["cv_flat"]
    typer.echo(f"{folds}-fold cross-validation by document, threshold {report['threshold']}:")
    rows = (("candidates (all kept)", c), ("curated, nested terms kept", cv), ("curated, no nested terms", flat))
    for name, r in rows:
        typer.echo(f"  {name:28} P {r['p']:.3f}  R {r['r']:.3f}  F1 {r['f1']:.3f}")
    if out is not None:
        typer.echo(f"saved {out} (fitted on every document, {report['rows']} candidate rows)")


def train_linker(kg: Path | None, out: Path, progress=None, **options) -> dict:
    """Plain function behind ``kgnlu train linker``: train the adapter and save it in ``out``."""
    import kgnlu.training.jobs as jobs

    return jobs.train_linker(kg, out, progress=progress or (lambda _: None), **options)


@app.command("linker")
@handle_errors
def train_linker_cli(
    kg: Path | None = KG_OPTION,
    out: Path = typer.Option(Path("data/generated/linker"), "--out",
                             help="Where the adapter is saved (the shipped one: src/kgnlu/assets/linker)."),
    seed: int = typer.Option(0, "--seed", help="Seed of pair sampling, batching and initialisation."),
    epochs: int = typer.Option(1, "--epochs", min=1),
    max_pairs: int = typer.Option(4000, "--max-pairs", min=2, help="Synonym pairs to train on (training time grows with them)."),
    batch_size: int = typer.Option(64, "--batch-size", min=2),
    lr: float = typer.Option(2e-4, "--lr"),
    holdout: float = typer.Option(0.1, "--holdout", help="Fraction of concepts held out (never trained on)."),
    holdout_seed: int = typer.Option(0, "--holdout-seed", help="Seed of the held-out split (the NIL calibration and bench/link.py check it)."),
    source: list[str] = typer.Option(["hpo"], "--source", help="Lexicon sources to train on (repeatable)."),
    threads: int = typer.Option(LINKER_RECIPE_THREADS, "--threads", min=1,
                                help="torch threads (the shipped adapter's count; another trains other weights)."),
    nil_phrases: Path = typer.Option(Path("data/nil_phrases.txt"), "--nil-phrases",
                                     help="Phrases that should link to nothing, to calibrate the NIL threshold on."),
    no_calibrate: bool = typer.Option(False, "--no-calibrate", help="Skip the NIL calibration (no linker.json)."),
    calibrate_only: bool = typer.Option(False, "--calibrate-only",
                                        help="Only recalibrate the NIL threshold of the adapter (or sentence-transformers "
                                             "model) already in --out; no training."),
    calibration_work: Path | None = typer.Option(None, "--calibration-work",
                                                 help="Keep the calibration's held-out HPO KG here between runs."),
    json_out: bool = typer.Option(False, "--json", help="Print the training report as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Train the linker encoder's LoRA adapter on the KG's synonym groups (SapBERT-style self-alignment),
    then calibrate its NIL threshold (linker.json beside it) on held-out HPO synonyms and --nil-phrases."""
    _check(lr=lr, threads=threads)
    if no_calibrate and calibrate_only:
        fail("--no-calibrate and --calibrate-only contradict each other: drop one")
    with StageProgress(enabled=not (quiet or json_out)) as progress:
        report = train_linker(kg, out, progress, seed=seed, epochs=epochs, max_pairs=max_pairs, batch_size=batch_size,
                              lr=lr, holdout=holdout, holdout_seed=holdout_seed, sources=source,
                              bar=not (quiet or json_out), nil_phrases=None if no_calibrate else nil_phrases,
                              calibrate_only=calibrate_only, calibration_work=calibration_work, threads=threads,
                              command=command_line())
    if json_out:
        print_json(report)
    elif calibrate_only:
        typer.echo(f"{out}/linker.json: NIL threshold {report['nil_threshold']} (F1 {report['f1']}, precision "
                   f"{report['precision']}, recall {report['recall']}; {report['positives']} held-out synonyms, "
                   f"{report['negatives']} NIL phrases)")
    else:
        dev = report["metrics"].get("dev", {})
        tuned, untuned = dev.get("tuned", {}), dev.get("untuned", {})
        typer.echo(f"saved {out}: {report['data']['pairs']} pairs, loss {report['metrics']['loss_first']:.3f} -> "
                   f"{report['metrics']['loss_last']:.3f}; held-out acc@1 {untuned.get('acc@1')} -> {tuned.get('acc@1')}; "
                   f"{report['seconds']['total']} s")


__all__ = ["app", "train_re", "train_nli", "train_linker"]

"""``kgnlu eval``: score kgnlu's models on a gold file (one subcommand per task)."""

from __future__ import annotations

from pathlib import Path

import typer

from kgnlu.cli._common import KG_OPTION, TYPER_SETTINGS, StageProgress, fail, handle_errors, print_json

app = typer.Typer(help="Evaluate kgnlu's models on gold files.", **TYPER_SETTINGS)


@app.callback()
def _group() -> None:
    """Evaluate kgnlu's models on gold files."""


def eval_re(path: Path, kg: Path | None = None, model: Path | None = None, untrained: bool = False,
            progress=None) -> dict:
    """Plain function behind ``kgnlu eval re``: the evaluation report (``kgnlu.training.re_eval``)."""
    import kgnlu.training.jobs as jobs

    return jobs.evaluate_relations(kg, path, model, untrained, progress or (lambda _: None))


@app.command("re")
@handle_errors
def eval_re_cli(
    path: Path = typer.Argument(..., help="Gold JSONL: {\"text\", \"gold\": [{\"subject\": [s, e], \"object\": [s, e], \"relation\", \"negated\"}]}."),
    kg: Path | None = KG_OPTION,
    model: Path | None = typer.Option(None, "--model", help="A trained relation model (default: the shipped one)."),
    untrained: bool = typer.Option(False, "--untrained", help="Evaluate the KG + co-occurrence scorer instead."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Micro- and macro-F1 per relation, and the confusion matrix, of relation extraction on FILE."""
    if untrained and model is not None:
        fail("give --model or --untrained, not both")
    with StageProgress(enabled=not (quiet or json_out)) as progress:
        report = eval_re(path, kg, model, untrained, progress)
    if json_out:
        report.pop("text", None)
        print_json(report)
    else:
        typer.echo(report["text"])


NLI_MODES = ("fused", "neural", "symbolic", "no-gnn")


def eval_nli(path: Path, kg: Path | None = None, model: Path | None = None, mode: str = "fused",
             dev: Path | None = None, plots: Path | None = None, max_pairs: int | None = None,
             progress: bool = False) -> dict:
    """Plain function behind ``kgnlu eval nli``: the evaluation report (``kgnlu.training.nli_eval``)."""
    import kgnlu.training.jobs as jobs

    return jobs.evaluate_nli(kg, path, model, mode=mode, dev_file=dev, plots=plots, max_pairs=max_pairs,
                             progress=progress)


def render_nli(report: dict) -> str:
    """The report as text: per-class scores, accuracy, macro-F1, the confusion matrix, calibration."""
    names = report["confusion"]["labels"]
    lines = [f"{report['file']}  ({report['mode']}, {report['n']} pairs, model {report['model']})", "",
             f"{'':15}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for name in names:
        c = report["per_class"][name]
        lines.append(f"{name:15}{c['precision']:10.4f}{c['recall']:10.4f}{c['f1']:10.4f}{c['support']:10d}")
    lines += ["", f"{'accuracy':15}{report['accuracy']:30.4f}{report['n']:10d}",
              f"{'macro-F1':15}{report['macro_f1']:30.4f}", "", "confusion (rows gold, columns predicted):",
              " " * 15 + "".join(f"{n[:13]:>14}" for n in names)]
    for name, row in zip(names, report["confusion"]["matrix"]):
        lines.append(f"{name:15}" + "".join(f"{v:14d}" for v in row))
    fitted = report.get("temperature_fitted_on")
    lines += ["", f"ECE {report['ece']:.4f} raw, {report['ece_calibrated']:.4f} at T={report['temperature']:.3f}"
              + (f" (fitted on {fitted})" if fitted else " (no dev file to fit T on)")
              + f"; a calibrated model would show {report['ece_floor']:.4f} on {report['n']} pairs",
              f"gate mean {report['gate']['mean']:.3f}"
              + (f", linked {report['gate']['mean_linked']:.3f}" if report["gate"]["mean_linked"] is not None else "")
              + (f", unlinked {report['gate']['mean_unlinked']:.3f}" if report["gate"]["mean_unlinked"] is not None else "")]
    for p in report.get("plots", []):
        lines.append(f"wrote {p}")
    return "\n".join(lines)


@app.command("nli")
@handle_errors
def eval_nli_cli(
    path: Path = typer.Argument(..., help="Gold JSONL: {\"premise\", \"hypothesis\", \"label\"} per line; labels entailment/neutral/contradiction, or entailment/not_entailment (scored as binary)."),
    kg: Path | None = KG_OPTION,
    model: Path | None = typer.Option(None, "--model", help="A trained NLI model (default: the shipped one)."),
    mode: str = typer.Option("fused", "--mode", help="fused, neural, symbolic or no-gnn (ablations)."),
    dev: Path | None = typer.Option(None, "--dev", help="Where the temperature is fitted (default: dev.jsonl beside FILE)."),
    plots: Path | None = typer.Option(None, "--plots", help="Write reliability.png and confusion.png here."),
    max_pairs: int | None = typer.Option(None, "--max-pairs", min=1, help="Score only the first N pairs."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Per-class precision/recall/F1, accuracy, confusion matrix and calibration (ECE) of NLI on FILE."""
    if mode not in NLI_MODES:
        fail(f"--mode must be one of {', '.join(NLI_MODES)}, not {mode!r}")
    report = eval_nli(path, kg, model, mode, dev, plots, max_pairs, progress=not (quiet or json_out))
    if json_out:
        print_json(report)
    else:
        typer.echo(render_nli(report))


__all__ = ["app", "eval_re", "eval_nli"]

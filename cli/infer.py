"""``kgnlu infer``: entailment, neutral or contradiction for premise/hypothesis pairs, with proofs."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from kgnlu.cli._common import (KG_OPTION, RAY_OPTION, StageProgress, check_ray, fail, handle_errors, in_batches, print_json,
                               read_batch)


def infer(pairs: list[tuple[str, str]], kg: Path | None = None, symbolic_only: bool = False, progress=None,
          model: Path | None = None, dense: bool | None = None, encoder: Path | None = None, ray: str | None = None,
          journal: Path | None = None):
    """Plain function behind the command: one ``InferResult`` per pair (batched through the model).
    ``dense`` None links as the model was trained (``Engine``'s default). ``ray``: run on the Ray
    cluster at that address ("": the local one), resuming from ``journal`` (``kgnlu.scale.ray_map``)."""
    from kgnlu.api import Engine

    progress = progress or (lambda _: None)
    engine = Engine(kg, model, dense=dense, encoder=encoder)
    engine.linker(progress)  # with --ray too: the KG and the linker's files are built once, before the workers
    if ray is not None:
        from kgnlu.scale import ray_map

        engine.close()
        options = {"kg": engine.kg_dir, "model": model, "dense": dense, "encoder": encoder, "symbolic_only": symbolic_only}
        return ray_map("infer", pairs, options, ray or None, progress, journal=journal)
    if not symbolic_only:
        engine.nli_predictor(progress)
    return in_batches(pairs, lambda batch: engine.infer_many(batch, symbolic_only=symbolic_only), progress,
                      "inferring")


@handle_errors
def infer_cli(
    premise: str | None = typer.Option(None, "--premise", "-p", help="The premise text."),
    hypothesis: str | None = typer.Option(None, "--hypothesis", "-H", help="The hypothesis text."),
    kg: Path | None = KG_OPTION,
    input_file: Path | None = typer.Option(None, "--input", "-i", help="Batch: JSONL with {\"premise\", \"hypothesis\"} per line."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write one JSON result per line here (default stdout)."),
    model: Path | None = typer.Option(None, "--model", help="A trained NLI model directory (default: the shipped one)."),
    dense: bool = typer.Option(False, "--dense", help="Also link through the faiss index of lexicon embeddings (built on first use) a premise or "
                               "hypothesis that is one term. By default, infer links as its model "
                               "was trained (the shipped model: lexicon and phrase rewriting)."),
    encoder: Path | None = typer.Option(None, "--encoder", help="With --dense: a sentence-transformers model folder (e.g. all-mpnet-base-v2) "
                                        "for dense linking instead of MiniLM + the shipped adapter."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Batch: skip bad input lines (reported on stderr) instead of stopping."),
    symbolic_only: bool = typer.Option(False, "--symbolic-only", help="Answer from the KG rules alone (unknown reads as neutral)."),
    explain: bool = typer.Option(False, "--explain", help="Print the proofs in readable form."),
    json_out: bool = typer.Option(False, "--json", help="Print the result contract as JSON, one line per pair."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    ray: str | None = RAY_OPTION,
) -> None:
    """Does the premise entail, contradict, or leave open the hypothesis? With the proofs it rests on."""
    if encoder is not None and not dense:
        fail("--encoder is the dense linker's: add --dense")
    check_ray(ray, input_file)
    if output is not None and output.is_dir():
        fail(f"--output {output}: is a directory; give a file")
    if output is not None and not output.parent.is_dir():
        fail(f"--output {output}: its folder does not exist")
    if input_file is not None:
        if premise is not None or hypothesis is not None:
            fail("give --premise/--hypothesis or --input, not both")
        bad: list[tuple[int, str]] = []
        from kgnlu.api import Engine

        pairs = [(r["premise"], r["hypothesis"])
                 for r in read_batch(input_file, ("premise", "hypothesis"), skip_bad=skip_bad, bad=bad,
                                     validate=lambda r: Engine.check_pair(r["premise"], r["hypothesis"]))]
        for n, reason in bad:
            typer.echo(f"skipped line {n}: {reason}", err=True)
        if not pairs:
            fail(f"{input_file}: no good lines ({len(bad)} skipped)")
    else:
        if premise is None or hypothesis is None:
            fail("give both --premise and --hypothesis (or --input FILE)")
        from kgnlu.api import Engine

        pairs = [Engine.check_pair(premise, hypothesis)]  # before the KG and the model load
    # A batch run reports progress on stderr even with --json: stdout carries only the results.
    with StageProgress(enabled=not quiet and (input_file is not None or not json_out)) as progress:
        # with --output, a Ray run keeps its finished chunks beside it until done: a rerun resumes from them
        journal = output.with_name(output.name + ".ray-journal") if ray is not None and output is not None else None
        results = infer(pairs, kg, symbolic_only, progress, model, True if dense else None, encoder, ray, journal)
    # --explain's reading goes to stderr when stdout carries the JSON: each stdout line stays one
    # result, as the service and Engine.infer(...).to_dict() give it (and as extract --json --explain does)
    readable_to_stderr = output is None and (input_file is not None or json_out)
    if input_file is not None or json_out or output is not None:
        lines = [json.dumps(r.to_dict(), ensure_ascii=False) for r in results]
        if output is not None:
            tmp = output.with_name(output.name + ".part")
            tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            tmp.replace(output)
            if journal is not None:
                journal.unlink(missing_ok=True)
        else:
            for r in results:
                print_json(r.to_dict())
        if not explain:
            return

    def echo(line: str) -> None:
        typer.echo(line, err=readable_to_stderr)

    for r in results:
        probs = "  ".join(f"{k} {v:.3f}" for k, v in r.probabilities.items())
        echo(f"{r.label}  ({probs}; gate {r.gate:.2f}, symbolic: {r.symbolic.verdict})")
        if explain:
            if r.neural.get("probabilities"):
                neural = "  ".join(f"{k} {v:.3f}" for k, v in r.neural["probabilities"].items())
                echo(f"  neural:    {neural}")
            elif r.neural.get("note"):
                echo(f"  neural:    ({r.neural['note']})")
            for e in r.entities:
                echo(f"  {e['side']:10} {'NOT ' if e['negated'] else ''}{e['text']!r} -> {e['label'] or e['iri']}  ({e['score']:.2f})")
            for line in r.symbolic.explanation or ["no proof: the KG decides nothing here"]:
                echo(f"  proof: {line}")

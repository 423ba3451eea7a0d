"""``kgnlu extract TEXT``: the relations a text states between the KG concepts it mentions."""

from __future__ import annotations

from pathlib import Path

import typer

from kgnlu.cli._common import (KG_OPTION, RAY_OPTION, TEXTS_INPUT_OPTION, StageProgress, check_ray, fail, handle_errors,
                               in_batches, print_json, texts_from)


def extract(texts: list[str], kg: Path | None = None, threshold: float | None = None, model: Path | None = None,
            add_to_kg: bool = False, min_score: float = 0.8, untrained: bool = False, progress=None,
            ray: str | None = None, dense: bool | None = None):
    """Plain function behind the command: ``(results, write-back result or None)``. ``ray``: on the
    Ray cluster at that address ("": the local one). ``dense`` None links as ``Engine`` does by
    default (as the NLI model was trained), as ``kgnlu serve`` without ``--dense`` does."""
    from kgnlu.api import Engine

    progress = progress or (lambda _: None)
    engine = Engine(kg, dense=dense)
    extractor = engine.relation_extractor(model, progress, untrained=untrained)
    progress("extracting relations")
    if ray is not None:
        from kgnlu.scale import ray_map

        options = {"kg": engine.kg_dir, "model": model, "threshold": threshold, "untrained": untrained, "dense": dense}
        results = ray_map("extract", texts, options, ray or None, progress)
    else:
        results = in_batches(texts, lambda batch: extractor.extract_many(batch, threshold), progress, "extracting")
    written = None
    if add_to_kg:
        rels = [r for res in results for r in res.relations]
        written = engine.add_extracted(rels, min_score, extractor.model_name, progress)
    return results, written


def _render_step(step: dict, labels: dict[str, str]) -> str:
    def name(x: str) -> str:
        return labels.get(x) or x.rsplit("#", 1)[-1].rsplit("/", 1)[-1]

    pred = step["predicate"]
    subj, obj = step["subject"], step["object"]
    if pred.startswith("^"):
        subj, obj, pred = obj, subj, pred[1:]
    neg = pred.startswith("¬")
    pred = pred.lstrip("¬")
    short = {"rdfs:subClassOf": "⊑", "owl:equivalentClass": "≡", "owl:disjointWith": "disjoint with",
             "rdf:type": "∈", "rdfs:range": "has range", "rdfs:domain": "has domain"}.get(pred, name(pred))
    cited = f"{step['source']}: {step['note']}" if step.get("note") else step["source"]
    return f"{name(subj)} {'NOT ' if neg else ''}{short} {name(obj)} ({cited})"


@handle_errors
def extract_cli(
    text: str | None = typer.Argument(None, help="Text to read (or use --input)."),
    kg: Path | None = KG_OPTION,
    input_file: Path | None = TEXTS_INPUT_OPTION,
    threshold: float | None = typer.Option(None, "--threshold", min=0.0, max=1.0, help="Least score of a reported relation (default 0.5)."),
    model: Path | None = typer.Option(None, "--model", help="A trained relation model directory (default: the shipped one)."),
    untrained: bool = typer.Option(False, "--untrained", help="Score by KG standing and co-occurrence only (no model, no torch)."),
    add_to_kg: bool = typer.Option(False, "--add-to-kg", help="Write the novel relations into the KG source 'extracted' (undo: kgnlu kg remove --source extracted)."),
    min_score: float = typer.Option(0.8, "--min-score", min=0.0, max=1.0, help="With --add-to-kg: least score of a written relation."),
    dense: bool = typer.Option(False, "--dense", help="Also link through the faiss index of lexicon embeddings "
                               "(built on first use) a text that is one term, as `kgnlu serve --dense` answers "
                               "/v1/extract."),
    explain: bool = typer.Option(False, "--explain", help="Print each relation's proof against the KG."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per text (and one for --add-to-kg)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    ray: str | None = RAY_OPTION,
) -> None:
    """Find the relations a text states between KG concepts: score, polarity, evidence and KG standing."""
    texts = texts_from(text, input_file)
    check_ray(ray, input_file)
    with StageProgress(enabled=not quiet and (input_file is not None or not json_out)) as progress:
        if untrained and model is not None:
            fail("give --model or --untrained, not both")
        results, written = extract(texts, kg, threshold, model, add_to_kg, min_score, untrained, progress, ray,
                                   True if dense else None)
    for t, res in zip(texts, results):
        if json_out:
            print_json(res.to_dict())
            continue
        if len(texts) > 1:
            typer.echo(f"# {t[:200]}")
        if not res.relations:
            typer.echo("(no relations)")
        labels = {}
        for r in res.relations:
            labels.update({r.subject["iri"]: r.subject["label"], r.object["iri"]: r.object["label"],
                           r.predicate["iri"]: r.predicate["label"]})
            neg = ("NOT " if r.negated else "") + ("MAYBE " if r.hedged else "")  # as ``kgnlu link`` marks them
            typer.echo(f"{r.subject['label'] or r.subject['text']} {neg}{r.predicate['name']} "
                       f"{r.object['label'] or r.object['text']}  {r.score:.3f}  {r.status} [{r.rule}]  gate {r.gate:.2f}")
            if explain:
                typer.echo(f"    evidence: {r.evidence['sentence']!r}")
                for step in r.proof:
                    typer.echo(f"    proof: {_render_step(step, labels)}")
    if not json_out and results:
        typer.echo(f"(scorer: {results[0].model})", err=True)
    if written is not None:
        if json_out:
            print_json({"added_to_kg": written.to_dict()})
        else:
            typer.echo(f"added {len(written.added)} triple(s) to source {written.source!r} "
                       f"({written.total} in all); skipped {len(written.skipped)}")
            for s in written.skipped:
                d = s["triple"]
                neg = ("NOT " if d.get("negated") else "") + ("MAYBE " if d.get("hedged") else "")
                typer.echo(f"  skipped {d.get('subject_label') or d['subject']} {neg}{d.get('predicate_name')} "
                           f"{d.get('object_label') or d['object']}: {s['reason']}")
        if written.error:
            fail(written.error.splitlines()[0], 3)


__all__ = ["extract", "extract_cli"]

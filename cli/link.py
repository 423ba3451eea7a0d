"""``kgnlu link TEXT``: the KG concepts a text mentions, with polarity."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from kgnlu.cli._common import (KG_OPTION, RAY_OPTION, TEXTS_INPUT_OPTION, StageProgress, check_ray, fail, handle_errors,
                               in_batches, print_json, texts_from)



def link(texts: list[str], kg: Path | None = None, top_k: int = 0, dense: bool | None = None, progress=None,
         encoder: Path | None = None, branches: list[str] | None = None, nested: bool = False, ray: str | None = None,
         curation: str | Path | None = "auto"):
    """Plain function behind the command: one list of ``Mention`` per text. ``dense`` None links
    as ``Engine`` does by default (as the NLI model was trained); ``branches`` and ``curation`` as
    ``Engine``; ``ray``: on the Ray cluster at that address ("": the local one)."""
    from kgnlu.api import Engine

    progress = progress or (lambda _: None)
    engine = Engine(kg, dense=dense, encoder=encoder, curation=curation)
    engine.linker(progress).scope(branches)  # a bad branch fails before any text is linked
    if ray is not None:
        from kgnlu.scale import ray_map

        engine.close()
        options = {"kg": engine.kg_dir, "dense": dense, "encoder": encoder, "top_k": top_k, "branches": branches, "nested": nested,
                   "curation": curation}
        return ray_map("link", texts, options, ray or None, progress)
    return in_batches(texts, lambda batch: engine.link_many(batch, top_k=top_k, branches=branches, nested=nested), progress, "linking")


@handle_errors
def link_cli(
    text: str | None = typer.Argument(None, help="Text to link (or use --input)."),
    kg: Path | None = KG_OPTION,
    input_file: Path | None = TEXTS_INPUT_OPTION,
    top_k: int = typer.Option(0, "--top-k", "-k", min=0, max=50, help="Also list the top K candidates per mention."),
    dense: bool = typer.Option(False, "--dense", help="Also retrieve through the faiss index of lexicon embeddings (MiniLM + the shipped "
                               "adapter, a calibrated NIL threshold; built on first use) a text that is one term, "
                               "such as a query; never words inside running text."),
    lexicon_only: bool = typer.Option(False, "--lexicon-only", help="No dense retrieval: lexicon matches and phrase rewriting only (the default)."),
    encoder: Path | None = typer.Option(None, "--encoder", help="A sentence-transformers model folder (e.g. all-mpnet-base-v2) "
                                        "for dense retrieval instead of MiniLM + the shipped adapter (the lexicon is embedded with it on first use)."),
    only: str | None = typer.Option(None, "--only", help="Link only to these branches, comma-separated: source names "
                                    "(hpo, mondo), shortcuts (hpo:phenotype) or subtree roots as CURIE/IRI (HP:0000118)."),
    nested: bool = typer.Option(False, "--nested", help="Also the terms inside longer ones (\"schwannoma\" in \"vestibular schwannoma\")."),
    curation: str = typer.Option("auto", "--curation", help="Which candidates to keep: auto (the shipped model, learned "
                                 "from curated PubMed abstracts, where the KG holds HPO), none, or a model directory "
                                 "(kgnlu train curation)."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per text."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    ray: str | None = RAY_OPTION,
) -> None:
    """Find the KG concepts a text mentions: lexicon matches, dense retrieval, negation scope."""
    texts = texts_from(text, input_file)
    check_ray(ray, input_file)
    if encoder is not None and lexicon_only:
        fail("--encoder needs dense retrieval: drop --lexicon-only")
    if dense and lexicon_only:
        fail("give --dense or --lexicon-only, not both")
    with StageProgress(enabled=not quiet and (input_file is not None or not json_out)) as progress:
        branches = [b.strip() for b in only.split(",") if b.strip()] if only is not None else None
        results = link(texts, kg, top_k, True if dense else (False if lexicon_only else None), progress, encoder, branches, nested, ray,
                       None if curation == "none" else curation)
    for t, mentions in zip(texts, results):
        if json_out:
            print_json({"text": t, "mentions": [m.to_dict() for m in mentions]})  # as Engine and the service give it
            continue
        if len(texts) > 1:
            typer.echo(f"# {t}")
        if not mentions:
            typer.echo("(no mentions)")
        for m in mentions:
            sign = ("NOT " if m.negated else "") + ("MAYBE " if m.hedged else "")
            whose = f"  (of the {m.experiencer})" if m.experiencer else ""
            typer.echo(f"{m.start:>4}-{m.end:<4} {m.text!r:30} {sign}{m.label or m.iri}  <{m.iri}>  {m.score:.3f} "
                       f"{m.via}{whose}")
            for q in m.modifiers:
                typer.echo(f"            + {q['label'] or q['iri']}  <{q['iri']}>  ({q['text']!r})")
            for c in m.candidates:
                typer.echo(f"            {c.score:.3f} {c.label or c.iri}  <{c.iri}>  ({c.via}: {c.matched!r}, {c.kind})")


__all__ = ["link", "link_cli", "json"]

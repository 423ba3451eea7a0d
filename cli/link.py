"""``kgnlu link TEXT``: the KG concepts a text mentions, with polarity."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from kgnlu.cli._common import KG_OPTION, TEXTS_INPUT_OPTION, StageProgress, fail, handle_errors, print_json, texts_from



def link(texts: list[str], kg: Path | None = None, top_k: int = 0, dense: bool = True, progress=None,
         encoder: Path | None = None):
    """Plain function behind the command: one list of ``Mention`` per text."""
    from kgnlu.api import Engine

    engine = Engine(kg, dense=dense, encoder=encoder)
    engine.linker(progress or (lambda _: None))
    return engine.link_many(texts, top_k=top_k)


@handle_errors
def link_cli(
    text: str | None = typer.Argument(None, help="Text to link (or use --input)."),
    kg: Path | None = KG_OPTION,
    input_file: Path | None = TEXTS_INPUT_OPTION,
    top_k: int = typer.Option(0, "--top-k", "-k", min=0, max=50, help="Also list the top K candidates per mention."),
    lexicon_only: bool = typer.Option(False, "--lexicon-only", help="No dense retrieval: exact lexicon matches only (no model load)."),
    encoder: Path | None = typer.Option(None, "--encoder", help="A sentence-transformers model folder (e.g. all-mpnet-base-v2) "
                                        "for dense retrieval instead of MiniLM + the shipped adapter (the lexicon is embedded with it on first use)."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per text."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
) -> None:
    """Find the KG concepts a text mentions: lexicon matches, dense retrieval, negation scope."""
    texts = texts_from(text, input_file)
    if encoder is not None and lexicon_only:
        fail("--encoder needs dense retrieval: drop --lexicon-only")
    with StageProgress(enabled=not (quiet or json_out)) as progress:
        results = link(texts, kg, top_k, not lexicon_only, progress, encoder)
    for t, mentions in zip(texts, results):
        if json_out:
            print_json({"text": t, "mentions": [m.to_dict() if top_k else _drop_candidates(m.to_dict()) for m in mentions]})
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
            for c in m.candidates:
                typer.echo(f"            {c.score:.3f} {c.label or c.iri}  <{c.iri}>  ({c.via}: {c.matched!r}, {c.kind})")


def _drop_candidates(d: dict) -> dict:
    d.pop("candidates", None)
    return d


__all__ = ["link", "link_cli", "json"]

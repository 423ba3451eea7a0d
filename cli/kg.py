"""``kgnlu kg ...``: build the default KG, inspect it, query it, remove sources."""

from __future__ import annotations

from pathlib import Path

import typer

from kgnlu.api import default_kg_sources
from kgnlu.cli._common import KG_OPTION, TYPER_SETTINGS, StageProgress, handle_errors, print_json

app = typer.Typer(help="Build, inspect, query and edit the knowledge graph.", **TYPER_SETTINGS)
# From the registry init builds from, so that the help cannot fall behind a new source.
INIT_HELP = "Build the embedded medical KG from packaged data: " + "; ".join(
    f"{name} ({what})" for name, what in default_kg_sources().items()) + "."


def init(kg: Path | None = None, progress=None, embed: bool = True):
    from kgnlu.api import Engine

    return Engine(kg, dense=embed).init_default_kg(progress=progress or (lambda _: None))


def stats(kg: Path | None = None):
    from kgnlu.api import Engine

    return Engine(kg).stats()


def query(sparql: str, kg: Path | None = None):
    from kgnlu.api import Engine

    return Engine(kg).query(sparql)


def remove(source: str, kg: Path | None = None, progress=None):
    from kgnlu.api import Engine

    return Engine(kg).remove_source(source, progress=progress or (lambda _: None))


@app.command("init", help=INIT_HELP)
@handle_errors
def init_cli(kg: Path | None = KG_OPTION, json_out: bool = typer.Option(False, "--json"),
             embed: bool = typer.Option(True, "--embed/--no-embed", help="Embed the lexicon for dense linking now (minutes on CPU), or leave it to the first `kgnlu link`.")) -> None:
    with StageProgress(enabled=not json_out) as progress:
        result = init(kg, progress, embed)
    if json_out:
        print_json(result.to_dict())
        return
    for s in result.sources:
        typer.echo(f"{s.status:9} {s.name:10} {s.triples if s.triples is not None else '':>9} triples")
    typer.echo(f"KG {result.kg}: {result.counts.get('triples')} triples, {result.counts.get('classes')} classes")


@app.command("stats")
@handle_errors
def stats_cli(kg: Path | None = KG_OPTION, json_out: bool = typer.Option(False, "--json")) -> None:
    """Sources, triples, classes, properties, individuals, reasoner used and timings."""
    s = stats(kg)
    if json_out:
        print_json(s.to_dict())
        return
    typer.echo(f"KG          {s.kg} ({s.generation}, manifest {s.manifest_hash})")
    typer.echo(f"triples     {s.triples}")
    deprecated = f" ({s.counts['deprecated']} deprecated)" if s.counts.get("deprecated") else ""
    typer.echo(f"classes     {s.classes}{deprecated}")
    typer.echo(f"properties  {s.object_properties} object, {s.data_properties} data, {s.annotation_properties} annotation")
    typer.echo(f"individuals {s.individuals}")
    c = s.counts
    typer.echo(f"closure     {c.get('subclass_edges', 0)} subclass edges ({c.get('inferred_subclass_edges', 0)} inferred), "
               f"{c.get('ancestor_pairs', 0)} ancestor pairs, {c.get('equivalent_pairs', 0)} equivalences, "
               f"{c.get('disjoint_pairs', 0)} disjoint pairs, {c.get('relations', 0)} class relations")
    typer.echo(f"lexicon     {c.get('lexicon_entries', 0)} entries, {c.get('definitions', 0)} definitions")
    r = s.reasoner or {}
    typer.echo(f"reasoner    {r.get('name')} ({r.get('why')}), {r.get('seconds')} s")
    typer.echo("timings     " + ", ".join(f"{k} {v}s" for k, v in s.timings.items()))
    typer.echo("sources:")
    for src in s.sources:
        typer.echo(f"  {src.name:20} {src.triples:>9} triples  {src.format:8} {src.ingested_at}  {src.sha256[:12]}  {src.path}")


@app.command("query")
@handle_errors
def query_cli(sparql: str = typer.Argument(..., help="A SPARQL query."), kg: Path | None = KG_OPTION,
              json_out: bool = typer.Option(False, "--json"),
              limit: int = typer.Option(1000, "--limit", help="Show at most this many rows (table view).")) -> None:
    """Run a SPARQL query over the KG; print a table, or JSON with --json."""
    res = query(sparql, kg)
    if json_out:
        print_json(res.to_dict())
        return
    rows = [[("" if v is None else str(v)) for v in row] for row in res.rows[:limit]]
    widths = [min(60, max([len(v)] + [len(r[i]) for r in rows])) for i, v in enumerate(res.variables)]
    typer.echo("  ".join(v.ljust(w) for v, w in zip(res.variables, widths)))
    typer.echo("  ".join("-" * w for w in widths))
    for r in rows:
        typer.echo("  ".join(c[:60].ljust(w) for c, w in zip(r, widths)))
    more = f" (showing {limit})" if len(res.rows) > limit else ""
    typer.echo(f"{len(res.rows)} row(s){more}")


@app.command("remove")
@handle_errors
def remove_cli(source: str = typer.Option(..., "--source", help="Name of the source to remove (see `kgnlu kg stats`)."),
               kg: Path | None = KG_OPTION, json_out: bool = typer.Option(False, "--json")) -> None:
    """Remove one ingested source and the inferences that depended on it."""
    with StageProgress(enabled=not json_out) as progress:
        r = remove(source, kg, progress)
    if json_out:
        print_json(r.to_dict())
        return
    typer.echo(f"removed {r.removed}: {r.triples_removed} triples; KG now has {r.counts.get('triples')} triples")
    if r.extracted_dropped:
        left = f"{r.extracted_left} left" if r.extracted_left else "none left: the source is removed"
        typer.echo(f"dropped {r.extracted_dropped} extracted relation(s) about classes no remaining source has "
                   f"(source 'extracted', {left}; --json lists them)")

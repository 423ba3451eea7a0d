"""``kgnlu ingest PATH...``: load ontologies into the KG and classify it."""

from __future__ import annotations

from pathlib import Path

import typer

from kgnlu.cli._common import KG_OPTION, StageProgress, handle_errors, print_json



def ingest(paths: list[Path], kg: Path | None = None, fmt: str | None = None, reasoner: str | None = None,
           name: str | None = None, imports: Path | None = None, progress=None, embed: bool = True,
           store: str | None = None):
    """Plain function behind the command: returns an ``IngestResult``."""
    from kgnlu.api import Engine

    return Engine(kg, dense=embed).ingest(paths, fmt=fmt, reasoner=reasoner, name=name, imports_dir=imports,
                             progress=progress or (lambda _: None), store=store)


@handle_errors
def ingest_cli(
    paths: list[Path] = typer.Argument(..., help="Ontology files: RDF/XML, OWL/XML, Turtle, N-Triples, JSON-LD or OBO, optionally .gz."),
    kg: Path | None = KG_OPTION,
    fmt: str | None = typer.Option(None, "--format", "-f", help="rdfxml, owlxml, turtle, ntriples, jsonld or obo (default: sniff, then suffix)."),
    reasoner: str | None = typer.Option(
        None, "--reasoner", "-r", show_default=False,
        help="auto, hermit, pellet, rl, structural or none (default: the one the KG was built with, as its "
             "manifest records it; auto for a new KG)."),
    name: str | None = typer.Option(None, "--name", help="Source name, for one file (default: the file name without "
                                    "suffixes; files given together need distinct names)."),
    imports: Path | None = typer.Option(
        None, "--imports", help="Directory to resolve owl:imports from: by its catalog-v001.xml, by the ontology "
                                "IRIs its files declare, then by file name; URLs are never fetched."),
    store: str | None = typer.Option(None, "--store", help="A SPARQL 1.1 endpoint URL to keep the triples in (e.g. an Oxigraph server); the KG's first ingest fixes it."),
    embed: bool = typer.Option(True, "--embed/--no-embed", help="Embed new lexicon entries for dense linking (or leave it to the first `kgnlu link`)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
) -> None:
    """Ingest ontologies into the KG: parse, load, classify, build the lookup tables and lexicon."""
    with StageProgress(enabled=not (quiet or json_out)) as progress:
        result = ingest(paths, kg, fmt, reasoner, name, imports, progress, embed, store)
    if json_out:
        print_json(result.to_dict())
        return
    for s in result.sources:
        detail = f"{s.triples} triples, {s.format}" if s.status != "unchanged" else "same sha256 as before"
        typer.echo(f"{s.status:9} {s.name:20} {detail}")
        for iri in s.imports_not_fetched:
            if imports is None:
                typer.echo(f"          owl:imports {iri} not fetched (use --imports DIR to resolve it locally)")
            else:
                typer.echo(f"          owl:imports {iri} not fetched: not found in {imports} "
                           "(by catalog, ontology IRI or file name)")
    if result.extracted_dropped_axioms:
        typer.echo(f"dropped {len(result.extracted_dropped_axioms)} extracted relation(s) about classes the new "
                   "version no longer has (source 'extracted'; --json lists them)")
    if not result.changed:
        typer.echo(f"KG unchanged: {result.kg}")
        return
    r, c = result.reasoner or {}, result.counts
    typer.echo(f"reasoner  {r.get('name')} ({r.get('why')}), {r.get('seconds')} s")
    typer.echo(f"KG        {result.kg}: {c.get('triples')} triples, {c.get('classes')} classes, "
               f"{c.get('individuals')} individuals, {c.get('lexicon_entries')} lexicon entries")

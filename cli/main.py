"""The ``kgnlu`` command. Heavy modules are imported inside commands so that --help is instant."""

from __future__ import annotations

import typer

from kgnlu.cli import eval as eval_cmd
from kgnlu.cli import extract as extract_cmd
from kgnlu.cli import infer as infer_cmd
from kgnlu.cli import ingest as ingest_cmd
from kgnlu.cli import kg as kg_cmd
from kgnlu.cli import link as link_cmd
from kgnlu.cli import serve as serve_cmd
from kgnlu.cli import train as train_cmd
from kgnlu.cli._common import EXIT_INTERRUPTED, TYPER_SETTINGS, optional_values

app = typer.Typer(
    name="kgnlu",
    help="Knowledge-graph-augmented NLI, entity linking and relation extraction, with proofs.",
    add_completion=False,
    pretty_exceptions_enable=False,
    **TYPER_SETTINGS,
)


def _print_version(value: bool) -> None:
    # An eager option callback runs while parsing, before click asks for a command.
    if value:
        from kgnlu import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True,
                                 callback=_print_version, expose_value=False),
) -> None:
    pass


app.command("infer")(infer_cmd.infer_cli)
app.command("ingest")(ingest_cmd.ingest_cli)
app.command("link")(link_cmd.link_cli)
app.command("extract")(extract_cmd.extract_cli)
app.command("serve")(serve_cmd.serve_cli)
app.add_typer(kg_cmd.app, name="kg")
app.add_typer(train_cmd.app, name="train")
app.add_typer(eval_cmd.app, name="eval")


def main() -> None:
    import sys

    try:
        from typer._click import exceptions as click  # typer >= 0.20 carries its own click
    except ImportError:
        from click import exceptions as click

    try:
        code = app(args=optional_values(sys.argv[1:]), standalone_mode=False)
    except click.UsageError as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # a command given nothing: its help, as click shows it
            e.show()
            sys.exit(e.exit_code)
        # an option out of range, a typo: one line, as every other bad input ("error: ...", exit 2),
        # rather than click's usage, hint and "Error:" lines
        where = e.ctx.command_path if e.ctx is not None else "kgnlu"
        print(f"error: {' '.join(e.format_message().split())} (see '{where} -h')", file=sys.stderr)
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except typer.Abort:  # Ctrl-C outside a command's own handling (click turns it into Abort)
        print("error: interrupted; nothing was changed", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

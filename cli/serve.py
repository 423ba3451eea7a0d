"""``kgnlu serve``: the HTTP service (``kgnlu.service``) on uvicorn."""

from __future__ import annotations

from pathlib import Path

import typer

from kgnlu.cli._common import KG_OPTION, fail, handle_errors

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve_settings(kg: Path | None = None, model: Path | None = None, dense: bool | None = None, api_key: str | None = None,
                   max_items: int = 64, max_chars: int = 10_000, batch_size: int = 32, batch_wait_ms: float = 10.0,
                   threads: int | None = None, workers: int = 1, docs: bool = True, curation: str | None = "auto",
                   encoder: Path | None = None):
    """Plain function behind the command: the checked settings of every worker (``ServeSettings``).
    A missing KG, model, curation model or encoder is a one-line error here, before any worker starts.
    ``curation`` and ``encoder`` as ``Engine`` and ``kgnlu link`` take them (an encoder links densely)."""
    from kgnlu.api import Engine
    from kgnlu.service import ServeSettings

    if api_key is not None and not api_key.strip():
        fail("the API key is empty: give a key or leave --api-key (and $KGNLU_API_KEY) unset")
    engine = Engine.load(kg=kg, model=model, dense=dense, curation=curation, encoder=encoder)
    engine.kg_manifest()  # never build the default KG behind a server's back
    engine.nli_model_path()
    if curation not in (None, "auto"):
        engine.curator()  # a folder without a curation model
        curation = str(Path(curation).resolve())  # as the workers, whatever their directory, find it
    if encoder is not None:
        engine.encoder()  # a folder that is not a sentence-transformers model
        encoder = Path(encoder).resolve()
    engine.close()
    return ServeSettings(kg=str(engine.kg_dir), model=str(model) if model else None, dense=dense, curation=curation,
                         encoder=str(encoder) if encoder else None, api_key=api_key,
                         max_items=max_items, max_chars=max_chars, batch_size=batch_size, batch_wait_ms=batch_wait_ms,
                         torch_threads=threads, workers=workers, docs=docs)


@handle_errors
def serve_cli(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port to listen on."),
    kg: Path | None = KG_OPTION,
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes, each with its own Engine."),
    model: Path | None = typer.Option(None, "--model", help="A trained NLI model directory (default: the shipped one)."),
    dense: bool = typer.Option(False, "--dense", help="Also link through the faiss index (as `kgnlu infer --dense` "
                               "and `kgnlu link --dense`)."),
    encoder: Path | None = typer.Option(None, "--encoder", help="A sentence-transformers model folder for dense "
                                        "linking instead of MiniLM + the shipped adapter (implies --dense), as "
                                        "`kgnlu link --encoder` and `kgnlu infer --dense --encoder`."),
    curation: str = typer.Option("auto", "--curation", help="Which candidates /v1/link keeps, as `kgnlu link "
                                 "--curation`: auto (the shipped model, where the KG holds HPO), none, or a model "
                                 "directory (kgnlu train curation)."),
    api_key: str | None = typer.Option(None, "--api-key", envvar="KGNLU_API_KEY", show_envvar=True,
                                       help="Require 'Authorization: Bearer KEY' on /v1/infer, /v1/link, /v1/extract "
                                       "and /v1/info. The probes (/healthz, /readyz) and the docs (/docs, "
                                       "/docs-assets, /openapi.json) stay open: a browser cannot send the key to "
                                       "load them, and the docs' Authorize button takes it; --no-docs turns them "
                                       "off."),
    max_items: int = typer.Option(64, "--max-items", min=1, help="Most items in one request."),
    max_chars: int = typer.Option(10_000, "--max-chars", min=1, max=100_000, help="Most characters in one text."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Most items in one batch through the model."),
    batch_wait_ms: float = typer.Option(10.0, "--batch-wait-ms", min=0.0, max=1000.0,
                                        help="How long an item that finds the engine idle waits for others to "
                                        "batch with; while the engine is busy, items gather anyway."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="torch threads per worker (default: cores / workers - 1, at least 1)."),
    docs: bool = typer.Option(True, "--docs/--no-docs", help="Serve /docs and /openapi.json (offline Swagger UI), "
                              "open even with --api-key: they describe the API and call it only with the key."),
    log_level: str = typer.Option("info", "--log-level", help="critical, error, warning, info or debug."),
    ray: str | None = typer.Option(None, "--ray", metavar="[ADDRESS]",
                                   help="Serve on Ray Serve (needs kgnlu[scale]), one Engine per replica: --ray alone "
                                   "joins the local Ray cluster, or starts it; --ray ADDRESS joins that one."),
    replicas: int | None = typer.Option(None, "--replicas", min=1, help="With --ray: replicas, each with its own Engine (default 1)."),
) -> None:
    """Serve infer, link and extract over HTTP (FastAPI): /v1/infer, /v1/link, /v1/extract, /v1/info, /docs."""
    from kgnlu.service import run

    if replicas is not None and ray is None:
        fail("--replicas is for --ray (without Ray, --workers)")
    if ray is not None:
        if workers != 1:
            fail("with --ray, give --replicas rather than --workers")
        from kgnlu.scale import require_ray

        require_ray()
        workers = replicas or 1
    if log_level not in ("critical", "error", "warning", "info", "debug"):
        fail(f"--log-level {log_level!r}: expected critical, error, warning, info or debug")
    settings = serve_settings(kg, model, True if dense else None, api_key, max_items, max_chars, batch_size, batch_wait_ms, threads,
                              workers, docs, None if curation == "none" else curation, encoder)
    if host not in LOOPBACK and not settings.api_key:
        typer.echo(f"warning: serving on {host} without --api-key: anyone who can reach it can call it", err=True)
    if ray is not None:
        from kgnlu.scale_serve import run as run_on_ray

        run_on_ray(settings, host, port, ray or None, workers, lambda line: typer.echo(line, err=True))
        return
    run(settings, host, port, log_level)


__all__ = ["serve_settings", "serve_cli"]

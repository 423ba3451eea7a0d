"""A real Oxigraph SPARQL server for the tests of ``kg.sparql_store``: one per test session, on a
free local port, killed at the end. Tests that need it are skipped (with the reason) where the
``oxigraph`` binary is not installed (``pip install oxigraph``, in the dev extra). And Brick, the
real ontology several KG tests read."""

from __future__ import annotations

import importlib.resources
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def brick_ttl() -> Path:
    """Brick 1.4's Turtle file from the ``brickschema`` package (skips the test without it)."""
    pytest.importorskip("brickschema")
    p = importlib.resources.files("brickschema") / "ontologies" / "1.4" / "Brick.ttl"
    if not p.is_file():
        pytest.skip("Brick.ttl not found in brickschema")
    return Path(str(p))


def oxigraph_binary() -> str | None:
    beside = Path(sys.executable).parent / "oxigraph"
    return str(beside) if beside.is_file() else shutil.which("oxigraph")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def oxigraph_url(tmp_path_factory) -> str:
    binary = oxigraph_binary()
    if binary is None:
        pytest.skip("the oxigraph server binary is not installed (pip install oxigraph)")
    location = tmp_path_factory.mktemp("oxigraph")
    port = _free_port()
    log = open(location / "server.log", "wb")
    proc = subprocess.Popen([binary, "serve", "--location", str(location / "db"), "--bind", f"127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"oxigraph did not start: {(location / 'server.log').read_text()[-500:]}")
            time.sleep(0.1)
    yield url
    proc.kill()
    proc.wait(timeout=10)
    log.close()

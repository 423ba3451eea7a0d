"""Shared fixtures: the demo KG (ingested once per session), copies of it to write into, the
packaged MiniLM as a model folder, a CLI runner in a child process, a hash of a KG directory,
and a guard that makes any network connection fail.

Nothing here downloads anything: ``HF_HUB_OFFLINE`` is set before any test runs.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.pop("KGNLU_HOME", None)
os.environ.pop("KGNLU_DEBUG", None)

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
DEMO = REPO / "ontologies" / "demo" / "food.ttl"
FOOD = "http://kgnlu.org/demo/food#"


PROGRESS_LINE = re.compile(r"^\[\s*\d+\.\ds\] ")


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def stderr_lines(self) -> list[str]:
        """stderr's lines but the progress lines (``[   1.2s] stage``) shown off a terminal."""
        return [ln for ln in self.stderr.splitlines() if ln.strip() and not PROGRESS_LINE.match(ln)]

    @property
    def progress_lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if PROGRESS_LINE.match(ln)]


def run_cli(*args: str | os.PathLike, timeout: float = 180, env: dict | None = None) -> CliResult:
    """``kgnlu ARGS...`` in a child process (exit codes, stderr and tracebacks are real)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "kgnlu.cli.main", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=full_env, stdin=subprocess.DEVNULL)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def tree_hash(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (the ``current`` link by its target), except ``.lock``."""
    out = {}
    for p in sorted(Path(root).rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.name == ".lock":
            continue
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def fixed_vectors(iris, dim: int = 384) -> np.ndarray:
    """A stand-in for label embeddings: one fixed random unit vector per IRI."""
    rows = []
    for iri in iris:
        rng = np.random.default_rng(int(hashlib.sha256(iri.encode()).hexdigest()[:8], 16))
        v = rng.standard_normal(dim).astype(np.float32)
        rows.append(v / np.linalg.norm(v))
    return np.stack(rows) if rows else np.zeros((0, dim), np.float32)


def in_threads(work, n: int = 8) -> list:
    """``work()`` run in ``n`` threads at once: the results, in thread order. Raises the first error."""
    import threading

    results, errors = [None] * n, []

    def run(i):
        try:
            results[i] = work()
        except Exception as e:  # noqa: BLE001 - re-raised below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def copy_kg(src: Path, dst: Path) -> Path:
    """A copy of the KG itself, without the caches and faiss index that engines on ``src`` may have added."""
    shutil.copytree(src, dst, symlinks=True, ignore=lambda d, names: (
        [n for n in names if n == "cache" or n.startswith("index")] if Path(d) == Path(src) else []))
    return dst


@pytest.fixture(scope="session")
def demo_kg(tmp_path_factory) -> Path:
    """A KG holding only the demo food ontology, classified by HermiT. Treat as read-only."""
    from kgnlu.kg.ingest import ingest

    kg = tmp_path_factory.mktemp("demo") / "kg"
    report = ingest([DEMO], kg, reasoner_name="hermit")
    assert report["changed"]
    return kg


@pytest.fixture
def minilm_folder(tmp_path) -> Path:
    """The packaged MiniLM as a writable sentence-transformers folder: links to its files, not 90 MB copied."""
    from kgnlu.neural.encoder import default_model_path

    folder = tmp_path / "minilm"
    folder.mkdir()
    for f in default_model_path().iterdir():
        (folder / f.name).symlink_to(f)
    return folder


@pytest.fixture
def kg_copy(demo_kg, tmp_path) -> Path:
    """A private, writable copy of the demo KG."""
    return copy_kg(demo_kg, tmp_path / "kg")


@pytest.fixture
def freeze():
    """``freeze(root)`` makes the tree at ``root`` unwritable to this process, as a read-only mount
    does: ``chmod a-w`` for a user, ``chattr +i`` for root (whom file modes do not stop). Skips
    the test where neither works; undone at teardown, so the tree can be removed."""
    undo: list = []

    def apply(root: Path) -> Path:
        paths = [p for p in [root, *root.rglob("*")] if not p.is_symlink()]
        if os.geteuid() != 0:
            for p in paths:
                mode = p.stat().st_mode
                p.chmod(mode & ~0o222)
                undo.append(lambda p=p, mode=mode: p.chmod(mode))
        elif shutil.which("chattr"):
            undo.append(lambda: subprocess.run(["chattr", "-i", *map(str, paths)], capture_output=True))
            subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True)
        probe = root / ".write-probe"
        try:
            probe.touch()
        except OSError:
            return root
        probe.unlink()
        pytest.skip("cannot make a directory read-only here (root without chattr +i)")

    yield apply
    for step in reversed(undo):
        step()


class NetworkGuard:
    """Records and refuses every attempt to open a network connection."""

    def __init__(self):
        self.attempts: list[str] = []


@pytest.fixture
def no_network(monkeypatch) -> NetworkGuard:
    guard = NetworkGuard()

    def refuse(what):
        def inner(*args, **kwargs):
            guard.attempts.append(f"{what}{args[1:] if what == 'connect' else args}")
            raise OSError(f"network access attempted in a test: {what}")

        return inner

    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    return guard


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def hash_tree():
    return tree_hash


@pytest.fixture(scope="module")
def one_torch_thread():
    """For modules of tiny batches: one thread is as fast on an idle machine and much faster on a
    busy one (two OpenMP threads on two shared cores spin-wait on each other). Restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


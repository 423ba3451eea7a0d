"""The KG directory: generations, atomic swaps, the writer lock and the manifest.

Layout::

    KGDIR/
      .lock               held (flock) by the one process writing
      current -> gen-000003
      gen-000003/         quadstore.sqlite3, tables.sqlite3, manifest.json, ...
      staging-<pid>-<n>/  a write in progress; removed on failure or at the next write

A write copies the current generation into a staging directory, works there, and publishes it
by replacing the ``current`` symlink with ``os.replace`` (atomic on POSIX). Nothing under the
current generation is ever opened for writing, so a failed, interrupted or killed write leaves
the store byte-for-byte as it was.

Everything derived from a generation (the lexicon index, the matcher and rewrite caches) is
published the same way, with ``publish(path)``: written beside its final place, then switched in
by one atomic rename.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import StoreError

QUADSTORE = "quadstore.sqlite3"
TABLES = "tables.sqlite3"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


def empty_manifest() -> dict:
    return {"format": MANIFEST_FORMAT, "sources": {}, "reasoner": None, "counts": {}, "timings": {}}


def manifest_hash(manifest: dict) -> str:
    """Identity of the KG content: the ordered sources and their digests, plus the reasoner."""
    key = {
        "sources": [(name, s["sha256"]) for name, s in sorted(manifest["sources"].items())],
        "reasoner": (manifest.get("reasoner") or {}).get("name"),
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Generation:
    """One published, read-only state of the KG."""

    path: Path

    @property
    def quadstore(self) -> Path:
        return self.path / QUADSTORE

    @property
    def tables(self) -> Path:
        return self.path / TABLES

    def manifest(self) -> dict:
        p = self.path / MANIFEST
        if not p.exists():
            return empty_manifest()
        return json.loads(p.read_text())


class KGDir:
    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def exists(self) -> bool:
        return (self.root / "current").exists()

    def current(self) -> Generation:
        link = self.root / "current"
        if not link.exists():
            raise StoreError(f"no KG at {self.root}: run `kgnlu kg init` or `kgnlu ingest FILE` first")
        return Generation(link.resolve())

    def current_or_none(self) -> Generation | None:
        return self.current() if self.exists else None

    @contextlib.contextmanager
    def transaction(self):
        """Yield a staging directory seeded with the current generation; publish it on success.

        Any exception (KeyboardInterrupt included) discards the staging directory.
        """
        with self._writable():
            self.root.mkdir(parents=True, exist_ok=True)
        with self._lock():
            self._clean_stale()
            staging = self.root / f"staging-{os.getpid()}-{time.monotonic_ns()}"
            with self._writable():
                staging.mkdir()
            try:
                old = self.current_or_none()
                if old is not None:
                    for item in old.path.iterdir():
                        if item.is_file():
                            shutil.copy2(item, staging / item.name)
                yield staging
                self._publish(staging, old)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise

    def _publish(self, staging: Path, old: Generation | None) -> None:
        _switch_directory(staging, self.root / "current", "gen")
        # Readers that opened the old generation keep their file handles; unlinking is safe.
        if old is not None:
            shutil.rmtree(old.path, ignore_errors=True)

    def _clean_stale(self) -> None:
        """Remove leftovers of killed writers (we hold the lock, so none is live)."""
        current = self.current().path.name if self.exists else None
        for p in self.root.iterdir():
            if p.name.startswith("staging-") or (p.name.startswith("gen-") and p.name != current):
                shutil.rmtree(p, ignore_errors=True)
            elif p.name.startswith(".current-"):
                p.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _writable(self):
        """A KG directory this process may not write to is the user's to fix, not a crash."""
        try:
            yield
        except OSError as e:
            if isinstance(e, PermissionError) or e.errno == errno.EROFS:
                raise StoreError(f"cannot write the KG at {self.root}: {e.strerror.lower()}") from None
            raise

    @contextlib.contextmanager
    def _lock(self):
        with self._writable():
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(f"the KG at {self.root} is being written by another process") from None
            yield
        finally:
            os.close(fd)


def write_manifest(directory: Path, manifest: dict) -> None:
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.replace(tmp, directory / MANIFEST)


def _fsync_tree(path: Path) -> None:
    for item in path.iterdir():
        if item.is_file():
            with open(item, "rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- publishing a derived artifact ----------------------------------------------------------------

def artifact_kind(path: Path) -> str:
    """What versions of one artifact share: the name up to its first ``-`` or ``.``
    (``cache/matcher-<hash>.json`` -> ``matcher``, ``index`` -> ``index``)."""
    return path.name.split("-", 1)[0].split(".", 1)[0]


@contextlib.contextmanager
def artifact_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold the exclusive lock of ``path``'s kind of artifact (``<dir>/.<kind>.lock``), waiting for it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.parent / f".{artifact_kind(path)}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def publish(path: str | os.PathLike, *, lock: bool = True) -> Iterator[Path]:
    """Yield a staging path for a derived artifact; on success switch it in at ``path`` atomically.

    Write a file at the staging path, or make a directory there. The staging path is in ``path``'s
    directory (``.<name>.staging-<pid>-<n>``), so the switch is a rename within one file system:

    - a file is fsynced and moved onto ``path`` (``os.replace``);
    - a directory has its files fsynced, is renamed to ``<name>-<n>`` (the next number), and
      ``path`` becomes a symlink to it, swapped with ``os.replace``.

    Readers see the previous artifact or the new one, never a part of either. After the switch,
    the older versions of the same kind in that directory are removed: ``<kind>-*<suffix>`` files
    other than ``path`` (a name such as ``rewrite-<manifest hash>.sqlite3`` names its generation)
    and, for a directory, the previous ``<name>-<n>``. Readers that opened them keep their handles.

    On any exception (``KeyboardInterrupt`` included) the staging path (and files named after it,
    such as SQLite's ``-journal``) is removed, ``path`` is left as it was, and the exception
    propagates. A killed writer's staging debris is removed by
    the next publisher of that kind.

    ``lock``: hold ``artifact_lock(path)`` throughout, so that concurrent publishers of one kind
    (threads or processes) take turns; each publishes a whole artifact and the last one wins.
    Pass ``False`` when the caller already holds that lock (to check freshness under it first).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with artifact_lock(path) if lock else contextlib.nullcontext():
        kind = artifact_kind(path)
        for pattern in (f".{kind}.staging-*", f".{kind}.*.staging-*", f".{kind}-*.staging-*"):
            for debris in path.parent.glob(pattern):
                _remove(debris)  # under the lock: no live publisher of this kind owns it
        staging = path.with_name(f".{path.name}.staging-{os.getpid()}-{time.monotonic_ns()}")
        try:
            yield staging
            if staging.is_dir() and not staging.is_symlink():
                final = _switch_directory(staging, path, path.name)
                for old in path.parent.glob(f"{path.name}-*"):
                    if old != final and old.is_dir():
                        shutil.rmtree(old, ignore_errors=True)
            elif staging.is_file():
                with open(staging, "rb") as f:
                    os.fsync(f.fileno())
                os.replace(staging, path)
                _fsync_dir(path.parent)
            else:
                raise FileNotFoundError(f"nothing was written at the staging path {staging}")
            if "-" in path.name:
                for old in path.parent.glob(f"{kind}-*{path.suffix}"):
                    if old != path and old.is_file():
                        old.unlink(missing_ok=True)
        except BaseException:
            for p in [staging, *path.parent.glob(f"{staging.name}-*")]:  # with SQLite's -journal, -wal
                _remove(p)
            raise


def _switch_directory(staging: Path, link: Path, prefix: str) -> Path:
    """Rename the directory ``staging`` to ``<prefix>-<n>`` beside ``link`` and point ``link`` at it
    (one ``os.replace`` of a symlink); returns the new directory."""
    root = link.parent
    number = 1 + max((int(p.name.rsplit("-", 1)[1]) for p in root.glob(f"{prefix}-[0-9]*")
                      if p.name.rsplit("-", 1)[1].isdigit()), default=0)
    final = root / f"{prefix}-{number:06d}"
    _fsync_tree(staging)
    os.rename(staging, final)
    if link.exists() and not link.is_symlink():  # a plain directory from elsewhere: replace it
        shutil.rmtree(link)
    tmp_link = root / f".{link.name}-{os.getpid()}"
    tmp_link.unlink(missing_ok=True)
    os.symlink(final.name, tmp_link)
    os.replace(tmp_link, link)
    _fsync_dir(root)
    return final


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)

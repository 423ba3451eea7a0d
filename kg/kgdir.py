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
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import StoreError

QUADSTORE = "quadstore.sqlite3"
TABLES = "tables.sqlite3"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


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
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock():
            self._clean_stale()
            staging = self.root / f"staging-{os.getpid()}-{time.monotonic_ns()}"
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
        number = 1 + max((int(p.name.split("-")[1]) for p in self.root.glob("gen-*")), default=0)
        final = self.root / f"gen-{number:06d}"
        _fsync_tree(staging)
        os.rename(staging, final)
        tmp_link = self.root / f".current-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp_link.unlink()
        os.symlink(final.name, tmp_link)
        os.replace(tmp_link, self.root / "current")
        _fsync_dir(self.root)
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
    def _lock(self):
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

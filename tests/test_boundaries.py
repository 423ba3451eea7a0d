"""The import boundaries of DESIGN.md, checked statically (every ``import`` in every module, including
the ones inside functions) and, for the symbolic side, dynamically.

- ``kgnlu.kg`` never imports torch, transformers, sentence_transformers, torch_geometric or peft.
- ``kgnlu.neural`` never imports rdflib or owlready2 (nor the symbolic package that wraps them).
- The CLI imports from kgnlu only ``kgnlu.api`` and ``kgnlu.types`` (and its own ``kgnlu.cli.*``).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOTS = {"kgnlu": REPO / "src" / "kgnlu", "kgnlu.kg": REPO / "kg", "kgnlu.cli": REPO / "cli"}
NEURAL_LIBS = {"torch", "transformers", "sentence_transformers", "torch_geometric", "peft"}
RDF_LIBS = {"rdflib", "owlready2"}


def module_name(path: Path) -> str:
    """The dotted name a file has once installed (package-dir mapping of pyproject.toml)."""
    for package, root in sorted(ROOTS.items(), key=lambda kv: -len(str(kv[1]))):
        if path.is_relative_to(root):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            return ".".join([package, *parts])
    raise ValueError(path)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``; relative imports are resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "__future__":
                continue
            out.append((node.lineno, target))
            # ``from kgnlu import api`` imports the module kgnlu.api (``from kgnlu import __version__`` does not)
            out += [(node.lineno, f"{target}.{alias.name}") for alias in node.names
                    if top(target) == "kgnlu" and is_module(f"{target}.{alias.name}")]
    return out


def is_module(name: str) -> bool:
    """Whether a dotted kgnlu name is a module or package of this repository."""
    for package, root in ROOTS.items():
        if name == package or name.startswith(package + "."):
            rest = name[len(package) + 1:].split(".") if name != package else []
            p = root.joinpath(*rest)
            if p.with_suffix(".py").is_file() or (p / "__init__.py").is_file():
                return True
    return False


def modules_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts) if root.is_dir() else []


def top(name: str) -> str:
    return name.split(".")[0]


def violations(files: list[Path], bad) -> list[str]:
    return [f"{f.relative_to(REPO)}:{line}: imports {mod}" for f in files for line, mod in imports_of(f) if bad(mod)]


def test_module_names_and_import_resolution():
    """The checker itself: names follow pyproject's package-dir, relative imports resolve."""
    assert module_name(REPO / "kg" / "store.py") == "kgnlu.kg.store"
    assert module_name(REPO / "kg" / "sources" / "__init__.py") == "kgnlu.kg.sources"
    assert module_name(REPO / "cli" / "main.py") == "kgnlu.cli.main"
    assert module_name(REPO / "src" / "kgnlu" / "neural" / "x.py") == "kgnlu.neural.x"
    found = dict((m, n) for n, m in imports_of(REPO / "kg" / "ingest.py"))
    assert "kgnlu.kg.formats" in found and "kgnlu.kg.owlready_store" in found
    assert is_module("kgnlu.api") and is_module("kgnlu.kg.store") and is_module("kgnlu.cli.main")
    assert not is_module("kgnlu.__version__") and not is_module("kgnlu.kg.nothing")
    if (REPO / "kg" / "sources" / "build.py").exists():
        assert "kgnlu.kg.errors" in {m for _, m in imports_of(REPO / "kg" / "sources" / "build.py")}


def test_checker_catches_violations(tmp_path, monkeypatch):
    fake = tmp_path / "kg"
    (fake / "sub").mkdir(parents=True)
    (fake / "sub" / "bad.py").write_text("def f():\n    import torch.nn as nn\n    from ..x import y\n")
    monkeypatch.setitem(ROOTS, "kgnlu.kg", fake)
    found = imports_of(fake / "sub" / "bad.py")
    assert (2, "torch.nn") in found and (3, "kgnlu.kg.x") in found


def test_kg_never_imports_the_neural_stack():
    files = modules_under(REPO / "kg")
    assert len(files) >= 10
    bad = violations(files, lambda m: top(m) in NEURAL_LIBS or m.startswith(("kgnlu.neural", "kgnlu.tasks",
                                                                             "kgnlu.training", "kgnlu.api")))
    assert bad == []


def test_neural_never_imports_rdf_libraries():
    files = modules_under(REPO / "src" / "kgnlu" / "neural")  # may not exist yet: then nothing to check
    bad = violations(files, lambda m: top(m) in RDF_LIBS or m == "kgnlu.kg" or m.startswith("kgnlu.kg."))
    assert bad == []


ALLOWED_FOR_CLI = ("kgnlu", "kgnlu.api", "kgnlu.types", "kgnlu.service")


def test_cli_imports_only_api_and_types():
    files = modules_under(REPO / "cli")
    assert any(f.name == "main.py" for f in files)

    def bad(m: str) -> bool:
        if top(m) != "kgnlu" or m in ALLOWED_FOR_CLI:
            return False
        return not (m == "kgnlu.cli" or m.startswith("kgnlu.cli."))

    assert violations(files, bad) == []


def test_cli_does_not_import_rdf_or_neural_libraries_directly():
    assert violations(modules_under(REPO / "cli"), lambda m: top(m) in NEURAL_LIBS | RDF_LIBS | {"faiss"}) == []


def test_importing_all_of_kgnlu_kg_loads_no_neural_library():
    """Dynamic check of the same boundary: import every kgnlu.kg module in a fresh interpreter."""
    code = (
        "import importlib, json, pkgutil, sys\n"
        "import kgnlu.kg\n"
        "names = [m.name for m in pkgutil.walk_packages(kgnlu.kg.__path__, 'kgnlu.kg.')]\n"
        "failed = {}\n"
        "for n in names:\n"
        "    try:\n"
        "        importlib.import_module(n)\n"
        "    except ImportError as e:\n"
        "        failed[n] = str(e)\n"
        "print(json.dumps({'names': names, 'failed': failed, 'modules': sorted(sys.modules)}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    assert "kgnlu.kg.store" in out["names"] and "kgnlu.kg.ingest" in out["names"]
    loaded = {top(m) for m in out["modules"]}
    assert not loaded & NEURAL_LIBS, sorted(loaded & NEURAL_LIBS)
    assert out["failed"] == {}


@pytest.mark.parametrize("root", ["kg", "cli", "src/kgnlu"])
def test_every_module_parses(root):
    for f in modules_under(REPO / root):
        ast.parse(f.read_text(encoding="utf-8"), str(f))

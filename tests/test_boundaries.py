"""The import boundaries of DESIGN.md, checked statically (every ``import`` in every module, including
the ones inside functions) and, for the symbolic side, dynamically.

- ``kgnlu.kg`` never imports torch, transformers, sentence_transformers, torch_geometric or peft.
- ``kgnlu.neural`` never imports rdflib or owlready2 (nor the symbolic package that wraps them).
- The CLI imports from kgnlu only ``kgnlu.api`` and ``kgnlu.types`` (and its own ``kgnlu.cli.*``).

The same boundaries hold transitively, over the import graph of the whole package (a function-level
import is an edge: it runs when the function does); the answering path (``kgnlu.api``,
``kgnlu.runtime``, ``kgnlu.tasks``) never reaches ``kgnlu.training``; the graph has no cycles; and
no module is over ``MAX_LINES`` lines.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import deque
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


def imports_of(path: Path, *, runtime: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``; relative imports are resolved.

    ``runtime`` leaves out the imports under ``if TYPE_CHECKING:``: they never run, and they are how
    a module names a type of the other side without depending on it.
    """
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in _walk(ast.parse(path.read_text(encoding="utf-8"), str(path)), skip_type_checking=runtime):
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


def _walk(tree: ast.AST, skip_type_checking: bool):
    """``ast.walk`` (same order), optionally not entering the body of ``if TYPE_CHECKING:``."""
    todo = deque([tree])
    while todo:
        node = todo.popleft()
        yield node
        if skip_type_checking and isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
        else:
            todo.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


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


# The CLI is a shell over the public API: the Engine, its result types, progress display, the
# service it starts, the Ray runs (kgnlu.scale, kgnlu.scale_serve) and the training jobs.
ALLOWED_FOR_CLI = ("kgnlu", "kgnlu.api", "kgnlu.types", "kgnlu.progress", "kgnlu.service", "kgnlu.training.jobs",
                   "kgnlu.scale", "kgnlu.scale_serve")


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


# -- the import graph: transitive boundaries, cycles, module size --------------------------------

MAX_LINES = 600
INFERENCE_PATH = ("kgnlu.api", "kgnlu.runtime", "kgnlu.tasks", "kgnlu.service")


def import_graph() -> dict[str, set[str]]:
    """Module -> what it imports when it runs: kgnlu modules and packages by full name, other
    libraries by top-level name (``torch``). A module's import of a package it is inside of
    (``from . import x`` in ``kgnlu.kg.sources.build`` imports ``kgnlu.kg.sources``) is left out:
    Python has run that package's ``__init__`` before the module, so it is no dependency of the module."""
    graph: dict[str, set[str]] = {}
    for root in ROOTS.values():
        for f in modules_under(root):
            name = module_name(f)
            edges = graph.setdefault(name, set())
            for _, mod in imports_of(f, runtime=True):
                if top(mod) != "kgnlu":
                    edges.add(top(mod))
                elif is_module(mod) and mod != name and not name.startswith(mod + "."):
                    edges.add(mod)
    return graph


def _inside(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def reach(graph: dict[str, set[str]], start: str) -> dict[str, str | None]:
    """Everything ``start`` imports, directly or not, each with the module it was first reached from
    (breadth-first, so ``chain`` gives a shortest import chain). Importing a module also runs the
    ``__init__`` of each package it is in."""
    seen: dict[str, str | None] = {start: None}
    todo = deque([start])
    while todo:
        m = todo.popleft()
        parents = [m.rsplit(".", k)[0] for k in range(1, m.count(".") + 1)] if top(m) == "kgnlu" else []
        for n in sorted(graph.get(m, set()) | {p for p in parents if p in graph}):
            if n not in seen:
                seen[n] = m
                todo.append(n)
    return seen


def chain(seen: dict[str, str | None], end: str) -> str:
    path = [end]
    while seen[path[-1]] is not None:
        path.append(seen[path[-1]])
    return " -> ".join(reversed(path))


def reaches(graph: dict[str, set[str]], starts, bad) -> list[str]:
    """An import chain for each module of ``starts`` that reaches something ``bad`` says it must not."""
    out = []
    for s in sorted(starts):
        seen = reach(graph, s)
        out += [chain(seen, m) for m in sorted(seen) if m != s and bad(m)]
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in graph:  # another library: a leaf
                    continue
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return sorted(out)


def test_cycle_detector_and_reach_on_a_small_graph():
    graph = {"a": {"b"}, "b": {"c", "torch"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": {"f"}, "g": set()}
    assert cycles(graph) == [["a", "b", "c"], ["d", "e"]]  # f imports only itself: no cycle of modules
    assert cycles({"a": {"b"}, "b": set()}) == []
    seen = reach(graph, "d")
    assert set(seen) == {"a", "b", "c", "d", "e", "torch"}
    assert chain(seen, "torch") == "d -> a -> b -> torch"
    assert reaches(graph, ["g", "c"], lambda m: m == "torch") == ["c -> a -> b -> torch"]


def test_import_graph_of_a_fake_package(tmp_path, monkeypatch):
    """Edges follow relative, absolute and ``from package import submodule`` imports; a submodule's
    import of its own package is no edge; ``if TYPE_CHECKING:`` imports are no edges."""
    fake = tmp_path / "kg"
    (fake / "sub").mkdir(parents=True)
    (fake / "__init__.py").write_text("from .sub import a\n")
    (fake / "sub" / "__init__.py").write_text("")
    (fake / "sub" / "a.py").write_text("from .. import sub\nfrom . import b\n")
    (fake / "sub" / "b.py").write_text("import numpy\ndef f():\n    from kgnlu.kg.sub.a import x\n")
    (fake / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n"
                               "    from kgnlu.kg.sub import a\nelse:\n    import json\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOTS", {"kgnlu.kg": fake})
    graph = import_graph()
    assert graph["kgnlu.kg"] == {"kgnlu.kg.sub", "kgnlu.kg.sub.a"}
    assert graph["kgnlu.kg.sub.a"] == {"kgnlu.kg.sub.b"}  # not kgnlu.kg.sub: it is inside it
    assert graph["kgnlu.kg.sub.b"] == {"numpy", "kgnlu.kg.sub.a"}
    assert graph["kgnlu.kg.c"] == {"typing", "json"}
    assert cycles(graph) == [["kgnlu.kg.sub.a", "kgnlu.kg.sub.b"]]
    # importing kgnlu.kg.c runs the package's __init__ first, and with it what that imports
    assert chain(reach(graph, "kgnlu.kg.c"), "kgnlu.kg.sub.b") == (
        "kgnlu.kg.c -> kgnlu.kg -> kgnlu.kg.sub.a -> kgnlu.kg.sub.b")


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_no_import_cycles(graph):
    found = cycles(graph)
    assert found == [], "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_kg_never_reaches_the_neural_side(graph):
    starts = [m for m in graph if _inside(m, ["kgnlu.kg"])]
    assert len(starts) >= 10
    bad = reaches(graph, starts, lambda m: m in NEURAL_LIBS or _inside(
        m, ["kgnlu.neural", "kgnlu.tasks", "kgnlu.training", "kgnlu.api", "kgnlu.runtime"]))
    assert bad == [], "\n".join(bad)


def test_neural_never_reaches_the_symbolic_side(graph):
    starts = [m for m in graph if _inside(m, ["kgnlu.neural"])]
    assert starts
    bad = reaches(graph, starts, lambda m: m in RDF_LIBS or _inside(m, ["kgnlu.kg"]))
    assert bad == [], "\n".join(bad)


def test_answering_never_reaches_training(graph):
    starts = [m for m in graph if _inside(m, INFERENCE_PATH)]
    assert "kgnlu.api" in starts and "kgnlu.tasks.linking" in starts
    bad = reaches(graph, starts, lambda m: _inside(m, ["kgnlu.training"]))
    assert bad == [], "\n".join(bad)


def test_every_kgnlu_import_names_a_module_or_a_name_of_one():
    """A stale import (a module renamed or removed) would otherwise fail only when its function runs."""
    bad = []
    for root in ROOTS.values():
        for f in modules_under(root):
            for line, mod in imports_of(f):
                if top(mod) == "kgnlu" and not is_module(mod) and not is_module(mod.rsplit(".", 1)[0]):
                    bad.append(f"{f.relative_to(REPO)}:{line}: {mod}")
    assert bad == []


def test_no_module_is_over_the_line_limit():
    long = {str(f.relative_to(REPO)): n for root in ROOTS.values() for f in modules_under(root)
            if (n := len(f.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}

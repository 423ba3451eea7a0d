"""kgnlu: knowledge-graph-augmented NLI, entity linking and relation extraction, with proofs.

>>> from kgnlu import Engine
>>> with Engine.load() as engine:                                  # doctest: +SKIP
...     print(engine.infer("I like eating apples", "I like eating fruit").label)

Kept import-light on purpose: ``import kgnlu`` loads no torch, and the names below are
imported on first access (PEP 562), so the CLI and the service start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

# name -> the module that defines it
_LAZY = {
    "Engine": "kgnlu.api",
    "InferResult": "kgnlu.types",
    "Mention": "kgnlu.types",
    "ExtractResult": "kgnlu.types",
    "KgnluError": "kgnlu.types",
    "InputError": "kgnlu.types",
}

__all__ = ["__version__", "Engine", "ExtractResult", "InferResult", "InputError", "KgnluError", "Mention"]

if TYPE_CHECKING:
    from kgnlu.api import Engine
    from kgnlu.types import ExtractResult, InferResult, InputError, KgnluError, Mention


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kgnlu' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

"""JSONL record files (NLI pairs, RE gold), read with one-line errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from kgnlu.types import InputError


def json_records(path: str | Path, limit: int | None = None,
                 check: Callable[[dict], str | None] | None = None, lines: list[int] | None = None) -> list[dict]:
    """The JSON object on each non-blank line of ``path`` (the first ``limit`` of them). ``check``
    returns what is wrong with a record, or None, and may normalise it in place; ``lines`` gets
    each returned record's line number. A line that is no JSON object, a record ``check`` faults,
    a file that is no UTF-8 text or cannot be read: an ``InputError``."""
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{path}:{n}: not JSON ({e.msg} at column {e.colno})") from None
                fault = "not a JSON object" if not isinstance(rec, dict) else check(rec) if check else None
                if fault:
                    raise InputError(f"{path}:{n}: {fault}")
                out.append(rec)
                if lines is not None:
                    lines.append(n)
                if limit is not None and len(out) >= limit:
                    break
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise InputError(f"{path}: {e.strerror or e}") from None
    return out


__all__ = ["json_records"]

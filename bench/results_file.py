"""Writing a results file whose notes written by hand survive a re-run."""

from __future__ import annotations

from pathlib import Path

HAND_MARK = "<!-- hand-written -->"


def write_results(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path``, keeping an existing file's part from its ``HAND_MARK`` line on:
    a re-run replaces the measured tables and leaves the experiment notes below them."""
    path = Path(path)
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if HAND_MARK in old:
            text += "\n" + HAND_MARK + old.split(HAND_MARK, 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")

"""Progress reporting for long jobs, one convention everywhere.

Two callback types carry progress through the library:

- ``StageCallback``: ``progress("converting sources")``, a named stage;
- ``CountCallback``: ``progress(done, total)``, a batch loop's position.

``StageProgress`` shows both on stderr: a bar when stderr is a terminal, and plain timestamped
lines when it is not (a log file, a container, CI), so that a job of several minutes never runs
silently. ``bar()`` does the same for an iterable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

StageCallback = Callable[[str], None]
CountCallback = Callable[[int, int], None]
T = TypeVar("T")

# Off a terminal, a batch loop prints a line at most this often (and at its end).
LINE_INTERVAL_S = 10.0


def no_progress(*_) -> None:
    """The callback of callers that want no progress shown."""


def counting(progress: StageCallback, what: str) -> CountCallback:
    """Adapt a stage callback to the (done, total) callbacks of batch loops."""
    return lambda done, total: progress(f"{what} {done}/{total}")


class StageProgress:
    """Stages (and ``what done/total`` counts) on stderr, with the elapsed time.

    On a terminal, one bar redrawn in place; elsewhere, one line per stage, and counts of the
    same stage at most every ``LINE_INTERVAL_S`` seconds (the last one always).
    """

    def __init__(self, enabled: bool = True, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and self.stream.isatty()
        self._bar = None
        self._t0 = time.perf_counter()
        self._last_stage, self._last_line = None, 0.0

    def __call__(self, stage: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=None, unit="stage", file=self.stream, bar_format="{desc} | {elapsed}")
            self._bar.set_description_str(stage)
            self._bar.update(1)
            return
        now = time.perf_counter()
        head, _, count = stage.rpartition(" ")
        done, _, total = count.partition("/")
        if head and done.isdigit() and total.isdigit():  # a count: throttled, its last always shown
            if head == self._last_stage and now - self._last_line < LINE_INTERVAL_S and done != total:
                return
            self._last_stage = head
        else:
            self._last_stage = None
        self._last_line = now
        print(f"[{now - self._t0:7.1f}s] {stage}", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def bar(items: Iterable[T], desc: str, enabled: bool = True, total: int | None = None) -> Iterator[T]:
    """``items`` with progress on stderr: a tqdm bar on a terminal, timestamped lines elsewhere."""
    if not enabled:
        yield from items
        return
    if sys.stderr.isatty():
        from tqdm import tqdm

        yield from tqdm(items, desc=desc, total=total, leave=False, file=sys.stderr)
        return
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    t0 = last = time.perf_counter()
    n = 0
    for n, item in enumerate(items, start=1):
        yield item
        now = time.perf_counter()
        if now - last >= LINE_INTERVAL_S or n == total:
            last = now
            print(f"[{now - t0:7.1f}s] {desc} {n}/{total or '?'}", file=sys.stderr, flush=True)
    if n != total:
        print(f"[{time.perf_counter() - t0:7.1f}s] {desc} {n}/{n}", file=sys.stderr, flush=True)

"""Where ``kgnlu serve``'s engine runs, and the micro-batcher in front of it (``kgnlu.service``).

The engine runs on a thread of the server's process (``EngineThread``: an Engine handed in) or in a
spawned process of its own (``EngineProcess``), one call at a time; a ``MicroBatcher`` per operation
gathers the items of concurrent requests into batches for it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import struct
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("kgnlu.service")


@dataclass(frozen=True)
class Failure:
    """An item the engine refused (``kind`` "input": 422; "kgnlu": 503) or failed on ("internal": 500).
    Plain data, so that it crosses from an engine process as easily as from a thread."""

    kind: str
    message: str


class EngineThread:
    """An engine on a thread of this process (an Engine handed in: tests, the Python API).
    ``run`` answers one call at a time, its caller holding ``lock``; ``call`` takes the lock."""

    def __init__(self):
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="kgnlu-engine")
        self.lock = asyncio.Lock()

    async def run(self, fn: Callable, *args) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def call(self, fn: Callable, *args) -> Any:
        async with self.lock:
            return await self.run(fn, *args)

    def shutdown(self) -> None:
        # an engine handed in belongs to whoever made it: its thread is left to finish
        self.pool.shutdown(wait=False, cancel_futures=True)


def _engine_process_main(requests, answers) -> None:
    """An engine process: ``(n, fn, args)`` in, ``(n, ok, result or exception)`` out, until the
    server closes its end of the pipe (or dies, which closes it too)."""
    import signal

    # Ctrl-C reaches the whole process group: the server shuts down, and closes the pipe, itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            n, fn, args = pickle.loads(requests.recv_bytes())
        except EOFError:
            return
        try:
            out = (n, True, fn(*args))
        except BaseException as e:  # noqa: BLE001 - handed back to the caller in the server
            out = (n, False, e)
        try:
            data = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # noqa: BLE001 - an exception that does not pickle
            data = pickle.dumps((n, False, RuntimeError(f"{type(out[2]).__name__}: {out[2]} ({e})")))
        answers.send_bytes(data)


def _frame(buffer: bytearray) -> tuple[bytes, int] | None:
    """The first whole message in ``buffer`` as ``multiprocessing.Connection.send_bytes`` frames it
    (a signed 4-byte big-endian length, or -1 and an 8-byte one), with the bytes it takes; None
    until it is all there."""
    if len(buffer) < 4:
        return None
    (size,), head = struct.unpack_from("!i", buffer), 4
    if size == -1:
        if len(buffer) < 12:
            return None
        (size,), head = struct.unpack_from("!Q", buffer, 4), 12
    if len(buffer) < head + size:
        return None
    return bytes(buffer[head:head + size]), head + size


class EngineProcess(EngineThread):
    """An engine in a spawned process of its own, behind two pipes: the event loop writes a call
    and reads its answer when the pipe has it (``add_reader``). No thread in this process: one would
    take turns with the event loop on the GIL. One call at a time, so that the two sides never both
    block writing to a full pipe. ``ended``: the engine process is gone; every call fails at once."""

    def __init__(self):
        self.lock, self.process, self._calls = asyncio.Lock(), None, 0
        self._waiting: tuple[int, asyncio.Future] | None = None
        self._buffer = bytearray()
        self.ended = False

    def _spawn(self) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # a fork of a process running an event loop and threads is not safe
        child_requests, self._requests = ctx.Pipe(duplex=False)
        self._answers, child_answers = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_engine_process_main, args=(child_requests, child_answers),
                                   name="kgnlu-engine")
        self.process.start()
        child_requests.close()
        child_answers.close()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._answers.fileno(), self._on_answer)

    async def run(self, fn: Callable, *args) -> Any:
        if self.process is None:
            self._spawn()
        if self.ended:
            raise RuntimeError("the engine process ended")
        self._calls += 1
        self._waiting = (self._calls, self._loop.create_future())
        self._requests.send_bytes(pickle.dumps((self._calls, fn, args), protocol=pickle.HIGHEST_PROTOCOL))
        ok, value = await self._waiting[1]
        if not ok:
            raise value
        return value

    def _on_answer(self) -> None:
        # The event loop may have made the pipe non-blocking (uvloop does): an answer larger than
        # the pipe's buffer arrives in pieces, read here as they come, never with recv_bytes.
        try:
            chunk = os.read(self._answers.fileno(), 1 << 20)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._loop.remove_reader(self._answers.fileno())
            self.ended = True
            log.error("kgnlu serve: the engine process ended")
            self._deliver(None, False, RuntimeError("the engine process ended"))
            return
        self._buffer += chunk
        while (frame := _frame(self._buffer)) is not None:
            payload, used = frame
            del self._buffer[:used]
            self._deliver(*pickle.loads(payload))

    def _deliver(self, n: int | None, ok: bool, value: Any) -> None:
        if self._waiting is not None:
            m, future = self._waiting
            if (n is None or n == m) and not future.done():  # the answer to a cancelled call is dropped
                future.set_result((ok, value))

    def shutdown(self) -> None:
        if self.process is None:
            return
        if not self._answers.closed:
            self._loop.remove_reader(self._answers.fileno())
        self._requests.close()  # the engine process ends when it reads the end of the pipe
        self.process.join(30)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        self._answers.close()


# A batch that gathered while the engine was idle is split in two when each half has at least this
# many items: below it, the model's cost per item grows steeply.
SPLIT_MIN = 4


class MicroBatcher:
    """Gathers items from concurrent callers into batches and answers each caller in order.

    A batch goes to the engine as soon as the engine is free, with whatever queued while it was
    busy (at most ``max_batch`` items), so that a busy engine never waits. An item that finds the
    engine idle waits up to ``max_wait`` seconds for company; a batch gathered that way runs in two
    halves, back to back, so that the first half's answers go out and its callers' next requests
    come in while the engine runs the second (callers that all wait on one batch would otherwise
    leave the engine idle while their answers travel). ``run(items)`` answers a batch on ``engine``
    (an ``EngineThread`` or ``EngineProcess``).
    """

    def __init__(self, run: Callable[[list], list], engine: EngineThread, max_batch: int, max_wait: float):
        self.run, self.engine = run, engine
        self.max_batch, self.max_wait = max(1, max_batch), max(0.0, max_wait)
        self.batches = self.items = 0
        self._queue: asyncio.Queue | None = None
        self._held: deque = deque()  # the second half of a split batch: next in line
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def submit(self, items: Sequence) -> list:
        """The answers to ``items``, in order."""
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in items]
        for item, future in zip(items, futures):
            self._queue.put_nowait((item, future))
        return await asyncio.gather(*futures)

    async def _gather(self, batch: list, wait: float) -> None:
        """Add to ``batch`` what is held or queued, and what comes within ``wait`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while len(batch) < self.max_batch:
            if self._held or not self._queue.empty():
                batch.append(self._held.popleft() if self._held else self._queue.get_nowait())
            elif (left := deadline - loop.time()) <= 0:
                return
            else:
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), left))
                except TimeoutError:
                    return

    async def _loop(self) -> None:
        while True:
            # idle: nothing was waiting when the engine came free, and it still runs nothing
            idle = not self._held and self._queue.empty()
            batch = [self._held.popleft() if self._held else await self._queue.get()]
            idle = idle and not self.engine.lock.locked()
            if idle:
                await self._gather(batch, self.max_wait)
            async with self.engine.lock:  # while a busy engine finishes, more items queue
                await self._gather(batch, 0)
                batch = [(item, future) for item, future in batch if not future.done()]  # callers gone
                if idle and len(batch) >= 2 * SPLIT_MIN:
                    self._held.extendleft(reversed(batch[len(batch) // 2:]))
                    batch = batch[:len(batch) // 2]
                if not batch:
                    continue
                self.batches += 1
                self.items += len(batch)
                try:
                    answers = await self.engine.run(self.run, [item for item, _ in batch])
                except Exception as e:  # noqa: BLE001 - e.g. a dead engine process: every caller hears of it
                    log.error("kgnlu serve: a batch failed", exc_info=e)
                    answers = [Failure("internal", type(e).__name__)] * len(batch)
            for (_, future), answer in zip(batch, answers):
                if not future.done():
                    future.set_result(answer)


__all__ = ["Failure", "EngineThread", "EngineProcess", "MicroBatcher", "SPLIT_MIN"]

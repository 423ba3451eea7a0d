"""The engine process behind ``kgnlu serve`` (``kgnlu.service_engine.EngineProcess``): answers of
any size, and a clear failure, at once, once the process is gone."""

from __future__ import annotations

import asyncio
import os

import pytest

from kgnlu.service_engine import EngineProcess, _frame


def _text(n: int) -> str:
    return "x" * n


def _exit() -> None:
    os._exit(3)


def _run(loop: str, calls):
    if loop == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        return uvloop.run(calls())
    return asyncio.run(calls())


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_an_answer_larger_than_the_pipe_arrives_whole(loop):
    """uvloop makes the answers pipe non-blocking: an answer over the pipe's 64 KB buffer came in
    pieces, the first read failed, and the server read that as the engine's end and hung. Here
    the default loop gets a non-blocking pipe too."""
    async def calls():
        engine = EngineProcess()
        try:
            first = await engine.call(_text, 5)
            os.set_blocking(engine._answers.fileno(), False)
            return [first] + [await engine.call(_text, n) for n in (70_000, 3_000_000, 10)], engine.ended
        finally:
            engine.shutdown()

    answers, ended = _run(loop, calls)
    assert [len(a) for a in answers] == [5, 70_000, 3_000_000, 10] and set("".join(answers)) == {"x"}
    assert not ended


def test_a_call_after_the_engine_process_ended_fails_at_once():
    async def calls():
        engine = EngineProcess()
        try:
            await engine.call(_text, 1)
            with pytest.raises(RuntimeError, match="engine process ended"):
                await engine.call(_exit)
            assert engine.ended
            with pytest.raises(RuntimeError, match="engine process ended"):
                await asyncio.wait_for(engine.call(_text, 1), 5)
        finally:
            engine.shutdown()

    asyncio.run(calls())


def test_frames_are_read_as_multiprocessing_writes_them():
    import multiprocessing

    reader, writer = multiprocessing.Pipe(duplex=False)
    writer.send_bytes(b"abc")
    writer.send_bytes(b"")
    data = bytearray(os.read(reader.fileno(), 1 << 16))
    first = _frame(data)
    assert first == (b"abc", 7) and _frame(data[:6]) is None
    del data[:first[1]]
    assert _frame(data) == (b"", 4)
    big = bytearray(b"\xff\xff\xff\xff" + (5).to_bytes(8, "big") + b"hello")  # the form of a message over 2 GiB
    assert _frame(big) == (b"hello", 17) and _frame(big[:11]) is None

"""How a command ends when it is stopped from outside: SIGTERM (exit 143, as a shell reports a
process it killed, with Ctrl-C's message), a reader of stdout that stops reading (``| head``: exit
141, not a word) and a stdout closed from the start (an error, not lines dropped with exit 0)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from kgnlu.cli._common import handle_errors


def _ends(fn, capsys) -> tuple[int, list[str]]:
    with pytest.raises(SystemExit) as e:
        handle_errors(fn)()
    return e.value.code, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_ends_a_command_with_its_own_code_and_the_same_message(capsys, sig, code):
    def work():
        signal.raise_signal(sig)
        raise AssertionError("the signal did not stop the command")

    assert _ends(work, capsys) == (code, ["error: interrupted; nothing was changed"])


def test_sigterm_after_a_write_says_what_was_kept_and_exits_143(capsys):
    from kgnlu.kg.errors import InterruptedAfterWrite

    def work():  # as Runtime.ingest turns an interrupt after the publish into what was kept
        try:
            signal.raise_signal(signal.SIGTERM)
        except KeyboardInterrupt:
            raise InterruptedAfterWrite("interrupted after the KG was updated: the sources are in") from None

    assert _ends(work, capsys) == (143, ["error: interrupted after the KG was updated: the sources are in"])


def _link(kg, *args, buffered: bool = True, **popen) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen([sys.executable, "-m", "kgnlu.cli.main", "link", "--kg", str(kg), "--lexicon-only",
                             "--json", *map(str, args)], stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            env=env, **popen)


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_a_closed_pipe_exits_141_without_a_word(demo_kg, buffered):
    """``| head -0``: exit 0 (unbuffered), or Python's "Exception ignored ... BrokenPipeError" and exit
    120 at its final flush (buffered): either way no sign that the output went nowhere."""
    proc = _link(demo_kg, "an apple", buffered=buffered, stdout=subprocess.PIPE)
    proc.stdout.close()  # before the child has loaded the KG, let alone written
    err = proc.communicate(timeout=120)[1]
    assert (proc.returncode, err) == (141, "")


def test_head_1_reads_its_line_and_the_rest_ends_quietly(demo_kg, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("I ate no apples, maybe a banana.\n" * 2000)  # far more than a pipe holds
    proc = _link(demo_kg, "-q", "--input", texts, stdout=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.communicate(timeout=120)[1]
    assert json.loads(first)["text"] == "I ate no apples, maybe a banana."
    assert (proc.returncode, err) == (141, "")


def test_a_closed_stdout_is_an_error_not_lost_output(demo_kg):
    proc = _link(demo_kg, "an apple", preexec_fn=lambda: os.close(1))
    err = proc.communicate(timeout=120)[1]
    assert (proc.returncode, err) == (1, "error: cannot write the output: stdout is closed\n")

"""Progress off a terminal: timestamped lines (a log, a container, CI), never silence and never
carriage-return bars; counts of one stage throttled, their last one always shown."""

from __future__ import annotations

import io
import re

import kgnlu.progress as progress_mod
from kgnlu.progress import StageProgress, bar, counting
from tests.conftest import PROGRESS_LINE, run_cli


def test_stages_print_one_line_each_off_a_terminal():
    out = io.StringIO()
    show = StageProgress(stream=out)
    show("parsing food.ttl")
    show("reasoning (hermit)")
    lines = out.getvalue().splitlines()
    assert [re.sub(r"^\[\s*\d+\.\ds\] ", "", ln) for ln in lines] == ["parsing food.ttl", "reasoning (hermit)"]
    assert all(PROGRESS_LINE.match(ln) for ln in lines) and "\r" not in out.getvalue()


def test_counts_are_throttled_and_the_last_is_shown(monkeypatch):
    out = io.StringIO()
    show = StageProgress(stream=out)
    count = counting(show, "embedding lexicon")
    for done in range(1, 101):
        count(done, 100)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("embedding lexicon 1/100") and lines[-1].endswith("embedding lexicon 100/100")
    assert len(lines) == 2  # within LINE_INTERVAL_S, only the first and the last
    monkeypatch.setattr(progress_mod, "LINE_INTERVAL_S", 0.0)
    out2 = io.StringIO()
    count = counting(StageProgress(stream=out2), "embedding lexicon")
    for done in range(1, 6):
        count(done, 5)
    assert len(out2.getvalue().splitlines()) == 5


def test_disabled_progress_prints_nothing():
    out = io.StringIO()
    StageProgress(enabled=False, stream=out)("anything")
    assert out.getvalue() == ""


def test_bar_yields_everything_and_reports_the_end_off_a_terminal(capsys):
    assert list(bar(range(7), "epoch 1/2")) == list(range(7))
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].endswith("epoch 1/2 7/7") and PROGRESS_LINE.match(err[0])
    assert list(bar(iter("abc"), "stream")) == ["a", "b", "c"]  # no length: counted at the end
    assert capsys.readouterr().err.strip().endswith("stream 3/3")
    assert list(bar(range(3), "quiet", enabled=False)) == [0, 1, 2]
    assert capsys.readouterr().err == ""


def test_batch_infer_reports_progress_on_stderr_and_only_results_on_stdout(demo_kg, tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"premise": "I like eating apples", "hypothesis": "I like eating fruit"}\n' * 300)
    res = run_cli("infer", "--kg", demo_kg, "--input", pairs, "--symbolic-only")
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) == 300
    assert any(ln.endswith("inferring 256/300") for ln in res.progress_lines), res.stderr
    assert any(ln.endswith("inferring 300/300") for ln in res.progress_lines)
    assert res.stderr_lines == []

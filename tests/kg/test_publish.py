"""kg.kgdir.publish: the one way a derived artifact (index, matcher, rewrite rules) is written.

A failed or interrupted write leaves the previous artifact as it was and no staging debris;
concurrent publishers take turns and readers only ever see whole artifacts.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from kgnlu.kg.kgdir import artifact_kind, artifact_lock, publish
from kgnlu.kg.lexicon import Entry
from kgnlu.kg.rewrite import RewriteIndex


def debris(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".staging-" in p.name)


def write(path: Path, text: str) -> None:
    with publish(path) as staging:
        staging.write_text(text)


def test_artifact_kind_is_the_name_before_the_version():
    assert artifact_kind(Path("cache/matcher-0123abcd.json")) == "matcher"
    assert artifact_kind(Path("cache/rewrite-0123.sqlite3")) == "rewrite"
    assert artifact_kind(Path("kg/index")) == "index"


def test_a_file_is_switched_in_whole(tmp_path):
    path = tmp_path / "cache" / "matcher-aaa.json"
    write(path, "one")
    write(path, "two")
    assert path.read_text() == "two"
    assert debris(path.parent) == []


@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_previous_file_and_no_debris(tmp_path, error):
    path = tmp_path / "matcher-aaa.json"
    write(path, "previous")
    with pytest.raises(type(error)):
        with publish(path) as staging:
            staging.write_text("half a fi")
            raise error
    assert path.read_text() == "previous"
    assert debris(tmp_path) == []


def test_writing_nothing_is_an_error_and_changes_nothing(tmp_path):
    path = tmp_path / "matcher-aaa.json"
    write(path, "previous")
    with pytest.raises(FileNotFoundError, match="nothing was written"):
        with publish(path):
            pass
    assert path.read_text() == "previous"


def test_older_versions_of_the_same_kind_go_others_stay(tmp_path):
    write(tmp_path / "rewrite-aaa.sqlite3", "old generation")
    write(tmp_path / "matcher-aaa.json", "another kind")
    write(tmp_path / "rewrite-bbb.sqlite3", "new generation")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "matcher-aaa.json", "rewrite-bbb.sqlite3"]


def test_a_directory_is_switched_in_by_a_symlink_and_the_old_one_goes(tmp_path):
    link = tmp_path / "index"
    for n in (1, 2):
        with publish(link) as staging:
            staging.mkdir()
            (staging / "rows.txt").write_text(f"version {n}")
        assert link.is_symlink() and (link / "rows.txt").read_text() == f"version {n}"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["index", "index-000002"]


def test_a_failed_directory_write_keeps_the_previous_one(tmp_path):
    link = tmp_path / "index"
    with publish(link) as staging:
        staging.mkdir()
        (staging / "rows.txt").write_text("good")
    with pytest.raises(OSError):
        with publish(link) as staging:
            staging.mkdir()
            (staging / "rows.txt").write_text("partial")
            raise OSError("no space left on device")
    assert (link / "rows.txt").read_text() == "good"
    assert debris(tmp_path) == []


def test_a_killed_writers_debris_is_removed_by_the_next_publisher_of_its_kind(tmp_path):
    (tmp_path / ".matcher-aaa.json.staging-999-1").write_text("killed mid-write")
    (tmp_path / ".index.staging-999-2").mkdir()
    write(tmp_path / "matcher-bbb.json", "fresh")
    assert debris(tmp_path) == [".index.staging-999-2"]  # another kind's: not ours to judge


def test_publishers_of_one_kind_take_turns(tmp_path):
    path = tmp_path / "matcher-aaa.json"
    first_inside, second_inside = threading.Event(), threading.Event()

    def second():
        with publish(path) as staging:
            second_inside.set()
            staging.write_text("second")

    with publish(path) as staging:
        first_inside.set()
        t = threading.Thread(target=second)
        t.start()
        assert not second_inside.wait(0.3)  # blocked on the lock while the first one writes
        staging.write_text("first")
    t.join(10)
    assert second_inside.is_set() and path.read_text() == "second"


def _publish_many(path: str, byte: str, times: int) -> None:
    for _ in range(times):
        with publish(Path(path)) as staging:
            with open(staging, "w") as f:
                for _ in range(64):  # written in pieces, so a torn file would show
                    f.write(byte * 4096)
                    f.flush()


def test_concurrent_processes_never_show_a_reader_a_torn_file(tmp_path):
    path = tmp_path / "rewrite-aaa.sqlite3"
    write(path, "a" * 64 * 4096)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_publish_many, args=(str(path), b, 15)) for b in "bcd"]
    for p in procs:
        p.start()
    seen = set()
    deadline = time.monotonic() + 60
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        text = path.read_text()
        assert len(text) == 64 * 4096 and len(set(text)) == 1, "a reader saw a partial artifact"
        seen.add(text[0])
    for p in procs:
        p.join(10)
        assert p.exitcode == 0
    assert len(set(path.read_text())) == 1 and debris(tmp_path) == []
    assert seen <= set("abcd")


def test_lock_alone_serialises_a_check_then_build(tmp_path):
    """``lock=False`` inside ``artifact_lock``: the lexicon index checks freshness, then builds,
    with no second builder in between."""
    link = tmp_path / "index"
    with artifact_lock(link):
        with publish(link, lock=False) as staging:
            staging.mkdir()
            (staging / "meta.json").write_text("{}")
    assert (link / "meta.json").read_text() == "{}"


def test_a_failed_rewrite_build_keeps_the_previous_rules(tmp_path, monkeypatch):
    import kgnlu.kg.rewrite as rewrite

    names = {"a": ["Broad thumb", "Broad thumb bone"], "b": ["Broad toe", "Broad toe bone"], "c": ["Small toe"]}
    entries = [Entry(c, n, "label" if i == 0 else "exact", None, "t") for c in names for i, n in enumerate(names[c])]
    path = tmp_path / "rewrite-aaa.sqlite3"
    before = len(RewriteIndex.build(path, entries, "aaa"))
    monkeypatch.setattr(rewrite, "bag_key", lambda tokens: 1 / 0)  # fails while the targets are written
    with pytest.raises(ZeroDivisionError):
        RewriteIndex.build(path, entries, "aaa")
    assert before > 0 and len(RewriteIndex(path)) == before and debris(tmp_path) == []

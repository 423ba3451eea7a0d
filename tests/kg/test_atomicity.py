"""A write that dies (SIGKILL) or is interrupted (SIGINT, SIGTERM) leaves the KG as it was.

The child ingests Brick (2 MB of Turtle, ~10 s) into a KG that holds the demo ontology; we wait for
its staging directory to appear and strike while it is still parsing.
"""

from __future__ import annotations

import importlib.resources
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kgnlu.kg.kgdir import KGDir

DATA = Path(__file__).resolve().parents[1] / "data"


def _brick() -> Path:
    try:
        p = importlib.resources.files("brickschema") / "ontologies" / "1.4" / "Brick.ttl"
    except ModuleNotFoundError:
        pytest.skip("brickschema is not installed")
    if not p.is_file():
        pytest.skip("Brick.ttl not found in brickschema")
    return Path(str(p))


def _stagings(kg: Path) -> list[Path]:
    return [p for p in kg.iterdir() if p.name.startswith("staging-")]


def _without_staging(tree: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in tree.items() if not k.startswith("staging-")}


def _start_ingest(kg: Path, path: Path, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    err = tmp_path / "child.stderr"

    def default_sigint():  # a child of a non-interactive shell may inherit SIGINT ignored
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen([sys.executable, "-m", "kgnlu.cli.main", "ingest", str(path), "--kg", str(kg), "-q"],
                            stdout=subprocess.DEVNULL, stderr=open(err, "wb"), stdin=subprocess.DEVNULL,
                            preexec_fn=default_sigint)
    return proc, err


def _wait_mid_ingest(proc: subprocess.Popen, kg: Path, settle: float = 1.5) -> None:
    """Until the child has opened its staging directory, then a little longer (it is parsing)."""
    deadline = time.monotonic() + 60
    while not _stagings(kg):
        assert proc.poll() is None, "the ingest ended before it started writing"
        assert time.monotonic() < deadline, "no staging directory appeared"
        time.sleep(0.05)
    time.sleep(settle)
    assert proc.poll() is None, "the ingest finished before we could interrupt it"


def _query_fruits(cli, kg: Path) -> set[str]:
    res = cli("kg", "query", "SELECT ?c WHERE { ?c <http://www.w3.org/2000/01/rdf-schema#subClassOf> "
                             "<http://kgnlu.org/demo/food#Fruit> }", "--kg", kg, "--json")
    assert res.returncode == 0, res.stderr
    return {row[0] for row in json.loads(res.stdout)["rows"]}


def test_sigkill_mid_ingest_leaves_the_kg_intact(kg_copy, tmp_path, cli, hash_tree):
    brick = _brick()
    before = hash_tree(kg_copy)
    gen = KGDir(kg_copy).current().path.name
    proc, _ = _start_ingest(kg_copy, brick, tmp_path)
    try:
        _wait_mid_ingest(proc, kg_copy)
        # A second writer is turned away while the first holds the lock.
        other = cli("ingest", DATA / "tst.ttl", "--kg", kg_copy, "-q")
        assert other.returncode == 2 and other.stderr_lines == [
            f"error: the KG at {kg_copy} is being written by another process"]
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    stale = _stagings(kg_copy)
    assert len(stale) == 1  # the kill landed mid-ingest
    assert KGDir(kg_copy).current().path.name == gen
    assert _without_staging(hash_tree(kg_copy)) == before

    stats = cli("kg", "stats", "--kg", kg_copy, "--json")
    assert stats.returncode == 0, stats.stderr
    s = json.loads(stats.stdout)
    assert [src["name"] for src in s["sources"]] == ["food"] and s["classes"] == 19
    assert _query_fruits(cli, kg_copy) == {"http://kgnlu.org/demo/food#" + c for c in ("Apple", "Banana", "Citrus")}

    # The next write cleans up the dead writer's staging directory and publishes normally.
    res = cli("ingest", DATA / "tst.ttl", "--kg", kg_copy, "-q", "--reasoner", "structural")
    assert res.returncode == 0, res.stderr
    assert not stale[0].exists() and _stagings(kg_copy) == []
    assert KGDir(kg_copy).current().path.name != gen
    assert sorted(p.name for p in kg_copy.iterdir() if p.name.startswith("gen-")) == [
        KGDir(kg_copy).current().path.name]
    assert sorted(KGDir(kg_copy).current().manifest()["sources"]) == ["food", "tst"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_ingest_exits_130_or_143_and_changes_nothing(kg_copy, tmp_path, hash_tree, sig):
    brick = _brick()
    before = hash_tree(kg_copy)
    proc, err = _start_ingest(kg_copy, brick, tmp_path)
    try:
        _wait_mid_ingest(proc, kg_copy, settle=1.0)
        proc.send_signal(sig)
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = err.read_text()
    assert rc == (143 if sig == signal.SIGTERM else 130), stderr  # 128 + the signal, as a shell reports a kill
    assert [ln for ln in stderr.splitlines() if ln.strip()] == ["error: interrupted; nothing was changed"]
    assert hash_tree(kg_copy) == before  # staging removed too
    assert _stagings(kg_copy) == []


def test_failed_write_after_a_kill_still_leaves_one_generation(kg_copy, tmp_path, hash_tree):
    """Leftovers of a dead writer (staging dir, unpublished generation, temp link) are swept by the next write,
    even when that write itself fails."""
    from kgnlu.kg.errors import ParseError
    from kgnlu.kg.ingest import ingest

    (kg_copy / "staging-999999-1").mkdir()
    (kg_copy / "staging-999999-1" / "quadstore.sqlite3").write_bytes(b"partial")
    (kg_copy / "gen-000099").mkdir()
    (kg_copy / ".current-999999").symlink_to("gen-000099")
    before = _without_staging(hash_tree(kg_copy))
    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix : <http://x#> .\n:a :b .\n")
    with pytest.raises(ParseError):
        ingest([bad], kg_copy)
    names = sorted(p.name for p in kg_copy.iterdir())
    assert names == [".lock", "current", KGDir(kg_copy).current().path.name]
    assert {k: v for k, v in hash_tree(kg_copy).items()} == {
        k: v for k, v in before.items() if not k.startswith(("gen-000099", ".current-"))}


def test_an_interrupt_after_the_write_says_the_kg_was_updated(kg_copy, monkeypatch):
    """Ctrl-C while the rewrite rules are mined from a new generation: the generation is already
    published, so the error must not say that nothing changed (it did), and it keeps exit code 130."""
    from kgnlu.kg.errors import InterruptedAfterWrite
    from kgnlu.runtime import KGSession, Runtime

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(KGSession, "rewriter", interrupted)
    with pytest.raises(InterruptedAfterWrite, match="after the KG was updated") as e:
        Runtime(kg_copy).ingest([DATA / "tst.ttl"], reasoner_name="structural")
    assert e.value.exit_code == 130
    assert sorted(KGDir(kg_copy).current().manifest()["sources"]) == ["food", "tst"]


def test_a_kg_this_process_may_not_write_is_a_one_line_error(kg_copy, monkeypatch, hash_tree):
    """As a user without write permission meets it (root, which these tests run as, has it always):
    the staging directory cannot be made."""
    from kgnlu.kg.errors import StoreError
    from kgnlu.kg.ingest import ingest

    before = hash_tree(kg_copy)
    mkdir = Path.mkdir

    def denied(self, *args, **kwargs):
        if self.name.startswith("staging-"):
            raise PermissionError(13, "Permission denied", str(self))
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", denied)
    with pytest.raises(StoreError, match="cannot write the KG at .*: permission denied"):
        ingest([DATA / "tst.ttl"], kg_copy)
    assert hash_tree(kg_copy) == before

"""The Python API as a user meets it: ``from kgnlu import Engine``, a cheap ``import kgnlu``, the
context manager, the runtime under the facade, the linking the model was trained with, and the
same answers from the CLI and from ``Engine``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO, FOOD, in_threads, run_cli


def test_import_kgnlu_is_cheap_and_exports_engine_lazily():
    code = ("import sys, json, kgnlu\n"
            "before = sorted(m for m in ('torch', 'rdflib', 'owlready2', 'kgnlu.api') if m in sys.modules)\n"
            "from kgnlu import Engine, InferResult\n"
            "print(json.dumps({'before': before, 'engine': Engine.__module__, 'result': InferResult.__module__,\n"
            "                  'torch_after': 'torch' in sys.modules}))\n")
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                    timeout=120).stdout)
    assert out["before"] == []
    assert (out["engine"], out["result"]) == ("kgnlu.api", "kgnlu.types")
    assert out["torch_after"] is False  # the facade loads torch only when a model is used


def test_unknown_attribute_is_an_attribute_error():
    import kgnlu

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        kgnlu.Nope  # noqa: B018
    assert "Engine" in dir(kgnlu)


def test_the_package_is_typed():
    from importlib.resources import files

    assert files("kgnlu").joinpath("py.typed").is_file()


def test_engine_as_context_manager_closes_and_reopens(demo_kg):
    from kgnlu import Engine

    with Engine.load(demo_kg) as engine:
        first = engine.session()
        assert engine.link("an apple")[0].label == "apple"
        assert first.hash == engine.kg_manifest()["hash"]
    assert engine.runtime._session is None  # closed in one place
    assert engine.link("an apple")[0].label == "apple"  # and usable again
    assert engine.session() is not first
    engine.close()


def test_batch_calls_take_records_and_refuse_what_would_be_misread(demo_kg):
    """A string where a list belongs iterated as its characters ("ab" was read as the pair a / b,
    ``link_many("seizure")`` gave seven empty answers) and a record {"premise", "hypothesis"} was
    read as its two keys: the words "premise" and "hypothesis". Records are pairs now, the rest a
    one-line error."""
    from kgnlu import Engine
    from kgnlu.types import InputError

    with Engine.load(demo_kg) as engine:
        pair = ("I eat an apple", "I eat a fruit")
        record = {"premise": pair[0], "hypothesis": pair[1], "label": "entailment"}
        assert engine.infer_many([record])[0].to_dict() == engine.infer(*pair).to_dict()
        assert engine.infer_many(iter([pair, list(pair)]))[1].to_dict() == engine.infer(*pair).to_dict()
        for bad, why in [(["ab"], "pair 1: expected (premise, hypothesis)"), ("ab", "pairs: expected a list"),
                         ([pair, ("a", "b", "c")], "pair 2: expected"), ([{"premise": "a"}], "needs 'premise' and"),
                         ([3], "pair 1: expected")]:
            with pytest.raises(InputError, match=re.escape(why)):
                engine.infer_many(bad)
        for many in (engine.link_many, engine.extract_many):
            with pytest.raises(InputError, match="texts: expected a list, not one str"):
                many("an apple")


def test_a_new_generation_opens_a_new_session(kg_copy, tmp_path):
    from kgnlu import Engine

    engine = Engine(kg_copy)
    before = engine.session()
    extra = tmp_path / "extra.ttl"
    extra.write_text("@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
                     "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
                     "<http://example.org/Quince> a owl:Class ; rdfs:label \"quince\" .\n", encoding="utf-8")
    Engine(kg_copy).ingest([extra])  # another engine, as another process would
    after = engine.session()
    assert after is not before and after.hash != before.hash
    assert [m.iri for m in engine.link("a quince")] == ["http://example.org/Quince"]
    engine.close()


def test_a_call_in_flight_keeps_working_when_another_thread_opens_a_new_generation(kg_copy, tmp_path):
    """A backend's thread pool: a request still linking (or querying) with the session it began
    on, while another request opens the generation a writer has just published. Closing the old
    session there closed the rewriter under the first: "Cannot operate on a closed database"."""
    from kgnlu import Engine

    engine = Engine(kg_copy)
    linker, store = engine.linker(), engine.store  # what the call in flight holds
    before = [m.to_dict() for m in linker.link("fruit, citrus")]
    assert [m["via"] for m in before] == ["rewrite"]  # read through the rewriter's database
    extra = tmp_path / "extra.ttl"
    extra.write_text("<http://example.org/Quince> a <http://www.w3.org/2002/07/owl#Class> .\n", encoding="utf-8")
    Engine(kg_copy).ingest([extra])
    in_threads(lambda: engine.link("a quince"), 1)  # another request: the new generation opens
    assert engine.session().path != Path(linker.tables.path).parent
    assert [m.to_dict() for m in linker.link("fruit, citrus")] == before
    assert [[c.value for c in row] for row in store.sparql(f"ASK {{ <{FOOD}Apple> ?p ?o }}").rows] == [["true"]]
    engine.close()


def test_close_while_another_thread_builds_a_part_does_not_deadlock(demo_kg):
    """``close`` waits for a part being built, and building the dense linker asks the runtime for
    its encoder. ``close`` used to wait holding the runtime's lock: each thread waited on the other."""
    import threading
    import time

    import numpy as np

    from kgnlu import Engine
    from kgnlu.neural.encoder import TextEncoder

    class Fixed(TextEncoder):
        dim, fingerprint = 4, "fixed"

        def encode(self, texts, batch_size=128, progress=None):
            return np.eye(1, self.dim, dtype=np.float32).repeat(len(texts), 0)

    engine = Engine(demo_kg, encoder=Fixed())
    runtime, session = engine.runtime, engine.session()
    closing = threading.Event()

    def build():  # as KGSession.linker's, dense: under the session's lock, then the runtime's encoder
        closing.set()
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:  # until ``close`` holds the runtime's lock, if it takes it for long
            if not runtime._lock.acquire(blocking=False):
                break
            runtime._lock.release()
            time.sleep(0.01)
        time.sleep(0.1)
        return runtime.encoder()

    builder = threading.Thread(target=session._part, args=("probe", build), daemon=True)
    closer = threading.Thread(target=lambda: closing.wait(10) and engine.close(), daemon=True)
    builder.start()
    closer.start()
    builder.join(10)
    closer.join(10)
    assert not builder.is_alive() and not closer.is_alive(), "deadlock: close() against a part being built"
    assert engine.runtime._session is None


def test_engine_links_as_the_nli_model_was_trained(demo_kg, tmp_path):
    """The shipped model records lexicon-only linking; Engine's default follows it, an encoder or
    an explicit ``dense`` overrides it, and a model that recorded dense linking gets it."""
    from kgnlu import Engine
    from kgnlu.runtime import model_linking, resolve_nli_model

    shipped = resolve_nli_model(None)
    assert json.loads((shipped / "manifest.json").read_text())["linking"]["dense"] is False
    assert Engine(demo_kg).dense is False and Engine(demo_kg, dense=True).dense is True
    dense_model = tmp_path / "dense-model"
    dense_model.mkdir()
    (dense_model / "manifest.json").write_text(json.dumps({"type": "kgnlu-fused-nli", "version": 2,
                                                          "linking": {"dense": True, "rewrite": True}}))
    assert model_linking(dense_model) == {"dense": True, "rewrite": True, "forms": False}
    assert Engine(demo_kg, model=dense_model).dense is True


def test_evaluation_and_training_sessions_link_as_they_should(demo_kg):
    """``kgnlu eval nli`` and the gate fit link as the evaluated model was trained (``infer`` does
    the same); a training session reads everything the linker can, and records it."""
    from kgnlu import Engine
    from kgnlu.runtime import model_linking, open_session, resolve_nli_model

    shipped = model_linking(resolve_nli_model(None))
    assert shipped["forms"] is False
    assert open_session(demo_kg, linking=shipped).linker().mode == Engine(demo_kg).linker().mode
    assert open_session(demo_kg).linker().mode["forms"] is True


def test_a_model_directory_without_a_manifest_is_an_input_error(demo_kg, tmp_path):
    from kgnlu import Engine, InputError

    with pytest.raises(InputError, match="not a trained NLI model"):
        Engine(demo_kg, model=tmp_path)


def test_training_takes_a_session_not_an_engine():
    """Training sits beside the runtime: it opens sessions, never imports the facade."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "src" / "kgnlu" / "training"
    for f in root.glob("*.py"):
        assert "kgnlu.api" not in f.read_text(encoding="utf-8"), f.name


def test_first_use_of_an_empty_kg_says_it_is_building_the_default_kg(tmp_path, monkeypatch, capsys):
    """A first ``infer``/``link`` on an empty KG directory builds the default KG (minutes): it says
    so on stderr even when the caller asked for no progress. The build itself is swapped for the
    demo ontology here."""
    from kgnlu import Engine
    from kgnlu.runtime import Runtime

    def small_build(self, progress):
        return self.ingest([DEMO], progress)

    monkeypatch.setattr(Runtime, "init_default_kg", small_build)
    engine = Engine(tmp_path / "empty")
    assert engine.link("an apple")[0].label == "apple"
    err = capsys.readouterr().err
    assert f"no KG at {tmp_path / 'empty'}: building the default medical KG" in err
    engine.close()


def test_cli_and_python_api_give_the_same_answers(demo_kg, tmp_path):
    """One behaviour everywhere: ``kgnlu infer --input`` and ``Engine.load().infer_many`` on generated
    pairs (food domain of the demo KG) give the same result contract, pair for pair."""
    from kgnlu import Engine
    from kgnlu.training import nli_data

    nli_data.generate(demo_kg, tmp_path / "pairs", seed=3, n_train=160, n_dev=20, n_test=20)
    rows = [json.loads(line) for f in ("train", "dev", "test")
            for line in (tmp_path / "pairs" / f"{f}.jsonl").read_text(encoding="utf-8").splitlines()]
    pairs = [(r["premise"], r["hypothesis"]) for r in rows]
    assert len(pairs) == 200
    batch = tmp_path / "pairs.jsonl"
    batch.write_text("".join(json.dumps({"premise": p, "hypothesis": h}) + "\n" for p, h in pairs))
    res = run_cli("infer", "--kg", demo_kg, "--input", batch, "--output", tmp_path / "out.jsonl", timeout=600)
    assert res.returncode == 0, res.stderr
    from_cli = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    with Engine.load(demo_kg) as engine:
        from_api = [r.to_dict() for r in engine.infer_many(pairs)]
    assert len(from_cli) == len(from_api) == 200
    mismatched = [i for i, (a, b) in enumerate(zip(from_cli, from_api)) if not _same(a, b)]
    assert mismatched == [], (pairs[mismatched[0]], from_cli[mismatched[0]], from_api[mismatched[0]])
    assert len({r["label"] for r in from_api}) == 3  # the pairs exercise every label


def _same(a, b, tol: float = 1e-5) -> bool:
    """Equal JSON, floats within ``tol`` (one process batches differently from the other)."""
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= tol
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], tol) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y, tol) for x, y in zip(a, b))
    return a == b

"""``kgnlu.api.Engine``'s KG lifecycle (ingest, stats, query, remove) and the result types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgnlu.api import Engine
from kgnlu.types import IngestResult, InputError, KgnluError, KGStats, QueryResult, RemoveResult, StoreError

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "ontologies" / "demo" / "food.ttl"
TST = REPO / "tests" / "data" / "tst.ttl"
FOOD = "http://kgnlu.org/demo/food#"


def test_constructing_an_engine_touches_nothing(tmp_path):
    e = Engine(tmp_path / "kg")
    assert e.kg_dir == (tmp_path / "kg").resolve()
    assert not e.has_kg
    assert not (tmp_path / "kg").exists()
    with pytest.raises(StoreError, match="no KG at"):
        e.stats()
    with pytest.raises(StoreError, match="no KG at"):
        e.query("ASK { ?s ?p ?o }")


def test_kg_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KGNLU_HOME", str(tmp_path / "home"))
    assert Engine().kg_dir == (tmp_path / "home").resolve()
    assert Engine(tmp_path / "explicit").kg_dir == (tmp_path / "explicit").resolve()


def test_ingest_stats_query_remove(tmp_path):
    e = Engine.load(tmp_path / "kg")
    stages = []
    r = e.ingest([DEMO, TST], reasoner="structural", progress=stages.append)
    assert isinstance(r, IngestResult) and r.changed
    assert [(s.name, s.status, s.format) for s in r.sources] == [("food", "added", "turtle"), ("tst", "added", "turtle")]
    assert r.reasoner["name"] == "structural" and r.counts["classes"] == 25
    assert any(s.startswith("parsing") for s in stages) and any(s.startswith("reasoning") for s in stages)
    json.dumps(r.to_dict())  # plain JSON values only

    s = e.stats()
    assert isinstance(s, KGStats)
    assert [src.name for src in s.sources] == ["food", "tst"] and all(src.status == "present" for src in s.sources)
    assert s.triples == 96 + 18 and s.classes == 25
    json.dumps(s.to_dict())

    q = e.query(f"SELECT ?l WHERE {{ <{FOOD}Apple> <http://www.w3.org/2000/01/rdf-schema#label> ?l }}")
    assert isinstance(q, QueryResult) and q.variables == ["l"] and q.rows == [["apple"]]
    assert e.tables.is_subclass(FOOD + "GrannySmith", FOOD + "Food")

    rm = e.remove_source("tst")
    assert isinstance(rm, RemoveResult) and rm.removed == "tst" and rm.triples_removed == 18
    assert rm.counts["triples"] == 96
    assert [src.name for src in e.stats().sources] == ["food"]
    with pytest.raises(InputError, match="no source named 'tst'"):
        e.remove_source("tst")


def test_engine_sees_a_new_generation(tmp_path):
    """A long-lived Engine (the QA backend) picks up what another writer published."""
    kg = tmp_path / "kg"
    reader = Engine(kg)
    Engine(kg).ingest([TST], reasoner="structural")
    tables_before = reader.tables
    assert reader.query("ASK { <http://kgnlu.org/demo/food#Apple> ?p ?o }").rows == [["false"]]
    Engine(kg).ingest([DEMO], reasoner="structural")
    assert reader.tables is not tables_before
    assert reader.tables.is_subclass(FOOD + "Apple", FOOD + "Fruit")
    assert reader.query("ASK { <http://kgnlu.org/demo/food#Apple> ?p ?o }").rows == [["true"]]
    reader.close()


def test_ingest_keeps_the_reasoner_the_kg_was_built_with(tmp_path):
    e = Engine(tmp_path / "kg")
    e.ingest([TST], reasoner="none")
    assert e.ingest([DEMO]).reasoner["name"] == "none"  # was re-reasoned with auto


def test_one_call_reads_one_generation(demo_kg, monkeypatch):
    """``link`` and a symbolic ``infer`` take the linker, the curator and the rules from one session:
    asked again in mid-call, the runtime could hand parts of a newer generation published meanwhile."""
    from kgnlu.runtime import Runtime

    e = Engine(demo_kg)  # with the packaged curation model
    calls = []
    real = Runtime.session
    monkeypatch.setattr(Runtime, "session", lambda self, *a: calls.append(1) or real(self, *a))
    e.link("apples and pears")
    assert len(calls) == 1
    calls.clear()
    e.infer("I ate an apple.", "I ate a fruit.", symbolic_only=True)
    assert len(calls) == 1
    e.close()


def test_unchanged_ingest_result(demo_kg):
    e = Engine(demo_kg)
    r = e.ingest([DEMO])
    assert not r.changed and [s.status for s in r.sources] == ["unchanged"]
    assert r.counts == e.stats().counts


def test_error_types_are_reexported_and_one_family():
    from kgnlu.kg import errors
    from kgnlu import types

    for name in ("KgnluError", "InputError", "ParseError", "UnsafeInputError", "InconsistentOntologyError",
                 "StoreError", "ReasonerError"):
        assert getattr(types, name) is getattr(errors, name)
        assert issubclass(getattr(types, name), KgnluError)
        assert getattr(types, name).exit_code == 2

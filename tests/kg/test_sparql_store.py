"""``kg.sparql_store``: a KG kept in a SPARQL 1.1 server (a real Oxigraph server, tests/kg/conftest.py).

The protocol itself runs in tests/kg/test_store.py against every backend. Here: the same data gives
the same triples as the embedded store; clean errors; one graph per source, listed by the manifest;
a failed write leaves only debris that the next write drops; and a KG ingested into the server
answers ``link``, ``infer`` and ``extract`` exactly as the embedded KG does.
"""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest

from kgnlu.kg.errors import InconsistentOntologyError, InputError, StoreError
from kgnlu.kg.ingest import ingest, remove
from kgnlu.kg.kgdir import KGDir
from kgnlu.kg.owlready_store import OwlreadyStore
from kgnlu.kg.reasoner import java_exe
from kgnlu.kg.sparql_store import SPARQLStore
from kgnlu.kg.store import Literal
from tests.kg.conftest import brick_ttl

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "ontologies" / "demo" / "food.ttl"
FOOD = "http://kgnlu.org/demo/food#"
SUBCLASS_OF = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
PREFIXES = """@prefix : <http://ex.org/t#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
"""
UNSAT = ":A a owl:Class . :B a owl:Class . :C a owl:Class .\n:A owl:disjointWith :B .\n:C rdfs:subClassOf :A , :B .\n"
needs_java = pytest.mark.skipif(java_exe() is None, reason="HermiT needs Java")


def ttl(path: Path, body: str) -> Path:
    path.write_text(PREFIXES + body)
    return path


def manifest(kg: Path) -> dict:
    return KGDir(kg).current().manifest()


def server_graphs(kg: Path) -> set[str]:
    """The graphs of this KG on the server, listed by its manifest or not."""
    return SPARQLStore.from_manifest(manifest(kg)).kg_graphs()


def listed_graphs(kg: Path) -> set[str]:
    rec = manifest(kg)["store"]
    return set(rec["graphs"].values()) | {rec["union"]}


def ground(triples) -> set:
    """Triples without blank nodes (their labels are each store's own)."""
    return {t for t in triples if not any(isinstance(x, str) and x.startswith("_:") for x in t)}


def blank_count(triples) -> int:
    return sum(1 for t in triples if any(isinstance(x, str) and x.startswith("_:") for x in t))


# -- the same data, the same triples as the embedded store -----------------------------------------


def test_demo_triples_equal_the_embedded_store(oxigraph_url, tmp_path):
    """Literals typed xsd:string come back plain, as OwlreadyStore gives them."""
    from kgnlu.kg.formats import to_ntriples

    nt = tmp_path / "food.nt"
    to_ntriples(DEMO, nt)
    remote, local = SPARQLStore(oxigraph_url), OwlreadyStore(tmp_path / "q.sqlite3")
    try:
        assert remote.load_ntriples("food", nt) == local.load_ntriples("food", nt)
        assert remote.sources() == local.sources() == ["food"]
        mine, theirs = list(remote.triples()), list(local.triples())
        assert len(mine) == len(theirs) == remote.count() == local.count()
        assert ground(mine) == ground(theirs) and blank_count(mine) == blank_count(theirs) > 0
        assert any(isinstance(o, Literal) for _, _, o in mine)
        fruit = FOOD + "Fruit"
        assert ground(remote.neighbours(fruit)) == ground(local.neighbours(fruit))
        assert remote.declared_ontology_iri("food") == local.declared_ontology_iri("food")
        query = f"SELECT ?c WHERE {{ ?c <{SUBCLASS_OF}> <{fruit}> }} ORDER BY ?c"
        assert remote.sparql(query) == local.sparql(query)
        assert remote.remove_source("food") == local.remove_source("food") == len(theirs)
        assert remote.kg_graphs() == set()  # a store outside a KG drops a removed source's graph at once
    finally:
        local.close()


def test_each_source_is_a_graph_and_sparql_sees_only_listed_ones(oxigraph_url):
    ex = "http://ex.org/"
    a = SPARQLStore(oxigraph_url)
    a.add("one", [(ex + "a", ex + "p", ex + "b")])
    a.add("two", [(ex + "a", ex + "p", ex + "b"), (ex + "c", ex + "p", ex + "d")])
    other = SPARQLStore(oxigraph_url)  # another KG on the same server
    other.add("one", [(ex + "x", ex + "p", ex + "y")])
    try:
        rec = a.describe()
        assert set(rec["graphs"]) == {"one", "two"} and rec["union"] not in rec["graphs"].values()
        assert a.kg_graphs() == {*rec["graphs"].values(), rec["union"]}
        assert all(g.startswith(f"urn:kgnlu:{a.kg_id}:") for g in a.kg_graphs())
        rows = a.sparql(f"SELECT ?s ?o WHERE {{ ?s <{ex}p> ?o }} ORDER BY ?s").rows
        assert rows == [[ex + "a", ex + "b"], [ex + "c", ex + "d"]]  # (a p b), told twice, once; not (x p y)
        reader = SPARQLStore.from_manifest({"store": {**rec, "graphs": {"one": rec["graphs"]["one"]},
                                                      "union": rec["graphs"]["one"]}})
        assert reader.sources() == ["one"] and reader.count() == 1
        assert reader.sparql("SELECT ?s ?p ?o WHERE { ?s ?p ?o }").rows == [[ex + "a", ex + "p", ex + "b"]]
        assert SPARQLStore(oxigraph_url).sparql("ASK { ?s ?p ?o }").rows == [[Literal("false")]]
    finally:
        a.collect_garbage(keep=set())
        other.collect_garbage(keep=set())


def test_insert_data_keeps_blank_nodes_whole_across_chunks(oxigraph_url, tmp_path, monkeypatch):
    """Without the Graph Store Protocol, a load goes as INSERT DATA in chunks; a blank node's label
    names one node only within one request, so a chain of blank nodes must not be split."""
    import kgnlu.kg.sparql_store as sparql_store

    monkeypatch.setattr(sparql_store, "INSERT_CHUNK", 2)
    ex = "http://ex.org/"
    nt = tmp_path / "chain.nt"
    lines = [f"<{ex}a{i}> <{ex}p> <{ex}b{i}> .\n" for i in range(5)]
    lines += [f"<{ex}root> <{ex}first> _:l1 .\n", f"_:l1 <{ex}rest> _:l2 .\n", f"_:l2 <{ex}rest> _:l3 .\n",
              f"_:l3 <{ex}value> <{ex}end> .\n"]
    nt.write_text("".join(lines))
    store = SPARQLStore(oxigraph_url)
    store._gsp_urls = []  # as a server without the Graph Store Protocol
    try:
        assert store.load_ntriples("chain", nt) == 9
        rows = store.sparql(f"SELECT ?end WHERE {{ <{ex}root> <{ex}first>/<{ex}rest>/<{ex}rest>/<{ex}value> ?end }}").rows
        assert rows == [[ex + "end"]]
    finally:
        store.collect_garbage(keep=set())


# -- errors ----------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_endpoint_is_a_one_line_store_error():
    store = SPARQLStore(f"http://127.0.0.1:{_closed_port()}", graphs={"x": "urn:kgnlu:t:source:x:1"})
    with pytest.raises(StoreError, match="cannot reach the SPARQL store at http://127.0.0.1") as err:
        store.count()
    assert "\n" not in str(err.value)


def test_an_endpoint_that_does_not_answer_times_out():
    with socket.socket() as silent:  # accepts connections (the kernel does) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        store = SPARQLStore(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
        with pytest.raises(StoreError, match=r"did not answer within 0.5 s"):
            store.sparql("ASK { ?s ?p ?o }")


@pytest.mark.parametrize("query", ["SELEC ?x WHERE { ?x ?p ?o }", "SELECT ?x WHERE { ?x ?p }"])
def test_malformed_query_is_the_callers_error(oxigraph_url, query):
    with pytest.raises(InputError, match=r"SPARQL query failed \(400\)") as err:
        SPARQLStore(oxigraph_url).sparql(query)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("url", ["ftp://host/x", "localhost:7878", "http://", ""])
def test_bad_url(url):
    with pytest.raises(InputError, match="bad SPARQL store URL"):
        SPARQLStore(url)


# -- a KG directory whose triples live in the server ------------------------------------------------


@pytest.fixture
def remote_kg(oxigraph_url, tmp_path) -> Path:
    kg = tmp_path / "remote"
    ingest([DEMO], kg, reasoner_name="structural", store_url=oxigraph_url)
    yield kg
    SPARQLStore.from_manifest(manifest(kg)).collect_garbage(keep=set())


def test_ingest_records_the_store_and_keeps_no_quadstore(remote_kg, oxigraph_url):
    m = manifest(remote_kg)
    assert m["store"]["url"] == oxigraph_url
    assert set(m["store"]["graphs"]) == {"food"} == set(m["sources"])
    assert server_graphs(remote_kg) == listed_graphs(remote_kg)
    gen = KGDir(remote_kg).current()
    assert not gen.quadstore.exists() and gen.tables.exists()
    assert m["counts"]["triples"] == SPARQLStore.from_manifest(m).count() > 0


def test_later_writes_use_the_recorded_store_and_refuse_another(remote_kg, oxigraph_url, tmp_path, hash_tree):
    before = hash_tree(remote_kg)
    extra = ttl(tmp_path / "extra.ttl", ":X a owl:Class .\n")
    with pytest.raises(InputError, match=f"lives in the SPARQL store {oxigraph_url}, not http://127.0.0.1:1"):
        ingest([extra], remote_kg, store_url="http://127.0.0.1:1")
    assert hash_tree(remote_kg) == before
    ingest([extra], remote_kg)  # no URL: the recorded store
    assert set(manifest(remote_kg)["store"]["graphs"]) == {"food", "extra"}
    ingest([ttl(tmp_path / "more.ttl", ":Y a owl:Class .\n")], remote_kg, store_url=oxigraph_url + "/")
    assert server_graphs(remote_kg) == listed_graphs(remote_kg)


def test_an_embedded_kg_refuses_a_store(kg_copy, oxigraph_url, tmp_path, hash_tree):
    kg = kg_copy
    before = hash_tree(kg)
    with pytest.raises(InputError, match="is embedded"):
        ingest([ttl(tmp_path / "x.ttl", ":X a owl:Class .\n")], kg, store_url=oxigraph_url)
    assert hash_tree(kg) == before


def test_replace_and_remove_drop_the_old_graph_after_publishing(remote_kg, tmp_path):
    extra = ttl(tmp_path / "extra.ttl", ":X a owl:Class .\n")
    ingest([extra], remote_kg)
    first = manifest(remote_kg)["store"]["graphs"]["extra"]
    ingest([ttl(tmp_path / "extra2.ttl", ":X a owl:Class . :Z a owl:Class .\n")], remote_kg, name="extra")
    second = manifest(remote_kg)["store"]["graphs"]["extra"]
    assert second != first and first not in server_graphs(remote_kg)
    assert server_graphs(remote_kg) == listed_graphs(remote_kg)
    report = remove("extra", remote_kg)
    assert report["triples_removed"] == 2
    assert set(manifest(remote_kg)["store"]["graphs"]) == {"food"}
    assert server_graphs(remote_kg) == listed_graphs(remote_kg)


def test_remove_rewrites_the_extracted_graph_without_the_relations_about_removed_classes(remote_kg, tmp_path):
    """As on the embedded store: "bananas contain vitamin C" goes with food's Banana, "lemons ..."
    stays (another source has Lemon, vitamin C and the property), with its provenance."""
    from kgnlu.api import Engine

    citrus = ttl(tmp_path / "citrus.ttl", f"<{FOOD}Lemon> a owl:Class . <{FOOD}VitaminC> a owl:Class .\n"
                                          f"<{FOOD}containsNutrient> a owl:ObjectProperty .\n")
    ingest([citrus], remote_kg)
    with Engine(remote_kg, dense=False) as engine:
        res = engine.extract("Lemons contain vitamin C. Bananas contain vitamin C.", untrained=True)
        assert len(engine.add_extracted(res.relations, min_score=0.5).added) == 2
    report = remove("food", remote_kg)
    assert [a["subject"] for a in report["extracted_dropped_axioms"]] == [FOOD + "Banana"]
    assert report["extracted_left"] == 1
    assert set(manifest(remote_kg)["store"]["graphs"]) == {"citrus", "extracted"}
    assert server_graphs(remote_kg) == listed_graphs(remote_kg)
    with Engine(remote_kg, dense=False) as engine:
        kb = engine.relation_kb()
        lemon = kb.standing(FOOD + "Lemon", FOOD + "containsNutrient", FOOD + "VitaminC")
        assert (lemon.status, lemon.steps[0].source) == ("known", "extracted")
        assert engine.query(f"ASK {{ ?s ?p <{FOOD}Banana> }}").rows == [["false"]]
        rows = engine.query("SELECT ?t WHERE { ?a <http://purl.obolibrary.org/obo/kgnlu/extracted_text> ?t }").rows
        assert rows == [["Lemons contain vitamin C."]]


@needs_java
def test_a_failed_ingest_leaves_the_kg_and_its_graphs_as_they_were(remote_kg, tmp_path, hash_tree):
    ingest([ttl(tmp_path / "extra.ttl", ":X a owl:Class .\n")], remote_kg)  # two sources: a union graph too
    before_tree, before_graphs = hash_tree(remote_kg), listed_graphs(remote_kg)
    reader = SPARQLStore.from_manifest(manifest(remote_kg))
    before_triples = sorted(map(str, reader.triples()))
    with pytest.raises(InconsistentOntologyError):  # fails after loading, when HermiT classifies
        ingest([ttl(tmp_path / "unsat.ttl", UNSAT)], remote_kg, reasoner_name="hermit")
    assert hash_tree(remote_kg) == before_tree
    debris = server_graphs(remote_kg) - before_graphs
    assert any(":source:unsat:" in g for g in debris)  # loaded, never listed
    assert sorted(map(str, reader.triples())) == before_triples  # readers see what they saw
    assert reader.sparql(f"ASK {{ ?c <{SUBCLASS_OF}> <http://ex.org/t#A> }}").rows == [[Literal("false")]]

    ingest([ttl(tmp_path / "fine.ttl", ":F a owl:Class .\n")], remote_kg, reasoner_name="hermit")
    assert server_graphs(remote_kg) == listed_graphs(remote_kg)
    assert not debris & server_graphs(remote_kg)


def test_query_goes_to_the_endpoint_through_the_engine_and_cli(remote_kg, cli):
    import json

    from kgnlu.api import Engine

    query = f"SELECT ?c WHERE {{ ?c <{SUBCLASS_OF}> <{FOOD}Fruit> }} ORDER BY ?c"
    with Engine(remote_kg) as engine:
        assert isinstance(engine.store, SPARQLStore)
        rows = engine.query(query).rows
    assert rows == [[FOOD + "Apple"], [FOOD + "Banana"], [FOOD + "Citrus"]]
    res = cli("kg", "query", query, "--kg", remote_kg, "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["rows"] == rows


def test_ingest_and_remove_through_the_cli(oxigraph_url, tmp_path, cli):
    kg = tmp_path / "kg"
    res = cli("ingest", DEMO, "--kg", kg, "--store", oxigraph_url, "--reasoner", "structural", "--no-embed", "-q")
    assert res.returncode == 0, res.stderr
    assert manifest(kg)["store"]["url"] == oxigraph_url
    res = cli("ingest", DEMO, "--kg", kg, "--store", "http://127.0.0.1:1", "--no-embed", "-q")
    assert res.returncode == 2 and "lives in the SPARQL store" in res.stderr and "Traceback" not in res.stderr
    res = cli("kg", "remove", "--source", "food", "--kg", kg)
    assert res.returncode == 0, res.stderr
    assert manifest(kg)["store"]["graphs"] == {} and server_graphs(kg) == set()


# -- the done-when: the same answers as the embedded KG ---------------------------------------------


TEXTS = {
    "demo": ["I ate a Granny Smith apple and some cheese.", "No carrots, only bananas.",
             "Yoghurt contains calcium.", "The orange is a fruit."],
    "brick": ["The air handling unit supplies air to the zone through a damper.",
              "A temperature sensor measures the supply air temperature.",
              "The chiller feeds the cooling coil; no boiler is installed."],
}
PAIRS = {
    "demo": [("I ate an apple.", "I ate a fruit."), ("She ate cheese.", "She ate no dairy."),
             ("He had a banana.", "He had meat.")],
    "brick": [("The building has an air handling unit.", "The building has equipment."),
              ("A temperature sensor failed.", "A sensor failed."), ("The valve is a point.", "The valve is equipment.")],
}


def _answers(kg: Path, name: str) -> dict:
    from kgnlu.api import Engine

    with Engine(kg) as engine:
        return {"link": [[m.to_dict() for m in engine.link(t)] for t in TEXTS[name]],
                "infer": [r.to_dict() for r in engine.infer_many(PAIRS[name])],
                "extract": [r.to_dict() for r in engine.extract_many(TEXTS[name])]}


def _tables_dump(kg: Path) -> list[str]:
    db = sqlite3.connect(KGDir(kg).current().tables)
    try:
        return list(db.iterdump())
    finally:
        db.close()


@pytest.mark.parametrize("name", ["demo", pytest.param("brick", marks=needs_java)])
def test_answers_exactly_as_the_embedded_kg(name, oxigraph_url, tmp_path):
    """Demo: HermiT; Brick 1.4 (a real ontology, ~60k triples): auto, which picks OWL 2 RL."""
    path = DEMO if name == "demo" else brick_ttl()
    embedded, remote = tmp_path / "embedded", tmp_path / "remote"
    a = ingest([path], embedded)
    b = ingest([path], remote, store_url=oxigraph_url)
    try:
        assert a["manifest"]["hash"] == b["manifest"]["hash"]
        assert a["manifest"]["counts"] == b["manifest"]["counts"]
        assert _tables_dump(embedded) == _tables_dump(remote)  # entity numbers included
        mine, theirs = _answers(remote, name), _answers(embedded, name)
        assert all(mine["link"]) and (name == "demo" or any(r["relations"] for r in mine["extract"]))
        assert mine == theirs
    finally:
        SPARQLStore.from_manifest(manifest(remote)).collect_garbage(keep=set())

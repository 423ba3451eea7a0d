"""``kg.ingest``: idempotency, replacing and removing sources (with what was inferred from them),
refusing inconsistent KGs, owl:imports, and agreement with owlready2 + HermiT on a real ontology."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kgnlu.kg.errors import InconsistentOntologyError, InputError, StoreError
from kgnlu.kg.ingest import ingest, remove
from kgnlu.kg.kgdir import KGDir
from kgnlu.kg.owlready_store import OwlreadyStore
from kgnlu.kg.reasoner import java_exe
from kgnlu.kg.tables import ClosureTables

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "ontologies" / "demo" / "food.ttl"
T = "http://ex.org/t#"
PREFIXES = """@prefix : <http://ex.org/t#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
"""
needs_java = pytest.mark.skipif(java_exe() is None, reason="HermiT needs Java")


def ttl(path: Path, body: str, ontology: str | None = None) -> Path:
    head = f"<{ontology}> a owl:Ontology .\n" if ontology else ""
    path.write_text(PREFIXES + head + body)
    return path


def tables(kg: Path) -> ClosureTables:
    return ClosureTables(KGDir(kg).current().tables)


def generation(kg: Path) -> str:
    return KGDir(kg).current().path.name


# -- idempotency -----------------------------------------------------------------------------------


def test_same_file_twice_is_unchanged(kg_copy, hash_tree):
    before = hash_tree(kg_copy)
    manifest = KGDir(kg_copy).current().manifest()
    report = ingest([DEMO], kg_copy)
    assert report["changed"] is False
    assert [(s["name"], s["status"]) for s in report["sources"]] == [("food", "unchanged")]
    assert report["manifest"]["hash"] == manifest["hash"]
    assert hash_tree(kg_copy) == before  # no new generation, nothing rewritten


def test_same_content_under_another_path_and_name_is_unchanged(kg_copy, tmp_path, hash_tree):
    copy = tmp_path / "elsewhere" / "renamed.owl"
    copy.parent.mkdir()
    shutil.copy(DEMO, copy)
    before = hash_tree(kg_copy)
    report = ingest([copy], kg_copy, name="other-name")
    assert report["changed"] is False
    assert [(s["name"], s["status"]) for s in report["sources"]] == [("food", "unchanged")]
    assert hash_tree(kg_copy) == before
    assert sorted(KGDir(kg_copy).current().manifest()["sources"]) == ["food"]


def test_unchanged_through_the_cli(kg_copy, cli, hash_tree):
    before = hash_tree(kg_copy)
    # --no-embed: with embedding on, a KG that has no faiss index yet gets one (a cache, not the KG)
    res = cli("ingest", DEMO, "--kg", kg_copy, "--json", "--no-embed")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["changed"] is False and out["sources"][0]["status"] == "unchanged"
    assert hash_tree(kg_copy) == before


def test_manifest_hash_is_a_content_identity(tmp_path):
    """Two KGs built from the same sources with the same reasoner have the same manifest hash."""
    a = ingest([DEMO], tmp_path / "a", reasoner_name="structural")["manifest"]["hash"]
    b = ingest([DEMO], tmp_path / "b", reasoner_name="structural")["manifest"]["hash"]
    c = ingest([DEMO], tmp_path / "c", reasoner_name="none")["manifest"]["hash"]
    assert a == b != c
    assert tables(tmp_path / "a").meta["manifest_hash"] == a


# -- replace and remove ----------------------------------------------------------------------------


@pytest.fixture
def two_sources(tmp_path) -> Path:
    """Source A says X ⊑ Y; source B says Y ⊑ Z and Y ≡ W. The KG infers X ⊑ Z and X ⊑ W."""
    a = ttl(tmp_path / "A.ttl", ":X a owl:Class ; rdfs:subClassOf :Y ; rdfs:label \"ex\" .\n", "http://ex.org/A")
    b = ttl(tmp_path / "B.ttl", ":Y a owl:Class ; rdfs:subClassOf :Z ; owl:equivalentClass :W .\n"
                                ":Z a owl:Class ; rdfs:label \"zed\" . :W a owl:Class .\n", "http://ex.org/B")
    kg = tmp_path / "kg"
    ingest([a, b], kg)
    return kg


def test_closure_spans_sources(two_sources):
    t = tables(two_sources)
    assert t.is_subclass(T + "X", T + "Z") and t.is_subclass(T + "X", T + "W")
    assert [(s.subject, s.object, s.source) for s in t.chain(T + "X", T + "Z")] == [
        (T + "X", T + "Y", "A"), (T + "Y", T + "Z", "B")]


def test_remove_source_drops_its_triples_and_inferences(two_sources):
    report = remove("B", two_sources)
    assert report["removed"] == "B" and report["triples_removed"] == 7
    t = tables(two_sources)
    pairs = t.subclass_pairs()
    assert (T + "X", T + "Y") in pairs
    assert (T + "X", T + "Z") not in pairs and (T + "X", T + "W") not in pairs
    assert not t.is_subclass(T + "X", T + "Z")
    assert t.label(T + "Z") is None
    manifest = KGDir(two_sources).current().manifest()
    assert sorted(manifest["sources"]) == ["A"]
    store = OwlreadyStore(KGDir(two_sources).current().quadstore, read_only=True)
    try:
        assert store.sources() == ["A"]
        assert list(store.triples(s=T + "Y")) == []
        assert store.count() == manifest["counts"]["triples"] == 4
    finally:
        store.close()


def test_remove_keeps_other_sources_literals_intact(tmp_path):
    """Removing a source must not strip the datatype of literals in the sources that stay."""
    from kgnlu.kg.store import Literal

    d = ttl(tmp_path / "D.ttl", "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
                                ':K a owl:Class ; :n "5"^^xsd:integer ; :d "2020-01-01"^^xsd:date ; '
                                ':c "x"^^<http://ex.org/dt#custom> ; rdfs:label "kay"@en .\n')
    e = ttl(tmp_path / "E.ttl", ':L a owl:Class ; :m "6"^^<http://ex.org/dt#other> .\n')
    kg = tmp_path / "kg"
    ingest([d, e], kg, reasoner_name="structural")

    def k_triples():
        store = OwlreadyStore(KGDir(kg).current().quadstore, read_only=True)
        try:
            return set(store.triples(s=T + "K"))
        finally:
            store.close()

    before = k_triples()
    assert (T + "K", T + "n", Literal("5", "http://www.w3.org/2001/XMLSchema#integer")) in before
    remove("E", kg)
    assert k_triples() == before
    # and the KG can still grow afterwards
    ingest([e], kg, reasoner_name="structural")
    assert k_triples() == before and tables(kg).kind(T + "L") == "class"


def test_replace_by_name(two_sources, tmp_path):
    b2 = ttl(tmp_path / "B2.ttl", ":Y a owl:Class ; rdfs:subClassOf :V . :V a owl:Class .\n", "http://ex.org/B")
    report = ingest([b2], two_sources, name="B")
    assert [(s["name"], s["status"]) for s in report["sources"]] == [("B", "replaced")]
    t = tables(two_sources)
    assert t.is_subclass(T + "X", T + "V")
    assert not t.is_subclass(T + "X", T + "Z") and not t.is_subclass(T + "X", T + "W")
    manifest = KGDir(two_sources).current().manifest()
    assert sorted(manifest["sources"]) == ["A", "B"]
    assert manifest["sources"]["B"]["path"] == str(b2.resolve())


def test_remove_unknown_source(two_sources, hash_tree):
    before = hash_tree(two_sources)
    with pytest.raises(InputError, match="no source named 'C'.*known: A, B"):
        remove("C", two_sources)
    assert hash_tree(two_sources) == before


def test_remove_from_no_kg(tmp_path):
    with pytest.raises(StoreError, match="no KG"):
        remove("A", tmp_path / "nothing")


def test_remove_through_the_cli(two_sources, cli, hash_tree):
    before = hash_tree(two_sources)
    res = cli("kg", "remove", "--source", "nope", "--kg", two_sources)
    assert res.returncode == 2
    assert res.stderr_lines == [res.stderr_lines[0]] and res.stderr_lines[0].startswith("error: no source named 'nope'")
    assert "Traceback" not in res.stderr
    assert hash_tree(two_sources) == before
    res = cli("kg", "remove", "--source", "B", "--kg", two_sources, "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["removed"] == "B" and out["counts"]["triples"] == 4
    assert not tables(two_sources).is_subclass(T + "X", T + "Z")


# -- inconsistency ---------------------------------------------------------------------------------

UNSAT = ":A a owl:Class . :B a owl:Class . :C a owl:Class .\n:A owl:disjointWith :B .\n:C rdfs:subClassOf :A , :B .\n"


@pytest.mark.parametrize("reasoner", [pytest.param("hermit", marks=needs_java), "rl", "structural"])
def test_unsatisfiable_class_is_refused(kg_copy, tmp_path, hash_tree, reasoner):
    f = ttl(tmp_path / "unsat.ttl", UNSAT, "http://ex.org/unsat")
    before = hash_tree(kg_copy)
    with pytest.raises(InconsistentOntologyError) as err:
        ingest([f], kg_copy, reasoner_name=reasoner)
    e = err.value
    assert e.unsatisfiable == [T + "C"]
    msg = str(e)
    assert "nothing written" in msg and "unsatisfiable C" in msg
    assert "C rdfs:subClassOf A" in msg and "C rdfs:subClassOf B" in msg
    assert "A owl:disjointWith B" in msg or "B owl:disjointWith A" in msg
    assert len(e.axioms) == 1 and e.axioms[0].startswith("C: ")
    assert hash_tree(kg_copy) == before
    assert not any(p.name.startswith("staging-") for p in kg_copy.iterdir())


def test_unsatisfiable_through_all_disjoint_classes_and_inheritance(tmp_path):
    """C ⊑ Apple ⊑ Fruit and C ⊑ Meat, with AllDisjointClasses(Fruit, Meat, Dairy) in the demo."""
    f = tmp_path / "lunch.ttl"
    f.write_text("@prefix : <http://kgnlu.org/demo/food#> .\n@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
                 "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
                 ":AppleBurger a owl:Class ; rdfs:subClassOf :Apple , :Beef .\n")
    with pytest.raises(InconsistentOntologyError) as err:
        ingest([DEMO, f], tmp_path / "kg", reasoner_name="structural")
    assert err.value.unsatisfiable == ["http://kgnlu.org/demo/food#AppleBurger"]
    assert "Apple rdfs:subClassOf Fruit" in str(err.value)


def test_reasoner_none_reports_but_keeps_unsatisfiable_classes(tmp_path):
    f = ttl(tmp_path / "unsat.ttl", UNSAT)
    report = ingest([f], tmp_path / "kg", reasoner_name="none")
    assert report["changed"] and report["manifest"]["counts"]["unsatisfiable"] == 1
    assert tables(tmp_path / "kg").unsatisfiable() == {T + "C": "subclass of two disjoint classes"}


@needs_java
def test_unsatisfiable_class_through_the_cli(kg_copy, tmp_path, cli, hash_tree):
    f = ttl(tmp_path / "unsat.ttl", UNSAT, "http://ex.org/unsat")
    before = hash_tree(kg_copy)
    res = cli("ingest", f, "--kg", kg_copy, "--reasoner", "hermit", "-q")
    assert res.returncode == 2
    assert len(res.stderr_lines) == 1 and res.stderr_lines[0].startswith("error: inconsistent KG")
    assert "unsatisfiable C" in res.stderr and "disjointWith" in res.stderr and "Traceback" not in res.stderr
    assert hash_tree(kg_copy) == before


@needs_java
def test_abox_inconsistency_is_refused_by_hermit(kg_copy, tmp_path, hash_tree):
    f = ttl(tmp_path / "abox.ttl", ":A a owl:Class . :B a owl:Class . :A owl:disjointWith :B .\n"
                                   ":i a owl:NamedIndividual , :A , :B .\n", "http://ex.org/abox")
    before = hash_tree(kg_copy)
    with pytest.raises(InconsistentOntologyError, match="inconsistent"):
        ingest([f], kg_copy, reasoner_name="hermit")
    assert hash_tree(kg_copy) == before


ABOX_CLASHES = {
    "member of an unsatisfiable class": (UNSAT + ":x a owl:NamedIndividual , :C .\n",
                                         ["unsatisfiable C; axioms: C: C rdfs:subClassOf A", "C rdfs:subClassOf B",
                                          "disjointWith", "individuals in them: x"]),
    "typed with two disjoint classes": (":A a owl:Class . :B a owl:Class . :A owl:disjointWith :B .\n"
                                        ":i a owl:NamedIndividual , :A , :B .\n",
                                        ["individual i is of the disjoint classes A and B", "i rdf:type A [abox]",
                                         "A owl:disjointWith B [abox]"]),
    "typed through a domain (OWL 2 RL)": (":A a owl:Class . :B a owl:Class . :A owl:disjointWith :B .\n"
                                          ":p a owl:ObjectProperty ; rdfs:domain :A .\n"
                                          ":i a owl:NamedIndividual , :B ; :p :j . :j a owl:NamedIndividual .\n",
                                          ["individual i is of the disjoint classes A and B", "[reasoner:rl]"]),
    "beyond the structural and RL closures": (":p a owl:ObjectProperty , owl:FunctionalProperty .\n"
                                              ":i a owl:NamedIndividual ; :p :j , :k . :j owl:differentFrom :k .\n"
                                              ":j a owl:NamedIndividual . :k a owl:NamedIndividual .\n",
                                              ["inconsistent KG, nothing written", "functional properties"]),
}


@needs_java
@pytest.mark.parametrize("case", ABOX_CLASHES)
def test_hermit_names_what_makes_the_kg_inconsistent(kg_copy, tmp_path, hash_tree, case):
    """HermiT only says that the KG is inconsistent; the message names the class or individual
    and the axioms as ``-r rl`` and ``-r structural`` do, and the KG is left as it was."""
    body, expected = ABOX_CLASHES[case]
    f = ttl(tmp_path / "abox.ttl", body, "http://ex.org/abox")
    before = hash_tree(kg_copy)
    with pytest.raises(InconsistentOntologyError) as err:
        ingest([f], kg_copy, reasoner_name="hermit")
    msg = str(err.value)
    assert msg.startswith("hermit: inconsistent KG, nothing written") and "\n" not in msg
    assert all(part in msg for part in expected), msg
    assert hash_tree(kg_copy) == before
    assert not any(p.name.startswith("staging-") for p in kg_copy.iterdir())


@pytest.mark.parametrize("reasoner_name", ["structural", "rl"])
def test_an_individual_of_two_disjoint_classes_is_refused_by_every_reasoner(kg_copy, tmp_path, hash_tree,
                                                                           reasoner_name):
    """The RL and structural closures find no unsatisfiable class here: the clash is the
    individual's, and the KG was written inconsistent before."""
    if reasoner_name == "rl":
        pytest.importorskip("reasonable")
    body, expected = ABOX_CLASHES["typed with two disjoint classes"]
    f = ttl(tmp_path / "abox.ttl", body, "http://ex.org/abox")
    before = hash_tree(kg_copy)
    with pytest.raises(InconsistentOntologyError) as err:
        ingest([f], kg_copy, reasoner_name=reasoner_name)
    assert all(part in str(err.value) for part in expected), str(err.value)
    assert hash_tree(kg_copy) == before


def test_inconsistency_in_a_second_file_writes_nothing_of_the_first(tmp_path):
    good = ttl(tmp_path / "good.ttl", ":G a owl:Class .\n")
    bad = ttl(tmp_path / "bad.ttl", UNSAT)
    with pytest.raises(InconsistentOntologyError):
        ingest([good, bad], tmp_path / "kg", reasoner_name="structural")
    assert not KGDir(tmp_path / "kg").exists


# -- owl:imports -----------------------------------------------------------------------------------


@pytest.fixture
def importing(tmp_path) -> Path:
    (tmp_path / "imports").mkdir()
    ttl(tmp_path / "imports" / "base.ttl", ":Y a owl:Class ; rdfs:subClassOf :Z . :Z a owl:Class .\n",
        "http://ex.org/onto/base.ttl")
    return ttl(tmp_path / "main.ttl", ":X a owl:Class ; rdfs:subClassOf :Y .\n<http://ex.org/main> owl:imports "
                                      "<http://ex.org/onto/base.ttl> , <http://example.invalid/remote.owl> .\n",
               "http://ex.org/main")


def test_http_import_is_reported_and_never_fetched(importing, tmp_path, no_network):
    report = ingest([importing], tmp_path / "kg")
    (src,) = report["sources"]
    assert src["imports"] == ["http://ex.org/onto/base.ttl", "http://example.invalid/remote.owl"]
    assert src["imports_not_fetched"] == src["imports"]
    assert no_network.attempts == []
    t = tables(tmp_path / "kg")
    assert t.is_subclass(T + "X", T + "Y") and not t.is_subclass(T + "X", T + "Z")
    store = OwlreadyStore(KGDir(tmp_path / "kg").current().quadstore, read_only=True)
    try:
        assert list(store.triples(p="http://www.w3.org/2002/07/owl#imports")) == []
    finally:
        store.close()


def test_local_import_is_resolved_from_the_imports_dir(importing, tmp_path, no_network):
    report = ingest([importing], tmp_path / "kg", imports_dir=tmp_path / "imports")
    main, base = report["sources"]
    assert (main["name"], base["name"]) == ("main", "base")
    assert main["imports_not_fetched"] == ["http://example.invalid/remote.owl"]
    assert main["imports_resolved"] == {"http://ex.org/onto/base.ttl": str(tmp_path / "imports" / "base.ttl")}
    assert no_network.attempts == []
    assert tables(tmp_path / "kg").is_subclass(T + "X", T + "Z")
    assert sorted(KGDir(tmp_path / "kg").current().manifest()["sources"]) == ["base", "main"]


def test_imports_in_cli_json(importing, tmp_path, cli):
    res = cli("ingest", importing, "--kg", tmp_path / "kg", "--json", "--reasoner", "structural")
    assert res.returncode == 0, res.stderr
    (src,) = json.loads(res.stdout)["sources"]
    assert src["imports_not_fetched"] == ["http://ex.org/onto/base.ttl", "http://example.invalid/remote.owl"]
    res = cli("ingest", importing, "--kg", tmp_path / "kg2", "--json", "--imports", tmp_path / "imports")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert [s["name"] for s in out["sources"]] == ["main", "base"]
    assert out["sources"][0]["imports_not_fetched"] == ["http://example.invalid/remote.owl"]


# -- a real ontology: dcterms, against owlready2 + HermiT ------------------------------------------


@needs_java
def test_dcterms_closure_matches_owlready2_hermit(tmp_path, no_network):
    import owlready2
    import rdflib

    dcterms = Path(owlready2.__file__).parent / "ontos" / "dcterms.owl"
    report = ingest([dcterms], tmp_path / "kg", reasoner_name="hermit")
    assert report["manifest"]["reasoner"]["name"] == "hermit"
    # dcterms imports dcam, dcmitype and dc/elements: kgnlu reports them and fetches nothing.
    assert len(report["sources"][0]["imports_not_fetched"]) == 3
    t = tables(tmp_path / "kg")
    ours = {(a, b) for a, b in t.subclass_pairs() if t.kind(a) == "class" and t.kind(b) == "class"}

    # The reference: the same triples (imports cut, as kgnlu does) classified by owlready2's HermiT.
    g = rdflib.Graph().parse(dcterms, format="xml")
    g.remove((None, rdflib.OWL.imports, None))
    nt = tmp_path / "dcterms.nt"
    g.serialize(destination=str(nt), format="nt", encoding="utf-8")
    world = owlready2.World()
    try:
        onto = world.get_ontology(nt.as_uri()).load(only_local=True)
        with onto:
            owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
        ref = {(c.iri, a.iri) for c in world.classes() for a in c.ancestors()
               if a is not owlready2.Thing and a is not c}
    finally:
        world.close()
    assert no_network.attempts == []
    assert len(ref) >= 10
    assert ours == ref


# -- odd but legal RDF must not break reopening the quadstore --------------------------------------


def test_cyclically_typed_property_class_does_not_break_reopening(tmp_path, cli):
    """As in Brick: ``Relationship a Relationship ; rdfs:subClassOf rdf:Property`` and a property typed with it.
    A plain owlready2 World cannot reopen such a quadstore ("metaclass conflict"); the KG must."""
    rel = ttl(tmp_path / "rel.ttl", "@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .\n"
                                    ":Relationship a :Relationship ; rdfs:subClassOf rdf:Property .\n"
                                    ":hasPart a owl:ObjectProperty , :Relationship .\n")
    kg = tmp_path / "kg"
    ingest([rel], kg, reasoner_name="structural")
    report = ingest([DEMO], kg, reasoner_name="structural")  # reopens the quadstore to write
    assert report["changed"] and sorted(KGDir(kg).current().manifest()["sources"]) == ["food", "rel"]
    res = cli("kg", "query", f"SELECT ?p WHERE {{ ?p a <{T}Relationship> }}", "--kg", kg, "--json")
    assert res.returncode == 0, res.stderr
    assert sorted(r[0] for r in json.loads(res.stdout)["rows"]) == [T + "Relationship", T + "hasPart"]
    assert "Owlready2" not in res.stderr
    assert remove("rel", kg)["removed"] == "rel"


def test_ingest_reads_each_file_once(tmp_path, monkeypatch):
    """Hashing, format detection and parsing share one read of the file; the fail-fast check
    before the lock opens it without reading it."""
    import builtins
    from pathlib import Path

    from kgnlu.kg import formats
    from kgnlu.kg.ingest import ingest

    demo = Path(__file__).resolve().parents[2] / "ontologies" / "demo" / "food.ttl"
    src = tmp_path / "food.ttl"
    src.write_bytes(demo.read_bytes())
    reads: list[str] = []
    real_read_bytes, real_open = Path.read_bytes, builtins.open

    def counting_read_bytes(self):
        if self == src:
            reads.append("read_bytes")
        return real_read_bytes(self)

    def counting_open(file, mode="r", *args, **kwargs):
        if Path(str(file)) == src and "r" in mode:
            reads.append("open")
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "read_bytes", counting_read_bytes)
    monkeypatch.setattr(builtins, "open", counting_open)
    report = ingest([src], tmp_path / "kg", reasoner_name="structural")
    assert report["changed"] and report["sources"][0]["triples"] > 0
    assert reads == ["open", "read_bytes"], reads
    assert formats.read_file(src) == demo.read_bytes()

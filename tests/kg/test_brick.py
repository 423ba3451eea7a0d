"""Brick (1.4, ~60k triples): kgnlu's subsumption closure contains the one owlrl derives.

Slow: owlrl's OWL 2 RL closure of Brick takes 80-120 s in pure Python. Run with ``pytest -m slow``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kgnlu.kg.ingest import ingest
from kgnlu.kg.kgdir import KGDir
from kgnlu.kg.tables import ClosureTables
from kgnlu.kg.vocab import is_builtin
from tests.kg.conftest import brick_ttl

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def brick() -> Path:
    return brick_ttl()


def test_brick_closure_contains_owlrl_closure(brick, tmp_path, no_network):
    owlrl = pytest.importorskip("owlrl")
    import rdflib

    report = ingest([brick], tmp_path / "kg")  # auto: too big for HermiT, so OWL 2 RL with reasonable
    assert report["manifest"]["reasoner"]["name"] == "rl"
    assert report["manifest"]["counts"]["classes"] > 1000
    ours = ClosureTables(KGDir(tmp_path / "kg").current().tables).subclass_pairs()

    g = rdflib.Graph().parse(brick, format="turtle")
    g.remove((None, rdflib.OWL.imports, None))  # as kgnlu does; owlrl would not fetch them anyway
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(g)
    ref = {(str(s), str(o)) for s, o in g.subject_objects(rdflib.RDFS.subClassOf)
           if isinstance(s, rdflib.URIRef) and isinstance(o, rdflib.URIRef) and s != o
           and not is_builtin(str(s)) and not is_builtin(str(o))}
    assert len(ref) > 5000
    missing = sorted(ref - ours)
    assert not missing, f"{len(missing)} subsumptions owlrl derives are missing, e.g. {missing[:5]}"
    assert no_network.attempts == []


def test_brick_ingest_then_reopen_and_write_again(brick, tmp_path):
    """Brick's punned and cyclically typed entities must not stop the quadstore from reopening."""
    from kgnlu.kg.owlready_store import OwlreadyStore

    kg = tmp_path / "kg"
    ingest([brick], kg, reasoner_name="structural")
    store = OwlreadyStore(KGDir(kg).current().quadstore, read_only=True)
    try:
        assert store.sources() == ["Brick"]
        assert store.sparql("ASK { ?c <http://www.w3.org/2000/01/rdf-schema#subClassOf> ?d }").rows[0][0].value == "true"
    finally:
        store.close()
    small = Path(__file__).resolve().parents[1] / "data" / "tst.ttl"
    report = ingest([small], kg, reasoner_name="structural")
    assert report["changed"] and sorted(KGDir(kg).current().manifest()["sources"]) == ["Brick", "tst"]

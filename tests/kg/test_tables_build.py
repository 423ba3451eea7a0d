"""``kg.tables_build``: a reasoner's conclusions are kept as its own only where the told axioms do
not already imply them, so that proofs cite the told axioms with their sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgnlu.kg.ingest import ingest
from kgnlu.kg.kgdir import KGDir
from kgnlu.kg.reasoner import java_exe
from kgnlu.kg.tables import ClosureTables
from kgnlu.kg.tables_build import Inference, _add_inference, _Axioms, _Interner

T = "http://ex.org/t#"
# A ⊑ B ⊑ C and D ≡ E are told. S1 and S2 are each told equivalent to one and the same restriction:
# S1 ⊑ S2 and S2 ⊑ S1 follow only through it (RL's scm-eqc1 and scm-sco; HermiT: S1 ≡ S2), which the
# told hierarchy does not read. S2 ⊑ M is told, so the reasoner's S1 ⊑ M follows from S1 ⊑ S2.
# i is told an A (RL adds B and C); k is a H only through the domain of q.
TINY = """@prefix : <http://ex.org/t#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<http://ex.org/tiny> a owl:Ontology .
:A a owl:Class ; rdfs:subClassOf :B .
:B a owl:Class ; rdfs:subClassOf :C .
:C a owl:Class .
:D a owl:Class ; owl:equivalentClass :E .
:E a owl:Class .
:M a owl:Class .
:H a owl:Class .
:p a owl:ObjectProperty .
:q a owl:ObjectProperty ; rdfs:domain :H .
:S1 a owl:Class ; owl:equivalentClass _:x .
:S2 a owl:Class ; owl:equivalentClass _:x ; rdfs:subClassOf :M .
_:x a owl:Restriction ; owl:onProperty :p ; owl:someValuesFrom :A .
:i a owl:NamedIndividual , :A .
:k a owl:NamedIndividual ; :q :k .
"""


def _rows(t: ClosureTables, table: str, a: str, b: str) -> dict[tuple[str, str], str]:
    rows = t._q(f"SELECT x.iri, y.iri, r.source FROM {table} r JOIN entities x ON x.id = r.{a} "
                f"JOIN entities y ON y.id = r.{b}")
    return {(x.removeprefix(T), y.removeprefix(T)): t.source_name(src) for x, y, src in rows}


@pytest.mark.parametrize("reasoner", ["rl", pytest.param("hermit", marks=pytest.mark.skipif(
    java_exe() is None, reason="HermiT needs Java"))])
def test_told_implied_conclusions_are_not_the_reasoners(tmp_path: Path, reasoner: str):
    if reasoner == "rl":
        pytest.importorskip("reasonable")
    src = tmp_path / "tiny.ttl"
    src.write_text(TINY)
    report = ingest([src], tmp_path / "kg", reasoner_name=reasoner)
    t = ClosureTables(KGDir(tmp_path / "kg").current().tables)
    by = f"reasoner:{reasoner}"
    inferred = {(a, b) for table, x, y in (("edges", "sub", "sup"), ("equivalents", "a", "b"))
                for (a, b), s in _rows(t, table, x, y).items() if s == by}
    assert inferred == {("S1", "S2"), ("S2", "S1")}  # as two subsumptions (RL) or one equivalence (HermiT)
    assert report["manifest"]["counts"]["inferred_subclass_edges"] == (2 if reasoner == "rl" else 0)
    assert [(s.subject, s.source) for s in t.chain(T + "A", T + "C")] == [(T + "A", "tiny"), (T + "B", "tiny")]
    assert [s.source for s in t.chain(T + "D", T + "E")] == ["tiny"]
    assert [(s.subject, s.source) for s in t.chain(T + "S1", T + "M")] == [(T + "S1", by), (T + "S2", "tiny")]
    assert t.is_subclass(T + "A", T + "C") and t.is_subclass(T + "S1", T + "M") and t.is_subclass(T + "S2", T + "S1")
    assert t.types(T + "i") == [T + "A"] and t.type_source(T + "i", T + "A") == "tiny"  # not RL's B, C
    if reasoner == "rl":
        assert t.types(T + "k") == [T + "H"] and t.type_source(T + "k", T + "H") == by


def test_an_inferred_equivalence_is_kept_over_its_two_subsumptions():
    """RL states X ≡ Y also as X ⊑ Y and Y ⊑ X; and Z ⊑ W inferred twice over is kept once."""
    ent, ax = _Interner(), _Axioms()
    told = ent(T + "Y", "class"), ent(T + "W", "class")
    ax.edges.add((*told, 1))
    inf = Inference("rl", subclass={(T + "X", T + "Y"), (T + "Y", T + "X"), (T + "X", T + "W"), (T + "Z", T + "W")},
                    equivalent={(T + "X", T + "Y"), (T + "Y", T + "X")})
    _add_inference(inf, 2, ent, ax)
    name = {i: iri.removeprefix(T) for iri, i in ent.ids.items()}
    assert {(name[a], name[b]) for a, b, s in ax.edges if s == 2} == {("Z", "W")}
    assert {(name[a], name[b]) for a, b, s in ax.equiv if s == 2} == {("X", "Y"), ("Y", "X")}

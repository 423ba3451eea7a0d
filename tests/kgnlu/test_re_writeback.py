"""tasks.re_writeback's upper-level guard on an ontology shaped like MONDO.

MONDO's ``hereditary disease`` covers about 37% of MONDO's classes (11,808 of 31,958 in the default
KG) but is no root and not half of its ontology, so the guard at ``UPPER_SHARE`` 0.5 let a triple
about it be written, to be inherited by every hereditary disease. The fixture keeps MONDO's IRIs,
labels and shape for the upper classes, with its branch shares scaled to 40 classes: hereditary
disease 14 of 40 (35%, MONDO 36.9%), nervous system disorder 6 (15%, MONDO 17.9%), non-human
animal disease 4 (10%, MONDO 13.2%).
"""

from __future__ import annotations

import pytest

OBO = "http://purl.obolibrary.org/obo/"
HAS_PHENOTYPE = OBO + "RO_0002200"
DISEASE, HUMAN, ETIOLOGIC, GENETIC, HEREDITARY = (OBO + f"MONDO_{n}" for n in (
    "0000001", "0700096", "7770008", "7770009", "0003847"))
NERVOUS, ANIMAL = OBO + "MONDO_0005071", OBO + "MONDO_0005583"
SEIZURE = OBO + "HP_0001250"


def _ontology() -> str:
    lines = [
        "@prefix obo: <http://purl.obolibrary.org/obo/> .",
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .",
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .",
        "<http://kgnlu.org/test/mondo-shape> a owl:Ontology .",
        "obo:RO_0002200 a owl:ObjectProperty ; rdfs:label \"has phenotype\" ; rdfs:domain obo:MONDO_0000001 ;"
        " rdfs:range obo:HP_0000118 .",
    ]

    def cls(iri: str, label: str, parent: str | None = None) -> None:
        sup = f" ; rdfs:subClassOf <{parent}>" if parent else ""
        lines.append(f"<{iri}> a owl:Class ; rdfs:label \"{label}\"{sup} .")

    cls(DISEASE, "disease")
    cls(HUMAN, "human disease", DISEASE)
    cls(ANIMAL, "non-human animal disease", DISEASE)
    cls(ETIOLOGIC, "disease by etiologic mechanism", HUMAN)
    cls(GENETIC, "disease of genetic or genomic mechanism", ETIOLOGIC)
    cls(HEREDITARY, "hereditary disease", GENETIC)
    cls(NERVOUS, "nervous system disorder", HUMAN)
    leaves = [(ANIMAL, "animal disease", 4), (HEREDITARY, "hereditary disease", 14),
              (NERVOUS, "nervous system disease", 6), (HUMAN, "acquired disease", 9)]
    n = 0
    for parent, name, count in leaves:
        for k in range(count):
            n += 1
            cls(OBO + f"MONDO_99{n:05d}", f"{name} {k + 1}", parent)
    cls(OBO + "HP_0000001", "All")
    cls(OBO + "HP_0000118", "Phenotypic abnormality", OBO + "HP_0000001")
    cls(SEIZURE, "Seizure", OBO + "HP_0000118")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from kgnlu.api import Engine
    from kgnlu.kg.ingest import ingest

    root = tmp_path_factory.mktemp("mondo-shape")
    src = root / "mondo_shape.ttl"
    src.write_text(_ontology(), encoding="utf-8")
    ingest([src], root / "kg", reasoner_name="structural")
    return Engine(root / "kg", dense=False)


def _relation(subject: str, obj: str, engine):
    from kgnlu.types import Relation

    label = engine.tables.label
    return Relation(subject={"iri": subject, "label": label(subject)},
                    predicate={"iri": HAS_PHENOTYPE, "name": "has_phenotype", "label": "has phenotype"},
                    object={"iri": obj, "label": label(obj)}, score=0.9, negated=False, hedged=False,
                    status="novel", rule="", proof=[], evidence={"sentence": "", "spans": []}, gate=0.0)


def test_the_shape_is_mondo_s(engine):
    t = engine.tables
    assert t.n_classes_in(OBO + "MONDO_") == 40
    assert (t.n_descendants(HEREDITARY), t.n_descendants(NERVOUS), t.n_descendants(ANIMAL)) == (14, 6, 4)


def test_hereditary_disease_is_upper_level_and_nervous_system_disorder_is_not(engine):
    from kgnlu.tasks.re_writeback import _UpperLevel

    upper = _UpperLevel(engine.tables)
    assert "subsumes 14 of the 40 classes" in upper(HEREDITARY)
    assert "subsumes 15 of the 40 classes" in upper(GENETIC)
    assert "root of the KG's hierarchy" in upper(DISEASE)
    assert upper(NERVOUS) is None and upper(ANIMAL) is None and upper(OBO + "MONDO_9900005") is None
    assert upper(SEIZURE) is None


def test_a_triple_about_hereditary_disease_is_not_written(engine):
    from kgnlu.tasks import re_writeback

    broad = _relation(HEREDITARY, SEIZURE, engine)
    specific = _relation(OBO + "MONDO_9900005", SEIZURE, engine)  # "hereditary disease 1"
    accepted, skipped = re_writeback.select([broad, specific], engine.relation_kb(), 0.5)
    assert accepted == [specific]
    (why,) = skipped
    assert why["triple"]["subject"] == HEREDITARY
    assert why["reason"].startswith("not writable: upper-level class: hereditary disease")

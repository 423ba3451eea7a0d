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


def test_a_relation_asserted_of_a_negated_mention_is_not_written(engine):
    """"X presents with A but without B": the model read X has_phenotype B as asserted, NegEx
    negates B. No fact to write; a negated relation of a negated mention is written as before."""
    from dataclasses import replace

    from kgnlu.tasks import re_writeback

    specific = OBO + "MONDO_9900005"
    plain = _relation(specific, SEIZURE, engine)
    denied = replace(plain, object={**plain.object, "negated": True})
    accepted, skipped = re_writeback.select([denied], engine.relation_kb(), 0.5)
    assert accepted == [] and skipped[0]["reason"].startswith("polarity unsure: the text negates its object")
    both = replace(denied, negated=True)
    assert re_writeback.select([both], engine.relation_kb(), 0.5)[0] == [both]
    assert re_writeback.select([plain], engine.relation_kb(), 0.5)[0] == [plain]


# -- removing a source takes the extracted relations about its classes with it ---------------------

EX = "http://ex.org/pets#"
CAT, DOG, MOUSE, FISH, GOLDFISH, EATS = (EX + n for n in ("Cat", "Dog", "Mouse", "Fish", "Goldfish", "eats"))
SUBCLASS_OF = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
HEAD = ("@prefix : <http://ex.org/pets#> .\n@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n")


def _pets_kg(tmp_path):
    """Source ``pets`` has Cat and Dog; ``prey`` has Dog too, Mouse, Fish, Goldfish and ``eats``; the
    source ``extracted`` (written as ``extract --add-to-kg`` writes it) relates them."""
    from kgnlu.api import Engine
    from kgnlu.kg.ingest import ingest

    pets, prey = tmp_path / "pets.ttl", tmp_path / "prey.ttl"
    pets.write_text(HEAD + ':Cat a owl:Class ; rdfs:label "cat" .\n:Dog a owl:Class ; rdfs:label "dog" .\n')
    prey.write_text(HEAD + ':eats a owl:ObjectProperty ; rdfs:label "eats" .\n:Dog a owl:Class .\n'
                    + "".join(f':{n} a owl:Class ; rdfs:label "{n.lower()}" .\n' for n in ("Mouse", "Fish", "Goldfish")))
    ingest([pets, prey], tmp_path / "kg", reasoner_name="structural")
    eng = Engine(tmp_path / "kg", dense=False)
    rels = [_relation(CAT, MOUSE, eng), _relation(DOG, FISH, eng), _relation(FISH, MOUSE, eng),
            _relation(GOLDFISH, FISH, eng)]
    for r, text in zip(rels, ("Cats eat mice.", "Dogs eat fish.", "Fish do not eat mice.", "A goldfish is a fish.")):
        r.predicate["iri"], r.evidence["sentence"] = EATS, text
    rels[2].negated = True
    rels[3].predicate = {"iri": SUBCLASS_OF, "name": "is_a", "label": "is a"}
    out = eng.add_extracted(rels, min_score=0.5)
    assert (out.error, len(out.added)) == (None, 4)
    return eng


def _mentions(eng, iri: str) -> list:
    from kgnlu.kg.kgdir import KGDir
    from kgnlu.kg.owlready_store import OwlreadyStore

    store = OwlreadyStore(KGDir(eng.kg_dir).current().quadstore, read_only=True)
    try:
        return [*store.triples(s=iri), *store.triples(o=iri)]
    finally:
        store.close()


def test_removing_a_source_drops_the_extracted_relations_about_its_classes_only(tmp_path):
    """``kg remove --source pets`` kept "cat eats mouse" in ``extracted``, with Cat declared there and
    nowhere else: an axiom about an IRI no source has any more."""
    eng = _pets_kg(tmp_path)
    before = eng.kg_manifest()["sources"]["extracted"]
    r = eng.remove_source("pets")
    assert r.extracted_dropped == 1 and r.extracted_left == 3
    assert r.extracted_dropped_axioms == [{"subject": CAT, "property": EATS, "object": MOUSE, "negated": False}]
    assert _mentions(eng, CAT) == []
    kb = eng.relation_kb()
    assert kb.standing(CAT, EATS, MOUSE).status == "novel"
    # Dog stays (prey declares it too), and with it its relation; the negated and is_a ones stay
    assert kb.standing(DOG, EATS, FISH).status == "known"
    assert kb.standing(FISH, EATS, MOUSE, True).status == "known"
    assert eng.tables.is_subclass(GOLDFISH, FISH)
    rows = eng.query("SELECT ?t WHERE { ?a <http://www.w3.org/2002/07/owl#annotatedSource> "
                     f"<{DOG}> . ?a <http://purl.obolibrary.org/obo/kgnlu/extracted_text> ?t }}").rows
    assert rows == [["Dogs eat fish."]]  # the provenance stays with the axiom
    after = eng.kg_manifest()["sources"]["extracted"]
    assert after["triples"] < before["triples"] and after["sha256"] != before["sha256"]
    # a source left without extracted axioms goes too
    r = eng.remove_source("prey")
    assert (r.extracted_dropped, r.extracted_left) == (3, 0)
    assert eng.kg_manifest()["sources"] == {} and eng.stats().triples == 0


def test_a_new_version_of_a_source_without_a_class_drops_the_extracted_relations_about_it(tmp_path):
    """Re-ingesting ``pets`` without Cat (its new version) left "cat eats mouse" in ``extracted``, as
    ``kg remove`` did before: ingest drops it too, and says so."""
    from kgnlu.kg.kgdir import KGDir

    eng = _pets_kg(tmp_path)
    (tmp_path / "pets.ttl").write_text(HEAD + ':Dog a owl:Class ; rdfs:label "dog" .\n')
    r = eng.ingest([tmp_path / "pets.ttl"])
    assert [s.status for s in r.sources] == ["replaced"]
    assert r.extracted_dropped_axioms == [{"subject": CAT, "property": EATS, "object": MOUSE, "negated": False}]
    assert _mentions(eng, CAT) == [] and eng.relation_kb().standing(DOG, EATS, FISH).status == "known"
    assert "extracted" in KGDir(eng.kg_dir).current().manifest()["sources"]
    r = eng.ingest([tmp_path / "pets.ttl"])  # unchanged: nothing to drop
    assert not r.changed and r.extracted_dropped_axioms == []


def test_a_failed_remove_leaves_the_extracted_relations_as_they_were(tmp_path, monkeypatch, hash_tree):
    from kgnlu.kg import ingest

    eng = _pets_kg(tmp_path)
    before = hash_tree(eng.kg_dir)

    def fail(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(ingest, "_classify_and_tabulate", fail)
    with pytest.raises(KeyboardInterrupt):
        eng.remove_source("pets")
    assert hash_tree(eng.kg_dir) == before
    monkeypatch.undo()
    assert eng.relation_kb().standing(CAT, EATS, MOUSE).status == "known"


def test_the_kg_layer_names_the_write_back_source():
    from kgnlu.kg.ingest import EXTRACTED_SOURCE
    from kgnlu.tasks.re_writeback import SOURCE

    assert EXTRACTED_SOURCE == SOURCE

"""tasks.relations (candidates, scorers, extractor, write-back), the RE model's save/load, the data
generator's filling and the evaluation metrics. The KG is the demo food ontology."""

from __future__ import annotations

import json
import re

import pytest

from kgnlu.types import InputError

FOOD = "http://kgnlu.org/demo/food#"
CONTAINS = FOOD + "containsNutrient"


@pytest.fixture(scope="module")
def engine(demo_kg):
    from kgnlu.api import Engine

    return Engine(demo_kg, dense=False)


def _untrained(engine):
    return engine.relation_extractor(untrained=True)


# -- sentences, markers, patterns -------------------------------------------------------------

def test_split_sentences():
    from kgnlu.tasks.re_candidates import split_sentences

    text = "Dr. Smith saw him, e.g. at noon. Fever was absent!  Next line\n\nNew para"
    parts = [text[a:b] for a, b in split_sentences(text)]
    assert parts == ["Dr. Smith saw him, e.g. at noon.", "Fever was absent!", "Next line", "New para"]
    assert split_sentences("") == [] and split_sentences("   ") == []


def test_markers_and_isa_pattern():
    from kgnlu.tasks.re_candidates import isa_pattern, marked
    from kgnlu.types import Mention

    text = "Lemons are a kind of citrus fruit."
    lemon = Mention("Lemons", 0, 6, FOOD + "Lemon", "lemon", 1.0, False, "lexicon")
    citrus = Mention("citrus fruit", 21, 33, FOOD + "Citrus", "citrus fruit", 1.0, False, "lexicon")
    assert marked(text, (0, len(text)), lemon, citrus) == "[E1] Lemons [/E1] are a kind of [E2] citrus fruit [/E2] ."
    assert marked(text, (0, len(text)), citrus, lemon) == "[E2] Lemons [/E2] are a kind of [E1] citrus fruit [/E1] ."
    assert isa_pattern(text, lemon, citrus)
    assert not isa_pattern(text, citrus, lemon)
    text2 = "Citrus fruit such as lemons are sour."
    c2 = Mention("Citrus fruit", 0, 12, FOOD + "Citrus", "citrus fruit", 1.0, False, "lexicon")
    l2 = Mention("lemons", 21, 27, FOOD + "Lemon", "lemon", 1.0, False, "lexicon")
    assert isa_pattern(text2, l2, c2)


def test_all_mentions_marked_once_per_sentence():
    """``sentence`` marking: one text per sentence, every mention marked, nested spans included;
    a pair is found by the ordinals of its two opening markers, whichever pair of the sentence."""
    from kgnlu.tasks.re_candidates import CandidatePair, marked_all
    from kgnlu.types import Mention

    text = "No focal seizure, but seizures in Dravet syndrome."

    def m(phrase: str, nth: int = 0) -> Mention:
        start = text.index(phrase, text.index(phrase) + 1) if nth else text.index(phrase)
        return Mention(phrase, start, start + len(phrase), "x", phrase, 1.0, False, "lexicon")

    focal, seizure, seizures = m("focal seizure"), m("seizure"), m("seizures")
    dravet, dravet_syn = m("Dravet"), m("Dravet syndrome")
    seizure = Mention("seizure", 9, 16, "x", "seizure", 1.0, False, "lexicon")  # inside "focal seizure"
    ms = [focal, seizure, seizures, dravet_syn, dravet]
    marked_text, ordinal = marked_all(text, (0, len(text)), ms)
    assert marked_text == ("No [E] focal [E] seizure [/E] [/E] , but [E] seizures [/E] in "
                           "[E] [E] Dravet [/E] syndrome [/E] .")
    assert ordinal == [0, 1, 2, 3, 4]  # the outer span opens first
    c1 = CandidatePair(text, (0, len(text)), focal, dravet_syn, "a", "b", [], others=(seizure, seizures, dravet))
    c2 = CandidatePair(text, (0, len(text)), dravet, seizures, "c", "d", [], others=(focal, seizure, dravet_syn))
    assert c1.marked_all() == (marked_text, 0, 3) and c2.marked_all() == (marked_text, 4, 2)


# -- candidates and the untrained scorer ------------------------------------------------------

def test_candidates_respect_domain_and_range(engine):
    from kgnlu.tasks.re_candidates import candidates

    text = "Oranges contain vitamin C."
    cands = candidates(text, engine.link(text, top_k=5), engine.relation_kb())
    pairs = {(c.subj.text, c.obj.text): [r.name for r in c.relations] for c in cands}
    assert pairs == {("Oranges", "vitamin C"): ["contains_nutrient"]}  # never vitamin C -> oranges


def test_a_repeated_term_is_no_candidate(engine):
    """Two mentions of one term, read as two concepts (a disease and its namesake phenotype on the
    default KG), state no relation between them."""
    from kgnlu.tasks.re_candidates import candidates
    from kgnlu.types import Mention

    text = "Oranges, oranges."
    first = Mention("Oranges", 0, 7, FOOD + "Orange", "orange", 1.0, False, "lexicon")
    again = Mention("oranges", 9, 16, FOOD + "VitaminC", "vitamin C", 1.0, False, "lexicon")
    assert candidates(text, [first, again], engine.relation_kb()) == []
    renamed = Mention("vitamin C", 9, 16, FOOD + "VitaminC", "vitamin C", 1.0, False, "lexicon")
    assert len(candidates(text, [first, renamed], engine.relation_kb())) == 1


def test_a_crowded_sentence_keeps_one_mention_of_each_concept_and_says_so(engine):
    """Past ``MAX_MENTIONS_PER_SENTENCE`` mentions a sentence kept its first 16, silently: here 16
    foods, and the pair the sentence states came after them. As in a real list of 24 mentions
    (Citation-Integrity: "covariates ... were: ... insulin, insulin, insulin, insulin, ..."), the
    repeats go first, and a warning says that mentions were left out."""
    from kgnlu.tasks.re_candidates import MAX_MENTIONS_PER_SENTENCE, candidates

    foods = "oranges, lemons, apples, bananas, carrots, spinach, beef, cheese"
    text = f"We ate {foods}, {foods} and yoghurt, and only the lemons contain ascorbic acid."
    ms = engine.link(text, top_k=5)
    assert len(ms) > MAX_MENTIONS_PER_SENTENCE + 1
    with pytest.warns(UserWarning, match="more than 16 mentions"):
        cands = candidates(text, ms, engine.relation_kb())
    pairs = {(c.subj_iri, c.obj_iri) for c in cands}
    assert (FOOD + "Lemon", FOOD + "VitaminC") in pairs and (FOOD + "Yoghurt", FOOD + "VitaminC") in pairs
    kept = {m.start for c in cands for m in (c.subj, c.obj, *c.others)}
    assert len(kept) == MAX_MENTIONS_PER_SENTENCE and text.index("oranges") in kept  # the first of each


def test_a_sentence_past_the_pair_cap_says_so(engine, monkeypatch):
    """Pairs past ``MAX_PAIRS_PER_SENTENCE`` were dropped silently; they still are not scored, but
    a warning says so (and the pairs kept are the first ones)."""
    from kgnlu.tasks import re_candidates

    text = "Lemons and oranges contain vitamin C."
    ms = engine.link(text)
    everything = re_candidates.candidates(text, ms, engine.relation_kb())
    assert len(everything) >= 2
    monkeypatch.setattr(re_candidates, "MAX_PAIRS_PER_SENTENCE", 1)
    with pytest.warns(UserWarning, match="more than 1 candidate pairs"):
        assert re_candidates.candidates(text, ms, engine.relation_kb()) == everything[:1]


def test_extract_known_novel_conflicting(engine):
    res = _untrained(engine).extract("Oranges contain vitamin C. Lemons are rich in vitamin C. Beef contains vitamin C.")
    got = {(r.subject["iri"], r.predicate["name"], r.object["iri"]): r for r in res.relations}
    orange = got[(FOOD + "Orange", "contains_nutrient", FOOD + "VitaminC")]
    assert (orange.status, orange.rule, orange.score) == ("known", "rel-asserted", 0.9)
    assert orange.proof == [{"subject": FOOD + "Orange", "predicate": CONTAINS, "object": FOOD + "VitaminC",
                             "source": "food"}]
    assert orange.evidence["sentence"] == "Oranges contain vitamin C." and orange.evidence["spans"] == [[0, 7], [16, 25]]
    assert got[(FOOD + "Lemon", "contains_nutrient", FOOD + "VitaminC")].status == "novel"
    beef = got[(FOOD + "Beef", "contains_nutrient", FOOD + "VitaminC")]
    assert (beef.status, beef.rule) == ("conflicting", "clash-not")
    assert res.model.startswith("untrained")


def test_extract_negated_and_is_a(engine):
    res = _untrained(engine).extract("Beef does not contain vitamin C. Lemons are a kind of citrus fruit.")
    beef = next(r for r in res.relations if r.subject["iri"] == FOOD + "Beef")
    assert beef.negated and (beef.status, beef.rule) == ("known", "neg-asserted")
    isa = next(r for r in res.relations if r.predicate["name"] == "is_a")
    assert (isa.subject["iri"], isa.object["iri"], isa.status) == (FOOD + "Lemon", FOOD + "Citrus", "known")


@pytest.mark.parametrize("bad", ["a" * 100_001, "bin\x00ary", b"\xff\xfe\x00"])
def test_bad_input_is_a_one_line_error(engine, bad):
    with pytest.raises(InputError) as e:
        _untrained(engine).extract(bad)
    assert "\n" not in str(e.value)


def test_empty_text_gives_an_empty_result(engine):
    res = _untrained(engine).extract("")
    assert res.relations == [] and res.entities == [] and res.candidates == 0
    assert _untrained(engine).extract("   \n ").relations == []


def test_kg_lookup_baseline(engine):
    from kgnlu.tasks.relations import KGLookupScorer, RelationExtractor

    x = RelationExtractor(engine.linker(), engine.relation_kb(), KGLookupScorer(engine.relation_kb()))
    res = x.extract("Beef contains vitamin C. Lemons contain vitamin C. Oranges contain vitamin C.")
    got = {(r.subject["iri"], r.negated) for r in res.relations}
    assert got == {(FOOD + "Beef", True), (FOOD + "Orange", False)}  # the KG's polarity, not the text's


# -- write-back ----------------------------------------------------------------------------------

def test_write_back_is_checked_and_reversible(demo_kg, tmp_path):
    from tests.conftest import copy_kg

    from kgnlu.api import Engine

    kg = copy_kg(demo_kg, tmp_path / "kg")
    eng = Engine(kg, dense=False)
    res = eng.extract("Lemons contain vitamin C. Beef contains vitamin C. Oranges contain vitamin C.", untrained=True)
    out = eng.add_extracted(res.relations, min_score=0.5, model_name="test")
    assert out.changed and out.error is None
    assert [(a["subject"], a["object"]) for a in out.added] == [(FOOD + "Lemon", FOOD + "VitaminC")]
    reasons = {s["triple"]["subject"]: s["reason"] for s in out.skipped}
    assert reasons[FOOD + "Beef"].startswith("conflicting (clash-not)")
    assert reasons[FOOD + "Orange"].startswith("already known")
    kb = eng.relation_kb()
    st = kb.standing(FOOD + "Lemon", CONTAINS, FOOD + "VitaminC")
    assert (st.status, st.steps[0].source) == ("known", "extracted")
    # provenance: an owl:Axiom annotation with the sentence, span, score and time
    rows = eng.query("SELECT ?t WHERE { ?a <http://www.w3.org/2002/07/owl#annotatedSource> "
                     f"<{FOOD}Lemon> . ?a <http://purl.obolibrary.org/obo/kgnlu/extracted_text> ?t }}").rows
    assert rows == [["Lemons contain vitamin C."]]
    # a second write keeps the first triple (the source is re-ingested whole)
    res2 = eng.extract("Bananas contain vitamin C.", untrained=True)
    out2 = eng.add_extracted(res2.relations, min_score=0.5)
    assert out2.changed and out2.total == 2
    assert eng.relation_kb().standing(FOOD + "Lemon", CONTAINS, FOOD + "VitaminC").status == "known"
    eng.remove_source("extracted")
    assert eng.relation_kb().standing(FOOD + "Lemon", CONTAINS, FOOD + "VitaminC").status == "novel"
    assert "extracted" not in eng.kg_manifest()["sources"]


def test_write_back_records_the_source_by_name_not_a_temporary_path(demo_kg, tmp_path):
    """The manifest named /tmp/kgnlu-extracted-XXXX/extracted.nt as the source's path: a file gone
    once written, different at every write."""
    from tests.conftest import copy_kg

    from kgnlu.api import Engine

    kg = copy_kg(demo_kg, tmp_path / "kg")
    eng = Engine(kg, dense=False)
    for text in ("Lemons contain vitamin C.", "Bananas contain vitamin C."):
        assert eng.add_extracted(eng.extract(text, untrained=True).relations, min_score=0.5).changed
        assert eng.kg_manifest()["sources"]["extracted"]["path"] == "extracted"
    assert {s.name: s.path for s in eng.stats().sources}["extracted"] == "extracted"

def test_write_back_keeps_the_reasoner_the_kg_was_built_with(tmp_path):
    """The write-back re-ingests with no reasoner named: it re-reasoned a structural KG with auto."""
    from tests.conftest import DEMO

    from kgnlu.api import Engine
    from kgnlu.kg.ingest import ingest

    kg = tmp_path / "kg"
    ingest([DEMO], kg, reasoner_name="structural")
    eng = Engine(kg, dense=False)
    assert eng.add_extracted(eng.extract("Lemons contain vitamin C.", untrained=True).relations,
                             min_score=0.5).changed
    r = eng.kg_manifest()["reasoner"]
    assert (r["name"], r["requested"]) == ("structural", "structural")


def test_write_back_refused_by_the_ingest_changes_nothing(demo_kg, tmp_path, monkeypatch):
    """A triple the rules miss but the reasoner finds unsatisfiable is reported, and the KG stays."""
    from tests.conftest import copy_kg, tree_hash

    from kgnlu.api import Engine
    from kgnlu.tasks import re_writeback

    kg = copy_kg(demo_kg, tmp_path / "kg")
    eng = Engine(kg, dense=False)
    rel = next(r for r in eng.extract("Carrots are a kind of fruit.", untrained=True).relations)
    assert rel.status == "conflicting"  # isa-disjoint: Vegetable and Fruit are disjoint
    monkeypatch.setattr(re_writeback, "select", lambda rels, kb, s: (list(rels), []))
    before = tree_hash(kg)
    out = eng.add_extracted([rel], min_score=0.0)
    assert not out.changed and out.error and "inconsistent" in out.error
    assert out.skipped[0]["reason"].startswith("conflicting: refused by the ingest")
    assert tree_hash(kg) == before


def test_write_back_writes_neither_reading_of_a_triple_the_batch_states_both_ways(engine):
    """One batch wrote both "X has Y" and "X NOT has Y": each was checked against the KG only."""
    from kgnlu.tasks import re_writeback

    res = engine.extract("Lemons contain vitamin C. Lemons do not contain vitamin C.", untrained=True)
    assert sorted(r.negated for r in res.relations) == [False, True]
    accepted, skipped = re_writeback.select(res.relations, engine.relation_kb(), 0.5)
    assert accepted == []
    assert sorted(s["triple"]["negated"] for s in skipped) == [False, True]
    assert all(s["reason"].startswith("conflicting within the batch") and s["rule"] == "batch" for s in skipped)
    # the same triple twice with one polarity is no conflict: written once
    res = engine.extract("Lemons contain vitamin C. Lemons are rich in vitamin C.", untrained=True)
    accepted, _ = re_writeback.select(res.relations + res.relations, engine.relation_kb(), 0.5)
    assert [(r.subject["iri"], r.negated) for r in accepted] == [(FOOD + "Lemon", False)]


def test_write_back_refuses_upper_level_classes(engine, monkeypatch):
    """A generic mention ("a condition") linked to an ontology's top class wrote a triple that every
    class under it inherits."""
    from kgnlu.tasks import re_writeback

    kb = engine.relation_kb()
    res = engine.extract("Foods contain vitamin C. Lemons contain vitamin C.", untrained=True)
    accepted, skipped = re_writeback.select(res.relations, kb, 0.5)
    assert [r.subject["iri"] for r in accepted] == [FOOD + "Lemon"]
    (food,) = skipped
    assert food["triple"]["subject"] == FOOD + "Food"
    assert food["reason"].startswith("not writable: upper-level class:")
    assert "root of the KG's hierarchy" in food["reason"]
    upper = re_writeback._UpperLevel(kb.tables)
    assert upper(FOOD + "Nutrient")  # a root with a subclass, as object
    assert upper(FOOD + "Lemon") is None and upper(FOOD + "Citrus") is None  # a leaf; 2 of 19 classes
    assert "subsumes 6 of the 19 classes" in upper(FOOD + "Fruit")  # 32%: a claim about most of the demo
    monkeypatch.setattr(re_writeback, "UPPER_SHARE", 0.5)
    assert re_writeback._UpperLevel(kb.tables)(FOOD + "Fruit") is None


@pytest.mark.parametrize("text", ["Lemons might contain vitamin C.", "Rule out vitamin C in lemons.",
                                  "Lemons may contain vitamin C."])
def test_a_hedged_relation_is_marked_and_never_written(engine, text):
    from kgnlu.tasks import re_writeback

    (rel,) = engine.extract(text, untrained=True).relations
    assert rel.hedged and rel.to_dict()["hedged"] is True and rel.status == "novel"
    accepted, skipped = re_writeback.select([rel], engine.relation_kb(), 0.5)
    assert accepted == [] and skipped[0]["reason"].startswith("hedged")
    # an assertion of the same triple in the batch is written, whichever scores higher
    sure = engine.extract("Lemons contain vitamin C.", untrained=True).relations[0]
    assert not sure.hedged
    (in_may,) = engine.extract("In May lemons contain vitamin C.", untrained=True).relations
    assert not in_may.hedged  # the month
    accepted, _ = re_writeback.select([rel, sure], engine.relation_kb(), 0.5)
    assert accepted == [sure]


def test_relation_dict_keys_match_the_service_model(engine):
    from kgnlu.service_models import Relation as RelationModel

    (rel,) = engine.extract("Lemons contain vitamin C.", untrained=True).relations
    d = rel.to_dict()
    assert set(d) == set(RelationModel.model_fields) and d["hedged"] is False
    RelationModel.model_validate(d)


# -- the model: features, forward, save/load ----------------------------------------------------

def test_model_round_trip(engine, tmp_path):
    import torch

    from kgnlu.kg.relations import IS_A
    from kgnlu.neural.re_head import RelationModel
    from kgnlu.tasks.re_features import FeatureBuilder, collate, known_index, sym_feature_names
    from kgnlu.tasks.re_candidates import candidates, fill_standings

    labels, iris = ["none", "is_a", "contains_nutrient"], ["", IS_A, CONTAINS]
    torch.manual_seed(0)
    model = RelationModel.create(labels=labels, label_iris=iris, sym_features=sym_feature_names(labels),
                                 known_index=known_index(labels)).eval()
    kb = engine.relation_kb()
    text = "Oranges contain vitamin C. Lemons are a kind of citrus fruit."
    cands = candidates(text, engine.link(text, top_k=5), kb, frozenset(iris[1:]))
    fill_standings(cands, kb)
    builder = FeatureBuilder(kb, labels, iris)
    f, mask = builder.features(cands[0])
    assert f.shape == (len(sym_feature_names(labels)),) and mask.tolist() == [True, False, True]
    # In training, the gate sometimes mixes in another pair's opinion, kept to this pair's labels.
    p = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.0, 0.8], [0.5, 0.5, 0.0]])
    m = torch.tensor([[True, True, False], [True, False, True], [True, True, False]])
    assert model._dropped_opinions(p, m) is p and model.config["opinion_dropout"] == 0.1
    model.train()
    model.opinion_dropout = 1.0
    q = model._dropped_opinions(p, m)
    model.eval()
    model.opinion_dropout = 0.1
    assert torch.allclose(q.sum(-1), torch.ones(3)) and (q[~m] == 0).all()
    # The KG head alone fits what the KG features decide (here: feature 0 says contains_nutrient).
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, f.shape[0], generator=g)
    x[:, 0] = (x[:, 0] > 0.5).float()
    y = torch.where(x[:, 0] > 0, 2, 0)
    kg_before = model.heads.kg.weight.detach().clone()
    assert model.fit_kg_head(x, torch.ones(64, 3, dtype=torch.bool), y) < 0.2
    fitted = model.heads.kg.weight.detach().clone()
    model.heads.kg.weight.data.copy_(kg_before)  # the rest of the test expects the untouched head
    assert (fitted[2, 0] - fitted[0, 0]) > 1.0
    assert f[sym_feature_names(labels).index("contains_nutrient:known")] == 1.0
    assert model.config["marking"] == "sentence"
    batch = collate(cands, builder, model.tokenizer, marking="sentence")
    ids = batch["input_ids"]
    sentences = sorted({c.sentence for c in cands})
    assert len(sentences) == 2 and len(cands) > 2
    assert len(ids) == 2 and batch["rows"].tolist() == [sentences.index(c.sentence) for c in cands]  # once each
    assert (ids[batch["rows"], batch["e1"]] == model.marker_ids[0]).all()
    assert (ids[batch["rows"], batch["e2"]] == model.marker_ids[0]).all() and (batch["e1"] != batch["e2"]).all()
    with torch.inference_mode():
        out = model(batch)
        # A pair's vectors do not depend on the batch it is read in (one sentence, padded with another).
        alone = collate(cands[-1:], builder, model.tokenizer, marking="sentence")
        assert torch.allclose(model.encode_pairs(alone), model.encode_pairs(batch)[-1:], atol=1e-5)
        pair_batch = collate(cands, builder, model.tokenizer, marking="pair")  # the older, one text per pair
        assert len(pair_batch["input_ids"]) == len(cands)
        assert (pair_batch["input_ids"][pair_batch["rows"], pair_batch["e2"]] == model.marker_ids[2]).all()
    assert out["probs"].shape == (len(cands), 3)
    assert torch.allclose(out["probs"].sum(-1), torch.ones(len(cands)))
    assert (out["probs"][~batch["label_mask"]] == 0).all()  # what the ontology rules out gets nothing
    model.save(tmp_path / "m", training={"name": "test"})
    again = RelationModel.load(tmp_path / "m", merge=False)
    with torch.inference_mode():
        out2 = again(batch)
    assert torch.allclose(out["probs"], out2["probs"], atol=1e-5)
    assert repr(again.heads) == "RelationHeads(text_dim=768, graph_dim=0, sym_dim=22, labels=3)"
    assert not list((tmp_path / "m").rglob("*.bin")) and not list((tmp_path / "m").rglob("*.pkl"))


def test_subject_as_object_feature(engine):
    """A subject that the KG knows as another mentioned concept's object is flagged: the sentence
    uses it in that role (oranges contain vitamin C, so "vitamin C" is the nutrient here)."""
    from kgnlu.kg.relations import IS_A
    from kgnlu.tasks.re_features import FeatureBuilder, sym_feature_names
    from kgnlu.tasks.re_candidates import CandidatePair
    from kgnlu.types import Mention

    text = "Oranges and beef both contain vitamin C."
    orange = Mention("Oranges", 0, 7, FOOD + "Orange", "orange", 1.0, False, "lexicon")
    beef = Mention("beef", 12, 16, FOOD + "Beef", "beef", 1.0, False, "lexicon")
    vitc = Mention("vitamin C", 30, 39, FOOD + "VitaminC", "vitamin C", 1.0, False, "lexicon")
    labels, iris = ["none", "is_a", "contains_nutrient"], ["", IS_A, CONTAINS]
    builder = FeatureBuilder(engine.relation_kb(), labels, iris)
    col = sym_feature_names(labels).index("subject_as_object")

    def flag(subj, obj, *others):
        c = CandidatePair(text, (0, len(text)), subj, obj, subj.iri, obj.iri, [], others=others)
        assert builder.subject_as_object(c) == builder.features(c)[0][col]
        return builder.subject_as_object(c)

    assert flag(vitc, beef, orange)  # through another mention
    assert flag(vitc, orange)  # through the pair's own object: the text states the reverse pair
    assert not flag(orange, vitc, beef)  # the orange is nobody's object
    assert not flag(beef, orange, vitc)  # beef is known NOT to contain vitamin C: no positive fact


def test_model_with_other_features_is_refused(engine, tmp_path):
    from kgnlu.kg.relations import IS_A
    from kgnlu.neural.re_head import RelationModel
    from kgnlu.tasks.re_features import known_index, sym_feature_names
    from kgnlu.tasks.relations import load_extractor

    labels, iris = ["none", "is_a", "contains_nutrient"], ["", IS_A, CONTAINS]
    names = sym_feature_names(labels)[:-1]  # as saved by an older version
    model = RelationModel.create(labels=labels, label_iris=iris, sym_features=names, known_index=known_index(labels),
                                 features={"sym_features": names})
    model.save(tmp_path / "old")
    with pytest.raises(InputError, match="KG features .* retrain"):
        load_extractor(engine.linker(), engine.relation_kb(), tmp_path / "old")


def test_shipped_model_if_any(engine):
    from kgnlu.tasks.relations import default_model_dir

    if not (default_model_dir() / "manifest.json").is_file():
        pytest.skip("no trained relation model shipped")
    res = engine.extract("Oranges contain vitamin C.")
    assert not res.model.startswith("untrained")
    rel = res.relations[0]
    assert rel.predicate["name"] == "contains_nutrient" and 0.0 <= rel.gate <= 1.0
    assert rel.neural and "probabilities" in rel.neural


def test_a_relation_model_links_as_its_manifest_says(engine, tmp_path):
    """A model trained without phrase rewriting is answered without it, though the engine's NLI
    model links with it: extract followed the NLI model's linking whatever the relation model's."""
    import json
    import shutil

    from kgnlu.tasks.relations import default_model_dir

    if not (default_model_dir() / "manifest.json").is_file():
        pytest.skip("no trained relation model shipped")
    shutil.copytree(default_model_dir(), tmp_path / "re")
    manifest = json.loads((tmp_path / "re" / "manifest.json").read_text())
    assert manifest["linking"]["rewrite"] and engine.linker().rewriter is not None
    manifest["linking"] = {"dense": False, "rewrite": False, "forms": False}
    (tmp_path / "re" / "manifest.json").write_text(json.dumps(manifest))
    assert engine.relation_extractor(tmp_path / "re").linker.rewriter is None
    shipped = engine.relation_extractor()
    assert shipped.linker is engine.linker() and shipped.linker.mode["rewrite"]  # as the shipped model's manifest


# -- data and metrics ------------------------------------------------------------------------------

def test_fill_and_templates():
    from kgnlu.training.re_data import _SLOT, fill, load_templates

    text, spans = fill("{O} is a hallmark of {S}.", {"S": "Marfan syndrome", "O": "ectopia lentis"})
    assert text == "Ectopia lentis is a hallmark of Marfan syndrome."
    assert text[slice(*spans["S"])] == "Marfan syndrome" and spans["O"] == (0, 14)
    doc = load_templates()
    pools = [t for rel in doc["relations"].values() for pool in rel.values() for t in pool]
    pools += doc["none"] + [d["text"] for d in doc["distractor"]]
    assert len(pools) > 150
    for t in pools:
        slots = set(_SLOT.findall(t))
        assert slots and slots <= {"S", "S2", "O", "O2", "O_short", "A", "B"}, t


def test_scores_and_confusion():
    from kgnlu.training.re_eval import score

    records = [{"text": "x", "gold": [{"subject": [0, 3], "object": [5, 9], "relation": "has_phenotype", "negated": False},
                                      {"subject": [0, 3], "object": [11, 15], "relation": "has_phenotype", "negated": True}]},
               {"text": "y", "gold": []}]
    preds = [[{"subject": [0, 3], "object": [5, 9], "relation": "has_phenotype", "negated": False},
              {"subject": [0, 3], "object": [11, 15], "relation": "has_phenotype", "negated": False}],
             [{"subject": [0, 1], "object": [2, 3], "relation": "is_a", "negated": False}]]
    r = score(records, preds)
    assert r["per_class"]["has_phenotype"]["precision"] == 0.5 and r["per_class"]["NOT has_phenotype"]["recall"] == 0.0
    assert r["micro"]["precision"] == round(1 / 3, 4) and r["micro"]["recall"] == 0.5
    labels, m = r["confusion"]["labels"], r["confusion"]["matrix"]
    assert m[labels.index("NOT has_phenotype")][labels.index("has_phenotype")] == 1
    assert m[labels.index("none")][labels.index("is_a")] == 1


def test_dev_set_is_well_formed():
    from pathlib import Path

    from kgnlu.training.re_eval import read_records

    recs = read_records(Path(__file__).resolve().parents[2] / "data" / "re_dev_clinical.jsonl")
    assert len(recs) >= 100
    for r in recs:
        for g in r["gold"]:
            assert r["text"][slice(*g["subject"])] == g["subject_text"]
            assert r["text"][slice(*g["object"])] == g["object_text"]
    assert json.dumps(recs[0])


@pytest.mark.parametrize("line, why", [
    ('{"text": "He has seizures.", "gold": [{"subject": [7, 15], "object": [0, 2], "relation": "is_a", '
     '"negated": "false"}]}', "g.jsonl:1: a gold relation's 'negated' must be true or false"),
    ('{"text": "He has seizures.", "gold": [{"subject": [7, 15], "relation": "is_a"}]}', "g.jsonl:1: a gold relation"),
    ('{"text": "a", "gold": []}\n[1]', "g.jsonl:2: not a JSON object"),
    ('{"text": 3, "gold": []}', "g.jsonl:1: a record needs a string 'text'"),
])
def test_gold_records_are_checked_line_by_line(tmp_path, line, why):
    """A string "false" was read by truthiness: the relation counted as negated."""
    from kgnlu.training.re_eval import read_records

    (tmp_path / "g.jsonl").write_text(line + "\n")
    with pytest.raises(InputError, match=re.escape(why)):
        read_records(tmp_path / "g.jsonl")


def test_evaluate_reports_the_mean_gate(engine):
    from kgnlu.training.re_eval import evaluate

    text = "Oranges contain vitamin C. Lemons are a kind of citrus fruit."
    extractor = engine.relation_extractor()
    gates = [r.gate for r in extractor.extract(text).relations]
    report = evaluate(extractor, [{"text": text, "gold": []}])
    assert gates and report["gate_mean"] == pytest.approx(sum(gates) / len(gates), abs=1e-4)
    assert evaluate(extractor, [{"text": "Nothing here.", "gold": []}])["gate_mean"] is None


def test_stale_generated_data_is_named(tmp_path):
    import hashlib

    from kgnlu.training.re_data import DEFAULT_TEMPLATES, stale_data

    assert stale_data(tmp_path) == "no readable meta.json"
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"templates_sha256": "0" * 64}), encoding="utf-8")
    assert "other phrasing templates" in stale_data(tmp_path)
    meta.write_text(json.dumps({"templates_sha256": hashlib.sha256(DEFAULT_TEMPLATES.read_bytes()).hexdigest()}),
                    encoding="utf-8")
    assert stale_data(tmp_path) is None


def test_training_refuses_stale_data(engine, tmp_path):
    (tmp_path / "train.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "meta.json").write_text(json.dumps({"templates_sha256": "0" * 64}), encoding="utf-8")
    from kgnlu.training import jobs

    with pytest.raises(InputError, match="other phrasing templates.*--regenerate"):
        jobs.train_relations(engine.kg_dir, tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_subgraph_cache_is_bounded_and_answers_as_a_fresh_builder(engine, monkeypatch):
    """A service meets new (subject, object) pairs without end: the cache holds at most its bound,
    and what it gives is what a builder with an empty cache gives."""
    import numpy as np

    from kgnlu.tasks import re_features
    from kgnlu.tasks.re_candidates import CandidatePair

    monkeypatch.setattr(re_features, "GRAPH_CACHE_PAIRS", 2)
    tables = engine.relation_kb().tables
    vectors = lambda iris: np.zeros((len(iris), 4), np.float32)  # noqa: E731
    iris = [FOOD + x for x in ("Orange", "Beef", "VitaminC", "Apple")]
    pairs = [CandidatePair("", (0, 0), None, None, a, b, []) for a in iris for b in iris if a != b]
    builder = re_features.GraphBuilder(tables, vectors)
    for c in pairs + pairs[:3]:
        _, edges, role = builder(c)
        _, fresh_edges, fresh_role = re_features.GraphBuilder(tables, vectors)(c)
        assert np.array_equal(edges, fresh_edges) and np.array_equal(role, fresh_role)
    assert builder._subgraph.cache_info().currsize <= 2

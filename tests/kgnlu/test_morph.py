"""Derived word forms and typos (issue 18): ``kg.morph.stem`` and ``RewriteIndex.correct``."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kgnlu.kg.matcher import normalize_token
from kgnlu.kg.morph import FINDING_ENDINGS, split, stem
from kgnlu.kg.rewrite import RewriteIndex, _deletions, _one_edit


@pytest.mark.parametrize("a, b", [
    ("dysplasia", "dysplastic"), ("patella", "patellar"), ("chalazia", "chalazion"), ("acrochordons", "acrochorda"),
    ("carcinomata", "carcinoma"), ("absence", "absent"), ("paroxysms", "paroxysmal"), ("increasing", "increased"),
    ("bridging", "bridged"), ("hypopigmented", "hypopigmentation"), ("atresia", "atretic"), ("occulta", "occult"),
    ("sclerosis", "sclerotic"), ("mentally", "mental"), ("severely", "severe"), ("retarded", "retardation"),
    ("hypertensive", "hypertension"), ("convulsive", "convulsion"),
])
def test_derived_forms_meet(a, b):
    assert stem(normalize_token(a)) == stem(normalize_token(b))


@pytest.mark.parametrize("a, b", [("renal", "kidney"), ("positive", "position"), ("lesion", "legion"),
                                  ("fever", "fevers_")])
def test_other_words_stay_apart(a, b):
    assert stem(normalize_token(a)) != stem(normalize_token(b))


@pytest.mark.parametrize("word, read", [("anemic", True), ("cirrhotic", True), ("edematous", True),
                                        ("hypertensive", True), ("patellar", True), ("chalazia", True),
                                        ("infected", False), ("negative", False), ("event", False), ("rarely", False),
                                        ("mouth", False)])
def test_a_word_alone_is_read_in_another_form_only_with_a_finding_ending(word, read):
    assert (split(normalize_token(word))[1] in FINDING_ENDINGS) is read


def test_short_and_non_alphabetic_words_are_kept():
    assert [stem(w) for w in ("renal", "ear", "x-ray", "21st", "lesion")] == ["renal", "ear", "x-ray", "21st", "lesi"]


def test_one_edit():
    assert _one_edit("polydatyly", "polydactyly") and _one_edit("polydactyly", "polydatyly")
    assert _one_edit("hypotonai", "hypotonia") and _one_edit("seizura", "seizure")
    assert not _one_edit("seizure", "seizure") and not _one_edit("abcd", "badc") and not _one_edit("ab", "abcd")


_LETTER = st.characters(whitelist_categories=("Ll", "Lu", "Lo"))


@settings(max_examples=500, deadline=None)
@given(st.text(_LETTER, min_size=1, max_size=12), st.text(_LETTER, min_size=1, max_size=12),
       st.integers(0, 12), st.integers(0, 3), _LETTER)
def test_words_within_one_edit_share_a_deletion(a, b, at, op, c):
    """``correct`` compares only words that share one of ``_deletions``: never misses one within
    one edit (an edit of ``a`` here, or any ``b`` that ``_one_edit`` accepts)."""
    i = at % (len(a) + 1)
    edited = [a[:i] + c + a[i:], a[:i] + a[i + 1:], a[:i] + c + a[i + 1:],  # insert, delete, substitute
              a[:i] + a[i + 1:i + 2] + a[i:i + 1] + a[i + 2:]]  # swap neighbours
    for w in [edited[op], b]:
        if _one_edit(a, w):
            assert set(_deletions(a)) & set(_deletions(w))


_WORD = st.text("abcdeé", min_size=4, max_size=7)


def _edits(w: str) -> list[str]:
    cut = [(w[:i], w[i:]) for i in range(len(w) + 1)]
    return ([a + b[1:] for a, b in cut if b] + [a + b[1] + b[0] + b[2:] for a, b in cut if len(b) > 1]
            + [a + c + b[1:] for a, b in cut if b for c in "abcdeé"] + [a + c + b for a, b in cut for c in "abcdeé"])


@settings(max_examples=60, deadline=None)
@given(st.lists(_WORD, min_size=1, max_size=30, unique=True), st.lists(_WORD, min_size=1, max_size=30))
def test_correct_is_the_one_target_word_within_one_edit(tmp_path_factory, names, tokens):
    """Against the definition, over small alphabets where many words are one edit apart: random
    tokens and every one-edit variant of every name."""
    tokens += [v for n in names for v in _edits(n.lower())]
    rw = RewriteIndex.build(tmp_path_factory.mktemp("rw") / "rewrite.sqlite3",
                            [_E(f"ex:{i}", n) for i, n in enumerate(names)], dictionary=())
    try:
        targets = [w for w in rw.target_words if len(w) >= 5 and w.isalpha()]
        for t in tokens:
            near = {w for w in targets if _one_edit(t, w)}
            want = near.pop() if len(near) == 1 and len(t) >= 5 and t not in rw.words else None
            assert rw.correct(t) == want
    finally:
        rw.close()


class _E:
    def __init__(self, iri, text, kind="label", lang=None):
        self.iri, self.text, self.kind, self.lang = iri, text, kind, lang


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    entries = [_E("ex:dp", "Dysplastic patella"), _E("ex:pp", "Preaxial polydactyly"), _E("ex:seizure", "Seizure"),
               _E("ex:seizures", "Seizures of the cat"), _E("ex:fever", "Fever"), _E("ex:lever", "Lever arm")]
    rw = RewriteIndex.build(tmp_path_factory.mktemp("rw") / "rewrite.sqlite3", entries)
    yield rw
    rw.close()


def test_named_through_stems_costs_more_than_the_same_words(index):
    (hit,) = index.named("patellar dysplasia")
    assert (hit.iri, hit.cost) == ("ex:dp", 0.5)
    assert index.named("patellar dysplasia", stems=False) == []
    assert [(h.iri, h.cost) for h in index.named("patella dysplasia")] == [("ex:dp", 0.5)]
    assert [(h.iri, h.cost) for h in index.named("polydactyly, preaxial")] == [("ex:pp", 0.0)]  # word order only


def test_a_word_longer_than_any_name_is_not_searched(index, monkeypatch):
    """Its deletions would cost len² letters: 10 GB for one 100,000-letter "word" of a hostile text."""
    from kgnlu.kg import rewrite

    index._spelling  # built from the names' own deletions first
    monkeypatch.setattr(rewrite, "_deletions", lambda word: pytest.fail(f"searched a {len(word)}-letter word"))
    assert index.correct("a" * 100_000) is None


def test_a_word_of_the_language_is_no_typo(tmp_path):
    """On real text the typo reader turned everyday words into drug brand names one edit away
    ("program": Prograf, "either": Ether, "happens": Haptens); a dictionary word, or a regular
    inflection of one, is read as itself."""
    entries = [_E("ex:tacrolimus", "Prograf"), _E("ex:haptens", "Haptens"), _E("ex:ether", "Ether"),
               _E("ex:walker", "Walker")]
    bare = RewriteIndex.build(tmp_path / "bare.sqlite3", entries, dictionary=())
    rw = RewriteIndex.build(tmp_path / "rw.sqlite3", entries, dictionary=["program", "happen", "either", "walk"])
    try:  # tokens as the linker hands them over: normalised ("happens" -> "happen")
        words = ("program", "happen", "either", "walked")
        assert [bare.correct(w) for w in words] == ["prograf", "hapten", "ether", "walker"]
        assert [rw.correct(w) for w in words] == [None] * 4  # "walked": a regular inflection of "walk"
        assert rw.correct("prograv") == "prograf"  # a typo still is one
    finally:
        bare.close()
        rw.close()


def test_a_typo_is_read_only_when_one_word_is_that_close(index):
    assert index.correct("polydatyly") == "polydactyly"
    assert index.correct("seizrue") == "seizure"
    assert index.correct("seizure") is None  # a word the names have
    assert index.correct("hnad") is None  # under five letters
    assert index.correct("flever") is None and index.correct("feverr") == "fever"  # "flever": fever or lever

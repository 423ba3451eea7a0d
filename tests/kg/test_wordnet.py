"""The WordNet reader and the lexical KG source, on the real WordNet 3.0 database (Debian's
wordnet-base; skipped where it is not installed)."""

from __future__ import annotations

import pytest

from kgnlu.kg import wordnet
from kgnlu.kg.lexicon import Lexicon, is_word_sense
from kgnlu.kg.sources import build as sources_build
from kgnlu.kg.sources import wordnet as wn_source

WN_DIR = wordnet.find_dir()
needs_wordnet = pytest.mark.skipif(WN_DIR is None, reason="WordNet not installed (apt-get install wordnet-base)")


@pytest.fixture(scope="module")
def wn():
    return wordnet.read(WN_DIR)


def _first(wn, word, pos="n"):
    return wn.synsets[wn.senses[(word, pos)][0]]


def _ancestors(wn, sid):
    out, stack = set(), [sid]
    while stack:
        s = wn.synsets[stack.pop()]
        for h in (*s.hypernyms, *s.instance_of):
            if h not in out:
                out.add(h)
                stack.append(h)
    return out


@needs_wordnet
def test_reader_reads_senses_hypernyms_antonyms_and_exceptions(wn):
    assert len(wn.synsets) == 117659  # WordNet 3.0's synset count
    apple = _first(wn, "apple")
    assert apple.lemmas == ["apple"] and "fruit" in apple.gloss
    fruit_senses = set(wn.senses[("fruit", "n")])
    assert _ancestors(wn, apple.id) & fruit_senses
    man, woman = _first(wn, "man"), _first(wn, "woman")
    assert woman.id in man.antonyms and man.id in woman.antonyms
    assert wn.exceptions["n"]["men"] == ["man"]
    assert "sit" in wn.exceptions["v"].get("sat", []) or ("sat", "v") not in wn.senses


@needs_wordnet
def test_derived_nouns_follow_word_to_word_pointers_from_adjectives():
    """Pertainyms and derivations link word senses: "febrile" pertains to "fever" and not to the
    other lemmas of its synset ("pyrexia"); "blind" is derived with "blindness"."""
    derived = wordnet.derived_nouns(WN_DIR)
    assert derived["febrile"] == ["fever"]
    assert "blindness" in derived["blind"] and "anemia" in derived["anemic"]
    assert "pyrexia" not in derived["febrile"]
    assert not any(" " in a or "-" in a for a in derived)  # one-word adjectives only
    assert 8000 < len(derived) < 9000
    # an adjective of absence or of the opposite is no form of the noun WordNet links it to
    assert not {"afebrile", "anticancer"} & set(derived) and derived["hyperthermal"] == ["hyperthermia"]
    assert derived["antiviral"] == ["antiviral"] and "neoplasm" not in derived["antineoplastic"]


@needs_wordnet
def test_everyday_words_are_frequent_and_in_no_chemical_sense():
    """SemCor's counts: "sit" and "cap" (and their forms) are everyday words; "ecstasy", "indicator",
    "alcohol" and "water" have a chemical or drug sense, and "luminal" is too rare in SemCor."""
    words = wordnet.everyday_words(WN_DIR)
    assert {"sit", "sits", "sat", "cap", "caps", "mops", "table"} <= words
    assert not words & {"ecstasy", "indicator", "alcohol", "water", "luminal", "aspirin", "lipitor"}


def test_everyday_words_without_sense_counts_is_empty(tmp_path):
    (tmp_path / "data.noun").write_text("")
    assert wordnet.everyday_words(tmp_path) == set()


def test_derived_nouns_of_a_folder_that_is_no_wordnet_is_one_clear_error(tmp_path):
    (tmp_path / "data.adj").write_text("00001740 00 a 01 able 0 001 + 999 n 0101 | broken\n", encoding="utf-8")
    (tmp_path / "data.noun").write_text("short\n", encoding="utf-8")
    with pytest.raises(wordnet.InputError, match="not a readable WordNet database"):
        wordnet.derived_nouns(tmp_path)


@needs_wordnet
def test_converter_writes_first_senses_as_exact_and_disjointness_only_where_satisfiable(wn, tmp_path):
    out = wn_source.build(tmp_path, lemmas=["apple", "man", "woman"])
    text = out.read_text(encoding="utf-8")
    apple_fruit, apple_tree = (wn_source.synset_iri(s) for s in wn.senses[("apple", "n")][:2])
    assert f'<{apple_fruit}> <http://www.geneontology.org/formats/oboInOwl#hasExactSynonym> "apple"' in text
    assert f'<{apple_tree}> <http://www.geneontology.org/formats/oboInOwl#hasRelatedSynonym> "apple"' in text
    man = wn_source.synset_iri(_first(wn, "man").id)
    assert f'<{man}> <http://www.geneontology.org/formats/oboInOwl#hasExactSynonym> "men"' in text  # the inflection
    disjoint = [line for line in text.splitlines() if "disjointWith" in line]
    assert disjoint and all(line.count("wordnet-rdf.princeton.edu") == 2 for line in disjoint)
    small = wn_source.subset(wn, ["man", "woman"])
    below = wn_source._descendants(small)
    for line in disjoint:
        a, _, b = line.split()[:3]
        a, b = a.strip("<>").rsplit("/", 1)[1], b.strip("<>").rsplit("/", 1)[1]
        if a in small.synsets and b in small.synsets:
            assert not (below(a) & below(b))


def test_default_kg_is_built_without_wordnet_when_it_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(sources_build, "SOURCES", ("wordnet",))
    monkeypatch.setattr(wn_source, "available", lambda: False)
    said = []
    assert sources_build.build_all(tmp_path, progress=said.append) == []
    assert any("wordnet: not found" in s and "apt-get install wordnet-base" in s for s in said)


def test_find_dir_rejects_a_folder_without_wordnet(tmp_path):
    from kgnlu.kg.errors import InputError

    with pytest.raises(InputError, match="no WordNet database"):
        wordnet.find_dir(tmp_path)


@needs_wordnet
def test_word_senses_stay_out_of_the_linkers_lexicon(tmp_path):
    from kgnlu.kg.ingest import ingest

    path = wn_source.build(tmp_path / "src", lemmas=["apple", "fruit"])
    kg = tmp_path / "kg"
    ingest([path], kg, reasoner_name="none")
    from kgnlu.kg.kgdir import KGDir

    lex = Lexicon(KGDir(kg).current().path / "tables.sqlite3")
    assert lex.entries() == []  # nothing the linker may link
    senses = lex.word_senses()
    assert any(word == "apple" and kind == "exact" for word, _, kind in senses)
    assert all(is_word_sense(iri) for _, iri, _ in senses)

"""bench/concepts.py: the GSC+ reader, the hp.obo id map and the scorer (no KG, no FastHPOCR)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import concepts as cb

REAL_GSC = Path("/work/shared/realdata/hpo/gsc_plus_dev.tsv")

OBO = """format-version: 1.2
data-version: hp/releases/2099-01-01

[Term]
id: HP:0000001
name: All

[Term]
id: HP:0001250
name: Seizure
alt_id: HP:0002279
is_a: HP:0000001 ! All

[Term]
id: HP:0001945
name: Fever

[Term]
id: HP:0000999
name: obsolete Old fever
is_obsolete: true
replaced_by: HP:0001945

[Term]
id: HP:0000998
name: obsolete Gone
is_obsolete: true
"""

GSC = (
    "111\n"
    "Seizures and fever. Fever again.\n"
    "0\t8\tSeizures\tHP:0002279\n"
    "13\t18\tfever\tHP:0000999\n"
    "20\t25\tFever\tHP:0001945\n"
    "\n"
    "222\n"
    "No findings here.\n"
)


@pytest.fixture
def ids(tmp_path):
    p = tmp_path / "hp.obo"
    p.write_text(OBO)
    return cb.read_obo_ids(p)


def test_obo_id_map(ids):
    assert ids.version == "hp/releases/2099-01-01"
    assert ids.canonical("HP:0002279") == "HP:0001250"  # alt_id
    assert ids.canonical("HP:0000999") == "HP:0001945"  # obsolete, replaced_by
    assert ids.canonical("HP:0000998") == "HP:0000998"  # obsolete, nothing replaces it
    assert ids.canonical("HP:0001250") == "HP:0001250"
    assert ids.label("HP:0001250") == "Seizure" and "HP:0000999" not in ids.labels
    assert cb.iri_to_hp("http://purl.obolibrary.org/obo/HP_0001250") == "HP:0001250"
    assert cb.iri_to_hp("http://purl.obolibrary.org/obo/MONDO_0005027") is None


def test_reader_and_scorer(tmp_path, ids):
    p = tmp_path / "gsc.tsv"
    p.write_text(GSC)
    docs = cb.read_gsc(p)
    assert [d.pmid for d in docs] == ["111", "222"]
    assert docs[1].mentions == []
    assert all(d.text[s:e] == m for d in docs for s, e, m, _ in d.mentions)
    gold = cb.gold_sets(docs, ids)
    assert gold[0] == {(0, 8, "HP:0001250"), (13, 18, "HP:0001945"), (20, 25, "HP:0001945")}

    pred = [
        {
            (0, 8, "HP:0001250"),  # exact
            (13, 19, "HP:0001945"),  # overlaps gold "fever" (13-18), same id: relaxed only
            (26, 31, "HP:0001250"),  # nothing there
        },
        {(0, 2, "HP:0001945")},  # a document with no gold
    ]
    s = cb.score(gold, pred)
    ex, rx, doc = s["mention_exact"], s["mention_relaxed"], s["document"]
    assert (ex["tp"], ex["pred"], ex["gold"]) == (1, 4, 3)
    assert ex["p"] == pytest.approx(1 / 4) and ex["r"] == pytest.approx(1 / 3)
    assert ex["f1"] == pytest.approx(2 * (1 / 4) * (1 / 3) / (1 / 4 + 1 / 3))
    # relaxed: predictions 0-8 and 13-19 match; gold 0-8 and 13-18 are found, 20-25 is not
    assert (rx["tp"], rx["found"]) == (2, 2)
    assert rx["p"] == pytest.approx(2 / 4) and rx["r"] == pytest.approx(2 / 3)
    # document: doc 1 gold {1250, 1945} vs pred {1250, 1945}; doc 2 gold {} vs pred {1945}
    assert (doc["tp"], doc["pred"], doc["gold"]) == (2, 3, 2)

    # the same span with another id is wrong even relaxed
    s = cb.score([{(0, 8, "HP:0001250")}], [{(0, 8, "HP:0001945")}])
    assert s["mention_exact"]["tp"] == 0 and s["mention_relaxed"]["tp"] == 0
    # without the id map the alt_id gold would not match
    assert cb.score(cb.gold_sets(docs[:1]), pred[:1])["mention_exact"]["tp"] == 0


def test_missing_file_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="GSC\\+ file not found"):
        cb.read_gsc(tmp_path / "absent.tsv")


@pytest.mark.skipif(not REAL_GSC.is_file(), reason="../shared/realdata is absent")
def test_real_gsc_dev_file():
    docs = cb.read_gsc(REAL_GSC)
    assert len(docs) == 82
    assert sum(len(d.mentions) for d in docs) == 738
    for d in docs:
        assert d.pmid.isdigit()
        for s, e, m, h in d.mentions:
            assert d.text[s:e] == m, (d.pmid, s, e, m)
            assert h.startswith("HP:")


def test_a_results_file_keeps_its_hand_written_part(tmp_path):
    from results_file import HAND_MARK, write_results

    out = tmp_path / "results" / "x.md"
    write_results(out, "# run 1\n")
    assert out.read_text() == "# run 1\n"
    out.write_text(out.read_text() + "\n" + HAND_MARK + "\n\nnotes written by hand\n")
    write_results(out, "# run 2\n")
    assert out.read_text() == "# run 2\n\n" + HAND_MARK + "\n\nnotes written by hand\n"

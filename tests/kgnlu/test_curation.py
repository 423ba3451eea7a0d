"""Curation (``tasks.curation``, ``kgnlu train curation``): which linked candidates curators annotate.

Hand-made pieces for the rules and the file format, a small HPO-shaped KG for the linker's side,
and the shipped model's own record; the real-data checks (GSC+ on the real HPO) are in
``test_linking_real.py``, marked slow.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kgnlu.api import Engine  # noqa: E402
from kgnlu.neural.manifest import library_versions  # noqa: E402
from kgnlu.tasks.curation import (Candidate, Features, Regression, Stats, default_curator_path,  # noqa: E402
                                  keep_scored, load_curator, norm_text)
from kgnlu.training.curation_train import THRESHOLDS, curie_iri, read_annotated, train_curation  # noqa: E402
from kgnlu.types import InputError  # noqa: E402
from tests.conftest import run_cli  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "linking"
HP = "http://purl.obolibrary.org/obo/HP_"
PHENOTYPE = HP + "0000118"

# "jaw cysts" is no name in the small ontology: curators annotate it (as Schwannoma, for the test).
DOCS = [
    ("1", "She had jaw cysts and fever.", [(8, 17, "jaw cysts", "HP:0009588"), (22, 27, "fever", "HP:0001945")]),
    ("2", "Jaw cysts were found, with cough.", [(0, 9, "Jaw cysts", "HP:0009588"), (27, 32, "cough", "HP:0012735")]),
    ("3", "Fever and jaw cysts again.", [(0, 5, "Fever", "HP:0001945"), (10, 19, "jaw cysts", "HP:0009588")]),
    ("4", "Cough and jaw cysts, then fever.", [(0, 5, "Cough", "HP:0012735"), (10, 19, "jaw cysts", "HP:0009588"),
                                              (26, 31, "fever", "HP:0001945")]),
]


def _write(path: Path, docs=DOCS) -> Path:
    blocks = ["\n".join([pmid, text, *(f"{s}\t{e}\t{m}\t{c}" for s, e, m, c in ms)]) for pmid, text, ms in docs]
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small_kg(tmp_path_factory) -> Path:
    from kgnlu.kg.ingest import ingest

    kg = tmp_path_factory.mktemp("curation") / "kg"
    ingest([DATA / "hpo.obo", DATA / "mondo.obo"], kg, reasoner_name="structural")
    return kg


# -- reading -------------------------------------------------------------------------------------

def test_read_annotated_and_its_errors(tmp_path):
    docs = read_annotated(_write(tmp_path / "ok.tsv"))
    assert [d.pmid for d in docs] == ["1", "2", "3", "4"]
    assert all(d.text[s:e] == m for d in docs for s, e, m, _ in d.mentions)
    assert curie_iri("HP:0009588") == HP + "0009588" and curie_iri(HP + "1") == HP + "1"
    (tmp_path / "bad.tsv").write_text("1\nSome text.\n0\t4\tSome\n")
    with pytest.raises(InputError, match=r"bad.tsv:3: block 1 \(1\): bad mention line"):
        read_annotated(tmp_path / "bad.tsv")
    (tmp_path / "far.tsv").write_text("1\nSome text.\n0\t40\tSome\tHP:1\n")
    with pytest.raises(InputError, match="mention 0-40 is outside the 10-character text"):
        read_annotated(tmp_path / "far.tsv")
    (tmp_path / "short.tsv").write_text("1\n\n2\nText.\n")
    with pytest.raises(InputError, match="block 1 has no text line"):
        read_annotated(tmp_path / "short.tsv")
    (tmp_path / "empty.tsv").write_text("\n\n")
    with pytest.raises(InputError, match="no documents"):
        read_annotated(tmp_path / "empty.tsv")
    with pytest.raises(InputError, match="absent.tsv"):
        read_annotated(tmp_path / "absent.tsv")
    (tmp_path / "binary.tsv").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="not UTF-8"):
        read_annotated(tmp_path / "binary.tsv")



GSC_DEV = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "hpo" / "gsc_plus_dev.tsv"


def test_a_mention_the_text_does_not_read_is_refused_with_its_line(tmp_path):
    """Gold offsets that point at other words (a shifted text, offsets counted in bytes) trained on
    the wrong spans without a word; the mention column is checked against the text, exactly."""
    docs = [DOCS[0], ("2", "Jaw cysts were found, with cough.", [(0, 9, "Jaw cysts", "HP:0009588"),
                                                                  (27, 32, "fever", "HP:0001945")])]
    path = _write(tmp_path / "shifted.tsv", docs)
    with pytest.raises(InputError) as e:
        read_annotated(path)
    assert str(e.value) == f"{path}:9: block 2 (2): mention 27-32 is 'fever' but the text there reads 'cough'"
    case = [("1", "She had jaw cysts.", [(8, 17, "Jaw cysts", "HP:0009588")])]
    with pytest.raises(InputError, match=r"case.tsv:3: .* is 'Jaw cysts' but the text there reads 'jaw cysts'"):
        read_annotated(_write(tmp_path / "case.tsv", case))


@pytest.mark.skipif(not GSC_DEV.exists(), reason="no ../shared/realdata (GSC+ dev)")
def test_gsc_plus_dev_reads_as_its_text():
    docs = read_annotated(GSC_DEV)
    assert (len(docs), sum(len(d.mentions) for d in docs)) == (82, 738)


def test_train_curation_refuses_a_misread_mention_before_loading_the_kg(tmp_path, monkeypatch):
    import kgnlu.training.jobs as jobs

    def no_kg(*_, **__):
        raise AssertionError("the KG was loaded for a file that is refused")

    monkeypatch.setattr(jobs, "_kg", no_kg)
    path = _write(tmp_path / "d.tsv", [("1", "She had jaw cysts.", [(8, 17, "jaw cyst", "HP:0009588")])])
    with pytest.raises(InputError, match=r"d.tsv:3: block 1 \(1\): mention 8-17 is 'jaw cyst'"):
        jobs.train_curation(tmp_path / "kg", path, None)
    assert not (tmp_path / "kg").exists()

# -- statistics, features, the rule ----------------------------------------------------------

def test_stats_subtract_a_documents_own_counts():
    a, b = Stats(), Stats()
    a.alias["jaw cysts"] = Counter({HP + "1": 2})
    a.alias_seen["jaw cysts"] = 2
    b.alias["jaw cysts"] = Counter({HP + "1": 1})
    b.alias_seen["jaw cysts"] = 4
    b.concept_pred[HP + "1"], b.concept_gold[HP + "1"] = 3, 1
    pooled = Stats()
    pooled.add(a)
    pooled.add(b)
    assert pooled.annotated_rate("jaw cysts") == 3 / 6 and pooled.aliases(0.5) == {"jaw cysts": HP + "1"}
    assert pooled.aliases(0.6) == {}
    pooled.add(a, -1)  # a training row of document a reads the others' counts only
    assert pooled.annotated_rate("jaw cysts") == 1 / 4 and pooled.concept_pred[HP + "1"] == 3
    b.add(b, -1)
    assert b.aliases(0.0) == {}  # zero counts left by a subtraction are no alias
    assert Stats.from_json(json.loads(json.dumps(pooled.to_json()))).to_json() == pooled.to_json()
    assert norm_text("Jaw Cysts,") == norm_text("jaw cyst")


def test_alias_index_finds_whole_words_longest_first():
    from kgnlu.tasks.curation import AliasIndex

    index = AliasIndex({"jaw cysts": "a", "jaw": "b", "basal-cell carcinoma": "c", "lacking speech.": "d",
                        "cysts": "e"})
    text = "Jaw cysts, jawbone cysts; a basal cell carcinoma and a basal-cell carcinoma; lacking speech."
    assert [(text[a:b], iri) for a, b, iri in index.spans(text)] == [
        ("Jaw cysts", "a"), ("cysts", "e"), ("basal-cell carcinoma", "c"), ("lacking speech.", "d")]
    assert AliasIndex({}).spans(text) == []


def test_nesting_is_the_pairwise_reading():
    """The sorted sweeps give what comparing every pair of spans gives."""
    import random

    from kgnlu.tasks.curation import nesting

    rng = random.Random(0)
    for _ in range(2000):
        bounds = [(a, a + rng.randint(1, 8)) for a in (rng.randint(0, 20) for _ in range(rng.randint(0, 12)))]
        bounds += bounds[:rng.randint(0, 2)]  # repeated bounds are not nested in each other
        inside = [any(a <= s and e <= b and (a, b) != (s, e) for a, b in bounds) for s, e in bounds]
        contains = [any(s <= a and b <= e and (a, b) != (s, e) for a, b in bounds) for s, e in bounds]
        assert nesting(bounds) == (inside, contains), bounds


def _features() -> Features:
    return Features([PHENOTYPE], ancestors=lambda iri: [PHENOTYPE] if iri.startswith(HP) else [],
                    n_descendants=lambda iri: 0)


def test_an_alias_disagreeing_with_the_concept_is_read_as_such():
    stats = Stats(alias={"jaw cysts": Counter({HP + "1": 2, HP + "2": 0})}, alias_seen=Counter({"jaw cysts": 2}))
    f = _features()
    rows = f.rows([Candidate(0, 9, "jaw cysts", HP + "1", "curated", 1.0),
                   Candidate(0, 9, "jaw cysts", HP + "2", "lexicon", 1.0)], stats)
    col = {n: i for i, n in enumerate(f.names)}
    assert rows[0, col["alias_agrees"]] == 1 and rows[0, col["alias_disagrees"]] == 0
    assert rows[1, col["alias_agrees"]] == 0 and rows[1, col["alias_disagrees"]] == 1
    assert rows[0, col["via:curated"]] == 1 and rows[1, col["via:lexicon"]] == 1
    assert rows[0, col["alias_rate"]] == 1.0 and rows[0, col[f"root:{PHENOTYPE}"]] == 1


def test_the_rule_over_the_probabilities():
    f = _features()
    seen = Stats(concept_pred=Counter({HP + "9": 5}))
    cands = [Candidate(0, 10, "chest pain", HP + "1", "lexicon", 1.0),  # never seen: the linker's answer stands
             Candidate(6, 10, "pain", HP + "2", "nested", 1.0),  # kept by p, but a nested term
             Candidate(12, 16, "grey", HP + "9", "lexicon", 1.0),  # seen, low p: dropped
             Candidate(20, 24, "ache", "http://other/1", "lexicon", 1.0),  # outside the model's branches
             Candidate(0, 5, "chest", HP + "3", "curated", 1.0)]  # an alias inside a kept mention
    p = [0.1, 0.9, 0.1, 0.0, 0.9]
    assert keep_scored(cands, p, 0.5, seen, f, nested=True) == [True, True, False, True, True]
    assert keep_scored(cands, p, 0.5, seen, f, nested=False) == [True, False, False, True, False]
    # the same candidate is dropped once the training documents showed its concept
    shown = Stats(concept_pred=Counter({HP + "1": 1}))
    assert keep_scored(cands[:1], [0.1], 0.5, shown, f) == [False]
    # unless it is the qualifier of a text that is one term (a query: "autosomal dominant")
    lone = Candidate(0, 10, "chest pain", HP + "1", "lexicon", 1.0, qualifier=True)
    assert keep_scored([lone], [0.1], 0.5, shown, f) == [True]


def test_regression_is_deterministic_and_learns():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] - x[:, 2] > 0).astype(float)
    a, b = Regression.fit(x, y), Regression.fit(x, y)
    assert np.array_equal(a.weight, b.weight) and a.bias == b.bias
    assert ((a.predict(x) >= 0.5) == (y == 1)).mean() > 0.95
    assert a.weight[0] > 0 > a.weight[2]


# -- training, the linker, the Engine ------------------------------------------------------------

def test_train_save_load_and_link_through_an_alias(small_kg, tmp_path):
    path = _write(tmp_path / "docs.tsv")
    out = tmp_path / "model"
    with Engine(small_kg, device="cpu", dense=False, curation=None) as plain:
        report = train_curation(plain.linker(), path, out, folds=2, roots=[PHENOTYPE], command="kgnlu train curation")
        assert plain.curator() is None
        assert [m.text for m in plain.link("He denies jaw cysts.")] == []
    assert report["threshold"] in THRESHOLDS and report["candidates"]["gold"] == 9
    # every "jaw cysts" is found only through the aliases of the other fold's documents
    assert report["cv"]["r"] == 1.0
    config = json.loads((out / "curation.json").read_text())
    assert config["training"]["documents"] == 4 and config["training"]["linking"]["dense"] is False
    assert config["training"]["command"] == "kgnlu train curation"
    assert config["training"]["versions"] == library_versions()
    curator = load_curator(out)
    assert curator.aliases["jaw cysts"] == HP + "0009588" and curator.aliases["fever"] == HP + "0001945"
    with Engine(small_kg, device="cpu", dense=False, curation=out) as engine:
        assert engine.curator() is not None
        (m,) = engine.link("He denies jaw cysts.")
        assert (m.text, m.iri, m.via, m.negated) == ("jaw cysts", HP + "0009588", "curated", True)
        # a finding the documents never showed is still linked
        assert [x.text for x in engine.link("Chest pain and ptosis.")] == ["Chest pain", "ptosis"]


def test_curation_keeps_qualifiers_and_the_branches_asked_for(small_kg, tmp_path):
    """An alias on a linked mention's very span ("fever" is one here) is that mention: a qualifier
    the text gave it stays on the mention kept. A qualifier subtree asked for by branch is linked
    whatever the curators annotated (they never annotated an inheritance mode)."""
    with Engine(small_kg, device="cpu", dense=False, curation=None) as plain:
        train_curation(plain.linker(), _write(tmp_path / "docs.tsv"), tmp_path / "m", folds=2, roots=[HP + "0000001"])
    with Engine(small_kg, device="cpu", dense=False, curation=tmp_path / "m") as engine:
        assert engine.curator().aliases["fever"] == HP + "0001945"
        (m,) = engine.link("Fever. Severe.")
        assert (m.text, [q["label"] for q in m.modifiers]) == ("Fever", ["Severe"])
        inheritance = engine.link("Fever with autosomal dominant inheritance.", branches=["HP:0000005"])
        assert [(m.text, m.iri) for m in inheritance] == [("autosomal dominant inheritance", HP + "0000006")]


def test_a_lone_qualifier_is_curated_in_running_text_and_kept_in_a_query(small_kg, tmp_path):
    """Curators never annotate an inheritance mode that a document names alone (GSC+'s genetics
    abstracts: "sporadic", "autosomal dominant"): in running text the model's score decides, as
    for any concept. A text that is one term, a query, names only the qualifier: it is the mention."""
    lone = "The trait is autosomal dominant."
    docs = [*DOCS, *((str(i), lone, []) for i in range(5, 9))]
    with Engine(small_kg, device="cpu", dense=False, curation=None) as plain:
        train_curation(plain.linker(), _write(tmp_path / "docs.tsv", docs), tmp_path / "m", folds=2,
                       roots=[HP + "0000001"])
        assert _found_labels(plain.link(lone)) == ["Autosomal dominant inheritance"]
    with Engine(small_kg, device="cpu", dense=False, curation=tmp_path / "m") as engine:
        assert engine.link(lone) == []
        for query in ("autosomal dominant", "Autosomal dominant inheritance."):
            assert _found_labels(engine.link(query)) == ["Autosomal dominant inheritance"], query
        (m,) = engine.link("Fever, autosomal dominant.")  # with a finding it is the finding's modifier
        assert (m.text, [q["label"] for q in m.modifiers]) == ("Fever", ["Autosomal dominant inheritance"])


def _found_labels(mentions) -> list[str]:
    return [m.label for m in mentions]


def test_an_alias_on_a_disease_span_is_its_other_reading(small_kg, tmp_path):
    """Curators named the disease's span with a phenotype: on a KG that also holds the disease,
    the phenotype joins the disease mention's readings rather than standing as a second mention."""
    docs = [(str(i), f"A vestibular schwannoma and {w}.", [(2, 23, "vestibular schwannoma", "HP:0009588"),
                                                        (28, 28 + len(w), w, c)])
            for i, (w, c) in enumerate([("fever", "HP:0001945"), ("cough", "HP:0012735"), ("ptosis", "HP:0000508"),
                                        ("fever", "HP:0001945")])]
    with Engine(small_kg, device="cpu", dense=False, curation=None) as plain:
        train_curation(plain.linker(), _write(tmp_path / "docs.tsv", docs), tmp_path / "m", folds=2, roots=[PHENOTYPE])
        (disease,) = [m for m in plain.link("A vestibular schwannoma.") if m.text == "vestibular schwannoma"]
    assert disease.iri.endswith("MONDO_0016219") and HP + "0009588" not in disease.readings
    with Engine(small_kg, device="cpu", dense=False, curation=tmp_path / "m") as engine:
        ms = [m for m in engine.link("A vestibular schwannoma.") if m.text == "vestibular schwannoma"]
    assert len(ms) == 1 and ms[0].iri == disease.iri and HP + "0009588" in ms[0].readings


def test_model_files_and_their_errors(tmp_path):
    with pytest.raises(InputError, match="no curation model in"):
        load_curator(tmp_path)
    src = default_curator_path()
    for name in ("curation.json", "curation.safetensors"):
        (tmp_path / name).write_bytes((src / name).read_bytes())
    config = json.loads((tmp_path / "curation.json").read_text())
    config["format"] = 99
    (tmp_path / "curation.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="format 99"):
        load_curator(tmp_path)
    (tmp_path / "curation.json").write_text("{")
    with pytest.raises(InputError, match="not a readable curation model"):
        load_curator(tmp_path)
    config["format"], config["features"] = 1, config["features"][:-1]
    (tmp_path / "curation.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="retrain it"):
        load_curator(tmp_path)
    del config["stats"]
    config["features"] = json.loads((src / "curation.json").read_text())["features"]
    (tmp_path / "curation.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="KeyError"):
        load_curator(tmp_path)


def test_the_shipped_model_and_its_record():
    curator = load_curator(default_curator_path())
    assert len(curator.regression.weight) == len(curator.config["features"])
    assert curator.threshold in THRESHOLDS
    record = curator.config["training"]
    cv = record["cross_validation"]
    # what the README reports: cross-validated by document, above the candidates it chose from
    assert record["documents"] == 82 and cv["folds"] == 5
    assert cv["cv"]["f1"] > cv["candidates"]["f1"] and cv["cv_flat"]["p"] > cv["candidates"]["p"]
    assert record["linking"]["dense"] is False and record["linking"]["forms"] is True


def test_auto_curation_stays_off_a_kg_without_its_concepts(small_kg):
    with Engine(small_kg, device="cpu", dense=False) as engine:
        assert engine.curation == "auto" and engine.curator() is None


def test_cli_train_curation_errors_and_link_without_curation(small_kg, tmp_path):
    res = run_cli("train", "curation", "--kg", small_kg, "--data", tmp_path / "absent.tsv")
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        f"error: annotated documents not found: {tmp_path / 'absent.tsv'}"]
    (tmp_path / "afile").write_text("")
    for out in (tmp_path / "afile", tmp_path / "afile" / "m"):  # refused before the cross-validation runs
        res = run_cli("train", "curation", "--kg", small_kg, "--data", _write(tmp_path / "d.tsv"), "--out", out, "-q")
        assert res.returncode == 2 and res.stderr_lines == [f"error: --out {out}: a file is in the way; give a folder"]
    bad = _write(tmp_path / "bad.tsv", [("1", "She had jaw cysts.", [(8, 17, "jaw cyst", "HP:0009588")])])
    res = run_cli("train", "curation", "--kg", small_kg, "--data", bad, "--out", tmp_path / "never", "-q")
    assert res.returncode == 2 and res.stderr_lines == [
        f"error: {bad}:3: block 1 (1): mention 8-17 is 'jaw cyst' but the text there reads 'jaw cysts'"]
    assert not (tmp_path / "never").exists()
    res = run_cli("train", "curation", "--kg", small_kg, "--data", _write(tmp_path / "d.tsv"), "--folds", "2",
                  "--out", tmp_path / "m", "-q")
    assert res.returncode == 0, res.stderr
    assert "2-fold cross-validation by document" in res.stdout and (tmp_path / "m" / "curation.json").is_file()
    record = json.loads((tmp_path / "m" / "curation.json").read_text())["training"]
    assert record["command"].startswith("kgnlu train curation --kg ") and record["versions"] == library_versions()
    text = "No jaw cysts, but fever and a severe cough."
    res = run_cli("link", "--kg", small_kg, "--curation", str(tmp_path / "m"), "--json", text)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)["mentions"]
    assert (got[0]["text"], got[0]["via"], got[0]["negated"]) == ("jaw cysts", "curated", True)
    with Engine(small_kg, device="cpu", curation=tmp_path / "m") as engine:  # the CLI's answer is the API's
        want = [m.to_dict() for m in engine.link(text)]
    assert got == want
    res = run_cli("link", "--kg", small_kg, "--curation", "none", "--json", "No jaw cysts.")
    assert res.returncode == 0 and json.loads(res.stdout)["mentions"] == []
    res = run_cli("link", "--kg", small_kg, "--curation", str(tmp_path / "absent"), "No jaw cysts.")
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        f"error: no curation model in {tmp_path / 'absent'}: it needs curation.json and curation.safetensors "
        "(kgnlu train curation)"]

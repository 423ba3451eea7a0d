"""``Engine.infer`` / ``infer_many`` with the shipped fused NLI model over the demo food KG, and
the batch mode of ``kgnlu infer`` (bad lines named, ``--skip-bad``).

The model tests need the shipped weights under ``kgnlu/assets/nli`` (``kgnlu train nli``); they
are skipped where there are none. The fallback and bad-input tests need no model.
"""

from __future__ import annotations

import json

import pytest

from kgnlu.config import nli_model_dir
from kgnlu.labels import LABELS
from kgnlu.types import InputError
from tests.conftest import copy_kg, in_threads

CONTRACT_KEYS = {"label", "probabilities", "gate", "neural", "symbolic", "entities"}
PAIRS = [
    ("I like eating apples", "I like eating fruit"),
    ("I do not eat fruit", "I eat apples"),
    ("The weather was lovely yesterday.", "It rained all afternoon."),
    ("She bought some apples at the market.", "She bought vegetables."),
]
has_model = pytest.mark.skipif(not (nli_model_dir() / "manifest.json").is_file(),
                               reason="no shipped NLI model (run `kgnlu train nli --out src/kgnlu/assets/nli`)")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def engine(demo_kg):
    from kgnlu.api import Engine

    eng = Engine(demo_kg, dense=False, device="cpu")
    yield eng
    eng.close()


@has_model
def test_result_contract_and_seed_example(engine):
    r = engine.infer("I like eating apples", "I like eating fruit")
    d = r.to_dict()
    assert set(d) == CONTRACT_KEYS
    assert d["label"] in LABELS and set(d["probabilities"]) == set(LABELS)
    assert sum(d["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert set(d["neural"]["probabilities"]) == set(LABELS)
    assert 0.0 <= d["gate"] <= 1.0
    assert d["symbolic"]["verdict"] == "entailment" and d["symbolic"]["proofs"]
    steps = [s for proof in d["symbolic"]["proofs"] for s in proof]
    assert any(s["predicate"] == "rdfs:subClassOf" and s["subject"].endswith("#Apple")
               and s["object"].endswith("#Fruit") for s in steps)
    assert [e["side"] for e in d["entities"]] == ["premise", "hypothesis"]
    json.dumps(d)  # plain JSON values only


@has_model
def test_nothing_linked_closes_the_gate(engine):
    r = engine.infer("The weather was lovely yesterday.", "It rained all afternoon.")
    assert r.entities == []
    assert r.gate < 0.2
    assert r.symbolic.verdict == "unknown"


@has_model
def test_infer_many_matches_infer(engine):
    batch = [r.to_dict() for r in engine.infer_many(PAIRS)]
    single = [engine.infer(p, h).to_dict() for p, h in PAIRS]
    for b, s in zip(batch, single):
        assert b["label"] == s["label"] and b["entities"] == s["entities"]
        for k in LABELS:
            assert b["probabilities"][k] == pytest.approx(s["probabilities"][k], abs=1e-4)


@has_model
def test_eight_threads_give_identical_results(engine):
    reference = [engine.infer(p, h).to_dict() for p, h in PAIRS]
    results = in_threads(lambda: [engine.infer(p, h).to_dict() for p, h in PAIRS], 8)
    assert all(r == reference for r in results)


@pytest.mark.parametrize("premise, hypothesis, which", [("", "I like fruit", "premise is"),
                                                        ("   ", "I like fruit", "premise is"),
                                                        ("I like apples", "", "hypothesis is"),
                                                        (" ", "", "premise and hypothesis are")])
def test_empty_text_is_an_input_error_that_names_the_side(engine, premise, hypothesis, which):
    with pytest.raises(InputError, match=f"^{which} empty$"):
        engine.infer(premise, hypothesis)


def test_too_long_text_in_a_batch_names_the_pair(engine):
    with pytest.raises(InputError, match="pair 2: premise has 200000 characters"):
        engine.infer_many([("I like apples", "I like fruit"), ("x" * 200_000, "I like fruit")])


def test_no_model_falls_back_to_symbolic_and_says_so(demo_kg, tmp_path, monkeypatch):
    import kgnlu.runtime
    from kgnlu.api import Engine

    monkeypatch.setattr(kgnlu.runtime, "nli_model_dir", lambda: tmp_path / "no-model")
    r = Engine(demo_kg, dense=False).infer("I like eating apples", "I like eating fruit")
    assert r.label == "entailment" and r.gate == 1.0
    assert r.neural == {"note": "no trained NLI model; symbolic verdict only"}


def test_symbolic_only(engine):
    r = engine.infer("I like eating apples", "I like eating fruit", symbolic_only=True)
    assert r.label == "entailment" and r.symbolic.verdict == "entailment" and r.neural == {}


def test_entities_say_whose_condition_and_their_readings(engine):
    """Why "My father likes apples" / "I like fruit" is not proved: the apples are the father's."""
    r = engine.infer("My father likes eating apples", "I like eating fruit", symbolic_only=True)
    (apple,) = [e for e in r.entities if e["side"] == "premise"]
    (fruit,) = [e for e in r.entities if e["side"] == "hypothesis"]
    assert (apple["experiencer"], fruit["experiencer"]) == ("father", None)
    assert apple["readings"] == [] and r.symbolic.verdict == "unknown"


def test_hedged_premise_asserts_nothing(engine):
    r = engine.infer("I might like eating apples", "I like eating fruit", symbolic_only=True)
    assert r.symbolic.verdict == "unknown" and r.label == "neutral"
    (apple,) = [e for e in r.entities if e["side"] == "premise"]
    assert apple["hedged"] and not apple["negated"]
    assert any("not asserted: premise 'apples'" in line for line in r.symbolic.explanation)


def _run_infer_cli(capsys, **kw):
    """``kgnlu infer`` in-process (the model loads once per engine; a child process costs ~10 s)."""
    from kgnlu.cli.infer import infer_cli

    args = dict(premise=None, hypothesis=None, kg=None, input_file=None, output=None, model=None, dense=False, encoder=None, skip_bad=False,
                symbolic_only=False, explain=False, json_out=False, quiet=True, ray=None)
    args.update(kw)
    code = 0
    try:
        infer_cli(**args)
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _bad_batch(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(b'{"premise": "I like eating apples", "hypothesis": "I like eating fruit"}\n'
                     b'{"premise": "I like eating apples", "hypothesis": \n'
                     b'{"premise": "I eat \xff pears", "hypothesis": "I eat fruit"}\n'
                     b'{"premise": "", "hypothesis": "I eat fruit"}\n'
                     + json.dumps({"premise": "x" * 200_000, "hypothesis": "I eat fruit"}).encode() + b"\n"
                     b'{"premise": "I do not eat fruit", "hypothesis": "I eat apples"}\n')
    return path


def test_batch_too_long_line_is_named(demo_kg, tmp_path, capsys):
    path = tmp_path / "long.jsonl"
    path.write_text('{"premise": "I like apples", "hypothesis": "I like fruit"}\n'
                    + json.dumps({"premise": "I like apples", "hypothesis": "y" * 200_000}) + "\n", encoding="utf-8")
    code, out, err = _run_infer_cli(capsys, kg=demo_kg, input_file=path, symbolic_only=True)
    assert code == 2
    assert err.strip().splitlines() == [f"error: {path}:2: hypothesis has 200000 characters; the limit is 100000 "
                                        "(split it into sentences)"]


def test_batch_bad_line_is_named(demo_kg, tmp_path, capsys):
    code, out, err = _run_infer_cli(capsys, kg=demo_kg, input_file=_bad_batch(tmp_path),
                                    output=tmp_path / "out.jsonl", symbolic_only=True)
    assert code == 2
    assert err.strip().splitlines() == [f"error: {tmp_path / 'pairs.jsonl'}:2: malformed JSON "
                                        "(Expecting value, column 51)"]
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("symbolic_only", [True, pytest.param(False, marks=has_model)])
def test_batch_skip_bad_continues_and_reports(demo_kg, tmp_path, capsys, symbolic_only):
    out_path = tmp_path / "out.jsonl"
    code, out, err = _run_infer_cli(capsys, kg=demo_kg, input_file=_bad_batch(tmp_path), output=out_path,
                                    skip_bad=True, symbolic_only=symbolic_only)
    assert code in (0, None)
    lines = err.strip().splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["skipped line 2", "skipped line 3", "skipped line 4",
                                                  "skipped line 5"]
    assert "not UTF-8" in lines[1] and "premise is empty" in lines[2]  # the API's words
    assert "premise has 200000 characters" in lines[3]
    results = [json.loads(ln) for ln in out_path.read_text(encoding="utf-8").splitlines()]
    assert len(results) == 2 and all(set(r) == CONTRACT_KEYS for r in results)
    assert results[0]["label"] == "entailment"
    assert results[1]["symbolic"]["verdict"] == "contradiction"


def test_encoder_is_the_dense_linkers(demo_kg, minilm_folder, tmp_path, capsys):
    """``--encoder DIR`` swaps the dense linker's encoder; without --dense there is none to swap."""
    from kgnlu.neural.encoder import SentenceTransformerEncoder

    pair = dict(premise="I like eating apples", hypothesis="I like eating fruit")
    code, out, err = _run_infer_cli(capsys, kg=demo_kg, encoder=minilm_folder, symbolic_only=True, **pair)
    assert code == 2 and err.strip().splitlines() == ["error: --encoder is the dense linker's: add --dense"]
    kg = copy_kg(demo_kg, tmp_path / "kg")
    code, out, err = _run_infer_cli(capsys, kg=kg, dense=True, encoder=minilm_folder, symbolic_only=True, json_out=True, **pair)
    assert code in (0, None) and json.loads(out)["symbolic"]["verdict"] == "entailment"
    fingerprint = SentenceTransformerEncoder(minilm_folder, device="cpu").fingerprint
    assert (kg / "cache" / f"vectors-{fingerprint}.sqlite3").is_file()  # the lexicon was embedded with it

"""One behaviour everywhere: the Python API, the CLI and the service refuse the same inputs, in
the same words, and take the same options (what ``test_service`` and ``test_api_surface`` leave
out: the audit of the three surfaces on real texts found these differences)."""

from __future__ import annotations

import json

import pytest

from kgnlu.types import InputError
from tests.conftest import FOOD

pytest.importorskip("fastapi")

from tests.kgnlu.test_service import one_line_error, serving  # noqa: E402


@pytest.fixture(scope="module")
def engine(demo_kg):
    from kgnlu.api import Engine

    engine = Engine.load(kg=demo_kg, dense=False)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def client(engine):
    c = serving(engine)
    yield c
    c.__exit__(None, None, None)


@pytest.mark.parametrize("text", ["", "  \t\n"], ids=["empty", "blank"])
def test_an_empty_text_is_an_input_error_in_the_api_as_in_the_cli(engine, cli, demo_kg, text):
    for call in (lambda: engine.link(text), lambda: engine.extract(text), lambda: engine.link_many([text]),
                 lambda: engine.extract_many([text])):
        with pytest.raises(InputError, match="^text is empty$"):
            call()
    with pytest.raises(InputError, match="^text 2: text is empty$"):
        engine.link_many(["apples", text])
    with pytest.raises(InputError, match="^text 2: text is empty$"):
        engine.extract_many(["apples", text])
    for command in ("link", "extract"):
        r = cli(command, "--kg", demo_kg, text)
        assert (r.returncode, r.stderr_lines) == (2, ["error: text is empty"]), r.stderr


@pytest.mark.parametrize("top_k", [-1, 51, 1.5, True])
def test_top_k_has_the_clis_and_the_services_range(engine, client, top_k):
    with pytest.raises(InputError, match=r"top_k must be an integer within \[0, 50\]"):
        engine.link("I eat apples", top_k=top_k)
    assert "top_k" in one_line_error(client.post("/v1/link", json={"text": "I eat apples", "top_k": top_k}), 422)
    (apples,) = engine.link("I eat apples", top_k=50)  # the bounds themselves are taken
    assert apples.candidates and engine.link("I eat apples", top_k=0)[0].candidates == []


LINK_OPTIONS = [  # the service's fields, the CLI's flags, the API's keywords
    ({"nested": True}, ["--nested"], {"nested": True}),
    ({"branches": [FOOD + "Fruit"]}, ["--only", FOOD + "Fruit"], {"branches": [FOOD + "Fruit"]}),
    ({"branches": [FOOD + "Fruit", "food"], "nested": True, "top_k": 2}, ["--only", FOOD + "Fruit,food", "--nested",
                                                                          "--top-k", "2"],
     {"branches": [FOOD + "Fruit", "food"], "nested": True, "top_k": 2}),
]


@pytest.mark.parametrize("fields, flags, keywords", LINK_OPTIONS, ids=["nested", "branches", "all"])
def test_the_service_links_with_the_options_of_the_cli_and_the_api(engine, client, cli, demo_kg, fields, flags,
                                                                    keywords):
    text = "I ate citrus fruit and Granny Smith apples, no beef."
    served = client.post("/v1/link", json={"text": text, **fields})
    assert served.status_code == 200, served.text
    expected = {"text": text, "mentions": [m.to_dict() for m in engine.link(text, **keywords)]}
    assert served.json() == expected
    assert expected != {"text": text, "mentions": [m.to_dict() for m in engine.link(text)]}  # the options count
    r = cli("link", "--kg", demo_kg, "--json", *flags, text)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == expected
    # a list mixing options answers each item with its own
    many = client.post("/v1/link", json=[{"text": text, **fields}, {"text": text}])
    assert many.json() == [expected, client.post("/v1/link", json={"text": text}).json()]


def test_an_unknown_branch_is_the_same_error_everywhere(engine, client, cli, demo_kg):
    with pytest.raises(InputError) as e:
        engine.link("apples", branches=["nosuch"])
    assert one_line_error(client.post("/v1/link", json={"text": "apples", "branches": ["nosuch"]}), 422) == str(e.value)
    r = cli("link", "--kg", demo_kg, "--only", "nosuch", "apples")
    assert (r.returncode, r.stderr_lines) == (2, [f"error: {e.value}"])


def test_extract_links_densely_when_asked_as_the_service_and_the_api_do(engine, kg_copy, cli):
    """``kgnlu serve --dense`` answers /v1/extract through the dense linker, as ``Engine(dense=True)``
    does; ``kgnlu extract`` had no ``--dense`` and always linked lexicon-only."""
    from kgnlu.api import Engine

    text = "citrus"  # one term the lexicon lacks ("citrus fruit"), which dense retrieval finds
    with Engine(kg_copy, dense=True) as dense:
        expected = dense.extract(text).to_dict()
        assert [(m["label"], m["via"]) for m in expected["entities"]] == [("citrus fruit", "dense")]
        c = serving(dense, dense=True)
        try:
            assert c.post("/v1/extract", json={"text": text}).json() == expected
        finally:
            c.__exit__(None, None, None)
    r = cli("extract", "--kg", kg_copy, "--dense", "--json", text)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == expected
    r = cli("extract", "--kg", kg_copy, "--json", text)
    assert json.loads(r.stdout) == engine.extract(text).to_dict() and json.loads(r.stdout)["entities"] == []
    # kgnlu extract --ray's workers (kgnlu.scale) answer as the command does: they linked lexicon-only
    from kgnlu.scale import answerer

    assert [r.to_dict() for r in answerer("extract", {"kg": kg_copy, "dense": True})([text])] == [expected]


NOT_TEXT = [  # (what the API is given, the JSON the service is sent): the service must refuse it in the API's words
    ("", ""), ("  \t", "  \t"), ("caf\udce9", "caf\udce9"), ("a\x00b", "a\x00b"), (3, 3), (None, None), (["a"], ["a"]),
    ("x" * 100_001, "x" * 100_001),
]


def _post(client, route: str, body):
    # as a client's json.dumps sends it: a lone surrogate as a \u escape (httpx refuses to encode one)
    return client.post(route, content=json.dumps(body), headers={"content-type": "application/json"})


def _api_error(call) -> str:
    with pytest.raises(InputError) as e:
        call()
    return str(e.value)


@pytest.mark.parametrize("bad, sent", NOT_TEXT, ids=["empty", "blank", "surrogate", "nul", "int", "null", "list",
                                                     "too-long"])
def test_the_service_refuses_what_the_api_refuses_in_its_words(engine, bad, sent):
    c = serving(engine, max_chars=100_000)
    try:
        for route, body, call in (
                ("/v1/link", {"text": sent}, lambda: engine.link(bad)),
                ("/v1/extract", {"text": sent}, lambda: engine.extract(bad)),
                ("/v1/infer", {"premise": sent, "hypothesis": "I eat fruit"}, lambda: engine.infer(bad, "I eat fruit")),
                ("/v1/infer", {"premise": "I eat fruit", "hypothesis": sent},
                 lambda: engine.infer("I eat fruit", bad))):
            expected = _api_error(call)
            assert one_line_error(_post(c, route, body), 422) == expected, route
            # pydantic's type errors say how many more items failed: "(and 1 more)"
            assert one_line_error(_post(c, route, [body, body]), 422).startswith(f"item 1: {expected}"), route
    finally:
        c.__exit__(None, None, None)


def test_a_text_over_the_servers_own_limit_is_refused_in_the_api_s_words(engine):
    c = serving(engine, max_chars=40)
    try:
        detail = one_line_error(c.post("/v1/link", json={"text": "a" * 41}), 422)
    finally:
        c.__exit__(None, None, None)
    assert detail == "text has 41 characters; the limit is 40 (split it into sentences)"
    assert _api_error(lambda: engine.link("a" * 100_001)).endswith("the limit is 100000 (split it into sentences)")


BATCH_LINES = [  # a command, a bad second line of its batch file, and what the API says of that value
    ("link", '{"text": ""}', lambda e: e.link_many(["apples", ""])),
    ("extract", '{"text": " "}', lambda e: e.extract_many(["apples", " "], untrained=True)),
    ("link", '{"text": 3}', lambda e: e.link_many(["apples", 3])),
    ("extract", '{"text": null}', lambda e: e.extract_many(["apples", None], untrained=True)),
    ("infer", '{"premise": 3, "hypothesis": "b"}', lambda e: e.infer_many([("a", "b"), (3, "b")], symbolic_only=True)),
    ("infer", '{"premise": " ", "hypothesis": "b"}', lambda e: e.infer_many([("a", "b"), (" ", "b")],
                                                                            symbolic_only=True)),
]


@pytest.mark.parametrize("command, line, call", BATCH_LINES, ids=["empty", "blank", "int", "null", "premise-int",
                                                                  "premise-blank"])
def test_a_bad_batch_line_is_refused_in_the_api_s_words(engine, cli, demo_kg, tmp_path, command, line, call):
    expected = _api_error(lambda: call(engine)).split(": ", 1)[1]  # "text 2: ...": the CLI names the line instead
    first = {"premise": "a", "hypothesis": "b"} if command == "infer" else {"text": "apples"}
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps(first) + "\n" + line + "\n")
    options = {"infer": ["--symbolic-only"], "extract": ["--untrained"], "link": []}[command]
    r = cli(command, *options, "--kg", demo_kg, "--input", batch)
    assert (r.returncode, r.stderr_lines) == (2, [f"error: {batch}:2: {expected}"]), r.stderr


def test_infer_json_with_explain_keeps_stdout_to_the_results(engine, cli, demo_kg, tmp_path):
    """stdout of ``infer --json --explain`` (and of a batch) is one result per line, as the service
    answers; the readable proofs go to stderr. They followed the JSON on stdout."""
    pair = ("I like eating Granny Smith apples", "I do not eat fruit")
    expected = engine.infer(*pair).to_dict()
    r = cli("infer", "--kg", demo_kg, "--json", "--explain", "-q", "-p", pair[0], "-H", pair[1])
    assert r.returncode == 0, r.stderr
    assert [json.loads(line) for line in r.stdout.splitlines()] == [expected]
    assert any(line.startswith("  proof: ") for line in r.stderr_lines)
    batch = tmp_path / "pairs.jsonl"
    batch.write_text(json.dumps({"premise": pair[0], "hypothesis": pair[1]}) + "\n")
    r = cli("infer", "--kg", demo_kg, "--explain", "-q", "--input", batch)
    assert [json.loads(line) for line in r.stdout.splitlines()] == [expected]
    assert any(line.startswith("  proof: ") for line in r.stderr_lines)
    out = tmp_path / "out.jsonl"
    r = cli("infer", "--kg", demo_kg, "--explain", "-q", "--input", batch, "--output", out)
    assert json.loads(out.read_text()) == expected and "  proof: " in r.stdout  # stdout is free for the reading


def test_serve_takes_the_curation_model_that_link_and_the_engine_take(demo_kg, cli, tmp_path):
    """``kgnlu serve`` had no ``--curation``: /v1/link always applied the shipped model, where
    ``kgnlu link --curation`` and ``Engine(curation=...)`` choose another or none."""
    from kgnlu.api import Engine
    from kgnlu.service import ServeSettings, load_engine

    nowhere = tmp_path / "no-model"
    nowhere.mkdir()
    with pytest.raises(InputError) as e:
        Engine(demo_kg, dense=False, curation=nowhere).link("apples")
    for command in (["link", "apples"], ["serve", "--port", "0"]):
        r = cli(*command, "--kg", demo_kg, "--curation", nowhere)
        assert (r.returncode, r.stderr_lines) == (2, [f"error: {e.value}"]), r.stderr
    with pytest.raises(InputError, match="no curation model"):
        load_engine(ServeSettings(kg=str(demo_kg), curation=str(nowhere), torch_threads=1))
    engine = load_engine(ServeSettings(kg=str(demo_kg), curation=None, torch_threads=1))
    try:
        assert engine.curation is None
    finally:
        engine.close()


@pytest.mark.parametrize("argv, words", [
    (["link", "--top-k", "51", "apples"], "Invalid value for '--top-k' / '-k': Input should be less than or equal"),
    (["extract", "--threshold", "2", "apples"], "Invalid value for '--threshold'"),
    (["link", "--nosuch", "apples"], "No such option: --nosuch"),
    (["lnk", "apples"], "No such command 'lnk'"),
], ids=["top-k", "threshold", "option", "command"])
def test_a_bad_option_is_one_line_as_every_other_bad_input(cli, demo_kg, argv, words):
    """click's own usage errors were three lines (usage, hint, "Error: ..."): the README promises
    one line starting ``error:`` and exit code 2 for bad input, as the API's InputError and the
    service's 422 are one line."""
    r = cli(*argv, "--kg", demo_kg)
    assert r.returncode == 2 and len(r.stderr_lines) == 1, r.stderr
    assert r.stderr_lines[0].startswith(f"error: {words}") and r.stderr_lines[0].endswith(" -h')")


def test_help_version_and_a_bare_command_end_as_before(cli):
    assert cli("--version").returncode == 0
    r = cli("link", "-h")
    assert r.returncode == 0 and r.stdout.startswith("Usage: ")
    r = cli("kg")  # a group given nothing: its help, exit 2 (click's no_args_is_help)
    assert r.returncode == 2 and "Usage: " in r.stdout + r.stderr


def test_a_body_that_is_not_utf8_is_named_as_the_cli_and_the_api_name_it(engine, client, cli, demo_kg, tmp_path):
    body = b'[{"text": "apples"}, {"text": "caf\xe9"}]'  # Latin-1, not UTF-8
    detail = one_line_error(client.post("/v1/link", content=body, headers={"content-type": "application/json"}), 400)
    assert detail == f"malformed JSON: the body is not UTF-8 (byte {body.index(0xE9)})"
    assert _api_error(lambda: engine.link(b"caf\xe9")) == "text is not UTF-8 (byte 3)"
    batch = tmp_path / "texts.txt"
    batch.write_bytes(b"apples\ncaf\xe9\n")
    r = cli("link", "--kg", demo_kg, "--input", batch)
    assert r.stderr_lines == [f"error: {batch}:2: not UTF-8 (byte 3)"]


def test_serve_takes_the_encoder_that_link_and_the_engine_take(kg_copy, minilm_folder, cli, tmp_path):
    """``kgnlu serve`` had no ``--encoder``: a server could not link as ``kgnlu link --encoder DIR``
    and ``Engine(encoder=DIR)`` do."""
    from kgnlu.api import Engine
    from kgnlu.service import ServeSettings, load_engine

    for command in (["link", "apples"], ["serve", "--port", "0"]):
        r = cli(*command, "--kg", kg_copy, "--encoder", tmp_path)
        assert r.returncode == 2 and r.stderr_lines == [f"error: encoder: {tmp_path}: not a sentence-transformers "
                                                        "model folder (no modules.json)"], r.stderr
    text = "citrus"  # one term: dense retrieval links it
    with Engine(kg_copy, encoder=minilm_folder) as own:
        expected = [m.to_dict() for m in own.link(text)]
        assert [m["via"] for m in expected] == ["dense"]
    served = load_engine(ServeSettings(kg=str(kg_copy), encoder=str(minilm_folder), torch_threads=1))
    try:
        assert served.dense and served.runtime.encoder_spec == str(minilm_folder)
        c = serving(served)
        try:
            assert c.post("/v1/link", json={"text": text}).json()["mentions"] == expected
        finally:
            c.__exit__(None, None, None)
    finally:
        served.close()
    r = cli("link", "--kg", kg_copy, "--encoder", minilm_folder, "--json", text)
    assert json.loads(r.stdout)["mentions"] == expected

"""One behaviour everywhere: the Python API, the CLI and the service refuse the same inputs, in
the same words, and take the same options (what ``test_service`` and ``test_api_surface`` leave
out: the audit of the three surfaces on real texts found these differences)."""

from __future__ import annotations

import pytest

from kgnlu.types import InputError

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
    assert engine.link("I eat apples", top_k=50) == engine.link("I eat apples", top_k=50)

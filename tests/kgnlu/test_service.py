"""``kgnlu serve`` (``kgnlu.service``): routes, probes, auth, one-line errors, micro-batching,
fuzzing of the OpenAPI schema, the same answers as the CLI and the Python API, and the real
command in a child process. Network traffic goes to 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import in_threads

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from kgnlu import service_models as models  # noqa: E402
from kgnlu.service import EngineThread, Failure, MicroBatcher, ServeSettings, answer_batch, create_app  # noqa: E402
from kgnlu.types import InputError, StoreError  # noqa: E402

PAIRS = [(f"I like eating {a}", f"I {neg}eat {b}") for a in ("apples", "bananas", "Granny Smith apples", "cheese")
         for b in ("fruit", "food", "vegetables", "dairy") for neg in ("", "do not ")]
TEXTS = ["I do not eat apples or meat", "Bananas are not meat.", "Apples are fruit.", "Maybe a veggie, not dairy."]


def close(a, b, tol: float = 1e-5) -> bool:
    """Equal, but floats within ``tol``: a pair padded into a larger batch moves in the 6th decimal."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(close(a[k], b[k], tol) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= tol
    return a == b


def wait_ready(client, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").json()
        time.sleep(0.05)


def one_line_error(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["detail"] and isinstance(body["detail"], str), body
    assert "\n" not in body["detail"] and "Traceback" not in body["detail"] and body["detail"]
    return body["detail"]


@pytest.fixture(scope="module")
def engine(demo_kg):
    from kgnlu.api import Engine

    engine = Engine.load(kg=demo_kg, dense=False)
    yield engine
    engine.close()


def serving(engine, **options) -> TestClient:
    """A running app (lifespan entered, engine warmed) over the shared engine."""
    client = TestClient(create_app(ServeSettings(torch_threads=1, **options), engine=engine),
                        raise_server_exceptions=False)
    client.__enter__()
    wait_ready(client)
    return client


@pytest.fixture(scope="module")
def client(engine):
    c = serving(engine)
    yield c
    c.__exit__(None, None, None)


# -- routes --------------------------------------------------------------------------------------


def test_infer_one_pair_and_a_list(client, engine):
    one = client.post("/v1/infer", json={"premise": PAIRS[0][0], "hypothesis": PAIRS[0][1]})
    assert one.status_code == 200
    assert one.json() == engine.infer_many([PAIRS[0]])[0].to_dict()
    assert one.json()["symbolic"]["verdict"] == "entailment" and one.json()["symbolic"]["rules"] == ["mono-up"]
    models.InferResult.model_validate(one.json())

    many = client.post("/v1/infer", json=[{"premise": p, "hypothesis": h} for p, h in PAIRS[:6]])
    assert many.status_code == 200 and len(many.json()) == 6
    assert close(many.json(), [r.to_dict() for r in engine.infer_many(PAIRS[:6])])
    for r in many.json():
        models.InferResult.model_validate(r)


def test_infer_symbolic_only(client, engine):
    r = client.post("/v1/infer", json={"premise": "I eat apples", "hypothesis": "I do not eat fruit",
                                       "symbolic_only": True})
    assert r.status_code == 200
    assert r.json() == engine.infer_many([("I eat apples", "I do not eat fruit")], symbolic_only=True)[0].to_dict()
    assert r.json()["neural"] == {} and r.json()["label"] == "contradiction"
    models.InferResult.model_validate(r.json())


def test_link_one_text_and_a_list(client, engine):
    one = client.post("/v1/link", json={"text": TEXTS[0]})
    assert one.status_code == 200
    mentions = one.json()["mentions"]
    assert one.json()["text"] == TEXTS[0] and [(x["text"], x["negated"]) for x in mentions] == [("apples", True),
                                                                                              ("meat", True)]
    assert mentions == [x.to_dict() for x in engine.link_many([TEXTS[0]])[0]]
    models.LinkResult.model_validate(one.json())

    many = client.post("/v1/link", json=[{"text": t, "top_k": 2} for t in TEXTS])
    assert many.status_code == 200
    expected = engine.link_many(TEXTS, top_k=2)
    assert many.json() == [{"text": t, "mentions": [x.to_dict() for x in ms]} for t, ms in zip(TEXTS, expected)]
    assert any(x["candidates"] for r in many.json() for x in r["mentions"])
    for r in many.json():
        models.LinkResult.model_validate(r)


def test_extract_one_text_and_a_list(client, engine):
    one = client.post("/v1/extract", json={"text": "Bananas are not meat."})
    assert one.status_code == 200
    rel = one.json()["relations"][0]
    assert (rel["subject"]["label"], rel["predicate"]["name"], rel["object"]["label"], rel["negated"]) == \
        ("banana", "is_a", "meat", True)
    assert one.json() == engine.extract_many(["Bananas are not meat."])[0].to_dict()
    models.ExtractResult.model_validate(one.json())

    many = client.post("/v1/extract", json=[{"text": t, "threshold": 0.9} for t in TEXTS])
    assert many.status_code == 200
    assert close(many.json(), [r.to_dict() for r in engine.extract_many(TEXTS, 0.9)])
    for r in many.json():
        models.ExtractResult.model_validate(r)


def test_probes_and_info(client, engine):
    assert client.get("/healthz").json() == {"status": "alive"}
    assert client.get("/readyz").json() == {"status": "ready"}
    assert client.post("/v1/infer", json={"premise": "I eat apples", "hypothesis": "I eat fruit"}).status_code == 200
    info = client.get("/v1/info")
    assert info.status_code == 200
    body = models.Info.model_validate(info.json())
    manifest = engine.kg_manifest()
    assert body.kg["hash"] == manifest["hash"] and set(body.kg["sources"]) == {"food"}
    nli = engine.nli_model_path()
    assert body.nli_model.path == str(nli)
    assert body.nli_model.manifest == json.loads((nli / "manifest.json").read_text())
    assert body.re_model.manifest["components"] and body.re_model.name == engine.relation_extractor().model_name
    assert body.dense is False and body.limits.max_items == 64
    assert body.batching["infer"].batches >= 1 and body.batching["infer"].items >= body.batching["infer"].batches


def test_answers_are_the_clis(client, demo_kg, cli):
    """The service, the CLI and (above) the Python API give the same answer for the same input."""
    pair = ("I like eating Granny Smith apples", "I do not eat fruit")
    out = cli("infer", "--kg", demo_kg, "--premise", pair[0], "--hypothesis", pair[1], "--json")
    assert out.returncode == 0, out.stderr
    assert client.post("/v1/infer", json={"premise": pair[0], "hypothesis": pair[1]}).json() == json.loads(out.stdout)

    out = cli("link", "--kg", demo_kg, "--top-k", "3", "--json", TEXTS[0])
    assert out.returncode == 0, out.stderr
    assert client.post("/v1/link", json={"text": TEXTS[0], "top_k": 3}).json() == json.loads(out.stdout)
    out = cli("link", "--kg", demo_kg, "--json", TEXTS[0])
    served = client.post("/v1/link", json={"text": TEXTS[0]}).json()
    assert all(x["candidates"] == [] for x in served["mentions"]) and served == json.loads(out.stdout)

    out = cli("extract", "--kg", demo_kg, "--json", TEXTS[1])
    assert out.returncode == 0, out.stderr
    assert client.post("/v1/extract", json={"text": TEXTS[1]}).json() == json.loads(out.stdout)


# -- errors --------------------------------------------------------------------------------------


BAD = [  # (route, request keywords, status, words the reason must contain)
    ("/v1/infer", {"content": b'{"premise": "a",', "headers": {"content-type": "application/json"}}, 400, "malformed JSON"),
    ("/v1/infer", {}, 422, "JSON body is required"),
    ("/v1/infer", {"json": "apples"}, 422, "JSON object or a list"),
    ("/v1/infer", {"content": b"premise=a", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 422,
     "JSON object or a list"),
    ("/v1/infer", {"json": {"premise": "I eat apples"}}, 422, "hypothesis: Field required"),
    ("/v1/infer", {"json": [{"premise": "a", "hypothesis": "b"}, {"premise": "a"}]}, 422,
     "item 2: hypothesis: Field required"),
    ("/v1/infer", {"json": {"premise": 3, "hypothesis": "b"}}, 422, "premise must be a string, not int"),
    ("/v1/infer", {"json": {"premise": "a", "hypothesis": "b", "symbolic_only": "yes"}}, 422, "symbolic_only"),
    ("/v1/infer", {"json": {"premise": "a", "hypothesis": "b", "hypotesis": "c"}}, 422, "hypotesis: Extra inputs"),
    ("/v1/infer", {"json": {"premise": "", "hypothesis": "b"}}, 422, "premise is empty"),
    ("/v1/infer", {"json": {"premise": "  ", "hypothesis": "b"}}, 422, "premise is empty"),
    ("/v1/infer", {"json": {"premise": "a" * 41, "hypothesis": "b"}}, 422, "premise has 41 characters; the limit is 40"),
    ("/v1/infer", {"json": {"premise": "a\x00b", "hypothesis": "b"}}, 422, "NUL"),
    ("/v1/infer", {"json": []}, 422, "the list is empty"),
    ("/v1/infer", {"json": [{"premise": "a", "hypothesis": "b"}] * 4}, 422, "4 items; the limit is 3"),
    ("/v1/infer", {"content": b"[" + b'"x",' * 10_000 + b'"x"]', "headers": {"content-type": "application/json"}},
     413, "the limit is"),
    ("/v1/link", {"json": {"txt": "apples"}}, 422, "text: Field required"),
    ("/v1/link", {"json": [{"text": "apples"}, {"text": "\t\n"}]}, 422, "item 2: text is empty"),
    ("/v1/link", {"json": {"text": "apples", "top_k": 51}}, 422, "top_k: Input should be less than or equal to 50"),
    ("/v1/link", {"json": {"text": "apples", "top_k": 1.5}}, 422, "top_k"),
    ("/v1/extract", {"json": {"text": "apples", "threshold": 2}}, 422, "threshold: Input should be less than or equal"),
    ("/v1/extract", {"json": [{"text": "b" * 41}]}, 422, "item 1: text has 41 characters"),
    ("/v1/nothing", {"json": {}}, 404, "Not Found"),
]


@pytest.fixture(scope="module")
def strict_client(engine):
    c = serving(engine, max_items=3, max_chars=40)
    yield c
    c.__exit__(None, None, None)


@pytest.mark.parametrize("route,request_kw,status,reason", BAD, ids=[f"{b[0]}-{b[3][:24]}" for b in BAD])
def test_bad_requests_get_a_one_line_reason(strict_client, route, request_kw, status, reason):
    assert reason in one_line_error(strict_client.post(route, **request_kw), status)


def test_the_body_limit_admits_every_request_within_the_item_limits(engine):
    """The largest request the item limits allow, as Python's json.dumps sends it (every character
    beyond the BMP as two \\u escapes: 12 bytes), is answered, not refused as too large."""
    c = serving(engine, max_items=3, max_chars=500)
    try:
        text = "\N{GRINNING FACE}" * 499 + "a"
        items = [{"premise": text, "hypothesis": text, "symbolic_only": True}] * 3
        body = json.dumps(items).encode()
        assert len(body) > 3 * 2 * 12 * 499
        r = c.post("/v1/infer", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 200 and len(r.json()) == 3
        # One character over, and the text limit speaks, not the body's.
        items[0] = {"premise": text + "a", "hypothesis": "b", "symbolic_only": True}
        r = c.post("/v1/infer", content=json.dumps(items).encode(), headers={"content-type": "application/json"})
        assert "item 1: premise has 501 characters" in one_line_error(r, 422)
    finally:
        c.__exit__(None, None, None)


def test_a_streamed_body_over_the_limit_is_refused_as_it_comes(engine):
    """A chunked upload declares no length: it is counted as it arrives and refused once over the
    limit, before the API key is checked (it was read whole first, 1 GiB held in memory)."""
    c = serving(engine, max_items=3, max_chars=40, api_key="k")
    try:
        def chunks(n):
            yield b'[{"text": "'
            for _ in range(n):
                yield b"a" * 1000
            yield b'"}]'

        for headers in ({}, {"Authorization": "Bearer k"}):
            r = c.post("/v1/link", content=chunks(1000), headers={"content-type": "application/json", **headers})
            assert "content-length" not in r.request.headers
            assert "the limit is" in one_line_error(r, 413)
        r = c.post("/v1/link", content=iter([b'{"text": ', b'"apples"}']),
                   headers={"content-type": "application/json", "Authorization": "Bearer k"})
        assert r.status_code == 200 and r.json()["mentions"] is not None
    finally:
        c.__exit__(None, None, None)


def test_wrong_method_and_unknown_route(client):
    assert one_line_error(client.get("/v1/infer"), 405) == "Method Not Allowed"
    assert one_line_error(client.delete("/readyz"), 405) == "Method Not Allowed"
    assert one_line_error(client.get("/v2/infer"), 404) == "Not Found"


def test_api_key(engine):
    c = serving(engine, api_key="s3cret key")
    try:
        pair = {"premise": "I eat apples", "hypothesis": "I eat fruit"}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret key"}):
            r = c.post("/v1/infer", json=pair, headers=headers)
            assert "API key" in one_line_error(r, 401) and r.headers["www-authenticate"] == "Bearer"
        assert c.get("/v1/info").status_code == 401
        ok = {"Authorization": "Bearer s3cret key"}
        assert c.post("/v1/infer", json=pair, headers=ok).status_code == 200
        assert c.post("/v1/link", json={"text": "apples"}, headers=ok).status_code == 200
        assert c.get("/v1/info", headers=ok).status_code == 200
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200
        schema = c.get("/openapi.json").json()  # the docs stay readable; their Authorize button takes the key
        assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    finally:
        c.__exit__(None, None, None)
    assert client_without_key_needs_none(engine)


def test_serve_help_names_every_route_the_api_key_leaves_open(engine):
    """``kgnlu serve --help`` said every route but the probes needs the key, while /docs and
    /openapi.json answered without it (kept open on purpose: a browser cannot send the key to load
    the docs). The help names each route that answers without the key, and each that needs it."""
    import inspect

    from starlette.routing import Mount

    from kgnlu.cli.serve import serve_cli

    help_text = " ".join(inspect.signature(serve_cli).parameters["api_key"].default.help.split())
    c = serving(engine, api_key="k")
    try:
        open_routes, guarded = set(), set()
        for route in c.app.routes:
            probe = route.path + "/swagger-ui.css" if isinstance(route, Mount) else route.path
            method = "POST" if "POST" in getattr(route, "methods", ()) else "GET"
            status = c.request(method, probe, json={}).status_code
            (guarded if status == 401 else open_routes).add(route.path)
        assert {"/docs", "/openapi.json", "/healthz"} <= open_routes and {"/v1/infer", "/v1/info"} <= guarded
        needs_key, rest = help_text.split(". ", 1)
        assert all(path in needs_key for path in guarded), (guarded, help_text)
        assert all(path in rest and path not in needs_key for path in open_routes), (open_routes, help_text)
        assert "stay open" in rest
    finally:
        c.__exit__(None, None, None)


def client_without_key_needs_none(engine) -> bool:
    c = serving(engine)
    try:
        return c.post("/v1/link", json={"text": "apples"}).status_code == 200 and \
            "securitySchemes" not in c.get("/openapi.json").json().get("components", {})
    finally:
        c.__exit__(None, None, None)


class FakeResult:
    def __init__(self, label):
        self.label = label

    def to_dict(self):
        return {"label": self.label}


class FakeEngine:
    """Stands in for Engine where a test needs it to be slow, broken or picky."""

    def __init__(self, gate: threading.Event | None = None, manifest_error: Exception | None = None):
        self.gate, self.manifest_error, self.calls = gate, manifest_error, []

    def kg_manifest(self):
        if self.manifest_error:
            raise self.manifest_error
        return {"hash": "fake", "sources": {}}

    def linker(self, progress=None):
        if self.gate is not None:
            progress("loading the lexicon")
            self.gate.wait(30)

    def curator(self, progress=None):
        return None

    def nli_predictor(self, progress=None):
        pass

    def relation_extractor(self, model=None, progress=None, untrained=False):
        pass

    def infer_many(self, pairs, symbolic_only=False):
        self.calls.append(list(pairs))
        for p, _ in pairs:
            if p == "picky":
                raise InputError("the fake engine refuses 'picky'")
            if p == "crash":
                raise RuntimeError("a bug\n  with a second line")
        return [FakeResult(p) for p, _ in pairs]

    def extract_many(self, texts, threshold=None):
        return []


def test_readyz_is_503_until_the_engine_is_loaded():
    gate = threading.Event()
    with TestClient(create_app(ServeSettings(torch_threads=1), engine=FakeEngine(gate))) as c:
        assert c.get("/healthz").status_code == 200
        assert "loading" in one_line_error(c.get("/readyz"), 503)
        r = c.post("/v1/infer", json={"premise": "a", "hypothesis": "b"})
        assert "loading" in one_line_error(r, 503) and r.headers["retry-after"]
        gate.set()
        wait_ready(c, 10)
        assert c.post("/v1/infer", json={"premise": "a", "hypothesis": "b"}).json() == {"label": "a"}


def test_a_failed_load_is_reported_by_readyz():
    broken = FakeEngine(manifest_error=StoreError("no KG at /nowhere: run `kgnlu kg init`"))
    with TestClient(create_app(ServeSettings(torch_threads=1), engine=broken)) as c:
        deadline = time.monotonic() + 10
        while "failed" not in c.get("/readyz").text:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert one_line_error(c.get("/readyz"), 503) == "engine failed to load: no KG at /nowhere: run `kgnlu kg init`"
        assert c.get("/healthz").status_code == 200


def test_engine_errors_fail_only_their_own_item_and_never_leak_a_traceback():
    fake = FakeEngine()
    with TestClient(create_app(ServeSettings(torch_threads=1, batch_wait_ms=200), engine=fake),
                    raise_server_exceptions=False) as c:
        wait_ready(c, 10)
        bodies = [{"premise": "fine", "hypothesis": "x"}, {"premise": "picky", "hypothesis": "x"},
                  [{"premise": "fine", "hypothesis": "x"}, {"premise": "picky", "hypothesis": "x"}],
                  {"premise": "crash", "hypothesis": "x"}]
        sequential = [c.post("/v1/infer", json=b) for b in bodies]
        answers = {}

        def post(i):
            answers[i] = c.post("/v1/infer", json=bodies[i])

        threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for got in (sequential, [answers[i] for i in range(len(bodies))]):
            assert got[0].json() == {"label": "fine"}
            assert one_line_error(got[1], 422) == "the fake engine refuses 'picky'"
            assert one_line_error(got[2], 422) == "item 2: the fake engine refuses 'picky'"
            assert one_line_error(got[3], 500) == "internal error (RuntimeError); the server log has the details"
        # the concurrent ones shared batches, which failed whole and were answered item by item
        assert any(len(call) > 2 for call in fake.calls)


# -- batching ------------------------------------------------------------------------------------


def test_micro_batcher_gathers_concurrent_callers_and_answers_each_in_order():
    batches = []

    def run(items):
        batches.append(list(items))
        return [x * 10 for x in items]

    async def main():
        engine = EngineThread()
        b = MicroBatcher(run, engine, max_batch=4, max_wait=0.05)
        b.start()
        got = await asyncio.gather(b.submit([1, 2]), b.submit([3]), b.submit([4, 5, 6]))
        await b.stop()
        engine.shutdown()
        return got, b.batches, b.items

    got, count, items = asyncio.run(main())
    assert got == [[10, 20], [30], [40, 50, 60]]
    assert (count, items) == (2, 6) and [len(b) for b in batches] == [4, 2]  # at most four a batch
    assert sorted(x for b in batches for x in b) == [1, 2, 3, 4, 5, 6]


def test_micro_batcher_runs_what_queued_as_soon_as_the_engine_is_free_and_splits_an_idle_batch():
    """A full batch that found the engine idle runs in two halves back to back; what queues while
    the engine is busy goes with the second half, without waiting ``max_wait`` (10 s here)."""
    batches, gate = [], threading.Event()

    def run(items):
        batches.append(list(items))
        gate.wait(10)
        return [x * 10 for x in items]

    async def main():
        engine = EngineThread()
        b = MicroBatcher(run, engine, max_batch=8, max_wait=10)
        b.start()
        first = asyncio.ensure_future(b.submit(list(range(1, 9))))
        while not batches:
            await asyncio.sleep(0.01)
        late = asyncio.ensure_future(b.submit([9]))
        await asyncio.sleep(0.05)
        gate.set()
        got = await asyncio.wait_for(asyncio.gather(first, late), 5)
        await b.stop()
        engine.shutdown()
        return got

    assert asyncio.run(main()) == [[10, 20, 30, 40, 50, 60, 70, 80], [90]]
    assert batches == [[1, 2, 3, 4], [5, 6, 7, 8, 9]]


def test_answer_batch_makes_one_call_per_option_and_fails_only_the_bad_item():
    fake = FakeEngine()
    items = [(False, ("a", "x")), (True, ("b", "x")), (False, ("picky", "x")), (False, ("c", "x"))]
    answers = answer_batch(fake, "infer", items)
    assert answers[0] == {"label": "a"} and answers[1] == {"label": "b"} and answers[3] == {"label": "c"}
    assert answers[2] == Failure("input", "the fake engine refuses 'picky'")
    # one call per option group; the group that failed again item by item
    assert fake.calls == [[("a", "x"), ("picky", "x"), ("c", "x")], [("a", "x")], [("picky", "x")], [("c", "x")],
                          [("b", "x")]]
    assert answer_batch(fake, "infer", [(False, ("crash", "x"))]) == [Failure("internal", "RuntimeError")]


def test_concurrent_requests_answer_as_sequential_ones_and_as_the_engine(engine):
    c = serving(engine, batch_wait_ms=50, batch_size=16)
    try:
        bodies = [{"premise": p, "hypothesis": h} for p, h in PAIRS[:16]]
        sequential = [c.post("/v1/infer", json=b).json() for b in bodies]
        batches_before = c.app.state.host.batchers["infer"].batches
        lock, answers = threading.Lock(), {}
        counter = iter(range(16))

        def post():
            with lock:
                i = next(counter)
            answers[i] = c.post("/v1/infer", json=bodies[i])
            return i

        in_threads(post, 16)
        concurrent = [answers[i].json() for i in range(16)]
        assert all(answers[i].status_code == 200 for i in range(16))
        assert c.app.state.host.batchers["infer"].batches - batches_before < 16  # some were answered together
        direct = [r.to_dict() for r in engine.infer_many(PAIRS[:16])]
        assert close(concurrent, sequential) and close(concurrent, direct)
        assert [r["label"] for r in concurrent] == [r["label"] for r in direct]
    finally:
        c.__exit__(None, None, None)


# -- fuzzing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("method,path", [("POST", "/v1/infer"), ("POST", "/v1/link"), ("POST", "/v1/extract"),
                                         ("GET", "/v1/info")])
def test_fuzzing_the_openapi_schema_finds_no_server_error(engine, method, path):
    """Schemathesis generates requests from /openapi.json, valid and invalid: none may get a 5xx,
    every 2xx must match its response model, every 4xx must be one line."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode

    app = create_app(ServeSettings(torch_threads=1, max_chars=2_000), engine=engine)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)  # starts the app's lifespan
    deadline = time.monotonic() + 60
    while not app.state.host.ready:
        assert time.monotonic() < deadline and app.state.host.error is None, app.state.host.error
        time.sleep(0.05)
    response_model = {"/v1/infer": models.InferResult, "/v1/link": models.LinkResult,
                      "/v1/extract": models.ExtractResult, "/v1/info": models.Info}[path]
    operation = schema[path][method]
    modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if method == "POST" else [])
    statuses = {mode: [] for mode in modes}
    for mode in modes:
        @settings(max_examples=25, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(mode))
        def check(case):
            response = case.call()
            statuses[mode].append(response.status_code)
            assert response.status_code < 500, (case.body, response.text)
            body = response.json()
            if response.status_code == 200:
                for item in body if isinstance(body, list) else [body]:
                    response_model.model_validate(item)
            else:
                assert list(body) == ["detail"] and "\n" not in body["detail"], body

        check()
    assert 200 in statuses[GenerationMode.POSITIVE]  # the valid requests did reach the engine


# -- the command ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_kgnlu_serve_in_a_child_process(demo_kg, engine):
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kgnlu.cli.main", "serve", "--kg", str(demo_kg), "--port",
                             str(port), "--threads", "1", "--log-level", "warning"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ})
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        with httpx.Client(base_url=base, timeout=30) as http:
            while True:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "not ready in 120 s"
                try:
                    if http.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            pair = ("I like eating apples", "I like eating fruit")
            r = http.post("/v1/infer", json={"premise": pair[0], "hypothesis": pair[1]})
            assert r.status_code == 200 and r.json() == engine.infer_many([pair])[0].to_dict()
            # the engine runs in a process of its own: its refusals and its info still come back
            r = http.post("/v1/link", json=[{"text": "apples"}, {"text": "apples\x00"}])
            assert r.status_code == 422 and r.json()["detail"].startswith("item 2: text contains NUL bytes")
            assert http.get("/v1/info").json()["kg"]["hash"] == engine.kg_manifest()["hash"]
            docs = http.get("/docs").text
            assert "/docs-assets/swagger-ui-bundle.js" in docs and "https://" not in docs
            assert http.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_kgnlu_serve_refuses_a_missing_kg_in_one_line(cli, tmp_path):
    out = cli("serve", "--kg", tmp_path / "none", "--port", str(free_port()))
    assert out.returncode != 0 and len(out.stderr_lines) == 1 and "no KG at" in out.stderr_lines[0]
    out = cli("serve", "--kg", tmp_path / "none", env={"KGNLU_API_KEY": " "})
    assert out.returncode == 2 and out.stderr_lines == ["error: the API key is empty: give a key or leave --api-key "
                                                        "(and $KGNLU_API_KEY) unset"]

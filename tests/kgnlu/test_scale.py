"""``kgnlu[scale]``: batch infer/link/extract through the Ray Data pipeline (``kgnlu.scale``) and the
HTTP service on Ray Serve (``kgnlu.scale_serve``), on a local two-CPU Ray cluster, give the answers
the in-process batch and service give, in input order, also when a worker is killed mid-run."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

ray = pytest.importorskip("ray", reason="Ray is the kgnlu[scale] extra: pip install 'kgnlu[scale]'")
psutil = pytest.importorskip("psutil")

from kgnlu.scale import ray_map  # noqa: E402

FOODS = ["apples", "bananas", "Granny Smith apples", "cheese", "meat", "fruit", "vegetables"]
PAIRS = [(f"I like eating {a}", f"I {neg}eat {b}") for a in FOODS for b in FOODS for neg in ("", "do not ")][:60]
TEXTS = [f"I do not eat {a} or {b}. Maybe {b} are not {a}." for a in FOODS for b in FOODS][:40]
CHUNK = 8  # small chunks: many of them, spread over both workers, so that order is put to the test


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, object_store_memory=300 * 1024 ** 2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def engine(demo_kg):
    from kgnlu.api import Engine

    engine = Engine.load(kg=demo_kg)
    yield engine
    engine.close()


def in_chunks(run, items):
    """The in-process batch: ``run`` over the same chunks the pipeline sends one worker call."""
    return [r for i in range(0, len(items), CHUNK) for r in run(items[i:i + CHUNK])]


def dicts(results):
    return [r.to_dict() if hasattr(r, "to_dict") else [m.to_dict() for m in r] for r in results]


def same(a, b) -> bool:
    """Equal answers; probabilities may differ in their last printed digit (1e-6), as a worker
    runs torch on another number of threads than this process."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 2e-6
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def test_batch_infer_on_ray_answers_as_in_process_and_in_input_order(cluster, demo_kg, engine):
    progress: list[str] = []
    got = ray_map("infer", PAIRS, {"kg": demo_kg}, progress=progress.append, workers=2, chunk=CHUNK)
    assert same(dicts(got), dicts(in_chunks(engine.infer_many, PAIRS)))
    assert len({r.label for r in got}) == 3  # the pairs ask all three questions
    assert progress[0].startswith("inferring on Ray: 8 chunks") and progress[-1] == f"inferring {len(PAIRS)}/{len(PAIRS)}"



@pytest.mark.slow
def test_symbolic_infer_link_and_extract_on_ray_answer_as_in_process(cluster, demo_kg, engine):
    got = ray_map("infer", PAIRS, {"kg": demo_kg, "symbolic_only": True}, workers=2, chunk=CHUNK)
    assert dicts(got) == dicts(in_chunks(lambda b: engine.infer_many(b, symbolic_only=True), PAIRS))

    got = ray_map("link", TEXTS, {"kg": demo_kg, "top_k": 2}, workers=2, chunk=CHUNK)
    assert dicts(got) == dicts(in_chunks(lambda b: engine.link_many(b, top_k=2), TEXTS))
    assert [m.text for m in got[0]][:1] == [FOODS[0]] and got[0][0].negated

    got = ray_map("extract", TEXTS, {"kg": demo_kg}, workers=2, chunk=CHUNK)
    assert dicts(got) == dicts(in_chunks(engine.extract_many, TEXTS))
    assert [r.text for r in got] == TEXTS


def test_a_worker_killed_mid_run_is_replaced_and_the_output_is_whole_and_ordered(cluster, demo_kg, engine):
    lines: list[str] = []
    killed: list[int] = []

    def kill_a_worker(line: str) -> None:
        lines.append(line)
        # the first chunk is back, the others are still to come: kill a pipeline actor's process
        if killed or "/" not in line:
            return
        for p in psutil.process_iter(["pid", "cmdline"]):
            if "MapWorker(" in " ".join(p.info["cmdline"] or []):
                p.kill()
                killed.append(p.info["pid"])
                return

    pairs = PAIRS * 2
    got = ray_map("infer", pairs, {"kg": demo_kg}, progress=kill_a_worker, workers=2, chunk=CHUNK)
    assert killed, "no pipeline worker was found to kill"
    assert lines[1] == f"inferring {CHUNK}/{len(pairs)}" and len(lines) == 1 + len(pairs) // CHUNK  # mid-run
    assert same(dicts(got), dicts(in_chunks(engine.infer_many, pairs)))


@pytest.mark.slow
def test_a_journal_resumes_a_run_with_only_the_chunks_it_lacks(cluster, demo_kg, engine, tmp_path):
    journal = tmp_path / "out.jsonl.ray-journal"
    first = ray_map("link", TEXTS[:16], {"kg": demo_kg}, workers=1, chunk=CHUNK, journal=journal)  # "stopped" here
    progress: list[str] = []
    got = ray_map("link", TEXTS, {"kg": demo_kg}, progress=progress.append, workers=2, chunk=CHUNK, journal=journal)
    assert progress[0] == f"resuming from {journal}: 2 of 5 chunks done"
    assert progress[1].startswith("linking on Ray: 3 chunks")
    assert dicts(got[:16]) == dicts(first)
    assert dicts(got) == dicts(in_chunks(engine.link_many, TEXTS))

    # other options are another question: nothing of the journal answers it
    progress.clear()
    ray_map("link", TEXTS[:8], {"kg": demo_kg, "top_k": 1}, progress=progress.append, workers=1, chunk=CHUNK,
            journal=journal)
    assert progress[0].startswith("linking on Ray: 1 chunks")


@pytest.mark.slow
def test_kgnlu_infer_and_link_with_ray_print_what_the_batch_prints(cluster, demo_kg, cli, tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"premise": p, "hypothesis": h}) + "\n" for p, h in PAIRS))
    local, on_ray = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    out = cli("infer", "--kg", demo_kg, "--input", pairs, "--output", local, "-q")
    assert out.returncode == 0, out.stderr
    out = cli("infer", "--kg", demo_kg, "--input", pairs, "--output", on_ray, "--ray", cluster)
    assert out.returncode == 0, out.stderr
    assert on_ray.read_bytes() == local.read_bytes()
    assert f"inferring {len(PAIRS)}/{len(PAIRS)}" in out.stderr
    assert not (tmp_path / "ray.jsonl.ray-journal").exists()  # done: the journal goes

    texts = tmp_path / "texts.txt"
    texts.write_text("".join(t + "\n" for t in TEXTS))
    local = cli("link", "--kg", demo_kg, "--input", texts, "--json", "-q")
    on_ray = cli("link", "--kg", demo_kg, "--input", texts, "--json", "-q", "--ray", cluster)
    assert on_ray.returncode == 0, on_ray.stderr
    assert on_ray.stdout == local.stdout and len(on_ray.stdout.splitlines()) == len(TEXTS)


def test_ray_without_a_batch_or_without_ray_is_a_one_line_error(demo_kg, cli, tmp_path):
    out = cli("link", "--kg", demo_kg, "apples", "--ray")
    assert out.returncode == 2 and out.stderr.strip() == "error: --ray runs a batch: give --input FILE"

    no_ray = tmp_path / "no_ray"
    (no_ray / "ray").mkdir(parents=True)
    (no_ray / "ray" / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    texts = tmp_path / "texts.txt"
    texts.write_text("apples\n")
    for args in (("extract", "--input", texts, "--ray"), ("serve", "--ray", "--replicas", "2")):
        out = cli(*args, "--kg", demo_kg, env={"PYTHONPATH": str(no_ray)})
        assert out.returncode == 2, out.stderr
        assert out.stderr.strip() == "error: --ray needs Ray, which is not installed: pip install 'kgnlu[scale]'"


# -- the service on Ray Serve --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


REQUESTS = [  # (route, body): good ones, then bad ones
    ("/v1/infer", {"premise": PAIRS[0][0], "hypothesis": PAIRS[0][1]}),
    ("/v1/infer", [{"premise": p, "hypothesis": h} for p, h in PAIRS[:6]]),
    ("/v1/infer", {"premise": "I eat apples", "hypothesis": "I do not eat fruit", "symbolic_only": True}),
    ("/v1/link", [{"text": t, "top_k": 2} for t in TEXTS[:4]]),
    ("/v1/extract", {"text": TEXTS[1]}),
    ("/v1/infer", {"premise": "I eat apples"}),
    ("/v1/infer", [{"premise": "a", "hypothesis": "b"}] * 65),
    ("/v1/link", {"text": "  "}),
    ("/v1/extract", {"text": "apples", "threshold": 2}),
    ("/v1/nothing", {}),
]


@pytest.fixture(scope="module")
def on_serve(cluster, demo_kg):
    import httpx

    from kgnlu import scale_serve
    from kgnlu.service import ServeSettings

    port = free_port()
    scale_serve.start(ServeSettings(kg=str(demo_kg), torch_threads=1, workers=2), port=port, replicas=2,
                      cpus_per_replica=0.5)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
    yield client
    client.close()
    scale_serve.stop()


@pytest.fixture(scope="module")
def in_process(engine):
    from fastapi.testclient import TestClient

    from kgnlu.service import ServeSettings, create_app

    with TestClient(create_app(ServeSettings(torch_threads=1), engine=engine), raise_server_exceptions=False) as c:
        while c.get("/readyz").status_code != 200:
            time.sleep(0.05)
        yield c


def test_the_service_on_ray_serve_answers_as_the_in_process_one(on_serve, in_process):
    for route, body in REQUESTS:
        served, local = on_serve.post(route, json=body), in_process.post(route, json=body)
        assert (served.status_code, served.json()) == (local.status_code, local.json()), (route, body)
    assert [on_serve.post(route, json=body).status_code for route, body in REQUESTS] == [200] * 5 + [422] * 4 + [404]
    bad = on_serve.post("/v1/infer", content=b'{"premise": "a",', headers={"content-type": "application/json"})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("malformed JSON")
    assert on_serve.get("/healthz").json() == {"status": "alive"} and on_serve.get("/readyz").json() == {"status": "ready"}
    info = on_serve.get("/v1/info").json()
    assert info["kg"] == in_process.get("/v1/info").json()["kg"] and info["limits"]["batch_size"] == 32


def test_serve_batches_concurrent_requests_and_answers_each_its_own(on_serve, in_process):
    pairs = PAIRS[:24]
    answers: dict[int, dict] = {}

    def ask(n: int) -> None:
        answers[n] = on_serve.post("/v1/infer", json={"premise": pairs[n][0], "hypothesis": pairs[n][1]}).json()

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(len(pairs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    one_by_one = [in_process.post("/v1/infer", json={"premise": p, "hypothesis": h}).json() for p, h in pairs]
    assert [answers[n]["label"] for n in range(len(pairs))] == [a["label"] for a in one_by_one]
    for n, a in enumerate(one_by_one):  # batched with others, a pair's floats move in the 6th decimal at most
        got = answers[n]
        assert all(abs(got["probabilities"][k] - v) < 1e-5 for k, v in a["probabilities"].items())
        assert got["entities"] == a["entities"] and got["symbolic"] == a["symbolic"]


@pytest.mark.slow
def test_a_workers_error_reaches_the_driver_as_itself(cluster, demo_kg):
    from kgnlu.types import InputError

    with pytest.raises(InputError, match="unknown branch 'nope:x'"):
        ray_map("link", TEXTS[:4], {"kg": demo_kg, "branches": ["nope:x"]}, workers=1)

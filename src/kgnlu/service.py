"""``kgnlu serve``: the HTTP service in front of ``kgnlu.api.Engine`` (FastAPI on uvicorn).

Routes: ``POST /v1/infer``, ``/v1/link``, ``/v1/extract`` (one item, or a JSON list of items: the
answer is then a list in the same order), ``GET /v1/info``, and the probes ``GET /healthz`` and
``GET /readyz``. Answers are the result contract (``kgnlu.service_models``), the same as
``kgnlu infer/link/extract --json`` give for the same input.

Each worker process starts one Engine at startup, in the background, in an engine process of its
own (so that the model's Python work and the event loop do not take turns on one GIL), and
``/readyz`` answers 503 until it is loaded and warmed. Items from concurrent requests are gathered
by a ``MicroBatcher`` (``kgnlu.service_engine``) into one ``infer_many``/``link_many``/
``extract_many`` call, so the event loop never waits on the model; the engine side turns the
answers into JSON, which goes out as it is. Every error is a 4xx with ``{"detail": "one line"}``;
what escapes anyway is logged and answered with a one-line 500, never a traceback.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import functools
import hmac
import json
import logging
import os
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from fastapi import Body, Depends, FastAPI, HTTPException, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from kgnlu import service_models as m
from kgnlu.service_engine import EngineProcess, EngineThread, Failure, MicroBatcher
from kgnlu.types import InputError, KgnluError

log = logging.getLogger("kgnlu.service")

SETTINGS_ENV = "KGNLU_SERVE_SETTINGS"  # how ``serve`` hands its settings to uvicorn's worker processes
DOCS_ASSETS = "/docs-assets"


@dataclass(frozen=True)
class ServeSettings:
    """What one worker process needs; plain JSON values, so that it can travel in the environment."""

    kg: str | None = None
    model: str | None = None
    device: str = "auto"
    dense: bool | None = None  # None: link as the NLI model was trained, as Engine and the CLI do
    curation: str | None = "auto"  # the curation model /v1/link applies: Engine's curation (kgnlu link --curation)
    encoder: str | None = None  # the dense linker's encoder folder: Engine's encoder (kgnlu link/infer --encoder)
    api_key: str | None = None
    max_items: int = 64
    max_chars: int = 10_000
    batch_size: int = 32
    batch_wait_ms: float = 10.0
    torch_threads: int | None = None  # None: the cores per worker, less one for the HTTP side
    workers: int = 1
    docs: bool = True
    engine_process: bool = True  # False: the engine on a thread of the server's process

    def to_env(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_env(cls) -> ServeSettings:
        return cls(**json.loads(os.environ.get(SETTINGS_ENV, "{}")))


# The engine of an engine process (``ServeSettings.engine_process``); None in the server's own process.
_PROCESS_ENGINE = None


def load_engine(settings: ServeSettings, engine=None, progress: Callable[[str], None] = lambda _: None):
    """The Engine of ``settings`` (or ``engine``), loaded and warmed: KG tables, linker, NLI
    predictor, relation extractor. Runs where the engine lives: a thread or the engine process."""
    import torch

    from kgnlu.api import Engine

    # by default each worker's engine leaves a core to the HTTP side (its event loop, the clients)
    cores = len(os.sched_getaffinity(0)) // max(1, settings.workers)
    torch.set_num_threads(settings.torch_threads or max(1, cores - 1))
    if engine is None:
        engine = Engine.load(kg=settings.kg, model=settings.model, device=settings.device, dense=settings.dense,
                             curation=settings.curation, encoder=settings.encoder)
    engine.kg_manifest()  # no KG: a clear error here, rather than building the default one
    engine.linker(progress)
    engine.curator(progress)
    engine.nli_predictor(progress)
    engine.relation_extractor(progress=progress)
    progress("warming up")
    engine.infer_many([("warm up", "warm up")])
    engine.extract_many(["warm up"])
    return engine


def _load_process_engine(settings: ServeSettings) -> None:
    global _PROCESS_ENGINE
    _PROCESS_ENGINE = load_engine(settings)


def _infer(engine, symbolic_only: bool, pairs: list[tuple[str, str]]) -> list[dict]:
    return [r.to_dict() for r in engine.infer_many(pairs, symbolic_only=symbolic_only)]


def _link(engine, options: tuple, texts: list[str]) -> list[dict]:
    top_k, branches, nested = options
    results = engine.link_many(texts, top_k=top_k, branches=branches and list(branches), nested=nested)
    return [{"text": t, "mentions": [x.to_dict() for x in ms]} for t, ms in zip(texts, results)]


def _extract(engine, threshold: float | None, texts: list[str]) -> list[dict]:
    return [r.to_dict() for r in engine.extract_many(texts, threshold)]


OPERATIONS = {"infer": _infer, "link": _link, "extract": _extract}


def answer_batch(engine, op: str, items: list[tuple[Any, Any]]) -> list:
    """The answers to ``(key, payload)`` items: one engine call per key (the items' options). When a
    call fails, its items are run one by one, so that a bad item fails only its own caller.
    ``engine`` None: this engine process's."""
    engine = engine if engine is not None else _PROCESS_ENGINE
    run = OPERATIONS[op]

    def failure(e: Exception) -> Failure:
        if isinstance(e, InputError):
            return Failure("input", str(e))
        if isinstance(e, KgnluError):
            return Failure("kgnlu", str(e))
        log.error("kgnlu serve: %s failed", op, exc_info=e)
        return Failure("internal", type(e).__name__)

    answers: list = [None] * len(items)
    groups: dict[Any, list[int]] = {}
    for i, (key, _) in enumerate(items):
        groups.setdefault(key, []).append(i)
    for key, idx in groups.items():
        try:
            for i, answer in zip(idx, run(engine, key, [items[i][1] for i in idx]), strict=True):
                answers[i] = answer
        except Exception as e:  # noqa: BLE001 - isolated below, per item
            if len(idx) == 1:
                answers[idx[0]] = failure(e)
                continue
            for i in idx:
                try:
                    answers[i] = run(engine, key, [items[i][1]])[0]
                except Exception as e1:  # noqa: BLE001 - handed to that item's caller
                    answers[i] = failure(e1)
    return answers


def _json(answer: dict) -> bytes:
    try:
        return orjson.dumps(answer)
    except TypeError:  # what orjson does not take (a key that is not a string, say): the standard library
        return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()


def answer_json(engine, op: str, items: list[tuple[Any, Any]]) -> list:
    """``answer_batch`` with each answer as JSON bytes, made where the engine lives: they cross to
    the server as bytes, which is cheaper than pickling the dicts, and go out as they are."""
    return [a if isinstance(a, Failure) else _json(a) for a in answer_batch(engine, op, items)]


def engine_info(engine, settings: ServeSettings) -> dict:
    """What answers (``/v1/info``), read where the engine lives."""
    from kgnlu import __version__

    engine = engine if engine is not None else _PROCESS_ENGINE
    from kgnlu.tasks.relations import default_model_dir

    nli_path = engine.nli_model_path()
    re_path = default_model_dir()
    return {"kgnlu": __version__, "kg": engine.kg_manifest(),
            "nli_model": {"path": str(nli_path) if nli_path else None, "manifest": _manifest(nli_path)},
            "re_model": {"name": engine.relation_extractor().model_name,
                         "path": str(re_path) if _manifest(re_path) else None, "manifest": _manifest(re_path)},
            "dense": engine.dense,
            "limits": {k: getattr(settings, k) for k in ("max_items", "max_chars", "batch_size", "batch_wait_ms")}}


class EngineHost:
    """One worker's Engine, loaded in the background at startup, and the batchers in front of it.

    The engine lives in a process of its own (``settings.engine_process``), so that its Python work
    and the event loop's do not take turns on one GIL, or, when an ``engine`` is handed in, on a
    thread of this process.
    """

    def __init__(self, settings: ServeSettings, engine=None):
        self.settings = settings
        self.engine = engine
        self.in_process = engine is None and settings.engine_process
        self.stage = "starting"
        self._error: str | None = None
        self._loaded = False
        self.runner = EngineProcess() if self.in_process else EngineThread()
        wait, size = settings.batch_wait_ms / 1000, settings.batch_size
        self.batchers = {op: MicroBatcher(self._runner(op), self.runner, size, wait) for op in OPERATIONS}

    @property
    def ready(self) -> bool:
        """Loaded, and its engine process (if any) still there."""
        return self._loaded and not getattr(self.runner, "ended", False)

    @property
    def error(self) -> str | None:
        if self._error is None and getattr(self.runner, "ended", False):
            return "the engine process ended (the server log has why); restart the server"
        return self._error

    def _runner(self, op: str) -> Callable[[list], list]:
        if self.in_process:
            return functools.partial(answer_json, None, op)  # pickled to the engine process
        return lambda items: answer_json(self.engine, op, items)

    def _progress(self, stage: str) -> None:
        self.stage = stage

    async def start(self) -> None:
        for b in self.batchers.values():
            b.start()
        try:
            if self.in_process:
                self.stage = "loading the engine"
                await self.runner.call(_load_process_engine, self.settings)
            else:
                self.engine = await self.runner.call(load_engine, self.settings, self.engine, self._progress)
        except Exception as e:  # noqa: BLE001 - /readyz reports it; the process stays up for the probes
            self._error = "engine failed to load: " + (" ".join(str(e).split())[:300] or type(e).__name__)
            log.error("kgnlu serve: the engine failed to load", exc_info=e)
            return
        self._loaded = True
        log.info("kgnlu serve: ready")

    async def stop(self) -> None:
        for b in self.batchers.values():
            await b.stop()
        self.runner.shutdown()

    async def info(self) -> dict:
        out = await self.runner.call(engine_info, None if self.in_process else self.engine, self.settings)
        out["batching"] = {op: {"batches": b.batches, "items": b.items} for op, b in self.batchers.items()}
        return out


def _manifest(path: Path | None) -> dict | None:
    if path is None or not (path / "manifest.json").is_file():
        return None
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))


def _problem(status: int, detail: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"detail": " ".join(str(detail).split())}, status_code=status, headers=headers)


_ERRORS = {status: {"model": m.Problem, "description": what} for status, what in (
    (400, "Malformed JSON"), (401, "Missing or wrong API key"), (413, "Request body too large"),
    (422, "Invalid input: a missing field, a wrong type, empty or oversized text, too many items"),
    (503, "The engine is still loading"))}


# Request fields that hold text: a value there that is not a string is refused in the words of
# ``Engine.check_text``, as the API refuses it ("text must be a string, not int"; a lone surrogate).
_TEXT_FIELDS = ("text", "premise", "hypothesis")


def _text_problem(e: dict) -> str | None:
    if not e["loc"] or e["loc"][-1] not in _TEXT_FIELDS or e.get("type") not in ("string_type", "string_unicode"):
        return None
    from kgnlu.api import Engine

    try:
        Engine.check_text(e.get("input"), e["loc"][-1])
    except InputError as why:
        return str(why)
    return None


def _one_line(errors: Sequence[dict], body: Any) -> tuple[int, str]:
    """A pydantic error list as one line. The body is one item or a list of items, so pydantic
    reports each failure once per branch of that union; only the branch the body took is kept."""
    if not errors:
        return 422, "invalid request"
    if any(e.get("type") == "json_invalid" for e in errors):
        why = next(e for e in errors if e.get("type") == "json_invalid").get("ctx", {}).get("error", "")
        return 400, f"malformed JSON{': ' + why if why else ''}"
    if body is not None and not isinstance(body, dict | list):
        return 422, "the body must be a JSON object or a list of objects (Content-Type: application/json)"
    as_list = isinstance(body, list)
    kept = [e for e in errors if len(e["loc"]) < 2 or str(e["loc"][1]).startswith("list[") == as_list] or list(errors)
    e = kept[0]
    loc = [p for p in e["loc"][1:] if not (isinstance(p, str) and (p.startswith("list[") or p[:1].isupper()))]
    if e["loc"][:1] == ("body",) and e.get("type") == "missing" and not loc:
        return 422, "a JSON body is required: one item or a list of items"
    where = ("item " + str(loc[0] + 1) + ": " + ".".join(map(str, loc[1:]))) if loc and isinstance(loc[0], int) \
        else ".".join(map(str, loc))
    where = where.rstrip(": ")
    more = f" (and {len(kept) - 1} more)" if len(kept) > 1 else ""
    text = _text_problem(e)
    if text is not None:  # "item 2: text must be a string, not int", as the API says it
        item = where.split(": ")[0] + ": " if where.startswith("item ") else ""
        return 422, f"{item}{text}{more}"
    return 422, f"{where + ': ' if where else ''}{e['msg']}{more}"


class _BodyLimit:
    """413 for a body over ``max_body`` bytes: a declared one before it is read, a streamed one
    (``Transfer-Encoding: chunked``, no length) as soon as it passes the limit, so that neither is
    held in memory. Plain ASGI: Starlette's ``BaseHTTPMiddleware`` runs every request through a
    task group and a streamed response."""

    def __init__(self, app, max_body: int):
        self.app, self.max_body = app, max_body

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if size is not None and size.isdigit() and int(size) > self.max_body:
            await _problem(413, f"request body of {size.decode()} bytes; the limit is {self.max_body}")(
                scope, receive, send)
            return
        read = 0

        async def counted() -> dict:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > self.max_body:  # FastAPI reads the body before the API key is checked
                raise HTTPException(413, f"request body of more than {self.max_body} bytes; "
                                         f"the limit is {self.max_body}")
            return message

        await self.app(scope, counted, send)


def create_app(settings: ServeSettings | None = None, engine=None, host=None) -> FastAPI:
    """The app for one worker. ``engine``: an Engine to serve instead of loading one (tests).
    ``host``: what answers instead of an ``EngineHost`` (one with its face: ``kgnlu.scale_serve``)."""
    from kgnlu import __version__

    settings = settings or ServeSettings()
    host = host or EngineHost(settings, engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loading = asyncio.create_task(host.start())
        try:
            yield
        finally:
            loading.cancel()
            await asyncio.gather(loading, return_exceptions=True)
            await host.stop()

    app = FastAPI(title="kgnlu", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json" if settings.docs else None,
                  description="Knowledge-graph-augmented NLI, entity linking and relation extraction, with proofs.")
    app.state.host = host

    bearer = HTTPBearer(auto_error=False, description="The key given to `kgnlu serve --api-key` (or $KGNLU_API_KEY).")

    async def authorized(credentials: HTTPAuthorizationCredentials | None = Security(bearer)) -> None:
        key = settings.api_key
        if credentials is None or not hmac.compare_digest(credentials.credentials.encode(), key.encode()):
            raise HTTPException(401, "missing or wrong API key: send 'Authorization: Bearer <key>'",
                                headers={"WWW-Authenticate": "Bearer"})

    guarded = [Depends(authorized)] if settings.api_key else []
    # The largest body a request within the item limits can take: two texts per item (a pair), and
    # 12 bytes per character (a character beyond the BMP as two JSON \u escapes, as Python's
    # json.dumps sends it by default).
    max_body = settings.max_items * (2 * 12 * settings.max_chars + 256) + 4096

    app.add_middleware(_BodyLimit, max_body=max_body)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        status, detail = _one_line(exc.errors(), getattr(exc, "body", None))
        return _problem(status, detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI says only "There was an error parsing the body"; the API and the CLI say why
            return _problem(400, f"malformed JSON: the body is not UTF-8 (byte {exc.__cause__.start})")
        return _problem(exc.status_code, exc.detail, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):
        log.error("kgnlu serve: %s %s failed", request.method, request.url.path, exc_info=exc)
        return _problem(500, f"internal error ({type(exc).__name__}); the server log has the details")

    def not_ready() -> JSONResponse:
        why = host.error or f"the engine is loading ({host.stage})"
        return _problem(503, why, {"Retry-After": "5"})

    async def answer(op: str, items: list[tuple[Any, Any]], many: bool):
        if not host.ready:
            return not_ready()
        if many and not items:
            return _problem(422, "the list is empty: give at least one item")
        if len(items) > settings.max_items:
            return _problem(422, f"{len(items)} items; the limit is {settings.max_items} per request")
        answers = await host.batchers[op].submit(items)
        for n, a in enumerate(answers):
            if isinstance(a, Failure):
                where = f"item {n + 1}: " if many else ""
                if a.kind == "internal":
                    return _problem(500, f"{where}internal error ({a.message}); the server log has the details")
                return _problem(422 if a.kind == "input" else 503, where + a.message)
        # the answers are JSON already (``answer_json``): no encoder, no response model on the way out
        return Response(b"[" + b",".join(answers) + b"]" if many else answers[0], media_type="application/json")

    def within_limit(**texts: str) -> None:
        """This server's ``--max-chars`` (at most the API's own limit, which ``check_text`` applies)."""
        for name, text in texts.items():
            if len(text) > settings.max_chars:
                raise InputError(f"{name} has {len(text)} characters; the limit is {settings.max_chars} "
                                 "(split it into sentences)")

    def prepared(items, make) -> tuple[list | None, JSONResponse | None]:
        many = isinstance(items, list)
        out = []
        for n, x in enumerate(items if many else [items]):
            try:
                out.append(make(x))
            except InputError as e:
                return None, _problem(422, f"item {n + 1}: {e}" if many else str(e))
        return out, None

    # The checks of the API and the CLI (``Engine.check_pair``, ``Engine.check_text``), in their words.
    def infer_item(x: m.InferItem):
        from kgnlu.api import Engine

        within_limit(premise=x.premise, hypothesis=x.hypothesis)
        return x.symbolic_only, Engine.check_pair(x.premise, x.hypothesis)

    def text_item(x: m.LinkItem | m.ExtractItem) -> str:
        from kgnlu.api import Engine

        within_limit(text=x.text)
        return Engine.check_text(x.text, empty_ok=False)

    def link_item(x: m.LinkItem):
        return (x.top_k, None if x.branches is None else tuple(x.branches), x.nested), text_item(x)

    def extract_item(x: m.ExtractItem):
        return x.threshold, text_item(x)

    @app.post("/v1/infer", response_model=m.InferResult | list[m.InferResult], responses=_ERRORS,
              dependencies=guarded, summary="Entailment, neutral or contradiction, with proofs")
    async def infer(body: m.InferItem | list[m.InferItem] = Body(...)):
        """Does the premise entail, contradict, or leave open the hypothesis? One pair, or a list of
        pairs (answered as a list, in order). The same answer as `kgnlu infer --json`."""
        items, error = prepared(body, infer_item)
        return error or await answer("infer", items, isinstance(body, list))

    @app.post("/v1/link", response_model=m.LinkResult | list[m.LinkResult], responses=_ERRORS,
              dependencies=guarded, summary="The KG concepts a text mentions")
    async def link(body: m.LinkItem | list[m.LinkItem] = Body(...)):
        """Lexicon matches (and dense retrieval with `serve --dense`) with negation and hedging.
        The same answer as `kgnlu link --json` (with `--dense` when the server has it; `branches`
        and `nested` as `--only` and `--nested`)."""
        items, error = prepared(body, link_item)
        return error or await answer("link", items, isinstance(body, list))

    @app.post("/v1/extract", response_model=m.ExtractResult | list[m.ExtractResult], responses=_ERRORS,
              dependencies=guarded, summary="The relations a text states between KG concepts")
    async def extract(body: m.ExtractItem | list[m.ExtractItem] = Body(...)):
        """Relations with their score, polarity, evidence and standing against the KG.
        The same answer as `kgnlu extract --json`."""
        items, error = prepared(body, extract_item)
        return error or await answer("extract", items, isinstance(body, list))

    @app.get("/v1/info", response_model=m.Info, responses=_ERRORS, dependencies=guarded,
             summary="The KG and the models that answer")
    async def info():
        if not host.ready:
            return not_ready()
        return await host.info()

    @app.get("/healthz", response_model=m.Status, summary="Liveness: the process answers")
    async def healthz():
        return {"status": "alive"}

    @app.get("/readyz", response_model=m.Status, responses={503: _ERRORS[503]},
             summary="Readiness: 200 once the engine is loaded and warmed")
    async def readyz():
        return {"status": "ready"} if host.ready else not_ready()

    if settings.docs:
        _mount_docs(app)
    return app


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI from the files of the swagger-ui-bundle-v2 package: FastAPI's own page loads
    them from a CDN, which a closed hospital network cannot reach."""
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount(DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(openapi_url=root + app.openapi_url, title="kgnlu - Swagger UI",
                                   swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon-32x32.png")


def app_from_env() -> FastAPI:
    """uvicorn's app factory in each worker process (``serve`` puts the settings in the environment)."""
    return create_app(ServeSettings.from_env())


def run(settings: ServeSettings, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Serve until interrupted: uvicorn with ``settings.workers`` processes, each loading its Engine."""
    import uvicorn

    os.environ[SETTINGS_ENV] = settings.to_env()
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["loggers"]["kgnlu"] = {"handlers": ["default"], "level": log_level.upper(), "propagate": False}
    uvicorn.run("kgnlu.service:app_from_env", factory=True, host=host, port=port, workers=settings.workers,
                log_level=log_level, log_config=log_config, access_log=False)


__all__ = ["ServeSettings", "MicroBatcher", "EngineThread", "Failure", "create_app", "app_from_env", "run"]

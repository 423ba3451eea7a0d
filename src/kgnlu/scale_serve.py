"""``kgnlu serve --ray --replicas N``: the HTTP service of ``kgnlu.service`` as a Ray Serve
deployment (the ``kgnlu[scale]`` extra).

Each replica is one Ray actor holding one Engine, loaded and warmed before Serve sends it any
traffic, and serving the very app ``kgnlu.service.create_app`` builds (same routes, models, limits,
errors, API key), through ``serve.ingress``. Only what answers changes: a ``ReplicaHost`` in place of
the ``EngineHost``, with Serve's ``@serve.batch`` gathering the items of concurrent requests into
``infer_many``/``link_many``/``extract_many`` calls. Serve's proxy spreads requests over the replicas.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kgnlu.scale import connect, require_ray
from kgnlu.service import OPERATIONS, ServeSettings, answer_json, create_app, engine_info, load_engine
from kgnlu.service_engine import EngineThread

APP_NAME = "kgnlu"


class _Batcher:
    """One operation's face of the replica's batch queue, as ``create_app`` uses a ``MicroBatcher``."""

    def __init__(self, host: ReplicaHost, op: str):
        self.host, self.op = host, op
        self.batches = self.items = 0

    async def submit(self, items: list) -> list:
        """The answers to ``items``, in order; each item queues on its own, to batch with any caller's."""
        return await asyncio.gather(*(self.host.batched((self.op, item)) for item in items))


class ReplicaHost:
    """What ``create_app`` asks of its host (``kgnlu.service.EngineHost``), in a Serve replica.

    The engine is loaded in the constructor, so the replica is ready when Serve routes to it, and
    runs on a thread of the replica, one batch at a time, so that the event loop keeps answering.
    """

    def __init__(self, settings: ServeSettings):
        from ray import serve

        self.settings = settings
        self.engine = load_engine(settings)
        self.stage, self.error, self.ready = "ready", None, True
        self.runner = EngineThread()
        # one queue for all three operations: a batch answers whatever came, one engine call per operation
        self.batched = serve.batch(max_batch_size=settings.batch_size,
                                   batch_wait_timeout_s=settings.batch_wait_ms / 1000)(self._answer)
        self.batchers = {op: _Batcher(self, op) for op in OPERATIONS}

    async def _answer(self, requests: list[tuple[str, Any]]) -> list:
        answers: list = [None] * len(requests)
        by_op: dict[str, list[int]] = {}
        for i, (op, _) in enumerate(requests):
            by_op.setdefault(op, []).append(i)
        for op, idx in by_op.items():
            batcher = self.batchers[op]
            batcher.batches += 1
            batcher.items += len(idx)
            out = await self.runner.call(answer_json, self.engine, op, [requests[i][1] for i in idx])
            for i, answer in zip(idx, out, strict=True):
                answers[i] = answer
        return answers

    async def start(self) -> None:
        pass  # loaded in the constructor

    async def stop(self) -> None:
        self.runner.shutdown()

    async def info(self) -> dict:
        out = await self.runner.call(engine_info, self.engine, self.settings)
        out["batching"] = {op: {"batches": b.batches, "items": b.items} for op, b in self.batchers.items()}
        return out


class KgnluReplica:
    """A Serve replica: one Engine and the service's app over it (``__serve_build_asgi_app__`` is
    how ``serve.ingress()`` takes an app built after the constructor, in the replica)."""

    def __init__(self, settings: dict):
        self.settings = ServeSettings(**settings)
        self.host = ReplicaHost(self.settings)

    def __serve_build_asgi_app__(self):
        return create_app(self.settings, host=self.host)


def application(settings: ServeSettings, replicas: int = 1, cpus_per_replica: float = 1.0):
    """The Serve application: ``replicas`` replicas of ``KgnluReplica``."""
    require_ray()
    from dataclasses import asdict

    from ray import serve

    deployment = serve.deployment(serve.ingress()(KgnluReplica), name="kgnlu", num_replicas=replicas,
                                  ray_actor_options={"num_cpus": cpus_per_replica},
                                  # enough requests in a replica at once for a batch to fill up
                                  max_ongoing_requests=max(16, 4 * settings.batch_size))
    return deployment.bind(asdict(settings))


def start(settings: ServeSettings, host: str = "127.0.0.1", port: int = 8000, address: str | None = None,
          replicas: int = 1, cpus_per_replica: float = 1.0) -> None:
    """Deploy on the Ray cluster at ``address`` (None: the local one, started if need be) and
    return once every replica is ready; Serve's proxy listens on ``host:port``."""
    connect(address)
    from ray import serve

    serve.start(http_options={"host": host, "port": port})
    serve.run(application(settings, replicas, cpus_per_replica), name=APP_NAME, route_prefix="/")


def stop() -> None:
    """Take the application down, and Serve with it."""
    from ray import serve

    serve.shutdown()


def run(settings: ServeSettings, host: str = "127.0.0.1", port: int = 8000, address: str | None = None,
        replicas: int = 1, progress=print) -> None:
    """Serve until interrupted (``kgnlu serve --ray``)."""
    progress(f"kgnlu serve: starting {replicas} replica(s) on Ray Serve")
    start(settings, host, port, address, replicas)
    progress(f"kgnlu serve: ready on http://{host}:{port} ({replicas} replica(s)); Ctrl-C stops")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        progress("kgnlu serve: stopping")
    finally:
        stop()


__all__ = ["APP_NAME", "ReplicaHost", "KgnluReplica", "application", "start", "stop", "run"]

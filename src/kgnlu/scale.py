"""Batch ``infer``, ``link`` and ``extract`` on a Ray cluster (the ``kgnlu[scale]`` extra):
``kgnlu infer|link|extract --input FILE --ray [ADDRESS]``.

The inputs travel in chunks of ``CHUNK``, the very chunks the in-process batch hands one
``infer_many``/``link_many``/``extract_many`` call: the NLI predictor sorts and pads the pairs of a
call together, so the same chunks are what makes every answer the in-process one, float for float.
A Ray Data pipeline maps the chunks over a pool of actors, each holding one Engine loaded once with
the options the CLI loads it with; the driver puts the answers back in input order.

A worker that dies is restarted and its chunk run again (actor restarts and task retries). With a
``journal`` file, each finished chunk is appended to it as well, so that a run that was stopped
(the driver killed, the cluster lost) resumes where it was, running only the chunks it lacks.

Ray is imported only here and in ``kgnlu.scale_serve``, and only when asked for: kgnlu works
without it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path

from kgnlu.types import InputError, KgnluError

RAY_MISSING = "--ray needs Ray, which is not installed: pip install 'kgnlu[scale]'"
CHUNK = 256  # the in-process batch's chunk (``kgnlu.cli._common.in_batches``)
TASKS = {"infer": "inferring", "link": "linking", "extract": "extracting"}


def require_ray():
    """The ``ray`` module, or a one-line ``InputError`` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise InputError(RAY_MISSING) from None
    return ray


def connect(address: str | None = None, **local) -> None:
    """Join the Ray cluster at ``address``; with none, join the one running on this machine or
    start one (``ray.init()``; ``local`` are its options, e.g. ``num_cpus``). Already connected:
    nothing to do."""
    ray = require_ray()
    if ray.is_initialized():
        return
    # worker logs stay on the workers: errors come back as exceptions, and stderr is for progress
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(include_dashboard=False, log_to_driver=False, **local)


def answerer(task: str, options: dict) -> Callable[[list], list]:
    """What answers one chunk of ``task``, loaded as the CLI loads it (``kgnlu.cli.infer.infer``,
    ``link.link``, ``extract.extract``), with the parts it needs loaded now rather than per chunk.

    ``options``: infer: kg, model, dense, encoder, symbolic_only; link: kg, dense, encoder, top_k,
    branches, nested; extract: kg, model, threshold, untrained, dense."""
    from kgnlu.api import Engine

    o = options
    if task == "infer":
        engine = Engine(o.get("kg"), o.get("model"), dense=o.get("dense"), encoder=o.get("encoder"))
        engine.linker()
        if not o.get("symbolic_only"):
            engine.nli_predictor()
        return lambda pairs: engine.infer_many(pairs, symbolic_only=bool(o.get("symbolic_only")))
    if task == "link":
        engine = Engine(o.get("kg"), dense=o.get("dense"), encoder=o.get("encoder"), curation=o.get("curation", "auto"))
        engine.linker().scope(o.get("branches"))
        return lambda texts: engine.link_many(texts, top_k=o.get("top_k", 0), branches=o.get("branches"),
                                              nested=bool(o.get("nested")))
    if task == "extract":
        extractor = Engine(o.get("kg"), dense=o.get("dense")).relation_extractor(o.get("model"),
                                                                                 untrained=bool(o.get("untrained")))
        return lambda texts: extractor.extract_many(texts, o.get("threshold"))
    raise ValueError(f"unknown task {task!r}: expected one of {', '.join(TASKS)}")


class EngineWorker:
    """A Ray Data actor: one Engine, loaded once (by its first call), answering a chunk per row."""

    def __init__(self, task: str, options: dict, threads: int = 1):
        import torch

        # one actor per CPU: more threads than that would only make the actors fight over cores
        torch.set_num_threads(threads)
        self.task, self.options, self.answer = task, options, None

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        try:
            if self.answer is None:
                # loaded by the first call, not the constructor, so that its errors are caught here
                self.answer = answerer(self.task, self.options)
            # pickled results cross as bytes: Arrow would otherwise have to take the dataclasses apart
            results = [pickle.dumps(self.answer(pickle.loads(items))) for items in batch["items"]]
        except KgnluError as e:
            # the user's error (no KG at that path on this node, say) goes back as the chunk's answer, for
            # the driver to raise: raised here, it would reach the driver as a bare UserCodeException
            results = [pickle.dumps(e)] * len(batch["items"])
        return {"chunk": batch["chunk"], "results": np.array(results, dtype=object)}


def chunk_key(task: str, options: dict, items: Sequence) -> str:
    """What a journaled chunk is the answer to: the task, its options and its inputs."""
    return hashlib.sha256(pickle.dumps((task, sorted(options.items(), key=lambda kv: kv[0]), list(items)))).hexdigest()


def read_journal(path: Path | None) -> dict[str, list]:
    """The chunks a journal holds (key -> results); a record cut short by a crash ends it."""
    done: dict[str, list] = {}
    if path is None or not path.is_file():
        return done
    with path.open("rb") as f:
        while True:
            try:
                key, results = pickle.load(f)
            except (EOFError, pickle.UnpicklingError, ValueError, TypeError):
                return done
            done[key] = results


def ray_map(task: str, items: Sequence, options: dict, address: str | None = None,
            progress: Callable[[str], None] = lambda _: None, workers: int | None = None, chunk: int = CHUNK,
            journal: Path | None = None, worker: type = EngineWorker) -> list:
    """``task`` over ``items`` on a Ray cluster: the in-process batch's results, in input order.

    Args:
        task: ``infer`` (items are (premise, hypothesis) pairs), ``link`` or ``extract`` (texts).
        options: the Engine's and the call's options (``answerer``).
        address: the cluster (``connect``); None: the local one, started if need be.
        workers: actors, one Engine each (default: the cluster's CPUs, at most one per chunk).
        journal: a file each finished chunk is appended to; the chunks it already holds (for the
            same task, options and inputs) are not run again.
        worker: the actor class (a subclass of ``EngineWorker``).
    """
    ray = require_ray()
    # the workers may run elsewhere, in another directory: paths go as absolute ones
    options = {k: Path(v).resolve() if isinstance(v, Path) else v for k, v in options.items()}
    items = list(items)
    chunks = [items[i:i + chunk] for i in range(0, len(items), chunk)]
    keys = [chunk_key(task, options, c) for c in chunks]
    journaled = read_journal(journal)
    done = {k: journaled[key] for k, key in enumerate(keys) if key in journaled}
    todo = [k for k in range(len(chunks)) if k not in done]
    what = TASKS[task]
    if done:
        progress(f"resuming from {journal}: {len(done)} of {len(chunks)} chunks done")
    if todo:
        connect(address)
        workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        workers = min(workers, len(todo))
        progress(f"{what} on Ray: {len(todo)} chunks of up to {chunk}, {workers} worker(s)")
        _run(task, options, chunks, todo, keys, done, workers, journal, worker,
             lambda n: progress(f"{what} {n}/{len(items)}"))
    return [r for k in range(len(chunks)) for r in done[k]]


def _run(task, options, chunks, todo, keys, done, workers, journal, worker, progress) -> None:
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # the CLI prints its own progress lines
    ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # nor Ray Data's, line by line
    rows = [{"chunk": k, "items": pickle.dumps(chunks[k])} for k in todo]
    ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
        worker, fn_constructor_kwargs={"task": task, "options": options}, batch_size=1, num_cpus=1,
        # Ray Data's actor defaults are what resuming needs: a dead actor is restarted, and the
        # chunk it was on is run again, as often as it takes (max_restarts and max_task_retries -1)
        compute=ray.data.ActorPoolStrategy(size=workers))
    out = journal.open("ab") if journal is not None else None
    try:
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for k, blob in zip(batch["chunk"], batch["results"]):
                results = pickle.loads(blob)
                if isinstance(results, KgnluError):
                    raise results
                done[int(k)] = results
                if out is not None:
                    pickle.dump((keys[int(k)], results), out)
                    out.flush()
                    os.fsync(out.fileno())
                progress(sum(len(chunks[j]) for j in done))
    finally:
        if out is not None:
            out.close()


__all__ = ["RAY_MISSING", "CHUNK", "require_ray", "connect", "answerer", "EngineWorker", "ray_map"]

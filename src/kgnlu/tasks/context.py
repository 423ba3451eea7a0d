"""``DefinitionContext``: a linking scorer that weighs the words around a mention against each
candidate's definition (``Linker.extra_scorers``)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kgnlu.tasks.expand import WORD as _TOKEN
from kgnlu.types import Candidate

if TYPE_CHECKING:
    from kgnlu.tasks.linking import Span


class DefinitionContext:
    """Context scorer (a ``Scorer`` for ``Linker.extra_scorers``): the text against each candidate's definition.

    Adds ``weight`` times the cosine between the mention's context (``window`` words either side,
    within the text) and each candidate's definition, so it reorders near-ties between candidates
    (the kinds of entry matched differ by 0.02-0.2) and leaves clear winners alone. Candidates
    without a definition get 0. Context and definition vectors are cached (LRU). A window, not
    the whole sentence: the encoder's cost grows with length, embedding contexts was most of
    dense linking's time, and the words around a mention are what tells its senses apart.

    ``bound`` (= ``weight``: a cosine is at most 1 in size) tells the Linker the most this scorer
    can add to or take from one candidate, scored on its own, so it can skip candidates and spans
    whose outcome no bonus could change (``Linker._contenders``). ``prepare``
    embeds everything a batch of spans will ask for in one encoder call: each call has a fixed
    cost, which one call per text and definition would pay again and again.
    """

    def __init__(self, encoder, definition: Callable[[str], str | None], weight: float = 0.05, cache_size: int = 8192,
                 cache=None, window: int = 6):
        from functools import lru_cache

        self.encoder = encoder
        # An on-disk ``kg.index.VectorCache`` for ``encoder``: definitions (two thirds of what a
        # link batch embeds) then cost one encoding per KG, not one per process.
        self.cache = cache
        self.weight = weight
        self.window = window
        self.bound = abs(weight)
        self._definition = lru_cache(maxsize=cache_size)(definition)
        self._vectors: OrderedDict[str, object] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()  # the Linker is shared between threads

    def context(self, text: str, span: "Span | None") -> str:
        """The words around ``span`` (all of ``text`` without a span)."""
        if span is None:
            return text
        before = [m.start() for m in _TOKEN.finditer(text, 0, span.start)][-self.window:]
        after = [m.end() for m in _TOKEN.finditer(text, span.end)][:self.window]
        return text[before[0] if before else span.start:after[-1] if after else span.end]

    def prepare(self, items: Sequence[tuple[str, "Span | None", list[Candidate]]]) -> None:
        """Embed, in one batch, the contexts and definitions that ``(text, span, candidates)`` calls will need."""
        wanted, definitions = [], set()
        for text, span, candidates in items:
            defs = [d for d in (self._definition(c.iri) for c in candidates) if d]
            if defs:
                wanted += [self.context(text, span), *defs]
                definitions.update(defs)
        with self._lock:
            missing = [t for t in dict.fromkeys(wanted) if t not in self._vectors]
            stored = [t for t in missing if t in definitions] if self.cache is not None else []
            if stored:  # the user's texts are not kept on disk, only the KG's definitions
                vectors, absent = self.cache.get_many(stored)
                gone = {stored[i] for i in absent}
                self._remember_locked([t for t in stored if t not in gone],
                                      [v for t, v in zip(stored, vectors) if t not in gone])
                missing = [t for t in missing if t not in definitions or t in gone]
        if missing:
            vectors = self.encoder.encode(missing)
            self._remember(missing, vectors)
            new = [i for i, t in enumerate(missing) if t in definitions]
            if self.cache is not None and new:
                with self._lock:
                    self.cache.put_many([missing[i] for i in new], vectors[new])

    def _remember(self, texts: Sequence[str], vectors) -> None:
        with self._lock:
            self._remember_locked(texts, vectors)

    def _remember_locked(self, texts: Sequence[str], vectors) -> None:
        for t, v in zip(texts, vectors):
            self._vectors[t] = v
            self._vectors.move_to_end(t)
        while len(self._vectors) > self._cache_size:
            self._vectors.popitem(last=False)

    def _vector(self, text: str):
        with self._lock:
            v = self._vectors.get(text)
            if v is not None:
                self._vectors.move_to_end(text)
                return v
        v = self.encoder.encode([text])[0]
        self._remember([text], [v])
        return v

    def __call__(self, text: str, span: "Span", candidates: list[Candidate], others: list["Span"]) -> list[float]:
        defs = [self._definition(c.iri) for c in candidates]
        if not any(defs):
            return [0.0] * len(candidates)
        import numpy as np

        context = self._vector(self.context(text, span))
        return [self.weight * float(np.dot(context, self._vector(d))) if d else 0.0 for d in defs]


__all__ = ["DefinitionContext"]

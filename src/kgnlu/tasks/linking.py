"""Entity linking: lexicon matches, dense retrieval for what the lexicon misses, disambiguation, polarity.

1. **Lexicon**: longest matches over normalised text (``kg.matcher``), exact up to case, hyphens,
   punctuation and plurals. They score by the kind of entry matched (a label beats a related synonym).
2. **Dense**: runs of content words that no lexicon match covers are embedded and looked up in
   the faiss index over the lexicon (``tasks.lexindex``). A run links only if its best cosine
   clears the NIL threshold, which is calibrated on held-out synonyms (``kgnlu bench link``).
3. **Disambiguation** of spans with several candidate concepts: each candidate's score (the kind
   of entry matched) plus small bonuses for KG coherence (related by subsumption to another
   mention's only concept) and from ``extra_scorers``: with dense linking on, the Engine adds
   ``DefinitionContext`` (the sentence against each candidate's definition). The same hook is
   where a GNN score would plug in.
4. **Polarity** from NegEx-style scopes (``kg.negation``), and whether the mention is hedged
   ("possible X", "rule out X", a question).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kgnlu.kg.matcher import normalize_token
from kgnlu.types import Candidate, InputError, Mention

MAX_CHARS = 100_000
LINKABLE = ("class", "individual")  # properties have labels too, but a mention names a thing
KIND_SCORE = {"label": 1.0, "pref": 1.0, "exact": 0.98, "alt": 0.95, "related": 0.85, "narrow": 0.8, "broad": 0.75}
DEFAULT_NIL = 0.80  # for an encoder without a calibrated threshold (see ``calibrated_nil``)
NIL_FILE = "linker.json"
MAX_RUN_TOKENS = 6
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_BOUNDARY = re.compile(r"[.;:!?()\[\]\n]|,")
STOPWORDS = frozenset(
    """a an the and or nor but of in on at to for from by with without within into onto over under about
    as is are was were be been being has have had do does did not no non this that these those it its he she
    they them his her their our we you i me my your patient patients history of showed shows reports reported
    denies denied there here which who whom whose what when where while than then also very some any all each
    per via s mr mrs ms dr year years old day days week weeks month months today yesterday""".split()
)

Scorer = Callable[[str, "Span", list[Candidate], list["Span"]], list[float]]


@dataclass
class Span:
    start: int
    end: int
    text: str
    candidates: list[Candidate]
    via: str


def check_text(text, what: str = "text") -> str:
    """Reject what cannot be text (bytes, NULs) and what is too long, with one-line errors."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"{what} is not UTF-8 (byte {e.start})") from None
    if not isinstance(text, str):
        raise InputError(f"{what} must be a string, not {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise InputError(f"{what} has {len(text)} characters; the limit is {MAX_CHARS} (split it into sentences)")
    if "\x00" in text:
        raise InputError(f"{what} contains NUL bytes: binary data, not text")
    return text


def calibrated_nil(adapter_dir, fingerprint: str | None = None) -> float:
    """The NIL threshold calibrated for the encoder adapter in ``adapter_dir``.

    ``bench/link.py`` writes it to ``linker.json`` beside the adapter. ``DEFAULT_NIL`` when the
    file is missing or unreadable, or when it was calibrated for another encoder fingerprint
    (a retrained adapter needs its own threshold).
    """
    import json
    from pathlib import Path

    try:
        doc = json.loads((Path(adapter_dir) / NIL_FILE).read_text(encoding="utf-8"))
        value = float(doc["nil_threshold"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_NIL
    if fingerprint is not None and doc.get("encoder") not in (None, fingerprint):
        return DEFAULT_NIL
    return value if 0.0 < value < 1.0 else DEFAULT_NIL


class DefinitionContext:
    """Context scorer (a ``Scorer`` for ``Linker.extra_scorers``): the text against each candidate's definition.

    Adds ``weight`` times the cosine between the embedded text and each candidate's definition, so
    it reorders near-ties between candidates (the kinds of entry matched differ by 0.02-0.2) and
    leaves clear winners alone. Candidates without a definition get 0. Text and definition
    vectors are cached (LRU), so a text with several ambiguous spans is embedded once.
    """

    def __init__(self, encoder, definition: Callable[[str], str | None], weight: float = 0.05, cache_size: int = 8192):
        from functools import lru_cache

        self.encoder = encoder
        self.weight = weight
        self._definition = lru_cache(maxsize=cache_size)(definition)
        self._vector = lru_cache(maxsize=cache_size)(lambda t: encoder.encode([t])[0])

    def __call__(self, text: str, span: "Span", candidates: list[Candidate], others: list["Span"]) -> list[float]:
        defs = [self._definition(c.iri) for c in candidates]
        if not any(defs):
            return [0.0] * len(candidates)
        import numpy as np

        sentence = self._vector(text)  # one text can hold several ambiguous spans
        return [self.weight * float(np.dot(sentence, self._vector(d))) if d else 0.0 for d in defs]


class Linker:
    """Links mentions in text to KG concepts. Thread-safe once built (read-only state)."""

    def __init__(self, matcher, tables, index=None, nil_threshold: float = DEFAULT_NIL,
                 extra_scorers: Sequence[Scorer] = ()):
        self.matcher = matcher
        self.tables = tables
        self.index = index  # a tasks.lexindex.LexiconIndex, or None for lexicon-only linking
        self.nil_threshold = nil_threshold
        self.extra_scorers = list(extra_scorers)
        self._vocab = getattr(matcher, "vocabulary", None)

    # -- public ------------------------------------------------------------------------------

    def link(self, text: str, top_k: int = 0) -> list[Mention]:
        return self.link_many([text], top_k)[0]

    def link_many(self, texts: Sequence[str], top_k: int = 0) -> list[list[Mention]]:
        texts = [check_text(t) for t in texts]
        spans = [self._lexicon_spans(t) for t in texts]
        if self.index is not None:
            self._add_dense_spans(texts, spans)
        return [self._finish(t, s, top_k) for t, s in zip(texts, spans)]

    # -- stages ------------------------------------------------------------------------------

    def _lexicon_spans(self, text: str) -> list[Span]:
        out = []
        for m in self.matcher.find(text):
            cands, seen = [], set()
            for iri, kind, entry in m.candidates:
                if iri in seen or self.tables.kind(iri) not in LINKABLE:
                    continue
                seen.add(iri)
                cands.append(Candidate(iri, self.tables.label(iri), KIND_SCORE.get(kind, 0.7), "lexicon", entry, kind))
            if cands:
                out.append(Span(m.start, m.end, text[m.start:m.end], cands, "lexicon"))
        return out

    def _runs(self, text: str, covered: list[Span]) -> list[tuple[int, int]]:
        """Runs of content words outside lexicon matches: the dense linker's candidate spans."""
        runs, cur = [], []
        taken = [(s.start, s.end) for s in covered]

        def close():
            while cur and cur[-1][2] in STOPWORDS:
                cur.pop()
            while cur and cur[0][2] in STOPWORDS:
                cur.pop(0)
            if cur and any(len(w) > 2 and not w.isdigit() and w not in STOPWORDS for _, _, w in cur):
                if self._vocab is None or any(w in self._vocab for _, _, w in cur):
                    runs.append((cur[0][0], cur[-1][1]))
            cur.clear()

        last_end = 0
        for m in _TOKEN.finditer(text):
            word = normalize_token(m.group())
            if _BOUNDARY.search(text, last_end, m.start()) or any(a < m.end() and m.start() < b for a, b in taken) \
                    or len(cur) >= MAX_RUN_TOKENS or word in ("and", "or", "but", "with", "without", "no", "not"):
                close()
            if not any(a < m.end() and m.start() < b for a, b in taken) and word not in ("and", "or", "but"):
                cur.append((m.start(), m.end(), word))
            last_end = m.end()
        close()
        return runs

    def _add_dense_spans(self, texts: Sequence[str], spans: list[list[Span]]) -> None:
        runs = [self._runs(t, s) for t, s in zip(texts, spans)]
        queries = sorted({t[a:b] for t, rs in zip(texts, runs) for a, b in rs})
        if not queries:
            return
        hits = dict(zip(queries, self.index.search(queries, k=5)))
        for text, rs, ss in zip(texts, runs, spans):
            for a, b in rs:
                found = [c for c in hits[text[a:b]] if c.score >= self.nil_threshold]
                if found:
                    cands = [Candidate(c.iri, self.tables.label(c.iri), round(float(c.score), 4), "dense", c.text, c.kind)
                             for c in found]
                    ss.append(Span(a, b, text[a:b], cands, "dense"))
            ss.sort(key=lambda s: s.start)

    def _disambiguate(self, text: str, span: Span, others: list[Span]) -> list[Candidate]:
        if len(span.candidates) < 2:
            return span.candidates
        anchors = [o.candidates[0].iri for o in others if o is not span and len(o.candidates) == 1]
        extra = [scorer(text, span, span.candidates, others) for scorer in self.extra_scorers]
        scored = []
        for i, c in enumerate(span.candidates):
            coherent = sum(1 for a in anchors if self.tables.is_subclass(c.iri, a) or self.tables.is_subclass(a, c.iri))
            bonus = 0.05 * min(coherent, 2) + sum(e[i] for e in extra)
            scored.append((-(c.score + bonus), c.iri, c))
        scored.sort(key=lambda t: (t[0], t[1]))
        return [c for _, _, c in scored]

    def _finish(self, text: str, spans: list[Span], top_k: int) -> list[Mention]:
        from kgnlu.kg.negation import polarity_cues

        if not spans:
            return []
        cues, hedges = polarity_cues(text, [(s.start, s.end) for s in spans])
        out = []
        for span, cue, hedge in zip(spans, cues, hedges):
            ranked = self._disambiguate(text, span, spans)
            best = ranked[0]
            out.append(Mention(
                text=span.text, start=span.start, end=span.end, iri=best.iri, label=best.label,
                score=round(best.score, 4), negated=cue is not None, via=span.via,
                negation_cue=cue.trigger if cue is not None else None,
                candidates=ranked[:top_k] if top_k else [],
                hedged=hedge is not None, hedge_cue=hedge.trigger if hedge is not None else None,
            ))
        return out

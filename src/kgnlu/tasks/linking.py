"""Entity linking: lexicon matches, dense retrieval for what the lexicon misses, disambiguation, polarity.

1. **Lexicon**: longest matches over normalised text (``kg.matcher``), exact up to case, hyphens,
   punctuation and plurals. They score by the kind of entry matched (a label beats a related synonym).
2. **Rewrite, then dense**: runs of content words that no lexicon match covers are first
   rewritten into the KG's names and exact synonyms with rules mined from its own synonym sets
   (``kg.rewrite``: "outermost bone of the pinkie toe" -> "distal phalanx of the 5th toe"; no
   encoder, so lexicon-only linking does it too). With dense linking on, a run that no rewrite
   names is embedded and looked up in the faiss index over the lexicon (``tasks.lexindex``), and
   links only if its best cosine clears the NIL threshold, which is calibrated on held-out
   synonyms (``kgnlu train linker``). Only the runs of a text that is one term are embedded,
   never running text nor a negation or hedge cue (``Linker._embeddable``). A text that is a
   single term is also rewritten whole, and
   replaces the lexicon's fragments of it when it names another concept (``_rewrite_terms``).
3. **Disambiguation** of spans with several candidate concepts: each candidate's score (the kind
   of entry matched) plus small bonuses for KG coherence (related by subsumption to another
   mention's only concept) and from ``extra_scorers``: with dense linking on, the Engine adds
   ``tasks.context.DefinitionContext`` (the words around the mention against each candidate's definition;
   namesakes, concepts whose own labels coincide, are not its business: the mention keeps the
   others as ``readings``). The same hook is
   where a GNN score would plug in. Scorers see only the spans and candidates whose outcome they
   could change, all of a ``link_many`` batch at once: embedding sentences and definitions is
   most of the cost of dense linking (bench/results/link.md).
   Around the lexicon's spans, a match grows over the words beside it that name a concept in
   another order ("brachydactyly type C"), coordinated terms are composed ("renal agenesis or
   dysgenesis" -> renal dysgenesis), and a short form the text defines means its long form only
   (linked throughout it when asked; ``tasks.expand``).
4. **Polarity** from NegEx-style scopes (``kg.negation``; a cue word is no mention), whether it is
   hedged ("possible X", "rule out X", a question), and its experiencer when a relative is the
   subject ("My father has X").
5. **Scope** (``tasks.scope``): ``branches`` limit the concepts a mention may name, and with
   ``modifiers`` the qualifiers (concepts under the KG's modifier roots) become attributes of the
   finding they qualify, a finding named inside one ("recurrent seizures") included.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from itertools import islice

from kgnlu.kg.lexicon import LINKABLE
from kgnlu.kg.matcher import normalize_token
from kgnlu.kg.negation import cue_spans, experiencers, polarity_cues, within_cues
from kgnlu.kg.rewrite import FILLERS as _FILLERS
from kgnlu.kg.rewrite import MAX_QUERY_TOKENS as MAX_PHRASE_TOKENS
from kgnlu.kg.rewrite import normalized
from kgnlu.tasks.expand import (WORD, abbreviations, coordinated, extensions, findings_inside, named_parts,
                                occurrences, unresolved)
from kgnlu.tasks.expand import nested as expand_nested
from kgnlu.tasks.readings import namesake_key, reads_as
from kgnlu.tasks.scope import DEFAULT_MODIFIER_ROOTS, Scope, Scopes, attach_modifiers
from kgnlu.tasks.text import check_text
from kgnlu.types import Candidate, Mention

KIND_SCORE = {"label": 1.0, "pref": 1.0, "exact": 0.98, "alt": 0.95, "related": 0.85, "narrow": 0.8, "broad": 0.75}
DEFAULT_NIL = 0.80  # for an encoder without a calibrated threshold (see ``calibrated_nil``)
NIL_FILE = "linker.json"
MAX_RUN_TOKENS = 6
_SENTENCE_END = re.compile(r"[.;:!?]\s*\S")  # a second clause or sentence follows
_BOUNDARY = re.compile(r"[.;:!?()\[\]\n]|,")
_RUN_BREAKS = frozenset(("and", "or", "but", "with", "without", "no", "not"))
_STOPWORDS = (
    """a an the and or nor but of in on at to for from by with without within into onto over under about
    as is are was were be been being has have had do does did not no non this that these those it its he she
    they them his her their our we you i me my your patient patients history of showed shows reports reported
    denies denied there here which who whom whose what when where while than then also very some any all each
    per via s mr mrs ms dr year years old day days week weeks month months today yesterday""".split()
)
# Words of a clause, not of a term's name: a text with one is running text ("She was febrile").
_CLAUSE_WORDS = frozenset(normalize_token(w) for w in """is are was were be been being has have had do does did
    it he she they them his her their our we you me my your patient patients showed shows reports reported denies
    denied there here which who whom whose what when while then also today yesterday""".split())
_CLAUSE_END = re.compile(r"[.;!?]\s*\S")  # as _SENTENCE_END, less the colon of "EEG: spike and wave"


def one_term(text: str) -> bool:
    """Whether ``text`` is one term, not running text: a query or a list item of at most
    ``MAX_PHRASE_TOKENS`` words, one clause with no pronoun or verb of a sentence ("limited
    extension at elbows", "EEG: spike and multispike waves", "autosomal dominant")."""
    words = [normalized(m.group()) for m in islice(WORD.finditer(text), MAX_PHRASE_TOKENS + 1)]
    return len(words) <= MAX_PHRASE_TOKENS and not _CLAUSE_END.search(text.strip()) \
        and not any(w in _CLAUSE_WORDS for w in words)


# Runs compare normalised words ("denies" is "deny"): a stopword counts in both forms, or "denies"
# would open a run for dense retrieval to link (to HPO's Excluded) and hide the negation it cues.
STOPWORDS = frozenset(_STOPWORDS) | {normalize_token(w) for w in _STOPWORDS}

# (text, span, candidates, other spans) -> one bonus per candidate. Optional attributes: ``bound``,
# the largest bonus in size, when each candidate is scored on its own (lets the Linker skip
# candidates that cannot win, so ``candidates`` may be a subset of the span's); ``prepare(items)``,
# called once per ``link_many`` with every (text, span, candidates) it will score, to batch the work.
Scorer = Callable[[str, "Span", list[Candidate], list["Span"]], list[float]]


@dataclass
class Span:
    start: int
    end: int
    text: str
    candidates: list[Candidate]
    via: str


def calibrated_nil(adapter_dir, fingerprint: str | None = None) -> float:
    """The NIL threshold calibrated for the encoder adapter in ``adapter_dir`` (``linker.json``, written
    by ``kgnlu train linker``); ``DEFAULT_NIL`` when the file is missing or unreadable, or calibrated for
    another encoder fingerprint (a retrained adapter needs its own threshold)."""
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


class Linker:
    """Links mentions in text to KG concepts. Thread-safe once built (read-only state)."""

    def __init__(self, matcher, tables, index=None, nil_threshold: float = DEFAULT_NIL,
                 extra_scorers: Sequence[Scorer] = (), rewriter=None,
                 modifier_roots: Sequence[str] = DEFAULT_MODIFIER_ROOTS, abbreviations: bool = False,
                 forms: bool = True):
        self.matcher = matcher
        self.tables = tables
        self.index = index  # a tasks.lexindex.LexiconIndex, or None for lexicon-only linking
        self.rewriter = rewriter  # a kg.rewrite.RewriteIndex, or None
        self.nil_threshold = nil_threshold
        self.extra_scorers = list(extra_scorers)
        self._vocab = getattr(matcher, "vocabulary", None)
        self._replaced = tables.replacements()
        # The tables cache labels too; this one is asked per candidate, and its hits cost no Python call.
        self._label = lru_cache(maxsize=1 << 16)(lambda iri: tables.label(iri))
        self._ancestors = lru_cache(maxsize=1 << 15)(lambda iri: frozenset(tables.ancestors(iri)))
        self._n_descendants = lru_cache(maxsize=1 << 15)(lambda iri: tables.n_descendants(iri))
        self.modifier_roots = tuple(modifier_roots)
        # Short forms the text defines ("cafe au lait spots (CLS)") link throughout it. Off by
        # default: GSC+'s curators do not annotate short forms, so on that corpus every link
        # of one counted as a false positive (bench/results/concepts.md).
        self.abbreviations = abbreviations
        # Other word forms, word orders and typos inside what the lexicon left (``tasks.expand``:
        # ``named_parts``, ``extensions``); a model trained before them links without (its
        # manifest's ``linking``).
        self.forms = forms
        self._scopes = Scopes(tables, self.modifier_roots)

    # -- public ------------------------------------------------------------------------------

    @property
    def mode(self) -> dict:
        """How this linker finds mentions, as a model's manifest records it (``linking``)."""
        mode = {"dense": self.index is not None, "rewrite": self.rewriter is not None, "forms": self.forms}
        if self.index is not None:
            mode.update(encoder=self.index.encoder.fingerprint, nil_threshold=self.nil_threshold)
        return mode

    def link(self, text: str, top_k: int = 0, branches: Sequence[str] | None = None,
             modifiers: bool = False, nested: bool = False, forms: bool | None = None, curator=None) -> list[Mention]:
        return self.link_many([text], top_k, branches, modifiers, nested, forms, curator)[0]

    def link_many(self, texts: Sequence[str], top_k: int = 0, branches: Sequence[str] | None = None,
                  modifiers: bool = False, nested: bool = False, forms: bool | None = None,
                  curator=None) -> list[list[Mention]]:
        """The mentions of each text, in text order.

        ``branches``: link only to concepts in these sources or subtrees (``tasks.scope``); a span
        whose best concept is outside falls back to its best candidate inside, or is no mention.
        ``modifiers``: qualifiers (concepts under ``modifier_roots``) become ``Mention.modifiers``
        of the finding they qualify (``scope.attach_modifiers``); off here as the NLI rules and
        model and RE read qualifiers as mentions (an RE object: a disease's inheritance).
        ``nested``: also the terms inside each match ("schwannoma" in "vestibular schwannoma"),
        ``via="nested"``; off by default: the NLI rules would count a finding twice.
        ``forms``: other word forms and typos (``tasks.expand.named_parts``); None: the linker's ``forms``.
        ``curator``: a ``tasks.curation.Curator``: its aliases and the nested terms join the
        candidates, and it keeps those a curator would annotate (nested ones only with ``nested``).
        """
        texts = [check_text(t) for t in texts]
        forms = self.forms if forms is None else forms
        scope = self.scope(branches)
        allowed = None if scope.branches is None else scope.allowed(modifiers, self._replaced)
        phrase = lru_cache(maxsize=None)(partial(self._phrase, allowed=allowed))  # a batch's texts share phrases
        spans = [self._lexicon_spans(t, allowed, forms, phrase) for t in texts]
        if self.rewriter is not None:
            self._rewrite_terms(texts, spans, allowed)
        if self.index is not None or self.rewriter is not None:
            self._add_unmatched_spans(texts, spans, allowed, forms, scope)
        if modifiers:
            finding = lambda cands: not all(scope.is_modifier(c.iri) for c in cands)  # noqa: E731
            for text, ss in zip(texts, spans):
                if inside := findings_inside(text, [(s.start, s.end, s.candidates) for s in ss], phrase, finding):
                    ss += [Span(a, b, text[a:b], cands, "lexicon") for a, b, cands in inside]
                    ss.sort(key=lambda s: (s.start, -s.end))
        if nested or curator is not None:  # a curator chooses among the nested terms too
            for text, ss in zip(texts, spans):
                taken = {(s.start, s.end) for s in ss}
                inner = [Span(a, b, text[a:b], cands, "nested") for a, b, cands in
                         expand_nested(text, [(s.start, s.end) for s in ss if s.via != "dense"], phrase)
                         if (a, b) not in taken]
                # A qualifier nested in another is none of its own ("progressive" in "non-progressive");
                # without ``nested`` the curator asks for none ("Progressive" in "progressive hearing loss").
                quals = [(s.start, s.end) for s in ss if all(scope.is_modifier(c.iri) for c in s.candidates)]
                inner = [s for s in inner if not all(scope.is_modifier(c.iri) for c in s.candidates)
                         or nested and not any(a <= s.start and s.end <= b for a, b in quals)]
                ss += inner
                if curator is not None:
                    ss += self._curated_spans(text, ss, curator, allowed)
                ss.sort(key=lambda s: (s.start, -s.end))
        for text, ss in zip(texts, spans):  # a cue is no concept: "Pneumonia was excluded" names no HPO Excluded
            ss[:] = [s for s, cue in zip(ss, within_cues(text, [(s.start, s.end) for s in ss])) if not cue]
        coherence = [[self._coherence(s, ss) for s in ss] for ss in spans]
        self._prepare_scorers(texts, spans, coherence, top_k)
        out = [self._finish(t, s, c, top_k, scope, allowed, modifiers) for t, s, c in zip(texts, spans, coherence)]
        if curator is None:
            return out
        return [self._curate(ms, curator, nested, scope, one_term(t)) for t, ms in zip(texts, out)]

    def scope(self, branches: Sequence[str] | None = None) -> Scope:
        """The ``Scope`` of ``branches`` over this linker's KG; ``InputError`` for a bad branch."""
        return self._scopes.get(branches)

    # -- stages ------------------------------------------------------------------------------

    def _find(self, text: str, allowed: Callable[[str], bool] | None):
        if allowed is None:
            return self.matcher.find(text)
        return self.matcher.find(text, lambda cands: any(allowed(c[0]) for c in cands))

    def _match_candidates(self, m) -> list[Candidate]:
        cands, seen = [], set()
        for iri, kind, entry in m.candidates:
            if iri in seen or self.tables.kind(iri) not in LINKABLE:
                continue
            seen.add(iri)
            cands.append(Candidate(iri, self._label(iri), KIND_SCORE.get(kind, 0.7), "lexicon", entry, kind))
        return self._current(cands)

    def _lexicon_spans(self, text: str, allowed: Callable[[str], bool] | None, forms: bool,
                       phrase: Callable[[str], list]) -> list[Span]:
        out = []
        for m in self._find(text, allowed):
            if cands := self._match_candidates(m):
                out.append(Span(m.start, m.end, text[m.start:m.end], cands, "lexicon"))
        if out:
            self._expand(text, out, allowed, forms, phrase)
        return out

    def _phrase(self, phrase: str, allowed: Callable[[str], bool] | None) -> list[Candidate]:
        """The candidates of ``phrase`` when it is one whole lexicon entry, else []."""
        ms = self._find(phrase, allowed)
        whole = len(ms) == 1 and ms[0].start == 0 and ms[0].end == len(phrase)
        return self._match_candidates(ms[0]) if whole else []

    def _extend(self, text: str, spans: list[Span], allowed: Callable[[str], bool] | None, forms: bool) -> None:
        """A match grows over the words beside it that name a concept in another order
        ("brachydactyly type C"; ``tasks.expand.extensions``), scored as the entry it names."""
        named = partial(self.rewriter.named, stems=forms)
        for i, a, b, hits in extensions(text, [(s.start, s.end) for s in spans], named, forms=forms):
            if cands := self._candidates(hits, "lexicon", allowed):
                spans[i] = Span(a, b, text[a:b], [replace(c, score=KIND_SCORE.get(c.kind, 0.7)) for c in cands], "lexicon")

    def _expand(self, text: str, spans: list[Span], allowed: Callable[[str], bool] | None, forms: bool,
                phrase: Callable[[str], list]) -> None:
        """Coordinated terms and abbreviations the text defines (``tasks.expand``), added to ``spans``."""
        if getattr(self.rewriter, "named", None) is not None:  # a kg.rewrite.RewriteIndex
            self._extend(text, spans, allowed, forms)
        spans += [Span(a, b, text[a:b], cands, "coordination") for a, b, cands in
                  coordinated(text, [(s.start, s.end) for s in spans], phrase)]
        # A defined short form means its long form: "Angelman syndrome (AS)" has no aortic valve stenosis.
        for short, long_form in abbreviations(text, [(s.start, s.end, s) for s in spans if s.via == "lexicon"]):
            where, meant = occurrences(text, short), {c.iri for c in long_form.candidates}
            if self.abbreviations:
                spans[:] = [s for s in spans if not any(a < s.end and s.start < b for a, b in where)]
                spans += [Span(a, b, short, list(long_form.candidates), "abbreviation") for a, b in where]
            # A reading inside an occurrence keeps the long form's concepts ("ASD": no Autistic behavior).
            spans[:] = [s if not any(a <= s.start and s.end <= b for a, b in where) else
                        replace(s, candidates=[c for c in s.candidates if c.iri in meant]) for s in spans]
            spans[:] = [s for s in spans if s.candidates]
        spans.sort(key=lambda s: (s.start, -s.end))

    def _runs(self, text: str, covered: list[Span], forms: bool = False) -> list[tuple[int, int, int]]:
        """Runs of content words outside lexicon matches, as ``(start, end, stretch)``: runs cut only
        for length (``MAX_RUN_TOKENS``) share a stretch."""
        runs, cur, stretch = [], [], 0
        # Covered stretches merged and in order, walked with one pointer: linear in the text.
        taken: list[list[int]] = []
        for a, b in sorted((s.start, s.end) for s in covered):
            if taken and a <= taken[-1][1]:
                taken[-1][1] = max(taken[-1][1], b)
            else:
                taken.append([a, b])
        taken.append([len(text), len(text)])  # past every word: the pointers below need no bounds checks

        # With ``forms``, a word the lexicon lacks may be a derived form or a typo of one it has
        # ("chalazia", "polydatyly"); without, no word is stemmed here: infer's hot path.
        rw = self.rewriter if forms and hasattr(self.rewriter, "correct") else None

        def close() -> bool:
            kept = False
            while cur and cur[-1][2] in STOPWORDS:
                cur.pop()
            while cur and cur[0][2] in STOPWORDS:
                cur.pop(0)
            if cur and any(len(w) > 2 and not w.isdigit() and w not in STOPWORDS for _, _, w in cur):
                if self._vocab is None or any(w in self._vocab or rw is not None and (
                        rw.known(w) or rw.correct(w) is not None) for _, _, w in cur):
                    runs.append((cur[0][0], cur[-1][1], stretch))
                    kept = True
            cur.clear()
            return kept

        last_end, marks, k, t = 0, [m.start() for m in _BOUNDARY.finditer(text)] + [len(text)], 0, 0
        for m in WORD.finditer(text):
            start, end = m.span()
            while taken[t][1] <= start:
                t += 1
            while marks[k] < last_end:
                k += 1
            last_end, inside = end, taken[t][0] < end
            word = "" if inside else normalized(m.group())  # a matched word is not read
            if inside or marks[k] < start or word in _RUN_BREAKS:
                close()
                stretch += 1
            elif len(cur) >= MAX_RUN_TOKENS and not close():
                stretch += 1  # a stretch is runs of content words one after the other
            if not inside and word not in ("and", "or", "but"):
                cur.append((start, end, word))
        close()
        return runs

    def _rewrite_terms(self, texts: Sequence[str], spans: list[list[Span]], allowed=None) -> None:
        """A text that is one term ("Hearing loss, conductive", "Abnormality of the hip joint")
        and that no lexicon match covers whole becomes one mention when a rewrite of the whole
        names a concept that none of its fragments names: the longest match wins, as in the
        lexicon, and a comma does not split it as it splits runs.

        A term here is up to ``MAX_PHRASE_TOKENS`` words, one sentence, with no stopwords but
        fillers: a backend's query or ``kgnlu link "..."``. In sentences, rewriting every long
        run across lexicon matches slowed every ``link`` and ``infer`` and gained no mention on
        the NLI or RE sets.
        """
        for text, ss in zip(texts, spans):
            words = list(islice(WORD.finditer(text), MAX_PHRASE_TOKENS + 1))  # a document is no term
            if not words or len(words) > MAX_PHRASE_TOKENS or _SENTENCE_END.search(text.strip()) \
                    or any((w := normalized(m.group())) in STOPWORDS and w not in _FILLERS for m in words):
                continue
            while words and normalized(words[0].group()) in _FILLERS:  # "the C of vitamins"
                words.pop(0)
            while words and normalized(words[-1].group()) in _FILLERS and words[-1].group() != "A":  # "type A"
                words.pop()
            if not words:
                continue
            a, b = words[0].start(), words[-1].end()
            if len(ss) == 1 and (ss[0].start, ss[0].end) == (a, b):
                continue  # the lexicon matched it whole
            cands = self._candidates(self.rewriter.lookup(text[a:b], k=5), "rewrite", allowed)
            if cands and cands[0].iri not in {c.iri for s in ss for c in s.candidates}:
                ss[:] = [Span(a, b, text[a:b], cands, "rewrite")]

    def _curated_spans(self, text: str, spans: list[Span], curator, allowed) -> list[Span]:
        """The curator's aliases in ``text`` as spans of their own: one whose concept a span of the
        same bounds also links to is dropped after disambiguation (``_curate``)."""
        out = []
        for a, b, iri in curator.alias_spans(text):
            cands = self._current([Candidate(iri, self._label(iri), 1.0, "curated", text[a:b].lower(), "curated")])
            cands = [c for c in cands if allowed is None or allowed(c.iri)]
            if cands and self.tables.kind(cands[0].iri) in LINKABLE:
                out.append(Span(a, b, text[a:b], cands, "curated"))
        return out

    @staticmethod
    def curation_candidates(mentions: list[Mention], scope: Scope, term: bool = False) -> list:
        """Mentions as ``tasks.curation.Candidate``s; ``term``: the text is one term (``one_term``)."""
        from kgnlu.tasks.curation import Candidate as Proposed

        return [Proposed(m.start, m.end, m.text, m.iri, m.via, m.score, term and scope.is_qualifier(m.iri))
                for m in mentions]

    def curation_features(self, curator):
        from kgnlu.tasks.curation import Features

        return Features(curator.roots, self._ancestors, self._n_descendants)

    def _curate(self, mentions: list[Mention], curator, nested: bool, scope: Scope, term: bool) -> list[Mention]:
        from kgnlu.tasks.curation import curate

        return curate(mentions, curator, self.curation_features(curator), nested,
                      partial(self.curation_candidates, scope=scope, term=term))

    def _candidates(self, hits, via: str, allowed: Callable[[str], bool] | None = None) -> list[Candidate]:
        """Rewrite or dense hits (``iri, text, kind, score``) as mention candidates: linkable ones,
        and in the caller's branches when ``allowed`` is given."""
        return self._current([Candidate(h.iri, self._label(h.iri), round(float(h.score), 4), via, h.text, h.kind)
                              for h in hits if self.tables.kind(h.iri) in LINKABLE
                              and (allowed is None or allowed(h.iri))])

    def _current(self, cands: list[Candidate]) -> list[Candidate]:
        """Deprecated concepts give way to the concept that replaces them, or drop out.

        OBO ontologies keep their obsolete terms (4,418 in the default KG: 450 from HPO, the rest
        from MONDO), with labels and synonyms, so that old annotations still resolve:
        "Heterogeneous" linked to "obsolete Heterogeneous". A mention names what the ontology
        means now: the ``replaced_by`` concept when there is one (``ClosureTables.replacements``),
        nothing otherwise. The candidate keeps the entry it matched.
        """
        if not any(c.iri in self._replaced for c in cands):
            return cands
        out, seen = [], set()
        for c in cands:
            iri = self.current_iri(c.iri)
            if iri is None or iri in seen or self.tables.kind(iri) not in LINKABLE:
                continue
            seen.add(iri)
            out.append(c if iri == c.iri else replace(c, iri=iri, label=self._label(iri)))
        return out

    def current_iri(self, iri: str) -> str | None:
        """``iri``, or the concept that replaces it now; None for a deprecated concept that nothing
        replaces (or a chain of replacements longer than 8)."""
        hops = 0
        while iri in self._replaced and hops < 8:  # replaced by a term since made obsolete itself
            iri, hops = self._replaced[iri], hops + 1
        return None if iri is None or iri in self._replaced else iri

    def _add_unmatched_spans(self, texts: Sequence[str], spans: list[list[Span]], allowed, forms, scope: Scope) -> None:
        """Runs the lexicon missed: rewritten into a name if a rewrite names one; else, with
        ``forms``, their parts in other word forms or with typos (``tasks.expand.named_parts``);
        else dense."""
        runs = [self._runs(t, s, forms) for t, s in zip(texts, spans)]
        queries = sorted({t[a:b] for t, rs in zip(texts, runs) for a, b, _ in rs})
        found: dict[str, list[Candidate]] = {}
        for q in queries if self.rewriter is not None else ():
            # A rewrite naming only properties names no thing: the run goes to dense retrieval.
            if cands := self._candidates(self.rewriter.lookup(q, k=5), "rewrite", allowed):
                found[q] = cands
        # Word forms are read over the words between breaks, whatever the length cut did to the
        # runs ("These include calcification of the falx cerebri"), where no rewrite named a run.
        parts: list[list[tuple[int, int, list[Candidate]]]] = [[] for _ in texts]
        if forms and hasattr(self.rewriter, "named_tokens"):
            accept, read = partial(self._candidates, via="rewrite", allowed=allowed), {}
            # A word alone in another form names no qualifier: "episode" is not HPO's Episodic.
            word = lambda hits: [c for c in accept(hits) if not scope.is_qualifier(c.iri)]  # noqa: E731
            for text, rs, out in zip(texts, runs, parts):
                for a, b in unresolved(rs, lambda a, b: text[a:b] in found):
                    q = text[a:b]
                    if q not in read:
                        read[q] = named_parts(q, self.rewriter, accept, STOPWORDS, MAX_RUN_TOKENS, word)
                    out += [(a + x, a + y, c) for x, y, c in read[q]]
        embeddable = [self._embeddable(t, rs, ss) if self.index is not None else set()
                      for t, rs, ss in zip(texts, runs, spans)]
        wanted = {t[a:b] for t, rs, es in zip(texts, runs, embeddable) for a, b, _ in rs if (a, b) in es}
        rest = [q for q in queries if q not in found and q in wanted]
        if self.index is not None and rest:
            for q, hits in zip(rest, self.index.search(rest, k=5)):
                # The NIL threshold is calibrated on cosines; a rewrite hit is lexical evidence.
                found[q] = self._candidates([h for h in hits if h.score >= self.nil_threshold], "dense", allowed)
        for text, rs, ps, es, ss in zip(texts, runs, parts, embeddable, spans):
            for a, b, _ in rs:
                cands = found.get(text[a:b])
                dense_refused = (a, b) not in es or any(x < b and a < y for x, y, _ in ps)
                if cands and not (cands[0].via == "dense" and dense_refused):
                    ss.append(Span(a, b, text[a:b], list(cands), cands[0].via))
            ss += [Span(x, y, text[x:y], c, "rewrite") for x, y, c in ps]
            ss.sort(key=lambda s: s.start)

    def _embeddable(self, text: str, runs: list[tuple[int, int, int]], spans: list[Span]) -> set[tuple[int, int]]:
        """The runs dense retrieval may read: those of a text that is one term (a query, a list
        item: at most ``MAX_PHRASE_TOKENS`` words, one clause with no pronoun or verb of a
        sentence, "limited extension at elbows", "EEG: spike and multispike waves") that hold no
        negation or hedge cue (``kg.negation.cue_spans``).

        Inside running text dense retrieval was rarely right and took cues for findings ("Negative"
        for headache: Negativism). The rewriter and word forms still read every run."""
        if not one_term(text):
            return set()
        cues = cue_spans(text, [(s.start, s.end) for s in spans])
        return {(a, b) for a, b, _ in runs if not any(x < b and a < y for x, y in cues)}

    def _coherence(self, span: Span, others: list[Span]) -> list[float]:
        """Per candidate: 0.05 for each other mention's only concept it is related to by subsumption (2 at most)."""
        if len(span.candidates) < 2:
            return []
        anchors = [o.candidates[0].iri for o in others if o is not span and len(o.candidates) == 1]
        anchors = [a for a in anchors if self.tables.id(a) is not None]
        out = []
        for c in span.candidates:
            coherent = 0
            if self.tables.id(c.iri) is not None:
                up = self._ancestors(c.iri)
                for a in anchors:  # is_subclass either way, from cached ancestor sets: no query per pair
                    if a == c.iri or a in up or c.iri in self._ancestors(a):
                        coherent += 1
                        if coherent == 2:
                            break
            out.append(0.05 * coherent)
        return out

    def _contenders(self, span: Span, coherence: list[float], top_k: int) -> list[int]:
        """Positions of the candidates ``extra_scorers`` must score; [] when they cannot change the outcome.

        Only the winner is reported when ``top_k`` <= 1. A scorer with a ``bound`` adds at most
        that much to a candidate and takes at most that much away, each candidate on its own;
        so a candidate more than twice the bounds' sum behind the leader cannot win, and a lead
        that large stands whatever the scorers say. Skipping those saves embedding sentences and
        definitions (DefinitionContext), the costliest step of linking.
        """
        n = len(span.candidates)
        if n < 2 or not self.extra_scorers:
            return []
        bounds = [getattr(s, "bound", None) for s in self.extra_scorers]
        if top_k > 1 or None in bounds:
            return list(range(n))
        base = [c.score + b for c, b in zip(span.candidates, coherence)]
        best, reach = max(base), 2 * sum(bounds)
        near = [i for i, b in enumerate(base) if b >= best - reach]
        # Namesakes (MONDO's disease and HPO's phenotype "diabetes mellitus") are one condition
        # to a definition; the mention keeps the others as ``readings`` instead. This was the
        # commonest tie in the link bench, each costing a sentence and definitions to embed.
        keys = {namesake_key(span.candidates[i]) for i in near}
        if len(keys) == 1 and None not in keys:
            return []
        return near if len(near) > 1 else []

    def _prepare_scorers(self, texts: Sequence[str], spans: list[list[Span]], coherence: list[list[float]],
                         top_k: int) -> None:
        """Let scorers with a ``prepare`` hook batch the work of every span they will be asked about."""
        preparing = [s for s in self.extra_scorers if hasattr(s, "prepare")]
        if not preparing:
            return
        items = []
        for text, ss, cs in zip(texts, spans, coherence):
            for span, coh in zip(ss, cs):
                near = self._contenders(span, coh, top_k)
                if near:
                    items.append((text, span, [span.candidates[i] for i in near]))
        if items:
            for scorer in preparing:
                scorer.prepare(items)

    def _disambiguate(self, text: str, span: Span, others: list[Span], top_k: int = 0,
                      coherence: list[float] | None = None) -> list[Candidate]:
        """The candidates best first; with ``top_k`` <= 1 only the first is sure to be in the full order."""
        if len(span.candidates) < 2:
            return span.candidates
        coherence = self._coherence(span, others) if coherence is None else coherence
        bonus = list(coherence)
        near = self._contenders(span, coherence, top_k)
        if near:
            cands = [span.candidates[i] for i in near]
            extra = [scorer(text, span, cands, others) for scorer in self.extra_scorers]
            for j, i in enumerate(near):
                bonus[i] = coherence[i] + sum(e[j] for e in extra)
        scored = [(-(c.score + b), c.iri, c) for c, b in zip(span.candidates, bonus)]
        scored.sort(key=lambda t: (t[0], t[1]))
        return [c for _, _, c in scored]

    def _finish(self, text: str, spans: list[Span], coherence: list[list[float]], top_k: int, scope: Scope | None = None,
                allowed: Callable[[str], bool] | None = None, modifiers: bool = False) -> list[Mention]:
        if not spans:
            return []
        bounds = [(s.start, s.end) for s in spans]
        names = [(s.start, s.end) for s in spans if s.via == "lexicon"]
        cues, hedges = polarity_cues(text, bounds)
        whose = experiencers(text, bounds, names, hedges)
        scope = scope or self.scope()
        out, qualifier = [], []
        for span, coh, cue, hedge, who in zip(spans, coherence, cues, hedges, whose):
            ranked = self._disambiguate(text, span, spans, top_k, coh)
            if allowed is not None:
                # Filtered after ranking, over the span's full order: the best in-scope candidate.
                if len(ranked) > 1 and top_k <= 1 and self.extra_scorers:
                    ranked = self._disambiguate(text, span, spans, 2, coh)
                ranked = [c for c in ranked if allowed(c.iri)]
                if not ranked:
                    continue
            best = ranked[0]
            readings = [c.iri for c in span.candidates if c.iri != best.iri and reads_as(c, best)
                        and (allowed is None or allowed(c.iri))]
            qualifier.append(modifiers and scope.is_modifier(best.iri))
            out.append(Mention(
                text=span.text, start=span.start, end=span.end, iri=best.iri, label=best.label,
                score=round(best.score, 4), negated=cue is not None, via=span.via,
                negation_cue=cue.trigger if cue is not None else None,
                candidates=ranked[:top_k] if top_k else [],
                hedged=hedge is not None, hedge_cue=hedge.trigger if hedge is not None else None,
                readings=readings, experiencer=who,
            ))
        if not modifiers:
            return out
        out = attach_modifiers(text, out, qualifier, scope.adjacent_only)
        # A qualifier left alone is a mention only where the caller's branches take it.
        return out if scope.branches is None else [m for m in out if scope.in_branches(m.iri)]

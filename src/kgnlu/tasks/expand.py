"""Mentions the lexicon's one-pass matching misses: other word orders and forms, typos,
coordinated terms, nested terms and abbreviations defined in the text.

**Word order** (``extensions``). A match followed or preceded in its clause by a few words that,
with it, have the words of a name in another order grows over them: "brachydactyly type C" is
HPO's "Type C brachydactyly", "hypopigmentation of skin" its "Hypopigmentation of the skin".

**Word forms and typos** (``named_parts``). In the words no match covers, a part whose words,
read through their stems or with one typo each corrected, are a name's words in some order is a
mention: "patellar dysplasia" (Dysplastic patella), "bridging of sella turcica", "preaxial
polydatyly".

**Coordination.** A term that shares its head or its modifier with a conjunct names a second
concept: "renal agenesis or dysgenesis" (renal dysgenesis), "branchial, otic and renal anomalies"
(branchial anomalies, otic anomalies). Around each matched span, conjuncts of one to three words
joined by a comma, "and", "or" or "and/or" are tried in place of the span's first words (a shared
head: the conjunct comes before the span) or its last words (a shared modifier: after it). A
composed phrase becomes a mention only when it is a whole entry of the lexicon (or the same
words as one in another order), and only for a conjunct that no other span covers. The mention spans the text from the conjunct to the far end
of the term it shares words with, as curated corpora (GSC+) mark such mentions.

**Abbreviations** (Schwartz and Hearst, PSB 2003): "café au lait spots (CLS)" defines CLS when a
span ends just before the parenthesis and the short form's letters occur in it in order, the
first at the start of a word. Every occurrence of the short form in the same text, as a whole
word and in the same case, then links to that span's concepts, in place of whatever else matched
there: the author's definition says what it stands for in this text.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import accumulate

from kgnlu.kg.matcher import WORDS
from kgnlu.kg.morph import FINDING_ENDINGS, split, stem
from kgnlu.kg.negation import cue_spans
from kgnlu.kg.rewrite import FILLERS, TYPO_COST, normalized

# Words and the punctuation that can join conjuncts; anything else ends a conjunct.
_PIECE = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*|[,/()]|\S")
# A joiner piece ending at a position / starting at one (a word joiner is no part of a longer word).
_JOINER_BEFORE = re.compile(r"(?:,|(?<![^\W_])(?:and|or))\Z", re.IGNORECASE)
_JOINER_AFTER = re.compile(r",|(?:and|or)(?![^\W_])", re.IGNORECASE)
_STOP = re.compile(r"[.;:!?()\[\]]")  # always a piece of its own, and neither a word nor a joiner
_JOINERS = frozenset({"and", "or", ","})
_NOT_CONJUNCT = frozenset("""a an the of in on at to for with without by from as is are was were be been not no nor
    but than that which who this these those both either neither""".split())
MAX_CONJUNCT = 3  # words
MAX_CONJUNCTS = 6  # per list
WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")  # a word of the linker's runs and windows
_SHORT_FORM = re.compile(r"\(\s*([^()\s][^()]{0,9}?)\s*\)")

Lookup = Callable[[str], list]  # a phrase -> its candidates when it is a whole lexicon entry, else []


def _beside(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` of a span widened over the whitespace on each side: where the text's next
    mark or word before it ends and after it begins."""
    while start > 0 and text[start - 1].isspace():
        start -= 1
    while end < len(text) and text[end].isspace():
        end += 1
    return start, end


def _is_word(p: str) -> bool:
    return p[0].isalnum() and p.lower() not in _JOINERS and p.lower() not in _NOT_CONJUNCT


def _joiner_left(pieces, i: int) -> int | None:
    """Index of the first piece of a joiner ending just before piece ``i`` (", ", "and", ", or", "and/or")."""
    j = i - 1
    if j < 0:
        return None
    w = pieces[j][2].lower()
    if w in ("and", "or"):
        if j >= 2 and pieces[j - 1][2] == "/" and pieces[j - 2][2].lower() == "and":
            j -= 2  # and/or
        if j >= 1 and pieces[j - 1][2] == ",":
            j -= 1  # Oxford comma
        return j
    return j if w == "," else None


def _joiner_right(pieces, i: int) -> int | None:
    """Index of the last piece of a joiner starting at piece ``i``, or None."""
    if i >= len(pieces):
        return None
    w = pieces[i][2].lower()
    if w == ",":
        if i + 1 < len(pieces) and pieces[i + 1][2].lower() in ("and", "or"):
            return i + 1
        return i
    if w == "and" and i + 2 < len(pieces) and pieces[i + 1][2] == "/" and pieces[i + 2][2].lower() == "or":
        return i + 2
    return i if w in ("and", "or") else None


def _conjunct_left(pieces, k: int) -> tuple[int, int] | None:
    """The words before the joiner at ``k``: (first, last + 1) piece indices, up to the previous
    joiner or any other word or mark, the last ``MAX_CONJUNCT`` at most (the first conjunct of a
    list inside a sentence runs into it: "a trait encompassing branchial, otic and renal
    anomalies"); None when there are none."""
    a = k
    while a > 0 and _is_word(pieces[a - 1][2]) and k - a < MAX_CONJUNCT:
        a -= 1
    return (a, k) if a < k else None


def _conjunct_right(pieces, k: int) -> tuple[int, int] | None:
    """The words after the joiner ending at ``k``, the first ``MAX_CONJUNCT`` at most, as ``_conjunct_left``."""
    b = k + 1
    while b < len(pieces) and _is_word(pieces[b][2]) and b - k - 1 < MAX_CONJUNCT:
        b += 1
    return (k + 1, b) if b > k + 1 else None


def coordinated(text: str, spans: Sequence[tuple[int, int]], lookup: Lookup) -> list[tuple[int, int, list]]:
    """``(start, end, candidates)`` of the coordinated terms around ``spans`` (see the module docstring).

    A conjunct is the words between two joiners. Before the span (a shared head) its longest
    tail that composes a name is used ("posterior subcapsular or ... cataract": "posterior
    subcapsular cataract"); after it (a shared modifier), its longest head. A conjunct that
    composes nothing is passed over, and the list goes on: "branchial, otic and renal anomalies".
    """
    taken = sorted(spans)
    n = len(text)
    stops: list[int] | None = None
    clauses: dict[tuple[int, int], tuple] = {}
    starts, reach = [s for s, _ in taken], list(accumulate((e for _, e in taken), max))

    def covered(a: int, b: int) -> bool:
        # Some span starts before b and ends after a: the spans starting before b reach past a.
        k = bisect_left(starts, b)
        return k > 0 and reach[k - 1] > a

    def compose(words: list[str], part: list[str], before: bool) -> list:
        for drop in range(1, len(words)):
            phrase = " ".join(part + words[drop:] if before else words[:len(words) - drop] + part)
            if cands := lookup(phrase):
                return cands
        return []

    out, seen = [], set()

    def add(a: int, b: int, cands: list) -> None:
        if (a, b) not in seen:
            seen.add((a, b))
            out.append((a, b, cands))

    for start, end in taken:
        # A list needs a joiner piece (",", "and", "or") right before or after the span: most
        # spans have none, and are passed over before any tokenising.
        lo, hi = _beside(text, start, end)
        if not (_JOINER_BEFORE.search(text, max(0, lo - 3), lo) or _JOINER_AFTER.match(text, hi)):
            continue
        # The pieces of the span's clause only: a stop mark is a piece of its own that no joiner
        # or conjunct reads past, and tokenising from it (or to just after it) splits the text
        # as tokenising the whole text does.
        if stops is None:
            stops = [m.start() for m in _STOP.finditer(text)]
        x, y = bisect_left(stops, start) - 1, bisect_left(stops, end)
        window = (stops[x] if x >= 0 else 0, stops[y] + 1 if y < len(stops) else n)
        if window not in clauses:
            pieces = [(m.start(), m.end(), m.group()) for m in _PIECE.finditer(text, *window)]
            clauses[window] = (pieces, {s: k for k, (s, _, _) in enumerate(pieces)},
                               {e: k for k, (_, e, _) in enumerate(pieces)})
        pieces, first, last = clauses[window]
        i, j = first.get(start), last.get(end)
        if i is None or j is None or j <= i:
            continue
        words = [p[2] for p in pieces[i:j + 1]]
        k = _joiner_left(pieces, i)  # shared head: conjuncts before the span
        for _ in range(MAX_CONJUNCTS):
            c = None if k is None else _conjunct_left(pieces, k)
            if c is None or covered(pieces[c[0]][0], pieces[c[1] - 1][1]):
                break
            for a in range(c[0], c[1]):
                if cands := compose(words, [p[2] for p in pieces[a:c[1]]], True):
                    add(pieces[a][0], end, cands)
                    break
            k = _joiner_left(pieces, c[0])
        k = _joiner_right(pieces, j + 1)  # shared modifier: conjuncts after the span
        for _ in range(MAX_CONJUNCTS):
            c = None if k is None else _conjunct_right(pieces, k)
            if c is None or covered(pieces[c[0]][0], pieces[c[1] - 1][1]):
                break
            for b in range(c[1], c[0], -1):
                if cands := compose(words, [p[2] for p in pieces[c[0]:b]], False):
                    add(start, pieces[b - 1][1], cands)
                    break
            k = _joiner_right(pieces, c[1])
    return out


_LOOSE = frozenset("the of in to an".split())  # words a name may have that the text leaves out ("skin" / "the skin")
_IN_NAMES = frozenset("of the a an".split())  # function words a span may grow over
_CLAUSE_MARK = re.compile(r"[.;:,!?()\[\]]")


def _within(words, max_words: int, uncounted: frozenset = frozenset()) -> list:
    """The leading ``words`` (matches, or an iterator of them) up to the ``max_words``-th that is
    not one of ``uncounted``."""
    out, n = [], 0
    for m in words:
        n += m.group().lower() not in uncounted
        if n > max_words:
            break
        out.append(m)
    return out


def _last_words(text: str, start: int, end: int, max_words: int, uncounted: frozenset) -> list:
    """``_within`` over the words of ``text[start:end]`` read backwards, in text order. A window
    before ``end`` is read first: scanning a whole stretch between two far-apart mentions for
    its last few words made ``extensions`` linear in the text per mention."""
    window = max(start, end - 24 * (max_words + 1))
    while True:
        found = list(WORD.finditer(text, window, end))
        if window == start:
            return _within(reversed(found), max_words, uncounted)[::-1]
        # The window's first word may be the tail of a longer one ("ab’s" read from "’s"), but
        # the words after it are the text's own: enough of those, and the window did.
        words = _within(reversed(found[1:]), max_words, uncounted)
        if len(words) < len(found) - 1:
            return words[::-1]
        window = max(start, window - 24 * (max_words + 1))


def extensions(text: str, spans: Sequence[tuple[int, int]], named: Callable[[str], list],
               max_words: int = 3, forms: bool = True) -> list[tuple[int, int, int, list]]:
    """``(index, start, end, hits)``: span ``index`` grown over up to ``max_words`` words after
    (else before) it, in its clause and touching no other span, when the longer phrase has the
    words of a name in another order (``named``: ``RewriteIndex.named``), the longest such. A
    name's word the phrase lacks may only be an article or preposition: "brachydactyly type" is
    not "Type A brachydactyly". ``forms``: a name may have other forms of the words ("occult
    spina bifida" / "Spina bifida occulta"), and articles do not count among the words taken in
    ("calcification of the falx cerebri"); without it, only "of" may join them."""
    def stems(phrase: str) -> set[str]:
        return {stem(t) if forms else t for t in (normalized(w) for w in WORDS.findall(phrase))}

    joins = _IN_NAMES if forms else frozenset({"of"})
    uncounted = _IN_NAMES if forms else frozenset()  # words that do not count against max_words

    out, cues = [], None
    for i, (start, end) in enumerate(spans):  # in text order, not overlapping
        nxt = spans[i + 1][0] if i + 1 < len(spans) else len(text)
        prv = spans[i - 1][1] if i else 0
        # A clause mark next to the span is in every gap on that side: no options there.
        lo, hi = _beside(text, start, end)
        right = [] if _CLAUSE_MARK.match(text, hi) else _within(WORD.finditer(text, end, nxt), max_words, uncounted)
        left = [] if lo and _CLAUSE_MARK.match(text, lo - 1) else _last_words(text, prv, start, max_words, uncounted)
        best = None
        # Words after the span, then before it, nearest first: each option's gap is the previous
        # one's and one more word, so a clause mark or a relating word in it ends that side.
        for after, side in ((True, right), (False, left[::-1])):
            edge, content = end if after else start, False
            for m in side:
                a, b = (start, m.end()) if after else (m.start(), end)
                if _CLAUSE_MARK.search(text, edge, b) if after else _CLAUSE_MARK.search(text, a, edge):
                    break
                edge = b if after else a
                # Content words, and "of" or an article as in names ("calcification of the falx
                # cerebri"); another function word relates two things: "X secondary to
                # microcephaly" is no Secondary microcephaly.
                w = m.group().lower()
                if w in _NOT_CONJUNCT:
                    if w not in joins:
                        break
                else:
                    content = True
                # An option no longer than the best so far could not replace it: no need to name it.
                if not content or best is not None and b - a <= best[2] - best[1]:
                    continue
                hits = named(text[a:b])
                if hits:
                    mine = stems(text[a:b])
                    hits = [h for h in hits if stems(h.text) - mine <= _LOOSE]
                if hits:  # a cue taken in is the name's words, or no name: "Absence of seizures" denies them
                    cues = cue_spans(text, spans) if cues is None else cues
                    taken = [stems(text[x:y]) for x, y in cues if x < b and a < y and not (start <= x and y <= end)]
                    hits = [h for h in hits if all(c <= stems(h.text) for c in taken)]
                if hits:
                    best = (i, a, b, hits)
        if best:
            out.append(best)
    return out


def named_parts(run: str, rewriter, accept: Callable[[list], list], stopwords: frozenset[str],
                max_words: int, accept_word: Callable[[list], list] | None = None) -> list[tuple[int, int, list]]:
    """``(start, end, candidates)`` of the words of ``run`` that name a concept in another order,
    another word form or with a typo ("patellar dysplasia", "bridging of sella turcica",
    "polydatyly": ``RewriteIndex.named`` and ``correct``), leftmost-longest, offsets in ``run``;
    ``accept`` turns the hits of a part into candidates ([]: none acceptable).

    A part of one word in another form ("anemic", "cirrhotic", "hypertensive", "chalazia") names
    only a concept's label, only when the word ends as an adjective or a Greek or Latin noun does
    (``kg.morph.FINDING_ENDINGS``) or is an adjective formed from the label's noun in the
    dictionary ("febrile" for Fever: ``RewriteIndex.derived``), and only through ``accept_word``
    (None: not read), which the caller makes stricter: alone, such a word is weaker evidence than
    a phrase ("episode" is HPO's qualifier Episodic; on the default KG "even" was a drug's brand
    name, Evenity). A one-word part with a typo goes through ``accept``. A part ends where the run
    does or before a stopword: English noun phrases end in their head, and "hyperplasia of the
    mandibular [coronoid processes]" is no mandibular hyperplasia."""
    norms = [normalized(w) for w in WORD.findall(run)]
    derived = getattr(rewriter, "derived_keys", {})
    size = len(norms)
    typo = [0] * size
    # A word no name has, in any form, ends every part that could hold it: reach[i] is where
    # the known words from i on stop.
    reach = [size] * (size + 1)
    for k in range(size - 1, -1, -1):
        n = norms[k]
        if n in FILLERS or rewriter.known(n):
            reach[k] = reach[k + 1]
        elif fixed := rewriter.correct(n):
            norms[k], typo[k], reach[k] = fixed, 1, reach[k + 1]
        else:
            reach[k] = k
    # Where a part may end (before word j), last first: most runs have few such places, or none.
    ends = [j for j in range(size, 0, -1) if (j == size or norms[j] in stopwords)
            and norms[j - 1] not in stopwords and not norms[j - 1].endswith("ing")]
    out, i, words = [], 0, None
    while ends and i < ends[0]:  # a part could still start at i
        top, nxt = min(reach[i], i + max_words), i + 1
        if top > i and norms[i] not in stopwords:
            for j in ends:
                if j <= i:
                    break
                if j > top:
                    continue
                typos, form = sum(typo[i:j]), j - i == 1 and not typo[i]
                ending = form and split(norms[i])[1] in FINDING_ENDINGS
                if form and (accept_word is None or not ending and norms[i] not in derived):
                    continue
                if not any(len(n) > 2 and n.isalpha() for n in norms[i:j]):
                    continue  # numbers alone ("2 to 3") name nothing
                hits = rewriter.named_tokens([n for n in norms[i:j] if n not in FILLERS], stems=j - i > 1 or ending)
                if form:  # the word as it stands names nothing here, or the lexicon would have matched it
                    hits = [h for h in hits if h.cost > 0 and h.kind == "label"] or (
                        rewriter.derived(norms[i]) if norms[i] in derived else [])
                # ``accept`` keeps some of the hits it is given: of none, none, without asking.
                keep = accept_word if form else accept
                if hits and (cands := keep([replace(h, cost=h.cost + TYPO_COST * typos) for h in hits])):
                    words = list(WORD.finditer(run)) if words is None else words
                    out.append((words[i].start(), words[j - 1].end(), cands))
                    nxt = j
                    break
        i = nxt
    return out


def unresolved(runs: Sequence[tuple[int, int, int]], resolved: Callable[[int, int], bool]) -> list[tuple[int, int]]:
    """``(start, end)`` of each stretch of consecutive ``runs`` (``(start, end, stretch)``, in
    text order) that share a stretch and of which none is ``resolved``."""
    out: list[tuple[int, int]] = []
    last = None
    for a, b, stretch in runs:
        if resolved(a, b):
            last = None
        elif last == stretch:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
            last = stretch
    return out


def nested(text: str, spans: Sequence[tuple[int, int]], lookup: Lookup, max_words: int = 8) -> list[tuple[int, int, list]]:
    """``(start, end, candidates)`` of the shorter terms inside each span: every run of its words
    that is a whole lexicon entry ("schwannoma" in "vestibular schwannoma", "capsular cataract" in
    "posterior subcapsular or capsular cataract"), the span itself left out."""
    out, seen = [], set()
    for start, end in spans:
        words = [(m.start(), m.end()) for m in WORD.finditer(text, start, end)]
        size = len(words)
        if not 2 <= size <= max_words:
            continue
        for i, (a, _) in enumerate(words):
            for j in range(size - 1 if i == 0 else size, i, -1):
                b = words[j - 1][1]
                if (a, b) in seen:
                    continue
                phrase = text[a:b]
                # Two words are never one function word: a mark or space parts them.
                if j - i == 1 and phrase.lower() in _NOT_CONJUNCT:
                    continue
                if cands := lookup(phrase):
                    seen.add((a, b))
                    out.append((a, b, cands))
    return out


def findings_inside(text: str, spans: Sequence[tuple[int, int, list]], lookup: Lookup,
                    is_finding: Callable[[list], bool]) -> list[tuple[int, int, list]]:
    """``(start, end, candidates)`` of the longest findings named inside the spans that name
    none (a qualifier's: ``is_finding`` False), at no span's own bounds.

    HPO files "Recurrent seizures" (Seizure cluster), "Neuropathic pain", "Dull pain" and "Maternal
    fever" under Clinical modifier. Read as a qualifier the span would take its finding with it: in
    "hypotonia and recurrent seizures" the seizures became a modifier of the hypotonia. The finding
    inside is a mention, which the qualifier qualifies."""
    # "Maternal fever", "Paternal diabetes": the finding is another person's; the qualifier says so.
    quals = [(a, b) for a, b, cands in spans if " " in text[a:b] and not is_finding(cands)  # one word: one thing
             and text[a:b].split(" ", 1)[0].lower() not in ("maternal", "paternal")]
    if not quals:
        return []
    taken = {(a, b) for a, b, _ in spans}
    inner = [t for t in nested(text, quals, lookup) if (t[0], t[1]) not in taken and is_finding(t[2])]
    return [t for t in inner if not any(a <= t[0] and t[1] <= b and (a, b) != t[:2] for a, b, _ in inner)]


def _long_form_fits(short: str, long: str) -> bool:
    """Schwartz-Hearst: the short form's letters and digits occur in ``long`` in order, right to
    left, and its first one starts ``long`` (the short form abbreviates the whole span, not a
    tail of it: "LS" is not "cafe au lait spots")."""
    s, lf = short.lower(), long.lower()
    si, li = len(s) - 1, len(lf) - 1
    while si >= 0:
        c = s[si]
        if not c.isalnum():
            si -= 1
            continue
        while li >= 0 and (lf[li] != c or (si == 0 and li > 0 and lf[li - 1].isalnum())):
            li -= 1
        if li < 0:
            return False
        si, li = si - 1, li - 1
    return li == -1 or not lf[:li + 1].strip(" -")


def abbreviations(text: str, spans: Sequence[tuple[int, int, object]]) -> list[tuple[str, object]]:
    """``(short form, what the span it abbreviates carries)`` for each definition "long form (SF)"
    whose long form is one of ``spans`` (``(start, end, payload)``), in text order."""
    if "(" not in text:
        return []
    ends = {e: (s, payload) for s, e, payload in spans}
    out, seen = [], set()
    for m in _SHORT_FORM.finditer(text):
        short = m.group(1).strip()
        if len(short) < 2 or len(short.split()) > 2 or not any(c.isupper() for c in short) \
                or not short[0].isalnum() or short in seen:
            continue
        before = text[:m.start()].rstrip()
        hit = ends.get(len(before))
        if hit is None or len(text[hit[0]:len(before)]) <= len(short):
            continue
        if _long_form_fits(short, text[hit[0]:len(before)]):
            seen.add(short)
            out.append((short, hit[1]))
    return out


def occurrences(text: str, short: str) -> list[tuple[int, int]]:
    """Where ``short`` occurs in ``text`` as a whole word, in the same case."""
    return [(m.start(), m.end()) for m in re.finditer(rf"(?<![\w-]){re.escape(short)}(?![\w-])", text)]


__all__ = ["WORD", "abbreviations", "coordinated", "extensions", "named_parts", "nested", "occurrences", "unresolved"]

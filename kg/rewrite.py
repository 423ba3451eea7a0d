"""Phrase rewriting: link a wording the lexicon lacks by rewriting it into one the lexicon has.

Ontologies name one concept in several ways, and their synonyms follow patterns: HPO calls the
distal phalanx of the 5th toe "the outermost bone of the pinkie toe", writes "abnormality of
the X" for "abnormal X morphology", "underdeveloped X" for "small X". The rules here are mined
from the KG's own synonym sets, so an ontology a user ingests brings its own:

1. **Mining** (``mine_rules``). For every concept, each ordered pair of its names (label and
   synonyms) is aligned word by word (``difflib``, over ``key_tokens``). Each replaced segment
   of up to ``MAX_SEGMENT`` words ("outermost bone" -> "distal phalanx") and each deleted one of
   up to 2 words is a rule. A rule needs ``MIN_SUPPORT`` concepts' worth of evidence: one seen
   once is an anecdote. Its cost is ``1 - log P(rhs | lhs)`` over every rewrite of that ``lhs``
   seen, plus ``DELETE_PENALTY`` for a deletion, since dropping words makes a phrase less
   specific and leads it to an ancestor of the concept it names.
2. **Lookup** (``Rewriter.lookup``). A phrase is rewritten up to ``MAX_STEPS`` times (a beam of
   ``BEAM`` cheapest variants per step), and each variant is looked up as a bag of key tokens
   among the names of the index. The result is every row whose name a variant equals, at the
   cost of the cheapest variant that reaches it. A cost of 0 is a match up to word order,
   fillers ("the", "of") and plurals: "hearing loss, conductive".

The parameters were chosen on a development split of HPO concepts that the linking benchmark
never uses (``bench/rewrite_dev.py``); its held-out concepts' synonyms are removed from the KG
before anything is mined, so no rule has seen them. No torch here: ``kg/`` stays light.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

from kgnlu.kg.matcher import _WORDS, normalize_token

FORMAT = 1
MIN_SUPPORT = 2
MAX_SEGMENT = 4  # words on either side of a replacement
MAX_DELETE = 2
DELETE_PENALTY = 4.0
MAX_STEPS = 2
BEAM = 500
MAX_NAMES_PER_CONCEPT = 12  # a drug with 80 brand names would add 6,000 pairs of noise
MAX_QUERY_TOKENS = 12
# Words whose presence or absence never changes what a phrase names ("abnormality of the ear").
# Deliberately short: "without", "no" and "with" do change it.
FILLERS = frozenset("a an the of in to".split())

Rule = tuple[tuple[str, ...], tuple[str, ...], float, int]  # (lhs, rhs, cost, support)


def key_tokens(text: str) -> tuple[str, ...]:
    """The words that decide what ``text`` names: normalised as the matcher does, fillers dropped."""
    return tuple(t for t in (normalize_token(w) for w in _WORDS.findall(text)) if t and t not in FILLERS)


def bag_key(tokens: Iterable[str]) -> str:
    """Order-free key: "hearing loss, conductive" and "conductive hearing loss" share one."""
    return " ".join(sorted(tokens))


def mine_rules(names: Mapping[str, Sequence[str]], min_support: int = MIN_SUPPORT) -> list[Rule]:
    """Rewrite rules from ``names`` (concept -> its names), sorted; see the module docstring."""
    seen: Counter[tuple[tuple[str, ...], tuple[str, ...]]] = Counter()
    for concept in sorted(names):
        toks = list(dict.fromkeys(key_tokens(n) for n in names[concept][:MAX_NAMES_PER_CONCEPT]))
        found: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()  # one vote per concept
        for a in toks:
            for b in toks:
                if a is b:
                    continue
                for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
                    if op == "replace" and i2 - i1 <= MAX_SEGMENT and j2 - j1 <= MAX_SEGMENT:
                        found.add((a[i1:i2], b[j1:j2]))
                    elif op == "delete" and i2 - i1 <= MAX_DELETE:
                        found.add((a[i1:i2], ()))
        seen.update(found)
    total: Counter[tuple[str, ...]] = Counter()
    for (lhs, _), n in seen.items():
        total[lhs] += n
    rules = []
    for (lhs, rhs), n in seen.items():
        if n >= min_support:
            cost = 1.0 - math.log(n / (total[lhs] + 1)) + (0.0 if rhs else DELETE_PENALTY)
            rules.append((lhs, rhs, round(cost, 4), n))
    rules.sort()
    return rules


class Rewriter:
    """Rewrites phrases into names of the index; thread-safe (read-only after construction)."""

    def __init__(self, rules: Iterable[Rule], keys: Iterable[tuple[str, int]]):
        by_lhs: dict[tuple[str, ...], list[tuple[tuple[str, ...], float]]] = defaultdict(list)
        for lhs, rhs, cost, _ in rules:
            by_lhs[tuple(lhs)].append((tuple(rhs), float(cost)))
        for alternatives in by_lhs.values():
            alternatives.sort(key=lambda r: (r[1], r[0]))
        self._rules = dict(by_lhs)
        self._longest = max((len(lhs) for lhs in self._rules), default=0)
        rows: dict[str, list[int]] = defaultdict(list)
        for key, row in keys:
            rows[key].append(row)
        self._keys = dict(rows)

    def __len__(self) -> int:
        return sum(len(r) for r in self._rules.values())

    def lookup(self, text: str) -> dict[int, float]:
        """Row -> cost of the cheapest rewrite of ``text`` that names it; {} when none does."""
        start = key_tokens(text)
        if not start or len(start) > MAX_QUERY_TOKENS:
            return {}
        best = {start: 0.0}
        frontier = best
        for _ in range(MAX_STEPS):
            step: dict[tuple[str, ...], float] = {}
            for variant, cost in frontier.items():
                for i in range(len(variant)):
                    for n in range(1, min(self._longest, len(variant) - i) + 1):
                        for rhs, extra in self._rules.get(variant[i:i + n], ()):
                            new, c = variant[:i] + rhs + variant[i + n:], cost + extra
                            if new and c < best.get(new, math.inf) and c < step.get(new, math.inf):
                                step[new] = c
            if not step:
                break
            frontier = dict(sorted(step.items(), key=lambda kv: (kv[1], kv[0]))[:BEAM])
            best.update(frontier)
        out: dict[int, float] = {}
        for variant, cost in best.items():
            for row in self._keys.get(bag_key(variant), ()):
                if cost < out.get(row, math.inf):
                    out[row] = cost
        return out

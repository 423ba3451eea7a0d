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
2. **Lookup** (``RewriteIndex.lookup``). A phrase is rewritten up to ``MAX_STEPS`` times (a
   beam of ``BEAM`` cheapest variants per step), and each variant is looked up as a bag of key
   tokens among the KG's names and exact synonyms (``targets``). The result is every concept
   whose name a variant equals, at the cost of the cheapest variant that reaches it. A cost of 0
   is a match up to word order, fillers ("the", "of") and plurals: "hearing loss, conductive".
   Two guards keep running text from being rewritten into nonsense, at 1.4 points of accuracy
   on the development split: a phrase needs ``MIN_QUERY_TOKENS`` key words (a rule mined from
   drug names turned the lone word "form" into "creatine"), and a variant must keep at least one
   word of the phrase, a number not counted (``ANCHORED``: "age 7" became "favipiravir" in two
   steps, "3 families" Transcription Factor 3).

Rules and targets are kept per KG generation in one SQLite file (``RewriteIndex.build``: mining
them is far slower than opening the file; the runtime keeps it under ``cache/``). The parameters
were chosen on a development split of HPO concepts that the linking benchmark never uses
(``bench/rewrite_dev.py``); the benchmark removes its own held-out concepts' synonyms from the
KG before anything is mined, so no rule has seen them. No torch here: ``kg/`` stays light.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import sqlite3
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import chain
from pathlib import Path

import numpy as np

from kgnlu.kg.kgdir import publish
from kgnlu.kg.lexicon import KIND_RANK
from kgnlu.kg.matcher import WORDS, is_abbreviation, normalize_token
from kgnlu.kg.morph import same_numbers, stem

FORMAT = 1
MIN_SUPPORT = 2
MAX_SEGMENT = 4  # words on either side of a replacement
MAX_DELETE = 2
DELETE_PENALTY = 4.0
MAX_STEPS = 2
BEAM = 500
MAX_NAMES_PER_CONCEPT = 12  # a drug with 80 brand names would add 6,000 pairs of noise
MAX_QUERY_TOKENS = 12
MIN_QUERY_TOKENS = 2
ANCHORED = True  # a variant keeps at least one word of the phrase, not counting numbers
# A word of the text within one edit of a name's word ("polydatyly") is read as that word, at
# this cost per word, when it has at least TYPO_MIN_LETTERS letters and no other such neighbour.
TYPO_COST = 1.0
TYPO_MIN_LETTERS = 5
# What a match through word stems costs (``RewriteIndex.named``): "patellar dysplasia" for
# "Dysplastic patella" is surer than any rule, less than the same words.
MORPH_COST = 0.5
# Words whose presence or absence never changes what a phrase names ("abnormality of the ear").
# Deliberately short: "without", "no" and "with" do change it.
FILLERS = frozenset("a an the of in to".split())
NAME_KINDS = ("label", "pref")
TARGET_KINDS = ("label", "pref", "exact", "alt")  # related, broad and narrow name other concepts too often

Rule = tuple[tuple[str, ...], tuple[str, ...], float, int]  # (lhs, rhs, cost, support)


normalized = lru_cache(maxsize=1 << 16)(normalize_token)  # every linked run's words go through it


def key_tokens(text: str) -> tuple[str, ...]:
    """The words that decide what ``text`` names: normalised as the matcher does, fillers dropped.
    A capital "A" after the first word is a letter, not the article: "Reduced hemoglobin A" is no
    name of low hemoglobin, nor "Vitamin A deficiency" of vitamin deficiency."""
    words = WORDS.findall(text)
    return tuple([t for i, (w, t) in enumerate(zip(words, map(normalized, words)))
                  if t and (t not in FILLERS or i and w == "A")])


def bag_key(tokens: Iterable[str]) -> str:
    """Order-free key: "hearing loss, conductive" and "conductive hearing loss" share one."""
    return " ".join(sorted(tokens))


def morph_key(tokens: Iterable[str]) -> str:
    """Order-free key of the words' stems (``kg.morph``): "patellar dysplasia" meets "Dysplastic patella"."""
    return bag_key(stem(t) for t in tokens)


def _deletions(word: str) -> list[str]:
    """``word`` and each string one letter shorter. Two words within one edit share one of these
    (an insertion or deletion: one word is the other's deletion; a substitution at i: both words
    less their letter i; a swap of neighbours: the first less one letter of the pair, the second
    less the other), so ``correct`` asks an index of them instead of comparing words."""
    return [word] + [word[:i] + word[i + 1:] for i in range(len(word))]


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by exactly one insertion, deletion, substitution or swap."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1:] == b[i + 1:] or (a[i + 2:] == b[i + 2:] and a[i:i + 2] == b[i:i + 2][::-1])
    return a[i + 1:] == b[i:] if len(a) > len(b) else a[i:] == b[i + 1:]


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
        seen.update(pair for pair in found if same_numbers(*pair))
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


def fingerprint(tokens: Iterable[str]) -> int:
    """An order-free number for a bag of words that a rewrite updates by adding the rule's
    difference: equal bags have equal fingerprints, so a variant whose fingerprint no target key
    has names nothing, and its bag key need not be built (``Rewriter.variants``). Sound only for
    words without spaces, which a key joins with spaces."""
    return sum(map(hash, tokens))


class KeySet:
    """Bag keys, with their ``fingerprint``s, for ``Rewriter.variants`` to keep."""

    def __init__(self, keys: Iterable[str]):
        self.keys = frozenset(keys)
        self.fingerprints = frozenset(fingerprint(k.split(" ")) for k in self.keys)


def _cheapest(step: dict[tuple[str, ...], float]) -> Iterable[tuple[tuple[str, ...], float]]:
    """The entries of ``step`` that the beam keeps (``Rewriter.variants``: the ``BEAM`` cheapest,
    ties to the smaller variant), in no order: ordering them all costs more than finding them."""
    if len(step) <= BEAM:
        return step.items()
    cut = sorted(step.values())[BEAM - 1]
    kept = [(v, c) for v, c in step.items() if c < cut]
    return kept + sorted((v, c) for v, c in step.items() if c == cut)[:BEAM - len(kept)]


class Rewriter:
    """Applies rules to phrases; thread-safe (read-only after construction)."""

    def __init__(self, rules: Iterable[Rule]):
        by_lhs: dict[tuple[str, ...], list[tuple[tuple[str, ...], float]]] = defaultdict(list)
        for lhs, rhs, cost, _ in rules:
            by_lhs[tuple(lhs)].append((tuple(rhs), float(cost)))
        for alternatives in by_lhs.values():
            alternatives.sort(key=lambda r: (r[1], r[0]))
        self._rules = dict(by_lhs)
        # What each alternative adds to a variant's fingerprint. A word with a space (a rare
        # Unicode compatibility form) would make fingerprints unsound: then none are used.
        self._shifts = {lhs: tuple(fingerprint(rhs) - fingerprint(lhs) for rhs, _ in alternatives)
                        for lhs, alternatives in self._rules.items()}
        self._spaced = any(" " in w for lhs, alternatives in self._rules.items()
                           for words in [lhs, *(rhs for rhs, _ in alternatives)] for w in words)
        self._longest = max((len(lhs) for lhs in self._rules), default=0)
        # The longest left-hand side starting with each word: most words of a phrase start none,
        # and the search below probes every slice of every variant.
        self._reach: dict[str, int] = {}
        for lhs in self._rules:
            self._reach[lhs[0]] = max(self._reach.get(lhs[0], 0), len(lhs))

    def __len__(self) -> int:
        return sum(len(r) for r in self._rules.values())

    def variants(self, text: str, start: tuple[str, ...] | None = None,
                 keys: KeySet | None = None) -> dict[str, float]:
        """Bag key -> cost of the cheapest rewrite of ``text`` into it (``text`` itself at 0);
        ``start``: ``key_tokens(text)`` when the caller has them. With ``keys``, only the bag keys
        among ``keys.keys``, at the same costs (in another order), for less work."""
        start = key_tokens(text) if start is None else start
        if not MIN_QUERY_TOKENS <= len(start) <= MAX_QUERY_TOKENS:
            return {}
        prints = None if keys is None or self._spaced or " " in "".join(start) else keys.fingerprints
        best = {start: 0.0}
        frontier = best
        last: Iterable[tuple[tuple[str, ...], float]] = ()
        for steps_left in range(MAX_STEPS, 0, -1):
            if steps_left == 1 and prints is not None:
                # What the last step reaches only counts where it names a key, unless the beam
                # could cut the step: then which variants it keeps depends on all of them.
                last = self._named_step(frontier, prints)
                if last is None:
                    last = _cheapest(self._step(frontier, best))
                break
            step = self._step(frontier, best)
            if not step:
                break
            # The beam keeps the cheapest (ties: the smaller variant); a step within it is kept whole.
            frontier = step if len(step) <= BEAM else {v: c for c, v in sorted(zip(step.values(), step))[:BEAM]}
            best.update(frontier)
        out: dict[str, float] = {}
        # A number anchors nothing: "3 families" is no Transcription Factor 3.
        words = {w for w in start if not w.replace(".", "").replace(",", "").isdigit()}
        for variant, cost in chain(best.items(), last):
            if prints is not None and sum(map(hash, variant)) not in prints:  # fingerprint(variant)
                continue
            if ANCHORED and words.isdisjoint(variant):
                continue
            # A phrase cut down to one of its words names that word's thing, not the phrase's:
            # "low sodium" is no name of sodium, nor "low hemoglobin" of hemoglobin.
            if len(variant) == 1 and variant[0] in start and len(start) > 1:
                continue
            key = bag_key(variant)
            if keys is not None and key not in keys.keys:
                continue
            old = out.get(key)
            if old is None or cost < old:
                out[key] = cost
        return out

    def _step(self, frontier: dict[tuple[str, ...], float],
              best: dict[tuple[str, ...], float]) -> dict[tuple[str, ...], float]:
        """One rule applied anywhere to each variant of ``frontier``: each new variant, or one
        cheaper than in ``best``, at its cheapest."""
        step: dict[tuple[str, ...], float] = {}
        rules, reach, inf = self._rules, self._reach, math.inf
        for variant, cost in frontier.items():
            size = len(variant)
            for i, word in enumerate(variant):
                longest = reach.get(word)
                if longest is None:
                    continue
                head = variant[:i]
                for n in range(1, min(longest, size - i) + 1):
                    alternatives = rules.get(variant[i:i + n])
                    if alternatives is None:
                        continue
                    tail = variant[i + n:]
                    for rhs, extra in alternatives:
                        new, c = head + rhs + tail, cost + extra
                        if new and c < best.get(new, inf) and c < step.get(new, inf):
                            step[new] = c
        return step

    def _named_step(self, frontier: dict[tuple[str, ...], float],
                    prints: frozenset[int]) -> list[tuple[tuple[str, ...], float]] | None:
        """``_step``'s rewrites whose fingerprint is in ``prints`` (repeats and dearer ones
        included), or None when the step may outgrow the beam."""
        found: list[tuple[tuple[str, ...], float]] = []
        rules, shifts, reach = self._rules, self._shifts, self._reach
        count = 0
        for variant, cost in frontier.items():
            size, own = len(variant), fingerprint(variant)
            for i, word in enumerate(variant):
                longest = reach.get(word)
                if longest is None:
                    continue
                for n in range(1, min(longest, size - i) + 1):
                    lhs = variant[i:i + n]
                    alternatives = rules.get(lhs)
                    if alternatives is None:
                        continue
                    count += len(alternatives)
                    if count > BEAM:  # new variants are at most as many as rewrites
                        return None
                    moved = shifts[lhs]
                    if prints.isdisjoint(map(own.__add__, moved)):  # the usual case, tested in C
                        continue
                    for (rhs, extra), shift in zip(alternatives, moved):
                        if own + shift in prints and (new := variant[:i] + rhs + variant[i + n:]):
                            found.append((new, cost + extra))
        return found


def targets(entries: Iterable) -> list[tuple[str, str, str]]:
    """``(iri, text, kind)`` of every English name and exact/alt synonym among lexicon
    ``entries``, one per IRI and case-folded text, names first: what rules are mined from and
    what a rewrite may land on. Unlike the dense index's rows, no budget: a bag key costs no
    embedding (183k on the default KG, against 80k embedded). Not abbreviations: the matcher reads
    them in capitals only, and a bag of case-folded words cannot ("blue cap" became CAPS)."""
    found: dict[tuple[str, str], tuple] = {}
    for order, e in enumerate(entries):
        if e.kind in TARGET_KINDS and (e.lang is None or e.lang == "" or e.lang.lower().startswith("en")) \
                and not is_abbreviation(e.text):
            key = " ".join(e.text.lower().split())
            if key:
                item = (e.kind not in NAME_KINDS, KIND_RANK[e.kind], order, e.iri, e.text, e.kind)
                found[(e.iri, key)] = min(item, found.get((e.iri, key), item))
    return [(iri, text, kind) for *_, iri, text, kind in sorted(found.values(), key=lambda t: (t[3], t[:3]))]


def settings() -> dict:
    """What decides the rules and targets; a saved index built under other settings is rebuilt."""
    return {"format": FORMAT, "min_support": MIN_SUPPORT, "max_segment": MAX_SEGMENT, "max_delete": MAX_DELETE,
            "delete_penalty": DELETE_PENALTY, "names_per_concept": MAX_NAMES_PER_CONCEPT,
            "kinds": list(TARGET_KINDS), "fillers": sorted(FILLERS), "stems": 2, "derived": "wordnet, no privatives",
            "letter": "A", "one word left": False,
            "dictionary": "wordnet", "abbreviations": False, "numbers": 3}


@dataclass(frozen=True)
class Hit:
    """A concept that a rewrite of the text names: the name it landed on, and the cost."""

    iri: str
    text: str
    kind: str
    cost: float

    @property
    def score(self) -> float:
        """0.9 for a match up to word order and fillers, less per rule applied: below a label's or
        exact synonym's 0.98-1.0 (a rewrite is a guess those entries make certain), and on the
        scale of dense cosines: one cheap rule (cost ~2) gives ~0.81, a right dense hit's usual score."""
        return round(0.9 * 0.95 ** self.cost, 4)


class RewriteIndex:
    """One KG generation's rules (in memory) and targets (an SQLite file, looked up by bag key).

    Thread-safe. Lookups read the file, so loading costs only the rules (~14k on the default KG).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        meta = dict(self._db.execute("SELECT name, value FROM meta"))
        if json.loads(meta.get("settings", "null")) != settings():
            self._db.close()
            raise ValueError(f"{self.path} was built with other rewrite settings")
        self.digest = meta.get("digest", "")
        self._corrections: dict[str, str | None] = {}  # token -> ``correct(token)``: running text repeats its words
        self.rewriter = Rewriter((tuple(lhs.split()), tuple(rhs.split()), cost, n)
                                 for lhs, rhs, cost, n in self._db.execute("SELECT lhs, rhs, cost, support FROM rules"))

    @staticmethod
    def build(path: str | Path, entries: Iterable, digest: str = "",
              derived: Mapping[str, Sequence[str]] | None = None,
              dictionary: Iterable[str] | None = None) -> RewriteIndex:
        """Mine rules from ``entries`` (lexicon entries) and write them with the targets to ``path``
        (``kg.kgdir.publish``: a reader never sees half a file, and older ``<kind>-*`` versions beside
        it go); ``digest`` names the KG generation. ``derived``: adjectives and the nouns they are
        formed from (``kg.wordnet.derived_nouns``); None reads them from WordNet where it is
        installed, and without it there are none (until the KG changes: the index is rebuilt with
        each generation). Only the pairs whose noun is a one-word label are kept. ``dictionary``:
        the words of the language, which ``correct`` never reads as a typo (``kg.wordnet.english_words``;
        None: from WordNet in the same way)."""
        path = Path(path)
        found = targets(entries)
        source = "given"
        if derived is None or dictionary is None:
            from kgnlu.kg.wordnet import derived_nouns, english_words, find_dir

            root = find_dir()
            source = f"wordnet {root}" if root is not None else "none"
            if derived is None:
                derived = derived_nouns(root) if root is not None else {}
            if dictionary is None:
                dictionary = english_words(root) if root is not None else ()
        words = sorted({normalized(w) for w in dictionary} | set(dictionary))
        labels = {bag_key(key_tokens(text)) for _, text, kind in found if kind == "label"}
        forms = sorted({(normalized(word), key) for word, nouns in derived.items() for noun in nouns
                        if (key := bag_key(key_tokens(noun))) in labels and " " not in key})
        names: dict[str, list[str]] = {}
        for iri, text, _ in found:
            names.setdefault(iri, []).append(text)
        rules = mine_rules(names)
        with publish(path) as staging, contextlib.closing(sqlite3.connect(staging)) as db:
            db.executescript(
                "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
                "CREATE TABLE rules (lhs TEXT NOT NULL, rhs TEXT NOT NULL, cost REAL NOT NULL, support INTEGER NOT NULL);"
                "CREATE TABLE targets (key TEXT NOT NULL, iri TEXT NOT NULL, text TEXT NOT NULL, kind TEXT NOT NULL,"
                " stems TEXT NOT NULL);"
                "CREATE TABLE derived (word TEXT NOT NULL, key TEXT NOT NULL);"
                "CREATE TABLE dictionary (word TEXT NOT NULL);")
            db.executemany("INSERT INTO meta VALUES (?, ?)", [("settings", json.dumps(settings())), ("digest", digest),
                                                              ("rules", str(len(rules))), ("targets", str(len(found))),
                                                              ("derived", f"{len(forms)} from {source}"),
                                                              ("dictionary", f"{len(words)} words from {source}")])
            db.executemany("INSERT INTO derived VALUES (?, ?)", forms)
            db.executemany("INSERT INTO dictionary VALUES (?)", ((w,) for w in words))
            db.executemany("INSERT INTO rules VALUES (?,?,?,?)", ((" ".join(a), " ".join(b), c, n) for a, b, c, n in rules))
            rows = ((key_tokens(text), iri, text, kind) for iri, text, kind in found)
            db.executemany("INSERT INTO targets VALUES (?,?,?,?,?)",
                           ((bag_key(k), iri, text, kind, morph_key(k)) for k, iri, text, kind in rows))
            db.execute("CREATE INDEX targets_key ON targets (key)")
            db.execute("CREATE INDEX targets_stems ON targets (stems)")
            db.commit()
        return RewriteIndex(path)

    def __len__(self) -> int:
        return len(self.rewriter)

    @cached_property
    def keys(self) -> frozenset[str]:
        """The targets' bag keys: a phrase or variant with another key names nothing, so SQLite is
        asked only for these."""
        with self._lock:
            return frozenset(k for (k,) in self._db.execute("SELECT DISTINCT key FROM targets"))

    @cached_property
    def key_set(self) -> KeySet:
        """``keys`` for ``Rewriter.variants``."""
        return KeySet(self.keys)

    @cached_property
    def target_words(self) -> frozenset[str]:
        """The words of the targets' keys."""
        return frozenset(" ".join(self.keys).split())

    @cached_property
    def words(self) -> frozenset[str]:
        """Every word a rewrite can keep or consume: the targets' words and the rules' left-hand
        sides. A phrase with another word names no target whatever the rules do (a word leaves
        a phrase only through a rule), so ``lookup`` need not search its rewrites."""
        return self.target_words | {w for lhs in self.rewriter._rules for w in lhs}

    @cached_property
    def stem_keys(self) -> frozenset[str]:
        """The targets' keys over word stems (``morph_key``)."""
        with self._lock:
            return frozenset(k for (k,) in self._db.execute("SELECT DISTINCT stems FROM targets"))

    @cached_property
    def stem_words(self) -> frozenset[str]:
        return frozenset(" ".join(self.stem_keys).split())

    def named(self, text: str, stems: bool = True) -> list[Hit]:
        """The concepts one of whose names or exact synonyms has the words of ``text`` in some
        order (fillers aside, cost 0): no rule applied, so no search. Failing that, with ``stems``,
        those whose name has the same word stems (``morph_key``, cost ``MORPH_COST``)."""
        return self.named_tokens(key_tokens(text), stems)

    def known(self, token: str) -> bool:
        """Whether a phrase with this key token can name anything through ``named`` or ``derived``."""
        return token in self.words or stem(token) in self.stem_words or token in self.derived_keys

    @cached_property
    def derived_keys(self) -> dict[str, tuple[str, ...]]:
        """Adjective -> the keys of the labels of the nouns it is formed from ("febrile": "fever")."""
        with self._lock:
            rows = self._db.execute("SELECT word, key FROM derived ORDER BY word, key").fetchall()
        out: dict[str, tuple[str, ...]] = {}
        for word, key in rows:
            out[word] = out.get(word, ()) + (key,)
        return out

    def derived(self, token: str) -> list[Hit]:
        """The concepts labelled by a noun that the adjective ``token`` is formed from, in the
        dictionary's sense (``kg.wordnet.derived_nouns``: "febrile" names Fever, "blind" Blindness,
        where no ending rule of ``kg.morph`` reaches), at ``MORPH_COST``."""
        keys = self.derived_keys.get(token, ())
        if not keys:
            return []
        with self._lock:
            rows = self._db.execute(f"SELECT iri, text, kind FROM targets WHERE kind = 'label' AND key IN "
                                    f"({','.join('?' * len(keys))})", keys).fetchall()
        return sorted((Hit(iri, name, kind, MORPH_COST) for iri, name, kind in rows), key=lambda h: h.iri)

    @cached_property
    def _spelling(self) -> tuple[list[str], np.ndarray, np.ndarray, int]:
        """The target words ``correct`` may return, the hashes of their ``_deletions``, sorted,
        each with its word's position, and the longest word's length. Hashes, not strings: 600k keys on the default KG take 7 MB
        this way. They are this process's string hashes, never stored; a collision only costs an
        ``_one_edit`` test."""
        words = sorted(w for w in self.target_words if len(w) >= TYPO_MIN_LETTERS and w.isalpha())
        keys = np.array([hash(d) for w in words for d in _deletions(w)], np.int64)
        at = np.repeat(np.arange(len(words)), [len(w) + 1 for w in words])
        order = keys.argsort(kind="stable")
        return words, keys[order], at[order], max(map(len, words), default=0)

    @cached_property
    def dictionary(self) -> frozenset[str]:
        """The words of the language (``build``'s ``dictionary``)."""
        with self._lock:
            return frozenset(w for (w,) in self._db.execute("SELECT word FROM dictionary"))

    def in_dictionary(self, token: str) -> bool:
        """Whether ``token`` (normalised) is a word of the language, or a regular inflection of one
        ("programs", "happened", "fastening"): then it is no typo, though one edit from a name
        ("program" is not Prograf's "prograf", "either" not "ether", "military" not "miliary")."""
        words = self.dictionary
        if token in words:
            return True
        for ending in ("ing", "ed", "es", "s", "d", "er", "est", "ly"):
            base = token[: -len(ending)]
            if token.endswith(ending) and len(base) >= 3 and (
                    base in words or base + "e" in words or base[-1:] == base[-2:-1] and base[:-1] in words):
                return True
        return False

    def correct(self, token: str) -> str | None:
        """The one target word within one edit (insertion, deletion, substitution or swap of
        neighbours) of ``token``, a word no target has and no dictionary word; None when there is
        none or more than one."""
        if len(token) < TYPO_MIN_LETTERS or not token.isalpha() or token in self.words:
            return None
        fixed = self._corrections.get(token, "")
        if fixed == "":
            if len(token) > self._spelling[3] + 1:  # no target is one edit away, and its deletions would cost len²
                return None
            # A word of the language is itself, though one edit from a name: answered once, cached.
            found = set() if self.in_dictionary(token) else self._one_edit_words(token)
            if len(self._corrections) > 200_000:  # a cache, not state: a long-running service reads much text
                self._corrections.clear()
            fixed = self._corrections[token] = found.pop() if len(found) == 1 else None
        return fixed

    def _one_edit_words(self, token: str) -> set[str]:
        """The target words within one edit of ``token``, through the index of their deletions."""
        words, keys, at, _ = self._spelling
        probes = np.array([hash(d) for d in _deletions(token)], np.int64)
        where = keys.searchsorted(probes)
        found = set()
        for j in np.flatnonzero(keys.take(where, mode="clip") == probes).tolist() if len(keys) else ():
            i, h = int(where[j]), probes[j]
            while i < len(keys) and keys[i] == h:  # the words that share this deletion
                if _one_edit(token, w := words[at[i]]):
                    found.add(w)
                i += 1
        return found

    def named_tokens(self, start: Sequence[str], stems: bool = True) -> list[Hit]:
        """``named`` for a phrase's ``key_tokens``."""
        if not start:
            return []
        # A phrase with a word no target has names nothing as it stands: no key to sort.
        column, key, cost = "key", bag_key(start) if self.words.issuperset(start) else None, 0.0
        if key is None or key not in self.keys:
            if not stems:
                return []
            column, key, cost = "stems", morph_key(start), MORPH_COST
            if key not in self.stem_keys:
                return []
        with self._lock:
            rows = self._db.execute(f"SELECT iri, text, kind FROM targets WHERE {column} = ?", (key,)).fetchall()
        hits = (Hit(iri, name, kind, cost) for iri, name, kind in rows)
        return sorted(hits, key=lambda h: (KIND_RANK[h.kind], h.iri))

    def lookup(self, text: str, k: int = 10) -> list[Hit]:
        """Up to ``k`` concepts that a rewrite of ``text`` names, one per IRI, cheapest first
        (then by kind of name, then IRI); [] when none does."""
        start = key_tokens(text)
        if not self.words.issuperset(start):
            return []
        costs = self.rewriter.variants(text, start, self.key_set)  # most variants name nothing: skip them
        keys = sorted(costs)
        best: dict[str, Hit] = {}
        for i in range(0, len(keys), 500):  # SQLite's default limit on bound parameters is 999
            chunk = keys[i:i + 500]
            with self._lock:
                rows = self._db.execute(f"SELECT key, iri, text, kind FROM targets WHERE key IN "
                                        f"({','.join('?' * len(chunk))})", chunk).fetchall()
            for key, iri, name, kind in rows:
                hit = Hit(iri, name, kind, costs[key])
                old = best.get(iri)
                if old is None or (hit.cost, KIND_RANK[kind]) < (old.cost, KIND_RANK[old.kind]):
                    best[iri] = hit
        return sorted(best.values(), key=lambda h: (h.cost, KIND_RANK[h.kind], h.iri))[:k]

    def close(self) -> None:
        self._db.close()

"""Curation: which of the linker's candidate mentions a curator would annotate, learned from
annotated documents (``kgnlu train curation``; the shipped model learned GSC+'s PubMed abstracts).

The linker proposes more than curators mark: the terms inside longer ones ("brachydactyly" in
"brachydactyly type C"), grouping classes ("Abnormality of the skin"), concepts a corpus's
curators never use. And curators name findings in words no ontology lists ("jaw cysts",
"happy puppet"). A curation model holds:

- **aliases**: surfaces the training documents annotate, each with its concept and how often the
  surface is annotated where it occurs; the frequent ones are proposed as ``via="curated"``
  candidates (``Curator.alias_spans``);
- **priors**: how often each concept, and each normalised span text, that the linker proposed in
  the training documents was annotated there;
- **a logistic regression** over those priors and the candidate's own features (nesting, length,
  how it was found, the ontology branch it is in, how general the concept is), kept when its
  probability clears a threshold chosen by cross-validation.

A model applies only to the concepts it learned about: a mention of a concept outside its
branches, or on a KG that holds none of them, passes untouched (``Curator.applies``). Linking
for the NLI and RE models never goes through it (their manifests' ``linking``).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kgnlu.kg.rewrite import normalized
from kgnlu.types import InputError

CONFIG_FILE = "curation.json"
WEIGHTS_FILE = "curation.safetensors"
FORMAT = 1
VIAS = ("lexicon", "rewrite", "coordination", "nested", "curated", "dense", "abbreviation")
_WORD = re.compile(r"\w+")
_PROPOSED = frozenset(("nested", "curated"))  # what curation adds to the linker's own mentions
_HEAD = ("concept_prior", "concept_seen", "text_prior", "text_seen", "inside", "contains", "words", "all_caps",
         "log_descendants", "score", "alias_rate", "alias_agrees", "alias_disagrees")
_VIA_HOT = {v: tuple(v == w for w in VIAS) for v in VIAS}
_NO_VIA = (False,) * len(VIAS)


def norm_text(text: str) -> str:
    """A span's words, lower-cased and normalised as the lexicon compares them ("Cysts" -> "cyst")."""
    return _norm_words(_WORD.findall(text))


def _norm_words(words: list[str]) -> str:
    return " ".join([normalized(w.lower()) for w in words])


@dataclass
class Stats:
    """Counts over training documents: the priors and aliases a model reads its features from."""

    concept_pred: Counter = field(default_factory=Counter)  # iri -> candidates proposed
    concept_gold: Counter = field(default_factory=Counter)  # iri -> of them annotated
    text_pred: Counter = field(default_factory=Counter)  # norm_text -> candidates proposed
    text_gold: Counter = field(default_factory=Counter)
    alias: dict[str, Counter] = field(default_factory=dict)  # lower-cased surface -> iri -> annotations
    alias_seen: Counter = field(default_factory=Counter)  # surface -> occurrences in the documents

    def add(self, other: Stats, sign: int = 1) -> None:
        for name in ("concept_pred", "concept_gold", "text_pred", "text_gold", "alias_seen"):
            mine, theirs = getattr(self, name), getattr(other, name)
            for k, v in theirs.items():
                mine[k] += sign * v
        for surface, iris in other.alias.items():
            mine = self.alias.setdefault(surface, Counter())
            for k, v in iris.items():
                mine[k] += sign * v

    def annotated_rate(self, surface: str) -> float:
        """How often ``surface``, where it occurs in the documents, is annotated."""
        seen = self.alias_seen.get(surface, 0)
        return sum(self.alias.get(surface, {}).values()) / seen if seen > 0 else 0.0

    def aliases(self, min_rate: float) -> dict[str, str]:
        """Surface -> its most annotated concept, for the surfaces annotated at least ``min_rate``
        of the times they occur."""
        out = {}
        for surface, iris in self.alias.items():
            iris = {k: v for k, v in iris.items() if v > 0}
            if iris and self.annotated_rate(surface) >= min_rate:
                out[surface] = min(iris, key=lambda k: (-iris[k], k))
        return out

    def to_json(self) -> dict:
        return {"concept_pred": dict(self.concept_pred), "concept_gold": dict(self.concept_gold),
                "text_pred": dict(self.text_pred), "text_gold": dict(self.text_gold),
                "alias": {k: dict(v) for k, v in self.alias.items()}, "alias_seen": dict(self.alias_seen)}

    @classmethod
    def from_json(cls, d: dict) -> Stats:
        return cls(Counter(d["concept_pred"]), Counter(d["concept_gold"]), Counter(d["text_pred"]),
                   Counter(d["text_gold"]), {k: Counter(v) for k, v in d["alias"].items()}, Counter(d["alias_seen"]))


def _logit_prior(hits: int, n: int) -> float:
    p = (hits + 1) / (n + 2)  # Laplace: an unseen concept sits at even odds
    return math.log(p / (1 - p))


def _word_pattern(words: Iterable[str]) -> str:
    """A regex of exactly ``words`` as a trie of alternations (``re`` tries a flat alternation's
    branches one after the other at every position)."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}  # a word ends here

    def pattern(node: dict) -> str:
        branches = [re.escape(ch) + pattern(sub) for ch, sub in sorted(node.items()) if ch]
        if not branches:
            return ""
        if len(branches) == 1 and "" not in node:
            return branches[0]
        return "(?:" + "|".join(branches) + ")" + ("?" if "" in node else "")

    return pattern(trie)


class AliasIndex:
    """Whole-word, case-insensitive occurrences of surfaces, the longest at each word first and
    never overlapping, as one left-to-right pass over the words that begin a surface (found by one
    regex, a trie of those words), trying at each only the surfaces that begin with it (a regex
    alternation of hundreds of surfaces tries each at every character)."""

    def __init__(self, aliases: dict[str, str]):
        self.aliases = aliases
        self._by_first: dict[str, list[str]] = {}
        for surface in sorted(aliases, key=lambda s: (-len(_WORD.findall(s)), -len(s), s)):
            if words := _WORD.findall(surface):
                self._by_first.setdefault(words[0], []).append(surface)
        self._first = re.compile(r"(?<!\w)" + _word_pattern(self._by_first) + r"(?!\w)")  # whole words only

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        if not self._by_first:
            return []
        low = text.lower()
        out, free = [], 0
        for m in self._first.finditer(low):
            start = m.start()
            if start < free:
                continue
            for surface in self._by_first[m.group()]:  # most words first, then longest
                # A word starts at ``start`` and none goes on at ``end``: the text's words there
                # are the surface's own, and so is the punctuation between them.
                end = start + len(surface)
                if low.startswith(surface, start) and (end == len(low) or not _WORD.match(low, end)):
                    out.append((start, end, self.aliases[surface]))
                    free = end
                    break
        return out


@dataclass(frozen=True)
class Candidate:
    """A linked mention as the curation features see it."""

    start: int
    end: int
    text: str
    iri: str
    via: str
    score: float
    # A qualifier left as a mention of a text that is one term (a query: "autosomal dominant"):
    # the linking contract makes it a mention, and no curated document is like such a text.
    qualifier: bool = False


def nesting(bounds: Sequence[tuple[int, int]]) -> tuple[list[bool], list[bool]]:
    """For each ``(start, end)``: whether another span (other bounds) contains it, and whether it
    contains another; sorted sweeps, so a long document costs ``n log n``, not ``n**2``."""
    distinct = sorted(set(bounds), key=lambda b: (b[0], -b[1]))
    inside, reach = {}, -1
    for a, b in distinct:  # every earlier span starts no later and, if at the same start, ends later
        inside[(a, b)] = reach >= b
        reach = max(reach, b)
    contains, lowest = {}, None
    for a, b in sorted(distinct, key=lambda b: (b[1], -b[0])):  # earlier: ends no later, starts later at a tie
        contains[(a, b)] = lowest is not None and lowest >= a
        lowest = a if lowest is None else max(lowest, a)
    return [inside[b] for b in bounds], [contains[b] for b in bounds]


class Features:
    """The feature vector of a candidate: one definition for training and for inference."""

    def __init__(self, roots: Sequence[str], ancestors: Callable[[str], Iterable[str]],
                 n_descendants: Callable[[str], int]):
        self.roots = list(roots)
        self.ancestors = ancestors
        self.n_descendants = n_descendants
        self._root: dict[str, str | None] = {}  # iri (not a root) -> root()

    @property
    def names(self) -> list[str]:
        return list(_HEAD) + [f"via:{v}" for v in VIAS] + [f"root:{r}" for r in self.roots]

    def root(self, iri: str) -> str | None:
        """The branch root ``iri`` is under (itself included), None when under none of them."""
        if iri in self.roots:
            return iri
        if iri not in self._root:  # asked for every mention of a document's concepts
            up = self.ancestors(iri)  # the linker's: a cached frozenset
            self._root[iri] = next((r for r in self.roots if r in up), None)
        return self._root[iri]

    def rows(self, cands: Sequence[Candidate], stats: Stats) -> np.ndarray:
        return self.table(cands, stats)[0]

    def table(self, cands: Sequence[Candidate], stats: Stats) -> tuple[np.ndarray, list[bool]]:
        """``rows``, and each candidate's ``has_evidence`` from the same counts; what depends on the
        text or on the concept alone is read once per call (a document repeats both)."""
        if not cands:
            return np.zeros((0, len(self.names)), dtype=np.float64), []
        inside, contains = nesting([(c.start, c.end) for c in cands])
        texts, concepts, rows, evidence = {}, {}, [], []
        for c, ins, con in zip(cands, inside, contains):
            if (tf := texts.get(c.text)) is None:
                tf = texts[c.text] = _text_features(c.text, stats)
            if (cf := concepts.get(c.iri)) is None:
                cf = concepts[c.iri] = self._concept_features(c.iri, stats)
            text_prior, text_seen, words, caps, rate, iris, text_evidence = tf
            concept_prior, concept_seen, log_descendants, root_hot, concept_evidence = cf
            rows.append((concept_prior, concept_seen, text_prior, text_seen, ins, con, words, caps, log_descendants,
                         c.score, rate, c.iri in iris, bool(iris) and c.iri not in iris)
                        + _VIA_HOT.get(c.via, _NO_VIA) + root_hot)
            evidence.append(concept_evidence or text_evidence)
        return np.array(rows, dtype=np.float64), evidence

    def _concept_features(self, iri: str, stats: Stats) -> tuple:
        pred = stats.concept_pred[iri]
        root = self.root(iri)
        return (_logit_prior(stats.concept_gold[iri], pred), math.log1p(pred), math.log1p(self.n_descendants(iri)),
                tuple([root == r for r in self.roots]), pred > 0)


def _text_features(text: str, stats: Stats) -> tuple:
    words = _WORD.findall(text)
    t = _norm_words(words)
    surface = text.lower()
    alias = stats.alias.get(surface, {})
    # Counts can be zero where a training row's own document was subtracted: not an alias.
    iris = {k: v for k, v in alias.items() if v > 0}
    pred = stats.text_pred[t]
    return (_logit_prior(stats.text_gold[t], pred), math.log1p(pred), len(words), text.isupper(),
            stats.annotated_rate(surface), iris, pred > 0 or sum(alias.values()) > 0)


def has_evidence(c: Candidate, stats: Stats) -> bool:
    """Whether the training documents said anything about the candidate's concept or words."""
    return (stats.concept_pred.get(c.iri, 0) > 0 or stats.text_pred.get(norm_text(c.text), 0) > 0
            or sum(stats.alias.get(c.text.lower(), {}).values()) > 0)


def keep_scored(cands: Sequence[Candidate], p: Sequence[float], threshold: float, stats: Stats, features: Features,
                nested: bool = True, evidence: Sequence[bool] | None = None) -> list[bool]:
    """A candidate is kept when its probability clears ``threshold``, and also, whatever its
    probability, when it is the plain linker's own mention (not a nested term nor an alias) of a
    concept and words the training documents never showed: with no evidence about it, the
    linker's answer stands (GSC+'s curators never met "rash" in a clinical note). A concept outside
    the model's branches is always kept, and so is the qualifier of a text that is one term (the
    linking contract: a qualifier is a mention where the text names no finding). In running text
    a qualifier left alone is scored as any concept is: GSC+'s curators annotated none of those
    its genetics abstracts name without a finding ("sporadic", "autosomal dominant"). ``nested``
    False: nested terms, and aliases inside another kept mention, are dropped (what
    ``Linker.link_many(nested=False)`` promises). ``evidence``: each candidate's ``has_evidence``,
    when the caller has it already (``Features.table``)."""
    keep = [bool(q >= threshold) or features.root(c.iri) is None or c.qualifier
            or (c.via not in _PROPOSED and not (has_evidence(c, stats) if evidence is None else evidence[i]))
            for i, (c, q) in enumerate(zip(cands, p))]
    if nested:
        return keep
    kept = [i for i, k in enumerate(keep) if k]
    within = dict(zip(kept, nesting([(cands[i].start, cands[i].end) for i in kept])[0]))
    return [k and c.via != "nested" and not (c.via == "curated" and within[i])
            for i, (c, k) in enumerate(zip(cands, keep))]


@dataclass
class Regression:
    """Logistic regression on standardised features, fitted by full-batch gradient descent from
    zero: deterministic, and small enough for numpy."""

    weight: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, l2: float = 0.01, steps: int = 3000, lr: float = 0.2) -> Regression:
        mean, scale = x.mean(0), x.std(0) + 1e-3
        xn = (x - mean) / scale
        w, b = np.zeros(x.shape[1]), 0.0
        for _ in range(steps):
            g = 1 / (1 + np.exp(-(xn @ w + b))) - y
            w -= lr * (xn.T @ g / len(y) + l2 * w)
            b -= lr * float(g.mean())
        return cls(w, b, mean, scale)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(((x - self.mean) / self.scale) @ self.weight + self.bias)))


class Curator:
    """A trained curation model (``load_curator``), applied by ``Linker.link_many(curator=...)``."""

    def __init__(self, config: dict, regression: Regression, path: Path | None = None):
        self.config = config
        self.path = path
        self.regression = regression
        self.stats = Stats.from_json(config["stats"])
        self.threshold = float(config["threshold"])
        self.roots = list(config["roots"])
        self.aliases = self.stats.aliases(float(config["min_alias_rate"]))
        self._index = AliasIndex(self.aliases)
        self._known = frozenset(self.stats.concept_pred) | frozenset(self.aliases.values())

    def applies(self, known: Callable[[str], bool], sample: int = 200) -> bool:
        """Whether the KG holds the concepts this model learned about (most of a fixed sample)."""
        iris = sorted(self._known)[:sample]
        return bool(iris) and sum(map(known, iris)) >= len(iris) / 2

    def alias_spans(self, text: str) -> list[tuple[int, int, str]]:
        return self._index.spans(text)

    def keep(self, cands: Sequence[Candidate], features: Features, nested: bool = True) -> list[bool]:
        """Which candidates a curator would annotate (``keep_scored``)."""
        if not cands:
            return []
        x, evidence = features.table(cands, self.stats)
        return keep_scored(cands, self.regression.predict(x), self.threshold, self.stats, features, nested, evidence)

    def save(self, out: Path) -> None:
        from safetensors.numpy import save_file

        out.mkdir(parents=True, exist_ok=True)
        r = self.regression
        save_file({"weight": r.weight, "bias": np.array([r.bias]), "mean": r.mean, "scale": r.scale},
                  str(out / WEIGHTS_FILE))
        (out / CONFIG_FILE).write_text(json.dumps(self.config, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def curate(mentions: list, curator: Curator, features: Features, nested: bool,
           proposed: Callable[[list], list[Candidate]]) -> list:
    """The linker's ``mentions`` (``Mention``s, aliases as ``via="curated"``) that ``curator``
    keeps; ``proposed`` turns mentions into the ``Candidate``s it reads.

    An alias on the span and concept of a linked mention is that mention. An alias on the very
    span of a concept outside the model's branches (a MONDO disease that the curators named with
    an HPO phenotype) is another reading of that mention, which the model keeps whatever it scores.
    Either way the alias goes, and the qualifiers attached to it go to the mention kept there.
    """
    linked = {(m.start, m.end, m.iri): m for m in mentions if m.via != "curated"}
    hosts = {(m.start, m.end): m for m in mentions if m.via != "curated" and features.root(m.iri) is None}
    rest = []
    for m in mentions:
        if m.via != "curated":
            rest.append(m)
            continue
        host, twin = hosts.get((m.start, m.end)), linked.get((m.start, m.end, m.iri))
        if host is not None and m.iri != host.iri and m.iri not in host.readings:
            host.readings.append(m.iri)
        if host is None and twin is None:
            rest.append(m)
        elif m.modifiers:
            keeper = host or twin
            keeper.modifiers += [q for q in m.modifiers if q not in keeper.modifiers]
    keep = curator.keep(proposed(rest), features, nested)
    return [m for m, k in zip(rest, keep) if k]


def load_curator(path: str | Path) -> Curator:
    """The curation model in ``path`` (``curation.json`` + ``curation.safetensors``); ``InputError``
    when it is missing, unreadable or of another format."""
    from safetensors.numpy import load_file

    path = Path(path)
    if not (path / CONFIG_FILE).is_file() or not (path / WEIGHTS_FILE).is_file():
        raise InputError(f"no curation model in {path}: it needs {CONFIG_FILE} and {WEIGHTS_FILE} "
                         "(kgnlu train curation)")
    try:
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
        t = load_file(str(path / WEIGHTS_FILE))
        regression = Regression(t["weight"], float(t["bias"][0]), t["mean"], t["scale"])
    except (OSError, ValueError, KeyError, IndexError) as e:  # JSON and safetensors errors are ValueErrors
        raise InputError(f"{path}: not a readable curation model ({type(e).__name__}: {e})") from None
    version = config.get("format") if isinstance(config, dict) else None
    if version != FORMAT:
        raise InputError(f"{path}: curation model format {version!r}, this kgnlu reads {FORMAT}")
    try:
        names = Features(config["roots"], lambda iri: (), lambda iri: 0).names
        if config["features"] != names or len(regression.weight) != len(names):
            raise InputError(f"{path}: the model's {len(regression.weight)} weights and features are not the "
                             f"{len(names)} this kgnlu computes: retrain it (kgnlu train curation)")
        return Curator(config, regression, path)
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"{path}: not a readable curation model ({type(e).__name__}: {e})") from None


def default_curator_path() -> Path:
    from importlib import resources

    return Path(str(resources.files("kgnlu") / "assets" / "curation"))

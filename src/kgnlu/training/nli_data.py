"""NLI supervision generated from the KG: premise/hypothesis pairs whose labels follow from the closure tables.

Each pair is built from *assertions* (a concept with a polarity) by one of the natural-logic
patterns of ``kg.rules``, or one of its traps, and phrased with templates from
``data/templates/nli.json``. Below, X ⊑ Y strictly and all concepts belong to one category:

=================  ==================================================================  =============
type               premise ⟶ hypothesis                                                label
=================  ==================================================================  =============
mono-up            +X ⟶ +Y                                                             entailment
mono-down-neg      -Y ⟶ -X                                                             entailment
syn-eq             ±X ⟶ ±X' (another name of X, or an equivalent class)                entailment
multi-entail       +X1 +X2 (+X3) ⟶ +Xi or +Y(Xi); also -X1 -X2 ⟶ -Xi, "+A but no B"    entailment
reverse-up         +Y ⟶ +X  (the specific does not follow from the general)            neutral
neg-upward         -X ⟶ -Y                                                             neutral
unrelated          ±X ⟶ ±Z  (no subsumption either way, another top-level branch)      neutral
lexical-overlap    +Y ⟶ +X, -X ⟶ -Y where X's name contains Y's words                  neutral
                   ("seizure" ⟶ "focal seizure"), or two unrelated concepts sharing a word
multi-neutral      a list ⟶ an unrelated concept, or a more specific one of an item    neutral
hedge              "possible X" ⟶ +X or -X                                             neutral
question           "does the patient have X?" ⟶ +X or -X                               neutral
clash-neg          +X ⟶ -Y, -Y ⟶ +X, +X ⟶ -X, -X ⟶ +X                                  contradiction
syn-clash          ±X ⟶ ∓X'                                                            contradiction
clash-disjoint     +X ⟶ +Z, X and Z disjoint (identity frames only: "this is an X")   contradiction
multi-clash        a list ⟶ the denial of an item or of an ancestor of an item         contradiction
general            hand-written general English from the template file (no concept)    any
=================  ==================================================================  =============

Every KG-built pair is re-checked against the same rules over the closure tables before it is
kept: an entailment must be provable, a contradiction must clash, and a neutral pair must be
neither (multiple inheritance can turn an intended trap into a provable pair; such draws are
dropped). Hedges and questions are the exception: their premises assert nothing, so they are
neutral although the rule layer, which reads "possible X" as +X, would decide them.

Which concepts are used, their surface forms, branches and held-out split come from
``nli_concepts.ConceptIndex``; phrasing comes from frames in the template file (one predicate and
one subject per frame, shared by premise and hypothesis). Splits hold out concepts: every concept
(with its equivalence class) falls into train, dev or test by a seeded hash of its IRI, and a
pair joins a split only if all its concepts are there; the general-English pairs are split by
a hash of their index the same way.
Output is deterministic for a seed (same bytes). Rows carry, besides the contract fields
(id, premise, hypothesis, label, type, concepts, split), the intended assertions per side
(``premise_concepts`` / ``hypothesis_concepts``: ``[iri, negated]``, negated ``null`` for a
hedged or questioned mention), the frame and its register.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sqlite3
import time
from collections import Counter, defaultdict
from pathlib import Path

from kgnlu.training.nli_concepts import (
    CON, ENT, NEU, SPLITS, ConceptIndex, content_words, pluralize, split_of, with_article,
)
from kgnlu.training.nli_validate import validate  # noqa: F401 - nli_data.validate, as before

ID2LABEL = {0: "entailment", 1: "neutral", 2: "contradiction"}
LABEL2ID = {v: k for k, v in ID2LABEL.items()}
LABELS = (ENT, NEU, CON)
TYPES = {
    ENT: ("mono-up", "mono-down-neg", "syn-eq", "multi-entail", "general"),
    NEU: ("reverse-up", "neg-upward", "unrelated", "lexical-overlap", "multi-neutral", "hedge", "question", "general"),
    CON: ("clash-neg", "syn-clash", "clash-disjoint", "multi-clash", "general"),
}
HAS_ONLY = frozenset({"unrelated", "multi-entail", "multi-neutral", "multi-clash"})  # two facts that can co-hold
IS_ONLY = frozenset({"clash-disjoint"})  # identity predicates: "this is an apple"
UNCHECKED = frozenset({"hedge", "question", "general"})  # premises that assert nothing the rules can use
DEFAULT_TEMPLATES = Path(__file__).resolve().parents[3] / "data" / "templates" / "nli.json"


def templates_digest(path: Path) -> str:
    """What ``stats.json`` records of the templates data was generated from."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def stale_data(data_dir: str | Path) -> str | None:
    """Why pairs that kgnlu generated in ``data_dir`` no longer match the shipped templates (None
    if they do, or if ``stats.json`` is absent: pairs from elsewhere are the caller's)."""
    stats = Path(data_dir) / "stats.json"
    if not stats.is_file():
        return None
    try:
        digest = json.loads(stats.read_text(encoding="utf-8")).get("templates_sha256")
    except (OSError, ValueError):
        return "unreadable stats.json"
    if digest != templates_digest(DEFAULT_TEMPLATES):
        return f"generated from other templates than {DEFAULT_TEMPLATES.name}"
    return None


def load_templates(path: Path | None = None) -> dict:
    doc = json.loads(Path(path or DEFAULT_TEMPLATES).read_text(encoding="utf-8"))
    if doc.get("format") != "kgnlu.nli-templates":
        raise ValueError(f"{path}: not a kgnlu NLI template file")
    return doc


class _Pools:
    """What one split of one category can draw from (lists, sorted: draws are reproducible)."""

    def __init__(self, index: ConceptIndex, members: list[int]):
        self.concepts = members
        mset = set(members)
        self.up = [(x, a) for x in members for a in sorted(index.up[x]) if a in mset]
        # x -> (ancestors, weights 1/distance): draws are uniform over concepts and favour close
        # ancestors ("focal seizure" -> "seizure" more often than -> "abnormality of the nervous system").
        self.ancestors = {x: ([a for a in sorted(index.up[x]) if a in mset], [1.0 / index.up[x][a] for a in
                              sorted(index.up[x]) if a in mset]) for x in members}
        self.ancestors = {x: v for x, v in self.ancestors.items() if v[0]}
        self.with_ancestors = sorted(self.ancestors)
        self.overlap = []
        for x, a in self.up:
            hit = next(((i, j) for i, fx in enumerate(index.forms[x]) for j, fa in enumerate(index.forms[a])
                        if content_words(fa) and content_words(fa) < content_words(fx)), None)
            if hit:
                self.overlap.append((x, a, *hit))
        self.syn = [(x, x, 0, j) for x in members for j in range(1, len(index.forms[x]))]
        self.syn += [(x, y, 0, 0) for x in members for y in index.eq[x] if y in mset and y > x]
        self.disjoint = sorted((x, y) for x, y in index.disjoint if x in mset and y in mset)
        self.by_word: dict[str, list[int]] = defaultdict(list)
        for x in members:
            for w in sorted(content_words(index.forms[x][0])):
                self.by_word[w].append(x)
        common = max(20, len(members) // 50)  # "abnormal", "disease": sharing them is no trap
        self.by_word = {w: xs for w, xs in self.by_word.items() if 1 < len(xs) <= common}
        self.down = {x: [d for d in index.down.get(x, ()) if d in mset] for x in members}


class _Builder:
    """Draws one pair of a given type for one split."""

    def __init__(self, index: ConceptIndex, templates: dict, domain: dict, split: str, rng: random.Random,
                 general: list[dict]):
        self.ix, self.t, self.domain, self.split, self.rng = index, templates, domain, split, rng
        self.frames = templates["frames"]
        self.general = general
        by_cat: dict[str, list[int]] = defaultdict(list)
        for i in sorted(index.forms):
            if index.split[i] == split:
                by_cat[index.cat[i]].append(i)
        self.pools = {c: _Pools(index, m) for c, m in sorted(by_cat.items())}
        self.cat_weights = {c: domain["categories"][c].get("weight", 1.0) for c in self.pools}

    # -- phrasing ------------------------------------------------------------------------------

    def _frame(self, cat: str, typ: str, slots: tuple[str, ...]) -> tuple[str, dict] | None:
        names, weights = [], []
        for name, w in sorted(self.domain["categories"][cat]["frames"].items()):
            f = self.frames[name]
            if (typ in HAS_ONLY and f["kind"] != "has") or (typ in IS_ONLY and f["kind"] != "is"):
                continue
            if ("only_types" in f and typ not in f["only_types"]) or not all(f.get(s) for s in slots):
                continue
            names.append(name)
            weights.append(w)
        if not names:
            return None
        name = self.rng.choices(names, weights)[0]
        return name, self.frames[name]

    def _form(self, x: int, prefer_label: float = 0.6) -> int:
        n = len(self.ix.forms[x])
        return 0 if n == 1 or self.rng.random() < prefer_label else self.rng.randrange(1, n)

    def _surface(self, frame: dict, x: int, k: int) -> str:
        text = self.ix.forms[x][k]
        mode = frame.get("form", "plain")
        if mode == "plural":
            return pluralize(text, self.ix.uncountable)
        if mode == "article":
            return with_article(text, self.ix.uncountable)
        return text

    def _list(self, frame: dict, items: list[tuple[int, int]], conj: str) -> str:
        words = [self._surface(frame, x, k) for x, k in items]
        if len(words) == 2:
            return f"{words[0]} {conj} {words[1]}"
        comma = "," if self.rng.random() < 0.3 else ""
        return f"{', '.join(words[:-1])}{comma} {conj} {words[-1]}"

    def _say(self, frame: dict, slot: str, subject: str | None, items: list[tuple[int, int]]) -> str:
        text = self.rng.choice(frame[slot])
        if slot in ("multi_pos", "multi_neg"):
            text = text.replace("{list_or}", self._list(frame, items, "or")).replace("{list}", self._list(frame, items, "and"))
        elif slot == "mixed":
            text = text.replace("{p}", self._surface(frame, *items[0])).replace("{n}", self._surface(frame, *items[1]))
        else:
            text = text.replace("{x}", self._surface(frame, *items[0]))
        if subject:
            text = text.replace("{S}", subject).replace("{s}", subject[0].lower() + subject[1:])
        return text[0].upper() + text[1:] if text[:1].islower() else text

    # -- drawing concepts ----------------------------------------------------------------------

    def _pick_unrelated(self, pool: _Pools, k: int, tries: int = 40) -> list[int] | None:
        out: list[int] = []
        for _ in range(tries):
            x = self.rng.choice(pool.concepts)
            if all(self.ix.unrelated(x, y) for y in out):
                out.append(x)
                if len(out) == k:
                    return out
        return None

    def _anc(self, x: int, pool: _Pools) -> int | None:
        ups = [a for a in sorted(self.ix.up[x]) if self.ix.split[a] == self.split]
        return self.rng.choice(ups) if ups else None

    def _desc(self, x: int, pool: _Pools) -> int | None:
        d = pool.down.get(x)
        return self.rng.choice(d) if d else None

    # -- one pair ------------------------------------------------------------------------------

    def build(self, typ: str, label: str) -> dict | None:
        if typ == "general":
            return self._general(label)
        if not self.pools:
            return None
        cats = sorted(self.pools)
        cat = self.rng.choices(cats, [self.cat_weights[c] for c in cats])[0]
        pool = self.pools[cat]
        if not pool.concepts:
            return None
        got = getattr(self, "_" + typ.replace("-", "_"))(pool, cat, typ)
        if got is None:
            return None
        fname, frame, subject, (p_slot, p_items, p_assert), (h_slot, h_items, h_assert) = got
        if typ not in UNCHECKED and self.ix.decide(p_assert, h_assert) != label:
            return None  # multiple inheritance made the intended pattern provable otherwise
        premise = self._say(frame, p_slot, subject, p_items)
        hypothesis = self._say(frame, h_slot, subject, h_items)
        if premise == hypothesis:
            return None
        iri = lambda i: self.ix.ents[i][0]  # noqa: E731
        hedged = p_slot in ("hedge", "question")
        return {
            "premise": premise, "hypothesis": hypothesis, "label": label, "type": typ,
            "concepts": sorted({iri(x) for x, _ in p_assert + h_assert}), "split": self.split,
            "premise_concepts": [[iri(x), None if hedged else n] for x, n in p_assert],
            "hypothesis_concepts": [[iri(x), n] for x, n in h_assert],
            "frame": fname, "register": frame["register"],
        }

    def _single(self, cat, typ, p, h, p_slot=None, h_slot=None, slots=("pos", "neg")):
        """p, h: (concept, negated). Same frame and subject on both sides."""
        got = self._frame(cat, typ, slots)
        if got is None:
            return None
        name, frame = got
        subject = self.rng.choice(frame["subjects"]) if frame.get("subjects") else None
        p_slot = p_slot or ("neg" if p[1] else "pos")
        h_slot = h_slot or ("neg" if h[1] else "pos")
        pk, hk = self._form(p[0]), self._form(h[0])
        return name, frame, subject, (p_slot, [(p[0], pk)], [p]), (h_slot, [(h[0], hk)], [h])

    def _pair_from(self, pool, name):
        if name == "up":
            if not pool.with_ancestors:
                return None
            x = self.rng.choice(pool.with_ancestors)
            ancestors, weights = pool.ancestors[x]
            return x, self.rng.choices(ancestors, weights)[0]
        lst = getattr(pool, name)
        return self.rng.choice(lst) if lst else None

    def _mono_up(self, pool, cat, typ):
        xa = self._pair_from(pool, "up")
        return xa and self._single(cat, typ, (xa[0], False), (xa[1], False))

    def _mono_down_neg(self, pool, cat, typ):
        xa = self._pair_from(pool, "up")
        return xa and self._single(cat, typ, (xa[1], True), (xa[0], True))

    def _reverse_up(self, pool, cat, typ):
        xa = self._pair_from(pool, "up")
        return xa and self._single(cat, typ, (xa[1], False), (xa[0], False))

    def _neg_upward(self, pool, cat, typ):
        xa = self._pair_from(pool, "up")
        return xa and self._single(cat, typ, (xa[0], True), (xa[1], True))

    def _clash_neg(self, pool, cat, typ):
        v = self.rng.randrange(4)
        if v < 2:
            xa = self._pair_from(pool, "up")
            if xa is None:
                return None
            x, a = xa
            return self._single(cat, typ, *(((x, False), (a, True)) if v == 0 else ((a, True), (x, False))))
        x = self.rng.choice(pool.concepts)
        neg = v == 3
        return self._single(cat, typ, (x, neg), (x, not neg))

    def _syn(self, pool, cat, typ, clash: bool):
        s = self._pair_from(pool, "syn")
        if s is None:
            return None
        x, y, i, j = s
        if self.rng.random() < 0.5:
            x, y, i, j = y, x, j, i
        neg = self.rng.random() < 0.5
        got = self._single(cat, typ, (x, neg), (y, neg != clash))
        if got is None:
            return None
        name, frame, subject, (ps, _, pa), (hs, _, ha) = got
        return name, frame, subject, (ps, [(x, i)], pa), (hs, [(y, j)], ha)

    def _syn_eq(self, pool, cat, typ):
        return self._syn(pool, cat, typ, clash=False)

    def _syn_clash(self, pool, cat, typ):
        return self._syn(pool, cat, typ, clash=True)

    def _clash_disjoint(self, pool, cat, typ):
        xy = self._pair_from(pool, "disjoint")
        if xy is None:
            return None
        x, y = xy if self.rng.random() < 0.5 else xy[::-1]
        return self._single(cat, typ, (x, False), (y, False))

    def _unrelated(self, pool, cat, typ):
        xy = self._pick_unrelated(pool, 2)
        if xy is None:
            return None
        return self._single(cat, typ, (xy[0], self.rng.random() < 0.4), (xy[1], self.rng.random() < 0.4))

    def _lexical_overlap(self, pool, cat, typ):
        mode = self.rng.randrange(3)
        if mode < 2:
            o = self._pair_from(pool, "overlap")
            if o is None:
                return None
            x, a, i, j = o  # x ⊑ a, and x's name i contains a's name j
            p, h = (((a, False), j), ((x, False), i)) if mode == 0 else (((x, True), i), ((a, True), j))
            got = self._single(cat, typ, p[0], h[0])
            if got is None:
                return None
            name, frame, subject, (ps, _, pa), (hs, _, ha) = got
            return name, frame, subject, (ps, [(p[0][0], p[1])], pa), (hs, [(h[0][0], h[1])], ha)
        x = self.rng.choice(pool.concepts)
        words = [w for w in sorted(content_words(self.ix.forms[x][0])) if w in pool.by_word]
        if not words:
            return None
        others = pool.by_word.get(self.rng.choice(words), [])
        y = self.rng.choice(others) if others else None
        if y is None or not self.ix.unrelated(x, y):
            return None
        neg = self.rng.random() < 0.3
        got = self._single(cat, "unrelated", (x, neg), (y, neg))
        if got is None:
            return None
        name, frame, subject, (ps, _, pa), (hs, _, ha) = got
        return name, frame, subject, (ps, [(x, 0)], pa), (hs, [(y, 0)], ha)

    def _hedged(self, pool, cat, typ, slot):
        x = self.rng.choice(pool.concepts)
        h = x
        if self.rng.random() < 0.25:
            h = self._anc(x, pool) or x
        return self._single(cat, typ, (x, False), (h, self.rng.random() < 0.5), p_slot=slot,
                            slots=(slot, "pos", "neg"))

    def _hedge(self, pool, cat, typ):
        return self._hedged(pool, cat, typ, "hedge")

    def _question(self, pool, cat, typ):
        return self._hedged(pool, cat, typ, "question")

    def _multi(self, pool, cat, typ, label):
        mode = self.rng.choice(("pos", "neg", "mixed"))
        items = self._pick_unrelated(pool, 2 if mode == "mixed" else self.rng.choice((2, 2, 3)))
        if items is None:
            return None
        slot = {"pos": "multi_pos", "neg": "multi_neg", "mixed": "mixed"}[mode]
        got = self._frame(cat, typ, (slot, "pos", "neg"))
        if got is None:
            return None
        name, frame = got
        if mode == "mixed":
            p_assert = [(items[0], False), (items[1], True)]
        else:
            p_assert = [(x, mode == "neg") for x in items]
        t, t_neg = self.rng.choice(p_assert)
        h = None
        if label == ENT:  # an item itself, or what it entails: an ancestor of a +item, a descendant of a -item
            h = (t, t_neg) if self.rng.random() < 0.5 else None
            h = h or ((self._desc(t, pool), True) if t_neg else (self._anc(t, pool), False))
        elif label == CON:
            h = (t, not t_neg) if self.rng.random() < 0.5 else None
            h = h or ((self._desc(t, pool), False) if t_neg else (self._anc(t, pool), True))
        elif self.rng.random() < 0.6:  # neutral: a concept unrelated to every item
            w = self._pick_unrelated(pool, 1)
            w = w[0] if w and all(self.ix.unrelated(w[0], x) for x in items) else None
            h = (w, self.rng.random() < 0.4)
        else:  # neutral trap: more specific than a +item, more general than a -item
            h = (self._anc(t, pool), True) if t_neg else (self._desc(t, pool), False)
        if h is None or h[0] is None:
            return None
        subject = self.rng.choice(frame["subjects"]) if frame.get("subjects") else None
        p_items = [(x, self._form(x)) for x, _ in p_assert]
        return name, frame, subject, (slot, p_items, p_assert), ("neg" if h[1] else "pos", [(h[0], self._form(h[0]))], [h])

    def _multi_entail(self, pool, cat, typ):
        return self._multi(pool, cat, typ, ENT)

    def _multi_clash(self, pool, cat, typ):
        return self._multi(pool, cat, typ, CON)

    def _multi_neutral(self, pool, cat, typ):
        return self._multi(pool, cat, typ, NEU)

    def _general(self, label: str) -> dict | None:
        items = [g for g in self.general if g["label"] == label]
        if not items:
            return None
        g = self.rng.choice(items)
        fill: dict[str, str] = {}
        for slot, values in sorted(self.t.get("general_fillers", {}).items()):
            a, b = self.rng.sample(values, 2)
            fill[slot], fill[slot + "2"] = a, b
        p, h = g["premise"], g["hypothesis"]
        for k in sorted(fill, key=len, reverse=True):
            p, h = p.replace("{" + k + "}", fill[k]), h.replace("{" + k + "}", fill[k])
        return {"premise": p, "hypothesis": h, "label": label, "type": "general", "concepts": [], "split": self.split,
                "premise_concepts": [], "hypothesis_concepts": [], "frame": "general", "register": "general"}


# -- the dataset ------------------------------------------------------------------------------------

def pick_domain(tables_path: Path, templates: dict, domain: str = "auto") -> str:
    if domain != "auto":
        if domain not in templates["domains"]:
            raise ValueError(f"unknown domain {domain!r}; the template file has {sorted(templates['domains'])}")
        return domain
    db = sqlite3.connect(f"file:{tables_path}?mode=ro", uri=True)
    try:
        for name, d in templates["domains"].items():
            marks = d.get("detect", ())
            if marks and all(db.execute("SELECT 1 FROM entities WHERE iri=?", (m,)).fetchone() for m in marks):
                return name
    finally:
        db.close()
    return "generic"


def _generate_split(builder: _Builder, n: int, weights: dict) -> tuple[list[dict], dict]:
    """Labels in turn (balanced), a weighted type per label; duplicates and failed draws are retried,
    and a type that keeps failing in this split is dropped (reported in ``types_exhausted``)."""
    rng = builder.rng
    rows: list[dict] = []
    seen: set[tuple[str, str]] = set()
    live = {lab: [t for t in TYPES[lab] if weights.get(t, 1.0) > 0] for lab in LABELS}
    misses: Counter = Counter()
    attempts, budget = 0, 40 * n + 2000
    while len(rows) < n and attempts < budget:
        labels = [lab for lab in LABELS if live[lab]]
        if not labels:
            break
        label = labels[len(rows) % len(labels)]
        typ = rng.choices(live[label], [weights.get(t, 1.0) for t in live[label]])[0]
        attempts += 1
        row = builder.build(typ, label)
        key = (row["premise"], row["hypothesis"]) if row else None
        if row is None or key in seen:
            misses[(label, typ)] += 1
            if misses[(label, typ)] >= 300:  # this split cannot (or can no longer) make this type
                live[label].remove(typ)
            continue
        misses[(label, typ)] = 0
        seen.add(key)
        rows.append(row)
    rng.shuffle(rows)
    out = [{"id": f"{builder.split}-{k:06d}", **r} for k, r in enumerate(rows)]
    dropped = sorted(f"{lab}:{t}" for lab in LABELS for t in TYPES[lab] if t not in live[lab] and weights.get(t, 1.0) > 0)
    return out, {"attempts": attempts, "types_exhausted": dropped}


def _counts(rows: list[dict]) -> dict:
    return {"total": len(rows), "label": dict(sorted(Counter(r["label"] for r in rows).items())),
            "type": dict(sorted(Counter(r["type"] for r in rows).items())),
            "type_label": dict(sorted(Counter(f"{r['type']}:{r['label']}" for r in rows).items())),
            "register": dict(sorted(Counter(r["register"] for r in rows).items()))}


def generate(kg_dir: Path | str | None, out_dir: Path | str, *, seed: int = 0, n_train: int = 20000, n_dev: int = 2000,
             n_test: int = 2000, domain: str = "auto", templates: Path | str | None = None,
             validate_n: int = 0) -> dict:
    """Write ``train.jsonl``, ``dev.jsonl``, ``test.jsonl`` and ``stats.json`` under ``out_dir``; return the stats.

    ``validate_n`` > 0 also links that many sampled pairs with the lexicon linker and records how
    often it finds the intended concepts with the intended polarity (``stats["validation"]``).
    """
    from kgnlu.config import resolve_kg_dir
    from kgnlu.kg.kgdir import KGDir

    t0 = time.perf_counter()
    root = resolve_kg_dir(kg_dir)
    gen = KGDir(root).current()
    tpl_path = Path(templates or DEFAULT_TEMPLATES)
    tpl = load_templates(tpl_path)
    dom_name = pick_domain(gen.tables, tpl, domain)
    dom = tpl["domains"][dom_name]
    index = ConceptIndex(gen.tables, dom, seed)
    t_index = time.perf_counter() - t0
    general = [dict(g, key=f"general:{k}") for k, g in enumerate(tpl.get("general", ()))]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stats: dict = {"seed": seed, "kg": str(root), "generation": gen.path.name,
                   "manifest_hash": gen.manifest().get("hash"), "domain": dom_name,
                   "templates_sha256": templates_digest(tpl_path),
                   "id2label": ID2LABEL, "concepts": {}, "splits": {}, "generation_info": {}}
    all_rows = []
    for split, n in zip(SPLITS, (n_train, n_dev, n_test)):
        rng = random.Random(f"kgnlu-nli:{seed}:{split}")
        pool = [g for g in general if split_of(g["key"], seed) == split]
        builder = _Builder(index, tpl, dom, split, rng, pool)
        rows, info = _generate_split(builder, n, tpl.get("type_weights", {}))
        with open(out / f"{split}.jsonl", "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        stats["concepts"][split] = {c: len(p.concepts) for c, p in builder.pools.items()}
        stats["splits"][split] = _counts(rows)
        stats["generation_info"][split] = {**info, "requested": n, "general_pairs": len(pool)}
        all_rows.extend(rows)
    stats["seconds"] = {"index": round(t_index, 2), "total": round(time.perf_counter() - t0, 2)}
    if validate_n > 0:
        stats["validation"] = validate(root, all_rows, n=validate_n, seed=seed)
    (out / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kgnlu.training.nli_data", description=__doc__.split("\n\n")[0])
    ap.add_argument("--kg", help="KG directory (default: $KGNLU_HOME, then the user data dir)")
    ap.add_argument("--out", required=True, help="output directory for train/dev/test.jsonl and stats.json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-train", type=int, default=20000)
    ap.add_argument("--n-dev", type=int, default=2000)
    ap.add_argument("--n-test", type=int, default=2000)
    ap.add_argument("--domain", default="auto", help="auto, or a domain of the template file (medical, food, generic)")
    ap.add_argument("--templates", help="template file (default: data/templates/nli.json)")
    ap.add_argument("--validate", type=int, default=300, metavar="N", help="link N sampled pairs to check them (0: skip)")
    a = ap.parse_args(argv)
    stats = generate(a.kg, a.out, seed=a.seed, n_train=a.n_train, n_dev=a.n_dev, n_test=a.n_test, domain=a.domain,
                     templates=a.templates, validate_n=a.validate)
    brief = {k: v for k, v in stats.items() if k not in ("validation",)}
    if "validation" in stats:
        brief["validation"] = {k: v for k, v in stats["validation"].items() if k != "failures"}
    print(json.dumps(brief, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The concepts NLI supervision is built from: eligible KG classes, their names, ancestry and split.

``ConceptIndex`` reads the closure tables and the lexicon in bulk (one pass each) and keeps, per
domain category (phenotype, disease, drug; food; any class), the classes that make good
sentence material:

- a preferred label of at most ``max_words`` words, without brackets, commas or negation words,
  not obsolete, and not the name of any other concept (the linker could pick either);
- surface forms: that label plus exact/alt synonyms passing the same checks, lower-cased unless
  they are abbreviations or proper names;
- not too general (at most ``max_descendant_share`` of the category below it) and not a root.

Every concept (with its equivalence class) is held out in one split by a seeded hash of its IRI.
"Branches" cut each hierarchy at ~12 top-level classes; two concepts count as unrelated only
if they share no branch, so that "unrelated" neutrals are not near-synonyms in disguise.
``decide`` replays ``kg.rules`` on intended assertions, so every generated label can be checked.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections import Counter, defaultdict
from pathlib import Path

from kgnlu.kg.lexicon import Lexicon
from kgnlu.kg.matcher import STOPWORDS, is_abbreviation, normalize
from kgnlu.kg.vocab import is_builtin

ENT, NEU, CON = "entailment", "neutral", "contradiction"
SPLITS = ("train", "dev", "test")
SPLIT_SHARE = {"train": 0.8, "dev": 0.1, "test": 0.1}
STRONG = ("label", "pref", "exact", "alt")
FRONTIER = 12  # top-level branches wanted per category (unrelated concepts come from different ones)
_BAD_CHARS = re.compile(r"[(),.;:\[\]/{}<>=&|\"_+*#@%]")
_QUALIFIER = re.compile(r"\s*\([^()]*\)$")
_NEGATING = frozenset("""no not non without absent absence negative free lack lacking lacks never none deny denies
    denied excluded exclude ruled rule unlikely decline declined refuse refused cannot obsolete unspecified""".split())


def _unit(key: str) -> float:
    return int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) / float(1 << 48)


def split_of(key: str, seed: int) -> str:
    """The split a concept (or a general-English pair) is held out in: a seeded hash, 80/10/10."""
    u, acc = _unit(f"kgnlu-nli:{seed}:{key}"), 0.0
    for s in SPLITS:
        acc += SPLIT_SHARE[s]
        if u < acc:
            return s
    return SPLITS[-1]


def content_words(form: str) -> frozenset[str]:
    return frozenset(w for w in normalize(form).split() if w not in STOPWORDS)


def _display(text: str, proper: set[str], lower_words: set[str]) -> str:
    """Lower-case the capital of sentence-case names ("Focal-onset seizure") and the common words of
    title-case ones ("Valproic Acid"), keeping abbreviations and proper names ("Down syndrome",
    "Achilles", "Granny Smith")."""
    words = text.split(" ")
    sentence_case = all(not w[:1].isupper() for w in words[1:])
    out = []
    for k, w in enumerate(words):
        capitalised = len(w) > 1 and w[0].isupper() and w[1:] == w[1:].lower() and not any(c.isdigit() for c in w)
        common = re.split(r"[-']", w)[0].lower() in lower_words
        if capitalised and w not in proper and (common or (k == 0 and sentence_case)):
            w = w[0].lower() + w[1:]
        out.append(w)
    return " ".join(out)


def pluralize(text: str, uncountable: set[str]) -> str:
    if text.lower() in uncountable or text.split(" ")[-1].lower() in uncountable or is_abbreviation(text):
        return text
    head, _, last = text.rpartition(" ")
    if re.search(r"(s|x|z|ch|sh)$", last):
        last += "es"
    elif re.search(r"[^aeiou]y$", last):
        last = last[:-1] + "ies"
    else:
        last += "s"
    return f"{head} {last}" if head else last


def with_article(text: str, uncountable: set[str]) -> str:
    if text.lower() in uncountable or text.split(" ")[-1].lower() in uncountable:
        return text
    return ("an " if text[:1].lower() in "aeiou" else "a ") + text


# -- the concept index ------------------------------------------------------------------------------

class ConceptIndex:
    """Eligible concepts of one domain, their names, ancestry, branches and held-out split.

    Built from bulk reads of the closure tables and the lexicon (one pass each); concept ids are
    the tables' integer ids, IRIs only on output.
    """

    def __init__(self, tables_path: Path, domain: dict, seed: int):
        db = sqlite3.connect(f"file:{tables_path}?mode=ro", uri=True)
        self.ents = {i: (iri, kind, label) for i, iri, kind, label in db.execute("SELECT id, iri, kind, label FROM entities")}
        self.anc: dict[int, dict[int, int]] = defaultdict(dict)
        for c, a, d in db.execute("SELECT cls, anc, dist FROM ancestors"):
            self.anc[c][a] = d
        disjoint_rows = db.execute("SELECT cls, other FROM disjoint_with").fetchall()
        db.close()
        self.uncountable = set(domain.get("uncountable", ()))
        self.id_of = {iri: i for i, (iri, _, _) in self.ents.items()}
        self._read_lexicon(tables_path)
        self._categorise(domain)
        self._choose_forms(domain)
        self.eq = {i: sorted(a for a in self.anc[i] if i in self.anc.get(a, {}) and a in self.forms) for i in self.forms}
        self.split = {i: split_of(min(self.ents[j][0] for j in [i, *self.eq[i]]), seed) for i in self.forms}
        self.up = {i: {a: d for a, d in self.anc[i].items() if a in self.forms and self.cat[a] == self.cat[i]
                       and a not in self.eq[i]} for i in sorted(self.forms)}
        self.down: dict[int, list[int]] = defaultdict(list)
        for i, ups in self.up.items():
            for a in ups:
                self.down[a].append(i)
        self._branches()
        self.disjoint: set[tuple[int, int]] = set()
        self._disjoint(disjoint_rows)

    def _read_lexicon(self, tables_path: Path) -> None:
        linkable = {i for i, (_, k, _) in self.ents.items() if k in ("class", "individual")}
        self.owners: dict[str, set[int]] = defaultdict(set)  # normal form (or "ABBR:" text) -> strong owners
        self.weak: dict[str, set[int]] = defaultdict(set)
        self.entries: dict[int, list] = defaultdict(list)
        self.lower_words: set[str] = set()
        cap_mid: Counter = Counter()
        low_mid: Counter = Counter()
        for e in Lexicon(tables_path).entries():
            i = self.id_of.get(e.iri)
            if i is None or i not in linkable or not (e.lang is None or e.lang.lower().startswith("en")):
                continue
            self.entries[i].append(e)
            for variant in {e.text, _QUALIFIER.sub("", e.text)}:
                key = f"ABBR:{variant}" if len(variant) <= 5 and is_abbreviation(variant) else normalize(variant)
                (self.owners if e.kind in STRONG else self.weak)[key].add(i)
            words = e.text.split()
            self.lower_words.update(p for w in words if w.islower() for p in re.split(r"[-']", w))
            if not all(w[:1].isupper() for w in words if len(w) > 3):  # title case says nothing about names
                cap_mid.update(w for w in words[1:] if w[:1].isupper() and not w.isupper())
            low_mid.update(w for w in words[1:] if w.islower())
        # A proper name is a word written capitalised inside names more often than not ("Achilles", "Down").
        self.proper = {w for w, n in cap_mid.items() if n > low_mid[w.lower()]}

    def _categorise(self, domain: dict) -> None:
        self.cat: dict[int, str] = {}
        classes = sorted(i for i, (iri, kind, _) in self.ents.items() if kind == "class" and not is_builtin(iri))
        include_roots = domain.get("include_roots", False)
        self.roots: dict[str, set[int]] = {}
        for name, c in domain["categories"].items():
            roots = {self.id_of[r] for r in c.get("roots", ()) if r in self.id_of}
            if c.get("roots") and not roots:
                continue
            prefixes = tuple(c.get("prefixes", ()))
            self.roots[name] = roots
            for i in classes:
                if i in self.cat or (prefixes and not self.ents[i][0].startswith(prefixes)):
                    continue
                if not roots or roots & self.anc.get(i, {}).keys() or (include_roots and i in roots):
                    self.cat[i] = name
        self.members: dict[str, list[int]] = defaultdict(list)
        for i in sorted(self.cat):
            self.members[self.cat[i]].append(i)
        self.below: dict[int, list[int]] = defaultdict(list)  # all members under a class, same category
        for i in sorted(self.cat):
            for a in self.anc.get(i, {}):
                if self.cat.get(a) == self.cat[i] or a in self.roots.get(self.cat[i], ()):
                    self.below[a].append(i)

    def _choose_forms(self, domain: dict) -> None:
        self.forms: dict[int, tuple[str, ...]] = {}
        share = domain.get("max_descendant_share", 1.0)
        for name, c in domain["categories"].items():
            max_words = c.get("max_words", domain.get("max_words", 6))
            pattern = re.compile(c["form_pattern"]) if c.get("form_pattern") else None
            roots = self.roots.get(name, set())
            size = len(self.members.get(name, ()))
            min_entries = c.get("min_entries_leaf", 0)
            exclude = re.compile(c["exclude_label_pattern"]) if c.get("exclude_label_pattern") else None
            for i in self.members.get(name, ()):
                iri, _, label = self.ents[i]
                if not label or label.lower().startswith("obsolete") or len(self.below.get(i, ())) > share * size \
                        and i not in roots:
                    continue
                if min_entries and not self.below.get(i) and len(self.entries.get(i, ())) < min_entries:
                    continue  # an obscure compound: few names usually means no clinical use
                if exclude and any(exclude.search(self.ents[a][2] or "") for a in [i, *self.anc.get(i, {})]):
                    continue
                if " or " in f" {label.lower()} " or not self._form_ok(i, label, "label", max_words, pattern):
                    continue  # an unusable or ambiguous preferred label: skip the concept
                forms, seen = [], set()
                rank = {k: n for n, k in enumerate(STRONG)}
                for e in sorted(self.entries.get(i, ()), key=lambda e: (e.text != label, rank.get(e.kind, 9), e.text)):
                    if e.kind in STRONG and self._form_ok(i, e.text, e.kind, max_words, pattern):
                        key = normalize(e.text)
                        if key not in seen:
                            seen.add(key)
                            forms.append(_display(e.text, self.proper, self.lower_words))
                if forms:
                    self.forms[i] = tuple(forms[:6])

    def _form_ok(self, i: int, text: str, kind: str, max_words: int, pattern) -> bool:
        if len(text) < 3 and not is_abbreviation(text) or len(text.split()) > max_words or _BAD_CHARS.search(text):
            return False
        if pattern is not None and not pattern.match(text):
            return False
        norm = normalize(text)
        if not norm or set(norm.split()) & _NEGATING or not text.isascii() and not text.isprintable():
            return False
        key = f"ABBR:{text}" if len(text) <= 5 and is_abbreviation(text) else norm
        mine = {i} | {a for a in self.anc.get(i, {}) if i in self.anc.get(a, {})}
        others = (self.owners.get(key, set()) | (self.owners.get(norm, set()) if key != norm else set())) - mine
        if others:
            return False  # another concept's name: the linker could pick either
        return not (self.weak.get(key, set()) - mine) or kind in ("label", "pref", "exact")

    def _branches(self) -> None:
        """Cut each category's hierarchy at ~FRONTIER top-level branches; a concept's branches are
        those it is in, under or above. Unrelated pairs come from different branches."""
        self.branch: dict[int, frozenset[int]] = {}
        acc: dict[int, set[int]] = defaultdict(set)
        for name, members in self.members.items():
            mset = set(members)
            children: dict[int, list[int]] = defaultdict(list)
            for i in members:
                for a, d in self.anc.get(i, {}).items():
                    if d == 1:
                        children[a].append(i)
            roots = sorted(self.roots.get(name) or (i for i in members if not mset & self.anc.get(i, {}).keys()))
            frontier = set(roots)
            for _ in range(500):
                if len(frontier) >= FRONTIER:
                    break
                open_ = sorted((f for f in frontier if children.get(f)), key=lambda f: (-len(self.below.get(f, ())), f))
                if not open_:
                    break
                frontier.remove(open_[0])
                frontier.update(children[open_[0]])
            for f in frontier:
                acc[f].add(f)
                for a in self.anc.get(f, {}):
                    acc[a].add(f)
                for x in self.below.get(f, ()):
                    acc[x].add(f)
        for i in self.forms:
            self.branch[i] = frozenset(acc.get(i, {i}))

    def _disjoint(self, rows: list[tuple[int, int]]) -> None:
        partners: dict[int, set[int]] = defaultdict(set)
        for c, other in rows:
            partners[c].add(other)
        for x in sorted(self.forms):
            for o in sorted(partners.get(x, ())):
                for y in [o, *self.below.get(o, ())]:
                    if y in self.forms and y != x and self.cat[y] == self.cat[x]:
                        self.disjoint.add((min(x, y), max(x, y)))
            if len(self.disjoint) > 500_000:
                break

    # -- relations used by the label check ------------------------------------------------------

    def is_a(self, x: int, y: int) -> bool:
        return x == y or y in self.anc.get(x, {})

    def related(self, x: int, y: int) -> bool:
        return self.is_a(x, y) or self.is_a(y, x) or (min(x, y), max(x, y)) in self.disjoint

    def unrelated(self, x: int, y: int) -> bool:
        """No subsumption either way, not disjoint, and in different top-level branches."""
        return not self.related(x, y) and not (self.branch[x] & self.branch[y])

    def decide(self, premise: list[tuple[int, bool]], hypothesis: list[tuple[int, bool]]) -> str:
        """The verdict ``kg.rules`` reaches on these assertions (clash first, then entailment)."""
        def clash(p, h):
            (x, pn), (y, hn) = p, h
            if not pn and hn:
                return self.is_a(x, y)
            if pn and not hn:
                return self.is_a(y, x)
            return not pn and (min(x, y), max(x, y)) in self.disjoint

        def entails(p, h):
            (x, pn), (y, hn) = p, h
            return pn == hn and (self.is_a(y, x) if pn else self.is_a(x, y))

        if any(clash(p, h) for p in premise for h in hypothesis):
            return CON
        return ENT if all(any(entails(p, h) for p in premise) for h in hypothesis) else NEU

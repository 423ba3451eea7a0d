"""Distant supervision for relation extraction, generated from KG facts.

Sentences state (or deny, or merely co-mention) relations between KG concepts, phrased with the
pools of ``data/templates/re.json``; each record lists its gold relations by character span. The
facts are the KG's class-level relations of the trained properties (``has_phenotype`` and the
other hpoa aspects on the default KG) and its ``is_a`` edges (distance 1-2, one hierarchy).

=================  ========================================================================  ========
category           sentence                                                                  gold
=================  ========================================================================  ========
``pos``            a known fact, clinical or lay wording                                     relation
``hedged``         a known (3/4) or related-but-unasserted (1/4) pair, hedged wording         relation
``list``           two known facts of one subject ("S is characterized by O and O2")         2 rel.
``pos-novel``      a related but unasserted pair (a phenotype of a sibling disease; a        relation
                   sibling class for is_a) in stating wording: text beats the KG
``neg``            a NOT-annotated pair, an unasserted pair or a known one (conflicting),     negated
                   in denying wording; a fifth of them deny a second object too ("No O or
                   O2 in S"), known or unasserted (``NEG_LIST_SHARE`` of the tries)
``distractor``     a known fact plus a sibling subject S2 the sentence does not relate to     relation
                   O ("Unlike S2, S presents with O"); some deny S2-O                         (+ neg.)
``none``           a known, unasserted or is_a pair in a co-mention template                 none
=================  ========================================================================  ========

Every other ordered pair of linked mentions in a sentence (the reversed pair, spurious mentions
of template words) is a ``none`` example for the trainer.

**Namesakes.** Half the lists whose subject has one put first a phenotype that a disease's
name reads as well ("hypoparathyroidism", "anemia"), often in a causal template ("Patients with
S often have O2 due to O"). The linker then also offers the disease reading of O, which admits
``O has_phenotype O2``: a ``none`` pair whose wording looks like a statement, and which the KG
evidence (O is a known phenotype of S, so a finding here) tells apart.

**KG view.** In training sentences, a quarter of the known facts that a sentence states are
listed in ``hide``: the trainer computes their KG features as if the KG lacked them (novel). So
the model sees true facts both with and without KG support and cannot learn "known => stated";
dev and test sentences hide nothing (the KG as it is).

**Splits** hold out whole concepts and whole facts: every concept falls into train, dev or test
by a seeded hash of its IRI (``nli_concepts.split_of``, 80/10/10); a sentence belongs to the
split of its held-out concept(s) and never mixes dev and test concepts. Besides, 8% of the facts
between train concepts are held out for test: no train sentence contains such a pair, in any
role. Output is deterministic for a seed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

from kgnlu.kg.relations import IS_A, NOVEL, RelationKB
from kgnlu.types import InputError

DEFAULT_TEMPLATES = Path(__file__).resolve().parents[3] / "data" / "templates" / "re.json"
OBO = "http://purl.obolibrary.org/obo/"
# Concept categories of the default KG (nli_concepts.ConceptIndex domain), keyed by the hpoa range.
MEDICAL_DOMAIN = {
    "max_words": 6, "max_descendant_share": 0.3,
    "categories": {
        "phenotype": {"roots": [OBO + "HP_0000118"], "prefixes": [OBO + "HP_"]},
        "inheritance": {"roots": [OBO + "HP_0000005"], "prefixes": [OBO + "HP_"]},
        "course": {"roots": [OBO + "HP_0031797"], "prefixes": [OBO + "HP_"]},
        "modifier": {"roots": [OBO + "HP_0012823"], "prefixes": [OBO + "HP_"]},
        "disease": {"roots": [OBO + "MONDO_0700096"], "prefixes": [OBO + "MONDO_"]},
    },
}
MIN_FACTS = 100  # a property with fewer usable facts gets no label of its own (the extractor still
# reaches it through the generic path, see tasks.re_features)
CATEGORY_WEIGHTS = {"pos": 0.26, "hedged": 0.09, "list": 0.10, "pos-novel": 0.10, "neg": 0.11, "distractor": 0.09,
                    "none": 0.17, "isa": 0.08}
NAMESAKE_LIST_SHARE = 0.5
NEG_LIST_SHARE = 0.35  # denying sentences that try a second finding ("No O or O2 in S"); ~0.2 find one
HIDE_SHARE, HELD_OUT_FACTS = 0.25, 0.08
SIZES = {"train": 6000, "dev": 600, "test": 1200}
_SLOT = re.compile(r"\{(S2|S|O2|O_short|O|A|B)\}")


def templates_digest(path: Path) -> str:
    """What ``meta.json`` records of the phrasing templates data was generated from."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def stale_data(data_dir: str | Path) -> str | None:
    """Why generated data in ``data_dir`` no longer matches the shipped phrasing templates (None if it does)."""
    meta = Path(data_dir) / "meta.json"
    try:
        digest = json.loads(meta.read_text(encoding="utf-8")).get("templates_sha256")
    except (OSError, ValueError):
        return "no readable meta.json"
    if digest != templates_digest(DEFAULT_TEMPLATES):
        return f"generated from other phrasing templates than {DEFAULT_TEMPLATES.name}"
    return None


def load_templates(path: Path | None = None) -> dict:
    doc = json.loads(Path(path or DEFAULT_TEMPLATES).read_text(encoding="utf-8"))
    if doc.get("format") != "kgnlu.re-templates":
        raise ValueError(f"{path}: not a kgnlu RE template file")
    return doc


def _unit(key: str) -> float:
    return int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) / float(1 << 48)


def fill(template: str, slots: dict[str, str]) -> tuple[str, dict[str, tuple[int, int]]]:
    """The filled sentence (first letter capitalised) and each slot's character span."""
    out, spans, pos = [], {}, 0
    length = 0
    for m in _SLOT.finditer(template):
        lit = template[pos:m.start()]
        out.append(lit)
        length += len(lit)
        value = slots[m.group(1)]
        key = "O" if m.group(1) == "O_short" else m.group(1)
        spans[key] = (length, length + len(value))
        out.append(value)
        length += len(value)
        pos = m.end()
    out.append(template[pos:])
    text = "".join(out)
    return (text[:1].upper() + text[1:]), spans


class Generator:
    """Builds RE sentences from one KG. ``generate(split, n)`` gives records; see the module doc."""

    def __init__(self, kg_tables: Path, kb: RelationKB, templates: dict, seed: int = 13, domain: dict | None = None,
                 progress=lambda s: None):
        from kgnlu.training.nli_concepts import ConceptIndex

        self.kb, self.t, self.templates, self.seed = kb, kb.tables, templates, seed
        progress("indexing concepts (names, hierarchy, splits)")
        self.ci = ConceptIndex(Path(kg_tables), domain or MEDICAL_DOMAIN, seed)
        ci = self.ci
        self.iri = {i: ci.ents[i][0] for i in ci.forms}
        self.id = {v: k for k, v in self.iri.items()}
        self.split = {self.iri[i]: ci.split[i] for i in ci.forms}
        self.cat = {self.iri[i]: ci.cat[i] for i in ci.forms}
        self.forms = {self.iri[i]: ci.forms[i] for i in ci.forms}
        self._add_ambiguous_names(seed)
        progress("reading facts")
        self.relations = []  # (RelationType, facts, negated facts)
        for rel in kb.inventory():
            if rel.iri == IS_A or not rel.facts:
                continue
            pos, neg = [], []
            for s, _, o, negated, _ in self.t.relation_rows(rel.iri):
                if s in self.forms and o in self.forms and self.cat[s] == "disease" and self.cat[o] != "disease":
                    (neg if negated else pos).append((s, o))
            if len(pos) >= MIN_FACTS:
                self.relations.append((rel, pos, neg))
        self.known = {(s, r.iri, o) for r, pos, _ in self.relations for s, o in pos}
        self.by_subject: dict[tuple[str, str], list[str]] = defaultdict(list)
        for r, pos, _ in self.relations:
            for s, o in pos:
                self.by_subject[(r.iri, s)].append(o)
        self.isa = [(self.iri[i], self.iri[a]) for i, ups in sorted(ci.up.items()) if i in self.iri
                    for a, d in sorted(ups.items()) if d <= 2 and a in self.iri]
        self.children: dict[str, list[str]] = defaultdict(list)
        self.parents: dict[str, list[str]] = defaultdict(list)
        for i, ups in sorted(ci.up.items()):
            for a, d in sorted(ups.items()):
                if d == 1 and i in self.iri and a in self.iri:
                    self.children[self.iri[a]].append(self.iri[i])
                    self.parents[self.iri[i]].append(self.iri[a])
        self.held_out = {f for f in self.known | {(s, IS_A, o) for s, o in self.isa}
                         if self._pair_split(f[0], f[2]) == "train" and _unit(f"re-fact:{seed}:{f}") < HELD_OUT_FACTS}

    def _add_ambiguous_names(self, seed: int) -> None:
        """Names the concept index leaves out because another concept bears them too, for
        hpoa concepts: "celiac disease" is a MONDO disease and an HPO phenotype, "obesity" an HPO
        phenotype and a MONDO disease. Clinical text names such concepts all the time, and the
        extractor must learn to read them through the ontology (it tries a mention's other
        concept when the first fits no relation), so their facts are kept, under their label."""
        from kgnlu.training.nli_concepts import split_of

        subjects, objects = set(), set()
        for rel in self.kb.inventory():
            if rel.iri != IS_A and rel.facts:
                for s, _, o, _, _ in self.t.relation_rows(rel.iri):
                    subjects.add(s)
                    objects.add(o)
        cats = [("disease", OBO + "MONDO_", subjects), ("phenotype", OBO + "HP_", objects)]
        self.namesakes: set[str] = set()  # phenotypes that a disease's name reads as well
        for cat, prefix, pool in cats:
            for iri in sorted(pool):
                if iri in self.forms or not iri.startswith(prefix):
                    continue
                label = self.t.label(iri) or ""
                if not label or len(label.split()) > 5 or re.search(r"[(),;:\[\]/_]", label) or label.isupper():
                    continue
                words = label.split()
                if words[0][:1].isupper() and words[0][1:].islower():  # sentence case: "Obesity"
                    label = words[0].lower() + (" " + " ".join(words[1:]) if len(words) > 1 else "")
                self.forms[iri] = (label,)
                self.cat[iri] = cat if cat == "disease" else self._hp_category(iri)
                self.split[iri] = split_of(iri, seed)
                if self.cat[iri] == "phenotype":
                    self.namesakes.add(iri)

    def _hp_category(self, iri: str) -> str:
        for name, root in (("inheritance", "HP_0000005"), ("course", "HP_0031797"), ("modifier", "HP_0012823")):
            if OBO + root in self.kb.ancestors(iri):
                return name
        return "phenotype"

    # -- splits ------------------------------------------------------------------------------

    def _pair_split(self, *iris: str) -> str | None:
        """The split a set of concepts belongs to (None if it mixes dev and test concepts)."""
        splits = {self.split[i] for i in iris}
        held = splits - {"train"}
        if len(held) > 1:
            return None
        return held.pop() if held else "train"

    def _fits(self, split: str, *iris: str, facts: tuple = ()) -> bool:
        own = self._pair_split(*iris)
        if split == "train":
            return own == "train" and not any(f in self.held_out for f in facts)
        if split == "test":
            return own == "test" or (own == "train" and any(f in self.held_out for f in facts))
        return own == split

    # -- surface forms -----------------------------------------------------------------------

    def form(self, rng: random.Random, iri: str) -> str:
        forms = self.forms[iri]
        return forms[0] if len(forms) == 1 or rng.random() < 0.55 else rng.choice(forms[1:])

    def _slots(self, rng, **iris) -> dict[str, str]:
        out = {k: self.form(rng, v) for k, v in iris.items()}
        if "O" in out:
            out["O_short"] = re.sub(r"\s+inheritance$", "", out["O"])
        return out

    # -- pairs -------------------------------------------------------------------------------

    def _novel_object(self, rng, rel, subj: str) -> str | None:
        """A phenotype of a sibling disease (same parent) that the KG does not give ``subj``."""
        sibs = [c for p in self.parents.get(subj, ()) for c in self.children[p] if c != subj]
        rng.shuffle(sibs)
        for sib in sibs[:6]:
            objs = self.by_subject.get((rel.iri, sib), ())
            for o in rng.sample(list(objs), min(4, len(objs))):
                if self.kb.standing(subj, rel.iri, o).status == NOVEL:
                    return o
        return None

    def _list_partner(self, rng, rel, subj: str, obj: str) -> tuple[str | None, tuple]:
        """A second object for a denied list: half the time one the KG gives ``subj`` (denying it
        conflicts with the KG), else a novel one; with the facts it uses, for the split check."""
        if rng.random() < 0.5:
            known = [x for x in self.by_subject.get((rel.iri, subj), ()) if x != obj]
            if known:
                o2 = rng.choice(sorted(known))
                return o2, ((subj, rel.iri, o2),)
        o2 = self._novel_object(rng, rel, subj)
        return (o2, ()) if o2 != obj else (None, ())

    def _sibling_subject(self, rng, rel, obj: str, subj: str) -> str | None:
        sibs = [c for p in self.parents.get(subj, ()) for c in self.children[p] if c != subj]
        rng.shuffle(sibs)
        for s2 in sibs[:6]:
            if self.kb.standing(s2, rel.iri, obj).status == NOVEL:
                return s2
        return None

    def _novel_isa(self, rng, x: str) -> str | None:
        """A sibling of ``x`` (or of its parent) that ``x`` is not under."""
        pool = [c for p in self.parents.get(x, ()) for c in self.children[p] if c != x]
        pool += [c for p in self.parents.get(x, ()) for g in self.parents.get(p, ()) for c in self.children[g] if c != p]
        rng.shuffle(pool)
        for y in pool[:8]:
            if self.kb.standing(x, IS_A, y).status == NOVEL:
                return y
        return None

    # -- one sentence --------------------------------------------------------------------------

    def _record(self, split, category, style, template, slots_iris, gold, rng, hide_ok=True) -> dict:
        slots = self._slots(rng, **slots_iris)
        text, spans = fill(template, slots)
        out_gold, hide = [], []
        for g in gold:
            rel = g["rel"]
            s_key, o_key = g["s"], g["o"]
            item = {"subject": list(spans[s_key]), "object": list(spans[o_key]), "relation": rel.name,
                    "relation_iri": rel.iri, "negated": g.get("negated", False),
                    "subject_iri": slots_iris[s_key], "object_iri": slots_iris[o_key]}
            out_gold.append(item)
            fact = (slots_iris[s_key], rel.iri, slots_iris[o_key])
            if (split == "train" and hide_ok and not item["negated"] and (fact in self.known or rel.iri == IS_A)
                    and rng.random() < HIDE_SHARE):
                hide.append(list(fact))
        return {"text": text, "split": split, "category": category, "style": style, "template": template,
                "gold": out_gold, "concepts": sorted(set(slots_iris.values())), "hide": hide}

    def _pick_fact(self, rng, split, rel_weights, negated=False):
        # Half the time, a subject with several names: such diseases are the commoner ones, closer
        # to what clinical text mentions than the numbered subtypes that dominate the KG.
        common = rng.random() < 0.5
        for n in range(200):
            rel, pos, neg = rng.choices(self.relations, weights=rel_weights)[0]
            pool = neg if negated else pos
            if not pool:
                continue
            s, o = rng.choice(pool)
            if common and n < 100 and len(self.forms[s]) < 2:
                continue
            if self._fits(split, s, o, facts=((s, rel.iri, o),)):
                return rel, s, o
        return None

    def one(self, rng: random.Random, split: str) -> dict | None:
        cat = rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]
        pools = self.templates["relations"]
        weights = [0.72 if r.name == "has_phenotype" else 0.1 for r, _, _ in self.relations]
        if cat == "isa":
            return self._isa(rng, split, pools["is_a"])
        if cat == "none":
            return self._none(rng, split, weights)
        picked = self._pick_fact(rng, split, weights)
        if picked is None:
            return None
        rel, s, o = picked
        pool = pools.get(rel.name, pools["has_phenotype"])
        if cat == "pos":
            style = "lay" if rng.random() < 0.2 and pool.get("lay") else "pos"
            return self._record(split, cat, style, rng.choice(pool[style]), {"S": s, "O": o},
                                [{"rel": rel, "s": "S", "o": "O"}], rng)
        if cat == "hedged":
            if rng.random() < 0.25:
                o2 = self._novel_object(rng, rel, s)
                if o2 is not None and self._fits(split, s, o2):
                    o = o2
            return self._record(split, cat, "hedged", rng.choice(pool["hedged"]), {"S": s, "O": o},
                                [{"rel": rel, "s": "S", "o": "O"}], rng)
        if cat == "list":
            objs = self.by_subject[(rel.iri, s)]
            named = [x for x in objs if x in self.namesakes]
            if named and rng.random() < NAMESAKE_LIST_SHARE:  # see the module doc
                o = rng.choice(named)
            others = [x for x in objs if x != o]
            if not others or not pool.get("list"):
                return None
            o2 = rng.choice(others)
            if not self._fits(split, s, o, o2, facts=((s, rel.iri, o), (s, rel.iri, o2))):
                return None
            return self._record(split, cat, "list", rng.choice(pool["list"]), {"S": s, "O": o, "O2": o2},
                                [{"rel": rel, "s": "S", "o": "O"}, {"rel": rel, "s": "S", "o": "O2"}], rng)
        if cat == "pos-novel":
            o2 = self._novel_object(rng, rel, s)
            if o2 is None or not self._fits(split, s, o2):
                return None
            style = "lay" if rng.random() < 0.2 and pool.get("lay") else "pos"
            return self._record(split, cat, style, rng.choice(pool[style]), {"S": s, "O": o2},
                                [{"rel": rel, "s": "S", "o": "O"}], rng)
        if cat == "neg":
            u = rng.random()
            if u < 0.3:
                only_phenotype = [1.0 if r.name == "has_phenotype" else 0.0 for r, _, _ in self.relations]
                picked = self._pick_fact(rng, split, only_phenotype, negated=True)
                if picked is None:
                    return None
                rel, s, o = picked
                pool = pools.get(rel.name, pools["has_phenotype"])
            elif u < 0.8:
                o2 = self._novel_object(rng, rel, s)
                if o2 is None or not self._fits(split, s, o2):
                    return None
                o = o2
            if pool.get("neg_list") and rng.random() < NEG_LIST_SHARE:
                o2, facts = self._list_partner(rng, rel, s, o)
                if o2 is not None and self._fits(split, s, o, o2, facts=facts):
                    return self._record(split, cat, "neg_list", rng.choice(pool["neg_list"]),
                                        {"S": s, "O": o, "O2": o2},
                                        [{"rel": rel, "s": "S", "o": "O", "negated": True},
                                         {"rel": rel, "s": "S", "o": "O2", "negated": True}], rng)
            return self._record(split, cat, "neg", rng.choice(pool["neg"]), {"S": s, "O": o},
                                [{"rel": rel, "s": "S", "o": "O", "negated": True}], rng)
        # distractor
        s2 = self._sibling_subject(rng, rel, o, s)
        if s2 is None or not self._fits(split, s, o, s2, facts=((s, rel.iri, o), (s2, rel.iri, o))):
            return None
        t = rng.choice(self.templates["distractor"])
        gold = [{"rel": rel, "s": "S", "o": "O"}]
        if t.get("neg2"):
            gold.append({"rel": rel, "s": "S2", "o": "O", "negated": True})
        return self._record(split, "distractor", "distractor", t["text"], {"S": s, "S2": s2, "O": o}, gold, rng)

    def _isa(self, rng, split, pool) -> dict | None:
        for _ in range(200):
            x, y = rng.choice(self.isa)
            if self._fits(split, x, y, facts=((x, IS_A, y),)):
                break
        else:
            return None
        rel = self.kb.relation(IS_A)
        u = rng.random()
        if u < 0.2:  # a novel is_a, stated or hedged
            y2 = self._novel_isa(rng, x)
            if y2 is None or not self._fits(split, x, y2):
                return None
            style = "hedged" if rng.random() < 0.3 else "pos"
            return self._record(split, "isa-novel", style, rng.choice(pool[style]), {"S": x, "O": y2},
                                [{"rel": rel, "s": "S", "o": "O"}], rng)
        if u < 0.35:  # denied: mostly a sibling (novel), sometimes a true parent (conflicting)
            y2 = self._novel_isa(rng, x) if rng.random() < 0.7 else y
            if y2 is None or not self._fits(split, x, y2):
                return None
            return self._record(split, "isa-neg", "neg", rng.choice(pool["neg"]), {"S": x, "O": y2},
                                [{"rel": rel, "s": "S", "o": "O", "negated": True}], rng)
        style = rng.choices(["pos", "lay", "hedged"], weights=[0.75, 0.1, 0.15])[0]
        return self._record(split, "isa", style, rng.choice(pool[style]), {"S": x, "O": y},
                            [{"rel": rel, "s": "S", "o": "O"}], rng)

    def _none(self, rng, split, weights) -> dict | None:
        u = rng.random()
        if u < 0.45:
            picked = self._pick_fact(rng, split, weights)
            if picked is None:
                return None
            _, a, b = picked
        elif u < 0.85:
            picked = self._pick_fact(rng, split, weights)
            if picked is None:
                return None
            rel, a, _ = picked
            b = self._novel_object(rng, rel, a)
            if b is None or not self._fits(split, a, b):
                return None
        else:
            for _ in range(100):
                a, b = rng.choice(self.isa)
                if self._fits(split, a, b, facts=((a, IS_A, b),)):
                    break
            else:
                return None
        if rng.random() < 0.5:
            a, b = b, a
        return self._record(split, "none", "none", rng.choice(self.templates["none"]), {"A": a, "B": b}, [], rng)

    def generate(self, split: str, n: int) -> list[dict]:
        rng = random.Random(f"re:{self.seed}:{split}")
        out, tries = [], 0
        seen = set()
        while len(out) < n and tries < n * 20:
            tries += 1
            rec = self.one(rng, split)
            if rec is None or rec["text"] in seen:
                continue
            seen.add(rec["text"])
            rec["id"] = f"{split}-{len(out):05d}"
            out.append(rec)
        return out


def generate(kg_dir: str | Path, out_dir: str | Path, *, seed: int = 13, sizes: dict | None = None,
             templates: Path | None = None, progress=lambda s: None) -> dict:
    """Write ``train.jsonl``, ``dev.jsonl``, ``test.jsonl`` and ``meta.json`` under ``out_dir``."""
    from kgnlu.kg.kgdir import KGDir
    from kgnlu.kg.tables import ClosureTables

    t0 = time.perf_counter()
    gen_dir = KGDir(Path(kg_dir)).current().path
    tables = ClosureTables(gen_dir / "tables.sqlite3")
    kb = RelationKB(tables)
    tpl_path = Path(templates or DEFAULT_TEMPLATES)
    gen = Generator(gen_dir / "tables.sqlite3", kb, load_templates(tpl_path), seed, progress=progress)
    if not gen.relations or not gen.isa:
        # Found before any file is written: sentences need facts of both kinds to state and to contrast.
        raise InputError(f"the KG at {kg_dir} has {len(gen.relations)} relation(s) with facts and {len(gen.isa)} "
                         "is_a facts to state: relation extraction trains on a KG with both (the default KG has them)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, n in (sizes or SIZES).items():
        progress(f"generating {split} ({n} sentences)")
        recs = gen.generate(split, n)
        with open(out / f"{split}.jsonl", "w", encoding="utf-8") as f:
            for r in recs:
                f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
        counts[split] = {"sentences": len(recs), "categories": dict(Counter(r["category"] for r in recs)),
                         "gold": dict(Counter(g["relation"] + ("(neg)" if g["negated"] else "") for r in recs
                                              for g in r["gold"]))}
    meta = {"seed": seed, "kg_manifest": KGDir(Path(kg_dir)).current().manifest().get("hash"),
            "templates_sha256": templates_digest(tpl_path),
            "relations": [{"name": r.name, "iri": r.iri, "facts": len(p), "negated_facts": len(n)}
                          for r, p, n in gen.relations],
            "is_a_facts": len(gen.isa), "held_out_facts": len(gen.held_out), "counts": counts,
            "seconds": round(time.perf_counter() - t0, 1)}
    (out / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return meta


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Generate distant-supervision RE data from a KG.")
    ap.add_argument("--kg", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--train", type=int, default=SIZES["train"])
    ap.add_argument("--dev", type=int, default=SIZES["dev"])
    ap.add_argument("--test", type=int, default=SIZES["test"])
    a = ap.parse_args(argv)
    meta = generate(a.kg, a.out, seed=a.seed, sizes={"train": a.train, "dev": a.dev, "test": a.test},
                    progress=lambda s: print(s, flush=True))
    print(json.dumps(meta["counts"], indent=1))


if __name__ == "__main__":
    main()

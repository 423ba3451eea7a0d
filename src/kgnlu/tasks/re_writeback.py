"""Writing extracted relations back into the KG, in a source named ``extracted``, reversibly.

Each accepted triple becomes a class-level axiom, in the shape the KG's own sources use:

- ``S rdfs:subClassOf [owl:onProperty p; owl:someValuesFrom O]`` (``S ⊑ ∃p.O``);
- a negated one ``S rdfs:subClassOf [owl:complementOf [...]]`` (``S ⊑ ¬∃p.O``);
- ``is_a``: ``S rdfs:subClassOf O``.

Its provenance is an OWL 2 axiom annotation (``owl:Axiom`` with ``owl:annotatedSource``,
``owl:annotatedProperty``, ``owl:annotatedTarget``, the reification OWL itself defines for
annotating axioms) carrying the sentence (``kgnlu:extracted_text``), the spans
(``kgnlu:evidence_span``), the score (``kgnlu:extraction_score``), the scorer
(``kgnlu:extraction_model``) and the time (``prov:generatedAtTime``).

What is accepted: a triple whose score reaches ``min_score``, stated as a fact (not hedged, and
not asserted of a mention that NegEx reads as negated: "X presents with A but without B"), between
two classes neither of which is upper-level (``_UpperLevel``), not read with the opposite polarity
elsewhere in the same batch, and whose standing is novel under every rule of ``kg.relations``
including the ``thorough`` ones (which catch a triple that would make a subclass unsatisfiable).
Known triples are already in the KG; conflicting ones are reported with their rule and never written.

Writing goes through the normal ingest path, ``kg.ingest.ingest(..., name="extracted")``: the KG is
re-classified and re-tabulated, and the new generation is published only if it is consistent
(the ingest refuses unsatisfiable classes, and its error is reported here). Because ingesting a
source under an existing name replaces it, the triples already in ``extracted`` are read back
from the store and written into the same file as the new ones. The manifest records the source's
path as ``extracted``, not that file's. ``kgnlu kg remove --source extracted`` removes them all.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from kgnlu.kg.ingest import EXTRACTED_SOURCE
from kgnlu.kg.relations import IS_A, NOVEL
from kgnlu.kg.ntriples import (
    KGNLU_NS, OWL_CLASS, OWL_COMPLEMENTOF, OWL_NS, OWL_ONPROPERTY, OWL_ONTOLOGY, OWL_RESTRICTION,
    OWL_SOMEVALUESFROM, RDF_TYPE, RDFS_SUBCLASSOF, XSD_NS, iri, lit,
)
from kgnlu.kg.store import Literal
from kgnlu.kg.tables import namespace
from kgnlu.tasks.relations import statement_rank
from kgnlu.types import InconsistentOntologyError, InputError, KgnluError, Relation, WriteBackResult

SOURCE = EXTRACTED_SOURCE  # named in kg/, whose remove and ingest drop its axioms about classes gone
ONTOLOGY_IRI = KGNLU_NS + "extracted.owl"
PROV_TIME = "http://www.w3.org/ns/prov#generatedAtTime"
ANNOTATIONS = {
    "text": KGNLU_NS + "extracted_text",
    "span": KGNLU_NS + "evidence_span",
    "score": KGNLU_NS + "extraction_score",
    "model": KGNLU_NS + "extraction_model",
}
OWL_AXIOM, OWL_ANNOTATION_PROPERTY = iri(OWL_NS + "Axiom"), iri(OWL_NS + "AnnotationProperty")
ANNOTATED = {k: iri(OWL_NS + f"annotated{k.title()}") for k in ("source", "property", "target")}


def _term(t) -> str:
    if isinstance(t, Literal):
        return lit(t.value, lang=t.lang, datatype=t.datatype)
    if t.startswith("_:"):
        return "_:old" + t[2:].replace("b", "", 1)
    return iri(t)


def _triple_key(r: Relation) -> tuple:
    return (r.subject["iri"], r.predicate["iri"], r.object["iri"], bool(r.negated))


def _describe(r: Relation) -> dict:
    return {"subject": r.subject["iri"], "predicate": r.predicate["iri"], "object": r.object["iri"],
            "negated": bool(r.negated), "hedged": bool(r.hedged), "score": r.score,
            "subject_label": r.subject.get("label"), "predicate_name": r.predicate.get("name"),
            "object_label": r.object.get("label")}


# An upper-level class: one that stands for (most of) an ontology rather than a thing a sentence can
# state something specific of ("a condition" linked to MONDO's ``disease``). A triple on it is
# inherited by, or denied of, a large part of the KG, so write-back refuses it as subject and object.
# Ontology-derived: the class has subclasses and either (a) no named superclass at all (a root of the
# KG's hierarchy: MONDO ``disease``, HPO ``All``, WordNet ``entity``), or (b) its subclasses are at
# least UPPER_SHARE of the classes of its own namespace (HPO ``Phenotypic abnormality``, MONDO
# ``human disease`` and ``hereditary disease``). A parentless class without subclasses (an OMIM entry)
# is specific, not upper.
# UPPER_SHARE sits in the gap the default KG's ontologies show between the two kinds of class: the
# roots and grouping classes cover a third or more of their namespace (MONDO's hereditary disease,
# WordNet's object), the widest classes a sentence states something of less than a quarter (HPO's
# Abnormality of the musculoskeletal system, MONDO's nervous system disorder). At 0.5 hereditary
# disease passed, and with it a triple each of its subclasses would inherit.
UPPER_SHARE = 0.3
_THING = "http://www.w3.org/2002/07/owl#Thing"


class _UpperLevel:
    """Why a class is upper-level (a one-line reason), or None; memoised over one selection."""

    def __init__(self, tables):
        self.t = tables
        self._why: dict[str, str | None] = {}
        self._ns: dict[str, int] = {}

    def _classes_in(self, ns: str) -> int:
        if ns not in self._ns:
            self._ns[ns] = self.t.n_classes_in(ns)
        return self._ns[ns]

    def __call__(self, cls: str) -> str | None:
        if cls not in self._why:
            self._why[cls] = self._decide(cls)
        return self._why[cls]

    def _decide(self, cls: str) -> str | None:
        n = self.t.n_descendants(cls)
        if n == 0:
            return None
        name = f"{self.t.label(cls) or cls} <{cls}>"
        if not [a for a in self.t.ancestors(cls) if a != _THING]:
            return f"{name} is a root of the KG's hierarchy ({n} subclass{'es' if n > 1 else ''})"
        ns = namespace(cls)
        total = self._classes_in(ns) if ns else 0
        if total and n >= UPPER_SHARE * total:
            return f"{name} subsumes {n} of the {total} classes of its ontology ({ns})"
        return None


def select(relations: Sequence[Relation], kb, min_score: float) -> tuple[list[Relation], list[dict]]:
    """The relations to write and, for the others, why not (one reason each).

    A triple read with both polarities in one batch ("X has Y." and "X does not have Y.") is written
    in neither, whatever the scores: the batch's own evidence disagrees, and either write would make
    the KG assert one side of it as a fact (the KG is checked against, not the batch, later on).
    """
    if not 0.0 <= min_score <= 1.0:
        raise InputError(f"--min-score must be within [0, 1], not {min_score}")
    t = kb.tables
    upper = _UpperLevel(t)
    polarities: dict[tuple, set[bool]] = {}
    for r in relations:
        polarities.setdefault(_triple_key(r)[:3], set()).add(bool(r.negated))
    accepted, skipped, seen = [], [], set()
    for r in sorted(relations, key=statement_rank, reverse=True):  # a triple's firmest statement first
        d = _describe(r)
        key = _triple_key(r)
        if key in seen:
            continue
        seen.add(key)
        if len(polarities[key[:3]]) > 1:
            skipped.append({"triple": d, "status": "conflicting", "rule": "batch",
                            "reason": "conflicting within the batch: the texts also state its "
                                      f"{'affirmation' if r.negated else 'negation'}; neither is written"})
            continue
        if r.score < min_score:
            skipped.append({"triple": d, "reason": f"score {r.score} below --min-score {min_score}"})
            continue
        if d["hedged"]:
            skipped.append({"triple": d, "reason": "hedged: the text states it as an open claim, not a fact"})
            continue
        denied = [side for side in ("subject", "object") if getattr(r, side).get("negated")]
        if denied and not r.negated:  # "presents with X but without Y": no fact to write about Y
            skipped.append({"triple": d, "reason": f"polarity unsure: the text negates its {denied[0]}, "
                                                   "the model reads the relation as asserted"})
            continue
        if t.kind(r.subject["iri"]) != "class" or t.kind(r.object["iri"]) != "class":
            skipped.append({"triple": d, "reason": "not writable: only relations between classes are written"})
            continue
        if r.predicate["iri"] != IS_A and t.kind(r.predicate["iri"]) != "object_property":
            skipped.append({"triple": d, "reason": "not writable: the predicate is not an object property"})
            continue
        why = upper(r.subject["iri"]) or upper(r.object["iri"])
        if why:
            skipped.append({"triple": d, "reason": f"not writable: upper-level class: {why}"})
            continue
        st = kb.standing(r.subject["iri"], r.predicate["iri"], r.object["iri"], r.negated, thorough=True)
        if st.status != NOVEL:
            reason = "already known" if st.status == "known" else "conflicting"
            skipped.append({"triple": d, "reason": f"{reason} ({st.rule})", "status": st.status, "rule": st.rule,
                            "proof": st.proof()})
            continue
        accepted.append(r)
    return accepted, skipped


def _axiom_lines(n: int, r: Relation, model: str, when: str) -> list[str]:
    s, p, o = iri(r.subject["iri"]), r.predicate["iri"], iri(r.object["iri"])
    lines = []
    if p == IS_A:
        target = o
    else:
        rest = f"_:r{n}"
        lines += [f"{rest} {RDF_TYPE} {OWL_RESTRICTION} .", f"{rest} {OWL_ONPROPERTY} {iri(p)} .",
                  f"{rest} {OWL_SOMEVALUESFROM} {o} ."]
        target = rest
        if r.negated:
            target = f"_:c{n}"
            lines.append(f"{target} {OWL_COMPLEMENTOF} {rest} .")
    lines.append(f"{s} {RDFS_SUBCLASSOF} {target} .")
    ax = f"_:a{n}"
    spans = json.dumps(r.evidence.get("spans", []))
    lines += [
        f"{ax} {RDF_TYPE} {OWL_AXIOM} .",
        f"{ax} {ANNOTATED['source']} {s} .",
        f"{ax} {ANNOTATED['property']} {RDFS_SUBCLASSOF} .",
        f"{ax} {ANNOTATED['target']} {target} .",
        f"{ax} {iri(ANNOTATIONS['text'])} {lit(r.evidence.get('sentence', ''))} .",
        f"{ax} {iri(ANNOTATIONS['span'])} {lit(spans)} .",
        f"{ax} {iri(ANNOTATIONS['score'])} {lit(repr(float(r.score)), datatype=XSD_NS + 'double')} .",
        f"{ax} {iri(ANNOTATIONS['model'])} {lit(model)} .",
        f"{ax} {iri(PROV_TIME)} {lit(when, datatype=XSD_NS + 'dateTime')} .",
    ]
    return lines


def write_back(engine, relations: Sequence[Relation], min_score: float, model: str = "",
               progress=lambda s: None) -> WriteBackResult:
    """Add the accepted novel ``relations`` to the ``extracted`` source of ``engine``'s KG."""
    kb = engine.relation_kb()
    accepted, skipped = select(relations, kb, min_score)
    kg = str(engine.kg_dir)
    has_source = SOURCE in engine.kg_manifest().get("sources", {})
    previous = list(engine.store.triples(source=SOURCE)) if has_source else []
    previous_axioms = sum(1 for _, p, o in previous if p == RDF_TYPE.strip("<>") and o == OWL_AXIOM.strip("<>"))
    if not accepted:
        return WriteBackResult(kg=kg, source=SOURCE, added=[], skipped=skipped, total=previous_axioms, changed=False)
    when = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    lines = [f"{iri(ONTOLOGY_IRI)} {RDF_TYPE} {OWL_ONTOLOGY} ."]
    lines += [f"{iri(a)} {RDF_TYPE} {OWL_ANNOTATION_PROPERTY} ." for a in (*ANNOTATIONS.values(), PROV_TIME)]
    for s, p, o in previous:
        if s == ONTOLOGY_IRI or (p == RDF_TYPE.strip("<>") and o == OWL_ANNOTATION_PROPERTY.strip("<>")):
            continue
        lines.append(f"{_term(s)} {iri(p)} {_term(o)} .")
    for n, r in enumerate(accepted):
        for cls in (r.subject["iri"], r.object["iri"]):
            lines.append(f"{iri(cls)} {RDF_TYPE} {OWL_CLASS} .")
        lines += _axiom_lines(n, r, model, when)
    tmp = Path(tempfile.mkdtemp(prefix="kgnlu-extracted-"))
    try:
        path = tmp / f"{SOURCE}.nt"
        path.write_text("\n".join(dict.fromkeys(lines)) + "\n", encoding="utf-8")
        progress(f"writing {len(accepted)} triple(s) into source {SOURCE!r} (the KG is re-classified)")
        # Recorded as the source's name: the file is gone once ingested, and no input file of the
        # user's would do either (the source gathers the relations of every write, each axiom
        # annotated with its own sentence and time). No reasoner named: the KG's recorded one is kept.
        engine.runtime.ingest([path], progress, name=SOURCE, origin=SOURCE)
    except InconsistentOntologyError as e:
        reason = f"refused by the ingest: {e}"
        return WriteBackResult(kg=kg, source=SOURCE, added=[], changed=False, total=previous_axioms, error=reason,
                               skipped=skipped + [{"triple": _describe(r), "reason": "conflicting: " + reason}
                                                  for r in accepted])
    except KgnluError as e:
        return WriteBackResult(kg=kg, source=SOURCE, added=[], changed=False, total=previous_axioms, error=str(e),
                               skipped=skipped + [{"triple": _describe(r), "reason": str(e)} for r in accepted])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return WriteBackResult(kg=kg, source=SOURCE, added=[_describe(r) for r in accepted], skipped=skipped,
                           total=previous_axioms + len(accepted), changed=True)


__all__ = ["ANNOTATIONS", "SOURCE", "UPPER_SHARE", "select", "write_back"]

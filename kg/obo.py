"""OBO 1.4 flat files to OWL, written as N-Triples (the OBO Foundry mapping, oboInOwl vocabulary).

``obo_to_ntriples(src, out)`` reads an OBO document and writes what the OWL API's OBO-to-OWL
translation would write, for the parts kgnlu reasons over:

- ``[Term]`` -> ``owl:Class``: ``name`` -> rdfs:label, ``def`` -> IAO:0000115 (its xrefs become
  ``oboInOwl:hasDbXref`` on an ``owl:Axiom``), ``synonym`` -> ``oboInOwl:has{Exact,Related,Broad,
  Narrow}Synonym`` (the synonym type -> ``oboInOwl:hasSynonymType`` on an ``owl:Axiom``),
  ``is_a`` -> rdfs:subClassOf, ``relationship: R X`` -> ``rdfs:subClassOf (R some X)``,
  ``intersection_of`` / ``union_of`` -> ``owl:equivalentClass`` of an intersection / union (genus
  plus ``R some X``), ``equivalent_to``, ``disjoint_from`` -> owl:disjointWith, ``is_obsolete``
  -> owl:deprecated (an obsolete term keeps its annotations and loses its logical axioms),
  ``replaced_by`` -> IAO:0100001, ``consider``, ``xref`` -> oboInOwl:hasDbXref, ``alt_id``,
  ``comment``, ``subset``, ``property_value``; unknown tags -> ``oboInOwl:<tag>``.
- ``[Typedef]`` -> ``owl:ObjectProperty`` (``is_metadata_tag`` -> owl:AnnotationProperty) with
  its characteristics (``is_transitive`` ...), ``domain``, ``range``, ``inverse_of``,
  ``is_a`` -> rdfs:subPropertyOf, ``holds_over_chain`` / ``transitive_over`` -> property chains.
  A shorthand relation id (``part_of``) takes the IRI of its first prefixed xref
  (``xref: BFO:0000050`` -> ``obo:BFO_0000050``), else ``obo:<ontology>#part_of``.
- ``[Instance]`` -> ``owl:NamedIndividual`` (``instance_of`` -> rdf:type).
- Header: ``ontology`` -> the owl:Ontology IRI, ``data-version`` -> owl:versionInfo,
  ``import`` -> owl:imports (reported in the result, never fetched), ``idspace`` prefixes,
  ``subsetdef`` and ``synonymtypedef`` -> annotation properties, ``remark`` -> rdfs:comment.

Quoted strings honour the OBO escapes (``\\"``, ``\\n``, ``\\t``, ``\\\\`` ...); trailing
``{qualifier=...}`` modifiers become axiom annotations, ``! comments`` are dropped. A malformed
line raises ``ParseError`` naming its line number. The converter is a single pass over the
parsed stanzas, so its time grows linearly with the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

from .errors import ParseError
from .ntriples import (
    IAO_DEFINITION, IAO_REPLACED_BY, OBO_NS, OBOINOWL_NS, OIO_ALT_ID, OIO_ID, OIO_SYNONYM_TYPE, OIO_XREF,
    OWL_ANNOTATIONPROPERTY, OWL_CLASS, OWL_DEPRECATED, OWL_DISJOINTWITH, OWL_EQUIVALENTCLASS, OWL_INTERSECTIONOF,
    OWL_INVERSEOF, OWL_NS, OWL_OBJECTPROPERTY, OWL_ONTOLOGY, OWL_UNIONOF, OWL_VERSIONINFO, RDF_NS, RDF_TYPE,
    RDFS_COMMENT, RDFS_DOMAIN, RDFS_LABEL, RDFS_NS, RDFS_RANGE, RDFS_SUBCLASSOF, RDFS_SUBPROPERTYOF, SYNONYM_SCOPES,
    TRUE, XSD_NS, NTriplesWriter, iri, lit,
)
from .obo_syntax import PREFIXED_ID, Line, qualifiers, quoted, read_stanzas, tail, unescape, xref_list

__all__ = ["OboResult", "obo_to_ntriples"]


# Prefixes that are not OBO id spaces (as the OWL API expands them).
BUILTIN_PREFIXES = {"owl": OWL_NS, "rdf": RDF_NS, "rdfs": RDFS_NS, "xsd": XSD_NS, "oboInOwl": OBOINOWL_NS,
                    "dc": "http://purl.org/dc/elements/1.1/", "dcterms": "http://purl.org/dc/terms/"}

OIO = {name: iri(OBOINOWL_NS + name) for name in (
    "hasOBONamespace", "inSubset", "consider", "creation_date", "created_by", "hasOBOFormatVersion",
    "hasDefaultNamespace", "date", "saved-by", "auto-generated-by", "SubsetProperty", "SynonymTypeProperty",
    "shorthand",
)}
OWL = {name: iri(OWL_NS + name) for name in (
    "TransitiveProperty", "SymmetricProperty", "ReflexiveProperty", "IrreflexiveProperty", "AsymmetricProperty",
    "FunctionalProperty", "InverseFunctionalProperty", "NamedIndividual", "imports", "propertyChainAxiom",
    "equivalentProperty", "propertyDisjointWith",
)}
# tag -> (annotation property, value is an id (True) or a literal (False))
SIMPLE = {"alt_id": (OIO_ALT_ID, False), "namespace": (OIO["hasOBONamespace"], False),
          "subset": (OIO["inSubset"], True), "replaced_by": (IAO_REPLACED_BY, True), "consider": (OIO["consider"], False),
          "creation_date": (OIO["creation_date"], False), "created_by": (OIO["created_by"], False)}
HEADER_SIMPLE = {"data-version": OWL_VERSIONINFO, "format-version": OIO["hasOBOFormatVersion"],
                 "default-namespace": OIO["hasDefaultNamespace"], "remark": RDFS_COMMENT, "date": OIO["date"],
                 "saved-by": OIO["saved-by"], "auto-generated-by": OIO["auto-generated-by"]}
CHARACTERISTICS = {
    "is_transitive": "TransitiveProperty", "is_symmetric": "SymmetricProperty", "is_reflexive": "ReflexiveProperty",
    "is_anti_symmetric": "AsymmetricProperty", "is_asymmetric": "AsymmetricProperty",
    "is_irreflexive": "IrreflexiveProperty", "is_functional": "FunctionalProperty",
    "is_inverse_functional": "InverseFunctionalProperty",
}
OLD_SYNONYM_TAGS = {"exact_synonym": "EXACT", "related_synonym": "RELATED", "narrow_synonym": "NARROW",
                    "broad_synonym": "BROAD"}
# Tags that carry no OWL meaning here (or are consumed elsewhere).
IGNORED = {"id", "is_anonymous", "builtin", "namespace-id-rule", "treat-xrefs-as-equivalent",
           "treat-xrefs-as-genus-differentia", "treat-xrefs-as-has-subclass", "treat-xrefs-as-is_a",
           "treat-xrefs-as-relationship", "treat-xrefs-as-reverse-genus-differentia", "owl-axioms",
           "logical-definition-view-relation", "expand_expression_to", "expand_assertion_to"}


@dataclass
class OboResult:
    """What a conversion wrote: the ontology IRI, its imports and counts."""

    ontology_iri: str
    triples: int = 0
    terms: int = 0
    obsolete: int = 0
    typedefs: int = 0
    instances: int = 0
    synonyms: int = 0
    is_a: int = 0
    relationships: int = 0
    imports: list[str] = field(default_factory=list)


def obo_to_ntriples(src: TextIO | Iterable[str], out: TextIO, *, source: str | None = None,
                    comment: str | None = None, default_ontology: str = "kgnlu-obo") -> OboResult:
    """Convert the OBO document ``src`` to N-Triples on ``out``.

    ``source`` names the input in error messages; ``comment`` is added to the owl:Ontology;
    ``default_ontology`` names the ontology when the header has no ``ontology:`` tag.
    """
    where = f"{source}: " if source else ""
    header, stanzas = read_stanzas(src, where)
    writer = NTriplesWriter(out, bnode_prefix="obo")
    conv = _Converter(writer, header, stanzas, where, default_ontology)
    conv.header(comment)
    for kind, lineno, lines in stanzas:
        conv.stanza(kind, lineno, lines)
    conv.declarations()
    writer.flush()
    conv.result.triples = writer.count
    return conv.result


# --- writing ---------------------------------------------------------------------------------


class _Converter:
    def __init__(self, writer: NTriplesWriter, header: list[Line], stanzas, where: str, default_ontology: str):
        self.w = writer
        self.where = where
        self.header_lines = header
        self.idspaces: dict[str, str] = dict(BUILTIN_PREFIXES)
        ont = default_ontology
        for tag, value, lineno in header:
            if tag == "ontology":
                ont = tail(value)[0].strip()
            elif tag == "idspace":
                parts = tail(value)[0].split()
                if len(parts) < 2:
                    raise ParseError(f"{where}line {lineno}: idspace needs a prefix and a URI prefix")
                self.idspaces[parts[0]] = parts[1]
        if ont.endswith(".obo"):
            ont = ont[:-4]
        self.ont = ont
        self.ontology_iri = ont if ont.startswith(("http://", "https://")) else f"{OBO_NS}{ont}.owl"
        self.base = OBO_NS + ont.rsplit("/", 1)[-1].removesuffix(".owl") + "#"
        self.result = OboResult(self.ontology_iri)
        self._iri: dict[str, str] = {}
        self.annotation_props: set[str] = {RDFS_LABEL, RDFS_COMMENT, IAO_DEFINITION, OIO_ID}
        self.object_props: set[str] = set()
        self.declared_props: set[str] = set()
        self.relations = self._relation_ids(stanzas)

    def _relation_ids(self, stanzas) -> dict[str, str]:
        """Typedef id -> IRI term; shorthand ids take their first prefixed xref."""
        out = {}
        for kind, _, lines in stanzas:
            if kind != "Typedef":
                continue
            ident = next((tail(v)[0] for t, v, _ in lines if t == "id"), None)
            if not ident:
                continue
            target = ident
            if ":" not in ident:
                for t, v, _ in lines:
                    if t == "xref":
                        x = tail(v)[0].split(" ", 1)[0]
                        if PREFIXED_ID.match(x) and not x.startswith(("http:", "https:")):
                            target = x
                            break
            out[ident] = self.term(target)
        return out

    # -- identifiers -------------------------------------------------------------------------

    def expand(self, ident: str) -> str:
        """An OBO identifier as a full IRI (not bracketed)."""
        if ident.startswith(("http://", "https://", "urn:", "mailto:")):
            return ident
        prefix, sep, local = ident.partition(":")
        if sep and prefix and local:
            base = self.idspaces.get(prefix)
            if base is not None:
                return base + local
            return f"{OBO_NS}{prefix}_{local}"
        return self.base + ident

    def term(self, ident: str) -> str:
        t = self._iri.get(ident)
        if t is None:
            t = self._iri[ident] = iri(self.expand(ident))
        return t

    def rel(self, ident: str) -> str:
        r = self.relations.get(ident)
        if r is None:
            r = self.term(ident)
        self.object_props.add(r)
        return r

    def error(self, lineno: int, msg: str) -> ParseError:
        return ParseError(f"{self.where}line {lineno}: {msg}")

    # -- annotations shared by every stanza --------------------------------------------------

    def annotate(self, s: str, p: str, o: str, quals: str | None) -> None:
        anns = [(self.qual_prop(k), lit(v)) for k, v in qualifiers(quals)]
        self.w.annotate(s, p, o, anns)

    def qual_prop(self, key: str) -> str:
        p = OIO_XREF if key == "xref" else (self.term(key) if ":" in key else iri(OBOINOWL_NS + key))
        self.annotation_props.add(p)
        return p

    def definition(self, s: str, value: str, lineno: int) -> None:
        text, rest = quoted(value, lineno, self.where, "def")
        xrefs, rest = xref_list(rest, lineno, self.where, "def")
        _, quals = tail(rest)
        anns = [(OIO_XREF, lit(x)) for x, _ in xrefs] + [(self.qual_prop(k), lit(v)) for k, v in qualifiers(quals)]
        self.w.annotate(s, IAO_DEFINITION, lit(text), anns)

    def synonym(self, s: str, value: str, lineno: int, scope: str | None = None) -> None:
        text, rest = quoted(value, lineno, self.where, "synonym")
        rest, quals = tail(rest)
        if scope is None:
            scope, _, rest = rest.partition(" ")
            rest = rest.strip()
            if scope.startswith("[") or not scope:  # OBO 1.0 files omit the scope: RELATED
                rest, scope = (scope + " " + rest).strip(), "RELATED"
        prop = SYNONYM_SCOPES.get(scope)
        if prop is None:
            raise self.error(lineno, f"synonym scope must be EXACT, RELATED, BROAD or NARROW, got {scope!r}")
        anns = []
        if rest and not rest.startswith("["):
            stype, _, rest = rest.partition(" ")
            rest = rest.strip()
            anns.append((OIO_SYNONYM_TYPE, self.term(stype)))
            self.annotation_props.add(OIO_SYNONYM_TYPE)
        xrefs, rest = xref_list(rest, lineno, self.where, "synonym")
        if rest:
            raise self.error(lineno, f"unexpected text after the synonym's xrefs: {rest[:40]!r}")
        anns += [(OIO_XREF, lit(x)) for x, _ in xrefs]
        anns += [(self.qual_prop(k), lit(v)) for k, v in qualifiers(quals)]
        self.annotation_props.add(prop)
        self.w.annotate(s, prop, lit(text), anns)
        self.result.synonyms += 1

    def xref(self, s: str, value: str, lineno: int) -> None:
        body, quals = tail(value)
        ident, _, desc = body.partition(" ")
        desc = desc.strip()
        anns = []
        if desc:
            if desc.startswith('"'):
                desc, _ = quoted(desc, lineno, self.where, "xref")
            anns.append((RDFS_LABEL, lit(desc)))
        anns += [(self.qual_prop(k), lit(v)) for k, v in qualifiers(quals)]
        self.annotation_props.add(OIO_XREF)
        self.w.annotate(s, OIO_XREF, lit(unescape(ident)), anns)

    def property_value(self, s: str, value: str, lineno: int) -> None:
        body, quals = tail(value)
        prop, _, rest = body.partition(" ")
        rest = rest.strip()
        if not rest:
            raise self.error(lineno, f"property_value needs a property and a value, got {body[:60]!r}")
        p = self.term(prop)
        if rest.startswith('"'):
            text, dt = quoted(rest, lineno, self.where, "property_value")
            o = self.literal(text, dt.split()[0] if dt else None)
        else:
            val, _, dt = rest.partition(" ")
            dt = dt.strip()
            o = self.literal(unescape(val), dt) if dt else self.term(unescape(val))
        self.annotation_props.add(p)
        self.annotate(s, p, o, quals)

    def literal(self, text: str, datatype: str | None) -> str:
        if not datatype or datatype in ("xsd:string", XSD_NS + "string"):
            return lit(text)
        return lit(text, datatype=self.expand(datatype))

    def common(self, s: str, tag: str, value: str, lineno: int) -> bool:
        """Tags every stanza kind shares; False when ``tag`` is not one of them."""
        if tag == "synonym":
            self.synonym(s, value, lineno)
        elif tag == "xref":
            self.xref(s, value, lineno)
        elif tag == "property_value":
            self.property_value(s, value, lineno)
        elif tag == "def":
            self.definition(s, value, lineno)
        elif tag == "name":
            body, quals = tail(value)
            self.annotate(s, RDFS_LABEL, lit(unescape(body)), quals)
        elif tag == "comment":
            body, quals = tail(value)
            self.annotate(s, RDFS_COMMENT, lit(unescape(body)), quals)
        elif tag in OLD_SYNONYM_TAGS:
            self.synonym(s, value, lineno, OLD_SYNONYM_TAGS[tag])
        elif tag in SIMPLE:
            prop, as_iri = SIMPLE[tag]
            body = tail(value)[0]
            self.ann(s, prop, self.term(body) if as_iri else lit(unescape(body)))
        else:
            return False
        return True

    def ann(self, s: str, p: str, o: str) -> None:
        self.annotation_props.add(p)
        self.w.triple(s, p, o)

    def other(self, s: str, tag: str, value: str) -> None:
        """An unknown tag: ``oboInOwl:<tag>`` with the value as a literal (as the OWL API does)."""
        if tag in IGNORED:
            return
        self.ann(s, iri(OBOINOWL_NS + tag), lit(unescape(tail(value)[0])))

    # -- header ------------------------------------------------------------------------------

    def header(self, comment: str | None) -> None:
        w, o = self.w, iri(self.ontology_iri)
        w.triple(o, RDF_TYPE, OWL_ONTOLOGY)
        if comment:
            w.triple(o, RDFS_COMMENT, lit(comment))
        for tag, value, lineno in self.header_lines:
            body, _ = tail(value)
            if tag in ("ontology", "idspace"):
                continue
            if tag in HEADER_SIMPLE:
                self.ann(o, HEADER_SIMPLE[tag], lit(unescape(body)))
            elif tag == "import":
                target = body if body.startswith(("http://", "https://", "file:")) else (
                    f"{OBO_NS}{body.removesuffix('.obo').removesuffix('.owl')}.owl")
                self.result.imports.append(target)
                w.triple(o, OWL["imports"], iri(target))
            elif tag in ("subsetdef", "synonymtypedef"):
                name, _, rest = body.partition(" ")
                p = self.term(name)
                w.triple(p, RDF_TYPE, OWL_ANNOTATIONPROPERTY)
                parent = OIO["SubsetProperty" if tag == "subsetdef" else "SynonymTypeProperty"]
                w.triple(p, RDFS_SUBPROPERTYOF, parent)
                if rest.strip().startswith('"'):
                    desc, _ = quoted(rest.strip(), lineno, self.where, tag)
                    w.triple(p, RDFS_LABEL if tag == "synonymtypedef" else RDFS_COMMENT, lit(desc))
            elif tag == "property_value":
                self.property_value(o, value, lineno)
            else:
                self.other(o, tag, value)

    # -- stanzas -----------------------------------------------------------------------------

    def stanza(self, kind: str, lineno: int, lines: list[Line]) -> None:
        ident = obsolete = None
        for tag, value, ln in lines:
            if tag == "id":
                ident = unescape(tail(value)[0])
            elif tag == "is_obsolete":
                obsolete = tail(value)[0].strip().lower() == "true"
        if not ident:
            raise self.error(lineno, f"[{kind}] stanza without an id")
        if kind == "Term":
            self.term_stanza(ident, lines, obsolete)
        elif kind == "Typedef":
            self.typedef_stanza(ident, lines, obsolete)
        else:
            self.instance_stanza(ident, lines)

    def obsolete(self, s: str) -> None:
        self.w.triple(s, OWL_DEPRECATED, TRUE)
        self.annotation_props.add(OWL_DEPRECATED)

    def term_stanza(self, ident: str, lines: list[Line], obsolete: bool | None) -> None:
        w, s = self.w, self.term(ident)
        w.triple(s, RDF_TYPE, OWL_CLASS)
        w.triple(s, OIO_ID, lit(ident))
        self.result.terms += 1
        if obsolete:
            self.obsolete(s)
            self.result.obsolete += 1
        genus: list[str] = []
        differentia: list[tuple[str, str]] = []
        union: list[str] = []
        first_inter = 0
        for tag, value, lineno in lines:
            if tag == "is_a":
                if not obsolete:
                    body, quals = tail(value)
                    self.annotate(s, RDFS_SUBCLASSOF, self.term(body), quals)
                    self.result.is_a += 1
            elif self.common(s, tag, value, lineno):
                pass
            elif tag == "relationship":
                if not obsolete:
                    body, quals = tail(value)
                    parts = body.split()
                    if len(parts) != 2:
                        raise self.error(lineno, f"relationship needs a relation and a target, got {body[:60]!r}")
                    self.annotate(s, RDFS_SUBCLASSOF, w.some(self.rel(parts[0]), self.term(parts[1])), quals)
                    self.result.relationships += 1
            elif tag == "intersection_of":
                first_inter = first_inter or lineno
                parts = tail(value)[0].split()
                if len(parts) == 1:
                    genus.append(self.term(parts[0]))
                elif len(parts) == 2:
                    differentia.append((self.rel(parts[0]), self.term(parts[1])))
                else:
                    raise self.error(lineno, f"intersection_of needs a class or a relation and a class, got {value[:60]!r}")
            elif tag == "union_of":
                union.append(self.term(tail(value)[0]))
            elif tag == "equivalent_to":
                if not obsolete:
                    w.triple(s, OWL_EQUIVALENTCLASS, self.term(tail(value)[0]))
            elif tag == "disjoint_from":
                if not obsolete:
                    w.triple(s, OWL_DISJOINTWITH, self.term(tail(value)[0]))
            elif tag != "is_obsolete":
                self.other(s, tag, value)
        if obsolete:
            return
        if genus or differentia:
            if len(genus) + len(differentia) < 2:
                raise self.error(first_inter, "intersection_of needs at least two parts (a genus and a differentia)")
            members = genus + [w.some(r, f) for r, f in differentia]
            self._anonymous(s, OWL_INTERSECTIONOF, members)
        if union:
            if len(union) < 2:
                raise self.error(lines[0][2], "union_of needs at least two classes")
            self._anonymous(s, OWL_UNIONOF, union)

    def _anonymous(self, s: str, op: str, members: list[str]) -> None:
        node = self.w.bnode()
        self.w.triple(s, OWL_EQUIVALENTCLASS, node)
        self.w.triple(node, RDF_TYPE, OWL_CLASS)
        self.w.triple(node, op, self.w.rdf_list(members))

    def typedef_stanza(self, ident: str, lines: list[Line], obsolete: bool | None) -> None:
        w, p = self.w, self.relations.get(ident) or self.term(ident)
        metadata = any(t == "is_metadata_tag" and tail(v)[0].lower() == "true" for t, v, _ in lines)
        w.triple(p, RDF_TYPE, OWL_ANNOTATIONPROPERTY if metadata else OWL_OBJECTPROPERTY)
        self.declared_props.add(p)
        w.triple(p, OIO_ID, lit(ident))
        if ":" not in ident:
            self.ann(p, OIO["shorthand"], lit(ident))
        self.result.typedefs += 1
        if obsolete:
            self.obsolete(p)
        logical = not obsolete
        for tag, value, lineno in lines:
            if self.common(p, tag, value, lineno):
                continue
            body = tail(value)[0]
            if tag in ("is_obsolete", "is_metadata_tag", "is_class_level"):
                continue
            if tag in CHARACTERISTICS:
                if logical and not metadata and body.lower() == "true":
                    w.triple(p, RDF_TYPE, OWL[CHARACTERISTICS[tag]])
            elif tag == "is_a":
                if logical:
                    w.triple(p, RDFS_SUBPROPERTYOF, self.term(body) if metadata else self.rel(body))
            elif tag in ("domain", "range"):
                if logical:
                    w.triple(p, RDFS_DOMAIN if tag == "domain" else RDFS_RANGE, self.term(body))
            elif tag in ("inverse_of", "holds_over_chain", "transitive_over", "equivalent_to", "disjoint_from"):
                if logical and not metadata:
                    self.property_axiom(p, tag, body, lineno)
            else:
                self.other(p, tag, value)

    def property_axiom(self, p: str, tag: str, body: str, lineno: int) -> None:
        w = self.w
        if tag == "inverse_of":
            w.triple(p, OWL_INVERSEOF, self.rel(body))
        elif tag == "holds_over_chain":
            parts = body.split()
            if len(parts) != 2:
                raise self.error(lineno, f"holds_over_chain needs two relations, got {body[:60]!r}")
            w.triple(p, OWL["propertyChainAxiom"], w.rdf_list([self.rel(x) for x in parts]))
        elif tag == "transitive_over":
            w.triple(p, OWL["propertyChainAxiom"], w.rdf_list([p, self.rel(body)]))
        elif tag == "equivalent_to":
            w.triple(p, OWL["equivalentProperty"], self.rel(body))
        else:
            w.triple(p, OWL["propertyDisjointWith"], self.rel(body))

    def instance_stanza(self, ident: str, lines: list[Line]) -> None:
        w, s = self.w, self.term(ident)
        w.triple(s, RDF_TYPE, OWL["NamedIndividual"])
        w.triple(s, OIO_ID, lit(ident))
        self.result.instances += 1
        for tag, value, lineno in lines:
            if self.common(s, tag, value, lineno):
                continue
            body = tail(value)[0]
            if tag == "instance_of":
                w.triple(s, RDF_TYPE, self.term(body))
            elif tag == "relationship":
                parts = body.split()
                if len(parts) != 2:
                    raise self.error(lineno, f"relationship needs a relation and a target, got {body[:60]!r}")
                w.triple(s, self.rel(parts[0]), self.term(parts[1]))
            elif tag != "is_obsolete":
                self.other(s, tag, value)

    def declarations(self) -> None:
        """Declare the properties used but not defined by a stanza, so the output is OWL 2 DL."""
        for p in sorted(self.object_props - self.declared_props):
            self.w.triple(p, RDF_TYPE, OWL_OBJECTPROPERTY)
        builtin = ("<" + OWL_NS, "<" + RDFS_NS, "<" + RDF_NS)
        for p in sorted(self.annotation_props - self.declared_props - self.object_props):
            if p.startswith(builtin):
                continue
            self.w.triple(p, RDF_TYPE, OWL_ANNOTATIONPROPERTY)

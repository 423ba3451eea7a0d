"""IRIs of the RDF, RDFS, OWL, SKOS and oboInOwl terms kgnlu reads."""

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
OBOINOWL = "http://www.geneontology.org/formats/oboInOwl#"
OBO = "http://purl.obolibrary.org/obo/"

RDF_TYPE = RDF + "type"
XSD_STRING = XSD + "string"
FIRST, REST, NIL = RDF + "first", RDF + "rest", RDF + "nil"
SUBCLASS_OF = RDFS + "subClassOf"
SUBPROPERTY_OF = RDFS + "subPropertyOf"
DOMAIN, RANGE = RDFS + "domain", RDFS + "range"
LABEL, COMMENT = RDFS + "label", RDFS + "comment"
RDFS_CLASS = RDFS + "Class"

CLASS = OWL + "Class"
THING, NOTHING = OWL + "Thing", OWL + "Nothing"
OBJECT_PROPERTY = OWL + "ObjectProperty"
DATATYPE_PROPERTY = OWL + "DatatypeProperty"
ANNOTATION_PROPERTY = OWL + "AnnotationProperty"
NAMED_INDIVIDUAL = OWL + "NamedIndividual"
TRANSITIVE_PROPERTY = OWL + "TransitiveProperty"
SYMMETRIC_PROPERTY = OWL + "SymmetricProperty"
FUNCTIONAL_PROPERTY = OWL + "FunctionalProperty"
EQUIVALENT_CLASS = OWL + "equivalentClass"
DISJOINT_WITH = OWL + "disjointWith"
ALL_DISJOINT = OWL + "AllDisjointClasses"
DISJOINT_UNION = OWL + "disjointUnionOf"
MEMBERS = OWL + "members"
ANNOTATED_SOURCE, ANNOTATED_PROPERTY, ANNOTATED_TARGET = (
    OWL + "annotatedSource", OWL + "annotatedProperty", OWL + "annotatedTarget")
INVERSE_OF = OWL + "inverseOf"
ON_PROPERTY = OWL + "onProperty"
SOME_VALUES_FROM = OWL + "someValuesFrom"
COMPLEMENT_OF = OWL + "complementOf"
INTERSECTION_OF = OWL + "intersectionOf"
IMPORTS = OWL + "imports"
DEPRECATED = OWL + "deprecated"
ONTOLOGY = OWL + "Ontology"

SKOS_PREF, SKOS_ALT, SKOS_DEFINITION = SKOS + "prefLabel", SKOS + "altLabel", SKOS + "definition"
IAO_DEFINITION = OBO + "IAO_0000115"
IAO_REPLACED_BY = OBO + "IAO_0100001"  # "term replaced by", on deprecated terms

# Lexicon entry kinds, keyed by the annotation property that carries them.
LEXICAL_PROPERTIES = {
    LABEL: "label",
    SKOS_PREF: "pref",
    SKOS_ALT: "alt",
    OBOINOWL + "hasExactSynonym": "exact",
    OBOINOWL + "hasRelatedSynonym": "related",
    OBOINOWL + "hasBroadSynonym": "broad",
    OBOINOWL + "hasNarrowSynonym": "narrow",
}
DEFINITION_PROPERTIES = (IAO_DEFINITION, SKOS_DEFINITION)

_BUILTIN = (RDF, RDFS, OWL, XSD)


def is_builtin(iri: str) -> bool:
    return iri.startswith(_BUILTIN)

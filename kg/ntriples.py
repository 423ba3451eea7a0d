"""N-Triples, read and written in one place: terms, lines, a buffered writer, atomic files.

Writing (every builder of the default KG, the OBO converter, the reasoner export and the
relation write-back go through here, so escaping is done once):

- ``iri(s)`` gives ``<s>``, percent-encoding the characters an N-Triples IRIREF may not hold
  (space, control characters, ``<>"{}|^`\\``).
- ``lit(text, lang=None, datatype=None)`` gives a quoted literal. Backslash, quote, LF and CR are
  escaped (as N-Triples requires); other control characters and lone surrogates become ``\\uXXXX``.
  Output is meant to be written as UTF-8.
- ``term(t)`` formats a store term (:mod:`kgnlu.kg.terms`) as it was stored: the store validated
  its IRIs on the way in, so they are written verbatim and round-trip exactly.
- ``NTriplesWriter(out)`` buffers ``s p o .`` lines and hands out blank nodes ``_:b1, _:b2 ...``.
- ``atomic_ntriples(path)`` writes to a temporary file beside ``path`` and moves it into place
  with ``os.replace`` only when the block finishes without an exception.

Reading (files kgnlu wrote, or validated line by line with ``LINE``): ``parse_line`` and
``iter_ntriples`` give store triples.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from .terms import Literal, Term, Triple

# --- vocabulary -------------------------------------------------------------------------------
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS_NS = "http://www.w3.org/2000/01/rdf-schema#"
OWL_NS = "http://www.w3.org/2002/07/owl#"
XSD_NS = "http://www.w3.org/2001/XMLSchema#"
OBO_NS = "http://purl.obolibrary.org/obo/"
OBOINOWL_NS = "http://www.geneontology.org/formats/oboInOwl#"
KGNLU_NS = OBO_NS + "kgnlu/"


def iri(s: str) -> str:
    """``<s>`` as an N-Triples IRIREF; characters not allowed there are percent-encoded (UTF-8)."""
    if _BAD_IRI.search(s) is None:
        return "<" + s + ">"
    return "<" + _BAD_IRI.sub(_pct, s) + ">"


_BAD_IRI = re.compile(r'[\x00-\x20<>"{}|^`\\\ud800-\udfff]')


def _pct(m: re.Match[str]) -> str:
    return "".join(f"%{b:02X}" for b in m.group(0).encode("utf-8", "surrogatepass"))


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_BAD_LIT = re.compile(r'[\\"\x00-\x1f\x7f\ud800-\udfff]')
_LANG = re.compile(r"[a-zA-Z]+(-[a-zA-Z0-9]+)*")


def _esc(m: re.Match[str]) -> str:
    c = m.group(0)
    return _ESCAPES.get(c) or ("\\uFFFD" if 0xD800 <= ord(c) <= 0xDFFF else f"\\u{ord(c):04X}")


def lit(text: str, lang: str | None = None, datatype: str | None = None) -> str:
    """A quoted N-Triples literal, with an optional language tag or datatype IRI (not both)."""
    body = text if _BAD_LIT.search(text) is None else _BAD_LIT.sub(_esc, text)
    if lang:
        if datatype:
            raise ValueError("a literal has a language tag or a datatype, not both")
        if not _LANG.fullmatch(lang):
            raise ValueError(f"invalid language tag {lang!r}")
        return f'"{body}"@{lang}'
    if datatype:
        return f'"{body}"^^{iri(datatype)}'
    return f'"{body}"'


# Pre-formatted terms for the vocabulary every builder uses.
RDF_TYPE = iri(RDF_NS + "type")
RDF_FIRST = iri(RDF_NS + "first")
RDF_REST = iri(RDF_NS + "rest")
RDF_NIL = iri(RDF_NS + "nil")
RDFS_LABEL = iri(RDFS_NS + "label")
RDFS_COMMENT = iri(RDFS_NS + "comment")
RDFS_SUBCLASSOF = iri(RDFS_NS + "subClassOf")
RDFS_SUBPROPERTYOF = iri(RDFS_NS + "subPropertyOf")
RDFS_DOMAIN = iri(RDFS_NS + "domain")
RDFS_RANGE = iri(RDFS_NS + "range")
OWL_ONTOLOGY = iri(OWL_NS + "Ontology")
OWL_CLASS = iri(OWL_NS + "Class")
OWL_OBJECTPROPERTY = iri(OWL_NS + "ObjectProperty")
OWL_ANNOTATIONPROPERTY = iri(OWL_NS + "AnnotationProperty")
OWL_TRANSITIVEPROPERTY = iri(OWL_NS + "TransitiveProperty")
OWL_RESTRICTION = iri(OWL_NS + "Restriction")
OWL_ONPROPERTY = iri(OWL_NS + "onProperty")
OWL_SOMEVALUESFROM = iri(OWL_NS + "someValuesFrom")
OWL_INTERSECTIONOF = iri(OWL_NS + "intersectionOf")
OWL_UNIONOF = iri(OWL_NS + "unionOf")
OWL_COMPLEMENTOF = iri(OWL_NS + "complementOf")
OWL_EQUIVALENTCLASS = iri(OWL_NS + "equivalentClass")
OWL_DISJOINTWITH = iri(OWL_NS + "disjointWith")
OWL_INVERSEOF = iri(OWL_NS + "inverseOf")
OWL_DEPRECATED = iri(OWL_NS + "deprecated")
OWL_VERSIONINFO = iri(OWL_NS + "versionInfo")
OWL_AXIOM = iri(OWL_NS + "Axiom")
OWL_ANNOTATEDSOURCE = iri(OWL_NS + "annotatedSource")
OWL_ANNOTATEDPROPERTY = iri(OWL_NS + "annotatedProperty")
OWL_ANNOTATEDTARGET = iri(OWL_NS + "annotatedTarget")
XSD_BOOLEAN = XSD_NS + "boolean"
TRUE = lit("true", datatype=XSD_BOOLEAN)
IAO_DEFINITION = iri(OBO_NS + "IAO_0000115")
IAO_REPLACED_BY = iri(OBO_NS + "IAO_0100001")
OIO_ID = iri(OBOINOWL_NS + "id")
OIO_EXACT = iri(OBOINOWL_NS + "hasExactSynonym")
OIO_RELATED = iri(OBOINOWL_NS + "hasRelatedSynonym")
OIO_BROAD = iri(OBOINOWL_NS + "hasBroadSynonym")
OIO_NARROW = iri(OBOINOWL_NS + "hasNarrowSynonym")
OIO_SYNONYM_TYPE = iri(OBOINOWL_NS + "hasSynonymType")
OIO_XREF = iri(OBOINOWL_NS + "hasDbXref")
OIO_ALT_ID = iri(OBOINOWL_NS + "hasAlternativeId")
SYNONYM_SCOPES = {"EXACT": OIO_EXACT, "RELATED": OIO_RELATED, "BROAD": OIO_BROAD, "NARROW": OIO_NARROW}


def obo_iri(curie: str) -> str:
    """``HP:0000118`` -> ``http://purl.obolibrary.org/obo/HP_0000118`` (the OBO PURL rule)."""
    prefix, _, local = curie.partition(":")
    return f"{OBO_NS}{prefix}_{local}"


class NTriplesWriter:
    """Buffered writer of ``s p o .`` lines; terms are already formatted with ``iri``/``lit``.

    ``bnode()`` allocates ``_:{prefix}1``, ``_:{prefix}2`` ... ; ``count`` is the number of
    triples written so far.
    """

    def __init__(self, out: TextIO, *, bnode_prefix: str = "b", buffer_lines: int = 20000):
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", bnode_prefix):
            raise ValueError(f"invalid blank node prefix {bnode_prefix!r}")
        self._out = out
        self._buf: list[str] = []
        self._limit = buffer_lines
        self._prefix = bnode_prefix
        self._next_bnode = 0
        self.count = 0

    def triple(self, s: str, p: str, o: str) -> None:
        self._buf.append(f"{s} {p} {o} .\n")
        if len(self._buf) >= self._limit:
            self.flush()

    def bnode(self) -> str:
        self._next_bnode += 1
        return f"_:{self._prefix}{self._next_bnode}"

    def rdf_list(self, items: Iterable[str]) -> str:
        """Write an RDF collection of the given terms; returns its head (``rdf:nil`` if empty)."""
        items = list(items)
        if not items:
            return RDF_NIL
        nodes = [self.bnode() for _ in items]
        for i, (node, item) in enumerate(zip(nodes, items)):
            self.triple(node, RDF_FIRST, item)
            self.triple(node, RDF_REST, nodes[i + 1] if i + 1 < len(nodes) else RDF_NIL)
        return nodes[0]

    def some(self, prop: str, filler: str) -> str:
        """A blank ``owl:Restriction`` ``prop some filler``; returns the blank node."""
        r = self.bnode()
        self.triple(r, RDF_TYPE, OWL_RESTRICTION)
        self.triple(r, OWL_ONPROPERTY, prop)
        self.triple(r, OWL_SOMEVALUESFROM, filler)
        return r

    def annotate(self, s: str, p: str, o: str, annotations: Iterable[tuple[str, str]]) -> None:
        """Write ``s p o`` and, if there are annotations, an ``owl:Axiom`` reifying it."""
        self.triple(s, p, o)
        ax = None
        for ap, av in annotations:
            if ax is None:
                ax = self.bnode()
                self.triple(ax, RDF_TYPE, OWL_AXIOM)
                self.triple(ax, OWL_ANNOTATEDSOURCE, s)
                self.triple(ax, OWL_ANNOTATEDPROPERTY, p)
                self.triple(ax, OWL_ANNOTATEDTARGET, o)
            self.triple(ax, ap, av)

    def ontology_header(self, ontology_iri: str, label: str, version: str | None,
                        comment: str | None = None) -> None:
        """``<ontology> a owl:Ontology`` with its label, version and an optional comment."""
        o = iri(ontology_iri)
        self.triple(o, RDF_TYPE, OWL_ONTOLOGY)
        self.triple(o, RDFS_LABEL, lit(label))
        if version:
            self.triple(o, OWL_VERSIONINFO, lit(version))
        if comment:
            self.triple(o, RDFS_COMMENT, lit(comment))

    def flush(self) -> None:
        if self._buf:
            self.count += len(self._buf)
            self._out.writelines(self._buf)
            self._buf.clear()


def term(t: Term) -> str:
    """A store term as N-Triples: IRIs verbatim (the store checked them), blank nodes as they are."""
    if isinstance(t, Literal):
        return lit(t.value, lang=t.lang, datatype=t.datatype)
    return t if t.startswith("_:") else f"<{t}>"


def write_triples(triples: Iterable[Triple], path: Path) -> int:
    """Write store triples to ``path`` as N-Triples; returns how many."""
    with open(path, "w", encoding="utf-8") as f:
        writer = NTriplesWriter(f)
        for s, p, o in triples:
            writer.triple(term(s), f"<{p}>", term(o))
        writer.flush()
    return writer.count


@contextlib.contextmanager
def atomic_text(path: Path) -> Iterator[TextIO]:
    """Yield a UTF-8 text file beside ``path``; on success ``os.replace`` it onto ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            yield fh
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_ntriples(path: Path, **writer_kwargs) -> Iterator[NTriplesWriter]:
    """Yield an ``NTriplesWriter`` on ``atomic_text(path)``; it is flushed before the move."""
    with atomic_text(path) as fh:
        writer = NTriplesWriter(fh, **writer_kwargs)
        yield writer
        writer.flush()


# --- reading ----------------------------------------------------------------------------------

# One N-Triples statement, as ``kg.formats`` checks a file line by line before copying it.
LINE = re.compile(
    r'^\s*(?:<[^<>"{}|^`\\\s]*>|_:\S+)\s+<[^<>"{}|^`\\\s]*>\s+'
    r'(?:<[^<>"{}|^`\\\s]*>|_:\S+|"(?:[^"\\]|\\.)*"(?:@[A-Za-z]+(?:-[A-Za-z0-9]+)*|\^\^<[^<>"\s]*>)?)\s*\.\s*(?:#.*)?$'
)
_TERM = re.compile(r'<([^>]*)>|(_:\S+)|"((?:[^"\\]|\\.)*)"(?:@([A-Za-z0-9-]+)|\^\^<([^>]*)>)?')
_ESC = re.compile(r'\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)')
_SIMPLE = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def unescape(s: str) -> str:
    def sub(m):
        e = m.group(1)
        return chr(int(e[1:], 16)) if e[0] in "uU" else _SIMPLE.get(e, e)

    return _ESC.sub(sub, s) if "\\" in s else s


def _read_term(m: re.Match) -> Term:
    iri_, blank, value, lang, dt = m.groups()
    if iri_ is not None:
        return iri_
    if blank is not None:
        return blank
    return Literal(unescape(value), dt, lang)


def parse_line(line: str) -> Triple | None:
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    terms = [_read_term(m) for m in _TERM.finditer(line)][:3]
    if len(terms) != 3:
        raise ValueError(f"not an N-Triples line: {line[:80]!r}")
    return terms[0], terms[1], terms[2]


def iter_ntriples(path: Path) -> Iterator[Triple]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            t = parse_line(line)
            if t is not None:
                yield t

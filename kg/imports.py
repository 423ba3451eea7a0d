"""Resolving ``owl:imports`` IRIs to files in an ``--imports`` directory; nothing is ever fetched.

As Protégé and ROBOT do, an imported IRI is looked up, in this order:

1. in the directory's XML catalog ``catalog-v001.xml``, if there is one (``<uri name="IRI"
   uri="relative/path"/>`` entries, also inside ``<group xml:base="...">``); only entries naming a
   file inside the directory count, and the catalog is read with entity declarations refused;
2. among the ontology IRIs and version IRIs the directory's files declare in their headers (the
   first ``HEADER_BYTES`` of each, read once per ingest, only when step 1 did not answer): RDF/XML
   ``<owl:Ontology rdf:about=...>`` and ``owl:versionIRI``, OWL/XML ``ontologyIRI`` / ``versionIRI``,
   Turtle / N-Triples ``<iri> a owl:Ontology``, OBO ``ontology: NAME`` (``http://purl.obolibrary.org/
   obo/NAME.owl``, and the version IRI OBO tools derive from ``data-version``);
3. by file name: the IRI's last path segment, as is or with a known suffix (optionally ``.gz``).
"""

from __future__ import annotations

import html
import re
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

from .errors import InputError
from .formats import SUFFIXES, sniff

CATALOG = "catalog-v001.xml"
HEADER_BYTES = 256 << 10
OWL = "http://www.w3.org/2002/07/owl#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
OBO_NS = "http://purl.obolibrary.org/obo/"
_XML_BASE = "http://www.w3.org/XML/1998/namespace base"


def _key(iri: str) -> str:
    """An IRI compared loosely: ``http://a/b/``, ``http://a/b#`` and ``http://a/b`` are one."""
    return iri.strip().rstrip("/#")


class ImportResolver:
    """Finds the local file for an imported IRI in ``directory`` (see the module's docstring)."""

    def __init__(self, directory: Path | None):
        self.directory = Path(directory) if directory is not None else None
        self.catalog: dict[str, Path] = {}
        self._declared: dict[str, Path] | None = None
        if self.directory is not None and (self.directory / CATALOG).is_file():
            self.catalog = read_catalog(self.directory / CATALOG, self.directory)

    def resolve(self, iri: str) -> Path | None:
        if self.directory is None:
            return None
        found = self.catalog.get(iri) or self.catalog.get(_key(iri))
        if found is not None and found.is_file():
            return found
        if self._declared is None:
            self._declared = self._index()
        found = self._declared.get(iri) or self._declared.get(_key(iri))
        return found or self._by_name(iri)

    def _index(self) -> dict[str, Path]:
        """Each ontology / version IRI the directory's files declare -> the first such file."""
        index: dict[str, Path] = {}
        for p in sorted(self.directory.iterdir()):
            name = p.name.lower().removesuffix(".gz")
            if p.name == CATALOG or Path(name).suffix not in SUFFIXES or not p.is_file():
                continue
            for iri in declared_iris(read_header(p)):
                index.setdefault(iri, p)
                index.setdefault(_key(iri), p)
        return index

    def _by_name(self, iri: str) -> Path | None:
        stem = iri.rstrip("/#").rsplit("/", 1)[-1]
        base = stem.rsplit(".", 1)[0]
        for candidate in [stem] + [base + s for s in SUFFIXES] + [base + s + ".gz" for s in SUFFIXES]:
            p = self.directory / candidate
            if candidate and p.is_file():
                return p
        return None


# --- the XML catalog ----------------------------------------------------------------------------


def read_catalog(path: Path, directory: Path) -> dict[str, Path]:
    """``<uri name= uri=>`` entries of an OASIS XML catalog -> local files inside ``directory``.
    Parsed by expat with entity declarations and external entities refused: nothing is expanded or
    fetched. Entries naming a remote URI or a file outside ``directory`` are left out."""
    from xml.parsers import expat

    def refuse(*_):
        raise InputError(f"{path}: entity declaration in the catalog; refused (kgnlu never fetches)")

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    root = directory.resolve()
    entries: dict[str, Path] = {}
    bases: list[Path | None] = [path.parent]

    def start(tag: str, attrs: dict[str, str]) -> None:
        base = bases[-1]
        if attrs.get(_XML_BASE) and base is not None:
            base = _local_path(attrs[_XML_BASE], base)
        bases.append(base)
        if tag.rsplit(" ", 1)[-1] == "uri" and base is not None and attrs.get("name") and attrs.get("uri"):
            target = _local_file(attrs["uri"], base, root)
            if target is not None:
                entries.setdefault(attrs["name"].strip(), target)
                entries.setdefault(_key(attrs["name"]), target)

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda _: bases.pop()
    try:
        parser.Parse(path.read_bytes(), True)
    except expat.ExpatError as e:
        raise InputError(f"{path}: not a well-formed XML catalog ({e})") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    return entries


def _local_path(uri: str, base: Path) -> Path | None:
    parts = urllib.parse.urlsplit(uri.strip())
    if parts.scheme == "file":
        return Path(urllib.request.url2pathname(parts.path))
    if parts.scheme and len(parts.scheme) > 1:  # http:, urn: ... (a one-letter scheme is a drive)
        return None
    return base / urllib.parse.unquote(uri.strip())


def _local_file(uri: str, base: Path, root: Path) -> Path | None:
    p = _local_path(uri, base)
    if p is None:
        return None
    p = p.resolve()
    return p if p.is_relative_to(root) else None


# --- the IRIs a file declares -------------------------------------------------------------------


def read_header(path: Path) -> str:
    """The first ``HEADER_BYTES`` of the file's text (gunzipped, by magic number; never more than
    that is decompressed), or "" when it cannot be read."""
    try:
        with open(path, "rb") as f:
            raw = f.read(HEADER_BYTES)
        if raw[:2] == b"\x1f\x8b":
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, HEADER_BYTES)
    except (OSError, zlib.error):
        return ""
    return raw.decode("utf-8-sig", errors="replace")


def declared_iris(text: str) -> list[str]:
    """The ontology IRI and version IRI a file's header declares (best effort, no parsing)."""
    fmt = sniff(text)
    if fmt in ("rdfxml", "owlxml"):
        return _xml_iris(text)
    if fmt == "obo":
        return _obo_iris(text)
    return _turtle_iris(text) if fmt in ("turtle", "ntriples") else []


_ENTITY = re.compile(r"<!ENTITY\s+([A-Za-z_][\w.-]*)\s+(\"[^\"]*\"|'[^']*')")
_XML_ONTOLOGY = re.compile(r"<(?:[\w.-]+:)?Ontology\b([^>]*)>", re.DOTALL)
_ATTR = r"\b(?:[\w.-]+:)?{}\s*=\s*(\"[^\"]*\"|'[^']*')"
_XML_VERSION = re.compile(r"<(?:[\w.-]+:)?versionIRI\b[^>]*?" + _ATTR.format("resource"), re.DOTALL)


def _xml_iris(text: str) -> list[str]:
    entities = {m.group(1): m.group(2)[1:-1] for m in _ENTITY.finditer(text)}

    def value(quoted: str) -> str:
        v = re.sub(r"&([A-Za-z_][\w.-]*);", lambda m: entities.get(m.group(1), m.group(0)), quoted[1:-1])
        return html.unescape(v).strip()

    root = re.search(r"<(?![?!])[^>]*>", text)
    base_attr = re.search(r"\bxml:base\s*=\s*(\"[^\"]*\"|'[^']*')", root.group(0)) if root else None
    base = value(base_attr.group(1)) if base_attr else ""
    m = _XML_ONTOLOGY.search(text)
    if m is None:
        return []
    iris = []
    for attr in ("about", "ontologyIRI", "versionIRI"):
        a = re.search(_ATTR.format(attr), m.group(1))
        if a:
            iris.append(value(a.group(1)))
    v = _XML_VERSION.search(text, m.end())
    if v:
        iris.append(value(v.group(1)))
    iris = [urllib.parse.urljoin(base, i) if base else i for i in iris]
    return [i for i in iris if re.match(r"[A-Za-z][\w+.-]*:", i)]


def _obo_iris(text: str) -> list[str]:
    header = re.split(r"^\s*\[", text, maxsplit=1, flags=re.MULTILINE)[0]
    tags = dict(re.findall(r"^(ontology|data-version):[ \t]*(\S+)", header, re.MULTILINE)[::-1])
    ont = tags.get("ontology")
    if not ont:
        return []
    if ont.startswith(("http://", "https://")):
        return [ont]
    iris = [f"{OBO_NS}{ont}.owl"]
    if tags.get("data-version"):  # OBO tools: .../obo/NAME/DATA-VERSION/NAME.owl
        iris.append(f"{OBO_NS}{ont}/{tags['data-version']}/{ont}.owl")
    return iris


_TERM = re.compile(r"<[^<>\s]*>|[A-Za-z_][\w.-]*:[^\s;,()\[\]<>\"']*|:[^\s;,()\[\]<>\"']*|\ba\b|[;.,]")


def _turtle_iris(text: str) -> list[str]:
    text = re.sub(r"(?m)^\s*#.*$", "", text)
    prefixes = {p: ns for p, ns in re.findall(r"(?i)@?prefix\s+([\w.-]*):\s*<([^>]*)>", text)}
    base = re.search(r"(?i)@?base\s+<([^>]*)>", text)

    def expand(tok: str) -> str:
        if tok.startswith("<"):
            iri = urllib.parse.urljoin(base.group(1), tok[1:-1]) if base else tok[1:-1]
            return iri if re.match(r"[A-Za-z][\w+.-]*:", iri) else ""
        if tok == "a":
            return RDF_TYPE
        if ":" in tok:
            p, local = tok.split(":", 1)
            local = local.rstrip(".")
            return prefixes[p] + local if p in prefixes else ""
        return ""

    tokens = _TERM.findall(re.sub(r"(?i)@?(prefix|base)\s+[\w.-]*:?\s*<[^>]*>", "", text))
    iris: list[str] = []
    for i in range(len(tokens) - 2):
        s, p, o = tokens[i:i + 3]
        if expand(p) == RDF_TYPE and expand(o) == OWL + "Ontology" and expand(s):
            iris.append(expand(s))
        elif expand(s) == OWL + "versionIRI" and expand(p):
            iris.append(expand(p))
    return iris

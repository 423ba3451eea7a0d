"""Reading ontology files: decompression, format sniffing, hostile-XML screening, and
normalisation of every supported format to one N-Triples file that the store loads.

Formats: RDF/XML, OWL/XML, Turtle, N-Triples, JSON-LD, OBO 1.4; each optionally gzip-compressed.
The format comes from ``--format``, else from sniffing the content, else from the suffix.
``owl:imports`` triples are cut out here and reported: nothing is ever fetched.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import logging
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError, ParseError, UnsafeInputError
from .ntriples import LINE as NT_LINE
from .ntriples import NTriplesWriter, lit

FORMATS = ("rdfxml", "owlxml", "turtle", "ntriples", "jsonld", "obo")
ALIASES = {
    "xml": "rdfxml", "rdf": "rdfxml", "rdf/xml": "rdfxml", "owl": "rdfxml",
    "owl/xml": "owlxml", "ttl": "turtle", "nt": "ntriples", "n-triples": "ntriples",
    "json-ld": "jsonld", "json": "jsonld",
}
SUFFIXES = {
    ".owl": "rdfxml", ".rdf": "rdfxml", ".xml": "rdfxml", ".owx": "owlxml", ".ttl": "turtle",
    ".nt": "ntriples", ".jsonld": "jsonld", ".json": "jsonld", ".obo": "obo",
}
OWL_IMPORTS = "http://www.w3.org/2002/07/owl#imports"
MAX_DECOMPRESSED = 4 << 30  # a gzip bomb stops here
# ... and sooner when it expands far more than text does: ontologies gzip 5-20x (hp.obo: 5x), a bomb
# 1000x. Up to RATIO_FREE any ratio passes; past it, MAX_RATIO times the compressed size.
MAX_RATIO = 100
RATIO_FREE = 256 << 20
SNIFF_BYTES = 1 << 16
MAX_ENTITY_EXPANSION = 10_000  # characters one internal entity may expand to


def normalise_format(fmt: str | None) -> str | None:
    if fmt is None:
        return None
    f = ALIASES.get(fmt.lower(), fmt.lower())
    if f not in FORMATS:
        raise InputError(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return f


@dataclass
class Normalised:
    """An input turned into N-Triples, with what was learnt on the way."""

    ntriples: Path
    format: str
    format_from: str  # "option", "content" or "suffix"
    triples: int
    imports: list[str] = field(default_factory=list)


def _must_be_a_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not an ontology file")


def check_file(path: Path) -> None:
    """An ``InputError`` unless ``path`` is a readable file (opened, not read)."""
    _must_be_a_file(path)
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None


def read_file(path: Path) -> bytes:
    """The file's bytes as they are on disk (what a source's sha256 is taken of)."""
    _must_be_a_file(path)
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None


def read_bytes(path: Path, raw: bytes | None = None) -> bytes:
    """The file's content (``raw``, when the caller has read it already), gunzipped when it is
    gzip (by magic number, not by name)."""
    if raw is None:
        raw = read_file(path)
    if raw[:2] == b"\x1f\x8b":
        limit = min(MAX_DECOMPRESSED, max(RATIO_FREE, MAX_RATIO * len(raw)))
        try:
            out, size, data = [], 0, raw
            while data:  # a .gz may hold several members, one after the other
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                while data:  # in pieces, so that the limit is met before the memory runs out
                    piece = d.decompress(data, 64 << 20)
                    out.append(piece)
                    size += len(piece)
                    if size > limit:
                        raise InputError(f"{path}: decompresses to more than {limit >> 20} MB "
                                         f"({size // len(raw)} times its size); refused as a likely gzip bomb")
                    data = d.unconsumed_tail
                out.append(d.flush())  # what the last input left inside the decompressor, if any
                size += len(out[-1])
                if not d.eof:  # else a cut-off download would load as a partial ontology
                    raise ParseError(f"{path}: truncated gzip data (the file ends inside the compressed stream)")
                data = d.unused_data.lstrip(b"\x00")
            raw = b"".join(out)
        except (zlib.error, EOFError, gzip.BadGzipFile) as e:
            raise ParseError(f"{path}: corrupt gzip data ({e})") from None
    return raw


def _decode(path: Path, raw: bytes) -> str:
    head = raw[:SNIFF_BYTES]
    if b"\x00" in head:
        raise InputError(f"{path}: binary content, not an ontology file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text (bad byte at offset {e.start}); binary or wrongly encoded") from None
    if not text.strip():
        raise InputError(f"{path}: empty file")
    return text


def sniff(text: str) -> str | None:
    head = text[:SNIFF_BYTES].lstrip()
    # An XML tag, not an IRI: ``<rdf:RDF ...>`` or ``<Ontology>``, but not ``<http://a> <p> <o> .``
    if head.startswith("<?xml") or head.startswith("<!") or re.match(r"<[A-Za-z_][\w.-]*(?::[\w.-]+)?[\s>/]", head):
        if re.search(r"<(?:\w+:)?Ontology\b[^>]*xmlns(?::\w+)?=\"http://www\.w3\.org/2002/07/owl#\"", head) or (
            "<!DOCTYPE Ontology" in head
        ):
            return "owlxml"
        if "rdf-syntax-ns#" in head or "<rdf:RDF" in head:
            return "rdfxml"
        return "rdfxml"  # some XML we will try as RDF/XML; the parser has the last word
    if head.startswith("[Term]") or head.startswith("[Typedef]"):
        return "obo"
    if head.startswith("{") or re.match(r"\[\s*(?:\{|\])", head) and not re.match(r"\[\s*\]\s*\S", head):
        return "jsonld"  # a JSON object or array, not a Turtle blank node such as ``[] a <C> .``
    lines = [ln for ln in head.splitlines()[:200] if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return None
    if re.match(r"^(format-version|data-version|ontology|date|saved-by|auto-generated-by|default-namespace):", lines[0]):
        return "obo"
    first = lines[0].lstrip()
    if re.match(r"(@prefix|@base|PREFIX|BASE)\b", first, re.IGNORECASE):
        return "turtle"
    complete = lines[:-1] if len(text) > SNIFF_BYTES else lines  # last line may be cut
    if complete and all(NT_LINE.match(ln) for ln in complete):
        return "ntriples"
    if first.startswith("<") or first.startswith("_:"):
        return "turtle"
    return None


# OWL syntaxes no parser here reads; their ``Prefix(`` / ``Prefix:`` would pass for Turtle's PREFIX.
_UNSUPPORTED = (
    (re.compile(r"(?:Prefix|Ontology)\s*\("), "OWL functional syntax"),
    (re.compile(r"(?:Prefix:\s*[\w.-]*:\s*<|Ontology:)"), "OWL Manchester syntax"),
)


def unsupported_syntax(text: str) -> str | None:
    """The name of an OWL syntax ``text`` is written in that cannot be read, or None."""
    for line in text[:SNIFF_BYTES].splitlines()[:200]:
        line = line.strip()
        if line and not line.startswith("#"):
            return next((what for pattern, what in _UNSUPPORTED if pattern.match(line)), None)
    return None


def detect_format(path: Path, text: str, option: str | None) -> tuple[str, str]:
    if option:
        return option, "option"
    if what := unsupported_syntax(text):
        raise InputError(f"{path}: {what} is not supported; convert it first (to RDF/XML, OWL/XML or Turtle, "
                         "e.g. with `robot convert`)")
    sniffed = sniff(text)
    if sniffed:
        return sniffed, "content"
    suffixes = [s for s in path.suffixes if s != ".gz"]
    if suffixes and suffixes[-1].lower() in SUFFIXES:
        return SUFFIXES[suffixes[-1].lower()], "suffix"
    raise InputError(f"{path}: cannot tell the format (not RDF/XML, OWL/XML, Turtle, N-Triples, JSON-LD or OBO); use --format")


# --- hostile XML -------------------------------------------------------------------------------

_DOCTYPE = re.compile(r"<!DOCTYPE\s+[^\s\[>]+", re.IGNORECASE)
_ENTITY = re.compile(r"<!ENTITY\s+(%\s+)?([^\s]+)\s+(SYSTEM|PUBLIC|\"[^\"]*\"|'[^']*')", re.DOTALL)
_REF = re.compile(r"&([A-Za-z_][\w.-]*);")


def screen_xml(path: Path, text: str) -> None:
    """Refuse external entities, external DTDs, parameter entities and expansion bombs.

    Internal entities that are plain strings (``<!ENTITY owl "http://...#">``, common in OWL
    files) are allowed; their expanded size is computed without expanding anything.
    """
    root = re.search(r"<(?![?!])", text)
    prolog = text[: root.start()] if root else text
    m = _DOCTYPE.search(prolog)
    if not m:
        if "<!ENTITY" in prolog:
            raise UnsafeInputError(f"{path}: entity declaration outside a DOCTYPE; refused")
        return
    rest = prolog[m.end():]
    bracket = rest.find("[")
    close = rest.find(">")
    if re.match(r"\s*(SYSTEM|PUBLIC)\b", rest):
        raise UnsafeInputError(f"{path}: external DTD in DOCTYPE; refused (kgnlu never fetches)")
    if bracket == -1 or (close != -1 and close < bracket):
        return
    end = rest.find("]", bracket)
    if end == -1:
        raise ParseError(f"{path}: unterminated DOCTYPE internal subset")
    subset = rest[bracket + 1:end]
    values: dict[str, str] = {}
    for ent in _ENTITY.finditer(subset):
        pct, name, kind = ent.groups()
        if pct:
            raise UnsafeInputError(f"{path}: parameter entity %{name} in DOCTYPE; refused")
        if kind in ("SYSTEM", "PUBLIC"):
            raise UnsafeInputError(f"{path}: external entity &{name}; (XXE) in DOCTYPE; refused, never resolved")
        values[name] = kind[1:-1]
    if subset.count("<!ENTITY") != len(values):
        raise UnsafeInputError(f"{path}: unparseable entity declaration in DOCTYPE; refused")

    sizes: dict[str, int] = {}

    def size(name: str, stack: tuple[str, ...]) -> int:
        if name in sizes:
            return sizes[name]
        if name in stack:
            raise UnsafeInputError(f"{path}: recursive entity &{name}; refused")
        value = values.get(name, "")
        total = len(_REF.sub("", value)) + sum(size(r, stack + (name,)) for r in _REF.findall(value))
        if total > MAX_ENTITY_EXPANSION:
            raise UnsafeInputError(
                f"{path}: entity &{name}; expands to over {MAX_ENTITY_EXPANSION} characters (entity-expansion bomb); refused"
            )
        sizes[name] = total
        return total

    for name in values:
        size(name, ())


# --- normalisation to N-Triples ----------------------------------------------------------------


def to_ntriples(path: Path, out: Path, fmt: str | None = None, raw: bytes | None = None) -> Normalised:
    """Parse ``path`` (in ``fmt`` or its detected format) and write N-Triples to ``out``.
    ``raw``: the file's bytes, when the caller has read them already (ingest reads each file once)."""
    path = Path(path)
    fmt = normalise_format(fmt)
    raw = read_bytes(path, raw)
    text = _decode(path, raw)
    fmt, how = detect_format(path, text, fmt)
    if fmt in ("rdfxml", "owlxml"):
        screen_xml(path, text)
    try:
        if fmt == "ntriples":
            triples, imports = _copy_ntriples(path, text, out)
        elif fmt == "obo":
            triples, imports = _from_obo(path, text, out)
        elif fmt == "owlxml":
            triples, imports = _from_owlxml(path, raw, out)
        else:
            triples, imports = _from_rdflib(path, text, fmt, out)
    except (InputError, KeyboardInterrupt):
        raise
    except Exception as e:  # parsers raise anything from SAXParseException to IndexError
        raise ParseError(f"{path}: does not parse as {fmt}{_hint(how)}: {_one_line(e)}") from None
    if triples == 0:
        raise ParseError(f"{path}: no triples found when read as {fmt}{_hint(how)}")
    return Normalised(out, fmt, how, triples, imports)


def _hint(how: str) -> str:
    return " (given by --format)" if how == "option" else f" (detected from {how})"


def _one_line(e: Exception) -> str:
    msg = " ".join(str(e).split()) or type(e).__name__
    return msg[:300]


def _copy_ntriples(path: Path, text: str, out: Path) -> tuple[int, list[str]]:
    n, imports = 0, []
    with open(out, "w", encoding="utf-8") as f:
        for lineno, line in enumerate(io.StringIO(text), 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            if not NT_LINE.match(s):
                raise ParseError(f"{path}: does not parse as ntriples: bad triple at line {lineno}: {s[:80]!r}")
            if f"<{OWL_IMPORTS}>" in s and s.split()[1] == f"<{OWL_IMPORTS}>":
                imports.append(s.split()[2].strip("<>"))
                continue
            f.write(s + "\n")
            n += 1
    return n, imports


def _from_obo(path: Path, text: str, out: Path) -> tuple[int, list[str]]:
    from .obo import obo_to_ntriples

    with open(out, "w", encoding="utf-8") as f:
        obo_to_ntriples(io.StringIO(text), f, source=str(path))
    return _count_and_filter(out)


def _count_and_filter(out: Path) -> tuple[int, list[str]]:
    """Drop owl:imports lines from an N-Triples file we wrote, counting the rest."""
    tmp = out.with_suffix(".filtered")
    n, imports = 0, []
    with open(out, encoding="utf-8") as src, open(tmp, "w", encoding="utf-8") as dst:
        for line in src:
            if f" <{OWL_IMPORTS}> " in line:
                imports.append(line.split()[2].strip("<>"))
                continue
            if line.strip():
                dst.write(line)
                n += 1
    tmp.replace(out)
    return n, imports


def _from_rdflib(path: Path, text: str, fmt: str, out: Path) -> tuple[int, list[str]]:
    import rdflib

    if fmt == "jsonld":
        _refuse_remote_context(path, text)
    g = rdflib.Graph()
    rdflib_fmt = {"rdfxml": "xml", "turtle": "turtle", "jsonld": "json-ld"}[fmt]
    with _quiet_rdflib():  # its warnings would be extra stderr lines around our one-line error
        g.parse(data=text, format=rdflib_fmt, publicID=path.resolve().as_uri())
        imports = [str(o) for o in g.objects(None, rdflib.OWL.imports)]
        g.remove((None, rdflib.OWL.imports, None))
        g.serialize(destination=str(out), format="nt", encoding="utf-8")
    return len(g), imports


@contextlib.contextmanager
def _quiet_rdflib():
    log = logging.getLogger("rdflib")
    level = log.level
    log.setLevel(logging.ERROR + 1)
    try:
        yield
    finally:
        log.setLevel(level)


def _refuse_remote_context(path: Path, text: str) -> None:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ParseError(f"{path}: does not parse as jsonld: {e}") from None

    def walk(node):
        if isinstance(node, dict):
            ctx = node.get("@context")
            for c in ctx if isinstance(ctx, list) else [ctx]:
                if isinstance(c, str):
                    raise UnsafeInputError(f"{path}: remote JSON-LD @context {c!r} would be fetched; refused (inline it)")
                if isinstance(c, dict) and "@import" in c:
                    raise UnsafeInputError(f"{path}: JSON-LD @import {c['@import']!r} would be fetched; refused")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)


def _from_owlxml(path: Path, raw: bytes, out: Path) -> tuple[int, list[str]]:
    import owlready2.owlxml_2_ntriples as owlxml

    imports, blanks = [], {}
    with open(out, "w", encoding="utf-8") as f:
        writer = NTriplesWriter(f)

        def node(x) -> str:
            if isinstance(x, str) and not x.startswith("_:"):
                return f"<{x}>"
            return blanks.setdefault(x, f"_:b{len(blanks)}")

        def on_obj(s, p, o):
            if p == OWL_IMPORTS:
                imports.append(o)
                return
            writer.triple(node(s), f"<{p}>", node(o))

        def on_data(s, p, o, d):
            if isinstance(d, str) and d.startswith("@"):
                literal = lit(str(o), lang=d[1:])
            else:
                literal = lit(str(o), datatype=d if isinstance(d, str) and d else None)
            writer.triple(node(s), f"<{p}>", literal)

        counter = iter(range(1, 1 << 62))
        owlxml.parse(io.BytesIO(raw), on_obj, on_data, lambda: f"_:n{next(counter)}", path.resolve().as_uri())
        writer.flush()
    return writer.count, imports

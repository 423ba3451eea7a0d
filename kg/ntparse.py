"""A small N-Triples reader for files kgnlu wrote or validated (see ``formats._NT_LINE``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from .store import Literal, Term, Triple

_TERM = re.compile(r'<([^>]*)>|(_:\S+)|"((?:[^"\\]|\\.)*)"(?:@([A-Za-z0-9-]+)|\^\^<([^>]*)>)?')
_ESC = re.compile(r'\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)')
_SIMPLE = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def unescape(s: str) -> str:
    def sub(m):
        e = m.group(1)
        return chr(int(e[1:], 16)) if e[0] in "uU" else _SIMPLE.get(e, e)

    return _ESC.sub(sub, s) if "\\" in s else s


def _term(m: re.Match) -> Term:
    iri, blank, value, lang, dt = m.groups()
    if iri is not None:
        return iri
    if blank is not None:
        return blank
    return Literal(unescape(value), dt, lang)


def parse_line(line: str) -> Triple | None:
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    terms = [_term(m) for m in _TERM.finditer(line)][:3]
    if len(terms) != 3:
        raise ValueError(f"not an N-Triples line: {line[:80]!r}")
    return terms[0], terms[1], terms[2]


def iter_ntriples(path: Path) -> Iterator[Triple]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            t = parse_line(line)
            if t is not None:
                yield t

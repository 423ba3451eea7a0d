"""OBO 1.4 flat-file syntax: stanzas, tag-value lines, quoted strings, qualifiers, xref lists.

What ``kg.obo`` maps to OWL is read with these; they know nothing of OWL. A malformed line raises
``ParseError`` naming its line number (``where`` prefixes the message with the input's name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TextIO

from .errors import ParseError

STANZAS = ("Term", "Typedef", "Instance")
_TAG = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
PREFIXED_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*:[^\s:]\S*\Z")
_QUAL = re.compile(r'\s*([A-Za-z_][\w:.-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,}\s]*)\s*(?:,|$)')
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "W": " "}

Line = tuple[str, str, int]  # tag, raw value, line number


def read_stanzas(src: TextIO | Iterable[str], where: str) -> tuple[list[Line], list[tuple[str, int, list[Line]]]]:
    header: list[Line] = []
    stanzas: list[tuple[str, int, list[Line]]] = []
    current = header
    for lineno, line in enumerate(src, 1):
        s = line.strip()
        if not s or s[0] == "!":
            continue
        if s[0] == "[":
            if s[-1] != "]":
                raise ParseError(f"{where}line {lineno}: unterminated stanza header {s[:60]!r}")
            kind = s[1:-1].strip()
            if kind not in STANZAS:
                raise ParseError(f"{where}line {lineno}: unknown stanza [{kind}] (expected [Term], [Typedef] or [Instance])")
            current = []
            stanzas.append((kind, lineno, current))
            continue
        tag, sep, value = s.partition(":")
        if not sep or not _TAG.match(tag):
            raise ParseError(f"{where}line {lineno}: expected 'tag: value', got {s[:60]!r}")
        current.append((tag, value.strip(), lineno))
    return header, stanzas


def unescape(s: str) -> str:
    if "\\" not in s:
        return s
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), s)


def quoted(value: str, lineno: int, where: str, tag: str) -> tuple[str, str]:
    """(unescaped text of the leading quoted string, the rest of the value)."""
    if not value.startswith('"'):
        raise ParseError(f'{where}line {lineno}: {tag} must start with a quoted string, got {value[:60]!r}')
    i = 1
    while True:
        j = value.find('"', i)
        if j == -1:
            raise ParseError(f"{where}line {lineno}: unclosed quote in {tag}: {value[:60]!r}")
        k = j - 1
        while k > 0 and value[k] == "\\":
            k -= 1
        if (j - 1 - k) % 2 == 0:  # an even number of backslashes: the quote is not escaped
            return unescape(value[1:j]), value[j + 1:].strip()
        i = j + 1


def tail(value: str) -> tuple[str, str | None]:
    """Split off a ``! comment`` and a trailing ``{qualifiers}``: (body, qualifiers or None)."""
    if "!" not in value and "{" not in value:
        return value, None
    cut, brace, inq, i, n = len(value), -1, False, 0, len(value)
    while i < n:
        c = value[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            inq = not inq
        elif not inq:
            if c == "!" and (i == 0 or value[i - 1] in " \t"):
                cut = i
                break
            if c == "{":
                brace = i
        i += 1
    body = value[:cut].rstrip()
    if brace != -1 and body.endswith("}"):
        return body[:brace].rstrip(), body[brace + 1:-1]
    return body, None


def qualifiers(text: str | None) -> list[tuple[str, str]]:
    """``key="value", key2=value2`` -> [(key, value), ...]."""
    found = _QUAL.findall(text) if text else []
    return [(k, unescape(v[1:-1]) if v.startswith('"') else v) for k, v in found if k]


def xref_list(rest: str, lineno: int, where: str, tag: str) -> tuple[list[tuple[str, str | None]], str]:
    """Parse ``[x1, x2 "desc", ...]`` at the start of ``rest``; returns (xrefs, what follows)."""
    if not rest.startswith("["):
        return [], rest
    items, buf, i, n, inq = [], [], 1, len(rest), False
    while i < n:
        c = rest[i]
        if c == "\\" and i + 1 < n:
            buf.append(rest[i:i + 2])
            i += 2
            continue
        if c == '"':
            inq = not inq
        elif not inq and c in ",]":
            items.append("".join(buf).strip())
            buf = []
            if c == "]":
                break
            i += 1
            continue
        buf.append(c)
        i += 1
    else:
        raise ParseError(f"{where}line {lineno}: unclosed '[' in {tag}: {rest[:60]!r}")
    xrefs = []
    for item in items:
        if not item:
            continue
        ident, _, desc = item.partition(" ")
        desc = desc.strip()
        if desc.startswith('"'):
            desc, _ = quoted(desc, lineno, where, tag)
        xrefs.append((unescape(ident), desc or None))
    return xrefs, rest[i + 1:].strip()

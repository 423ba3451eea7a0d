"""The values a triple is made of, shared by the store protocol and the N-Triples reader/writer.

An IRI is a ``str``, a blank node a ``str`` starting with ``_:``, and a literal a :class:`Literal`.
"""

from __future__ import annotations

from typing import NamedTuple, Union


class Literal(NamedTuple):
    value: str
    datatype: str | None = None
    lang: str | None = None


Term = Union[str, Literal]
Triple = tuple[str, str, Term]

"""What a mention may name: the branches a caller asked for, and which concepts are qualifiers.

**Branches** (``Linker.link_many(..., branches=[...])``, ``kgnlu link --only``): each is
- a source name of the KG's manifest (``hpo``, ``mondo``): concepts that source stated first, and
  any concept in the IRI namespaces of its concepts (MONDO's diseases that an annotation source
  named first are still MONDO's);
- an OBO ontology id (``hp``, ``mondo``; ``hpo`` for ``hp``): concepts whose IRI is in its OBO
  namespace (``http://purl.obolibrary.org/obo/HP_``), for KGs whose source was named otherwise;
- a named shortcut (``hpo:phenotype`` = HP:0000118, see ``SHORTCUTS``);
- a concept as a CURIE (``HP:0000118``, expanded in the OBO namespace) or an IRI: that concept
  and its subclasses, by the closure tables.
A concept is in scope when it is in any of them. A span whose best concept is out of scope links
to its best in-scope candidate, and the lexicon matcher skips forms with no in-scope candidate, so
a shorter in-scope match inside an out-of-scope one is found (``LexiconMatcher.find(keep=...)``).

**Modifiers**: concepts under one of ``modifier_roots`` (by default HPO's Clinical modifier,
Frequency, Mode of inheritance, Past medical history and Blood group; roots absent from the KG
are ignored) qualify a finding rather than name one (``attach_modifiers``). A concept the caller
asked for by a branch root inside a modifier subtree (``--only HP:0000005``) is a mention again.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace

from kgnlu.types import InputError, Mention

OBO = "http://purl.obolibrary.org/obo/"
DEFAULT_MODIFIER_ROOTS = tuple(OBO + c for c in (
    "HP_0012823",  # Clinical modifier (severity, laterality, onset, course, ...)
    "HP_0040279",  # Frequency
    "HP_0000005",  # Mode of inheritance
    "HP_0032443",  # Past medical history
    "HP_0032223",  # Blood group
    "MONDO_0021125",  # disease characteristic (rare, congenital, inherited, idiopathic, tumor grade, ...)
))
# Qualifiers whose names are everyday words ("common" is MONDO's *not rare*, "complete" its *complete*):
# they qualify only a finding they stand right before ("an inherited epilepsy"), never one further
# off ("the most common gene", "complete blood count showed anemia").
ADJACENT_ROOTS = (OBO + "MONDO_0021125",)
SHORTCUTS = {
    "hpo:phenotype": "HP:0000118", "hpo:modifier": "HP:0012823", "hpo:inheritance": "HP:0000005",
    "hpo:frequency": "HP:0040279", "hpo:course": "HP:0031797", "mondo:disease": "MONDO:0000001",
}
ONTOLOGY_IDS = {"hpo": "HP"}  # common names whose OBO id differs
_CURIE = re.compile(r"([A-Za-z][A-Za-z0-9]*)[:_]([A-Za-z0-9]+)")
_OBO_ID = re.compile(r"[A-Za-z][A-Za-z0-9]*")
# Where a qualifier looks for its finding: the sentence (or clause after a semicolon) it is in.
_SENTENCE_BREAK = re.compile(r"[.!?;](?=\s|$)|\n")


def expand(spec: str) -> str | None:
    """A CURIE or IRI as an IRI (None for anything else)."""
    if spec.startswith(("http://", "https://", "urn:")):
        return spec
    m = _CURIE.fullmatch(spec)
    return f"{OBO}{m.group(1).upper()}_{m.group(2)}" if m else None


class Scope:
    """Which concepts a mention may name (``branches``) and which are modifiers, over one KG's tables.

    Thread-safe: the caches only grow, and a lost race recomputes the same answer.
    """

    def __init__(self, tables, branches: Sequence[str] | None = None,
                 modifier_roots: Sequence[str] = DEFAULT_MODIFIER_ROOTS):
        self.tables = tables
        self.modifier_roots = [r for r in modifier_roots if tables.id(r) is not None]
        self.sources: set[str] = set()
        self.prefixes: list[str] = []
        self.roots: list[str] = []
        self.branches = None if branches is None else self._resolve(branches)
        # Roots the caller asked for inside a modifier subtree: their concepts are mentions.
        self._wanted_modifiers = [r for r in self.roots if self.tables.is_under(r, self.modifier_roots)]
        self._modifier: dict[str, bool] = {}
        self._in: dict[str, bool] = {}
        self._lock = threading.Lock()

    def _resolve(self, branches: Sequence[str]) -> list[str]:
        if isinstance(branches, str):
            branches = [b for b in branches.split(",")]
        names = set(self.tables.source_names())
        out = []
        for raw in branches:
            spec = str(raw).strip()
            if not spec:
                continue
            key = spec.lower()
            if key in names or spec in names:
                name = spec if spec in names else key
                self.sources.add(name)
                self.prefixes += self.tables.source_namespaces(name)
            elif key in SHORTCUTS or expand(spec) is not None and ":" in spec or spec.startswith(("http", "urn:")):
                iri = expand(SHORTCUTS.get(key, spec))
                if iri is None or self.tables.id(iri) is None:
                    raise InputError(f"unknown branch {spec!r}: no concept {SHORTCUTS.get(key, spec)} in this KG")
                self.roots.append(iri)
            elif _OBO_ID.fullmatch(spec) and self.tables.has_prefix(p := f"{OBO}{ONTOLOGY_IDS.get(key, spec).upper()}_"):
                self.prefixes.append(p)
            else:
                raise InputError(f"unknown branch {spec!r}: give a source ({', '.join(sorted(names)) or 'none'}), "
                                 f"a shortcut ({', '.join(SHORTCUTS)}) or a concept as CURIE/IRI")
            out.append(spec)
        if not out:
            raise InputError("no branch given: name at least one source, shortcut or concept")
        return out

    def is_modifier(self, iri: str) -> bool:
        """A concept that qualifies a finding: under a modifier root and not asked for by a branch."""
        hit = self._modifier.get(iri)
        if hit is None:
            under = self.tables.is_under
            hit = under(iri, self.modifier_roots) and not under(iri, self._wanted_modifiers)
            self._modifier[iri] = hit
        return hit

    def adjacent_only(self, iri: str) -> bool:
        """A modifier that qualifies only the finding right after it (``ADJACENT_ROOTS``)."""
        return self.is_modifier(iri) and self.tables.is_under(iri, ADJACENT_ROOTS)

    def is_qualifier(self, iri: str) -> bool:
        """Under a modifier root, whether or not a branch asks for it: a mention of one is a
        qualifier the text left alone, or one the caller asked for ("--only HP:0000005")."""
        wanted = self._wanted_modifiers
        return self.is_modifier(iri) or bool(wanted) and self.tables.is_under(iri, wanted)

    def in_branches(self, iri: str) -> bool:
        """In scope: no branches were given, or ``iri`` is in one of them."""
        if self.branches is None:
            return True
        hit = self._in.get(iri)
        if hit is None:
            hit = (any(iri.startswith(p) for p in self.prefixes)
                   or bool(self.sources) and self.tables.entity_source(iri) in self.sources
                   or self.tables.is_under(iri, self.roots))
            self._in[iri] = hit
        return hit


    def allowed(self, modifiers: bool, replaced: dict[str, str | None]) -> Callable[[str], bool]:
        """Whether a candidate concept may be linked: in the branches, or (with ``modifiers``) a
        qualifier to attach to a finding. A deprecated concept counts as its replacement."""
        def allowed(iri: str) -> bool:
            if iri in replaced:
                iri = replaced[iri]
                if iri is None:
                    return False
            return self.in_branches(iri) or (modifiers and self.is_modifier(iri))
        return allowed


class Scopes:
    """The ``Scope`` of each branch list asked for, the last few kept (their caches are the point)."""

    def __init__(self, tables, modifier_roots: Sequence[str], size: int = 16):
        self.tables, self.modifier_roots, self.size = tables, tuple(modifier_roots), size
        self._scopes: OrderedDict[tuple | None, Scope] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, branches: Sequence[str] | str | None) -> Scope:
        key = None if branches is None else tuple([branches] if isinstance(branches, str) else branches)
        with self._lock:
            hit = self._scopes.get(key)
            if hit is not None:
                self._scopes.move_to_end(key)
                return hit
        scope = Scope(self.tables, key, self.modifier_roots)  # raises InputError on a bad branch
        with self._lock:
            self._scopes[key] = scope
            while len(self._scopes) > self.size:
                self._scopes.popitem(last=False)
        return scope


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text`` (a semicolon or a line break also ends one)."""
    out, start = [], 0
    for m in _SENTENCE_BREAK.finditer(text):
        out.append((start, m.end()))
        start = m.end()
    out.append((start, len(text)))
    return out


def attach_modifiers(text: str, mentions: list[Mention], qualifier: list[bool],
                     adjacent_only: Callable[[str], bool] | None = None) -> list[Mention]:
    """Each qualifier mention becomes a modifier of the nearest finding in its sentence.

    Nearest: the fewest characters between the two spans; on a tie the finding that follows
    (English puts most qualifiers first: "severe headache", "bilateral cataract"). A qualifier
    whose sentence names no finding qualifies the finding the text named last before it ("Her
    cough began in May. It was severe."), else the first one after it. Only in a text that names
    no finding at all ("Inheritance is autosomal dominant.") does a qualifier stay a mention:
    "sporadic", "affected" and "autosomal dominant" are no findings of their own in an abstract
    (GSC+ curators annotate none of them). Modifiers are kept in text order, as
    ``{"iri", "label", "text"}``. A qualifier ``adjacent_only`` says is of that kind qualifies only a
    finding right after it (a space or hyphen between), and is dropped where there is none.
    """
    if not any(qualifier):
        return mentions
    bounds = sentences(text)
    sentence_of = []
    k = 0
    for m in mentions:
        while k + 1 < len(bounds) and m.start >= bounds[k][1]:
            k += 1
        sentence_of.append(k)
    findings: dict[int, list[int]] = {}  # per sentence: one pass over its own mentions, linear in the text
    for j, k in enumerate(sentence_of):
        if not qualifier[j]:
            findings.setdefault(k, []).append(j)
    following: list[int | None] = [None] * len(mentions)  # the first finding after each mention
    for j in range(len(mentions) - 2, -1, -1):
        following[j] = j + 1 if not qualifier[j + 1] else following[j + 1]
    attached: dict[int, list[int]] = {}
    keep = [True] * len(mentions)
    previous = None  # the last finding before the current mention (mentions are in text order)
    for i, m in enumerate(mentions):
        if not qualifier[i]:
            previous = i
            continue
        if adjacent_only is not None and adjacent_only(m.iri):
            nxt = following[i]
            if nxt is not None and text[m.end:mentions[nxt].start].strip(" -") == "":
                attached.setdefault(nxt, []).append(i)
                keep[i] = False
            elif any(not q for q in qualifier):
                keep[i] = False
            continue
        best, best_key = None, None
        for j in findings.get(sentence_of[i], ()):
            f = mentions[j]
            gap = f.start - m.end if f.start >= m.end else m.start - f.end
            key = (max(gap, 0), f.start < m.start)
            if best_key is None or key < best_key:
                best, best_key = j, key
        if best is None:
            best = previous if previous is not None else following[i]
        if best is not None:
            attached.setdefault(best, []).append(i)
            keep[i] = False
    out = []
    for j, m in enumerate(mentions):
        if not keep[j]:
            continue
        if j in attached:
            mods = [{"iri": mentions[i].iri, "label": mentions[i].label, "text": mentions[i].text}
                    for i in sorted(attached[j], key=lambda i: mentions[i].start)]
            m = replace(m, modifiers=list(m.modifiers) + mods)
        out.append(m)
    return out


__all__ = ["ADJACENT_ROOTS", "DEFAULT_MODIFIER_ROOTS", "SHORTCUTS", "Scope", "Scopes", "attach_modifiers", "expand",
           "sentences"]

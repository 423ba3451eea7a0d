"""WordNet 3.0 as the default KG's general-English lexical source (issue 21).

Read from the database files Debian's ``wordnet-base`` installs (``/usr/share/wordnet``; or
``$KGNLU_WORDNET_DIR``), by ``kg.wordnet``. The source is optional: without the files the default KG
is built without it, and the natural-logic rules then know only the words both sides share.

Mapping, one owl:Class per synset, IRI ``http://wordnet-rdf.princeton.edu/wn30/<offset>-<pos>`` (the
Princeton RDF scheme; a satellite adjective's ``s`` is written ``a``):

- rdfs:label: the synset's first lemma;
- every lemma, and every irregular inflection of it (``noun.exc``: "men" for "man"), as
  ``oboInOwl:hasExactSynonym`` when this synset is the word's most frequent sense of its part of
  speech (the first in ``index.<pos>``) and ``oboInOwl:hasRelatedSynonym`` otherwise: the natural-logic
  rules read a premise word in its first sense only, which is what keeps their precision;
- hypernyms and instance hypernyms (``@``, ``@i``) as ``rdfs:subClassOf``;
- antonyms (``!``, between word senses, read between their synsets) as ``owl:disjointWith``, unless
  the two synsets share a subclass (WordNet's hierarchy has multiple inheritance: disjointness there
  would make that subclass unsatisfiable).

The linker never links a WordNet word (``kg.lexicon.is_word_sense``): these are words for the
rules to compare, not concepts of the domain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import InputError
from ..ntriples import (
    OIO_EXACT, OIO_RELATED, OWL_ANNOTATIONPROPERTY, OWL_CLASS, OWL_DISJOINTWITH, RDF_TYPE, RDFS_LABEL,
    RDFS_SUBCLASSOF, atomic_ntriples, iri, lit,
)
from ..wordnet import POS, WordNet, find_dir, read
from .build import noop

NAME = "wordnet"
NAMESPACE = "http://wordnet-rdf.princeton.edu/wn30/"
ONTOLOGY_IRI = "http://wordnet-rdf.princeton.edu/wn30"
CODE_DEPENDS = ("wordnet.py",)
FILES = [f"{kind}.{name}" for name in POS for kind in ("data", "index")] + [f"{name}.exc" for name in POS]


MISSING = ("WordNet not found: install Debian's wordnet-base (apt-get install wordnet-base) "
           "or set KGNLU_WORDNET_DIR to a WordNet 3.0 database directory")


def available() -> bool:
    return find_dir() is not None


def inputs() -> list[Path]:
    root = find_dir()
    if root is None:
        raise InputError(MISSING)
    return [root / f for f in FILES if (root / f).is_file()]


def versions() -> dict[str, str]:
    return {"wordnet": "3.0"}


def synset_iri(sid: str) -> str:
    return NAMESPACE + sid


def _descendants(wn: WordNet) -> Callable[[str], set[str]]:
    children: dict[str, list[str]] = {}
    for s in wn.synsets.values():
        for h in (*s.hypernyms, *s.instance_of):
            children.setdefault(h, []).append(s.id)
    cache: dict[str, set[str]] = {}

    def below(sid: str) -> set[str]:
        if sid not in cache:
            out, stack = {sid}, [sid]
            while stack:
                for c in children.get(stack.pop(), ()):
                    if c not in out:
                        out.add(c)
                        stack.append(c)
            cache[sid] = out
        return cache[sid]
    return below


def words(wn: WordNet) -> dict[str, dict[str, bool]]:
    """synset id -> {word: whether this synset is the word's first sense}, inflections included."""
    out: dict[str, dict[str, bool]] = {}
    for (word, _pos), sids in wn.senses.items():
        for rank, sid in enumerate(sids):
            out.setdefault(sid, {})[word] = rank == 0
    for pos, exc in wn.exceptions.items():
        for form, bases in exc.items():
            for base in bases:
                for rank, sid in enumerate(wn.senses.get((base, pos), ())):
                    have = out.setdefault(sid, {})
                    have[form] = have.get(form, False) or rank == 0
    return out


def subset(wn: WordNet, lemmas: Iterable[str]) -> WordNet:
    """The synsets of ``lemmas`` with all their ancestors and their antonyms' (a small lexical KG
    for tests and examples)."""
    keep: set[str] = set()
    wanted = set(lemmas)
    stack = [sid for (word, _), sids in wn.senses.items() if word in wanted for sid in sids]
    stack += [a for sid in list(stack) for a in wn.synsets[sid].antonyms]
    while stack:
        sid = stack.pop()
        if sid not in keep:
            keep.add(sid)
            stack.extend((*wn.synsets[sid].hypernyms, *wn.synsets[sid].instance_of))
    # Sense lists stay whole: a word's first sense is its first in all of WordNet.
    return WordNet({k: wn.synsets[k] for k in keep}, wn.senses, wn.exceptions)


def build(out_dir: Path, progress: Callable[[str], None] = noop, *, lemmas: Iterable[str] | None = None) -> Path:
    """Write ``out_dir/wordnet.nt``; ``lemmas``: only those words' synsets (``subset``)."""
    root = find_dir()
    if root is None:
        inputs()  # raises the InputError that says how to get WordNet
    wn = read(root)
    if lemmas is not None:
        wn = subset(wn, lemmas)
    below = _descendants(wn)
    forms = words(wn)
    out = Path(out_dir) / f"{NAME}.nt"
    n_disjoint = n_skipped = 0
    with atomic_ntriples(out, bnode_prefix="wn") as w:
        w.ontology_header(ONTOLOGY_IRI, "WordNet 3.0", "3.0",
                          "Princeton WordNet 3.0 (WordNet licence), read from the database files by kgnlu: "
                          "synsets as classes, hypernyms as subclass axioms, antonyms as disjointness.")
        for p in (OIO_EXACT, OIO_RELATED):
            w.triple(p, RDF_TYPE, OWL_ANNOTATIONPROPERTY)
        for sid in sorted(wn.synsets):
            s = wn.synsets[sid]
            c = iri(synset_iri(sid))
            w.triple(c, RDF_TYPE, OWL_CLASS)
            w.triple(c, RDFS_LABEL, lit(s.lemmas[0]))
            for word, first in sorted(forms.get(sid, {}).items()):
                w.triple(c, OIO_EXACT if first else OIO_RELATED, lit(word))
            for h in sorted({*s.hypernyms, *s.instance_of}):
                w.triple(c, RDFS_SUBCLASSOF, iri(synset_iri(h)))
            for a in sorted(set(s.antonyms)):
                if a <= sid or a not in wn.synsets:
                    continue  # each pair once
                if below(sid) & below(a):
                    n_skipped += 1
                    continue
                w.triple(c, OWL_DISJOINTWITH, iri(synset_iri(a)))
                n_disjoint += 1
    progress(f"wordnet: {len(wn.synsets)} synsets, {n_disjoint} antonym pairs as disjointness "
             f"({n_skipped} left out: they share a subclass)")
    return out

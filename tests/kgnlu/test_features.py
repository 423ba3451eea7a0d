"""tasks.subgraph and tasks.nli_features: symbolic features, the KG subgraph around linked concepts,
batching, node vectors."""

from __future__ import annotations


import numpy as np
import pytest

from kgnlu.tasks import nli_features, subgraph
from kgnlu.tasks.nli_features import SYMBOLIC_FEATURES, collate, featurize
from kgnlu.tasks.subgraph import EDGE_TYPES, extract_subgraph
from tests.conftest import fixed_vectors

F = "http://kgnlu.org/demo/food#"


@pytest.fixture(scope="module")
def engine(demo_kg):
    from kgnlu.api import Engine

    e = Engine(demo_kg, dense=False)
    yield e
    e.close()


def pair(engine, premise: str, hypothesis: str):
    from kgnlu.tasks.nli import assertions

    pm, hm = engine.link_many([premise, hypothesis])
    return pm, hm, engine.rules().decide(assertions(pm, "premise"), assertions(hm, "hypothesis"))


def typed_edges(sg):
    return {(sg.nodes[a].removeprefix(F), sg.nodes[b].removeprefix(F), EDGE_TYPES[t]) for a, b, t in sg.edges}


@pytest.mark.parametrize("limit", [-1, 1])
def test_links_are_the_single_lookups_in_one_pass(engine, limit):
    t = engine.tables
    iris = [iri for (iri,) in t._q("SELECT iri FROM entities ORDER BY id")]
    for iri in iris:
        want = [("parent", x, False) for x in t.parents(iri)] + [("type", x, False) for x in t.types(iri)]
        want += [("child", x, False) for x in t.children(iri, limit)]
        want += [("equivalent", x, False) for x in t.equivalents(iri)]
        want += [("disjoint", x, False) for x in t.disjoint_partners(iri)]
        want += [("relation", o, n) for _, o, n, _ in t.relations(iri, limit)]
        want += [("relation_to", s, n) for s, _, n, _ in t.relations_to(iri, limit)]
        assert t.links(iri, limit) == want, iri
    kinds = {kind for iri in iris for kind, _, _ in t.links(iri)}
    assert {"parent", "child", "disjoint", "relation", "relation_to"} <= kinds  # the demo KG has them all
    assert t.links("http://nowhere.example/x") == []
    assert t.labels([F + "Apple", "http://nowhere.example/x", F + "Apple"]) == ["apple", None, "apple"]

def test_subgraph_around_linked_concepts(engine):
    sg = extract_subgraph(engine.tables, [F + "Apple"], [F + "Fruit"])
    assert sg.nodes[:2] == [F + "Apple", F + "Fruit"]  # linked concepts first, premise first
    edges = typed_edges(sg)
    assert {("Apple", "Fruit", "subClassOf"), ("Fruit", "Apple", "subClassOf^-1")} <= edges
    assert {("Fruit", "Vegetable", "disjointWith"), ("Vegetable", "Fruit", "disjointWith")} <= edges
    assert ("GrannySmith", "Apple", "subClassOf") in edges and ("Fruit", "Food", "subClassOf") in edges
    assert sg.role[:2].tolist() == [[1, 0, 0], [0, 1, 0]]
    assert (sg.role[2:, 2] == 1).all() and sg.role.sum(1).min() >= 1
    assert all(0 <= a < len(sg.nodes) and 0 <= b < len(sg.nodes) for a, b, _ in sg.edges)
    again = extract_subgraph(engine.tables, [F + "Apple"], [F + "Fruit"])
    assert again.nodes == sg.nodes and again.edges == sg.edges  # deterministic


def test_hops_and_node_cap(engine):
    t = engine.tables
    only = extract_subgraph(t, [F + "Apple"], [F + "Fruit"], hops=0)
    assert only.nodes == [F + "Apple", F + "Fruit"]
    one = extract_subgraph(t, [F + "Apple"], [F + "Fruit"], hops=1)
    two = extract_subgraph(t, [F + "Apple"], [F + "Fruit"], hops=2)
    assert set(one.nodes) < set(two.nodes)
    capped = extract_subgraph(t, [F + "Apple"], [F + "Fruit"], hops=2, max_nodes=5)
    assert len(capped.nodes) == 5 and capped.nodes[:2] == only.nodes
    fan = extract_subgraph(t, [F + "Food"], [], hops=1, max_fanout=2)
    assert len(fan.nodes) == 3  # Food and its first two children only


def test_neighbour_cache_gives_the_same_subgraphs_with_fewer_lookups(engine, monkeypatch):
    t = engine.tables
    calls = []
    real = subgraph._neighbours
    monkeypatch.setattr(subgraph, "_neighbours", lambda *a: calls.append(a[1]) or real(*a))
    cache = subgraph.NeighbourCache(t, max_fanout=3)
    for seeds in ([F + "Apple"], [F + "Fruit"], [F + "Apple"]):
        plain = extract_subgraph(t, seeds, [F + "Food"], max_fanout=3)
        n_plain = len(calls)
        cached = extract_subgraph(t, seeds, [F + "Food"], max_fanout=3, neighbours=cache)
        assert (cached.nodes, cached.edges) == (plain.nodes, plain.edges)
    calls.clear()
    extract_subgraph(t, [F + "Apple"], [F + "Food"], max_fanout=3, neighbours=cache)
    assert n_plain > 0 and calls == []  # every node's lookup came from the cache
    with pytest.raises(ValueError, match="max_fanout"):
        extract_subgraph(t, [F + "Apple"], [], max_fanout=8, neighbours=cache)


def test_linked_concepts_joined_by_the_closure(engine):
    """Granny Smith ⊑ Apple ⊑ Fruit ⊑ Food: three hops apart, one shortcut edge between them."""
    sg = extract_subgraph(engine.tables, [F + "GrannySmith"], [F + "Food"], hops=0)
    assert typed_edges(sg) == {("GrannySmith", "Food", "subClassOf"), ("Food", "GrannySmith", "subClassOf^-1")}
    sg = extract_subgraph(engine.tables, [F + "Carrot"], [F + "Banana"], hops=0)
    assert typed_edges(sg) == {("Carrot", "Banana", "disjointWith"), ("Banana", "Carrot", "disjointWith")}
    sg = extract_subgraph(engine.tables, [F + "Yoghurt"], [F + "Yogurt"], hops=0)
    assert ("Yoghurt", "Yogurt", "equivalentClass") in typed_edges(sg)


def test_relations_and_negated_relations(engine):
    sg = extract_subgraph(engine.tables, [F + "Beef"], [F + "VitaminC"], hops=1)
    edges = typed_edges(sg)
    assert {("Beef", "VitaminC", "negatedRelation"), ("VitaminC", "Beef", "negatedRelation")} <= edges
    assert {("Orange", "VitaminC", "relation"), ("VitaminC", "Orange", "relation^-1")} <= edges


def test_individuals_sit_under_their_classes(engine):
    sg = extract_subgraph(engine.tables, [F + "myLunch"], [], hops=1)
    assert ("myLunch", "Apple", "subClassOf") in typed_edges(sg)


def test_symbolic_features_of_an_entailment(engine):
    pm, hm, verdict = pair(engine, "I like eating apples", "I like eating fruit")
    f = featurize(pm, hm, verdict, engine.tables, fixed_vectors)
    s = dict(zip(SYMBOLIC_FEATURES, f.symbolic.tolist()))
    assert f.symbolic.dtype == np.float32 and f.symbolic.shape == (len(SYMBOLIC_FEATURES),)
    assert s["verdict_entailment"] == 1 and s["verdict_unknown"] == 0 and s["decided"] == 1
    assert s["proof_length"] == pytest.approx(1 / 8) and s["premise_confidence"] == 1.0
    assert s["nothing_linked"] == 0 and s["premise_negated"] == s["hypothesis_negated"] == 0
    assert f.verdict == 0 and f.has_linked
    assert ((f.symbolic >= 0) & (f.symbolic <= 1)).all()
    g = f.graph
    assert g.num_nodes == len(f.nodes) and g.x.shape == (len(f.nodes), 384)
    np.testing.assert_array_equal(g.x.numpy(), fixed_vectors(f.nodes))
    assert g.edge_index.shape[0] == 2 and g.edge_index.shape[1] == g.edge_type.shape[0] > 0
    assert g.role.shape == (len(f.nodes), 3)


def test_reading_features_say_how_much_of_each_side_the_rules_read(engine):
    """A content word is read when a linked mention covers it or the other side has its lemma; the
    features are 0 without the texts, and a model's spec picks which features it is fed."""
    names = SYMBOLIC_FEATURES + nli_features.READING_FEATURES
    p, h = "I like eating apples", "I like eating fruit"
    pm, hm, verdict = pair(engine, p, h)
    f = featurize(pm, hm, verdict, engine.tables, fixed_vectors, texts=(p, h), names=names)
    s = dict(zip(names, f.symbolic.tolist()))
    assert s["hypothesis_unread"] == s["premise_unread"] == 0  # like, eat(ing) shared; apples, fruit linked
    assert s["hypothesis_words"] == pytest.approx(3 / nli_features.MAX_WORDS)
    p2, h2 = "I like eating apples", "My neighbour sells old bicycles"
    unread = nli_features.reading(p2, h2, *engine.link_many([p2, h2]))
    # neighbour sells old bicycles: nothing links, nothing shared; of the premise only "apples" links
    assert unread == (1.0, pytest.approx(2 / 3), 4)
    blind = featurize(pm, hm, verdict, engine.tables, fixed_vectors, names=names).symbolic
    assert blind[names.index("hypothesis_words")] == 0
    default = featurize(pm, hm, verdict, engine.tables, fixed_vectors, texts=(p, h))
    np.testing.assert_array_equal(default.symbolic, f.symbolic[:len(SYMBOLIC_FEATURES)])
    assert nli_features.feature_spec(reading=True)["symbolic_features"] == list(names)
    assert nli_features.spec_features({}) == list(SYMBOLIC_FEATURES)
    with pytest.raises(ValueError, match="does not build"):
        nli_features.spec_features({"symbolic_features": ["verdict_unknown", "sentiment"]})


def test_negation_and_contradiction_features(engine):
    pm, hm, verdict = pair(engine, "I ate an orange", "I did not eat any fruit")
    s = dict(zip(SYMBOLIC_FEATURES, featurize(pm, hm, verdict, engine.tables, fixed_vectors).symbolic.tolist()))
    assert s["verdict_contradiction"] == 1 and s["hypothesis_negated"] == 1 and s["premise_negated"] == 0


def test_nothing_linked(engine):
    pm, hm, verdict = pair(engine, "The weather is nice", "It is sunny")
    f = featurize(pm, hm, verdict, engine.tables, fixed_vectors)
    s = dict(zip(SYMBOLIC_FEATURES, f.symbolic.tolist()))
    assert not f.has_linked and f.graph.num_nodes == 0 and f.nodes == []
    assert s["nothing_linked"] == s["premise_unlinked"] == s["hypothesis_unlinked"] == s["verdict_unknown"] == 1
    assert s["subgraph_nodes"] == 0


def test_gate_mask_closes_on_an_unknown_with_one_side_unlinked(engine):
    """The rules cannot reason from a side that links nothing: their unknown is then no evidence of
    neutral, and the "decidable" and "decided" masks leave the pair to the neural side. A decided
    verdict, or an unknown with both sides linked, keeps the gate open. Nothing linked closes it,
    unless ("decided") natural logic decided from the words alone."""
    cases = {("I like eating apples", "The weather is nice"): ("unknown", True, False, False, True),
             ("I like eating apples", "I like eating fruit"): ("entailment", True, True, True, True),
             ("I like eating fruit", "I like eating apples"): ("unknown", True, True, True, True),
             ("The weather is nice", "It is sunny"): ("unknown", False, False, False, False),
             ("The weather is nice today", "The weather is nice"): ("entailment", False, True, False, False)}
    from kgnlu.tasks.nli import decide

    for (p, h), (label, linked, decided, decidable, old) in cases.items():
        pm, hm = engine.link_many([p, h])
        verdict = decide(engine.rules(), p, h, pm, hm)
        assert verdict.label == label, (p, h)
        f = featurize(pm, hm, verdict, engine.tables, fixed_vectors)
        assert (f.has_linked, f.gate_open) == (linked, decided), (p, h)
        assert featurize(pm, hm, verdict, engine.tables, fixed_vectors, gate_mask="decidable").gate_open == decidable
        assert featurize(pm, hm, verdict, engine.tables, fixed_vectors, gate_mask="linked").gate_open == old
    assert nli_features.feature_spec()["gate_mask"] == nli_features.GATE_MASK == "decided"
    with pytest.raises(ValueError, match="gate mask"):
        nli_features.gate_open(pm, hm, "unknown", "sometimes")


def test_undecided_mask_closes_on_an_unknown_that_proved_part_of_the_hypothesis(engine):
    """The rules match "apples" on both sides and stop at words they cannot read ("in the park"):
    their unknown proved part of the hypothesis and says nothing of neutral, so the "undecided" mask
    leaves the pair to the neural side. An unknown that proved nothing (unrelated concepts) and a
    decided verdict read as under "decided"."""
    from kgnlu.tasks.nli import decide

    cases = {("I like eating apples", "I like eating apples in the park"): ("unknown", 1.0, True, False),
             ("I like eating apples", "Yesterday I hated eating apples"): ("unknown", 1.0, True, False),
             ("I like eating fruit", "I like eating apples"): ("unknown", 0.0, True, True),
             ("I like eating apples", "I like eating fruit"): ("entailment", 1.0, True, True),
             ("The weather is nice today", "The weather is nice"): ("entailment", 1.0, True, True),
             ("I like eating apples", "The weather is nice"): ("unknown", 0.0, False, False)}
    for (p, h), (label, decided, under_decided, under_undecided) in cases.items():
        pm, hm = engine.link_many([p, h])
        verdict = decide(engine.rules(), p, h, pm, hm)
        assert (verdict.label, verdict.decided) == (label, decided), (p, h)
        f = featurize(pm, hm, verdict, engine.tables, fixed_vectors, gate_mask="undecided")
        assert f.gate_open == under_undecided, (p, h)
        assert featurize(pm, hm, verdict, engine.tables, fixed_vectors).gate_open == under_decided, (p, h)


def test_graph_both_reads_a_subgraph_only_when_both_sides_link(engine):
    """With graph="both" a pair whose one side links nothing gets an empty subgraph (its readout is
    zero: the neural answer is the cross-encoder's); a pair linked on both sides gets the subgraph
    "all" gives it, tensor for tensor."""
    one_sided = pair(engine, "I like eating apples", "The weather is nice")
    both = pair(engine, "I like eating apples", "I like eating fruit")
    assert featurize(*one_sided, engine.tables, fixed_vectors).graph.num_nodes > 0
    f = featurize(*one_sided, engine.tables, fixed_vectors, graph="both")
    assert f.graph.num_nodes == 0 and f.nodes == [] and f.graph.edge_index.shape == (2, 0)
    assert dict(zip(SYMBOLIC_FEATURES, f.symbolic.tolist()))["subgraph_nodes"] == 0
    a = featurize(*both, engine.tables, fixed_vectors)
    b = featurize(*both, engine.tables, fixed_vectors, graph="both")
    assert a.nodes == b.nodes and len(a.nodes) > 1
    assert np.array_equal(a.graph.x.numpy(), b.graph.x.numpy()) and np.array_equal(a.symbolic, b.symbolic)
    with pytest.raises(ValueError, match="graph must be one of"):
        featurize(*both, engine.tables, fixed_vectors, graph="some")
    assert nli_features.graph_sides({}) == "all" and nli_features.feature_spec(graph="both")["graph"] == "both"


def test_collate_stacks_graphs(engine):
    from transformers import AutoTokenizer

    from kgnlu.neural.encoder import default_model_path

    tok = AutoTokenizer.from_pretrained(str(default_model_path()), local_files_only=True)
    texts = [("I like eating apples", "I like eating fruit"), ("The weather is nice", "It is sunny"),
             ("I ate a carrot", "I ate a banana")]
    feats = [featurize(*pair(engine, p, h), engine.tables, fixed_vectors) for p, h in texts]
    batch = collate(feats, tok, [p for p, _ in texts], [h for _, h in texts],
                    labels=["entailment", "neutral", 2])
    n0, n2 = feats[0].graph.num_nodes, feats[2].graph.num_nodes
    assert batch["x"].shape == (n0 + n2, 384) and batch["role"].shape == (n0 + n2, 3)
    assert batch["node_batch"].tolist() == [0] * n0 + [2] * n2
    e0 = feats[0].graph.edge_index.shape[1]
    assert batch["edge_index"][:, :e0].max() < n0 and batch["edge_index"][:, e0:].min() >= n0
    assert batch["labels"].tolist() == [0, 1, 2] and batch["verdict"].tolist() == [0, 2, 1]
    assert batch["has_linked"].tolist() == [1.0, 0.0, 1.0] and batch["gate_open"].tolist() == [1.0, 0.0, 1.0]
    assert batch["symbolic"].shape == (3, len(SYMBOLIC_FEATURES))
    assert batch["input_ids"].shape[0] == 3 and (batch["token_type_ids"] == 1).any()
    empty = collate([feats[1]], tok, [texts[1][0]], [texts[1][1]], node_dim=384)
    assert empty["x"].shape == (0, 384) and empty["edge_index"].shape == (2, 0)
    with pytest.raises(ValueError):
        collate(feats, tok, ["a"], ["b"])


class CountingEncoder:
    dim = 4
    fingerprint = "fake"

    def __init__(self):
        self.calls = []

    def encode(self, texts, batch_size=128, progress=None):
        self.calls.append(list(texts))
        return np.array([[len(t), 1.0, 0.0, 0.0] for t in texts], dtype=np.float32)


def _labels_of(labels: dict):
    return lambda iris: [labels.get(i) for i in iris]

def test_label_vectors_embed_each_label_once():
    enc = CountingEncoder()
    labels = {F + "Apple": "apple", F + "GrannySmith": "Granny  Smith"}
    vec = subgraph.LabelVectors(enc, _labels_of(labels))
    vec.prefetch([F + "Apple", F + "GrannySmith", F + "Apple"])
    out = vec([F + "GrannySmith", F + "Apple", F + "NoLabelClass"])
    assert enc.calls == [["apple", "granny smith"], ["no label class"]]
    assert out.shape == (3, 4) and out[:, 0].tolist() == [12, 5, 14]
    assert vec([]).shape == (0, 4) and vec.name == "label:fake"
    assert subgraph.label_text("http://x.org/onto/heart_attack", None) == "heart attack"


def test_label_vectors_share_an_on_disk_cache(tmp_path):
    from kgnlu.kg.index import VectorCache

    labels = {F + "Apple": "apple", F + "Pear": "pear"}
    first = CountingEncoder()
    with VectorCache(tmp_path / "cache", "fake", 4) as cache:
        a = subgraph.LabelVectors(first, _labels_of(labels), cache=cache)([F + "Apple", F + "Pear"])
    second = CountingEncoder()
    with VectorCache(tmp_path / "cache", "fake", 4) as cache:
        b = subgraph.LabelVectors(second, _labels_of(labels), cache=cache)([F + "Pear", F + "Apple", F + "Kiwi"])
    assert first.calls == [["apple", "pear"]] and second.calls == [["kiwi"]]
    np.testing.assert_array_equal(b[:2], a[::-1])


def test_feature_spec_names_everything_a_model_depends_on():
    spec = nli_features.feature_spec(node_vectors="label:abc")
    assert spec["edge_types"] == list(EDGE_TYPES) and spec["symbolic_features"] == list(SYMBOLIC_FEATURES)
    assert spec["verdicts"] == ["entailment", "contradiction", "unknown"]
    assert (spec["hops"], spec["max_nodes"], spec["node_vectors"]) == (2, 64, "label:abc")

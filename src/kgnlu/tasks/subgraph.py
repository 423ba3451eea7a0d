"""The KG neighbourhood of linked concepts as a typed graph, and the vectors of its nodes.

Shared by NLI (``tasks.nli_features``) and relation extraction (``tasks.re_features``): both hand
the GNN the subgraph around the concepts a text links, with each node's label embedded.

Subgraph edges (``EDGE_TYPES``; every KG link gives one edge each way, typed by direction):

=====================  ==============================================================
type                   from the closure tables
=====================  ==============================================================
``subClassOf``         sub -> sup: ``edges`` (told and reasoner-added), ``rdf:type``
``subClassOf^-1``      sup -> sub
``equivalentClass``    both ways: ``equivalents``
``disjointWith``       both ways: ``disjoint_decl`` (declared pairs)
``relation``           subject -> object of a class-level relation (``C ⊑ ∃p.D``)
``relation^-1``        object -> subject
``negatedRelation``    both ways: ``C ⊑ ¬∃p.D``
=====================  ==============================================================

Linked concepts are also joined directly when the closure relates them (entailed subsumption,
equivalence, inherited disjointness), however far apart they are in the hierarchy: the rule
layer's evidence, visible to the GNN without ``hops`` limiting it.

Expansion is breadth-first from the linked concepts (premise first, in text order); the
children of a node and its relations either way are capped at ``max_fanout`` per node (the
first in table order), so hubs such as an ontology's root do not flood the subgraph. The edges
are the KG links of every expanded node (all hops but the last) to any node of the subgraph: the
last hop's nodes are not looked up again, which keeps extraction to one ``ClosureTables.links``
query per expanded node, plus the closure lookups between linked concepts.
Everything is ordered, so the same pair always gives the same subgraph.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

EDGE_TYPES = ("subClassOf", "subClassOf^-1", "equivalentClass", "disjointWith", "relation", "relation^-1",
              "negatedRelation")
UP, DOWN, EQUIV, DISJOINT, REL, REL_INV, NEG_REL = range(len(EDGE_TYPES))
HOPS, MAX_NODES, MAX_FANOUT = 2, 64, 8
NodeVectors = Callable[[Sequence[str]], np.ndarray]


@dataclass
class Subgraph:
    """Nodes (IRIs; linked concepts first), directed typed edges over their indices, role flags."""

    nodes: list[str]
    edges: list[tuple[int, int, int]]  # (source, target, edge type)
    role: np.ndarray  # (n, 3) float32: premise concept, hypothesis concept, other


@dataclass
class GraphTensors:
    """One subgraph as tensors, with the attribute names of a PyG ``Data`` object.

    Not ``torch_geometric.data.Data`` itself: importing torch_geometric pulls in torch._dynamo
    and transformers, which would take most of a cold ``kgnlu infer``'s start-up budget, and the
    model needs only these five fields.
    """

    x: object  # (num_nodes, d) float32 tensor
    role: object  # (num_nodes, 3) float32
    edge_index: object  # (2, num_edges) int64: source, target
    edge_type: object  # (num_edges,) int64, index in EDGE_TYPES
    num_nodes: int


_LINK_TYPES = {"parent": (UP, DOWN), "type": (UP, DOWN),  # an individual is under its classes
               "child": (DOWN, UP), "equivalent": (EQUIV, EQUIV), "disjoint": (DISJOINT, DISJOINT),
               "relation": (REL, REL_INV), "relation_to": (REL_INV, REL)}


def _neighbours(tables, iri: str, fanout: int) -> list[tuple[str, int, int]]:
    """``(other, type of iri->other, type of other->iri)`` for every KG link of ``iri``."""
    out = [(other, NEG_REL, NEG_REL) if negated else (other, *_LINK_TYPES[kind])
           for kind, other, negated in tables.links(iri, fanout)]
    return [t for t in out if t[0] != iri]


class NeighbourCache:
    """``_neighbours`` memoised for one ``tables`` (bounded LRU; thread-safe).

    Closure tables never change under a KG generation, and a predictor lives for one generation,
    so its pairs can share lookups: the same concepts and their hubs come back pair after pair,
    and each uncached node costs a ``ClosureTables.links`` query.
    """

    def __init__(self, tables, max_fanout: int = MAX_FANOUT, maxsize: int = 100_000):
        self.tables, self.max_fanout = tables, max_fanout
        self._get = functools.lru_cache(maxsize=maxsize)(self._compute)

    def _compute(self, iri: str) -> tuple[tuple[str, int, int], ...]:
        return tuple(_neighbours(self.tables, iri, self.max_fanout))

    def __call__(self, iri: str) -> tuple[tuple[str, int, int], ...]:
        return self._get(iri)


def _closure_links(tables, a: str, b: str) -> list[tuple[int, int]]:
    """Types of the shortcut edges a->b, b->a that the closure entails between two linked concepts."""
    up = tables.is_subclass(a, b) or any(tables.is_subclass(c, b) for c in tables.types(a))
    down = tables.is_subclass(b, a) or any(tables.is_subclass(c, a) for c in tables.types(b))
    if up and down:
        return [(EQUIV, EQUIV)]
    if up:
        return [(UP, DOWN)]
    if down:
        return [(DOWN, UP)]
    if tables.disjoint(a, b) is not None:
        return [(DISJOINT, DISJOINT)]
    return []


def extract_subgraph(tables, premise_iris: Sequence[str], hypothesis_iris: Sequence[str], *, hops: int = HOPS,
                     max_nodes: int = MAX_NODES, max_fanout: int = MAX_FANOUT,
                     neighbours: NeighbourCache | None = None) -> Subgraph:
    """The ``hops``-hop neighbourhood of the linked concepts, at most ``max_nodes`` nodes.

    ``neighbours`` (for these ``tables`` and ``max_fanout``) shares lookups across calls.
    """
    if neighbours is not None and (neighbours.tables is not tables or neighbours.max_fanout != max_fanout):
        raise ValueError("the neighbour cache was built for other tables or another max_fanout")
    seeds = list(dict.fromkeys([*premise_iris, *hypothesis_iris]))[:max_nodes]
    index = {iri: i for i, iri in enumerate(seeds)}
    nodes = list(seeds)
    cache: dict[str, Sequence[tuple[str, int, int]]] = {}

    def neigh(iri: str) -> Sequence[tuple[str, int, int]]:
        if iri not in cache:
            cache[iri] = neighbours(iri) if neighbours is not None else _neighbours(tables, iri, max_fanout)
        return cache[iri]

    frontier = list(seeds)
    for _ in range(hops):
        nxt = []
        for u in frontier:
            for v, _, _ in neigh(u):
                if v not in index and len(nodes) < max_nodes:
                    index[v] = len(nodes)
                    nodes.append(v)
                    nxt.append(v)
        frontier = nxt
    edges: set[tuple[int, int, int]] = set()
    for u in list(cache):  # the expanded nodes: every hop but the last
        for v, t_uv, t_vu in cache[u]:
            if v in index:
                edges.update({(index[u], index[v], t_uv), (index[v], index[u], t_vu)})
    linked = seeds[:16]  # pairwise closure lookups: keep them bounded
    for i, a in enumerate(linked):
        for b in linked[i + 1:]:
            for t_ab, t_ba in _closure_links(tables, a, b):
                edges.update({(index[a], index[b], t_ab), (index[b], index[a], t_ba)})
    role = np.zeros((len(nodes), 3), dtype=np.float32)
    p_set, h_set = set(premise_iris), set(hypothesis_iris)
    for i, iri in enumerate(nodes):
        role[i, 0], role[i, 1] = iri in p_set, iri in h_set
        role[i, 2] = not (role[i, 0] or role[i, 1])
    return Subgraph(nodes, sorted(edges), role)


# -- node vectors ------------------------------------------------------------------------------

def label_text(iri: str, label: str | None) -> str:
    """What a concept's node vector embeds: its label, else its IRI's local name, lower case."""
    if not label:
        local = re.split(r"[#/]", iri.rstrip("/#"))[-1]
        label = re.sub(r"(?<=[a-z])(?=[A-Z])|_", " ", local)
    return " ".join(label.lower().split())


class LabelVectors:
    """``node_vectors`` for subgraphs: each concept's label, embedded once by a text encoder.

    Thread-safe (one lock around the cache and the encoder). ``prefetch`` embeds many IRIs in
    large batches, which is far faster than letting pairs ask for a few at a time.

    Args:
        encoder: a ``kgnlu.neural.encoder.TextEncoder`` (frozen MiniLM in production).
        labels_of: IRIs -> their labels or None (``ClosureTables.labels``: one query for many).
        cache: an on-disk ``kgnlu.kg.index.VectorCache`` for ``encoder`` (text -> vector), read
            before embedding and written after; the lexicon index keys it the same way
            (normalised text), so the labels it embedded are reused.
    """

    def __init__(self, encoder, labels_of: Callable[[Sequence[str]], Sequence[str | None]], batch_size: int = 128,
                 cache=None):
        self.encoder = encoder
        self.labels_of = labels_of
        self.batch_size = batch_size
        self.cache = cache
        self.name = f"label:{getattr(encoder, 'fingerprint', type(encoder).__name__)}"
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def prefetch(self, iris: Sequence[str], progress=None) -> None:
        with self._lock:
            missing = [i for i in dict.fromkeys(iris) if i not in self._cache]
            if not missing:
                return
            texts = [label_text(i, label) for i, label in zip(missing, self.labels_of(missing))]
            if self.cache is not None:
                vectors, todo = self.cache.get_many(texts)
            else:
                vectors, todo = np.zeros((len(texts), self.encoder.dim), np.float32), list(range(len(texts)))
            if todo:
                new_texts = list(dict.fromkeys(texts[j] for j in todo))
                new = np.asarray(self.encoder.encode(new_texts, batch_size=self.batch_size, progress=progress),
                                 dtype=np.float32)
                row = {t: k for k, t in enumerate(new_texts)}
                for j in todo:
                    vectors[j] = new[row[texts[j]]]
                if self.cache is not None:
                    self.cache.put_many(new_texts, new)
            self._cache.update(zip(missing, vectors))

    def __call__(self, iris: Sequence[str]) -> np.ndarray:
        self.prefetch(iris)
        with self._lock:
            return np.stack([self._cache[i] for i in iris]) if iris else np.zeros((0, self.encoder.dim), np.float32)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, cached={len(self._cache)})"


__all__ = ["EDGE_TYPES", "HOPS", "MAX_FANOUT", "MAX_NODES", "GraphTensors", "LabelVectors", "NeighbourCache",
           "NodeVectors", "Subgraph", "extract_subgraph", "label_text"]

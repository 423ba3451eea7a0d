"""The bridge: symbolic evidence about a pair turned into the tensors the fused model reads.

This is the one place where KG lookups become tensors (DESIGN.md, "Boundaries"). For a pair,
``featurize`` takes the linker's mentions on both sides, the rule layer's verdict, the closure
tables and a ``node_vectors`` function, and returns :class:`PairFeatures`:

- **symbolic features** (``SYMBOLIC_FEATURES``, all in [0, 1]): the verdict one-hot, the proof
  length, the share of hypothesis assertions decided, the mean linking confidence per side,
  negation flags, "nothing linked" flags and mention counts, the subgraph size;
- **the subgraph** as :class:`GraphTensors` (``x``, ``role``, ``edge_index``, ``edge_type``): the
  ``hops``-hop neighbourhood of the linked concepts, at most ``max_nodes`` nodes.

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
last hop's nodes are not looked up again, which keeps extraction to ~7 lookups per expanded node.
Everything is ordered, so the same pair always gives the same tensors.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from kgnlu.kg import rules as _rules
from kgnlu.labels import LABEL2ID, VERDICTS
from kgnlu.types import Mention

if tuple(_rules.VERDICTS) != VERDICTS:  # the one-hot order the model was trained on
    raise ImportError(f"kgnlu.kg.rules.VERDICTS {_rules.VERDICTS} != kgnlu.labels.VERDICTS {VERDICTS}")

EDGE_TYPES = ("subClassOf", "subClassOf^-1", "equivalentClass", "disjointWith", "relation", "relation^-1",
              "negatedRelation")
UP, DOWN, EQUIV, DISJOINT, REL, REL_INV, NEG_REL = range(len(EDGE_TYPES))
SYMBOLIC_FEATURES = (
    "verdict_entailment", "verdict_contradiction", "verdict_unknown", "proof_length", "decided",
    "premise_confidence", "hypothesis_confidence", "premise_negated", "hypothesis_negated",
    "nothing_linked", "premise_unlinked", "hypothesis_unlinked", "premise_mentions", "hypothesis_mentions",
    "subgraph_nodes",
)
HOPS, MAX_NODES, MAX_FANOUT = 2, 64, 8
MAX_PROOF, MAX_MENTIONS = 8, 8
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

    Not ``torch_geometric.data.Data`` itself: importing torch_geometric costs ~4 s (it pulls in
    torch._dynamo and transformers), most of the 8 s budget of a cold ``kgnlu infer``, and the
    model needs only these five fields.
    """

    x: object  # (num_nodes, d) float32 tensor
    role: object  # (num_nodes, 3) float32
    edge_index: object  # (2, num_edges) int64: source, target
    edge_type: object  # (num_edges,) int64, index in EDGE_TYPES
    num_nodes: int


@dataclass
class PairFeatures:
    """What the fused model needs about one pair besides its text."""

    symbolic: np.ndarray  # (len(SYMBOLIC_FEATURES),) float32
    verdict: int  # index in kgnlu.labels.VERDICTS
    has_linked: bool  # either side links a concept: the gate's mask
    graph: GraphTensors
    nodes: list[str]


def feature_spec(hops: int = HOPS, max_nodes: int = MAX_NODES, max_fanout: int = MAX_FANOUT,
                 node_vectors: str = "unspecified") -> dict:
    """What a model trained on these features must be fed again (stored in its manifest)."""
    return {"edge_types": list(EDGE_TYPES), "symbolic_features": list(SYMBOLIC_FEATURES), "verdicts": list(VERDICTS),
            "hops": hops, "max_nodes": max_nodes, "max_fanout": max_fanout, "node_vectors": node_vectors}


# -- the subgraph ------------------------------------------------------------------------------

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
    and each uncached node costs 8 SQLite queries (``ClosureTables.links``).
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


# -- features ----------------------------------------------------------------------------------

def _mean_score(mentions: Sequence[Mention]) -> float:
    return float(np.mean([m.score for m in mentions])) if mentions else 0.0


def symbolic_features(premise: Sequence[Mention], hypothesis: Sequence[Mention], verdict,
                      n_nodes: int = 0, max_nodes: int = MAX_NODES) -> np.ndarray:
    """The ``SYMBOLIC_FEATURES`` vector of a pair (float32, every value in [0, 1])."""
    f = dict.fromkeys(SYMBOLIC_FEATURES, 0.0)
    f[f"verdict_{verdict.label}"] = 1.0
    f["proof_length"] = min(verdict.proof_length, MAX_PROOF) / MAX_PROOF
    f["decided"] = float(verdict.decided)
    f["premise_confidence"], f["hypothesis_confidence"] = _mean_score(premise), _mean_score(hypothesis)
    f["premise_negated"] = float(any(m.negated for m in premise))
    f["hypothesis_negated"] = float(any(m.negated for m in hypothesis))
    f["nothing_linked"] = float(not premise and not hypothesis)
    f["premise_unlinked"], f["hypothesis_unlinked"] = float(not premise), float(not hypothesis)
    f["premise_mentions"] = min(len(premise), MAX_MENTIONS) / MAX_MENTIONS
    f["hypothesis_mentions"] = min(len(hypothesis), MAX_MENTIONS) / MAX_MENTIONS
    f["subgraph_nodes"] = min(n_nodes, max_nodes) / max_nodes
    return np.array([f[k] for k in SYMBOLIC_FEATURES], dtype=np.float32)


def featurize(premise: Sequence[Mention], hypothesis: Sequence[Mention], verdict, tables,
              node_vectors: NodeVectors, *, hops: int = HOPS, max_nodes: int = MAX_NODES,
              max_fanout: int = MAX_FANOUT, subgraph: Subgraph | None = None,
              neighbours: NeighbourCache | None = None) -> PairFeatures:
    """Symbolic features and subgraph of one pair.

    Args:
        premise, hypothesis: the linker's mentions of each side (``kgnlu.types.Mention``).
        verdict: the rule layer's ``kgnlu.kg.rules.Verdict`` for the pair.
        tables: the KG's ``kgnlu.kg.tables.ClosureTables``.
        node_vectors: maps IRIs to a ``(n, d)`` float array (the concepts' label embeddings).
        subgraph: one already extracted (by :func:`extract_subgraph`, same options), to skip that.
        neighbours: a :class:`NeighbourCache` shared across pairs.
    """
    import torch

    if subgraph is None:
        subgraph = extract_subgraph(tables, [m.iri for m in premise], [m.iri for m in hypothesis], hops=hops,
                                    max_nodes=max_nodes, max_fanout=max_fanout, neighbours=neighbours)
    n = len(subgraph.nodes)
    x = np.asarray(node_vectors(subgraph.nodes), dtype=np.float32) if n else None
    if x is not None and (x.ndim != 2 or x.shape[0] != n):
        raise ValueError(f"node_vectors returned shape {x.shape} for {n} IRIs")
    e = np.array(subgraph.edges, dtype=np.int64).reshape(-1, 3)
    graph = GraphTensors(x=torch.from_numpy(x) if x is not None else torch.zeros(0, 0),
                         role=torch.from_numpy(subgraph.role), edge_index=torch.from_numpy(e[:, :2].T.copy()),
                         edge_type=torch.from_numpy(e[:, 2].copy()), num_nodes=n)
    return PairFeatures(symbolic=symbolic_features(premise, hypothesis, verdict, n, max_nodes),
                        verdict=VERDICTS.index(verdict.label), has_linked=bool(premise or hypothesis),
                        graph=graph, nodes=list(subgraph.nodes))


def collate(features: Sequence[PairFeatures], tokenizer, premises: Sequence[str], hypotheses: Sequence[str], *,
            labels: Sequence[str | int] | None = None, max_length: int = 128, node_dim: int | None = None) -> dict:
    """One batch for ``FusedNLI.forward``: tokenised pairs and the subgraphs stacked block-diagonally.

    ``labels`` (names or ids) become ``batch["labels"]``. ``node_dim`` gives empty batches (no
    linked concept anywhere) a node-feature width; otherwise it is read off the graphs.
    """
    import torch

    if not (len(features) == len(premises) == len(hypotheses)):
        raise ValueError(f"{len(features)} features for {len(premises)} premises and {len(hypotheses)} hypotheses")
    enc = tokenizer(list(premises), list(hypotheses), padding=True, truncation=True, max_length=max_length,
                    return_tensors="pt")
    dims = {int(f.graph.x.size(1)) for f in features if f.graph.num_nodes}
    if len(dims) > 1:
        raise ValueError(f"node vectors of different sizes in one batch: {sorted(dims)}")
    dim = dims.pop() if dims else (node_dim or 0)
    xs, roles, edge_index, edge_type, node_batch = [], [], [], [], []
    offset = 0
    for g, f in enumerate(features):
        n = int(f.graph.num_nodes)
        if n:
            xs.append(f.graph.x)
            roles.append(f.graph.role)
            edge_index.append(f.graph.edge_index + offset)
            edge_type.append(f.graph.edge_type)
            node_batch.append(torch.full((n,), g, dtype=torch.long))
        offset += n
    batch = dict(enc)
    batch.update(
        x=torch.cat(xs) if xs else torch.zeros(0, dim),
        role=torch.cat(roles) if roles else torch.zeros(0, 3),
        edge_index=torch.cat(edge_index, dim=1) if edge_index else torch.zeros(2, 0, dtype=torch.long),
        edge_type=torch.cat(edge_type) if edge_type else torch.zeros(0, dtype=torch.long),
        node_batch=torch.cat(node_batch) if node_batch else torch.zeros(0, dtype=torch.long),
        symbolic=torch.from_numpy(np.stack([f.symbolic for f in features])) if features else torch.zeros(0, 0),
        verdict=torch.tensor([f.verdict for f in features], dtype=torch.long),
        has_linked=torch.tensor([float(f.has_linked) for f in features]),
    )
    if labels is not None:
        batch["labels"] = torch.tensor([LABEL2ID[y] if isinstance(y, str) else int(y) for y in labels],
                                       dtype=torch.long)
    return batch


# -- node vectors ------------------------------------------------------------------------------

def label_text(iri: str, label: str | None) -> str:
    """What a concept's node vector embeds: its label, else its IRI's local name, lower case."""
    if not label:
        local = re.split(r"[#/]", iri.rstrip("/#"))[-1]
        label = re.sub(r"(?<=[a-z])(?=[A-Z])|_", " ", local)
    return " ".join(label.lower().split())


class LabelVectors:
    """``node_vectors`` for the bridge: each concept's label, embedded once by a text encoder.

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


__all__ = ["EDGE_TYPES", "SYMBOLIC_FEATURES", "GraphTensors", "NeighbourCache", "PairFeatures", "Subgraph",
           "LabelVectors", "collate", "extract_subgraph", "feature_spec", "featurize", "label_text", "symbolic_features"]

"""NLI features: symbolic evidence about a pair turned into the tensors the fused model reads.

This is the one place where KG lookups become tensors (DESIGN.md, "Boundaries"). For a pair,
``featurize`` takes the linker's mentions on both sides, the rule layer's verdict, the closure
tables and a ``node_vectors`` function, and returns :class:`PairFeatures`:

- **symbolic features** (``SYMBOLIC_FEATURES``, all in [0, 1]): the verdict one-hot, the proof
  length, the share of hypothesis assertions decided, the mean linking confidence per side,
  negation flags, "nothing linked" flags and mention counts, the subgraph size; optionally
  (``READING_FEATURES``) how much of each side the rules read and whether natural logic decided;
- **the subgraph** as :class:`GraphTensors` (``x``, ``role``, ``edge_index``, ``edge_type``): the
  ``hops``-hop neighbourhood of the linked concepts, at most ``max_nodes`` nodes;
- **the gate's mask** (``gate_open``, :func:`gate_open`): whether the symbolic side may count at all.

The subgraph and its node vectors come from ``tasks.subgraph``; everything is ordered, so the
same pair always gives the same tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kgnlu.kg import rules as _rules
from kgnlu.labels import LABEL2ID, VERDICTS
from kgnlu.tasks import natlog
from kgnlu.tasks.nli_align import lemma
from kgnlu.tasks.subgraph import (
    EDGE_TYPES, HOPS, MAX_FANOUT, MAX_NODES, GraphTensors, NeighbourCache, NodeVectors, Subgraph, extract_subgraph,
)
from kgnlu.types import Mention

if tuple(_rules.VERDICTS) != VERDICTS:  # the one-hot order the model was trained on
    raise ImportError(f"kgnlu.kg.rules.VERDICTS {_rules.VERDICTS} != kgnlu.labels.VERDICTS {VERDICTS}")

SYMBOLIC_FEATURES = (
    "verdict_entailment", "verdict_contradiction", "verdict_unknown", "proof_length", "decided",
    "premise_confidence", "hypothesis_confidence", "premise_negated", "hypothesis_negated",
    "nothing_linked", "premise_unlinked", "hypothesis_unlinked", "premise_mentions", "hypothesis_mentions",
    "subgraph_nodes",
)
# The verdict and its proof: what the gate's decided-verdict head reads (``EvidenceGate.decided_dim``).
PROOF_FEATURES = SYMBOLIC_FEATURES[:5]
# How much of each side the rules read (``reading``), and whether natural logic gave the verdict:
# a pair made from KG concepts is read whole, open text mostly is not, and an unknown verdict on a
# pair read whole is evidence of neutral that it is not on a pair read in part. Opt-in
# (``feature_spec(reading=True)``): models trained with them, and with a gate that reads the
# symbolic features alone, were measured and not shipped (bench/results/nli.md).
READING_FEATURES = ("hypothesis_unread", "premise_unread", "hypothesis_words", "verdict_natlog")
MAX_PROOF, MAX_MENTIONS, MAX_WORDS = 8, 8, 32


@dataclass
class PairFeatures:
    """What the fused model needs about one pair besides its text."""

    symbolic: np.ndarray  # (len(SYMBOLIC_FEATURES),) float32
    verdict: int  # index in kgnlu.labels.VERDICTS
    has_linked: bool  # either side links a concept
    graph: GraphTensors
    nodes: list[str]
    gate_open: bool = True  # the gate's mask: False forces the gate to 0 (the neural answer stands)


# How the gate's mask is read. "linked": open when either side links a concept (models saved before
# the mask had a name). "decidable": also closed on an unknown verdict when one side links nothing:
# the rules then had nothing to reason from on that side, and their "unknown" says nothing about
# neutral (on the real dev sets such pairs are neutral about a third of the time, on the
# hand-checked clinical set never; the generated pairs have none).
# "decided": as "decidable", and also open on a decided verdict when nothing links: natural logic
# decides from the words alone (``kgnlu.tasks.natlog``), so a pair need not link a concept for its
# rules to have a say.
# "undecided": as "decided", and also closed on an unknown verdict whose rules proved part of the
# hypothesis (``Verdict.decided`` > 0): they matched what they could read ("diabetes" on both sides)
# and stopped at words they cannot ("it became harder to control"), so their "unknown" is undecided,
# not evidence of neutral. Generated and hand-checked clinical pairs have no such verdict; on
# human-written dev pairs they are neutral a fifth of the time (bench/results/nli_gate_undecided.md).
GATE_MASKS = ("linked", "decidable", "decided", "undecided")
GATE_MASK = "decided"  # what training reads; ``kgnlu.training.nli_gate`` sets the reading a model ships with
# Which pairs the GNN reads a subgraph for: "all", or "both" (only when both sides link a concept).
# The readout compares the premise's concepts with the hypothesis's; with one side empty it is a
# prior over the other side's concepts, no evidence of how the two relate.
GRAPH_SIDES = ("all", "both")


def gate_open(premise: Sequence[Mention], hypothesis: Sequence[Mention], verdict_label: str,
              mask: str = GATE_MASK, decided: float = 0.0) -> bool:
    """Whether the gate may weigh the symbolic side of a pair (``GATE_MASKS``); ``decided``: the
    share of the hypothesis the rules proved (``Verdict.decided``, read by the "undecided" mask)."""
    if mask not in GATE_MASKS:
        raise ValueError(f"gate mask must be one of {GATE_MASKS}, not {mask!r}")
    if verdict_label == "unknown" and mask == "undecided" and decided > 0:
        return False
    if mask in ("decided", "undecided") and verdict_label != "unknown":
        return True
    if not (premise or hypothesis):
        return False
    return mask == "linked" or verdict_label != "unknown" or bool(premise and hypothesis)


def reads_graph(premise: Sequence[Mention], hypothesis: Sequence[Mention], graph: str = "all") -> bool:
    """Whether the GNN reads a subgraph for this pair (``GRAPH_SIDES``)."""
    if graph not in GRAPH_SIDES:
        raise ValueError(f"graph must be one of {GRAPH_SIDES}, not {graph!r}")
    return graph == "all" or bool(premise and hypothesis)


def trained_reading(spec: dict) -> tuple[str, bool, str]:
    """The gate mask, the rules' guard and the rules' logic (``kgnlu.tasks.nli.decide``) a model with
    this feature spec was trained with; a spec saved before one had a name means the "linked" mask,
    no guard and the concept-bag rules ("bag")."""
    return spec.get("gate_mask", "linked"), bool(spec.get("guard", False)), spec.get("logic", "bag")


def graph_sides(spec: dict) -> str:
    """Which pairs a model with this feature spec reads a subgraph for ("all" for a spec saved before the choice)."""
    return spec.get("graph", "all")


def spec_features(spec: dict) -> list[str]:
    """The symbolic features a model with this feature spec reads, in order (checked against this version's)."""
    names = list(spec.get("symbolic_features", SYMBOLIC_FEATURES))
    unknown = [n for n in names if n not in SYMBOLIC_FEATURES + READING_FEATURES]
    if unknown:
        raise ValueError(f"the model was trained on symbolic features this version of kgnlu does not build: {unknown}")
    return names


def feature_spec(hops: int = HOPS, max_nodes: int = MAX_NODES, max_fanout: int = MAX_FANOUT,
                 node_vectors: str = "unspecified", gate_mask: str = GATE_MASK, guard: bool | None = None,
                 logic: str | None = None, reading: bool = False, graph: str = "all") -> dict:
    """What a model trained on these features must be fed again (stored in its manifest); ``guard``
    and ``logic``: how the rules read the pair (``kgnlu.tasks.nli.decide``; None: its defaults);
    ``reading``: the ``READING_FEATURES`` too; ``graph``: which pairs get a subgraph (``GRAPH_SIDES``)."""
    from kgnlu.tasks import nli

    names = SYMBOLIC_FEATURES + (READING_FEATURES if reading else ())
    return {"edge_types": list(EDGE_TYPES), "symbolic_features": list(names), "verdicts": list(VERDICTS),
            "hops": hops, "max_nodes": max_nodes, "max_fanout": max_fanout, "node_vectors": node_vectors,
            "gate_mask": gate_mask, "guard": nli.GUARD if guard is None else bool(guard),
            "logic": nli.LOGIC if logic is None else logic, "graph": graph}


def reading(premise: str, hypothesis: str, premise_mentions: Sequence[Mention],
            hypothesis_mentions: Sequence[Mention]) -> tuple[float, float, int]:
    """(hypothesis unread, premise unread, hypothesis content words): a side's unread share is the
    share of its content words that lie in no linked mention and whose lemma the other side lacks
    (0 for a side without content words)."""
    sides = [[t for t in natlog.tokens(text) if natlog.is_content(t)] for text in (premise, hypothesis)]
    lemmas = [{lemma(t.text) for t in ts} for ts in sides]

    def unread(ts, mentions, other) -> float:
        if not ts:
            return 0.0
        return sum(not natlog.inside(t, mentions) and lemma(t.text) not in other for t in ts) / len(ts)

    return (unread(sides[1], hypothesis_mentions, lemmas[0]), unread(sides[0], premise_mentions, lemmas[1]),
            len(sides[1]))


def _mean_score(mentions: Sequence[Mention]) -> float:
    return float(np.mean([m.score for m in mentions])) if mentions else 0.0


def symbolic_features(premise: Sequence[Mention], hypothesis: Sequence[Mention], verdict,
                      n_nodes: int = 0, max_nodes: int = MAX_NODES, *, texts: tuple[str, str] | None = None,
                      names: Sequence[str] = SYMBOLIC_FEATURES) -> np.ndarray:
    """The vector of features ``names`` (default ``SYMBOLIC_FEATURES``) of a pair (float32, every
    value in [0, 1]); ``texts`` (premise, hypothesis) gives the reading features, which are 0 without."""
    f = dict.fromkeys(SYMBOLIC_FEATURES + READING_FEATURES, 0.0)
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
    if texts is not None and any(n in READING_FEATURES for n in names):
        f["hypothesis_unread"], f["premise_unread"], words = reading(*texts, premise, hypothesis)
        f["hypothesis_words"] = min(words, MAX_WORDS) / MAX_WORDS
    f["verdict_natlog"] = float(bool(verdict.edits))
    return np.array([f[k] for k in names], dtype=np.float32)


def featurize(premise: Sequence[Mention], hypothesis: Sequence[Mention], verdict, tables,
              node_vectors: NodeVectors, *, hops: int = HOPS, max_nodes: int = MAX_NODES,
              max_fanout: int = MAX_FANOUT, subgraph: Subgraph | None = None,
              neighbours: NeighbourCache | None = None, gate_mask: str = GATE_MASK, graph: str = "all",
              texts: tuple[str, str] | None = None, names: Sequence[str] = SYMBOLIC_FEATURES) -> PairFeatures:
    """Symbolic features and subgraph of one pair.

    Args:
        premise, hypothesis: the linker's mentions of each side (``kgnlu.types.Mention``).
        verdict: the rule layer's ``kgnlu.kg.rules.Verdict`` for the pair.
        tables: the KG's ``kgnlu.kg.tables.ClosureTables``.
        node_vectors: maps IRIs to a ``(n, d)`` float array (the concepts' label embeddings).
        subgraph: one already extracted (by :func:`extract_subgraph`, same options), to skip that.
        neighbours: a :class:`NeighbourCache` shared across pairs.
        gate_mask: how the gate's mask is read (:func:`gate_open`; the model's ``feature_spec`` says).
        graph: which pairs get a subgraph (:func:`reads_graph`); the others get an empty one, whose
            readout is zero, so their neural answer is the cross-encoder's.
        texts: the pair's (premise, hypothesis) text, for the reading features (0 without).
        names: the symbolic features to build, in order (the model's ``feature_spec`` says).
    """
    import torch

    if not reads_graph(premise, hypothesis, graph):
        subgraph = Subgraph([], [], np.zeros((0, 3), np.float32))
    elif subgraph is None:
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
    return PairFeatures(symbolic=symbolic_features(premise, hypothesis, verdict, n, max_nodes, texts=texts,
                                                   names=names),
                        verdict=VERDICTS.index(verdict.label), has_linked=bool(premise or hypothesis),
                        graph=graph, nodes=list(subgraph.nodes),
                        gate_open=gate_open(premise, hypothesis, verdict.label, gate_mask, verdict.decided))


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
        gate_open=torch.tensor([float(f.gate_open) for f in features]),
    )
    if labels is not None:
        batch["labels"] = torch.tensor([LABEL2ID[y] if isinstance(y, str) else int(y) for y in labels],
                                       dtype=torch.long)
    return batch


__all__ = ["GATE_MASK", "GATE_MASKS", "GRAPH_SIDES", "PROOF_FEATURES", "READING_FEATURES", "SYMBOLIC_FEATURES",
           "PairFeatures", "collate", "feature_spec", "featurize", "gate_open", "graph_sides", "reading", "reads_graph",
           "spec_features", "symbolic_features", "trained_reading"]

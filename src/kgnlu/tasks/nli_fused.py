"""NLI with the fused model: link, decide with the rules, build features, run cross-encoder + GNN + gate.

``FusedNLIPredictor.predict(premises, hypotheses)`` returns one ``kgnlu.types.InferResult`` per
pair (the result contract of DESIGN.md): the fused label and probabilities, the gate (the weight
given to the symbolic evidence), the neural probabilities, the symbolic verdict with its proofs,
and the linked entities.

Thread-safe: the model runs in eval mode under ``torch.inference_mode`` and nothing it reads
changes during a forward pass. Tokenising holds a lock (transformers' fast tokenizer, which an
unmerged model brings, raises "Already borrowed" under concurrent calls); the neighbour cache is
an ``lru_cache``, which is thread-safe.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from kgnlu.labels import LABELS
from kgnlu.tasks.nli_features import collate, featurize, graph_sides, spec_features, trained_reading
from kgnlu.tasks.subgraph import EDGE_TYPES, MAX_FANOUT, NeighbourCache
from kgnlu.tasks.nli import decide, entities, symbolic_result
from kgnlu.types import InferResult, InputError


class FusedNLIPredictor:
    """Answers NLI pairs with a trained ``FusedNLI`` model and the KG it was trained on.

    Args:
        model: a ``kgnlu.neural.fused.FusedNLI`` or the directory it was saved to.
        linker: a ``kgnlu.tasks.linking.Linker`` (anything with ``link_many``).
        rules: the KG's ``kgnlu.kg.rules.RuleEngine`` (its ``tables`` are used for subgraphs).
        node_vectors: IRIs -> label vectors, as in training (a ``tasks.subgraph.LabelVectors``).
        device: where the model runs when ``model`` is a directory.
        batch_size: pairs per forward pass.
        mode: ``fused``, ``neural``, ``symbolic`` or ``no-gnn`` (ablations; see ``kgnlu.neural.fused``).
        guard: the alignment guard on the rules' verdict (``kgnlu.tasks.nli.decide``); None: what the
            model was trained with (its feature spec's ``guard``; off for a model saved without one).
            The rules' ``logic`` is always the model's (``trained_reading``).
    """

    def __init__(self, model, linker, rules, node_vectors: Callable, *, device: str = "cpu", batch_size: int = 32,
                 mode: str = "fused", guard: bool | None = None):
        from kgnlu.neural.component import ModelFormatError
        from kgnlu.neural.fused import MODES, FusedNLI

        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if isinstance(model, (str, Path)):
            try:
                model = FusedNLI.load(model, device, merge=True)
            except ModelFormatError as e:
                raise InputError(str(e)) from None
        self.model = model.eval()
        self.linker, self.rules, self.tables = linker, rules, rules.tables
        self.node_vectors = node_vectors
        self.batch_size, self.mode, self.guard = batch_size, mode, guard
        spec = model.config.get("features") or {}
        self.spec = spec
        self._opts = {k: spec[k] for k in ("hops", "max_nodes", "max_fanout") if k in spec}
        self._opts["gate_mask"], trained_guard, self.logic = trained_reading(spec)
        self._opts["graph"] = graph_sides(spec)
        if self.guard is None:
            self.guard = trained_guard
        if spec.get("edge_types", list(EDGE_TYPES)) != list(EDGE_TYPES):
            raise ValueError("the model was trained on other edge types than this version of kgnlu builds")
        self._opts["names"] = spec_features(spec)
        name, trained = getattr(node_vectors, "name", None), spec.get("node_vectors", "unspecified")
        if name and trained != "unspecified" and name != trained:
            warnings.warn(f"node vectors {name!r} differ from the ones the model was trained on ({trained!r})",
                          stacklevel=2)
        self._neighbours = NeighbourCache(self.tables, self._opts.get("max_fanout", MAX_FANOUT))
        self._tokenizer_lock = threading.Lock()  # transformers' fast tokenizer is not re-entrant

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mode={self.mode!r}, use_gnn={self.model.use_gnn}, device={str(self.model.device)!r})"

    def predict(self, premises: Sequence[str], hypotheses: Sequence[str]) -> list[InferResult]:
        import torch

        from kgnlu.neural.fused import batch_to

        premises, hypotheses = list(premises), list(hypotheses)
        if len(premises) != len(hypotheses):
            raise InputError(f"{len(premises)} premises but {len(hypotheses)} hypotheses")
        if not premises:
            return []
        linked = self.linker.link_many(premises + hypotheses)
        p_ms, h_ms = linked[:len(premises)], linked[len(premises):]
        verdicts = [decide(self.rules, p, h, pm, hm, guard=self.guard, logic=self.logic)
                    for p, h, pm, hm in zip(premises, hypotheses, p_ms, h_ms)]
        feats = [featurize(pm, hm, v, self.tables, self.node_vectors, neighbours=self._neighbours, texts=(p, h),
                           **self._opts) for p, h, pm, hm, v in zip(premises, hypotheses, p_ms, h_ms, verdicts)]
        # Batches of similar length pad little: the encoder's cost is batch size x longest pair.
        order = sorted(range(len(feats)), key=lambda i: len(premises[i]) + len(hypotheses[i]))
        rows: list = [None] * len(feats)
        for i in range(0, len(order), self.batch_size):
            idx = order[i:i + self.batch_size]
            with self._tokenizer_lock:
                batch = collate([feats[j] for j in idx], self.model.tokenizer, [premises[j] for j in idx],
                                [hypotheses[j] for j in idx], max_length=self.model.config["max_length"],
                                node_dim=self.model.config["node_dim"])
            with torch.inference_mode():
                out = self.model(batch_to(batch, self.model.device), mode=self.mode)
            for j, row in zip(idx, zip(out["probs"].float().cpu().tolist(), out["p_neural"].float().cpu().tolist(),
                                       out["gate"].float().cpu().tolist())):
                rows[j] = row
        results = []
        for (probs, p_neural, gate), pm, hm, v in zip(rows, p_ms, h_ms, verdicts):
            best = max(range(len(LABELS)), key=lambda k: (probs[k], -k))
            results.append(InferResult(
                label=LABELS[best], probabilities=_named(probs), gate=round(float(gate), 6),
                neural={"probabilities": _named(p_neural)}, symbolic=symbolic_result(self.rules, v, pm, hm),
                entities=entities(pm, hm)))
        return results

    def predict_one(self, premise: str, hypothesis: str) -> InferResult:
        return self.predict([premise], [hypothesis])[0]


def _named(probs: Sequence[float]) -> dict[str, float]:
    return {name: round(float(p), 6) for name, p in zip(LABELS, probs)}


__all__ = ["FusedNLIPredictor"]

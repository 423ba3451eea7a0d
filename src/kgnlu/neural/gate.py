"""The learned gate between symbolic and neural evidence (style of PyKEEN's ``GatedCombination``)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from kgnlu.neural.component import Component


class EvidenceGate(Component):
    r"""Weighs the symbolic verdict against the neural prediction, per pair.

    .. math::
        g = m \cdot \sigma\big(\mathrm{MLP}([\mathbf{c};\ \mathbf{r};\ \mathbf{s}])\big),
        \qquad
        \mathbf{p} = g \, \mathbf{p}_{\mathrm{symbolic}} + (1 - g) \, \mathbf{p}_{\mathrm{neural}}

    where :math:`\mathbf{c}` is the cross-encoder's pooled vector, :math:`\mathbf{r}` the graph
    readout (empty without a GNN), :math:`\mathbf{s}` the symbolic features of
    ``kgnlu.tasks.nli_features`` and :math:`m \in \{0, 1\}` is the mask of
    ``kgnlu.tasks.nli_features.gate_open`` (whether either text links any KG concept and, on an
    unknown verdict, both do). The mask makes the rule "no linked concept, no weight on the (empty) symbolic
    evidence" structural: then :math:`g = 0` whatever the MLP says. :math:`\mathbf{p}` is a
    convex combination of two distributions, so it is one too. The MLP is
    ``Linear(in, hidden) - ReLU - Dropout - Linear(hidden, 1)``.

    With ``decided_dim`` > 0, a pair whose rules *decided* (entailment or contradiction) is weighed
    by a second head that reads the first ``decided_dim`` symbolic features, the verdict and its
    proof (``kgnlu.tasks.nli_features.PROOF_FEATURES``): :math:`g = m \cdot \sigma(\mathbf{w}^\top
    \mathbf{s}_{:k} + b)`, fitted after training on pairs the encoder never took a step on
    (``kgnlu.training.nli_gate``). The MLP tells generated text from real text by the pooled
    vector, and it learned on generated pairs that a proof is always right and on real training
    pairs (which the cross-encoder has learned) that it is never needed: it gave a proof weight 0.1
    on real text, where the rules are 96-99% precise. A head that sees neither the text nor how
    much of it linked (mention counts and confidences tell generated pairs apart too) weighs a
    proof by what the proof is, wherever the text comes from. Unknown verdicts keep the MLP:
    there, what "unknown" means does depend on the text (a generated pair's unknown is neutral by
    construction).

    With ``inputs="symbolic"`` the MLP reads :math:`\mathbf{s}` alone. The pooled vector lets the
    gate tell generated text from real text, and on its training pairs the cross-encoder is right
    wherever the rules are (it has learned those pairs), so a gate that reads it learns to shut on
    real text even where the rules decide and the cross-encoder errs on unseen pairs. Without it,
    what the gate learns on generated pairs carries to real ones, for better (Citation-Integrity)
    and worse (the generated pairs): measured, not shipped (bench/results/nli.md).

    Args:
        in_dim: size of the MLP's input: :math:`[\mathbf{c}; \mathbf{r}; \mathbf{s}]`, or
            :math:`\mathbf{s}` with ``inputs="symbolic"``.
        hidden: hidden size of the MLP.
        dropout: dropout inside the MLP.
        inputs: ``"all"`` (the models saved before the choice existed) or ``"symbolic"``.
        decided_dim: how many leading symbolic features the decided-verdict head reads (0: no such
            head, the MLP weighs every pair, as in models saved before it existed).

    Shapes:
        - **input:** pooled :math:`(B, D_c)`, readout :math:`(B, D_r)` (:math:`D_r` may be 0),
          symbolic features :math:`(B, D_s)`, mask :math:`(B)`, :math:`\mathbf{p}_{\mathrm{symbolic}}`
          and :math:`\mathbf{p}_{\mathrm{neural}}` :math:`(B, C)`, and ``decided`` :math:`(B)` (bool;
          read only with a decided-verdict head)
        - **output:** :math:`\mathbf{p}` :math:`(B, C)`, :math:`g` :math:`(B)` and the unmasked
          gate :math:`(B)` (what the training penalty for masked pairs looks at)
    """

    config_keys = ("in_dim", "hidden", "dropout", "inputs", "decided_dim")
    INPUTS = ("all", "symbolic")

    def __init__(self, in_dim: int, hidden: int = 64, dropout: float = 0.1, inputs: str = "all",
                 decided_dim: int = 0):
        super().__init__()
        if inputs not in self.INPUTS:
            raise ValueError(f"gate inputs must be one of {self.INPUTS}, not {inputs!r}")
        self.in_dim, self.hidden, self.dropout, self.inputs = in_dim, hidden, dropout, inputs
        self.decided_dim = decided_dim
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1))
        self.decided = nn.Linear(decided_dim, 1) if decided_dim else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.mlp[0].reset_parameters()
        self.mlp[3].reset_parameters()
        nn.init.zeros_(self.mlp[3].bias)  # g starts near 1/2 where something links
        if self.decided is not None:
            self.reset_decided()

    def reset_decided(self) -> None:
        """The decided-verdict head at g = 1/2 for every pair: what it knows, it learns from the fit."""
        nn.init.zeros_(self.decided.weight)
        nn.init.zeros_(self.decided.bias)

    def add_decided_head(self, features: int) -> None:
        """Give this gate a (fresh) decided-verdict head reading the first ``features`` symbolic features."""
        self.decided_dim = features
        self.decided = nn.Linear(features, 1).to(self.mlp[0].weight.device)
        self.reset_decided()

    def forward(self, pooled: Tensor, graph: Tensor, symbolic: Tensor, mask: Tensor, p_symbolic: Tensor,
                p_neural: Tensor, decided: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        x = symbolic if self.inputs == "symbolic" else torch.cat([pooled, graph, symbolic], dim=-1)
        raw = torch.sigmoid(self.mlp(x)).squeeze(-1)
        if self.decided is not None:
            if decided is None:
                raise ValueError("this gate weighs decided verdicts by their own head: pass `decided`")
            proof = torch.sigmoid(self.decided(symbolic[..., :self.decided_dim])).squeeze(-1)
            raw = torch.where(decided.bool(), proof, raw)
        g = raw * mask.to(raw.dtype)
        p = g.unsqueeze(-1) * p_symbolic + (1 - g).unsqueeze(-1) * p_neural
        return p, g, raw

    def __repr__(self) -> str:
        decided = f", decided_dim={self.decided_dim}" if self.decided_dim else ""
        return f"{self.__class__.__name__}(in_dim={self.in_dim}, hidden={self.hidden}, inputs={self.inputs!r}{decided})"


__all__ = ["EvidenceGate"]

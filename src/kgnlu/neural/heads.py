"""Output heads of the fused NLI model: the text head, the graph head and the symbolic head."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from kgnlu.labels import LABEL2ID, VERDICT_TO_LABEL, VERDICTS
from kgnlu.neural.component import Component


class SymbolicHead(nn.Module):
    r"""Reads the rule layer's verdict as a distribution over labels.

    .. math::
        \mathbf{p}_{\mathrm{symbolic}} = \mathrm{softmax}\big(\mathbf{W} \, \mathrm{onehot}(v) / T\big),
        \qquad T = e^{\tau}

    :math:`\mathbf{W}` (labels x verdicts) starts at ``strength`` on the label each verdict
    names (entailment, contradiction, unknown read as neutral) and zero elsewhere; training
    learns how far to trust each verdict and the temperature softens it.

    Shapes:
        - **input:** verdict indices :math:`(B)` in the order of ``kgnlu.labels.VERDICTS``
        - **output:** logits :math:`(B, C)`, already divided by :math:`T`
    """

    def __init__(self, num_labels: int = 3, num_verdicts: int = 3, strength: float = 2.0):
        super().__init__()
        self.num_labels, self.num_verdicts, self.strength = num_labels, num_verdicts, strength
        self.weight = nn.Parameter(torch.empty(num_labels, num_verdicts))
        self.log_temperature = nn.Parameter(torch.zeros(()))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.weight.zero_()
            for v, name in enumerate(VERDICTS[: self.num_verdicts]):
                self.weight[LABEL2ID[VERDICT_TO_LABEL[name]], v] = self.strength
            self.log_temperature.zero_()

    def forward(self, verdict: Tensor) -> Tensor:
        return self.weight.t()[verdict] / self.log_temperature.exp()

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(labels={self.num_labels}, verdicts={self.num_verdicts})"


class NLIHeads(Component):
    r"""The neural logits and the symbolic distribution.

    .. math::
        \mathbf{z}_{\mathrm{neural}} = \mathbf{W}_t \, \mathrm{Dropout}(\mathbf{c}) + \mathbf{b}_t
        + \mathbf{W}_g \, \mathbf{r}

    The graph term (absent without a GNN) starts at zero, so training begins from the text head
    alone and the GNN's opinion enters as a correction of it.

    Shapes:
        - **input:** pooled :math:`(B, D_c)`, readout :math:`(B, D_r)`, verdicts :math:`(B)`
        - **output:** text logits :math:`(B, C)` (the cross-encoder alone), neural logits
          :math:`(B, C)` (text plus graph term), symbolic logits :math:`(B, C)`
    """

    config_keys = ("text_dim", "graph_dim", "num_labels", "dropout", "symbolic_strength")

    def __init__(self, text_dim: int = 384, graph_dim: int = 0, num_labels: int = 3, dropout: float = 0.1,
                 symbolic_strength: float = 2.0):
        super().__init__()
        self.text_dim, self.graph_dim, self.num_labels = text_dim, graph_dim, num_labels
        self.dropout, self.symbolic_strength = dropout, symbolic_strength
        self.drop = nn.Dropout(dropout)
        self.text = nn.Linear(text_dim, num_labels)
        self.graph = nn.Linear(graph_dim, num_labels, bias=False) if graph_dim else None
        self.symbolic = SymbolicHead(num_labels, len(VERDICTS), symbolic_strength)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.text.reset_parameters()
        if self.graph is not None:
            nn.init.zeros_(self.graph.weight)
        self.symbolic.reset_parameters()

    def forward(self, pooled: Tensor, graph: Tensor | None, verdict: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        text = self.text(self.drop(pooled))
        neural = text + self.graph(graph) if self.graph is not None and graph is not None else text
        return text, neural, self.symbolic(verdict)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(text_dim={self.text_dim}, graph_dim={self.graph_dim}, labels={self.num_labels})"


__all__ = ["NLIHeads", "SymbolicHead"]

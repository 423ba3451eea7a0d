"""Readout of a pair's subgraph: the premise's concepts against the hypothesis's."""

from __future__ import annotations

import torch
from torch import Tensor, nn

PREMISE, HYPOTHESIS, OTHER = 0, 1, 2  # the columns of the role flags


class PairReadout(nn.Module):
    r"""Mean-pools the premise concepts and the hypothesis concepts of each graph apart, then
    matches them as in InferSent:

    .. math::
        \mathbf{p}_g = \frac{\sum_{i \in g} \rho_{i,P} \, \mathbf{h}_i}{\max(1, \sum_{i \in g} \rho_{i,P})},
        \qquad
        \mathbf{q}_g = \frac{\sum_{i \in g} \rho_{i,H} \, \mathbf{h}_i}{\max(1, \sum_{i \in g} \rho_{i,H})},
        \qquad
        \mathbf{r}_g = [\mathbf{p}_g;\ \mathbf{q}_g;\ \mathbf{p}_g \odot \mathbf{q}_g;\ |\mathbf{p}_g - \mathbf{q}_g|]

    where :math:`\rho_{i,P}` and :math:`\rho_{i,H}` are node :math:`i`'s role flags (a concept
    both texts name is in both means). A graph without premise (or hypothesis) concepts pools to
    zeros on that side; a graph without nodes reads out as zeros.

    Args:
        channels: size of each node vector.

    Shapes:
        - **input:** node vectors :math:`(|\mathcal{V}|, F)`, role flags :math:`(|\mathcal{V}|, 3)`
          (premise, hypothesis, other), graph index :math:`(|\mathcal{V}|)` with values in
          ``[0, B)``, and the number of graphs :math:`B`
        - **output:** :math:`(B, 4F)`
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.out_channels = 4 * channels

    def reset_parameters(self) -> None:
        pass  # no parameters

    def forward(self, h: Tensor, role: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        p = self._pool(h, role[:, PREMISE], batch, num_graphs)
        q = self._pool(h, role[:, HYPOTHESIS], batch, num_graphs)
        return torch.cat([p, q, p * q, (p - q).abs()], dim=-1)

    @staticmethod
    def _pool(h: Tensor, weight: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        w = weight.to(h.dtype)
        total = h.new_zeros(num_graphs, h.size(-1)).index_add(0, batch, h * w.unsqueeze(-1))
        count = h.new_zeros(num_graphs).index_add(0, batch, w)
        return total / count.clamp(min=1.0).unsqueeze(-1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels}, out={self.out_channels})"


__all__ = ["PairReadout", "PREMISE", "HYPOTHESIS", "OTHER"]

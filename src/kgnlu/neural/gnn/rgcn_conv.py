"""The relational graph convolution of Schlichtkrull et al. (2018), in plain torch."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class RGCNConv(nn.Module):
    r"""The relational graph convolutional operator from `"Modeling Relational Data with Graph
    Convolutional Networks" <https://arxiv.org/abs/1703.06103>`_

    .. math::
        \mathbf{x}^{\prime}_i = \mathbf{\Theta}_{\textrm{root}} \cdot \mathbf{x}_i +
        \sum_{r \in \mathcal{R}} \sum_{j \in \mathcal{N}_r(i)}
        \frac{1}{|\mathcal{N}_r(i)|} \mathbf{\Theta}_r \cdot \mathbf{x}_j + \mathbf{b}

    where :math:`\mathcal{R}` is the set of relations (edge types) and :math:`\mathcal{N}_r(i)`
    the sources of the edges of type :math:`r` that end in node :math:`i`. With basis
    decomposition (``num_bases``), :math:`\mathbf{\Theta}_r = \sum_{b=1}^{B} a_{rb} \mathbf{V}_b`,
    so that rare relations share parameters with frequent ones.

    It computes what ``torch_geometric.nn.RGCNConv(aggr="mean")`` computes, with the same
    parameter names and shapes (``weight``, ``comp``, ``root``, ``bias``), without torch-scatter:
    each relation's transform is applied once per node and messages are summed with
    ``index_add_``. The test suite checks the two against each other.

    Args:
        in_channels: size of each input node vector.
        out_channels: size of each output node vector.
        num_relations: number of edge types.
        num_bases: number of basis matrices (``None``: one full matrix per relation).
        bias: whether to add a learned bias.

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})`, edge indices
          :math:`(2, |\mathcal{E}|)` as (source, target), edge types :math:`(|\mathcal{E}|)`
          with values in ``[0, num_relations)``
        - **output:** node features :math:`(|\mathcal{V}|, F_{out})`
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int, num_bases: int | None = None,
                 bias: bool = True):
        super().__init__()
        if num_bases is not None and not 0 < num_bases:
            raise ValueError(f"num_bases must be positive, got {num_bases}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_relations = num_relations
        self.num_bases = num_bases
        if num_bases is not None:
            self.weight = nn.Parameter(torch.empty(num_bases, in_channels, out_channels))
            self.comp = nn.Parameter(torch.empty(num_relations, num_bases))
        else:
            self.weight = nn.Parameter(torch.empty(num_relations, in_channels, out_channels))
            self.register_parameter("comp", None)
        self.root = nn.Parameter(torch.empty(in_channels, out_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Glorot-uniform weights, zero bias: PyG's initialisation for RGCNConv.
        for p in (self.weight, self.comp, self.root):
            if p is not None:
                a = math.sqrt(6.0 / (p.size(-2) + p.size(-1)))
                nn.init.uniform_(p, -a, a)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def relation_weights(self) -> Tensor:
        """:math:`\\Theta_r` for every relation, ``(num_relations, in_channels, out_channels)``."""
        if self.comp is None:
            return self.weight
        return (self.comp @ self.weight.view(self.num_bases, -1)).view(
            self.num_relations, self.in_channels, self.out_channels)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        n, r = x.size(0), self.num_relations
        out = x @ self.root
        if edge_index.numel():
            src, dst = edge_index[0], edge_index[1]
            per_relation = torch.einsum("ni,rio->rno", x, self.relation_weights())  # (R, N, out)
            messages = per_relation[edge_type, src]  # (E, out)
            slot = dst * r + edge_type  # one mean per (target, relation)
            count = torch.zeros(n * r, dtype=x.dtype, device=x.device).index_add_(
                0, slot, torch.ones_like(slot, dtype=x.dtype))
            messages = messages / count[slot].unsqueeze(-1)
            out = out.index_add(0, dst, messages)
        if self.bias is not None:
            out = out + self.bias
        return out

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
                f"num_relations={self.num_relations}, num_bases={self.num_bases})")


__all__ = ["RGCNConv"]

"""The GNN over a pair's KG subgraph: R-GCN layers and a premise/hypothesis readout."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from kgnlu.neural.component import Component
from kgnlu.neural.gnn.readout import PairReadout
from kgnlu.neural.gnn.rgcn_conv import RGCNConv


class RGCNEncoder(Component):
    r"""Encodes batched subgraphs into one vector per graph.

    .. math::
        \mathbf{h}^{(0)}_i = \mathrm{ReLU}(\mathbf{W}_{in} [\mathbf{x}_i; \boldsymbol{\rho}_i] + \mathbf{b}_{in}),
        \qquad
        \mathbf{h}^{(l+1)} = \mathbf{h}^{(l)} + \mathrm{Dropout}(\mathrm{ReLU}(\mathrm{RGCNConv}_l(\mathbf{h}^{(l)})))

    then :class:`PairReadout` of :math:`\mathbf{h}^{(L)}`. :math:`\mathbf{x}_i` is the frozen
    label embedding of concept :math:`i` and :math:`\boldsymbol{\rho}_i` its role flags
    (premise concept, hypothesis concept, other). The residual keeps a concept's own identity
    next to what its neighbours say about it.

    Args:
        node_dim: size of the label embeddings (384 for MiniLM).
        hidden: size of the node states.
        num_relations: number of edge types (``len(kgnlu.tasks.subgraph.EDGE_TYPES)``).
        num_layers: R-GCN layers (one layer sees one hop).
        num_bases: basis matrices per layer (``None``: a full matrix per relation).
        dropout: dropout after each layer.

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, \text{node\_dim})`, role flags
          :math:`(|\mathcal{V}|, 3)`, edge indices :math:`(2, |\mathcal{E}|)`, edge types
          :math:`(|\mathcal{E}|)`, graph index :math:`(|\mathcal{V}|)`, number of graphs :math:`B`
        - **output:** :math:`(B, 4 \cdot \text{hidden})`
    """

    config_keys = ("node_dim", "hidden", "num_relations", "num_layers", "num_bases", "dropout")

    def __init__(self, node_dim: int = 384, hidden: int = 128, num_relations: int = 7, num_layers: int = 2,
                 num_bases: int | None = 4, dropout: float = 0.1):
        super().__init__()
        self.node_dim, self.hidden, self.num_relations = node_dim, hidden, num_relations
        self.num_layers, self.num_bases, self.dropout = num_layers, num_bases, dropout
        self.lin_in = nn.Linear(node_dim + 3, hidden)
        self.convs = nn.ModuleList(RGCNConv(hidden, hidden, num_relations, num_bases) for _ in range(num_layers))
        self.drop = nn.Dropout(dropout)
        self.readout = PairReadout(hidden)
        self.out_channels = self.readout.out_channels

    def reset_parameters(self) -> None:
        self.lin_in.reset_parameters()
        for conv in self.convs:
            conv.reset_parameters()

    def forward(self, x: Tensor, role: Tensor, edge_index: Tensor, edge_type: Tensor, batch: Tensor,
                num_graphs: int) -> Tensor:
        h = torch.relu(self.lin_in(torch.cat([x, role.to(x.dtype)], dim=-1)))
        for conv in self.convs:
            h = h + self.drop(torch.relu(conv(h, edge_index, edge_type)))
        return self.readout(h, role, batch, num_graphs)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.node_dim}, {self.hidden}, num_relations={self.num_relations}, "
                f"num_layers={self.num_layers}, num_bases={self.num_bases})")


__all__ = ["RGCNEncoder"]

"""GNN layers: RGCNConv (against PyG's), PairReadout and RGCNEncoder: shapes, reprs, save/load."""

from __future__ import annotations

import pytest
import torch

from kgnlu.neural.gnn.readout import PairReadout
from kgnlu.neural.gnn.rgcn_conv import RGCNConv
from kgnlu.neural.gnn.rgcn_encoder import RGCNEncoder


def _graph(n: int = 6, e: int = 14, r: int = 7, f: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, f, generator=g)
    edge_index = torch.randint(0, n, (2, e), generator=g)
    edge_type = torch.randint(0, r, (e,), generator=g)
    return x, edge_index, edge_type


@pytest.mark.parametrize("num_bases", [None, 3])
def test_rgcn_conv_shapes_and_repr(num_bases):
    conv = RGCNConv(16, 8, num_relations=7, num_bases=num_bases)
    x, ei, et = _graph()
    assert conv(x, ei, et).shape == (6, 8)
    assert repr(conv) == f"RGCNConv(16, 8, num_relations=7, num_bases={num_bases})"
    assert conv.relation_weights().shape == (7, 16, 8)
    assert conv(x[:0], ei[:, :0], et[:0]).shape == (0, 8)


def test_rgcn_conv_matches_torch_geometric():
    pyg = pytest.importorskip("torch_geometric.nn")
    torch.manual_seed(0)
    ours = RGCNConv(16, 8, num_relations=7, num_bases=3)
    theirs = pyg.RGCNConv(16, 8, num_relations=7, num_bases=3, aggr="mean")
    theirs.load_state_dict(ours.state_dict())  # same parameter names and shapes
    x, ei, et = _graph(n=9, e=40)
    torch.testing.assert_close(ours(x, ei, et), theirs(x, ei, et), rtol=1e-5, atol=1e-5)


def test_rgcn_conv_mean_per_relation_by_hand():
    """x'_i = root x_i + sum_r mean_{j in N_r(i)} W_r x_j + b."""
    conv = RGCNConv(2, 2, num_relations=2)
    with torch.no_grad():
        conv.weight.copy_(torch.stack([torch.eye(2), 2 * torch.eye(2)]))
        conv.root.zero_()
        conv.bias.fill_(1.0)
    x = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 5.0]])
    ei = torch.tensor([[0, 1, 2], [2, 2, 0]])  # 0->2 and 1->2 by relation 0, 2->0 by relation 1
    et = torch.tensor([0, 0, 1])
    out = conv(x, ei, et)
    torch.testing.assert_close(out[2], torch.tensor([2.0 + 1, 0.0 + 1]))  # mean(x0, x1) + b
    torch.testing.assert_close(out[0], torch.tensor([0.0 + 1, 10.0 + 1]))  # 2 * x2 + b
    torch.testing.assert_close(out[1], torch.tensor([1.0, 1.0]))  # no incoming edge: b only


def test_rgcn_conv_reset_parameters():
    conv = RGCNConv(4, 4, num_relations=3, num_bases=2)
    with torch.no_grad():
        for p in conv.parameters():
            p.fill_(7.0)
    conv.reset_parameters()
    assert (conv.bias == 0).all() and (conv.root.abs() < 7).all() and (conv.comp.abs() < 7).all()


def test_pair_readout():
    readout = PairReadout(2)
    h = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    role = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [1.0, 1.0, 0], [0, 0, 1.0]])  # node 2 is on both sides
    batch = torch.tensor([0, 0, 0, 1])
    out = readout(h, role, batch, num_graphs=3)
    assert out.shape == (3, 8)
    p, q = torch.tensor([3.0, 4.0]), torch.tensor([4.0, 5.0])
    torch.testing.assert_close(out[0], torch.cat([p, q, p * q, (p - q).abs()]))
    assert (out[1] == 0).all()  # only an "other" node: nothing to pool
    assert (out[2] == 0).all()  # no node at all
    assert repr(readout) == "PairReadout(2, out=8)"


def test_rgcn_encoder_shapes_repr_and_round_trip(tmp_path):
    torch.manual_seed(0)
    enc = RGCNEncoder(node_dim=16, hidden=8, num_relations=7, num_layers=2, num_bases=4).eval()
    assert repr(enc) == "RGCNEncoder(16, 8, num_relations=7, num_layers=2, num_bases=4)"
    x, ei, et = _graph(n=6)
    role = torch.zeros(6, 3)
    role[0, 0] = role[1, 1] = 1
    role[2:, 2] = 1
    batch = torch.tensor([0, 0, 0, 1, 1, 1])
    out = enc(x, role, ei.clamp(max=2), et, batch, 2)  # edges within graph 0
    assert out.shape == (2, enc.out_channels) == (2, 32)
    enc.save(tmp_path / "gnn")
    again = RGCNEncoder.load(tmp_path / "gnn").eval()
    assert again.get_config() == enc.get_config()
    assert torch.equal(again(x, role, ei.clamp(max=2), et, batch, 2), out)


def test_rgcn_encoder_reads_the_kg_edges():
    """A premise node's readout changes with its neighbour's features only when an edge joins them."""
    torch.manual_seed(0)
    enc = RGCNEncoder(node_dim=4, hidden=8, num_relations=2, num_layers=1, dropout=0.0).eval()
    x = torch.randn(2, 4)
    role = torch.tensor([[1.0, 0, 0], [0, 0, 1.0]])
    batch = torch.zeros(2, dtype=torch.long)
    x2 = x.clone()
    x2[1] += 1.0
    with_edge = torch.tensor([[1], [0]]), torch.tensor([0])
    no_edge = torch.zeros(2, 0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    assert not torch.equal(enc(x, role, *with_edge, batch, 1), enc(x2, role, *with_edge, batch, 1))
    assert torch.equal(enc(x, role, *no_edge, batch, 1), enc(x2, role, *no_edge, batch, 1))

"""EvidenceGate, the symbolic head and the training loss (no text encoder needed)."""

from __future__ import annotations

import json

import pytest
import torch

from kgnlu.labels import LABEL2ID, VERDICTS
from kgnlu.neural.fused import fused_loss
from kgnlu.neural.gate import EvidenceGate
from kgnlu.neural.heads import NLIHeads, SymbolicHead


def _inputs(b: int = 5, seed: int = 0, linked=None):
    g = torch.Generator().manual_seed(seed)
    pooled, graph, sym = torch.randn(b, 8, generator=g), torch.randn(b, 4, generator=g), torch.rand(b, 3, generator=g)
    mask = torch.ones(b) if linked is None else torch.tensor(linked, dtype=torch.float)
    p_sym = torch.randn(b, 3, generator=g).softmax(-1)
    p_neu = torch.randn(b, 3, generator=g).softmax(-1)
    return pooled, graph, sym, mask, p_sym, p_neu


def test_gate_formula():
    """g = m * sigmoid(MLP[c; r; s]) and p = g * p_symbolic + (1 - g) * p_neural."""
    gate = EvidenceGate(8 + 4 + 3, hidden=16).eval()
    pooled, graph, sym, mask, p_sym, p_neu = _inputs(linked=[1, 1, 0, 1, 0])
    p, g, raw = gate(pooled, graph, sym, mask, p_sym, p_neu)
    expected_raw = torch.sigmoid(gate.mlp(torch.cat([pooled, graph, sym], -1))).squeeze(-1)
    torch.testing.assert_close(raw, expected_raw)
    torch.testing.assert_close(g, expected_raw * mask)
    torch.testing.assert_close(p, g[:, None] * p_sym + (1 - g[:, None]) * p_neu)
    torch.testing.assert_close(p.sum(-1), torch.ones(5))
    assert p.shape == (5, 3) and g.shape == raw.shape == (5,)
    assert ((g >= 0) & (g <= 1)).all()


def test_nothing_linked_gate_is_below_0_2_whatever_the_mlp_says():
    gate = EvidenceGate(15, hidden=16).eval()
    with torch.no_grad():
        gate.mlp[3].bias.fill_(20.0)  # the MLP wants all weight on the symbolic side
    pooled, graph, sym, _, p_sym, p_neu = _inputs()
    p, g, raw = gate(pooled, graph, sym, torch.zeros(5), p_sym, p_neu)
    assert (raw > 0.99).all()
    assert (g < 0.2).all() and (g == 0).all()
    torch.testing.assert_close(p, p_neu)  # nothing linked: the neural prediction alone


def test_gate_without_graph_readout_and_repr():
    gate = EvidenceGate(8 + 3, hidden=4).eval()
    pooled, _, sym, mask, p_sym, p_neu = _inputs()
    p, g, _ = gate(pooled, torch.zeros(5, 0), sym, mask, p_sym, p_neu)
    assert p.shape == (5, 3)
    assert repr(gate) == "EvidenceGate(in_dim=11, hidden=4, inputs='all')"
    assert gate.get_config() == {"in_dim": 11, "hidden": 4, "dropout": 0.1, "inputs": "all", "decided_dim": 0}


def test_a_symbolic_gate_reads_the_symbolic_features_alone(tmp_path):
    """With inputs="symbolic" the text and graph vectors do not move the gate; a gate saved before
    the option existed (no "inputs" in its config) loads as one that reads them all."""
    gate = EvidenceGate(3, hidden=8, inputs="symbolic").eval()
    pooled, graph, sym, mask, p_sym, p_neu = _inputs()
    _, g, raw = gate(pooled, graph, sym, mask, p_sym, p_neu)
    _, g2, _ = gate(torch.randn_like(pooled), torch.randn_like(graph), sym, mask, p_sym, p_neu)
    torch.testing.assert_close(g, g2)
    torch.testing.assert_close(raw, torch.sigmoid(gate.mlp(sym)).squeeze(-1))
    _, g3, _ = gate(pooled, graph, torch.rand(5, 3), mask, p_sym, p_neu)
    assert not torch.equal(g, g3)
    with pytest.raises(ValueError, match="gate inputs"):
        EvidenceGate(3, inputs="text")
    legacy = EvidenceGate(8 + 4 + 3, hidden=4)
    legacy.save(tmp_path / "gate")
    config = tmp_path / "gate" / "config.json"
    saved = json.loads(config.read_text())
    del saved["inputs"]
    config.write_text(json.dumps(saved))
    assert EvidenceGate.load(tmp_path / "gate").inputs == "all"


def test_gate_save_load(tmp_path):
    gate = EvidenceGate(15, hidden=16).eval()
    gate.save(tmp_path / "gate")
    assert sorted(p.name for p in (tmp_path / "gate").iterdir()) == ["config.json", "model.safetensors"]
    again = EvidenceGate.load(tmp_path / "gate").eval()
    args = _inputs(linked=[1, 0, 1, 1, 0])
    for a, b in zip(gate(*args), again(*args)):
        assert torch.equal(a, b)


def test_symbolic_head_starts_at_the_verdicts_label_and_temperature_softens():
    """p_symbolic = softmax(W onehot(v) / T); W starts on entailment->entailment, unknown->neutral,
    contradiction->contradiction."""
    head = SymbolicHead()
    verdicts = torch.arange(len(VERDICTS))
    p = head(verdicts).softmax(-1)
    want = [LABEL2ID["entailment"], LABEL2ID["contradiction"], LABEL2ID["neutral"]]
    assert p.argmax(-1).tolist() == want
    assert (p.max(-1).values < 0.95).all()  # a strong prior, not a certainty
    with torch.no_grad():
        head.log_temperature.fill_(torch.log(torch.tensor(4.0)))
    softer = head(verdicts).softmax(-1)
    assert (softer.max(-1).values < p.max(-1).values).all()
    assert softer.argmax(-1).tolist() == want
    assert repr(head) == "SymbolicHead(labels=3, verdicts=3)"


def test_heads_graph_term_starts_at_zero():
    heads = NLIHeads(text_dim=8, graph_dim=4).eval()
    pooled, graph = torch.randn(2, 8), torch.randn(2, 4)
    text, neural, sym = heads(pooled, graph, torch.tensor([0, 2]))
    assert torch.equal(text, neural)  # before training, the GNN's correction is zero
    assert sym.shape == (2, 3)
    assert "graph_dim=4" in repr(heads)


def _out(raw, probs=None):
    b = raw.numel()
    logits = torch.zeros(b, 3)
    probs = torch.full((b, 3), 1 / 3) if probs is None else probs
    return {"probs": probs, "logits_neural": logits, "logits_text": logits.clone(), "gate_raw": raw}


def test_loss_penalises_an_open_gate_only_where_nothing_links():
    labels = torch.tensor([0, 1])
    raw = torch.tensor([0.9, 0.9])
    _, linked = fused_loss(_out(raw), labels, torch.tensor([1.0, 1.0]))
    assert linked["gate_penalty"] == 0.0
    _, unlinked = fused_loss(_out(raw), labels, torch.tensor([0.0, 0.0]))
    assert unlinked["gate_penalty"] == pytest.approx((0.9 - 0.1) ** 2, rel=1e-5)
    _, closed = fused_loss(_out(torch.tensor([0.05, 0.0])), labels, torch.tensor([0.0, 0.0]))
    assert closed["gate_penalty"] == 0.0


def test_loss_terms():
    labels = torch.tensor([2])
    loss, parts = fused_loss(_out(torch.tensor([0.5])), labels, torch.tensor([1.0]), aux_weight=0.5, text_weight=0.5)
    third = float(torch.log(torch.tensor(3.0)))
    assert parts["nll"] == pytest.approx(third, rel=1e-5) and parts["aux"] == pytest.approx(third, rel=1e-5)
    assert float(loss) == pytest.approx(2 * third, rel=1e-5)


def test_a_decided_verdict_head_weighs_proved_pairs_by_the_symbolic_features_alone(tmp_path):
    """With a decided-verdict head, a pair the rules decided gets g = m * sigmoid(w.s + b) whatever
    its text and graph vectors; an undecided pair keeps the MLP's weight; the head saves and loads,
    and a gate saved before the head existed loads without one."""
    gate = EvidenceGate(8 + 4 + 3, hidden=16).eval()
    pooled, graph, sym, _, p_sym, p_neu = _inputs(linked=[1, 1, 1, 1, 0])
    mask = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0])
    decided = torch.tensor([True, False, True, False, True])
    _, g_mlp, _ = gate(pooled, graph, sym, mask, p_sym, p_neu)
    gate.add_decided_head(3)
    with torch.no_grad():
        gate.decided.weight.copy_(torch.tensor([[2.0, -1.0, 0.5]]))
        gate.decided.bias.fill_(0.3)
    p, g, raw = gate(pooled, graph, sym, mask, p_sym, p_neu, decided)
    head = torch.sigmoid(sym @ torch.tensor([2.0, -1.0, 0.5]) + 0.3)
    torch.testing.assert_close(g, torch.where(decided, head * mask, g_mlp))
    torch.testing.assert_close(g[[1, 3]], g_mlp[[1, 3]])
    assert g[4] == 0  # the mask still closes it
    torch.testing.assert_close(p, g[:, None] * p_sym + (1 - g[:, None]) * p_neu)
    _, g2, _ = gate(torch.randn_like(pooled), torch.randn_like(graph), sym, mask, p_sym, p_neu, decided)
    torch.testing.assert_close(g2[decided], g[decided])
    assert not torch.allclose(g2[~decided & (mask > 0)], g[~decided & (mask > 0)])
    with pytest.raises(ValueError, match="pass `decided`"):
        gate(pooled, graph, sym, mask, p_sym, p_neu)
    assert repr(gate) == "EvidenceGate(in_dim=15, hidden=16, inputs='all', decided_dim=3)"
    gate.save(tmp_path / "gate")
    loaded = EvidenceGate.load(tmp_path / "gate").eval()
    torch.testing.assert_close(loaded(pooled, graph, sym, mask, p_sym, p_neu, decided)[1], g)
    legacy = json.loads((tmp_path / "gate" / "config.json").read_text())
    del legacy["decided_dim"]
    plain = EvidenceGate(**legacy)
    assert plain.decided is None and plain.decided_dim == 0


def test_the_decided_verdict_head_reads_only_the_leading_proof_features():
    """decided_dim = k: the head reads s[:, :k] (the verdict and its proof); the features after
    them (how much linked, how confidently) move only the MLP's weight on undecided pairs."""
    gate = EvidenceGate(8 + 4 + 3, hidden=16).eval()
    gate.add_decided_head(2)
    with torch.no_grad():
        gate.decided.weight.fill_(1.0)
    pooled, graph, sym, mask, p_sym, p_neu = _inputs()
    decided = torch.tensor([True, True, True, False, False])
    _, g, _ = gate(pooled, graph, sym, mask, p_sym, p_neu, decided)
    other = sym.clone()
    other[:, 2] = 1.0 - other[:, 2]
    _, g2, _ = gate(pooled, graph, other, mask, p_sym, p_neu, decided)
    torch.testing.assert_close(g2[decided], g[decided])
    torch.testing.assert_close(g[decided], torch.sigmoid(sym[decided, :2].sum(-1)))
    assert not torch.allclose(g2[~decided], g[~decided])

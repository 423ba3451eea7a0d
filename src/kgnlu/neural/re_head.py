r"""The relation-extraction model: an entity-marker cross-encoder fused with KG evidence by a gate.

Data flow for one batch of candidate pairs (tensors from ``kgnlu.tasks.re_features.collate``)::

    ... [E] subject [/E] ... [E] object [/E] ...      --MiniLM+LoRA--> h[E_s], h[E_o] = c --> text head --> z_text
    subgraph around (subject, object)                 --RGCNEncoder--> readout r --> graph head (+)
    KG evidence features s (standing per relation, polarity, link scores, ...) --> feature head (+) --> z_neural
                                                                             \-> KG head --> z_kg
    label mask (OWL domain/range): z[~mask] = -inf
    [c; r; s] --EvidenceGate--> g;   p = g softmax(z_kg) + (1 - g) softmax(z_neural)
    [c; NegEx flags; s] --> negation head --> P(the text denies the relation)

The KG evidence enters twice: as features the neural path reads next to the text (a known
triple makes a vague co-mention likelier to be a statement; a clash with the KG makes a NegEx
reading likelier to be a scope error), and as the KG head's own distribution, which the gate
weighs against the neural one. ``z_text`` alone is the cross-encoder without any KG evidence.
Training (``kgnlu.training.re_train``) fits the KG head alone first (``fit_kg_head``), then
trains everything end to end with some neural opinions dropped from the gate's mixture
(``_dropped_opinions``), so that the gate learns where the KG head is right.

**Marking** (``config["marking"]``). With ``sentence`` (the default), a sentence is encoded once
with every mention between ``[E]`` and ``[/E]``, and each of its candidate pairs is read off at
its two mentions' opening markers: the pair vector is the subject's marker state, then the
object's ("entity start" pooling, Baldini Soares et al. 2019; one pass for all pairs, as in
PURE's approximation, Zhong and Chen 2021). Which mention is the subject is told by the order of
the two halves. With ``pair`` (models saved before "marking" existed), each pair has its own
text with ``[E1] subject [/E1]`` and ``[E2] object [/E2]``: about three encoder passes a
sentence instead of one, for pair-specific attention.

The markers are BERT's unused vocabulary entries ``[unused0]``..``[unused3]`` (no new rows in the
embedding matrix, so the LoRA adapter stays small; ``sentence`` marking uses the first two); their
untrained embeddings get a learned offset (``RelationHeads.markers``, 4 x 384).

Modes, for ablations and the bench (one trained model serves them all):

- ``fused``: ``p`` as above;
- ``neural``: ``softmax(z_text)`` masked, the cross-encoder without KG evidence (``gate`` = 0);
- ``kg``: ``softmax(z_kg)`` masked (``gate`` = 1).

On disk (``save``, the format of ``kgnlu.neural.component`` shared with the NLI model):
``manifest.json`` (type, labels, linking, config with the feature names, training metadata),
``adapter/`` (peft LoRA), ``heads/``, ``gate/`` and optionally ``gnn/`` (config.json +
model.safetensors each). Nothing is pickled.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kgnlu.neural.component import Component, load_model, save_model
from kgnlu.neural.component import read_manifest as _read_manifest
from kgnlu.neural.gate import EvidenceGate
from kgnlu.neural.gnn.rgcn_encoder import RGCNEncoder
from kgnlu.neural.lora import base_fingerprint, load_base

FORMAT = "kgnlu-relation-extractor"
MODES = ("fused", "neural", "kg")
MARKINGS = ("sentence", "pair")  # see the module doc; models saved before "marking" existed are "pair"
# [E1] [/E1] [E2] [/E2] in ``pair`` marking; the first two are [E] [/E] in ``sentence`` marking.
MARKER_TOKENS = ("[unused0]", "[unused1]", "[unused2]", "[unused3]")
# As in kgnlu.neural.fused: attention and feed-forward projections of every layer, not the pooler.
LORA_TARGETS = (r"encoder\.layer\.\d+\."
                r"(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)")
TENSOR_KEYS = ("input_ids", "attention_mask", "token_type_ids", "rows", "e1", "e2", "symbolic", "label_mask",
               "negex", "x", "role", "edge_index", "edge_type", "node_batch", "labels", "negated", "neg_weight")


class RelationHeads(Component):
    r"""Marker offsets, the text head, the graph term, the KG head and the negation head.

    .. math::
        \mathbf{z}_{\mathrm{text}} = \mathbf{W}_t \mathrm{Dropout}(\mathbf{c}) + \mathbf{b}_t,
        \qquad \mathbf{z}_{\mathrm{neural}} = \mathbf{z}_{\mathrm{text}} + \mathbf{W}_g \mathbf{r} + \mathbf{W}_f \mathbf{s},
        \qquad \mathbf{z}_{\mathrm{kg}} = \mathbf{W}_k \mathbf{s} + \mathbf{b}_k,
        \qquad \ell_{\neg} = \mathbf{w}_n^\top [\mathbf{c}; \mathbf{n}; \mathbf{s}] + b_n

    :math:`\mathbf{W}_k` starts at ``prior`` from each relation's *known* feature to that
    relation's logit (``known_index[c]``, -1 for none), so the KG head begins as "a known triple
    is stated"; the graph and feature terms start at zero, so training begins from the text head.

    Shapes:
        - **input:** pair vector :math:`\mathbf{c}` :math:`(B, 2H)`, readout :math:`(B, D_r)`,
          KG features :math:`(B, D_s)`, NegEx flags :math:`(B, 2)` (the negation head reads them
          with the KG features: in ``neural`` mode both are still read, see ``RelationModel.forward``)
        - **output:** text logits :math:`(B, C)`, neural logits :math:`(B, C)`, KG logits
          :math:`(B, C)`, negation logit :math:`(B)` and the text-only negation logit :math:`(B)`
    """

    config_keys = ("text_dim", "graph_dim", "sym_dim", "num_labels", "dropout", "known_index", "prior")

    def __init__(self, text_dim: int = 768, graph_dim: int = 0, sym_dim: int = 0, num_labels: int = 2,
                 dropout: float = 0.1, known_index: list[int] | None = None, prior: float = 2.0):
        super().__init__()
        self.text_dim, self.graph_dim, self.sym_dim, self.num_labels = text_dim, graph_dim, sym_dim, num_labels
        self.dropout, self.prior = dropout, prior
        self.known_index = list(known_index) if known_index is not None else [-1] * num_labels
        self.markers = nn.Parameter(torch.zeros(len(MARKER_TOKENS), text_dim // 2))
        self.drop = nn.Dropout(dropout)
        self.text = nn.Linear(text_dim, num_labels)
        self.graph = nn.Linear(graph_dim, num_labels, bias=False) if graph_dim else None
        self.feat = nn.Linear(sym_dim, num_labels, bias=False)
        self.kg = nn.Linear(sym_dim, num_labels)
        self.neg = nn.Linear(text_dim + 2 + sym_dim, 1)
        self.neg_text = nn.Linear(text_dim + 2, 1)  # the same without KG evidence (``neural`` mode)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.markers)
        self.text.reset_parameters()
        self.neg.reset_parameters()
        self.neg_text.reset_parameters()
        nn.init.zeros_(self.feat.weight)
        if self.graph is not None:
            nn.init.zeros_(self.graph.weight)
        with torch.no_grad():
            self.kg.weight.zero_()
            self.kg.bias.zero_()
            for c, f in enumerate(self.known_index):
                if f >= 0:
                    self.kg.weight[c, f] = self.prior

    def forward(self, pair: Tensor, graph: Tensor | None, symbolic: Tensor, negex: Tensor
                ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        text = self.text(self.drop(pair))
        neural = text + self.feat(symbolic)
        if self.graph is not None and graph is not None:
            neural = neural + self.graph(graph)
        neg = self.neg(torch.cat([pair, negex, symbolic], dim=-1)).squeeze(-1)
        neg_text = self.neg_text(torch.cat([pair, negex], dim=-1)).squeeze(-1)
        return text, neural, self.kg(symbolic), neg, neg_text

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(text_dim={self.text_dim}, graph_dim={self.graph_dim}, "
                f"sym_dim={self.sym_dim}, labels={self.num_labels})")


def _masked(logits: Tensor, mask: Tensor) -> Tensor:
    return logits.masked_fill(~mask, torch.finfo(logits.dtype).min)


class RelationModel(nn.Module):
    """Cross-encoder + optional GNN + KG head + gate. Build with :meth:`create`, reload with :meth:`load`.

    ``forward(batch, mode)`` returns ``probs``, ``p_neural``, ``p_text``, ``p_kg`` (``(B, C)``, masked
    by ``label_mask``), the logits, ``gate`` ``(B,)`` and ``neg_logit`` ``(B,)``. Columns follow
    ``config["labels"]`` (``none`` first).
    """

    def __init__(self, config: dict, encoder: nn.Module, gnn: RGCNEncoder | None, heads: RelationHeads,
                 gate: EvidenceGate, tokenizer=None, base_path: Path | None = None):
        super().__init__()
        self.config = dict(config)
        self.encoder = encoder
        self.gnn = gnn
        self.heads = heads
        self.gate = gate
        self.tokenizer = tokenizer
        self.base_path = base_path
        self.temperature = float(config.get("temperature", 1.0))
        self.opinion_dropout = float(config.get("opinion_dropout", 0.0))
        ids = tokenizer.convert_tokens_to_ids(list(MARKER_TOKENS)) if tokenizer is not None else [1, 2, 3, 4]
        self.register_buffer("marker_ids", torch.tensor(ids, dtype=torch.long), persistent=False)

    @classmethod
    def create(cls, *, labels: list[str], label_iris: list[str], sym_features: list[str], known_index: list[int],
               use_gnn: bool = False, node_dim: int = 384, num_relations: int = 7, base_model: str | Path | None = None,
               lora_r: int = 8, lora_alpha: int = 16, lora_dropout: float = 0.1, max_length: int = 96,
               gnn_hidden: int = 64, gnn_layers: int = 2, gate_hidden: int = 32, dropout: float = 0.1,
               opinion_dropout: float = 0.1, features: dict | None = None, marking: str = "sentence",
               num_layers: int | None = None) -> RelationModel:
        """A fresh model on the packaged MiniLM: new LoRA adapters, heads, gate (and GNN).

        ``marking`` is how pairs are marked (module doc); ``num_layers`` keeps only the encoder's
        first layers (fewer FLOPs a sentence, LoRA adapting what is left; default: all six)."""
        from peft import LoraConfig, get_peft_model

        from kgnlu.neural.encoder import default_model_path

        if labels[0] != "none":
            raise ValueError(f"the first label must be 'none', not {labels[0]!r}")
        if marking not in MARKINGS:
            raise ValueError(f"marking must be one of {MARKINGS}, not {marking!r}")
        base_path = Path(base_model) if base_model is not None else default_model_path()
        base = load_base(base_path, num_layers)
        encoder = get_peft_model(base, LoraConfig(r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
                                                  target_modules=LORA_TARGETS, bias="none"))
        hidden = int(base.config.hidden_size)
        gnn = RGCNEncoder(node_dim, gnn_hidden, num_relations, gnn_layers, 4, dropout) if use_gnn else None
        graph_dim = gnn.out_channels if gnn is not None else 0
        heads = RelationHeads(2 * hidden, graph_dim, len(sym_features), len(labels), dropout, known_index)
        gate = EvidenceGate(2 * hidden + graph_dim + len(sym_features), gate_hidden, dropout)
        config = {
            "base_model": {"name": base_path.parent.name if base_path.name == "model" else base_path.name,
                           "fingerprint": base_fingerprint(base_path, max_length), "hidden_size": hidden},
            "lora": {"r": lora_r, "alpha": lora_alpha, "dropout": lora_dropout, "target_modules": LORA_TARGETS},
            "labels": list(labels), "label_iris": list(label_iris), "sym_features": list(sym_features),
            "max_length": max_length, "marking": marking, "num_layers": int(base.config.num_hidden_layers),
            "use_gnn": use_gnn, "node_dim": node_dim, "num_relations": num_relations,
            "temperature": 1.0, "opinion_dropout": opinion_dropout, "features": features or {},
        }
        return cls(config, encoder, gnn, heads, gate, tokenizer=make_tokenizer(base_path), base_path=base_path)

    @property
    def labels(self) -> list[str]:
        return list(self.config["labels"])

    @property
    def device(self) -> torch.device:
        return self.heads.text.weight.device

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def encode_pairs(self, batch: dict) -> Tensor:
        """Hidden states at the subject's and the object's opening markers, concatenated: ``(B, 2H)``.
        Row ``rows[b]`` of the encoded texts holds pair ``b`` (``sentence`` marking: one text per sentence)."""
        ids = batch["input_ids"]
        embed = self.encoder.get_input_embeddings()
        x = embed(ids)
        which = (ids.unsqueeze(-1) == self.marker_ids).to(x.dtype)  # (B, T, 4)
        x = x + which @ self.heads.markers
        kwargs = {k: batch[k] for k in ("attention_mask", "token_type_ids") if k in batch}
        hidden = self.encoder(inputs_embeds=x, **kwargs).last_hidden_state
        rows = batch["rows"] if "rows" in batch else torch.arange(ids.size(0), device=ids.device)
        return torch.cat([hidden[rows, batch["e1"]], hidden[rows, batch["e2"]]], dim=-1)

    def forward(self, batch: dict, mode: str = "fused") -> dict[str, Tensor]:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        pair = self.encode_pairs(batch)
        b = pair.size(0)
        if self.gnn is not None and batch.get("x") is not None and batch["x"].size(0):
            graph = self.gnn(batch["x"], batch["role"], batch["edge_index"], batch["edge_type"], batch["node_batch"], b)
        else:
            graph = pair.new_zeros(b, self.gnn.out_channels if self.gnn is not None else 0)
        z_text, z_neural, z_kg, neg, neg_text = self.heads(pair, graph if self.gnn is not None else None,
                                                           batch["symbolic"], batch["negex"])
        mask = batch["label_mask"]
        t = self.temperature
        p_text = (_masked(z_text, mask) / t).softmax(-1)
        p_neural = (_masked(z_neural, mask) / t).softmax(-1)
        p_kg = (_masked(z_kg, mask) / t).softmax(-1)
        probs, gate, gate_raw = self.gate(pair, graph, batch["symbolic"], torch.ones(b, device=pair.device), p_kg,
                                          self._dropped_opinions(p_neural, mask))
        neg_out = neg
        if mode == "neural":
            probs, gate, neg_out = p_text, torch.zeros_like(gate), neg_text
        elif mode == "kg":
            probs, gate = p_kg, torch.ones_like(gate)
        return {"probs": probs, "p_neural": p_neural, "p_text": p_text, "p_kg": p_kg, "z_text": _masked(z_text, mask),
                "z_neural": _masked(z_neural, mask), "z_kg": _masked(z_kg, mask), "gate": gate, "neg_logit": neg_out,
                "neg_logit_fused": neg, "neg_logit_text": neg_text}

    def fit_kg_head(self, symbolic: Tensor, mask: Tensor, labels: Tensor, *, l2: float = 1e-3,
                    max_iter: int = 200) -> float:
        """Fit the KG head alone, to convergence, on KG features: a multinomial logistic regression
        (convex, L-BFGS), before end-to-end training. Returns the final cross-entropy.

        Why: trained only alongside the encoder, at the encoder's learning rate and for a few
        hundred steps, the head stays close to its initial prior. It then gives a weak ``p_kg``
        (~0.5 where the KG evidence is nearly always right), which no gate should trust.
        """
        kg = self.heads.kg
        opt = torch.optim.LBFGS(list(kg.parameters()), max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(_masked(kg(symbolic), mask), labels) + l2 * kg.weight.pow(2).sum()
            loss.backward()
            return loss

        with torch.enable_grad():
            opt.step(closure)
            return float(F.cross_entropy(_masked(kg(symbolic), mask), labels).detach())

    def _dropped_opinions(self, p_neural: Tensor, mask: Tensor) -> Tensor:
        """In training, a share (``opinion_dropout``) of the pairs get another pair's neural
        opinion in the gate's mixture (detached, renormalised over this pair's admissible labels).

        Why: on generated sentences the text alone is nearly always right, so a gate trained on
        them only learns "trust the text" (g ~ 0 everywhere), even where the KG evidence is
        decisive. With the text's opinion sometimes wrong and the gate unable to tell when, the
        gate learns how far the KG head can be trusted from the KG evidence itself: with a share
        r of opinions dropped, and the text right on the others, the loss is least at
        g = min(1, r / (1 - p_kg[gold])), so the gate rises to 1 where the KG head is right with
        probability 1 - r or more and stays low elsewhere. Modality dropout, as in ModDrop
        (Neverova et al., 2015). The text head and the auxiliary losses see the true opinion.
        """
        if not self.training or self.opinion_dropout <= 0 or p_neural.size(0) < 2:
            return p_neural
        b = p_neural.size(0)
        other = p_neural.detach()[torch.randperm(b, device=p_neural.device)] * mask
        total = other.sum(-1, keepdim=True)
        uniform = mask.to(other.dtype) / mask.sum(-1, keepdim=True).clamp(min=1)
        other = torch.where(total > 0, other / total.clamp(min=1e-12), uniform)
        drop = torch.rand(b, device=p_neural.device) < self.opinion_dropout
        return torch.where(drop.unsqueeze(-1), other, p_neural)

    # -- save / load (kgnlu.neural.component: one manifest format for every task model) -----------

    TYPE = FORMAT
    COMPONENTS = {"gnn": RGCNEncoder, "heads": RelationHeads, "gate": EvidenceGate}
    OPTIONAL = ("gnn",)
    SPECIAL_TOKENS = MARKER_TOKENS

    @staticmethod
    def labels_of(config: dict) -> list[str]:
        """The class axis: the relation labels training chose, ``none`` first."""
        return list(config.get("labels") or [])

    @staticmethod
    def make_tokenizer(path: Path):
        return make_tokenizer(path)

    def get_config(self) -> dict:
        """The config, with the temperature calibrated on dev after training."""
        return {**self.config, "temperature": self.temperature}

    def parts(self) -> dict:
        return {"gnn": self.gnn, "heads": self.heads, "gate": self.gate}

    def save(self, directory: str | Path, training: dict | None = None, linking: dict | None = None) -> Path:
        """Write the manifest and every component under ``directory`` (``component.save_model``)."""
        return save_model(self, directory, training=training, linking=linking)

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu", *, merge: bool = True,
             trainable: bool = False, base_model: str | Path | None = None) -> RelationModel:
        """A model saved by :meth:`save`, in eval mode (``component.load_model``). ``merge`` folds
        LoRA into the weights and, on the CPU, packs them for oneDNN: faster, but inference only."""
        return load_model(directory, device, merge=merge, trainable=trainable, base_model=base_model, expect=cls.TYPE)


def make_tokenizer(path: Path):
    """MiniLM's tokenizer with the marker tokens kept whole (they are in the vocabulary already)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    tok.add_special_tokens({"additional_special_tokens": list(MARKER_TOKENS)})
    if len(tok) != tok.vocab_size:
        raise RuntimeError("marker tokens are not in the base vocabulary")
    return tok


def read_manifest(directory: str | Path) -> dict:
    """The checked manifest of a saved relation model (``component.read_manifest``)."""
    return _read_manifest(directory, expect=FORMAT)


def relation_loss(out: dict[str, Tensor], labels: Tensor, negated: Tensor, neg_weight: Tensor, *,
                  aux_weight: float = 0.5, text_weight: float = 0.5, neg_loss_weight: float = 0.5
                  ) -> tuple[Tensor, dict]:
    r"""The training objective, and its parts for the log.

    .. math::
        L = \mathrm{NLL}(\mathbf{p}) + \lambda_{aux}\,\mathrm{CE}(\mathbf{z}_{\mathrm{neural}})
          + \lambda_{text}\,\mathrm{CE}(\mathbf{z}_{\mathrm{text}}) + \mathrm{CE}(\mathbf{z}_{\mathrm{kg}})
          + \lambda_{\neg}\,[\mathrm{BCE}(\ell_{\neg}, y_{\neg}) + \mathrm{BCE}(\ell_{\neg,\mathrm{text}}, y_{\neg})]

    The fused term teaches the gate when to trust which side; the auxiliary terms keep the
    cross-encoder and the KG head good predictors on their own (the ``neural`` and ``kg``
    modes); the negation term counts only on pairs that state a relation (``neg_weight``).
    """
    nll = F.nll_loss(out["probs"].clamp(min=1e-8).log(), labels)
    aux = F.cross_entropy(out["z_neural"], labels)
    text = F.cross_entropy(out["z_text"], labels)
    kg = F.cross_entropy(out["z_kg"], labels)
    y = negated.to(out["neg_logit_fused"].dtype)
    neg_all = (F.binary_cross_entropy_with_logits(out["neg_logit_fused"], y, reduction="none")
               + F.binary_cross_entropy_with_logits(out["neg_logit_text"], y, reduction="none"))
    neg = (neg_all * neg_weight).sum() / neg_weight.sum().clamp(min=1.0)
    loss = nll + aux_weight * aux + text_weight * text + kg + neg_loss_weight * neg
    parts = {"nll": nll, "aux": aux, "text": text, "kg": kg, "neg": neg}
    return loss, {k: float(v.detach()) for k, v in parts.items()}


__all__ = ["RelationModel", "RelationHeads", "MODES", "MARKER_TOKENS", "make_tokenizer", "read_manifest",
           "relation_loss"]

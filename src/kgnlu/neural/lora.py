"""The LoRA-adapted MiniLM that the task models (fused NLI, relation extraction) are built on."""

from __future__ import annotations

import warnings
from pathlib import Path

from kgnlu.neural.encoder import encoder_fingerprint


def load_base(path: str | Path):
    """The base transformer at ``path`` (a local checkpoint; nothing is fetched)."""
    from transformers import AutoModel

    return AutoModel.from_pretrained(str(path), local_files_only=True)


def base_fingerprint(path: str | Path, max_length: int) -> str:
    return encoder_fingerprint(Path(path), None, max_length)


def load_adapted(directory: str | Path, config: dict, base_path: str | Path, *, trainable: bool = False,
                 merge: bool = False):
    """The base encoder with the adapter saved in ``directory/adapter``.

    Warns when the base differs from the one the adapter was trained on (its fingerprint is in
    ``config["base_model"]``). ``merge`` folds LoRA into the weights (faster inference, no longer
    trainable or savable); it is ignored when ``trainable``.
    """
    from peft import PeftModel

    fp = base_fingerprint(base_path, config["max_length"])
    if fp != config["base_model"]["fingerprint"]:
        warnings.warn(f"{directory}: trained on base encoder {config['base_model']['fingerprint']}, "
                      f"loading it on {fp}", stacklevel=3)
    encoder = PeftModel.from_pretrained(load_base(base_path), str(Path(directory) / "adapter"), is_trainable=trainable)
    return encoder.merge_and_unload() if merge and not trainable else encoder


__all__ = ["base_fingerprint", "load_adapted", "load_base"]

"""The LoRA-adapted MiniLM that the task models (fused NLI, relation extraction) are built on.

Training and saving go through ``transformers`` + ``peft`` (``load_adapted``); inference with the
adapter merged goes through ``kgnlu.neural.minibert`` (``load_merged``), which gives the same
numbers without importing either library.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

from kgnlu.neural.encoder import encoder_fingerprint


def load_base(path: str | Path, num_layers: int | None = None):
    """The base transformer at ``path`` (a local checkpoint; nothing is fetched), with only its
    first ``num_layers`` layers if given."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    from kgnlu.neural.minibert import keep_layers

    hf_logging.disable_progress_bar()  # a weights-loading bar on every start is noise on stderr
    return keep_layers(AutoModel.from_pretrained(str(path), local_files_only=True), num_layers)


def base_fingerprint(path: str | Path, max_length: int) -> str:
    return encoder_fingerprint(Path(path), None, max_length)


def _check_base(directory: str | Path, config: dict, base_path: str | Path) -> None:
    fp = base_fingerprint(base_path, config["max_length"])
    if fp != config["base_model"]["fingerprint"]:
        warnings.warn(f"{directory}: trained on base encoder {config['base_model']['fingerprint']}, "
                      f"loading it on {fp}", stacklevel=4)


def load_merged(directory: str | Path, config: dict, base_path: str | Path, special_tokens: Sequence[str] = ()):
    """``(encoder, tokenizer)`` for inference: the base with ``directory/adapter`` folded in
    (a ``MiniBert`` and a ``WordPieceTokenizer``, no ``transformers`` import). Warns as
    :func:`load_adapted` does when the base differs from the training one."""
    from kgnlu.neural.minibert import load_inference_encoder

    _check_base(directory, config, base_path)
    return load_inference_encoder(base_path, Path(directory) / "adapter", special_tokens, config.get("num_layers"))


def load_adapted(directory: str | Path, config: dict, base_path: str | Path, *, trainable: bool = False):
    """The base encoder with the adapter saved in ``directory/adapter``, as a peft model (for
    training, or for saving again). Warns when the base differs from the one the adapter was
    trained on (its fingerprint is in ``config["base_model"]``)."""
    from peft import PeftModel

    _check_base(directory, config, base_path)
    return PeftModel.from_pretrained(load_base(base_path, config.get("num_layers")), str(Path(directory) / "adapter"),
                                     is_trainable=trainable)


def save_parts(directory: str | Path, encoder, parts: dict) -> tuple[Path, list[dict]]:
    """Write the LoRA adapter of ``encoder`` and each component of ``parts`` (name -> module with
    ``save``, or None) under ``directory``; return it and the manifest's ``components`` list.

    The task models' common save path. A merged encoder (loaded for inference) has no adapter
    left to write, only the whole encoder, so it is refused.
    """
    from kgnlu.neural.encoder import save_adapter

    if not hasattr(encoder, "peft_config"):
        raise RuntimeError("this model's LoRA adapter was merged into the encoder (load(merge=True)); "
                           "load it with merge=False to save it")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_adapter(encoder, directory / "adapter")
    components = [{"name": "adapter", "path": "adapter", "type": "peft.LoraConfig",
                   "files": ["adapter_config.json", "adapter_model.safetensors"]}]
    for name, module in parts.items():
        if module is not None:
            module.save(directory / name)
            components.append({"name": name, "path": name, "type": f"{type(module).__module__}.{type(module).__name__}",
                               "files": ["config.json", "model.safetensors"]})
    return directory, components


__all__ = ["base_fingerprint", "load_adapted", "load_base", "load_merged", "save_parts"]

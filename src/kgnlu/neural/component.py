"""Save/load for trained components and the task models made of them, in the style of
sentence-transformers' ``models/Module.py`` and its top-level ``modules.json``.

A component is an ``nn.Module`` whose constructor arguments are plain JSON values. ``get_config()``
returns them, ``save(dir)`` writes ``config.json`` + ``model.safetensors`` and ``load(dir)``
rebuilds the module from the config and loads the tensors strictly. A task model is a LoRA
adapter plus components under one ``manifest.json`` (:func:`save_model`, :func:`load_model`).
Nothing is ever pickled.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from kgnlu.neural.manifest import (  # noqa: F401 - re-exported: one import for save/load and manifests
    LEXICON_LINKING, MANIFEST_NAME, MANIFEST_VERSION, MODEL_TYPES, ModelFormatError, check_linking, model_class,
    model_linking, read_manifest)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class Component(nn.Module):
    """An ``nn.Module`` that saves as ``config.json`` + ``model.safetensors``.

    Subclasses list their constructor arguments in ``config_keys`` and store each as an attribute
    of the same name.
    """

    config_keys: tuple[str, ...] = ()

    def get_config(self) -> dict:
        return {k: getattr(self, k) for k in self.config_keys}

    def save(self, directory: str | Path) -> Path:
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / CONFIG_NAME).write_text(json.dumps(self.get_config(), indent=2, sort_keys=True) + "\n",
                                             encoding="utf-8")
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in self.state_dict().items()}
        save_file(tensors, str(directory / WEIGHTS_NAME), metadata={"component": type(self).__name__})
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu") -> Component:
        from safetensors.torch import load_file

        directory = Path(directory)
        config = json.loads((directory / CONFIG_NAME).read_text(encoding="utf-8"))
        module = cls(**config)
        module.load_state_dict(load_file(str(directory / WEIGHTS_NAME), device="cpu"), strict=True)
        return module.to(device)


# -- task models: one manifest, one save/load ----------------------------------------------------
# (the manifest's fields and reading: ``kgnlu.neural.manifest``)

def save_model(model, directory: str | Path, *, training: dict | None = None, linking: dict | None = None) -> Path:
    """Write ``model`` (a class of MODEL_TYPES) under ``directory``: manifest, adapter, components.

    ``linking``: how the training data was linked (default LEXICON_LINKING). Only JSON and
    safetensors are written.
    """
    from kgnlu.neural.lora import save_parts

    if type(model).TYPE not in MODEL_TYPES:
        raise TypeError(f"{type(model).__name__} is not a registered model type")
    linking = check_linking(dict(LEXICON_LINKING) if linking is None else linking, directory)
    directory, components = save_parts(directory, model.encoder, model.parts())
    manifest = {"type": type(model).TYPE, "version": MANIFEST_VERSION, "components": components,
                "id2label": {str(i): label for i, label in enumerate(model.labels)}, "linking": linking,
                "config": model.get_config(), "training": training or {}}
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return directory


def load_model(directory: str | Path, device: str | torch.device = "cpu", *, merge: bool = False,
               trainable: bool = False, base_model: str | Path | None = None, expect: str | None = None):
    """The model saved in ``directory`` by :func:`save_model`, of the class its manifest's ``type``
    names, in eval mode on ``device``, with ``.manifest`` set.

    ``merge`` folds the LoRA matrices into the encoder and runs it as a ``MiniBert`` (no
    ``transformers``; on the CPU packed for oneDNN); such a model can no longer be saved.
    ``trainable`` keeps the adapter trainable (to resume training) and implies no merge.
    """
    from kgnlu.neural.encoder import default_model_path
    from kgnlu.neural.lora import load_adapted, load_merged

    directory = Path(directory)
    manifest = read_manifest(directory, expect)
    cls = model_class(manifest["type"], directory)
    config = manifest["config"]
    base_path = Path(base_model) if base_model is not None else default_model_path()
    merged = merge and not trainable
    if merged:
        encoder, tokenizer = load_merged(directory, config, base_path, cls.SPECIAL_TOKENS)
    else:
        encoder, tokenizer = load_adapted(directory, config, base_path, trainable=trainable), cls.make_tokenizer(base_path)
    parts = {}
    for c in manifest["components"]:
        if c["name"] == "adapter":
            continue
        part = cls.COMPONENTS.get(c["name"])
        if part is None or c.get("type") != f"{part.__module__}.{part.__name__}":
            raise ModelFormatError(f"{directory}: component {c['name']!r} of type {c.get('type')!r} is not one of "
                                   f"{cls.__name__}'s")
        parts[c["name"]] = part.load(directory / c["path"])
    missing = [name for name in cls.COMPONENTS if name not in parts and name not in cls.OPTIONAL]
    if missing:
        raise ModelFormatError(f"{directory}: no {', '.join(missing)} component in {MANIFEST_NAME}")
    model = cls(config, encoder, tokenizer=tokenizer, base_path=base_path,
                **{name: parts.get(name) for name in cls.COMPONENTS})
    if len(model.labels) != model.heads.num_labels:
        raise ModelFormatError(f"{directory}: {len(model.labels)} labels but heads for {model.heads.num_labels}")
    model.manifest = manifest
    model = model.to(device).eval()
    if merged:
        encoder.pack_for_cpu()
    return model


__all__ = ["Component", "CONFIG_NAME", "WEIGHTS_NAME", "LEXICON_LINKING", "MANIFEST_NAME", "MANIFEST_VERSION",
           "MODEL_TYPES", "ModelFormatError", "check_linking", "load_model", "model_class", "model_linking",
           "read_manifest", "save_model"]

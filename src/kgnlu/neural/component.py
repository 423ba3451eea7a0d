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
#
# A task model (``FusedNLI``, ``RelationModel``) is a LoRA-adapted encoder plus components, saved
# as ``manifest.json`` + ``adapter/`` + one folder per component. The manifest's ``type`` picks
# the class; the rest records what inference has to repeat to see the inputs training saw:
#
#   type        "kgnlu-fused-nli" | "kgnlu-relation-extractor" (MODEL_TYPES)
#   version     MANIFEST_VERSION; version 1 (``format`` instead of ``type``, no ``linking``) still loads
#   components  [{name, path, type, files}], the adapter first
#   id2label    {"0": label, ...}: the order of the model's class axis
#   linking     how training linked mentions: {"dense": bool, "rewrite": bool}, plus the dense
#               encoder's "encoder" fingerprint and "nil_threshold" when dense
#   config      the model's own: base encoder (name, fingerprint), num_layers, max_length, ...
#   training    metadata of the run (free-form)

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 2
# Classes by import path, imported only when a manifest names them (neither module imports the other).
MODEL_TYPES = {
    "kgnlu-fused-nli": "kgnlu.neural.fused:FusedNLI",
    "kgnlu-relation-extractor": "kgnlu.neural.re_head:RelationModel",
}
# How every kgnlu training run has linked its data (``Engine(kg, dense=False)``: the lexicon,
# with phrase rewriting). A version-1 manifest did not record it; this is what those runs did.
LEXICON_LINKING = {"dense": False, "rewrite": True}


class ModelFormatError(ValueError):
    """A saved model that cannot be loaded as saved: its one-line message names the folder and why.
    (``kgnlu.neural`` cannot raise the KG's ``InputError``; ``tasks/`` turns this into one.)"""


def model_class(type_name: str, where: str | Path = "") -> type:
    """The model class a manifest ``type`` names."""
    import importlib

    target = MODEL_TYPES.get(type_name)
    if target is None:
        raise ModelFormatError(f"{where}: unknown model type {type_name!r} (known: {', '.join(sorted(MODEL_TYPES))})")
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def check_linking(linking, where: str | Path = "") -> dict:
    """``linking`` as a plain dict with a boolean ``dense`` and ``rewrite``, or a ModelFormatError."""
    if not isinstance(linking, dict) or not isinstance(linking.get("dense"), bool) or \
            not isinstance(linking.get("rewrite", True), bool):
        raise ModelFormatError(f"{where}: 'linking' must be an object with a boolean 'dense', not {linking!r}")
    return {"rewrite": True, **linking}


def read_manifest(directory: str | Path, expect: str | None = None) -> dict:
    """The manifest of the model saved in ``directory``, checked and in the current version's shape.

    ``expect``: the ``type`` the caller needs; another type is an error that says which it is.
    """
    where = Path(directory)
    path = where / MANIFEST_NAME
    if not path.is_file():
        raise ModelFormatError(f"{where}: not a saved model (no {MANIFEST_NAME})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFormatError(f"{path}: unreadable ({' '.join(str(e).split())[:160]})") from None
    if not isinstance(manifest, dict):
        raise ModelFormatError(f"{path}: not a JSON object")
    version = manifest.get("version")
    if version == 1:
        manifest = _from_version_1(manifest)
    elif version != MANIFEST_VERSION:
        raise ModelFormatError(f"{path}: manifest version {version!r}; this kgnlu reads 1 and {MANIFEST_VERSION}")
    cls = model_class(manifest.get("type"), path)
    if expect is not None and manifest["type"] != expect:
        raise ModelFormatError(f"{where}: a {manifest['type']!r} model, not {expect!r}")
    for key in ("components", "config", "id2label"):
        if not isinstance(manifest.get(key), (list if key == "components" else dict)):
            raise ModelFormatError(f"{path}: no valid {key!r}")
    manifest["linking"] = check_linking(manifest.get("linking"), path)
    labels = _labels(manifest["id2label"], path)
    expected = cls.labels_of(manifest["config"])
    if labels != expected:
        raise ModelFormatError(f"{path}: id2label {labels} differs from the label order {expected} "
                               f"this model's outputs are read in")
    for c in manifest["components"]:
        for f in c.get("files", []):
            if not (where / c.get("path", c.get("name", "")) / f).is_file():
                raise ModelFormatError(f"{where}: missing {c.get('path')}/{f} (listed in {MANIFEST_NAME})")
    return manifest


def _labels(id2label: dict, path: Path) -> list:
    try:
        ids = sorted(int(k) for k in id2label)
    except (TypeError, ValueError):
        raise ModelFormatError(f"{path}: id2label keys must be integers, not {sorted(id2label)}") from None
    if ids != list(range(len(ids))):
        raise ModelFormatError(f"{path}: id2label must number its labels 0..{len(ids) - 1}, not {ids}")
    return [id2label[str(i)] for i in ids]


def _from_version_1(manifest: dict) -> dict:
    """A version-1 manifest in the version-2 shape: ``format`` was the type; the relation model's
    label order was only in its config; linking was not recorded (see LEXICON_LINKING)."""
    out = {k: v for k, v in manifest.items() if k != "format"}
    out["type"], out["version"] = manifest.get("format"), MANIFEST_VERSION
    out.setdefault("linking", dict(LEXICON_LINKING))
    config = manifest.get("config")
    if "id2label" not in out and isinstance(config, dict) and isinstance(config.get("labels"), list):
        out["id2label"] = {str(i): label for i, label in enumerate(config["labels"])}
    return out


def model_linking(directory: str | Path) -> dict:
    """How the model saved in ``directory`` was trained to see mentions: ``{"dense": bool,
    "rewrite": bool}`` (plus ``encoder`` and ``nil_threshold`` when dense). A linker built for it
    answers as training did: lexicon only when ``dense`` is false, phrase rewriting when ``rewrite``."""
    return dict(read_manifest(directory)["linking"])


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

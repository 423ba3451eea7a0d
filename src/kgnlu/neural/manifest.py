"""The manifest of a saved task model: what it records, how it is read, and the linking it was
trained with. No torch here: the Engine reads a model's linking before it loads anything.
"""

from __future__ import annotations

import json
from pathlib import Path

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
#   training    metadata of the run (free-form), with every trainer's ``versions`` (``library_versions``)
#               and, run from the CLI, its ``command`` line (NLI's under ``options``); older models lack both

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 2
# Classes by import path, imported only when a manifest names them (neither module imports the other).
MODEL_TYPES = {
    "kgnlu-fused-nli": "kgnlu.neural.fused:FusedNLI",
    "kgnlu-relation-extractor": "kgnlu.neural.re_head:RelationModel",
}
# How every kgnlu training run has linked its data (``Engine(kg, dense=False)``: the lexicon,
# with phrase rewriting). A version-1 manifest did not record it; this is what those runs did.
LEXICON_LINKING = {"dense": False, "rewrite": True, "forms": False}
# The installed distributions a trained model's weights depend on: every trainer's record (the
# manifest's ``training``, the linker's ``training.json``, curation's ``curation.json``) keeps
# their versions, so that a run can be repeated with the libraries that made it.
WEIGHT_LIBRARIES = ("torch", "transformers", "peft", "torch_geometric", "sentence-transformers", "numpy", "kgnlu")


class ModelFormatError(ValueError):
    """A saved model that cannot be loaded as saved: its one-line message names the folder and why.
    (``kgnlu.neural`` cannot raise the KG's ``InputError``; ``tasks/`` turns this into one.)"""


def library_versions() -> dict[str, str]:
    """``{"python": version, library: version}`` for each of WEIGHT_LIBRARIES installed here
    (read from the package metadata, nothing imported); one that is not installed is absent."""
    import platform
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in WEIGHT_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def model_class(type_name: str, where: str | Path = "") -> type:
    """The model class a manifest ``type`` names."""
    import importlib

    target = MODEL_TYPES.get(type_name)
    if target is None:
        raise ModelFormatError(f"{where}: unknown model type {type_name!r} (known: {', '.join(sorted(MODEL_TYPES))})")
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def check_linking(linking, where: str | Path = "") -> dict:
    """``linking`` as a plain dict with a boolean ``dense``, ``rewrite`` and ``forms``, or a
    ModelFormatError. A manifest written before ``forms`` (other word forms and typos, see
    ``tasks.linking.Linker``) was trained without them."""
    if not isinstance(linking, dict) or not isinstance(linking.get("dense"), bool) or \
            not isinstance(linking.get("rewrite", True), bool) or not isinstance(linking.get("forms", False), bool):
        raise ModelFormatError(f"{where}: 'linking' must be an object with a boolean 'dense', not {linking!r}")
    return {"rewrite": True, "forms": False, **linking}


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
    answers as training did: lexicon only when ``dense`` is false, phrase rewriting when ``rewrite``.

    Reads only the manifest's JSON (``read_manifest`` checks the whole model when it is loaded).
    """
    path = Path(directory) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFormatError(f"{directory}: not a saved model (no {MANIFEST_NAME})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFormatError(f"{path}: unreadable ({' '.join(str(e).split())[:160]})") from None
    if not isinstance(manifest, dict):
        raise ModelFormatError(f"{path}: not a JSON object")
    if manifest.get("version") == 1:
        manifest = _from_version_1(manifest)
    return check_linking(manifest.get("linking"), path)


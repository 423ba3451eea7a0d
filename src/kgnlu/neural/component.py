"""Save/load for trained components, in the style of sentence-transformers' ``models/Module.py``.

A component is an ``nn.Module`` whose constructor arguments are plain JSON values. ``get_config()``
returns them, ``save(dir)`` writes ``config.json`` + ``model.safetensors`` and ``load(dir)``
rebuilds the module from the config and loads the tensors strictly. Nothing is ever pickled.
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


__all__ = ["Component", "CONFIG_NAME", "WEIGHTS_NAME"]

"""Engine configuration: where the KG lives and which device runs the neural parts."""

from __future__ import annotations

import os
from pathlib import Path

# Nothing of kgnlu is imported here: the neural side reads its asset paths from this module and
# must not reach the symbolic package through it (tests/test_boundaries.py checks transitively).

__all__ = ["resolve_kg_dir", "resolve_device", "debug_enabled"]


def resolve_kg_dir(explicit: str | os.PathLike | None = None) -> Path:
    """``--kg DIR``, else ``$KGNLU_HOME``, else the user data dir."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("KGNLU_HOME")
    if env:
        return Path(env).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_data_dir("kgnlu")) / "kg"


def resolve_device(device: str = "auto") -> str:
    """``auto`` is CUDA when torch sees a GPU, else CPU."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def debug_enabled() -> bool:
    return os.environ.get("KGNLU_DEBUG", "") not in ("", "0")


def build_dir() -> Path:
    """Where the default KG's sources are converted to OWL (git-ignored ``ontologies/build``
    in a checkout, else a cache beside the user data)."""
    repo = Path(__file__).resolve().parents[2] / "ontologies"
    if repo.is_dir() and os.access(repo, os.W_OK):
        return repo / "build"
    import platformdirs

    return Path(platformdirs.user_cache_dir("kgnlu")) / "build"


ASSETS = Path(__file__).resolve().parent / "assets"


def linker_adapter_dir() -> Path:
    """The shipped LoRA adapter of the linker's encoder (self-alignment on the default KG)."""
    return ASSETS / "linker"


# How the shipped NLI model was trained (`kgnlu train nli --seed 0 --real ../shared/realdata/nli`): the defaults of
# kgnlu.training.nli_train.train and of the CLI alike, so that Engine.train_nli and the command
# train the same model.
NLI_RECIPE = {"epochs": 3, "max_train": 6000, "max_dev": 300, "batch_size": 32, "lr": 1e-3, "patience": 1,
              "num_threads": 2, "num_layers": 4, "max_extra": 0}
# The torch thread counts the shipped relation extractor and linker adapter were trained with (their
# manifests record them): the order of a float sum in a backward pass depends on it, so another count
# trains other weights from the same seed. The NLI recipe pins its own (NLI_RECIPE["num_threads"]).
RE_RECIPE_THREADS = 2
LINKER_RECIPE_THREADS = 1
# The human-written pairs the shipped NLI model trained on besides the generated ones, as files of
# the shared real-data folder (`kgnlu train nli --real DIR`); their held-out dev parts are not here.
NLI_RECIPE_EXTRA = ("snli_test.jsonl", "mnli_taxinli.jsonl#MNLI_train", "citint_train.jsonl")


def nli_model_dir() -> Path:
    """The shipped fused NLI model (cross-encoder LoRA, GNN, heads, gate) trained on the default KG."""
    return ASSETS / "nli"

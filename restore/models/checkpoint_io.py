"""Safe reading and atomic writing of checkpoints and training states.

Reading never unpickles code: ``.pth``/``.state`` go through
``torch.load(weights_only=True)`` and ``.safetensors`` through safetensors.
Writing goes to a temporary file first and is renamed into place, so a kill
mid-save never leaves a truncated file for ``--auto_resume`` to pick up.
"""
import os
import tempfile
from pathlib import Path

import torch


def load_weights_only(path: str | Path) -> dict:
    """A checkpoint or training state as plain tensors and containers, mapped to CPU."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        return load_file(str(path), device="cpu")
    return torch.load(path, map_location="cpu", weights_only=True)


def select_params(checkpoint: dict, param_key: str | None) -> tuple[dict, str | None]:
    """The state dict under ``param_key`` (falling back to ``params``), without 'module.' prefixes."""
    used = param_key
    if param_key is not None and param_key in checkpoint:
        checkpoint = checkpoint[param_key]
    elif param_key is not None and "params" in checkpoint:
        checkpoint, used = checkpoint["params"], "params"
    elif param_key is not None:
        used = None  # a bare state dict
    return {k.removeprefix("module."): v for k, v in checkpoint.items()}, used


def save_atomic(obj: object, path: str | Path) -> None:
    """torch.save to a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(obj, file)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

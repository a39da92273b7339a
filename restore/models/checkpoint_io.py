"""Safe reading and atomic writing of checkpoints and training states.

Reading never unpickles code: ``.pth``/``.state`` go through
``torch.load(weights_only=True)`` and ``.safetensors`` through safetensors.
Writing goes to a temporary file first and is renamed into place, so a kill
mid-save never leaves a truncated file for ``--auto_resume`` to pick up.
"""
from pathlib import Path

import torch

from restore.io.temp_files import replace_atomically


def load_weights_only(path: str | Path) -> dict:
    """A checkpoint or training state as plain tensors and containers, mapped to CPU."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        return load_file(str(path), device="cpu")
    return torch.load(path, map_location="cpu", weights_only=True)


def select_params(checkpoint: dict, param_key: str | None, source: str = "checkpoint") -> tuple[dict, str]:
    """The state dict under ``param_key`` if there is one, else whatever layout the file has
    (BasicSR's params/params_ema, the official Uformer ``state_dict``, a bare state dict),
    with 'module.' prefixes stripped. Returns it and the key it came from."""
    from restore.checkpoints import unwrap_state_dict
    if param_key is not None and isinstance(checkpoint.get(param_key), dict):
        return unwrap_state_dict(checkpoint[param_key], source=source), param_key
    return unwrap_state_dict(checkpoint, source=source), "auto"


def save_atomic(obj: object, path: str | Path) -> None:
    """torch.save to a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, lambda tmp: torch.save(obj, tmp))

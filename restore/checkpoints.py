"""Load network weights without ever unpickling code.

Accepts safetensors files and ``.pth`` files read with ``weights_only=True``, in the
layouts that people actually have: a bare state dict, the official Uformer
release (``{'state_dict': ..., 'epoch': ..., 'optimizer': ...}`` with keys prefixed
``module.`` by DataParallel), and BasicSR's ``{'params': ...}`` / ``{'params_ema': ...}``.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model")
PREFIXES = ("module.", "_orig_mod.")


class CheckpointError(ValueError):
    """A weight file that is missing, unreadable, or does not fit the network."""


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a weight file into a plain ``{name: tensor}`` dict on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weight file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        try:
            return load_file(str(path))
        except Exception as err:  # safetensors raises several types for a bad file
            raise CheckpointError(f"cannot read safetensors file {path}: {err}") from None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(
            f"cannot read {path} as a weights-only checkpoint ({err.__class__.__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''})") from None
    return unwrap_state_dict(blob, source=str(path))


def unwrap_state_dict(blob: object, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Find the state dict inside a checkpoint and strip DataParallel/compile prefixes."""
    if isinstance(blob, dict):
        for key in WRAPPER_KEYS:
            if key in blob and isinstance(blob[key], dict):
                blob = blob[key]
                break
    if not isinstance(blob, dict) or not all(isinstance(v, torch.Tensor) for v in blob.values()):
        raise CheckpointError(f"{source} holds no state dict of tensors")
    state = {}
    for name, tensor in blob.items():
        for prefix in PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
        state[name] = tensor
    return state


def load_weights(model: nn.Module, path: str | Path, strict: bool = True) -> nn.Module:
    """Load a weight file into ``model``, with a readable error when it does not fit."""
    state = load_state_dict_file(path)
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as err:
        first_lines = "\n".join(str(err).splitlines()[:6])
        raise CheckpointError(f"{path} does not fit {type(model).__name__}:\n{first_lines}") from None
    return model

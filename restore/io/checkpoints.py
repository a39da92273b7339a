"""The one way weights and training states are read and written: never unpickling code.

Reading accepts safetensors files, and ``.pth``/``.state`` files through
``torch.load(weights_only=True)``, in the layouts that people actually have: a bare
state dict, the official Uformer release (``{'state_dict': ..., 'epoch': ...,
'optimizer': ...}`` with keys prefixed ``module.`` by DataParallel), and BasicSR's
``{'params': ...}`` / ``{'params_ema': ...}``. Writing goes to a temporary file that
is renamed into place, so a kill mid-save never leaves a truncated file behind.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

from restore.errors import WeightsError
from restore.io.temp_files import replace_atomically

WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model")
PREFIXES = ("module.", "_orig_mod.")


def read_checkpoint(path: str | Path) -> dict:
    """A weight file or training state as plain tensors and containers, on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weight file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        try:
            return load_file(str(path), device="cpu")
        except Exception as err:  # safetensors raises several types for a bad file
            raise WeightsError(f"cannot read safetensors file {path}: {err}") from None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as err:
        first = str(err).splitlines()[0] if str(err) else ""
        raise WeightsError(f"cannot read {path} as a weights-only checkpoint "
                           f"({err.__class__.__name__}: {first})") from None
    if not isinstance(blob, dict):
        raise WeightsError(f"{path} holds a {type(blob).__name__}, not a checkpoint mapping")
    return blob


def unwrap_state_dict(blob: object, source: str = "checkpoint", key: str | None = None) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint (under ``key`` when given and present, else the
    first of the usual wrapper keys), with DataParallel/compile prefixes stripped."""
    if isinstance(blob, dict):
        for wrapper in ((key,) if key is not None and isinstance(blob.get(key), dict) else WRAPPER_KEYS):
            if wrapper in blob and isinstance(blob[wrapper], dict):
                blob = blob[wrapper]
                break
    if not isinstance(blob, dict) or not blob or not all(isinstance(v, torch.Tensor) for v in blob.values()):
        raise WeightsError(f"{source} holds no state dict of tensors")
    state = {}
    for name, tensor in blob.items():
        for prefix in PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
        state[name] = tensor
    return state


def read_state_dict(path: str | Path, key: str | None = None) -> dict[str, torch.Tensor]:
    """A weight file as a plain ``{name: tensor}`` dict on the CPU."""
    return unwrap_state_dict(read_checkpoint(path), source=str(path), key=key)


def load_state(net: nn.Module, state: dict[str, torch.Tensor], name: str) -> None:
    """Load ``state`` into ``net`` exactly, or refuse it naming the first keys that do not fit."""
    own = net.state_dict()
    missing = [key for key in own if key not in state]
    unexpected = [key for key in state if key not in own]
    wrong = [key for key in own if key in state and own[key].shape != state[key].shape]
    if missing or unexpected or wrong:
        raise WeightsError(
            f"model {name!r}: weights do not match the network "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong[:3]})"
        )
    net.load_state_dict(state, strict=True)


def save_atomic(obj: object, path: str | Path) -> None:
    """torch.save to a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, lambda tmp: torch.save(obj, tmp))


def save_safetensors(state: dict[str, torch.Tensor], path: Path) -> None:
    """A state dict as a safetensors file, written atomically."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    # safetensors refuses shared or non-contiguous storage: give it plain copies.
    plain = {key: value.detach().cpu().contiguous().clone() for key, value in state.items()}
    replace_atomically(path, lambda tmp: save_file(plain, tmp))

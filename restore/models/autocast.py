"""bf16 autocast for the training forward pass, used only where the hardware runs bf16.

On CPUs without AVX512-BF16 or AMX oneDNN emulates bfloat16: a Uformer-T + SkipAt AdamW step
on 4 x 128^2 crops took 40 s on an AVX2 AMD EPYC against 3.7 s in float32, and one on 8 crops
8.6 s against 5.4 s on an AVX512 Xeon without bf16 (one thread, best of 3), while an
AVX512-BF16 CPU ran a Uformer-T step in 0.87 s against 1.36 s. So
``train.autocast: bf16`` falls back to float32, with one warning, where bf16 would be slow.
"""
import contextlib
import functools

import torch
from basicsr.utils import get_root_logger

from restore.archs.fused_ops import bf16_is_native

MODES_OFF = (None, False, "none", "fp32")


@functools.cache
def _warn_emulated(device_type: str) -> None:
    get_root_logger().warning(f"train.autocast: bf16 asked for, but this {device_type} has no native bfloat16 "
                              "(it would be emulated, 1.6-10x slower); training in float32")


def training_autocast(mode: str | bool | None, device: torch.device) -> contextlib.AbstractContextManager:
    """The context for one training forward pass: bf16 autocast, or nothing."""
    if mode in MODES_OFF:
        return contextlib.nullcontext()
    if mode != "bf16":
        raise ValueError(f"train.autocast must be bf16 or none, got {mode!r}")
    if not bf16_is_native(device):
        _warn_emulated(device.type)
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)

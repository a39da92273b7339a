"""Which device and which floating-point precision a network runs in.

``auto`` precision means: float16 on CUDA and Apple's MPS, bfloat16 on CPUs that run
it in hardware (AVX512-BF16 or AMX: oneDNN's bf16 kernels are then about 1.4x faster
than float32), and float32 on every other CPU, where oneDNN would emulate bf16 at
about a tenth of the speed. ``python -m restore.benchmarks.speed --precision`` measures
the speed and the PSNR change of each precision on held-out photos.
"""
from __future__ import annotations

import warnings

import torch

from restore.archs.fused_ops import bf16_is_native
from restore.errors import RestoreError

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: str | torch.device) -> torch.device:
    """'auto' picks CUDA, then Apple's MPS, then the CPU; asking for one that is absent is an error."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if mps_available() else "cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RestoreError(f"device {device!r} was asked for, but no CUDA GPU is available "
                               "(use --device cpu or auto)")
        return torch.device(device)
    if device == "mps":
        if not mps_available():
            raise RestoreError("device 'mps' was asked for, but this PyTorch has no usable MPS backend "
                               "(it needs Apple silicon and macOS 12.3 or later; use --device cpu or auto)")
        return torch.device("mps")
    if device == "cpu":
        return torch.device("cpu")
    raise RestoreError(f"unknown device {device!r}; choose one of auto, cpu, cuda, mps")


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """The dtype the network runs in on ``device`` for ``precision`` (auto, fp32, bf16 or fp16)."""
    if precision == "auto":
        if device.type in ("cuda", "mps"):
            return torch.float16
        return torch.bfloat16 if bf16_is_native(device) else torch.float32
    if precision not in DTYPES:
        raise RestoreError(f"unknown precision {precision!r}; choose one of auto, {', '.join(DTYPES)}")
    if precision == "fp16" and device.type == "cpu":
        raise RestoreError("fp16 runs on cuda and mps only; on a CPU use bf16 (fast where the CPU has "
                           "AVX512-BF16 or AMX) or fp32")
    if precision == "bf16" and not bf16_is_native(device):
        warnings.warn(f"this {device.type} has no native bfloat16; it will be emulated and run several times "
                      "slower than fp32", stacklevel=3)
    return DTYPES[precision]


def uses_autocast(dtype: torch.dtype, device: torch.device) -> bool:
    """Whether a reduced ``dtype`` runs under autocast on ``device`` (CPU, CUDA): the weights and
    the residual streams stay float32, matmuls and convolutions run in ``dtype``. Elsewhere
    (MPS) the weights themselves are cast."""
    return dtype != torch.float32 and device.type in ("cpu", "cuda")


def weights_dtype(dtype: torch.dtype, device: torch.device) -> torch.dtype:
    """The dtype a network's weights (and its input) are held in to run in ``dtype``."""
    return torch.float32 if uses_autocast(dtype, device) else dtype


def precision_name(dtype: torch.dtype) -> str:
    return next(name for name, value in DTYPES.items() if value == dtype)

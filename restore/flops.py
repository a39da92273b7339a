"""Multiply-accumulate counts with ``torch.utils.flop_counter``.

flop_counter has no formula for the CPU fused attention kernel nor for oneDNN's
fused linear/conv+GELU, so while counting, attention layers take their explicit
softmax path and the plain ops run (same arithmetic).
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from restore.archs.fused_ops import plain_kernels


@contextmanager
def explicit_attention(model: nn.Module):
    layers = [m for m in model.modules() if hasattr(m, "fused")]
    saved = [m.fused for m in layers]
    for m in layers:
        m.fused = False
    try:
        yield
    finally:
        for m, value in zip(layers, saved):
            m.fused = value


@torch.no_grad()
def count_macs(model: nn.Module, *inputs: torch.Tensor) -> int:
    """MACs of one forward (flop_counter counts a multiply-add as 2 FLOPs)."""
    with explicit_attention(model), plain_kernels(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    return counter.get_total_flops() // 2

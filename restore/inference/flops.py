"""Multiply-accumulate counts with ``torch.utils.flop_counter``.

flop_counter has no formula for the CPU fused attention kernel nor for oneDNN's
fused linear/conv+GELU, so the count runs under ``plain_kernels()``: explicit softmax
attention and plain ops, with the same arithmetic.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from restore.archs.fused_ops import plain_kernels


@torch.no_grad()
def count_macs(model: nn.Module, *inputs: torch.Tensor) -> int:
    """MACs of one forward (flop_counter counts a multiply-add as 2 FLOPs)."""
    with plain_kernels(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    return counter.get_total_flops() // 2

"""Pad-and-crop: networks with downsampling and windows need sides divisible by some factor."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad the last two dims of ``x`` (images or (B, C, T, H, W) clips) up to a multiple,
    reflecting the image at its border.

    A pad wider than the side reflects again, as a row of mirrors would: repeating the edge
    row instead turns its noise into streaks that a denoiser trained on photos leaves in,
    and they spoil what it does inside the image (tests/archs/test_padding.py measures it).
    """
    height, width = x.shape[-2:]
    pad_h = -height % multiple
    pad_w = -width % multiple
    if height == 1 or width == 1:  # nothing to reflect
        return _pad(x, pad_h, pad_w, "replicate")
    while pad_h or pad_w:
        step_h, step_w = min(pad_h, x.shape[-2] - 1), min(pad_w, x.shape[-1] - 1)
        x = _pad(x, step_h, step_w, "reflect")
        pad_h, pad_w = pad_h - step_h, pad_w - step_w
    return x


def _pad(x: torch.Tensor, pad_h: int, pad_w: int, mode: str) -> torch.Tensor:
    if not pad_h and not pad_w:
        return x
    # 5-D inputs take a 3-D pad in non-constant modes; time gets none
    return F.pad(x, (0, pad_w, 0, pad_h) + (0, 0) * (x.ndim - 4), mode=mode)

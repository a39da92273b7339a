"""Pad-and-crop: networks with downsampling and windows need sides divisible by some factor."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad the last two dims of ``x`` (images or (B, C, T, H, W) clips) up to a multiple,
    reflecting the image at its border.

    Reflection needs a pad smaller than the side; tinier inputs repeat the edge instead.
    """
    height, width = x.shape[-2:]
    pad_h = -height % multiple
    pad_w = -width % multiple
    if not pad_h and not pad_w:
        return x
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    # 5-D inputs take a 3-D pad in non-constant modes; time gets none
    return F.pad(x, (0, pad_w, 0, pad_h) + (0, 0) * (x.ndim - 4), mode=mode)

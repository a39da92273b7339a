"""Pixel arrays <-> network tensors: dtype scaling and channel layout.

Networks see float RGB in [0, 1]. Users hand us uint8 or uint16 arrays that may
be grayscale, RGB or RGBA. This module turns one into the other and back, so
that grayscale comes back grayscale, alpha is kept untouched and the bit depth
of the input is the bit depth of the output.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from einops import rearrange

MAX_VALUE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


@dataclass
class PixelLayout:
    """How to rebuild the user's array from the network's RGB output."""

    dtype: np.dtype
    gray: bool  # input was H×W or H×W×1
    squeeze: bool  # input was H×W (no channel axis)
    alpha: np.ndarray | None  # H×W alpha plane of an RGBA input, kept as it was


def check_image_array(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(image).__name__}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(f"expected an H×W, H×W×1, H×W×3 or H×W×4 image, got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is empty: shape {image.shape}")
    if image.dtype not in MAX_VALUE and image.dtype.kind != "f":
        raise ValueError(f"expected uint8, uint16 or float pixels in [0, 1], got {image.dtype}")


def to_unit_float(pixels: np.ndarray) -> np.ndarray:
    """Scale uint8/uint16 to float32 in [0, 1]; float input is taken as already in [0, 1]."""
    if pixels.dtype.kind == "f":
        return np.clip(pixels, 0.0, 1.0).astype(np.float32)
    return pixels.astype(np.float32) / MAX_VALUE[pixels.dtype]


def from_unit_float(pixels: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Round float [0, 1] back to the integer dtype (or keep float)."""
    pixels = np.clip(pixels, 0.0, 1.0)
    if np.dtype(dtype).kind == "f":
        return pixels.astype(dtype)
    return np.rint(pixels * MAX_VALUE[np.dtype(dtype)]).astype(dtype)


def split_image(image: np.ndarray) -> tuple[torch.Tensor, PixelLayout]:
    """An H×W[×C] array -> a (1, 3, H, W) float tensor and what is needed to undo it."""
    check_image_array(image)
    squeeze = image.ndim == 2
    pixels = image[:, :, None] if squeeze else image
    alpha = None
    if pixels.shape[2] == 4:
        alpha, pixels = pixels[:, :, 3].copy(), pixels[:, :, :3]
    gray = pixels.shape[2] == 1
    if gray:
        pixels = np.repeat(pixels, 3, axis=2)
    tensor = torch.from_numpy(np.ascontiguousarray(to_unit_float(pixels)))
    tensor = rearrange(tensor, "h w c -> 1 c h w")
    return tensor, PixelLayout(dtype=image.dtype, gray=gray, squeeze=squeeze, alpha=alpha)


def merge_image(tensor: torch.Tensor, layout: PixelLayout) -> np.ndarray:
    """Inverse of :func:`split_image` for the network's (1, 3, H, W) output."""
    pixels = rearrange(tensor.detach().float().cpu(), "1 c h w -> h w c").numpy()
    if layout.gray:
        pixels = pixels.mean(axis=2, keepdims=True)
    pixels = from_unit_float(pixels, layout.dtype)
    if layout.alpha is not None:
        pixels = np.concatenate([pixels, layout.alpha[:, :, None]], axis=2)
    if layout.squeeze:
        pixels = pixels[:, :, 0]
    return pixels

"""Pixel arrays <-> network tensors: dtype scaling and channel layout.

Networks see float RGB in [0, 1]. Users hand us uint8 or uint16 arrays, or floats,
that may be grayscale, gray+alpha, RGB or RGBA. This module turns one into the other
and back, so that grayscale comes back grayscale, alpha is kept untouched and the
bit depth of the input is the bit depth of the output.

What a value means follows scikit-image: white is the dtype's largest value for
integers and 1.0 for floats, unless ``data_range`` says otherwise (255.0 for floats on
the 0-255 scale, 4095 for 12-bit data in uint16). Pixels outside that range, NaN and
infinity are refused here, in the one check every entry goes through, rather than
clipped without a word.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from einops import rearrange

from restore.errors import RestoreError
from restore.io.pixel_values import MAX_VALUE, to_unit_float, white_level

FLOAT_TOLERANCE = 1e-3  # floats this far (times the range) outside it are rounding, and are clipped


@dataclass
class PixelLayout:
    """How to rebuild the user's array from the network's RGB output."""

    dtype: np.dtype
    gray: bool  # input was H×W, H×W×1 or H×W×2 (gray+alpha)
    squeeze: bool  # input was H×W (no channel axis)
    alpha: np.ndarray | None  # H×W alpha plane of a gray+alpha or RGBA input, kept as it was
    top: float = 1.0  # the value that stands for white in the input


def check_values(pixels: np.ndarray, top: float, what: str = "image", above_hint: str = "") -> None:
    """Refuse NaN, infinity and values outside [0, top] (floats get FLOAT_TOLERANCE of slack);
    ``above_hint`` is added when values exceed ``top``."""
    if pixels.dtype.kind == "f":
        finite = np.isfinite(pixels)
        if not finite.all():
            raise RestoreError(f"{what} holds {pixels.size - int(finite.sum()):,} NaN or infinite values; "
                               "replace them (for example with numpy.nan_to_num) before denoising")
    low, high = pixels.min(), pixels.max()
    slack = FLOAT_TOLERANCE * top if pixels.dtype.kind == "f" else 0.0
    if low < -slack or high > top + slack:
        hint = above_hint if high > top + slack else ""
        raise RestoreError(f"{what} values must lie in [0, {top:g}], found [{low:g}, {high:g}]{hint}")


def check_image_array(image: np.ndarray, data_range: float | None = None) -> float:
    """Check an image's type, shape and values; return the value that stands for white."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(image).__name__}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
        raise ValueError(f"expected an H×W, H×W×1, H×W×2, H×W×3 or H×W×4 image, got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is empty: shape {image.shape}")
    if image.dtype not in MAX_VALUE and image.dtype.kind != "f":
        raise ValueError(f"expected uint8, uint16 or float pixels in [0, 1], got {image.dtype}")
    top = white_level(image.dtype, data_range)
    floats = image.dtype.kind == "f" and data_range is None
    check_values(image, top, above_hint=" (for pixels on the 0-255 scale pass data_range=255.0)" if floats else "")
    return top


def from_unit_float(pixels: np.ndarray, dtype: np.dtype, top: float | None = None) -> np.ndarray:
    """Back from float [0, 1] to ``dtype`` at the scale ``top`` (integers rounded)."""
    top = white_level(dtype) if top is None else top
    pixels = np.clip(pixels, 0.0, 1.0) * top
    if np.dtype(dtype).kind == "f":
        return pixels.astype(dtype)
    return np.rint(pixels).astype(dtype)


def split_image(image: np.ndarray, data_range: float | None = None) -> tuple[torch.Tensor, PixelLayout]:
    """An H×W[×C] array -> a (1, 3, H, W) float tensor and what is needed to undo it."""
    top = check_image_array(image, data_range)
    squeeze = image.ndim == 2
    pixels = image[:, :, None] if squeeze else image
    alpha = None
    if pixels.shape[2] in (2, 4):
        alpha, pixels = pixels[:, :, -1].copy(), pixels[:, :, :-1]
    gray = pixels.shape[2] == 1
    if gray:
        pixels = np.repeat(pixels, 3, axis=2)
    tensor = torch.from_numpy(np.ascontiguousarray(to_unit_float(pixels, top)))
    tensor = rearrange(tensor, "h w c -> 1 c h w")
    return tensor, PixelLayout(dtype=image.dtype, gray=gray, squeeze=squeeze, alpha=alpha, top=top)


def merge_image(tensor: torch.Tensor, layout: PixelLayout) -> np.ndarray:
    """Inverse of :func:`split_image` for the network's (1, 3, H, W) output."""
    pixels = rearrange(tensor.detach().float().cpu(), "1 c h w -> h w c").numpy()
    if layout.gray:
        pixels = pixels.mean(axis=2, keepdims=True)
    pixels = from_unit_float(pixels, layout.dtype, layout.top)
    if layout.alpha is not None:
        pixels = np.concatenate([pixels, layout.alpha[:, :, None]], axis=2)
    if layout.squeeze:
        pixels = pixels[:, :, 0]
    return pixels

"""Additive white Gaussian noise, with sigma on the 0-255 scale as papers quote it.

The one place this noise is made: training data, validation, benchmarks, the demo and the app
all call :func:`add_gaussian_noise` (directly, or through :func:`noisy_pixels` for integer
images), and every network that takes a noise map gets it from :func:`append_sigma_map`.
A card says ``{"type": "gaussian", "sigma": [low, high]}``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from restore.noise.base import NoiseModel, register_noise_model


def add_gaussian_noise(clean: np.ndarray, sigma_255: float, rng: np.random.Generator, clip: bool,
                       quantize: int | None = None) -> np.ndarray:
    """clean (float in [0, 1]) + N(0, sigma/255) as float32; clipped to [0, 1] only when asked,
    and rounded to ``quantize`` + 1 levels (255 for 8-bit) when asked, as a noisy file is."""
    noisy = clean + rng.standard_normal(clean.shape, dtype=np.float32) * np.float32(sigma_255 / 255.0)
    if clip:
        noisy = np.clip(noisy, 0.0, 1.0)
    if quantize:
        noisy = np.round(noisy * np.float32(quantize)) / np.float32(quantize)
    return noisy.astype(np.float32, copy=False)


def noisy_pixels(pixels: np.ndarray, sigma_255: float, rng: np.random.Generator) -> np.ndarray:
    """A noisy copy of uint8 or uint16 pixels (gray, gray+alpha, RGB or RGBA) at the same bit depth,
    clipped and rounded as a noisy file would be; sigma is on the 0-255 scale whatever the depth,
    and an alpha channel (the last of 2 or 4) is left clean."""
    top = 65535 if pixels.dtype == np.uint16 else 255
    colour = pixels[..., :-1] if pixels.ndim == 3 and pixels.shape[2] in (2, 4) else pixels
    noisy = add_gaussian_noise(colour.astype(np.float32) / top, sigma_255, rng, clip=True, quantize=top)
    out = np.rint(noisy * top).astype(pixels.dtype)
    if colour is not pixels:
        out = np.concatenate([out, pixels[..., -1:]], axis=2)
    return out


def draw_sigma(sigma: float | list | tuple, rng: np.random.Generator, power: float = 1.0) -> float:
    """A fixed sigma, or one drawn from [low, high]: ``low + (high - low) * u ** power`` with u
    uniform. ``power`` 1 is uniform; above 1 weights low noise more (the density falls as
    ``(s - low) ** (1 / power - 1)``: with power 2 on [0, 50], 63% of draws fall below 20, against
    40% for uniform), the known remedy for a blind denoiser that is weak at low sigma."""
    if not power > 0:
        raise ValueError(f"sigma power must be > 0, got {power}")
    if isinstance(sigma, (list, tuple)):
        if len(sigma) != 2 or sigma[0] > sigma[1]:
            raise ValueError(f"sigma range must be [low, high], got {sigma}")
        u = rng.random()
        return float(sigma[0] + (sigma[1] - sigma[0]) * (u if power == 1.0 else u ** power))
    return float(sigma)


def append_sigma_map(x, sigma: float):
    """``x`` (..., C, H, W), a torch tensor, with one channel filled with sigma/255 appended after its
    C colour channels: the noise-map input of every network whose card says ``noise_map_input``."""
    import torch

    level = x.new_full((*x.shape[:-3], 1, *x.shape[-2:]), sigma / 255.0)
    return torch.cat([x, level], dim=-3)


@register_noise_model
class GaussianNoise(NoiseModel):
    """One σ per image, drawn from the card's range in training."""

    name = "gaussian"
    takes_sigma = True
    usage = "gaussian:LOW,HIGH"

    def check(self, noise: dict[str, Any]) -> str | None:
        sigma = noise.get("sigma")
        numbers = isinstance(sigma, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                  for v in sigma)
        if not (numbers and len(sigma) == 2 and 0 <= sigma[0] <= sigma[1] <= 255):
            return f"gaussian noise needs sigma: [low, high] within 0-255, got {sigma!r}"
        return None

    def from_text(self, text: str) -> dict[str, Any]:
        try:
            low, high = (float(v) for v in text.split(","))
        except ValueError:
            raise ValueError("write gaussian noise as gaussian:LOW,HIGH, e.g. gaussian:0,50") from None
        return {"type": self.name, "sigma": [low, high]}

    def describe(self, noise: dict[str, Any]) -> str:
        low, high = self.sigma_range(noise)
        return f"Gaussian noise, σ {low:g}–{high:g}"

    def sigma_range(self, noise: dict[str, Any]) -> tuple[float, float]:
        low, high = noise["sigma"]
        return float(low), float(high)

    def with_noise_map(self, x, sigma: float):
        return append_sigma_map(x, sigma)

    def add_noise(self, pixels: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
        return noisy_pixels(pixels, sigma, rng)

"""Image quality scores on the 0-255 scale, as denoising papers and BasicSR report them.

Both take arrays of any dtype holding values on that scale (uint8 pixels, or floats times 255)
and compute in float64, so that a float output is scored before it is rounded.
"""
from __future__ import annotations

import numpy as np


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB; inf when the two are equal."""
    mse = float(np.mean((np.asarray(image, np.float64) - np.asarray(reference, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse))


def ssim(image: np.ndarray, reference: np.ndarray) -> float:
    """SSIM (Wang et al. 2004) with an 11-tap σ=1.5 Gaussian window, per channel of an H×W[×C]
    image and then averaged: BasicSR's ``calculate_ssim`` to 1e-14, through scikit-image."""
    from skimage.metrics import structural_similarity

    image, reference = np.asarray(image, np.float64), np.asarray(reference, np.float64)
    return float(structural_similarity(image, reference, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False, data_range=255.0,
                                       channel_axis=2 if image.ndim == 3 else None))

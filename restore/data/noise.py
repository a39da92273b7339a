"""Additive white Gaussian noise, with sigma on the 0-255 scale as papers quote it."""
import numpy as np


def add_gaussian_noise(clean: np.ndarray, sigma_255: float, rng: np.random.Generator, clip: bool) -> np.ndarray:
    """clean (float in [0, 1]) + N(0, sigma/255); clipped to [0, 1] only when asked."""
    noisy = clean + rng.standard_normal(clean.shape, dtype=np.float32) * np.float32(sigma_255 / 255.0)
    return np.clip(noisy, 0.0, 1.0) if clip else noisy


def draw_sigma(sigma: float | list | tuple, rng: np.random.Generator) -> float:
    """A fixed sigma, or one drawn uniformly from [low, high]."""
    if isinstance(sigma, (list, tuple)):
        if len(sigma) != 2 or sigma[0] > sigma[1]:
            raise ValueError(f"sigma range must be [low, high], got {sigma}")
        return float(rng.uniform(sigma[0], sigma[1]))
    return float(sigma)

"""What the rest of the code may ask about the noise a model removes, and the registry of answers."""
from __future__ import annotations

from typing import Any

import numpy as np

from restore.errors import RestoreError
from restore.registry import Registry

NOISE_MODELS = Registry("noise model")


class NoiseModel:
    """One kind of noise, as a weight card's ``noise`` mapping describes it.

    ``takes_sigma``: the noise has a level σ on the 0-255 scale that can be estimated from an
    image, given to the network as a noise map, and used to synthesise the noise. A model without
    one (real camera noise learnt from pairs) answers None or refuses.
    """

    name: str = ""
    takes_sigma: bool = False
    # The noise of photos as cameras and phones save them (sensor noise through the camera's
    # processing), rather than noise added to clean images: what the app offers as "photo from a
    # camera or phone".
    camera_photos: bool = False
    usage: str = ""  # the --noise text of save_weights, e.g. gaussian:LOW,HIGH

    def check(self, noise: dict[str, Any]) -> str | None:
        """What is wrong with a card's ``noise`` mapping, or None."""
        return None

    def from_text(self, text: str) -> dict[str, Any]:
        """The card's ``noise`` mapping from the part of ``usage`` after the colon (ValueError if bad)."""
        raise NotImplementedError

    def describe(self, noise: dict[str, Any]) -> str:
        """A few words for messages: 'real (SIDD) noise'."""
        return f"{self.name} noise"

    def sigma_range(self, noise: dict[str, Any]) -> tuple[float, float] | None:
        """The σ range (0-255 scale) the model was trained for; None without a level."""
        return None

    def with_noise_map(self, x, sigma: float):
        """``x`` (..., C, H, W) with the noise-map input channel(s) appended after its colours."""
        raise RestoreError(f"{self.name} noise has no level to make a noise map of")

    def add_noise(self, pixels: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
        """A noisy copy of uint8/uint16 pixels at level σ, as a noisy file would be."""
        raise RestoreError(f"{self.name} noise cannot be synthesised")


def register_noise_model(cls: type[NoiseModel]) -> type[NoiseModel]:
    """Class decorator: one instance of ``cls`` registered under its ``name`` (a card's ``noise.type``)."""
    NOISE_MODELS.register(cls.name)(cls())
    return cls

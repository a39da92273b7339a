"""Real camera noise, learnt from pairs of noisy and clean photos (SIDD): no level to give, estimate
or synthesise. A card says ``{"type": "real", "dataset": "SIDD"}``."""
from __future__ import annotations

from typing import Any

from restore.noise.base import NoiseModel, register_noise_model


@register_noise_model
class RealNoise(NoiseModel):
    name = "real"
    camera_photos = True
    usage = "real:DATASET"

    def from_text(self, text: str) -> dict[str, Any]:
        if not text:
            raise ValueError("write real noise as real:DATASET, e.g. real:SIDD")
        return {"type": self.name, "dataset": text}

    def describe(self, noise: dict[str, Any]) -> str:
        return f"real ({noise.get('dataset', 'unknown')}) noise"

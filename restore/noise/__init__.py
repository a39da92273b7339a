"""Noise models, keyed by a weight card's ``noise.type``. The card schema, the API's σ handling,
the CLIs and the app ask the model of a card's noise (:func:`noise_model`) instead of assuming
Gaussian noise. A new kind is one module here defining a :class:`NoiseModel` subclass under
``@register_noise_model``, plus its import below."""
from restore.noise.base import NOISE_MODELS, NoiseModel, register_noise_model
from restore.noise import camera, gaussian, real  # noqa: F401  (register)

__all__ = ["NoiseModel", "noise_model", "noise_types", "register_noise_model"]


def noise_model(noise_type: str) -> NoiseModel:
    """The registered model of ``noise_type``; KeyError when there is none."""
    return NOISE_MODELS.get(noise_type)


def noise_types() -> list[str]:
    return NOISE_MODELS.names()

"""SkipAt denoising: Uformer and UniFormer denoisers that skip most self-attention.

Importing the package first makes basicsr importable on today's torchvision,
then registers our networks in BasicSR's ``ARCH_REGISTRY``. ``Denoiser`` (the
Python API) is imported on first use, so ``import restore`` stays light.
"""
from restore import _compat  # noqa: F401  (must run before any basicsr import)
from restore import archs  # noqa: F401  (registers networks)

__version__ = "0.1.0"
__all__ = ["Denoiser"]


def __getattr__(name: str):
    if name == "Denoiser":
        from restore.api import Denoiser
        return Denoiser
    raise AttributeError(f"module 'restore' has no attribute {name!r}")

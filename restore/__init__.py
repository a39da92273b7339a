"""SkipAt denoising: Uformer and UniFormer denoisers that skip most self-attention.

Importing the package first makes basicsr importable on today's torchvision,
then registers our networks in BasicSR's ``ARCH_REGISTRY``.
"""
from restore import _compat  # noqa: F401  (must run before any basicsr import)
from restore import archs  # noqa: F401  (registers networks)

__version__ = "0.1.0"

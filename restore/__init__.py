"""SkipAt denoising: Uformer and UniFormer denoisers that skip most self-attention.

``import restore`` is light and has no side effects: torch loads only when a network, a
dataset or the API is used (``from restore.api import Denoiser``, or ``restore.Denoiser``),
and basicsr only with the training layer, ``restore.models``.
"""
__version__ = "0.2.0"
__all__ = ["Denoiser"]


def __getattr__(name: str):
    if name == "Denoiser":
        from restore.api import Denoiser
        return Denoiser
    raise AttributeError(f"module 'restore' has no attribute {name!r}")

"""SkipAt denoising: Uformer and UniFormer denoisers that skip most self-attention.

``import restore`` is light: torch and basicsr load only when a network, a dataset,
training or the API is used (``from restore.api import Denoiser``, or
``restore.Denoiser``). Importing the package installs one thing: basicsr 1.4.2
imports ``torchvision.transforms.functional_tensor``, which torchvision removed; if
that import is attempted and the module is missing, it resolves to
``torchvision.transforms.functional``, where its one used function now lives.
"""
import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.2.0"
__all__ = ["Denoiser"]

_REMOVED_MODULE = "torchvision.transforms.functional_tensor"


class _FunctionalTensorAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on ``sys.meta_path``: consulted only when no real module was found."""

    def find_spec(self, name, path, target=None):
        return importlib.util.spec_from_loader(name, self) if name == _REMOVED_MODULE else None

    def create_module(self, spec):
        return None  # a plain new module, filled below

    def exec_module(self, module):
        functional = importlib.import_module("torchvision.transforms.functional")
        module.__dict__.update((k, v) for k, v in vars(functional).items() if not k.startswith("__"))


if not any(isinstance(finder, _FunctionalTensorAlias) for finder in sys.meta_path):
    sys.meta_path.append(_FunctionalTensorAlias())


def __getattr__(name: str):
    if name == "Denoiser":
        from restore.api import Denoiser
        return Denoiser
    raise AttributeError(f"module 'restore' has no attribute {name!r}")

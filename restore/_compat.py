"""Make basicsr 1.4.2 importable on current torchvision.

basicsr imports ``torchvision.transforms.functional_tensor``, a module that
torchvision removed; its one used function (``rgb_to_grayscale``) now lives in
``torchvision.transforms.functional``. This is the only place that aliases it.
"""
import sys


def alias_functional_tensor() -> None:
    name = "torchvision.transforms.functional_tensor"
    if name in sys.modules:
        return
    try:
        import torchvision.transforms.functional as functional
    except ImportError:  # torchvision absent: basicsr will report it itself
        return
    sys.modules[name] = functional


alias_functional_tensor()

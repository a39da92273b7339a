"""Building a registered network from a name and a config, after checking it on paper.

A config comes from a file someone else wrote (a weight card, an option file), so it
is first built on PyTorch's ``meta`` device: no memory is allocated, yet every
constructor check runs (unknown keywords, bad presets, wrong types) and the exact
parameter count is known. Only a network under ``max_parameters`` is then built for real.
"""
from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from restore.errors import ConfigError
from restore.registry import ARCH_REGISTRY

# Uformer-B has 51 M parameters and the paper-sized video UniFormer 24 M; a
# config 20x beyond the larger is a mistake, not a model.
MAX_PARAMETERS = 1_000_000_000


def arch_class(name: object) -> type[nn.Module]:
    """The class registered as ``name`` in our ``ARCH_REGISTRY``."""
    import restore.archs  # noqa: F401  (registers our networks)

    if not isinstance(name, str) or name not in ARCH_REGISTRY:
        raise ConfigError(f"arch {name!r} is not a registered network; ours are {', '.join(ARCH_REGISTRY.names())}")
    return ARCH_REGISTRY.get(name)


class SkipInitialisation(TorchFunctionMode):
    """Weight initialisers do nothing, in this thread: on the meta device they only cost time
    (``normal_`` there imports torch._dynamo, two seconds at every start of a command)."""

    RANDOM_FILLS = {torch.Tensor.normal_, torch.Tensor.uniform_, torch.Tensor.erfinv_, torch.Tensor.bernoulli_}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__module__", None) == "torch.nn.init" or func in self.RANDOM_FILLS:
            return args[0] if args else kwargs.get("tensor")
        return func(*args, **(kwargs or {}))


def count_parameters(name: str, config: dict[str, Any]) -> int:
    """The parameter count of ``name(**config)``, found without allocating it."""
    cls = arch_class(name)
    if not isinstance(config, dict) or not all(isinstance(key, str) for key in config):
        raise ConfigError(f"the config of {name} must be a mapping of keyword arguments, got {config!r}")
    check_types(name, config, keyword_defaults(cls))
    try:
        with torch.device("meta"), SkipInitialisation():
            net = cls(**config)
    except (TypeError, ValueError, KeyError, AttributeError, AssertionError, IndexError) as error:
        message = str(error).strip() or type(error).__name__
        raise ConfigError(f"config {config} does not fit {name}: {message}") from None
    return sum(parameter.numel() for parameter in net.parameters())


def keyword_defaults(cls: type[nn.Module]) -> dict[str, Any]:
    """Each constructor keyword's default, over the class and its bases, with the
    ``option_defaults`` of an arch that takes the rest as ``**options``."""
    defaults: dict[str, Any] = {}
    for klass in reversed([klass for klass in cls.__mro__ if issubclass(klass, nn.Module) and klass is not nn.Module]):
        if "__init__" in vars(klass):
            defaults.update({name: parameter.default for name, parameter in inspect.signature(klass).parameters.items()
                             if parameter.default is not inspect.Parameter.empty})
        defaults.update(vars(klass).get("option_defaults", {}))
    return defaults


def type_needed(value: Any, default: Any) -> str | None:
    """What ``value`` should be to stand where ``default`` does, or None when it may."""
    if default is None:
        return None
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "true or false"
    if isinstance(default, int):
        return None if isinstance(value, int) and not isinstance(value, bool) else "a whole number"
    if isinstance(default, float):
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "a number"
    if isinstance(default, str):
        return None if isinstance(value, str) else "a string"
    if isinstance(default, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            return "a list"
        item = next((needed for entry in value if default and (needed := type_needed(entry, default[0]))), None)
        return None if item is None else f"a list of {item.removeprefix('a ')}s"
    return None


def check_types(name: str, config: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Each keyword of ``config`` has the type of its default: a float where a whole number
    belongs would otherwise fail deep inside PyTorch, in PyTorch's words."""
    for key, value in config.items():
        needed = type_needed(value, defaults.get(key))
        if needed:
            raise ConfigError(f"config of {name}: {key} must be {needed}, got {value!r}")


def build_network(name: str, config: dict[str, Any], max_parameters: int = MAX_PARAMETERS) -> nn.Module:
    """``name(**config)`` from the registry, refused before allocation when it is absurdly large."""
    count = count_parameters(name, config)
    if count > max_parameters:
        raise ConfigError(f"config {config} gives {name} {count:,} parameters ({4 * count / 2**30:.1f} GiB in "
                          f"float32), more than the {max_parameters:,} allowed")
    return arch_class(name)(**config)

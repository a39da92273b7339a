"""Our own name -> class registries, so that a weight card or an option file can name a network
or a dataset without inference importing BasicSR.

The decorator is spelt as BasicSR's (``@ARCH_REGISTRY.register()``); ``restore.models``, the
training layer, hands every entry to BasicSR's registry of the same name when it loads, so that
option files' ``type:`` fields find our classes there too.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

Registered = TypeVar("Registered")


class Registry:
    """Objects by name; a name is taken once."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Any] = {}

    def register(self, name: str | None = None) -> Callable[[Registered], Registered]:
        """A decorator that registers a class under ``name`` (default: its ``__name__``)."""
        def add(obj: Registered) -> Registered:
            key = name or obj.__name__
            if self._entries.get(key, obj) is not obj:
                raise ValueError(f"{self.kind} {key!r} is registered twice "
                                 f"({self._entries[key].__module__} and {obj.__module__})")
            self._entries[key] = obj
            return obj
        return add

    def get(self, name: str) -> Any:
        """The object registered as ``name``; KeyError when there is none."""
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def items(self) -> Iterator[tuple[str, Any]]:
        return iter(sorted(self._entries.items()))

    def __contains__(self, name: object) -> bool:
        return name in self._entries


ARCH_REGISTRY = Registry("arch")
DATASET_REGISTRY = Registry("dataset")

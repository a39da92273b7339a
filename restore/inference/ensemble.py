"""Geometric self-ensemble: the mean of a network's outputs over the eight flips and quarter
turns of its input (each turned back), for users who want quality over speed (8x the work).

Denoisers are nearly equivariant to these transforms, so their errors decorrelate across
them and the mean is cleaner: the usual "x8" test-time augmentation of restoration papers.
It wraps a tensor -> tensor function, so it runs per tile inside the tiled path.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

DIHEDRAL = tuple((flip, turns) for flip in (False, True) for turns in range(4))


def transform(x: torch.Tensor, flip: bool, turns: int) -> torch.Tensor:
    """Flip the last axis (when asked), then turn the last two axes ``turns`` quarter turns."""
    if flip:
        x = x.flip(-1)
    return torch.rot90(x, turns, dims=(-2, -1))


def untransform(x: torch.Tensor, flip: bool, turns: int) -> torch.Tensor:
    """The inverse of :func:`transform`."""
    x = torch.rot90(x, -turns, dims=(-2, -1))
    return x.flip(-1) if flip else x


def self_ensemble(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """``fn`` averaged over :data:`DIHEDRAL`; same shape and dtype as ``fn`` returns."""

    def run(x: torch.Tensor) -> torch.Tensor:
        total = None
        for flip, turns in DIHEDRAL:
            out = untransform(fn(transform(x, flip, turns)), flip, turns).float()
            total = out if total is None else total.add_(out)
        return total.div_(len(DIHEDRAL)).to(x.dtype)

    return run

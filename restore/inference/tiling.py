"""Overlapping tiles with feathered blending, for images (2-D) and clips (3-D).

Networks are trained on small patches and large inputs do not fit in memory, so
inference runs the network on overlapping tiles and blends them back. The
same code serves the image path (tile the last two dims of ``(B, C, H, W)``)
and the video path (tile ``T, H, W`` of ``(B, C, T, H, W)``).

Layout follows VRT: tiles start every ``tile - overlap`` and the last tile is
flush with the border, so every tile has the same size and none is padded.
Instead of VRT's hard seam each tile carries a weight that ramps linearly
across its overlaps; the blended result is ``sum(w * y) / sum(w)``, so the
weights that reach any pixel sum to one and an identity network returns its
input (up to float rounding).

On a CPU, ``workers > 1`` runs that many tiles at once, each on one thread, instead of
one tile at a time on every thread: tiles are independent, so nothing waits at the
barriers that split one small tile's every op across cores, and the networks' one-thread
paths (cache-sized row bands, chunked attention) apply. Torch's thread count is one setting
for the whole process, so only one job at a time runs its tiles side by side (it sets the
count to one and puts it back); a job that starts meanwhile (the app serving two users) runs
its tiles in turn and touches no setting, so no job can restore another's value.

Public API::

    tiled_apply(fn, x, tile=128, overlap=10)          # 2-D: (..., H, W)
    tiled_apply(fn, x, tile=(7, 128, 128), overlap=(2, 10, 10))  # 3-D
    tiled_apply(fn, x, tile=512, overlap=32, workers=torch.get_num_threads())
"""
from __future__ import annotations

import contextlib
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, Sequence

import torch

__all__ = ["tile_starts", "ramp_weights", "tile_weight", "tiled_apply"]


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles covering ``range(length)``; the last is flush.

    A tile longer than ``length`` is shrunk to ``length`` (a single tile).
    """
    if length < 1:
        raise ValueError(f"cannot tile an empty dimension (length {length})")
    if tile < 1:
        raise ValueError(f"tile size must be positive, got {tile}")
    if tile >= length:
        return [0]
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, tile) = [0, {tile}), got {overlap}")
    return list(range(0, length - tile, tile - overlap)) + [length - tile]


def ramp_weights(size: int, overlap: int, ramp_low: bool, ramp_high: bool) -> torch.Tensor:
    """1-D blending weight of one tile: 1 inside, a linear ramp over each overlap.

    The ramp spans the nominal ``overlap``; where the flush last tile overlaps
    more, both tiles have weight 1 there and are averaged.

    ``ramp_low``/``ramp_high`` say whether a neighbouring tile overlaps that side;
    a side on the border of the whole input keeps weight 1. Weights are strictly
    positive, so every pixel gets a non-zero total.
    """
    weight = torch.ones(size, dtype=torch.float64)
    width = min(overlap, size // 2)
    if width > 0:
        ramp = torch.arange(1, width + 1, dtype=torch.float64) / (width + 1)
        if ramp_low:
            weight[:width] = ramp
        if ramp_high:
            weight[size - width:] = ramp.flip(0)
    return weight


def tile_weight(
    lengths: Sequence[int], starts: Sequence[int], sizes: Sequence[int], overlaps: Sequence[int]
) -> torch.Tensor:
    """N-d weight of one tile: the outer product of its 1-D ramps."""
    weight = torch.ones((), dtype=torch.float64)
    for length, start, size, overlap in zip(lengths, starts, sizes, overlaps):
        ramp = ramp_weights(size, overlap, ramp_low=start > 0, ramp_high=start + size < length)
        weight = weight.unsqueeze(-1) * ramp
    return weight


def _as_tuple(value: int | Sequence[int], ndim: int, name: str) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * ndim
    value = tuple(int(v) for v in value)
    if len(value) != ndim:
        raise ValueError(f"{name} has {len(value)} entries but {ndim} dims are tiled")
    return value


_SIDE_BY_SIDE = threading.Lock()  # held by the one job whose tiles run side by side


@contextlib.contextmanager
def side_by_side_tiles() -> Iterator[bool]:
    """True, with torch's intra-op pool at one thread until the block ends, for the one job at a
    time whose tiles may run side by side in Python threads; False, changing nothing, for others."""
    if not _SIDE_BY_SIDE.acquire(blocking=False):
        yield False
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield True
    finally:
        torch.set_num_threads(saved)
        _SIDE_BY_SIDE.release()


def tiled_apply(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    tile: int | Sequence[int] = 128,
    overlap: int | Sequence[int] = 10,
    batch_size: int = 1,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> torch.Tensor:
    """Run ``fn`` on overlapping tiles of ``x`` and blend the outputs.

    Args:
        fn: maps a tile ``(..., *tile_shape)`` to an output of the same trailing
            shape (leading dims, e.g. channels, may change). Tiles are stacked
            along dim 0 when ``batch_size > 1``.
        x: input whose trailing ``len(tile)`` dims are tiled. An int ``tile``
            tiles the last two dims (images).
        tile: tile size per tiled dim; a dim shorter than its tile is one tile.
        overlap: overlap per tiled dim, smaller than the tile.
        batch_size: how many tiles go through ``fn`` at once.
        progress: called as ``progress(done, total)`` after each batch.
        workers: batches run at once, each on one torch thread (CPU); with fewer
            batches than workers, one worker, or another job's tiles already running side
            by side, batches run in turn on every thread.

    Returns:
        The blended output, on ``x``'s device, in ``fn``'s output dtype.
    """
    ndim = 2 if isinstance(tile, int) else len(tile)
    if x.dim() < ndim:
        raise ValueError(f"input has {x.dim()} dims, fewer than the {ndim} tiled dims")
    tiles = _as_tuple(tile, ndim, "tile")
    overlaps = _as_tuple(overlap, ndim, "overlap")
    lengths = tuple(x.shape[-ndim:])
    sizes = tuple(min(t, n) for t, n in zip(tiles, lengths))
    starts_per_dim = [tile_starts(n, t, o) for n, t, o in zip(lengths, tiles, overlaps)]
    all_starts = list(itertools.product(*starts_per_dim))
    groups = [all_starts[first:first + batch_size] for first in range(0, len(all_starts), batch_size)]

    def window(starts: Sequence[int]) -> tuple[slice, ...]:
        return (Ellipsis,) + tuple(slice(s, s + size) for s, size in zip(starts, sizes))

    inference = torch.is_inference_mode_enabled()  # thread-local: the workers take it on

    def run(group: list[tuple[int, ...]]) -> torch.Tensor:
        with torch.inference_mode(inference):
            return fn(torch.cat([x[window(s)] for s in group], dim=0))

    acc_dtype = x.dtype if x.is_floating_point() else torch.float32
    output: torch.Tensor | None = None
    total_weight = torch.zeros(lengths, dtype=acc_dtype, device=x.device)
    workers = min(workers, len(groups))
    with contextlib.ExitStack() as stack:
        if workers > 1 and stack.enter_context(side_by_side_tiles()):
            pool = ThreadPoolExecutor(workers)
            # on an error or Ctrl-C, drop the tiles not started instead of finishing them all
            stack.callback(pool.shutdown, wait=True, cancel_futures=True)
            results = pool.map(run, groups)
        else:
            results = map(run, groups)
        for done, (group, result) in enumerate(zip(groups, results), start=1):
            if tuple(result.shape[-ndim:]) != sizes:
                raise ValueError(
                    f"fn changed the tiled shape: got {tuple(result.shape[-ndim:])}, expected {sizes}"
                )
            for starts, out in zip(group, result.chunk(len(group), dim=0)):
                weight = tile_weight(lengths, starts, sizes, overlaps).to(x.device, acc_dtype)
                if output is None:
                    shape = (x.shape[0],) + tuple(out.shape[1:-ndim]) + lengths
                    output = torch.zeros(shape, dtype=acc_dtype, device=x.device)
                output[window(starts)] += out.to(acc_dtype) * weight
                total_weight[window(starts)] += weight
            if progress is not None:
                progress(min(done * batch_size, len(all_starts)), len(all_starts))
    assert output is not None
    return (output / total_weight).to(result.dtype)

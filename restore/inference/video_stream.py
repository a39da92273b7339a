"""Streaming, tiled MIMO inference: any-length video in, same frames out, bounded memory.

The network maps a clip of ``clip_len`` frames to as many denoised frames
(MIMO). A video is cut into temporal windows of ``clip_len`` frames that start
every ``clip_len - clip_overlap`` frames, the last one flush with the end (the
layout of ``restore.inference.tiling``); each window is cut spatially into overlapping
``tile x tile`` patches with ``restore.inference.tiling.tiled_apply``, so the network
sees 3-D patches of ``clip_len x tile x tile``. Overlaps are blended with the
same linear ramps in time as in space, so no seam shows in either.

Frames are read from an iterator and yielded as soon as no later window can
touch them: at any moment only about ``2 * clip_len`` input frames and
``clip_len`` accumulators are held, whatever the video's length. A video
shorter than ``clip_len`` is mirrored in time up to ``clip_len`` (the length
the network was trained on) and cropped back.

A cascade video model (``image_stage``) first runs its image model on each whole frame,
once, as the frame is read (with the image model's own 2-D tiling), and keeps that
output beside the frame while it is needed; its clips are then (noisy, image output)
frames, so overlapping clips and tiles reuse the one result per frame.
"""
from __future__ import annotations

from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from restore.inference.pixels import check_values
from restore.inference.tiling import ramp_weights, tiled_apply
from restore.io.clip_frames import mirror_indices

Tensor = torch.Tensor
ClipFn = Callable[[Tensor], Tensor]  # (B, T, 3, H, W) in [0, 1] -> same shape (a cascade: (B, T, 6, H, W) in)
FrameFn = Callable[[Tensor], Tensor]  # (3, H, W) in [0, 1] -> (3, H, W): an image stage on one whole frame


def to_tensor(image: np.ndarray) -> Tensor:
    """``(H, W, 3)`` uint8 RGB -> ``(3, H, W)`` float32 in [0, 1]; float32 frames are taken as they are
    (evaluation feeds unclipped noisy frames, as the FastDVDnet/VRT protocol does)."""
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    return tensor.float().div_(255) if image.dtype == np.uint8 else tensor.clone()


def to_uint8(frame: Tensor) -> np.ndarray:
    """``(3, H, W)`` float -> ``(H, W, 3)`` uint8, rounded and clipped."""
    return frame.clamp(0, 1).mul(255).round_().byte().permute(1, 2, 0).numpy()


class _FrameSource:
    """Reads frames on demand, checks they agree, and remembers only what is still needed;
    with an ``image_stage`` also that stage's output for each frame, computed once on reading."""

    def __init__(self, frames: Iterable[np.ndarray], image_stage: FrameFn | None = None,
                 unclipped: bool = False) -> None:
        self.iterator = iter(frames)
        self.top = np.inf if unclipped else 1.0  # float frames beyond [0, 1] only when asked for
        self.image_stage = image_stage
        self.frames: dict[int, np.ndarray] = {}
        self.staged: dict[int, Tensor] = {}
        self.count = 0
        self.exhausted = False
        self.shape: tuple[int, ...] | None = None

    def fill(self, wanted: int) -> None:
        while not self.exhausted and self.count < wanted:
            try:
                image = next(self.iterator)
            except StopIteration:
                self.exhausted = True
                break
            if (not isinstance(image, np.ndarray) or image.dtype not in (np.uint8, np.float32)
                    or image.ndim != 3 or image.shape[2] != 3):
                raise ValueError(f"frame {self.count} must be an (H, W, 3) uint8 (or float32 in [0, 1]) RGB array")
            if image.dtype == np.float32:
                check_values(image, self.top, f"frame {self.count}")
            if self.shape is None:
                self.shape = image.shape
            elif image.shape != self.shape:
                raise ValueError(f"frame {self.count} has shape {image.shape}, the video started with {self.shape}")
            self.frames[self.count] = image  # kept as decoded (uint8): 4x smaller than floats
            if self.image_stage is not None:
                with torch.inference_mode():
                    self.staged[self.count] = self.image_stage(to_tensor(image))
            self.count += 1

    def clip(self, start: int, length: int) -> Tensor:
        """``(length, 3, H, W)``, or for a cascade ``(length, 6, H, W)``: each noisy frame, then its image output."""
        frames = [to_tensor(self.frames[i]) for i in range(start, start + length)]
        if self.image_stage is not None:
            frames = [torch.cat([frame, self.staged[i]]) for i, frame in enumerate(frames, start)]
        return torch.stack(frames)

    def forget_before(self, index: int) -> None:
        for old in [i for i in self.frames if i < index]:
            del self.frames[old]
            self.staged.pop(old, None)


def denoise_frames(
    model: ClipFn,
    frames: Iterable[np.ndarray],
    tile: int = 128,
    tile_overlap: int = 10,
    clip_len: int = 7,
    clip_overlap: int = 2,
    tile_batch: int = 1,
    workers: int = 1,
    image_stage: FrameFn | None = None,
    unclipped: bool = False,
) -> Iterator[np.ndarray]:
    """Denoise a stream of ``(H, W, 3)`` uint8 RGB frames; yield as many uint8 frames, in order.

    Args:
        model: maps ``(B, T, 3, H, W)`` float in [0, 1] to the same shape (for a
            loaded model: ``Denoiser.network_fn(sigma)``; a bare network works
            too under ``torch.inference_mode()``).
        frames: any iterable of frames, e.g. a decoder; it is read lazily.
        tile, tile_overlap: spatial patch size and overlap in pixels.
        clip_len, clip_overlap: temporal window and overlap in frames.
        tile_batch: spatial patches per network call.
        workers: patch batches run at once, each on one CPU thread (see ``tiled_apply``).
        image_stage: a cascade's image model on one whole frame (``Denoiser.image_stage_fn``),
            run once per frame; ``model`` then gets (noisy, image output) clips.
        unclipped: accept float32 frames outside [0, 1] (still finite): the evaluation protocol
            of FastDVDnet and VRT feeds noisy frames before clipping.
    """
    if clip_len < 1 or not 0 <= clip_overlap < clip_len:
        raise ValueError(f"need clip_len >= 1 and 0 <= clip_overlap < clip_len, got {clip_len}, {clip_overlap}")
    if tile < 1 or not 0 <= tile_overlap < tile:
        raise ValueError(f"need tile >= 1 and 0 <= tile_overlap < tile, got {tile}, {tile_overlap}")
    stride = clip_len - clip_overlap
    source = _FrameSource(frames, image_stage, unclipped)
    sums: dict[int, Tensor] = {}
    weights: dict[int, float] = {}
    emitted = 0

    def run_window(start: int, length: int, ramp_low: bool, ramp_high: bool) -> None:
        clip = source.clip(start, length)
        if length < clip_len:  # short video: mirror in time to the trained length
            clip = clip[mirror_indices(length, clip_len)]
        with torch.inference_mode():
            out = tiled_apply(model, clip[None], tile=(tile, tile), overlap=tile_overlap,
                              batch_size=tile_batch, workers=workers)[0, :length]
        ramp = ramp_weights(length, clip_overlap, ramp_low, ramp_high)
        for offset in range(length):
            index, weight = start + offset, float(ramp[offset])
            if index in sums:
                sums[index] += out[offset] * weight
                weights[index] += weight
            else:
                sums[index] = out[offset] * weight
                weights[index] = weight

    def release(upto: int) -> Iterator[np.ndarray]:
        nonlocal emitted
        while emitted < upto:
            yield to_uint8(sums.pop(emitted) / weights.pop(emitted))
            emitted += 1
        source.forget_before(upto)

    start = 0
    while True:
        source.fill(start + clip_len + 1)  # one frame of look-ahead says whether more follow
        if source.count > start + clip_len:  # a regular window with a neighbour after it
            run_window(start, clip_len, ramp_low=start > 0, ramp_high=True)
            start += stride
            # the final, flush window starts at or after count - clip_len
            yield from release(min(start, source.count - clip_len))
            continue
        total = source.count
        if total == 0:
            raise ValueError("the video has no frames")
        last = max(total - clip_len, 0)
        run_window(last, total - last, ramp_low=last > 0, ramp_high=False)
        yield from release(total)
        return

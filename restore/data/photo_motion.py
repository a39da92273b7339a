"""Video clips made on the fly from still photos: a camera moving across one photo.

Training a video denoiser needs clips, but photos are what most people have (and,
for our published weights, all that the data rule allows). Each clip is a fresh
draw: a random photo region, a random scale no larger than the photo's own
(enlarging would erase the fine detail a denoiser must learn to keep), a constant
velocity in a random direction (zero for a still shot, as from a tripod), and a
slow zoom. Frames are rendered with sub-pixel accuracy, so the motion is smooth
and every frame of a still shot is the same image.

Compared with the fixed pans of ``restore.scripts.make_sample_clips`` (a few
hundred frames cut once), this gives every training sample new content and new
motion, as the image recipe's random crops do for the image models.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

import cv2
import numpy as np

from restore.data.patch_ops import draw_scale, parse_scale
from restore.errors import DatasetError


@dataclass(frozen=True)
class MotionRange:
    """What a clip may do; speeds are in output pixels per frame."""

    max_speed: float = 4.0
    max_zoom: float = 0.01                   # relative change of scale per frame
    scale: tuple[float, float] = (0.5, 1.0)  # output pixels per photo pixel

    def __post_init__(self) -> None:
        low, high = self.scale
        finite = all(math.isfinite(v) for v in (low, high, self.max_speed, self.max_zoom))
        if not finite or not (0 < low <= high <= 1) or self.max_speed < 0 or not 0 <= self.max_zoom < 0.2:
            raise DatasetError(
                f"photo_motion needs 0 < scale low <= high <= 1, max_speed >= 0 and 0 <= max_zoom < 0.2; "
                f"got scale {list(self.scale)}, max_speed {self.max_speed}, max_zoom {self.max_zoom}")

    @classmethod
    def from_options(cls, spec: dict) -> "MotionRange":
        """From an option file's ``photo_motion`` mapping; a misspelt key is an error, not a default."""
        unknown = sorted(set(spec) - {"dataroot", "max_speed", "max_zoom", "scale"})
        if unknown:
            raise DatasetError(f"photo_motion: unknown key(s) {', '.join(unknown)}; "
                               "expected dataroot, max_speed, max_zoom, scale")
        scale = parse_scale(spec.get("scale", (0.5, 1.0)), "photo_motion")
        try:
            return cls(float(spec.get("max_speed", 4.0)), float(spec.get("max_zoom", 0.01)), scale)
        except (TypeError, ValueError) as error:
            raise DatasetError(f"photo_motion: max_speed, max_zoom and scale must be numbers ({error})") from None


def _path_offsets(velocity: float, scales: np.ndarray) -> np.ndarray:
    """Centre offsets in photo pixels: ``velocity`` output pixels per frame at each frame's scale."""
    steps = np.concatenate([[0.0], velocity / scales[1:]])
    return np.cumsum(steps)


def _start_range(length: int, half: np.ndarray, offsets: np.ndarray) -> tuple[float, float]:
    """Where the path may start on one axis so that every window stays inside the photo."""
    return float(np.max(half - offsets)), float(np.min(length - half - offsets))


def _whole_pixel(low: float, high: float, rng: random.Random) -> float:
    """A whole number in [low, high] where there is one, so that a 1:1 window needs no resampling."""
    first, last = math.ceil(low), math.floor(high)
    return float(rng.randint(first, last)) if first <= last else low


def motion_clip(photo: np.ndarray, frames: int, size: int, rng: random.Random, motion: MotionRange,
                still: bool = False) -> np.ndarray:
    """``frames`` uint8 frames of ``size x size`` from a camera moving over ``photo`` (H x W x 3 uint8).

    ``still``: no motion and no zoom, every frame the same crop. A photo too small for the
    drawn path gets a slower camera, and at last a still one, so small photos give more still
    shots than asked for; one smaller than ``size`` raises DatasetError."""
    height, width = photo.shape[:2]
    scale = draw_scale(motion.scale, size, height, width, rng)  # the first window must fit
    source = photo
    if scale < 1:  # shrink once with area averaging (no aliasing), then move at about 1:1
        source = cv2.resize(photo, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        height, width = source.shape[:2]
    zoom = 0.0 if still else rng.uniform(-motion.max_zoom, motion.max_zoom)
    shrink = (1 - abs(zoom)) ** np.arange(frames)   # 1, then smaller: never enlarged
    scales = shrink if zoom < 0 else shrink[::-1].copy()  # zoom out from 1:1, or in towards it
    speed = 0.0 if still else rng.uniform(0, motion.max_speed)
    angle = rng.uniform(0, 2 * math.pi)
    # a photo too small for the whole path gets a slower camera, then a still one
    for speed, scales in ((speed, scales), (speed / 2, scales), (speed / 4, scales), (0.0, scales),
                          (0.0, np.ones(frames))):
        half = size / (2 * scales)
        offsets_y = _path_offsets(speed * math.sin(angle), scales)
        offsets_x = _path_offsets(speed * math.cos(angle), scales)
        (low_y, high_y), (low_x, high_x) = _start_range(height, half, offsets_y), _start_range(width, half, offsets_x)
        if low_y <= high_y and low_x <= high_x:
            break
    else:
        raise DatasetError(f"a photo of {height}x{width} is smaller than the clip size {size}")
    # whole-pixel window corners: a frame at scale 1 (every frame of a still shot, and the
    # first of a clip that zooms out) is an exact crop of the (shrunk) photo
    corner = size / 2
    start_y = _whole_pixel(low_y - corner, high_y - corner, rng) + corner
    start_x = _whole_pixel(low_x - corner, high_x - corner, rng) + corner
    clip = []
    for index in range(frames):
        s = float(scales[index])
        centre_y, centre_x = start_y + offsets_y[index], start_x + offsets_x[index]
        matrix = np.array([[s, 0, corner - s * centre_x], [0, s, corner - s * centre_y]])
        clip.append(cv2.warpAffine(source, matrix, (size, size), flags=cv2.INTER_CUBIC,
                                   borderMode=cv2.BORDER_REFLECT))
    return np.stack(clip)

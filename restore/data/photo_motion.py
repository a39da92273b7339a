"""Video clips made on the fly from still photos: a camera moving across one photo.

Training a video denoiser needs clips, but photos are what most people have (and,
for our published weights, all that the data rule allows). Each clip is a fresh
draw: a random photo region, a random scale no larger than the photo's own
(enlarging would erase the fine detail a denoiser must learn to keep), a constant
velocity in a random direction (zero for a still shot, as from a tripod), a
slow zoom, and optionally a slow roll (``max_rotation``). Frames are rendered with
sub-pixel accuracy, so the motion is smooth and every frame of a still shot is the
same image.

A camera over one photo moves everything together, which real footage rarely does:
``sprites`` adds up to that many objects that move on their own across the moving
background, each an elliptical crop of another photo (soft-edged, so it has no
straight seams to learn) with its own velocity and spin. In a still shot they stand
still too.

Compared with the fixed pans of ``restore.scripts.make_sample_clips`` (a few
hundred frames cut once), this gives every training sample new content and new
motion, as the image recipe's random crops do for the image models.
"""
from __future__ import annotations

import math
import random
from collections.abc import Sequence
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
    max_rotation: float = 0.0                # degrees per frame that the camera (and each sprite) may turn
    sprites: int = 0                         # at most this many objects moving on their own
    sprite_size: tuple[float, float] = (0.2, 0.5)  # a sprite's side, as a share of the clip's

    def __post_init__(self) -> None:
        low, high = self.scale
        small, large = self.sprite_size
        finite = all(math.isfinite(v) for v in (low, high, self.max_speed, self.max_zoom, self.max_rotation,
                                                small, large))
        if (not finite or not (0 < low <= high <= 1) or self.max_speed < 0 or not 0 <= self.max_zoom < 0.2
                or not 0 <= self.max_rotation <= 5 or isinstance(self.sprites, bool)
                or not isinstance(self.sprites, int) or not 0 <= self.sprites <= 8 or not 0 < small <= large <= 1):
            raise DatasetError(
                f"photo_motion needs 0 < scale low <= high <= 1, max_speed >= 0, 0 <= max_zoom < 0.2, "
                f"0 <= max_rotation <= 5 (degrees per frame), sprites a whole number in 0-8 and "
                f"0 < sprite_size low <= high <= 1; got scale {list(self.scale)}, max_speed {self.max_speed}, "
                f"max_zoom {self.max_zoom}, max_rotation {self.max_rotation}, sprites {self.sprites}, "
                f"sprite_size {list(self.sprite_size)}")

    @classmethod
    def from_options(cls, spec: dict) -> "MotionRange":
        """From an option file's ``photo_motion`` mapping; a misspelt key is an error, not a default."""
        keys = ("dataroot", "max_speed", "max_zoom", "scale", "max_rotation", "sprites", "sprite_size")
        unknown = sorted(set(spec) - set(keys))
        if unknown:
            raise DatasetError(f"photo_motion: unknown key(s) {', '.join(unknown)}; expected {', '.join(keys)}")
        scale = parse_scale(spec.get("scale", (0.5, 1.0)), "photo_motion")
        sprite_size = spec.get("sprite_size", (0.2, 0.5))
        if not isinstance(sprite_size, (list, tuple)) or len(sprite_size) != 2:
            raise DatasetError(f"photo_motion: sprite_size must be [low, high], got {sprite_size!r}")
        try:
            return cls(float(spec.get("max_speed", 4.0)), float(spec.get("max_zoom", 0.01)), scale,
                       float(spec.get("max_rotation", 0.0)), spec.get("sprites", 0),
                       (float(sprite_size[0]), float(sprite_size[1])))
        except (TypeError, ValueError) as error:
            raise DatasetError(f"photo_motion: max_speed, max_zoom, max_rotation, scale and sprite_size must be "
                               f"numbers ({error})") from None


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


def _rotation(scale: float, degrees: float) -> np.ndarray:
    """The 2 x 2 linear part of a warp that scales by ``scale`` and turns by ``degrees``."""
    angle = math.radians(degrees)
    return scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])


def motion_clip(photo: np.ndarray, frames: int, size: int, rng: random.Random, motion: MotionRange,
                still: bool = False, sprite_photos: Sequence[np.ndarray] = ()) -> np.ndarray:
    """``frames`` uint8 frames of ``size x size`` from a camera moving over ``photo`` (H x W x 3 uint8),
    with an object cut from each of ``sprite_photos`` moving on its own.

    ``still``: no motion, zoom or turn, every frame the same crop (sprites included). A photo
    too small for the drawn path gets a slower camera, and at last a still one, so small photos
    give more still shots than asked for; one smaller than ``size`` raises DatasetError."""
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
    spin = rng.uniform(-motion.max_rotation, motion.max_rotation) if motion.max_rotation and not still else 0.0
    # a photo too small for the whole path gets a slower camera, then a still one
    for speed, scales, spin in ((speed, scales, spin), (speed / 2, scales, spin), (speed / 4, scales, spin),
                                (0.0, scales, spin), (0.0, np.ones(frames), 0.0)):
        turns = np.radians(spin * np.arange(frames))
        half = size / (2 * scales) * (np.abs(np.cos(turns)) + np.abs(np.sin(turns)))  # a turned window's reach
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
        linear = _rotation(float(scales[index]), spin * index)
        centre = np.array([start_x + offsets_x[index], start_y + offsets_y[index]])
        matrix = np.hstack([linear, (corner - linear @ centre)[:, None]])
        clip.append(cv2.warpAffine(source, matrix, (size, size), flags=cv2.INTER_CUBIC,
                                   borderMode=cv2.BORDER_REFLECT))
    clip = np.stack(clip)
    for sprite_photo in sprite_photos:
        clip = _paste_sprite(clip, sprite_photo, rng, motion, still)
    return clip


def _paste_sprite(clip: np.ndarray, photo: np.ndarray, rng: random.Random, motion: MotionRange,
                  still: bool) -> np.ndarray:
    """``clip`` with a soft-edged ellipse cut from ``photo`` crossing it at a constant velocity and spin."""
    frames, size = clip.shape[0], clip.shape[1]
    side = rng.uniform(*motion.sprite_size) * size
    stretch = math.sqrt(rng.uniform(0.5, 2.0))  # from a lying to a standing ellipse
    height = max(2, min(round(side * stretch), photo.shape[0]))
    width = max(2, min(round(side / stretch), photo.shape[1]))
    top, left = rng.randint(0, photo.shape[0] - height), rng.randint(0, photo.shape[1] - width)
    sprite = np.ascontiguousarray(photo[top:top + height, left:left + width]).astype(np.float32)
    mask = np.zeros((height, width), np.uint8)
    cv2.ellipse(mask, (((width - 1) / 2, (height - 1) / 2), (width - 1, height - 1), 0.0), 255, -1, cv2.LINE_AA)
    start = np.array([rng.uniform(0, size), rng.uniform(0, size)])
    speed = 0.0 if still else rng.uniform(0, motion.max_speed)
    heading = rng.uniform(0, 2 * math.pi)
    velocity = speed * np.array([math.cos(heading), math.sin(heading)])
    spin = 0.0 if still else rng.uniform(-motion.max_rotation, motion.max_rotation)
    pivot = np.array([(width - 1) / 2, (height - 1) / 2])
    out = []
    for index, frame in enumerate(clip):
        linear = _rotation(1.0, spin * index)
        matrix = np.hstack([linear, (start + velocity * index - linear @ pivot)[:, None]])
        colour = cv2.warpAffine(sprite, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        alpha = cv2.warpAffine(mask.astype(np.float32) / 255, matrix, (size, size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT)[..., None]
        blended = frame.astype(np.float32) * (1 - alpha) + colour * alpha
        out.append(np.clip(np.rint(blended), 0, 255).astype(np.uint8))
    return np.stack(out)

"""The photographs that ship inside ``skimage.data``, split once into training and
held-out photos, and the synthetic camera pans and zooms that turn a photo into a clip.

Held-out photos never enter training; benchmarks and validation use them only.
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

TRAIN_PHOTOS = ("astronaut", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")
EVAL_COLOR = ("chelsea", "motorcycle_left")
EVAL_GRAY = ("camera", "coins", "moon", "clock", "brick", "grass", "gravel", "page", "text")
EVAL_PHOTOS = EVAL_COLOR + EVAL_GRAY
CLIP_FRAMES = 40  # frames per pan path: training pans and test pans move alike per frame


def load_photo(name: str) -> np.ndarray:
    """An image from skimage.data as shipped (H x W gray or H x W x C uint8)."""
    from skimage import data

    if name == "motorcycle_left":
        image = data.stereo_motorcycle()[0]
    else:
        loader: Callable[[], np.ndarray] | None = getattr(data, name, None)
        if loader is None or not callable(loader):
            raise ValueError(f"skimage.data has no image named {name!r}")
        image = np.asarray(loader())
    if image.dtype != np.uint8:
        raise ValueError(f"skimage.data.{name} is {image.dtype}, expected uint8")
    return image


def to_rgb(image: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8: gray photos get three equal channels, alpha is dropped."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


def load_rgb(name: str) -> np.ndarray:
    """An H x W x 3 uint8 photo from skimage.data."""
    return to_rgb(load_photo(name))


def pan_zoom_clip(image: np.ndarray, frames: int, height: int, width: int, seed: int = 0,
                  path_frames: int | None = None) -> list[np.ndarray]:
    """``frames`` RGB uint8 frames of ``height x width`` following a random pan and zoom.

    The path is covered in ``path_frames`` frames (default ``frames``); with more, the clip
    is the path's start, so the motion per frame does not depend on the clip's length.
    """
    path = max(path_frames or frames, frames)
    rng = np.random.default_rng(seed)
    img_h, img_w = image.shape[:2]
    aspect = width / height
    max_box_h = min(img_h, img_w / aspect)
    zoom_start, zoom_end = rng.uniform(0.55, 0.9, size=2)
    clip = []
    centres = rng.uniform(0.3, 0.7, size=(2, 2))  # (start, end) x (y, x) as fractions
    for index in range(frames):
        alpha = index / max(path - 1, 1)
        box_h = max_box_h * ((1 - alpha) * zoom_start + alpha * zoom_end)
        box_w = box_h * aspect
        cy, cx = (1 - alpha) * centres[0] + alpha * centres[1]
        cy = np.clip(cy * img_h, box_h / 2, img_h - box_h / 2)
        cx = np.clip(cx * img_w, box_w / 2, img_w - box_w / 2)
        # affine map from the crop box to the frame: sub-pixel motion, no rounding jumps
        scale = width / box_w
        matrix = np.array([[scale, 0, width / 2 - scale * cx], [0, scale, height / 2 - scale * cy]])
        frame = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)
        clip.append(frame)
    return clip

"""Training-patch operations shared by the paired and synthetic-noise datasets."""
import math
import random

import cv2
import numpy as np
import torch
from einops import rearrange

from restore.errors import DatasetError


def random_crop_box(height: int, width: int, size: int, rng: random.Random) -> tuple[int, int]:
    """Top-left corner of a size x size window inside height x width."""
    return rng.randint(0, height - size), rng.randint(0, width - size)


def center_crop_box(height: int, width: int, size: int) -> tuple[int, int]:
    return (height - size) // 2, (width - size) // 2


def crop(image: np.ndarray, top: int, left: int, size: int) -> np.ndarray:
    return image[top:top + size, left:left + size]


def parse_scale(value, where: str) -> tuple[float, float]:
    """An option file's ``scale: [low, high]`` (output pixels per image pixel), checked."""
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
            or not 0 < value[0] <= value[1] <= 1):
        raise DatasetError(f"{where}: scale must be [low, high] with 0 < low <= high <= 1 (output pixels "
                           f"per image pixel), got {value!r}")
    return float(value[0]), float(value[1])


def draw_scale(scale: tuple[float, float], size: int, height: int, width: int, rng: random.Random) -> float:
    """A shrink factor drawn from ``scale``, raised where a ``size`` window of the shrunk image
    would not fit; DatasetError for an image smaller than ``size``."""
    factor = max(rng.uniform(*scale), size / min(height, width))
    if factor > 1:
        raise DatasetError(f"an image of {height}x{width} is smaller than the crop size {size}")
    return factor


def scaled_random_crop(image: np.ndarray, size: int, scale: tuple[float, float],
                       rng: random.Random) -> np.ndarray:
    """A random ``size x size`` crop of ``image`` (H x W x C) shrunk by a factor drawn from ``scale``
    (see ``draw_scale``): a window of ``size / factor`` pixels, area-averaged down to ``size``, so
    each crop holds more texture and nothing aliases."""
    height, width = image.shape[:2]
    factor = draw_scale(scale, size, height, width, rng)
    window = min(round(size / factor), height, width)
    top, left = random_crop_box(height, width, window, rng)
    region = crop(image, top, left, window)
    if window == size:
        return region
    shrunk = cv2.resize(np.ascontiguousarray(region), (size, size), interpolation=cv2.INTER_AREA)
    return shrunk.reshape(size, size, *image.shape[2:])  # cv2 drops a single channel's axis


def dihedral(image: np.ndarray, mode: int) -> np.ndarray:
    """One of the 8 flip/rot90 variants of an HxWxC image (mode 0 is identity)."""
    if not 0 <= mode < 8:
        raise ValueError(f"augmentation mode must be in 0..7, got {mode}")
    if mode >= 4:
        image = image[:, ::-1]
    return np.rot90(image, k=mode % 4, axes=(0, 1))


def to_chw_tensor(image: np.ndarray) -> torch.Tensor:
    """HxWxC float array -> CxHxW float32 tensor (a contiguous copy)."""
    return torch.from_numpy(np.ascontiguousarray(rearrange(image, "h w c -> c h w"), dtype=np.float32))


def paired_patch(gt: np.ndarray, lq: np.ndarray, size: int | None, rng: random.Random,
                 augment: bool) -> tuple[np.ndarray, np.ndarray]:
    """The same random crop (skipped when size is None) and flip/rot90 of both images."""
    if size is not None:
        top, left = random_crop_box(gt.shape[0], gt.shape[1], size, rng)
        gt, lq = crop(gt, top, left, size), crop(lq, top, left, size)
    if augment:
        mode = rng.randrange(8)
        gt, lq = dihedral(gt, mode), dihedral(lq, mode)
    return gt, lq


def sample_dict(gt: np.ndarray, lq: np.ndarray, gt_path: str, lq_path: str) -> dict:
    """The sample layout BasicSR models expect."""
    return {"lq": to_chw_tensor(lq), "gt": to_chw_tensor(gt), "lq_path": lq_path, "gt_path": gt_path}


def crop_options(opt: dict) -> tuple[bool, int | None, bool]:
    """``(train, gt_size, augment)`` from a dataset's BasicSR options: training crops are random
    and augmented by default, validation crops centred (``gt_size: ~`` keeps whole images)."""
    train = opt.get("phase", "train") == "train"
    return train, opt.get("gt_size"), bool(opt.get("augment", train))

"""Synthetic noise on any folder of clean images: Gaussian, or camera noise.

This is how users without SIDD train, and how our own weights are trained. Gaussian noise is
``clean + N(0, sigma/255)`` with sigma fixed or drawn from a range, clipped to [0, 1] or not,
and optionally rounded to 8-bit levels; camera noise (``noise_model: camera``) runs each crop
through :class:`restore.noise.camera.CameraNoise`. Validation noise is seeded per image, so
validation numbers repeat from run to run and do not depend on the order of images.
"""
import random

import numpy as np
from torch.utils import data

from restore.errors import DatasetError
from restore.noise.camera import CameraNoise
from restore.data.dead_leaves import DeadLeaves, photo_palette
from restore.data.image_files import image_size, list_images, read_rgb_float, require_min_size
from restore.data.patch_ops import (
    center_crop_box,
    crop,
    crop_options,
    dihedral,
    parse_scale,
    random_crop_box,
    sample_dict,
    scaled_random_crop,
)
from restore.noise.gaussian import add_gaussian_noise, draw_sigma
from restore.registry import DATASET_REGISTRY


def skimage_images(names: list[str]) -> list[np.ndarray]:
    """Real photos shipped inside scikit-image (no download), as float32 RGB in [0, 1]."""
    from restore.data.photos import load_rgb

    try:
        return [load_rgb(name).astype(np.float32) / 255.0 for name in names]
    except ValueError as error:
        raise DatasetError(str(error)) from None


def to_gray_rgb(image: np.ndarray) -> np.ndarray:
    """Rec. 601 luma in 3 equal channels: gray photos are common inputs (scans, the
    held-out set), and the colour-only training photos would never show one. Any leading
    dimensions: an image or a whole clip."""
    luma = image @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.repeat(luma[..., None], 3, axis=-1).astype(np.float32)


def dead_leaves_options(opt: dict, train: bool, gt_size: int | None) -> tuple[DeadLeaves | None, float]:
    """``(generator, mix)`` from a dataset's ``dead_leaves`` option; ``(None, 0)`` without one."""
    leaves = opt.get("dead_leaves")
    if not leaves:
        return None, 0.0
    where = f"dataset {opt.get('name')!r}: dead_leaves"
    if not isinstance(leaves, dict) or "mix" not in leaves:
        raise DatasetError(f"{where} must be a mapping with a mix share, e.g. {{mix: 0.5}}")
    if not train or gt_size is None:
        raise DatasetError(f"{where} needs a training dataset with gt_size")
    mix = leaves["mix"]
    if isinstance(mix, bool) or not isinstance(mix, (int, float)) or not 0 <= mix <= 1:
        raise DatasetError(f"{where}: mix must be a share in [0, 1], got {mix!r}")
    settings = {k: tuple(v) if isinstance(v, list) else v for k, v in leaves.items() if k != "mix"}
    try:
        return DeadLeaves(**settings), float(mix)
    except (TypeError, ValueError) as error:
        raise DatasetError(f"{where}: {error}") from None


def gaussian_share(opt: dict, camera: CameraNoise | None) -> float:
    """A camera-noise dataset's ``gaussian_share``: the share of training crops that get Gaussian
    noise of ``sigma`` instead (0 when not set)."""
    share = opt.get("gaussian_share", 0)
    where = f"dataset {opt.get('name')!r}: gaussian_share"
    if not share:
        return 0.0
    if camera is None:
        raise DatasetError(f"{where} mixes Gaussian crops into camera noise: it needs noise_model: camera")
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
        raise DatasetError(f"{where} must be a share between 0 and 1, got {share!r}")
    if "sigma" not in opt:
        raise DatasetError(f"{where} needs sigma (a number or [low, high]) for its Gaussian crops")
    return float(share)


def camera_options(opt: dict) -> CameraNoise | None:
    """The camera noise model of a dataset's ``noise_model: camera`` (None for Gaussian noise)."""
    kind = opt.get("noise_model", "gaussian")
    where = f"dataset {opt.get('name')!r}"
    if kind == "gaussian":
        if opt.get("camera"):
            raise DatasetError(f"{where}: camera settings need noise_model: camera")
        return None
    if kind != "camera":
        raise DatasetError(f"{where}: noise_model must be gaussian or camera, got {kind!r}")
    settings = opt.get("camera") or {}
    if not isinstance(settings, dict):
        raise DatasetError(f"{where}: camera must be a mapping of CameraNoise ranges")
    try:
        return CameraNoise(**{k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()})
    except TypeError as error:
        raise DatasetError(f"{where}: camera: {error}") from None


@DATASET_REGISTRY.register("SyntheticNoiseDataset")
@DATASET_REGISTRY.register()
class GaussianNoiseDataset(data.Dataset):
    """Options: dataroot_gt (folder, searched recursively) or skimage_names (list of
    ``skimage.data`` photos); sigma (number or [low, high], 0-255 scale); clip (default
    false); gt_size (crop; train random, val centre; ~ for whole images); augment;
    quantize (round the noisy image to 8-bit levels, as a noisy file is; default false);
    scale ([low, high] in (0, 1]: training crops are taken from the image shrunk by a
    factor drawn from this range, with area averaging; default none, crops at full size);
    gray_prob (training: the chance that a crop is turned into gray, 3 equal channels,
    default 0); in_memory (decode the dataroot_gt files once, not per sample; default
    false); noise_seed (validation, default 0); sigma_power (training sigma drawn as
    ``low + (high - low) * u ** sigma_power``: above 1 weights low noise more, default 1,
    uniform); dead_leaves (training: ``{mix: share, ...}``, the share of crops that are
    dead-leaves images drawn on the fly instead of photo crops, coloured from the photos and,
    with in_memory, with textures cut from them; the other keys set :class:`restore.data.dead_leaves.DeadLeaves`); noise_model (``gaussian``, the
    default, or ``camera``: shot and read noise through an inverse camera pipeline, no sigma;
    ``camera: {...}`` sets :class:`restore.noise.camera.CameraNoise`'s ranges; with
    ``gaussian_share``, that share of training crops gets Gaussian noise of ``sigma`` instead)."""

    def __init__(self, opt: dict):
        super().__init__()
        self.opt = opt
        self.train, self.gt_size, self.augment = crop_options(opt)
        self.camera = camera_options(opt)
        if self.camera is None and "sigma" not in opt:
            raise DatasetError(f"dataset {opt.get('name')!r}: Gaussian noise needs sigma (a number or [low, high])")
        self.sigma = opt.get("sigma")
        self.clip = bool(opt.get("clip", False))
        self.quantize = 255 if opt.get("quantize", False) else None
        self.gray_prob = float(opt.get("gray_prob", 0.0))
        if not 0.0 <= self.gray_prob <= 1.0:
            raise DatasetError(f"gray_prob must be in [0, 1], got {self.gray_prob}")
        self.seed = int(opt.get("noise_seed", 0))
        self.sigma_power = float(opt.get("sigma_power", 1.0))
        self.gaussian_share = gaussian_share(opt, self.camera)
        if self.camera is None or self.gaussian_share:  # validates the range now, not in a worker
            draw_sigma(self.sigma, np.random.default_rng(0), self.sigma_power)
        self.leaves, self.leaves_mix = dead_leaves_options(opt, self.train, self.gt_size)
        self.scale = None if opt.get("scale") is None else parse_scale(opt["scale"], f"dataset {opt.get('name')!r}")
        if self.scale is not None and (not self.train or self.gt_size is None):
            raise DatasetError(f"dataset {opt.get('name')!r}: scale needs a training dataset with gt_size")
        if opt.get("skimage_names"):
            self.images = skimage_images(list(opt["skimage_names"]))
            self.paths = [f"skimage_{name}" for name in opt["skimage_names"]]
            for path, image in zip(self.paths, self.images):
                require_min_size(path, image.shape[:2], self.gt_size or 0)
        elif opt.get("dataroot_gt"):
            self.images = None
            files = list_images(opt["dataroot_gt"], "clean image", recursive=True)
            for file in files:
                require_min_size(file, image_size(file), self.gt_size or 0)
            self.paths = [str(f) for f in files]
            if opt.get("in_memory", False):
                self.images = [read_rgb_float(path) for path in self.paths]
        else:
            raise DatasetError(f"dataset {opt.get('name')!r}: set dataroot_gt or skimage_names")
        if self.leaves is not None:  # colours: 1,024 random pixels of each photo, fixed per dataset
            rng = np.random.default_rng(0)
            self.palettes = photo_palette(self.images if self.images is not None
                                          else (read_rgb_float(p) for p in self.paths), 1024, rng)

    def __len__(self) -> int:
        return len(self.paths)

    def train_crop(self, clean: np.ndarray) -> np.ndarray:
        """A random ``gt_size`` crop (of the photo shrunk by a factor from ``scale`` when set)."""
        if self.scale is not None:
            return scaled_random_crop(clean, self.gt_size, self.scale, random)
        if self.gt_size is not None:
            top, left = random_crop_box(clean.shape[0], clean.shape[1], self.gt_size, random)
            return crop(clean, top, left, self.gt_size)
        return clean

    def __getitem__(self, index: int) -> dict:
        name = self.paths[index]
        drawn = False
        if self.train:
            rng = np.random.default_rng(np.random.randint(2**31))  # np.random is seeded per worker by BasicSR
            drawn = self.leaves is not None and rng.random() < self.leaves_mix
        if drawn:  # a dead-leaves image in this photo's colours, already gt_size; textured
            # shapes are cut from the photos only when they are held in memory
            clean = self.leaves.draw(self.gt_size, rng, self.palettes[index], self.images)
            name = f"dead_leaves:{name}"
        else:
            clean = self.images[index] if self.images is not None else read_rgb_float(self.paths[index])
        camera = self.camera
        if self.train:
            if not drawn:
                clean = self.train_crop(clean)
            if self.augment:
                clean = dihedral(clean, random.randrange(8))
            if camera is not None and self.gaussian_share and rng.random() < self.gaussian_share:
                camera = None  # this crop gets Gaussian noise instead
            gray = bool(self.gray_prob) and random.random() < self.gray_prob
            if gray and camera is None:
                clean = to_gray_rgb(clean)
        else:
            rng = np.random.default_rng([self.seed, index])
            gray = False
            if self.gt_size is not None:
                top, left = center_crop_box(clean.shape[0], clean.shape[1], self.gt_size)
                clean = crop(clean, top, left, self.gt_size)
        if camera is not None:  # a gray photo is colour at the sensor, made gray after it
            clean, noisy = camera.pair(np.ascontiguousarray(clean), rng)
            if gray:
                clean, noisy = to_gray_rgb(clean), to_gray_rgb(noisy)
        else:
            noisy = add_gaussian_noise(clean, draw_sigma(self.sigma, rng, self.sigma_power), rng, self.clip,
                                       self.quantize)
        return sample_dict(clean, noisy, name, name)

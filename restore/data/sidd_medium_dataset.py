"""SIDD-Medium sRGB read directly as downloaded (no preparation step).

Each sample decodes one full ~12-megapixel pair and crops ``gt_size`` from it, so
it is much slower per sample than the prepared patches of ``SIDDPairedDataset``;
use it for a quick start or when disk space for patches is short.
"""
import random

from torch.utils import data

from restore.errors import DatasetError
from restore.data.image_files import image_size, read_rgb_float
from restore.data.patch_ops import crop_options, paired_patch, sample_dict
from restore.data.sidd_layout import find_sidd_pairs
from restore.registry import DATASET_REGISTRY


@DATASET_REGISTRY.register()
class SIDDMediumDataset(data.Dataset):
    """Options: dataroot (``SIDD_Medium_Srgb`` or its ``Data``), gt_size, augment,
    patches_per_image (samples drawn per pair and pass; default 1)."""

    def __init__(self, opt: dict):
        super().__init__()
        self.opt = opt
        _, self.gt_size, self.augment = crop_options(opt)
        self.repeats = int(opt.get("patches_per_image", 1))
        self.pairs = find_sidd_pairs(opt["dataroot"])
        for gt, noisy in self.pairs:
            gt_size, noisy_size = image_size(gt), image_size(noisy)
            if gt_size != noisy_size:
                raise DatasetError(f"{gt} is {gt_size} but {noisy} is {noisy_size}")
            if self.gt_size and min(gt_size) < self.gt_size:
                raise DatasetError(f"image {gt} is {gt_size[0]}x{gt_size[1]}, smaller than the patch size {self.gt_size}")

    def __len__(self) -> int:
        return len(self.pairs) * self.repeats

    def __getitem__(self, index: int) -> dict:
        gt_path, lq_path = self.pairs[index % len(self.pairs)]
        gt, lq = paired_patch(read_rgb_float(gt_path), read_rgb_float(lq_path), self.gt_size, random, self.augment)
        return sample_dict(gt, lq, str(gt_path), str(lq_path))

"""SIDD training pairs prepared by ``restore/scripts/prepare_sidd.py``.

Reads ``dataroot_gt`` (``<DIR>/groundtruth``) and ``dataroot_lq`` (``<DIR>/input``),
PNG folders or ``.lmdb``; training takes ``gt_size`` crops (128 in the Uformer
recipe) with the 8 flip/rot90 variants, as the Uformer release does.
"""
import random

from torch.utils import data

from restore.data.patch_ops import center_crop_box, crop, crop_options, paired_patch, sample_dict
from restore.data.patch_stores import PairedPatchStore
from restore.registry import DATASET_REGISTRY


@DATASET_REGISTRY.register()
class SIDDPairedDataset(data.Dataset):
    """Options: dataroot_gt, dataroot_lq, gt_size (crop; train random, val centre; ~ for
    whole images), augment (default true in training), check_sizes (default true)."""

    def __init__(self, opt: dict):
        super().__init__()
        self.opt = opt
        self.train, self.gt_size, self.augment = crop_options(opt)
        self.store = PairedPatchStore(opt["dataroot_gt"], opt["dataroot_lq"], min_side=self.gt_size or 0,
                                      check_sizes=opt.get("check_sizes", True))

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index: int) -> dict:
        gt, lq = self.store.read(index)
        gt_path, lq_path = self.store.paths(index)
        if self.train:
            gt, lq = paired_patch(gt, lq, self.gt_size, random, self.augment)
        elif self.gt_size is not None:
            top, left = center_crop_box(gt.shape[0], gt.shape[1], self.gt_size)
            gt, lq = crop(gt, top, left, self.gt_size), crop(lq, top, left, self.gt_size)
        return sample_dict(gt, lq, gt_path, lq_path)

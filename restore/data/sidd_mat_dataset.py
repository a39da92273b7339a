"""SIDD validation blocks from the official ``.mat`` files.

``ValidationNoisyBlocksSrgb.mat`` and ``ValidationGtBlocksSrgb.mat`` each hold a
uint8 array of the same name, 40 x 32 x 256 x 256 x 3 (image, block, H, W, RGB).
Any leading dimensions are accepted; blocks are served one by one in C order, named
by their 1-based indices (``0001_01``), as the Uformer release names its outputs.
"""
from pathlib import Path

import numpy as np
from einops import rearrange
from scipy import io as sio
from torch.utils import data

from restore.errors import DatasetError
from restore.data.image_files import require_file
from restore.data.patch_ops import sample_dict
from restore.io.pixel_values import MAX_VALUE, to_unit_float
from restore.registry import DATASET_REGISTRY


def load_mat_blocks(path: str | Path, key: str | None = None) -> np.ndarray:
    """The (..., H, W, 3) array stored in a .mat file, under ``key`` or the file's stem."""
    path = require_file(path, "SIDD .mat")
    try:
        contents = sio.loadmat(str(path))
    except NotImplementedError as error:  # MATLAB v7.3 files are HDF5
        raise DatasetError(f"{path} is a MATLAB v7.3 (HDF5) file; save it with -v7 or earlier") from error
    except (ValueError, OSError, TypeError) as error:
        raise DatasetError(f"cannot read {path} as a .mat file: {error}") from error
    arrays = {k: v for k, v in contents.items() if not k.startswith("__")}
    if key is None:
        key = path.stem if path.stem in arrays else (next(iter(arrays)) if len(arrays) == 1 else None)
    if key not in arrays:
        raise DatasetError(f"{path} has no array named {key or path.stem!r}; it holds {sorted(arrays)}")
    blocks = np.asarray(arrays[key])
    if blocks.ndim < 3 or blocks.shape[-1] != 3:
        raise DatasetError(f"{path}:{key} has shape {blocks.shape}; expected (..., H, W, 3)")
    if blocks.dtype not in MAX_VALUE and blocks.dtype.kind != "f":
        raise DatasetError(f"{path}:{key} holds {blocks.dtype} pixels; expected uint8, uint16 or float in [0, 1]")
    return blocks


def block_names(leading_shape: tuple[int, ...]) -> list[str]:
    """``0001_01``-style names from 1-based indices over the leading dimensions."""
    if not leading_shape:
        return ["0001"]
    widths = [4] + [2] * (len(leading_shape) - 1)
    return ["_".join(f"{i + 1:0{w}d}" for i, w in zip(index, widths)) for index in np.ndindex(*leading_shape)]


@DATASET_REGISTRY.register()
class SIDDMatDataset(data.Dataset):
    """Options: dataroot_gt, dataroot_lq (the two .mat files), key_gt, key_lq (default: file stems)."""

    def __init__(self, opt: dict):
        super().__init__()
        self.opt = opt
        gt = load_mat_blocks(opt["dataroot_gt"], opt.get("key_gt"))
        lq = load_mat_blocks(opt["dataroot_lq"], opt.get("key_lq"))
        if gt.shape != lq.shape:
            raise DatasetError(f"{opt['dataroot_gt']} holds {gt.shape} but {opt['dataroot_lq']} holds {lq.shape}")
        self.names = block_names(gt.shape[:-3])
        self.gt = rearrange(gt, "... h w c -> (...) h w c")
        self.lq = rearrange(lq, "... h w c -> (...) h w c")

    def __len__(self) -> int:
        return self.gt.shape[0]

    def __getitem__(self, index: int) -> dict:
        name = self.names[index]
        return sample_dict(to_unit_float(self.gt[index]), to_unit_float(self.lq[index]), name, name)

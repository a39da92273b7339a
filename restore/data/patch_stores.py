"""Prepared patch pairs stored as two PNG folders or two lmdb databases.

Both keep the same names on the GT and the noisy side, the contract written by
``restore/scripts/prepare_sidd.py``: ``groundtruth/<name>.png`` beside
``input/<name>.png``, or ``groundtruth.lmdb`` beside ``input.lmdb`` (BasicSR's
lmdb layout: ``meta_info.txt`` lines ``<name>.png (h,w,c) <compression>``).
"""
import re
from pathlib import Path

import cv2
import numpy as np

from restore.errors import DatasetError
from restore.data.image_files import decode_rgb_float, image_size, list_images, read_rgb_float, require_dir

_META_LINE = re.compile(r"^(?P<name>\S+)\s+\((?P<h>\d+),\s*(?P<w>\d+),\s*(?P<c>\d+)\)")


def is_lmdb(path: str | Path) -> bool:
    return str(path).rstrip("/").endswith(".lmdb")


def read_lmdb_meta(root: Path) -> dict[str, tuple[int, int]]:
    """key -> (height, width) from an lmdb's meta_info.txt."""
    meta = root / "meta_info.txt"
    if not meta.is_file():
        raise DatasetError(f"lmdb has no meta_info.txt: {meta}")
    sizes = {}
    for line in meta.read_text().splitlines():
        match = _META_LINE.match(line.strip())
        if match:
            key = match["name"].rsplit(".", 1)[0]
            sizes[key] = (int(match["h"]), int(match["w"]))
    if not sizes:
        raise DatasetError(f"lmdb meta_info.txt lists no images: {meta}")
    return sizes


def _check_same_names(gt_names: set[str], lq_names: set[str], gt_root: Path, lq_root: Path) -> None:
    only_gt, only_lq = sorted(gt_names - lq_names), sorted(lq_names - gt_names)
    if only_gt:
        raise DatasetError(f"ground truth {gt_root / only_gt[0]} has no noisy partner in {lq_root}")
    if only_lq:
        raise DatasetError(f"noisy image {lq_root / only_lq[0]} has no ground truth partner in {gt_root}")


class PairedPatchStore:
    """Names, sizes and pixels of GT/noisy pairs; the folders are validated on creation."""

    def __init__(self, gt_root: str | Path, lq_root: str | Path, min_side: int = 0, check_sizes: bool = True):
        self.gt_root, self.lq_root = Path(gt_root), Path(lq_root)
        self.lmdb = is_lmdb(gt_root)
        if self.lmdb != is_lmdb(lq_root):
            raise DatasetError(f"dataroot_gt and dataroot_lq must both be folders or both .lmdb: "
                               f"{gt_root}, {lq_root}")
        self._envs = None
        if self.lmdb:
            gt_sizes = read_lmdb_meta(require_dir(self.gt_root, "ground truth lmdb"))
            lq_sizes = read_lmdb_meta(require_dir(self.lq_root, "noisy lmdb"))
            _check_same_names(set(gt_sizes), set(lq_sizes), self.gt_root, self.lq_root)
            self.names = sorted(gt_sizes)
            self._paths = {}
            sizes = [(n, gt_sizes[n], lq_sizes[n]) for n in self.names] if check_sizes else []
        else:
            gt_files = {p.name: p for p in list_images(self.gt_root, "ground truth")}
            lq_files = {p.name: p for p in list_images(self.lq_root, "noisy")}
            _check_same_names(set(gt_files), set(lq_files), self.gt_root, self.lq_root)
            self.names = sorted(gt_files)
            self._paths = {n: (gt_files[n], lq_files[n]) for n in self.names}
            sizes = ([(n, image_size(gt_files[n]), image_size(lq_files[n])) for n in self.names]
                     if check_sizes else [])
        for name, gt_size, lq_size in sizes:
            if gt_size != lq_size:
                raise DatasetError(f"{self.gt_root / name} is {gt_size} but its noisy partner "
                                   f"{self.lq_root / name} is {lq_size}")
            if min(gt_size) < min_side:
                raise DatasetError(f"image {self.gt_root / name} is {gt_size[0]}x{gt_size[1]}, "
                                   f"smaller than the patch size {min_side}")

    def __len__(self) -> int:
        return len(self.names)

    def paths(self, index: int) -> tuple[str, str]:
        name = self.names[index]
        if self.lmdb:
            return str(self.gt_root / name), str(self.lq_root / name)
        gt, lq = self._paths[name]
        return str(gt), str(lq)

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(gt, noisy) as float32 RGB in [0, 1]."""
        if not self.lmdb:
            gt, lq = self._paths[self.names[index]]
            return read_rgb_float(gt), read_rgb_float(lq)
        if self._envs is None:  # opened lazily: lmdb handles must not cross a worker fork
            import lmdb
            self._envs = [lmdb.open(str(root), readonly=True, lock=False, readahead=False)
                          for root in (self.gt_root, self.lq_root)]
        name = self.names[index]
        images = []
        for env, root in zip(self._envs, (self.gt_root, self.lq_root)):
            with env.begin(write=False) as txn:
                data = txn.get(name.encode("ascii"))
            if data is None:
                raise DatasetError(f"key {name} missing in {root}")
            encoded = np.frombuffer(data, np.uint8)
            images.append(decode_rgb_float(cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED), f"{root}:{name}"))
        return images[0], images[1]


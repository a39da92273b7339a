"""Cut SIDD-Medium sRGB into the training patches of the Uformer recipe.

    python restore/scripts/prepare_sidd.py --src SIDD_Medium_Srgb --dst datasets/SIDD/train \
        [--patches 300 --size 256 --format png|lmdb --seed 0 --workers 4]

Takes ``--patches`` random ``--size`` crops per image pair, the same window on
both sides (320 pairs x 300 = 96,000 patches by default), and writes
``<dst>/groundtruth/NNNN_PPP.png`` and ``<dst>/input/NNNN_PPP.png``, or with
``--format lmdb`` ``<dst>/groundtruth.lmdb`` and ``<dst>/input.lmdb``
(BasicSR's lmdb layout). Crops are seeded per pair, so reruns give the same
patches. Output is built under ``*.partial`` names and renamed into place at
the end, so an interrupted run never leaves a half-filled dataset behind.
"""
import argparse
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from restore.errors import DatasetError
from restore.data.image_files import image_size
from restore.data.sidd_layout import find_sidd_pairs

SIDES = ("groundtruth", "input")


def crop_corners(height: int, width: int, size: int, count: int, seed: int, pair_index: int) -> np.ndarray:
    """``count`` (top, left) corners, seeded by (seed, pair_index) so workers agree with reruns."""
    rng = np.random.default_rng([seed, pair_index])
    return np.stack([rng.integers(0, height - size + 1, count), rng.integers(0, width - size + 1, count)], axis=1)


def cut_pair(job: tuple) -> list[tuple[str, bytes, bytes]]:
    """(name, gt PNG bytes, noisy PNG bytes) for every patch of one pair; pixels are kept exactly."""
    pair_index, gt_path, noisy_path, size, count, seed = job
    gt, noisy = cv2.imread(str(gt_path), cv2.IMREAD_COLOR), cv2.imread(str(noisy_path), cv2.IMREAD_COLOR)
    if gt is None or noisy is None:
        raise DatasetError(f"cannot decode {gt_path if gt is None else noisy_path}")
    patches = []
    for number, (top, left) in enumerate(crop_corners(gt.shape[0], gt.shape[1], size, count, seed, pair_index)):
        window = (slice(top, top + size), slice(left, left + size))
        encoded = [cv2.imencode(".png", image[window])[1].tobytes()
                   for image in (gt, noisy)]
        patches.append((f"{pair_index + 1:04d}_{number + 1:03d}", encoded[0], encoded[1]))
    return patches


class PngSink:
    """Writes patches into ``<dst>/<side>.partial/`` folders."""

    def __init__(self, dst: Path):
        self.dirs = {side: dst / f"{side}.partial" for side in SIDES}
        for folder in self.dirs.values():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)

    def add(self, name: str, gt: bytes, noisy: bytes) -> None:
        for side, data in zip(SIDES, (gt, noisy)):
            (self.dirs[side] / f"{name}.png").write_bytes(data)

    def close(self) -> None:
        pass


class LmdbSink:
    """Writes patches into ``<dst>/<side>.lmdb.partial`` databases plus BasicSR's meta_info.txt."""

    def __init__(self, dst: Path, size: int, total: int):
        import lmdb
        self.dirs = {side: dst / f"{side}.lmdb.partial" for side in SIDES}
        map_size = int(total * size * size * 3 * 1.5) + (64 << 20)
        self.envs, self.txns, self.meta = {}, {}, {side: [] for side in SIDES}
        for side, folder in self.dirs.items():
            shutil.rmtree(folder, ignore_errors=True)
            self.envs[side] = lmdb.open(str(folder), map_size=map_size)
            self.txns[side] = self.envs[side].begin(write=True)
        self.size, self.pending = size, 0

    def add(self, name: str, gt: bytes, noisy: bytes) -> None:
        for side, data in zip(SIDES, (gt, noisy)):
            self.txns[side].put(name.encode("ascii"), data)
            self.meta[side].append(f"{name}.png ({self.size},{self.size},3) 1\n")
        self.pending += 1
        if self.pending >= 1000:
            for side in SIDES:
                self.txns[side].commit()
                self.txns[side] = self.envs[side].begin(write=True)
            self.pending = 0

    def close(self) -> None:
        for side in SIDES:
            self.txns[side].commit()
            self.envs[side].close()
            (self.dirs[side] / "meta_info.txt").write_text("".join(self.meta[side]))


def finished_names(fmt: str) -> dict[str, str]:
    return {side: f"{side}.lmdb" if fmt == "lmdb" else side for side in SIDES}


def check_destination(src: Path, dst: Path, fmt: str, overwrite: bool) -> None:
    src_r, dst_r = src.resolve(), dst.resolve()
    if dst_r == src_r or src_r in dst_r.parents or dst_r in src_r.parents:
        raise DatasetError(f"--dst {dst} must lie outside --src {src} (and not contain it)")
    for name in finished_names(fmt).values():
        if (dst / name).exists() and not overwrite:
            raise DatasetError(f"{dst / name} already exists; pass --overwrite to replace it")


def prepare(src: Path, dst: Path, patches: int, size: int, fmt: str, seed: int, workers: int,
            overwrite: bool) -> int:
    """Write the patches; returns how many pairs of patches were written."""
    if patches < 1 or size < 1:
        raise DatasetError("--patches and --size must be positive")
    pairs = find_sidd_pairs(src)
    check_destination(src, dst, fmt, overwrite)
    for gt, noisy in pairs:
        gt_size, noisy_size = image_size(gt), image_size(noisy)
        if gt_size != noisy_size:
            raise DatasetError(f"{gt} is {gt_size} but {noisy} is {noisy_size}")
        if min(gt_size) < size:
            raise DatasetError(f"image {gt} is {gt_size[0]}x{gt_size[1]}, smaller than the patch size {size}")
    dst.mkdir(parents=True, exist_ok=True)
    sink = LmdbSink(dst, size, len(pairs) * patches) if fmt == "lmdb" else PngSink(dst)
    jobs = [(i, gt, noisy, size, patches, seed) for i, (gt, noisy) in enumerate(pairs)]
    written = 0
    with ProcessPoolExecutor(max_workers=workers) if workers > 1 else _Serial() as pool:
        for results in tqdm(pool.map(cut_pair, jobs), total=len(jobs), unit="pair", desc="SIDD patches"):
            for name, gt, noisy in results:
                sink.add(name, gt, noisy)
                written += 1
    sink.close()
    for side, final in finished_names(fmt).items():
        target = dst / final
        if target.exists():
            shutil.rmtree(target)
        sink.dirs[side].rename(target)
    return written


class _Serial:
    """In-process stand-in for a pool when --workers 1."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    @staticmethod
    def map(function, jobs):
        return map(function, jobs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", required=True, type=Path, help="SIDD_Medium_Srgb (or its Data folder)")
    parser.add_argument("--dst", required=True, type=Path, help="output folder")
    parser.add_argument("--patches", type=int, default=300, help="patches per image pair (default 300)")
    parser.add_argument("--size", type=int, default=256, help="patch side in pixels (default 256)")
    parser.add_argument("--format", choices=("png", "lmdb"), default="png")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=4, help="processes decoding images (default 4)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = parser.parse_args(argv)
    try:
        count = prepare(args.src, args.dst, args.patches, args.size, args.format, args.seed,
                        max(1, args.workers), args.overwrite)
    except (DatasetError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {count} patch pairs to {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

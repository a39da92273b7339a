"""Small fake SIDD downloads (Medium folders, validation .mat blocks) for the data and training tests."""
from pathlib import Path

import cv2
import numpy as np
from scipy import io as sio
from skimage import data as skdata

from restore.scripts.prepare_sidd import main as prepare_main

NOISE_SIGMA = 12.0


def noisy_copy(gt: np.ndarray, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, NOISE_SIGMA, gt.shape)
    return np.clip(gt.astype(np.float64) + noise, 0, 255).round().astype(np.uint8)


def photos(size: int) -> list[np.ndarray]:
    """Real RGB photos cropped to size x size (uint8, RGB)."""
    return [np.ascontiguousarray(getattr(skdata, name)()[:size, :size, :3]) for name in ("astronaut", "coffee", "chelsea")]


def make_sidd_medium(root: Path, size: int = 200) -> Path:
    """``SIDD_Medium_Srgb/Data/<scene>/<n>_{GT,NOISY}_SRGB_010.PNG`` for three scenes."""
    for index, gt in enumerate(photos(size)):
        scene = root / "SIDD_Medium_Srgb" / "Data" / f"{index + 1:04d}_001_S6_00100_00060_3200_L"
        scene.mkdir(parents=True)
        cv2.imwrite(str(scene / f"{index + 1:04d}_GT_SRGB_010.PNG"), cv2.cvtColor(gt, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(scene / f"{index + 1:04d}_NOISY_SRGB_010.PNG"),
                    cv2.cvtColor(noisy_copy(gt, index), cv2.COLOR_RGB2BGR))
    return root / "SIDD_Medium_Srgb"


def make_sidd_mat(root: Path, leading: tuple[int, ...] = (2, 3), block: int = 64) -> tuple[Path, Path]:
    """Validation .mat files with the official key names; blocks cut from real photos."""
    count = int(np.prod(leading))
    sources = photos(256)
    blocks = np.stack([sources[i % len(sources)][(i // 3) * block:(i // 3 + 1) * block, :block] for i in range(count)])
    gt = blocks.reshape(*leading, block, block, 3)
    noisy = noisy_copy(gt, 99)
    root.mkdir(parents=True, exist_ok=True)
    gt_path, noisy_path = root / "ValidationGtBlocksSrgb.mat", root / "ValidationNoisyBlocksSrgb.mat"
    sio.savemat(str(gt_path), {"ValidationGtBlocksSrgb": gt})
    sio.savemat(str(noisy_path), {"ValidationNoisyBlocksSrgb": noisy})
    return gt_path, noisy_path


def prepare(src: Path, dst: Path, *extra: str) -> int:
    return prepare_main(["--src", str(src), "--dst", str(dst), "--patches", "4", "--size", "96",
                         "--workers", "1", *extra])

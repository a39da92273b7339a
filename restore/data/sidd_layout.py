"""Where the image pairs are in SIDD-Medium sRGB as users download it.

``SIDD_Medium_Srgb/Data/<scene>/<n>_GT_SRGB_<k>.PNG`` sits beside
``<n>_NOISY_SRGB_<k>.PNG``; 160 scenes with two pairs each (320 pairs).
"""
from pathlib import Path

from restore.errors import DatasetError

GT_TAG = "_GT_SRGB_"
NOISY_TAG = "_NOISY_SRGB_"


def sidd_data_dir(root: str | Path) -> Path:
    """Accept either ``SIDD_Medium_Srgb`` or its ``Data`` folder."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"SIDD folder not found: {root}")
    return root / "Data" if (root / "Data").is_dir() else root


def find_sidd_pairs(root: str | Path) -> list[tuple[Path, Path]]:
    """Sorted (ground truth, noisy) file pairs; an unpaired file is an error naming it."""
    data_dir = sidd_data_dir(root)
    files = [p for p in data_dir.glob("*/*") if p.is_file() and p.suffix.lower() == ".png"]
    gts = sorted(p for p in files if GT_TAG in p.name)
    noisies = {p for p in files if NOISY_TAG in p.name}
    if not gts and not noisies:
        raise DatasetError(f"no *{GT_TAG}*.PNG / *{NOISY_TAG}*.PNG files under {data_dir}/<scene>/")
    pairs = []
    for gt in gts:
        noisy = gt.with_name(gt.name.replace(GT_TAG, NOISY_TAG))
        if noisy not in noisies:
            raise DatasetError(f"ground truth without its noisy image: {gt} (expected {noisy})")
        noisies.discard(noisy)
        pairs.append((gt, noisy))
    if noisies:
        raise DatasetError(f"noisy image without its ground truth: {sorted(noisies)[0]}")
    return pairs

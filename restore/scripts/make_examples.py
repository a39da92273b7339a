"""Write the app's example images: real photos from skimage.data with Gaussian noise added.

    python -m restore.scripts.make_examples [--out assets/examples]

The images are real photos that the published weights never saw in training (the
held-out split of ``restore.scripts.make_sample_corpus``: the motorcycle, chelsea the
cat, the cameraman, coins), cropped to 256×256 so the files stay small; noise is
seeded so reruns give the same bytes. File names say the σ on the 0-255 scale.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "assets" / "examples"

# (held-out photo, crop top, crop left, σ, output name)
EXAMPLES = [
    ("motorcycle_left", 120, 240, 25, "motorcycle_sigma25.png"),
    ("coins", 20, 60, 15, "coins_gray_sigma15.png"),
    ("chelsea", 20, 70, 35, "chelsea_sigma35.png"),
    ("camera", 40, 140, 25, "camera_gray_sigma25.png"),
]
SIZE = 256


def noisy_crop(photo: str, top: int, left: int, sigma: float, seed: int) -> np.ndarray:
    from restore.data.photos import load_photo

    clean = load_photo(photo)[top:top + SIZE, left:left + SIZE]
    noise = np.random.default_rng(seed).normal(0.0, sigma, clean.shape)
    return np.clip(np.rint(clean + noise), 0, 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    from restore.io.image import write_image

    args.out.mkdir(parents=True, exist_ok=True)
    for seed, (photo, top, left, sigma, name) in enumerate(EXAMPLES):
        path = write_image(args.out / name, noisy_crop(photo, top, left, sigma, seed))
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Before/after crops of real phone photos, for the docs: no clean reference, just to look at.

    python -m restore.scripts.make_real_photo_crops [--out docs/img] [--models uformer_t_skipat_gauss,uformer_t_skipat_camera]

Debian's ``forensics-samples-files`` ships photos taken with a Xiaomi Mi A3 at night, indoors
(CC-BY-SA-4.0, Joao Eriberto Mota Filho): real sensor noise through a phone's processing and
JPEG. Each photo is shrunk 2x (area averaging, as a user sharing it would), a 320x320 crop with
nothing private in it is cut out, and every model denoises it; the figure puts the crop and each
model's result side by side. The package is found where Debian installs it, else fetched into
``datasets/debian_packages`` with ``apt-get download`` (no root install). Evaluation only: these
photos are never trained on.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

from restore.errors import RestoreError

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "forensics-samples-files"
FOLDER = Path("usr/share/forensics-samples/original-files")
# (file in the package, crop top and left after the 2x shrink, figure name)
CROPS = [
    ("pic2/IMG_20200124_231153.jpg", 380, 1180, "real_photo_dog.png"),
    ("pic1/IMG_20200827_231612.jpg", 960, 1380, "real_photo_board.png"),
]
SIZE, MARGIN = 320, 32  # the crop, and the context around it that the models also see
DEFAULT_MODELS = ("uformer_t_skipat_gauss", "uformer_t_skipat_camera")


def package_root(cache: Path) -> tuple[Path, str]:
    """(the folder the package's files lie under, its version), fetching it when missing."""
    from restore.scripts.debian_photos import fetch, package_versions

    if (Path("/") / FOLDER / CROPS[0][0]).is_file():
        return Path("/"), "installed"
    if not (cache / "root" / FOLDER / CROPS[0][0]).is_file():
        print(f"fetching {PACKAGE} with apt-get download into {cache} (no root install)", file=sys.stderr)
        fetch([PACKAGE], cache)
    return cache / "root", package_versions(cache).get(PACKAGE, "unknown")


def shrunk_crop(path: Path, top: int, left: int) -> np.ndarray:
    """The photo upright, shrunk 2x by area averaging, cut to the crop plus its margin."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        photo = ImageOps.exif_transpose(image).convert("RGB").reduce(2)
    box = (left - MARGIN, top - MARGIN, left + SIZE + MARGIN, top + SIZE + MARGIN)
    if box[2] > photo.width or box[3] > photo.height:
        raise RestoreError(f"{path.name} is {photo.width}x{photo.height} after the 2x shrink, too small for "
                           f"the crop at ({top}, {left}): not the photo this script was written for")
    return np.asarray(photo.crop(box))


def figure(panels: list[np.ndarray], labels: list[str]) -> np.ndarray:
    """Panels side by side, each with its label in a strip above it."""
    import cv2

    strip = 28
    tiles = []
    for panel, label in zip(panels, labels):
        tile = np.full((panel.shape[0] + strip, panel.shape[1], 3), 255, np.uint8)
        tile[strip:] = panel
        cv2.putText(tile, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    gap = np.full((tiles[0].shape[0], 6, 3), 255, np.uint8)
    return np.concatenate([part for tile in tiles for part in (tile, gap)][:-1], axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "img")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS))
    parser.add_argument("--weights-dir", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "datasets" / "debian_packages")
    args = parser.parse_args(argv)
    from restore.errors import run_cli

    return run_cli(lambda: make(args))


def make(args: argparse.Namespace) -> int:
    from restore.api import Denoiser, default_weights_dir
    from restore.io.image import write_image

    weights = args.weights_dir or default_weights_dir()
    models = [Denoiser.from_pretrained(name, weights_dir=weights) for name in args.models.split(",") if name]
    if not models:
        raise RestoreError("--models names no model")
    root, version = package_root(args.cache)
    args.out.mkdir(parents=True, exist_ok=True)
    inner = (slice(MARGIN, MARGIN + SIZE), slice(MARGIN, MARGIN + SIZE))
    for entry, top, left, name in CROPS:
        source = root / FOLDER / entry
        crop = shrunk_crop(source, top, left)
        outputs = []
        for model in models:
            sigma = "auto" if model.card.noise_model.takes_sigma else None  # camera noise has no single level
            outputs.append(model(crop, sigma=sigma)[inner])
        panel = figure([crop[inner], *outputs], ["phone photo (JPEG)", *(model.name for model in models)])
        write_image(args.out / name, panel)
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        print(f"{args.out / name}: {PACKAGE} {version}, {entry} (sha256 {digest[:16]}...), CC-BY-SA-4.0")
    return 0


if __name__ == "__main__":
    sys.exit(main())

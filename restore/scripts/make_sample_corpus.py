"""Export the photos that ship in ``skimage.data`` as a training corpus and a held-out set.

Issue 6 trains our published weights only on these photos (no download is
possible), so the split is fixed here and written to a manifest that each
weight card copies: anyone can rebuild the exact corpus and check that the
benchmark images were never seen in training.

Split (decided once; do not change it without retraining):

* ``train/``: the colour photographs: astronaut, coffee, rocket,
  hubble_deep_field, immunohistochemistry, retina.
* ``eval/``: held out. Colour: chelsea and the left view of
  stereo_motorcycle. Gray photographs, stored as 3 equal channels (the models
  are RGB; gray photos add test variety and cost the training set nothing):
  camera, coins, moon, clock, brick, grass, gravel, page, text.
* skipped: ``cat`` (the same photo as chelsea), the right view of
  stereo_motorcycle (nearly the left one), colorwheel and logo (synthetic
  graphics), binary/synthetic or tiny images, and images that need a download.
* ``clips/``: camera pans and zooms over the *training* photos, in the DAVIS
  layout (``clips/JPEGImages/480p/<seq>/00000.jpg``), for the video model;
  made by :mod:`restore.scripts.make_sample_clips`.

    python -m restore.scripts.make_sample_corpus --out datasets/sample_corpus \
        [--clip-frames 40 --clip-size 256x384] [--overwrite]

Everything is written to a temporary folder beside ``--out`` and renamed into
place at the end, so an interrupted run leaves no half-made corpus.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
from skimage import data

from restore.scripts.make_sample_clips import make_sample_set, parse_size

MANIFEST_FORMAT = "restore-sample-corpus/1"
TRAIN_PHOTOS = ("astronaut", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")
EVAL_COLOR = ("chelsea", "motorcycle_left")
EVAL_GRAY = ("camera", "coins", "moon", "clock", "brick", "grass", "gravel", "page", "text")
EVAL_PHOTOS = EVAL_COLOR + EVAL_GRAY
CLIP_FRAMES = 40  # frames per training pan; test pans follow paths of this length too
SKIPPED = {
    "cat": "the same photo as chelsea",
    "stereo_motorcycle (right view)": "nearly the same scene as the held-out left view",
    "colorwheel": "synthetic graphics",
    "logo": "synthetic graphics",
    "binary_blobs, checkerboard, horse, shepp_logan_phantom": "synthetic or binary",
    "cell, microaneurysms, lfw_subset": "microscopy or tiny images",
    "images fetched by pooch (brain, eagle, lily, ...)": "need a download",
}


def load_photo(name: str) -> np.ndarray:
    """An image from skimage.data as shipped (H x W gray or H x W x C)."""
    if name == "motorcycle_left":
        image = data.stereo_motorcycle()[0]
    else:
        loader: Callable[[], np.ndarray] | None = getattr(data, name, None)
        if loader is None:
            raise ValueError(f"skimage.data has no image named {name!r}")
        image = np.asarray(loader())
    if image.dtype != np.uint8:
        raise ValueError(f"skimage.data.{name} is {image.dtype}, expected uint8")
    return image


def to_rgb(image: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8: gray photos get three equal channels, alpha is dropped."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


def load_rgb(name: str) -> np.ndarray:
    """An H x W x 3 uint8 image from skimage.data (what train/ and eval/ hold)."""
    return to_rgb(load_photo(name))


def write_png(image: np.ndarray, path: Path) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")


def export_images(names: tuple[str, ...], folder: Path) -> list[dict[str, Any]]:
    """Write each photo as ``<name>.png``; return manifest entries."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name in names:
        photo = load_photo(name)
        gray = photo.ndim == 2
        image = to_rgb(photo)
        write_png(image, folder / f"{name}.png")
        entries.append({"name": name, "file": f"{folder.name}/{name}.png", "height": image.shape[0],
                        "width": image.shape[1], "source": "gray, stored as 3 equal channels" if gray else "rgb"})
    return entries


def build_corpus(out: Path, clip_frames: int = CLIP_FRAMES, clip_height: int = 256, clip_width: int = 384) -> dict[str, Any]:
    """Write train/, eval/, clips/ and manifest.json into ``out`` (which must not exist)."""
    import skimage

    train = export_images(TRAIN_PHOTOS, out / "train")
    held_out = export_images(EVAL_PHOTOS, out / "eval")
    clips = make_sample_set(out / "clips", frames=clip_frames, height=clip_height, width=clip_width,
                            photos=TRAIN_PHOTOS)
    manifest = {
        "format": MANIFEST_FORMAT,
        "source": f"skimage.data (scikit-image {skimage.__version__})",
        "train": train,
        "eval": held_out,
        "clips": {"from": "train", "photos": list(TRAIN_PHOTOS), "sequences": clips, "frames": clip_frames,
                  "height": clip_height, "width": clip_width, "layout": "clips/JPEGImages/480p/<seq>/00000.jpg",
                  "motion": "restore.scripts.make_sample_clips.pan_zoom_clip, seed = index in photos"},
        "skipped": SKIPPED,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def make_corpus(out: Path, overwrite: bool = False, **clip_options: int) -> dict[str, Any]:
    """Build the corpus in a temporary sibling folder, then move it to ``out`` in one rename."""
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass --overwrite to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        manifest = build_corpus(staging, **clip_options)
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
            out.rename(old / out.name)
            staging.rename(out)
            shutil.rmtree(old)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("datasets/sample_corpus"))
    parser.add_argument("--clip-frames", type=int, default=CLIP_FRAMES, help="frames per training pan")
    parser.add_argument("--clip-size", default="256x384", help="HEIGHTxWIDTH of the clip frames")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    args = parser.parse_args(argv)
    try:
        height, width = parse_size(args.clip_size)
    except ValueError:
        print(f"error: --clip-size must look like 256x384, got {args.clip_size!r}", file=sys.stderr)
        return 2
    if args.clip_frames < 7 or height < 32 or width < 32:
        print("error: clips need at least 7 frames of at least 32x32 pixels", file=sys.stderr)
        return 2
    try:
        manifest = make_corpus(args.out, args.overwrite, clip_frames=args.clip_frames,
                               clip_height=height, clip_width=width)
    except (FileExistsError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {len(manifest['train'])} training photos, {len(manifest['eval'])} held-out photos, "
          f"{len(manifest['clips']['sequences'])} clips; manifest {args.out / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

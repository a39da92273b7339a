"""Build the clean-photo training corpus and the held-out set, with a manifest.

Our published weights train only on photos that can be installed here: the
``skimage.data`` photographs and, with ``--debian``, the natural photographs in
Debian's wallpaper packages (:mod:`restore.scripts.debian_photos`). ``--photos DIR``
adds any folder of clean photos of your own. The split is fixed here and written
to a manifest, with each file's source and sha256, that each weight card names:
anyone can rebuild the exact corpus and check that the benchmark images were
never seen in training.

Split (fixed; do not change it without retraining):

* ``train/``: the colour photographs astronaut, coffee, rocket,
  hubble_deep_field, immunohistochemistry and retina; with ``--debian``, the
  23 Debian photographs (``train/debian/``); with ``--photos``, yours
  (``train/user/``). Debian and user photos are shrunk ``--shrink`` times
  (area interpolation, at least 2) from their largest size, so JPEG artifacts
  and sensor grain fall well below the synthetic noise.
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
        [--debian] [--photos DIR ...] [--clip-frames 40 --clip-size 256x384] [--overwrite]

Everything is written to a temporary folder beside ``--out`` and renamed into
place at the end, so an interrupted run leaves no half-made corpus.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from restore.data.photos import CLIP_FRAMES, EVAL_PHOTOS, TRAIN_PHOTOS, load_photo, load_rgb, to_rgb
from restore.errors import RestoreError, run_cli
from restore.io.video_frame_folder import read_frame
from restore.io.weights_card import sha256_of_file
from restore.scripts import debian_photos
from restore.scripts.make_sample_clips import make_sample_set, parse_size

MANIFEST_FORMAT = "restore-sample-corpus/2"
SKIPPED = {
    "cat": "the same photo as chelsea",
    "stereo_motorcycle (right view)": "nearly the same scene as the held-out left view",
    "colorwheel": "synthetic graphics",
    "logo": "synthetic graphics",
    "binary_blobs, checkerboard, horse, shepp_logan_phantom": "synthetic or binary",
    "cell, microaneurysms, lfw_subset": "microscopy or tiny images",
    "images fetched by pooch (brain, eagle, lily, ...)": "need a download",
}


def write_png(image: np.ndarray, path: Path) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")


def export_images(names: tuple[str, ...], folder: Path) -> list[dict[str, Any]]:
    """Write each skimage.data photo as ``<name>.png``; return manifest entries."""
    import skimage

    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name in names:
        photo = load_photo(name)
        gray = photo.ndim == 2
        image = to_rgb(photo)
        write_png(image, folder / f"{name}.png")
        entries.append({"name": name, "file": f"{folder.name}/{name}.png", "height": image.shape[0],
                        "width": image.shape[1], "source": f"skimage.data (scikit-image {skimage.__version__})",
                        "channels": "gray, stored as 3 equal channels" if gray else "rgb",
                        "sha256": sha256_of_file(folder / f"{name}.png")})
    return entries


def shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """Area-interpolated downscale by ``factor``: averages factor^2 pixels into one, which
    pushes JPEG blocks and sensor grain far below the noise the models are trained on."""
    height, width = image.shape[0] // factor, image.shape[1] // factor
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def read_photo_upright(path: Path) -> np.ndarray:
    """An RGB uint8 photo with its EXIF rotation applied (kphotoalbum's portraits need it)."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def shrink_factor_for(height: int, width: int, least: int) -> int:
    """At least ``least``, and enough that the shrunk photo stays under about 2.5 MP: the 4K-6K
    wallpapers keep their framing but cost the training set no more than a phone photo."""
    return max(least, math.ceil(math.sqrt(height * width / 2.5e6)))


def export_shrunk(photos: list[tuple[str, Path, dict[str, Any]]], folder: Path, factor: int,
                  held_out: set[str], reader=read_frame, adaptive: bool = False) -> list[dict[str, Any]]:
    """Shrink and write each (name, source file, provenance) as ``folder/<name>.png``.

    ``factor`` is the shrink factor, or with ``adaptive`` the least one (:func:`shrink_factor_for`).
    A photo whose pixels equal a held-out photo's is refused: held-out photos stay out of training.
    """
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, source, provenance in photos:
        image = reader(source)
        if hashlib.sha256(image.tobytes()).hexdigest() in held_out:
            raise RestoreError(f"{source} is one of the held-out photos; it cannot be used for training")
        this_factor = shrink_factor_for(*image.shape[:2], factor) if adaptive else factor
        small = shrink(image, this_factor)
        if min(small.shape[:2]) < 128:
            raise RestoreError(f"{source} is {image.shape[0]}x{image.shape[1]}: too small to shrink {this_factor}x "
                             "and still give 128x128 training crops")
        target = folder / f"{name}.png"
        if target.exists():
            raise RestoreError(f"two photos would both be written as {target.name}; rename one of them")
        target.parent.mkdir(parents=True, exist_ok=True)
        write_png(small, target)
        entries.append({"name": name, "file": target.relative_to(folder.parent.parent).as_posix(),
                        "height": small.shape[0], "width": small.shape[1], **provenance,
                        "source_sha256": sha256_of_file(source),
                        "shrink": f"{this_factor}x, area interpolation", "sha256": sha256_of_file(target)})
    return entries


def debian_sources(cache: Path, system_root: Path) -> list[tuple[str, Path, dict[str, Any]]]:
    photos = debian_photos.find_or_fetch(cache, system_root)
    versions = debian_photos.package_versions(cache)
    return [(photo.name, photo.path, {"source": f"debian:{photo.package}",
                                      **({"version": versions[photo.package]} if photo.package in versions else {}),
                                      "source_file": photo.package_path})
            for photo in photos]


def extra_debian_sources(cache: Path, system_root: Path, required: bool = True
                         ) -> list[tuple[str, Path, dict[str, Any]]]:
    """The 258 photographs of :data:`restore.scripts.debian_photo_list.EXTRA_PACKAGES`."""
    sources = []
    for photo in debian_photos.find_or_fetch_extra(cache, system_root, required=required):
        provenance = {"source": f"debian:{photo.package.package}", "version": photo.package.version,
                      "license": photo.package.license, "source_file": photo.package_path}
        if photo.container_sha256:
            provenance["container_sha256"] = photo.container_sha256
        sources.append((photo.name, photo.path, provenance))
    return sources


def user_sources(folders: list[Path]) -> list[tuple[str, Path, dict[str, Any]]]:
    """Every image below each folder, named by its path below the folder."""
    from restore.io.formats import IMAGE_SUFFIXES

    sources = []
    for folder in folders:
        if not folder.is_dir():
            raise RestoreError(f"--photos folder not found: {folder}")
        if any(part in ("site-packages", "dist-packages") for part in folder.resolve().parts):
            raise RestoreError(f"{folder} lies inside a Python package: images that packages ship are for "
                             "evaluation only, never for training")
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise RestoreError(f"--photos folder has no images: {folder}")
        for file in files:
            name = "_".join(file.relative_to(folder).with_suffix("").parts)
            sources.append((name, file, {"source": "user", "source_file": str(file.resolve())}))
    return sources


def build_corpus(out: Path, clip_frames: int = CLIP_FRAMES, clip_height: int = 256, clip_width: int = 384,
                 debian: bool = False, all_debian: bool = False, photos: tuple[Path, ...] = (),
                 shrink_factor: int = 2,
                 debian_cache: Path = Path("datasets/debian_packages"),
                 system_root: Path = Path("/")) -> dict[str, Any]:
    """Write train/, eval/, clips/ and manifest.json into ``out`` (which must not exist)."""
    if shrink_factor < 2:
        raise RestoreError(f"--shrink must be at least 2, got {shrink_factor}")
    held_out = export_images(EVAL_PHOTOS, out / "eval")
    held_out_pixels = {hashlib.sha256(load_rgb(name).tobytes()).hexdigest() for name in EVAL_PHOTOS}
    train = export_images(TRAIN_PHOTOS, out / "train")
    if debian or all_debian:
        train += export_shrunk(debian_sources(debian_cache, system_root), out / "train" / "debian",
                               shrink_factor, held_out_pixels)
    if all_debian:
        train += export_shrunk(extra_debian_sources(debian_cache, system_root), out / "train" / "debian_more",
                               shrink_factor, held_out_pixels, reader=read_photo_upright, adaptive=True)
    if photos:
        train += export_shrunk(user_sources(list(photos)), out / "train" / "user", shrink_factor, held_out_pixels)
    clips = make_sample_set(out / "clips", frames=clip_frames, height=clip_height, width=clip_width,
                            photos=TRAIN_PHOTOS)
    manifest = {
        "format": MANIFEST_FORMAT,
        "corpus": "v2" if all_debian else ("v1" if debian else "skimage"),
        "sources": sorted({entry["source"] for entry in train + held_out}),
        "train": train,
        "eval": held_out,
        "clips": {"from": "train", "photos": list(TRAIN_PHOTOS), "sequences": clips, "frames": clip_frames,
                  "height": clip_height, "width": clip_width, "layout": "clips/JPEGImages/480p/<seq>/00000.jpg",
                  "motion": "restore.scripts.make_sample_clips.pan_zoom_clip, seed = index in photos"},
        "skipped": SKIPPED,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def make_corpus(out: Path, overwrite: bool = False, **options: Any) -> dict[str, Any]:
    """Build the corpus in a temporary sibling folder, then move it to ``out`` in one rename."""
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass --overwrite to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        manifest = build_corpus(staging, **options)
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
    parser.add_argument("--debian", action="store_true",
                        help="add the natural photographs of Debian's plasma-workspace-wallpapers and "
                             "mate-backgrounds (fetched with apt-get download when not installed)")
    parser.add_argument("--all-debian", action="store_true",
                        help="corpus v2: --debian plus the 258 photographs of 14 more Debian packages "
                             "(restore/scripts/debian_photo_list.py), photos above 2.5 MP shrunk further")
    parser.add_argument("--debian-cache", type=Path, default=Path("datasets/debian_packages"),
                        help="where fetched .deb files are unpacked (default: %(default)s)")
    parser.add_argument("--photos", type=Path, action="append", default=[], metavar="DIR",
                        help="add every image below DIR (repeatable)")
    parser.add_argument("--shrink", type=int, default=2,
                        help="downscale factor for Debian and --photos images (area interpolation, >= 2)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    args = parser.parse_args(argv)
    return run_cli(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    try:
        height, width = parse_size(args.clip_size)
    except ValueError:
        raise RestoreError(f"--clip-size must look like 256x384, got {args.clip_size!r}") from None
    if args.clip_frames < 7 or height < 32 or width < 32:
        raise RestoreError("clips need at least 7 frames of at least 32x32 pixels")
    try:
        manifest = make_corpus(args.out, args.overwrite, clip_frames=args.clip_frames, clip_height=height,
                               clip_width=width, debian=args.debian,
                               all_debian=args.all_debian, photos=tuple(args.photos),
                               shrink_factor=args.shrink, debian_cache=args.debian_cache)
    except (FileExistsError, OSError) as error:
        raise RestoreError(str(error)) from None
    print(f"wrote {args.out}: {len(manifest['train'])} training photos, {len(manifest['eval'])} held-out photos, "
          f"{len(manifest['clips']['sequences'])} clips; manifest {args.out / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Make short real-image video clips: camera pans and zooms across skimage.data photos.

Tests and the smoke training config need video with real image statistics but
no download. Each clip moves a crop window along a straight path across one
bundled photograph while zooming, and resamples it to the frame size, so
consecutive frames are related by real motion as in DAVIS.

    python -m restore.scripts.make_sample_clips --out datasets/sample_clips \
        --frames 12 --size 96x128            # DAVIS layout: JPEGImages/480p/<seq>/00000.jpg
    python -m restore.scripts.make_sample_clips --out clips --videos   # also <seq>.mp4 files
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from restore.data.photos import load_rgb, pan_zoom_clip

# colour photographs that ship inside scikit-image (no network needed)
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry")


def write_frame_folder(clip: list[np.ndarray], folder: Path, suffix: str = ".jpg") -> None:
    """Frames as ``00000.jpg, 00001.jpg, ...`` (the DAVIS naming)."""
    folder.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if suffix == ".jpg" else []
    for index, frame in enumerate(clip):
        cv2.imwrite(str(folder / f"{index:05d}{suffix}"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), params)


def make_sample_set(out: Path, frames: int = 12, height: int = 96, width: int = 128,
                    photos: tuple[str, ...] = PHOTOS, videos: bool = False, fps: int = 25) -> list[str]:
    """Write one DAVIS-layout sequence per photo (and an .mp4 each if ``videos``); return the names."""
    names = []
    for seed, photo in enumerate(photos):
        clip = pan_zoom_clip(load_rgb(photo), frames, height, width, seed=seed)
        name = photo.replace("_", "-")
        write_frame_folder(clip, out / "JPEGImages" / "480p" / name)
        if videos:
            from fractions import Fraction

            from restore.io.video import VideoWriter

            (out / "videos").mkdir(parents=True, exist_ok=True)
            with VideoWriter(out / "videos" / f"{name}.mp4", width, height, Fraction(fps)) as writer:
                for frame in clip:
                    writer.write(frame)
        names.append(name)
    return names


def parse_size(text: str) -> tuple[int, int]:
    """'HEIGHTxWIDTH' -> (height, width); ValueError otherwise."""
    height, width = (int(v) for v in text.lower().split("x"))
    return height, width


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder (DAVIS layout inside)")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--size", default="96x128", help="HEIGHTxWIDTH of the frames")
    parser.add_argument("--videos", action="store_true", help="also write each clip as an .mp4")
    args = parser.parse_args(argv)
    try:
        height, width = parse_size(args.size)
    except ValueError:
        print(f"error: --size must look like 96x128, got {args.size!r}", file=sys.stderr)
        return 2
    if args.frames < 1 or height < 8 or width < 8:
        print("error: need at least 1 frame of at least 8x8 pixels", file=sys.stderr)
        return 2
    names = make_sample_set(args.out, args.frames, height, width, videos=args.videos)
    print(f"wrote {len(names)} clips of {args.frames} frames ({height}x{width}) to {args.out}: {', '.join(names)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A video stored as a folder of numbered frame images (DAVIS ships video this way).

Frames are read one at a time in natural order (``2.png`` before ``10.png``),
after every frame's size has been read from its header (a video has one size);
output goes to a hidden temporary folder that is renamed into place at the end,
so an interrupted run never leaves a half-written frame folder.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from restore.errors import RestoreError
from restore.io.formats import IMAGE_SUFFIXES

FRAME_SUFFIXES = IMAGE_SUFFIXES


class FrameFolderError(RestoreError):
    """A problem with a frame folder; the message is for the user."""


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def list_frames(folder: str | os.PathLike) -> list[Path]:
    """The frame files of ``folder`` in natural order; an error if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FrameFolderError(f"frames folder not found: {folder}")
    frames = sorted((p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and p.is_file()),
                    key=_natural_key)
    if not frames:
        raise FrameFolderError(f"{folder} holds no frame images ({', '.join(FRAME_SUFFIXES)})")
    return frames


def frame_size(paths: list[Path]) -> tuple[int, int]:
    """The frames' one (width, height), read from each file's header; an error naming the first
    frame whose size differs, before any frame is decoded or denoised."""
    from PIL import Image, UnidentifiedImageError

    sizes = []
    for path in paths:
        try:
            with Image.open(path) as image:
                sizes.append(image.size)
        except (OSError, UnidentifiedImageError):
            raise FrameFolderError(f"{path} is not a readable image") from None
        if sizes[-1] != sizes[0]:
            (width, height), (first_width, first_height) = sizes[-1], sizes[0]
            raise FrameFolderError(f"{path.name} is {width}x{height} but {paths[0].name} is "
                                   f"{first_width}x{first_height}; the frames of a video must all have one size")
    return sizes[0]


def read_frame(path: Path) -> np.ndarray:
    """One frame as ``(H, W, 3)`` uint8 RGB (grey is repeated, alpha dropped, 16-bit scaled)."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FrameFolderError(f"{path} is not a readable image")
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) / 257.0).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        raise FrameFolderError(f"{path}: unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    return cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB)


def read_frame_folder(folder: str | os.PathLike) -> Iterator[np.ndarray]:
    """Yield the folder's frames one at a time."""
    for path in list_frames(folder):
        yield read_frame(path)


class FrameFolderWriter:
    """Write frames as PNG files named like the inputs; the folder appears only when complete."""

    dropped: tuple[str, ...] = ()  # frames alone: there are no other streams to keep

    def __init__(self, folder: str | os.PathLike, names: list[str]) -> None:
        self.folder = Path(folder)
        if self.folder.exists():
            raise FrameFolderError(f"output folder already exists: {self.folder}; choose another --output")
        self.names = [Path(name).stem + ".png" for name in names]
        self.tmp = Path(tempfile.mkdtemp(dir=self.folder.parent, prefix=f".{self.folder.name}.partial-"))
        self.frames = 0

    def write(self, image: np.ndarray, pts: int | None = None) -> None:
        """Write the next frame (``pts`` is accepted for symmetry with ``VideoWriter``; frames carry no time)."""
        name = self.names[self.frames] if self.frames < len(self.names) else f"{self.frames:05d}.png"
        if not cv2.imwrite(str(self.tmp / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
            raise FrameFolderError(f"could not write {self.folder / name} (is the disk full?); no output was written")
        self.frames += 1

    def __enter__(self) -> "FrameFolderWriter":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None and self.frames > 0:
            os.replace(self.tmp, self.folder)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

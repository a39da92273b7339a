"""Noisy/clean video clips for MIMO training and validation (DAVIS and the like).

Sources, picked by the options:

* ``dataroot`` a DAVIS download (``<root>/JPEGImages/480p/<seq>/00000.jpg``),
  a folder of frame folders (``<root>/<seq>/*.png|jpg``), or a folder of video
  files (``<root>/<name>.mp4``; decoded with PyAV, slower than frames);
* ``skimage_pans``: clips made in memory by panning and zooming over photos
  that ship with scikit-image (smoke runs and tests; no files needed);
* ``photo_motion`` (training): a folder of still photos, and a new clip drawn
  for every sample by moving a camera across one of them
  (:mod:`restore.data.photo_motion`): video training without video data.

A training sample is a random ``num_frames`` clip of one sequence, a random
``gt_size`` crop, random horizontal/vertical flips and time reversal, and
Gaussian noise ``gt + N(0, sigma/255)`` (sigma fixed or drawn per clip from
``[low, high]``; not clipped, as in FastDVDnet/VRT). Validation takes the
clip in the middle of each sequence, a centre crop, and noise seeded per
sequence. Shapes: ``lq (T, 3|4, H, W)``, ``gt (T, 3, H, W)``; with
``noise_map: true`` the lq gets a fourth channel filled with sigma/255.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from einops import rearrange
from torch.utils import data

from restore.data.gaussian_noise_dataset import to_gray_rgb
from restore.data.image_files import image_size, list_images
from restore.data.photo_motion import MotionRange, motion_clip
from restore.errors import DatasetError
from restore.io.clip_frames import mirror_indices
from restore.io.formats import VIDEO_SUFFIXES
from restore.io.video_frame_folder import FRAME_SUFFIXES, list_frames, read_frame
from restore.noise.gaussian import add_gaussian_noise, append_sigma_map, draw_sigma
from restore.registry import DATASET_REGISTRY


class _FrameSequence:
    """A sequence stored as frame files."""

    def __init__(self, name: str, paths: list[Path]) -> None:
        self.name, self.paths = name, paths

    def __len__(self) -> int:
        return len(self.paths)

    def frames(self, indices: list[int]) -> list[np.ndarray]:
        return [read_frame(self.paths[i]) for i in indices]

    def iter_frames(self, count: int) -> Iterator[np.ndarray]:
        return (read_frame(path) for path in self.paths[:count])


class _VideoFileSequence:
    """A sequence stored as one video file; frames are decoded up to the last one needed."""

    def __init__(self, path: Path) -> None:
        from restore.io.video import read_video

        self.name, self.path = path.stem, path
        self.length = sum(1 for _ in read_video(path))

    def __len__(self) -> int:
        return self.length

    def frames(self, indices: list[int]) -> list[np.ndarray]:
        from restore.io.video import read_video

        wanted, found = set(indices), {}
        for index, frame in enumerate(read_video(self.path)):
            if index in wanted:
                found[index] = frame.image
            if index >= max(indices):
                break
        return [found[i] for i in indices]

    def iter_frames(self, count: int) -> Iterator[np.ndarray]:
        from restore.io.video import read_video

        for index, frame in enumerate(read_video(self.path)):
            if index >= count:
                return
            yield frame.image


class _PhotoFile:
    """One still photo for photo_motion, decoded per sample so that a large folder costs no memory."""

    def __init__(self, name: str, path: Path) -> None:
        self.name, self.path = name, path

    def __len__(self) -> int:
        return 1

    def frames(self, indices: list[int]) -> list[np.ndarray]:
        return [read_frame(self.path) for _ in indices]

    def iter_frames(self, count: int) -> Iterator[np.ndarray]:
        return iter(self.frames([0] * min(count, 1)))


class _MemorySequence:
    """A sequence already in memory (made from skimage photos)."""

    def __init__(self, name: str, clip: list[np.ndarray]) -> None:
        self.name, self.clip = name, clip

    def __len__(self) -> int:
        return len(self.clip)

    def frames(self, indices: list[int]) -> list[np.ndarray]:
        return [self.clip[i] for i in indices]

    def iter_frames(self, count: int) -> Iterator[np.ndarray]:
        return iter(self.clip[:count])


def find_sequences(root: Path) -> list:
    """DAVIS layout, a folder of frame folders, or a folder of video files."""
    if not root.is_dir():
        raise DatasetError(f"video dataset folder not found: {root}")
    davis = root / "JPEGImages" / "480p"
    base = davis if davis.is_dir() else root
    folders = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    sequences = [_FrameSequence(f.name, list_frames(f)) for f in folders
                 if any(c.suffix.lower() in FRAME_SUFFIXES for c in f.iterdir())]
    if not sequences:
        videos = sorted(p for p in base.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        sequences = [_VideoFileSequence(v) for v in videos]
    if not sequences:
        raise DatasetError(f"{root} holds no sequences: expected JPEGImages/480p/<seq>/, "
                           "<seq>/ folders of frames, or video files")
    return sequences


def pan_sequences(spec: dict) -> list:
    from restore.data.photos import TRAIN_PHOTOS, load_rgb, pan_zoom_clip

    photos = spec.get("photos", TRAIN_PHOTOS)
    frames, height, width = int(spec.get("frames", 12)), int(spec.get("height", 96)), int(spec.get("width", 128))
    return [_MemorySequence(photo, pan_zoom_clip(load_rgb(photo), frames, height, width, seed=seed))
            for seed, photo in enumerate(photos)]


@DATASET_REGISTRY.register()
class VideoClipDataset(data.Dataset):
    """Options: dataroot or skimage_pans {frames, height, width, photos}; sequences (names to
    keep); num_frames (7); gt_size (train crop 128; val centre crop, ~ for whole frames);
    sigma (30 or [low, high], 0-255); clip (false); quantize (round to 8-bit levels, false);
    noise_map (false); augment (train: true); noise_seed (val: 0); still_prob (train: the chance that a clip is a still shot, one frame
    repeated with fresh noise in each, as from a camera on a tripod; default 0); gray_prob
    (train: the chance that a clip is made gray, 3 equal channels; default 0).
    photo_motion {dataroot, max_speed (output pixels per frame, 4), max_zoom (per frame,
    0.01), scale ([0.5, 1]), max_rotation (degrees per frame, 0), sprites (0: at most this many
    objects cut from other photos of the folder, moving on their own), sprite_size ([0.2, 0.5]
    of the clip's side)} instead of dataroot: clips drawn afresh from still photos."""

    def __init__(self, opt: dict) -> None:
        super().__init__()
        self.opt = opt
        self.train = opt.get("phase", "train") == "train"
        self.num_frames = int(opt.get("num_frames", 7))
        self.gt_size = opt.get("gt_size", 128 if self.train else None)
        self.sigma = opt.get("sigma", 30)
        draw_sigma(self.sigma, np.random.default_rng(0))  # a bad range fails now, not in a worker
        self.clip = bool(opt.get("clip", False))
        self.quantize = 255 if opt.get("quantize", False) else None
        self.noise_map = bool(opt.get("noise_map", False))
        self.augment = bool(opt.get("augment", self.train))
        self.seed = int(opt.get("noise_seed", 0))
        self.still_prob = float(opt.get("still_prob", 0.0))
        self.gray_prob = float(opt.get("gray_prob", 0.0))
        for key, value in (("still_prob", self.still_prob), ("gray_prob", self.gray_prob)):
            if not 0.0 <= value <= 1.0:
                raise DatasetError(f"{key} must be in [0, 1], got {value}")
        self.motion: MotionRange | None = None  # set: sequences are still photos to move across
        if opt.get("photo_motion"):
            if opt.get("dataroot") or opt.get("skimage_pans"):
                raise DatasetError(f"dataset {opt.get('name')!r}: photo_motion replaces dataroot and "
                                   "skimage_pans; set only one source")
            self._load_photos(dict(opt["photo_motion"]))
        elif opt.get("skimage_pans"):
            self.sequences = pan_sequences(dict(opt["skimage_pans"]))
        elif opt.get("dataroot"):
            self.sequences = find_sequences(Path(opt["dataroot"]))
        else:
            raise DatasetError(f"dataset {opt.get('name')!r}: set dataroot or skimage_pans")
        if opt.get("sequences"):
            keep = set(opt["sequences"])
            self.sequences = [s for s in self.sequences if s.name in keep]
            if not self.sequences:
                raise DatasetError(f"dataset {opt.get('name')!r}: none of {sorted(keep)} was found")
        if self.num_frames < 1:
            raise DatasetError(f"num_frames must be at least 1, got {self.num_frames}")

    def _load_photos(self, spec: dict) -> None:
        """Check the photos now (headers only), so that a bad folder fails before training starts."""
        if self.gt_size is None:
            raise DatasetError("photo_motion clips need a gt_size")
        self.motion = MotionRange.from_options(spec)
        if "dataroot" not in spec:
            raise DatasetError("photo_motion needs a dataroot: a folder of still photos")
        root = Path(spec["dataroot"])
        files = list_images(root, "photo_motion photo", recursive=True)
        sizes = [image_size(path) for path in files]
        small = [f"{path} ({h}x{w})" for path, (h, w) in zip(files, sizes) if min(h, w) < int(self.gt_size)]
        if small:
            raise DatasetError(f"photos smaller than gt_size {self.gt_size}: {', '.join(small)}")
        # named by path below dataroot, without suffix: sub/1.png and other/1.png stay apart
        self.sequences = [_PhotoFile(path.relative_to(root).with_suffix("").as_posix(), path) for path in files]

    def __len__(self) -> int:
        return len(self.sequences)

    def _draws_still(self, rng: random.Random) -> bool:
        """Whether this training clip is a still shot; no draw at all when still_prob is 0."""
        return self.train and bool(self.still_prob) and rng.random() < self.still_prob

    def _moving_photo(self, photo: _PhotoFile, rng: random.Random) -> np.ndarray:
        """A new clip from one photo, with sprites cut from others; validation (seeded by index)
        gets the same clip every time."""
        still = self._draws_still(rng)
        sprites = []
        if self.motion.sprites:
            others = [other for other in self.sequences if other is not photo] or [photo]
            sprites = [rng.choice(others).frames([0])[0] for _ in range(rng.randint(0, self.motion.sprites))]
        return motion_clip(photo.frames([0])[0], self.num_frames, int(self.gt_size), rng, self.motion, still,
                           sprites)

    def _sequence_clip(self, sequence: _FrameSequence | _VideoFileSequence | _MemorySequence,
                       rng: random.Random) -> np.ndarray:
        """A random run of frames of a stored sequence, cropped."""
        indices = self._clip_indices(len(sequence), rng)
        if self._draws_still(rng):
            indices = [rng.choice(indices)] * len(indices)
        frames = sequence.frames(indices)
        top, left, height, width = self._crop_box(*frames[0].shape[:2], rng)
        return np.stack([f[top:top + height, left:left + width] for f in frames])

    def _clip_indices(self, length: int, rng: random.Random) -> list[int]:
        if length < self.num_frames:
            return mirror_indices(length, self.num_frames)
        start = rng.randint(0, length - self.num_frames) if self.train else (length - self.num_frames) // 2
        return list(range(start, start + self.num_frames))

    def _crop_box(self, height: int, width: int, rng: random.Random) -> tuple[int, int, int, int]:
        if self.gt_size is None:
            return 0, 0, height, width
        size = int(self.gt_size)
        if height < size or width < size:
            raise DatasetError(f"frames of {height}x{width} are smaller than gt_size {size}")
        if self.train:
            return rng.randint(0, height - size), rng.randint(0, width - size), size, size
        return (height - size) // 2, (width - size) // 2, size, size

    def __getitem__(self, index: int) -> dict:
        sequence = self.sequences[index]
        # train: python/numpy RNGs are seeded per worker by BasicSR; val: seeded per sequence
        rng = random.Random(np.random.randint(2**31)) if self.train else random.Random(index)
        noise_rng = (np.random.default_rng(np.random.randint(2**31)) if self.train
                     else np.random.default_rng([self.seed, index]))
        frames = self._moving_photo(sequence, rng) if self.motion is not None else self._sequence_clip(sequence, rng)
        clean = frames.astype(np.float32) / 255.0
        if self.train and self.gray_prob and rng.random() < self.gray_prob:
            clean = to_gray_rgb(clean)
        if self.augment:
            if rng.random() < 0.5:
                clean = clean[:, :, ::-1]
            if rng.random() < 0.5:
                clean = clean[:, ::-1]
            if rng.random() < 0.5:
                clean = clean[::-1]  # play the clip backwards
        sigma = draw_sigma(self.sigma, noise_rng)
        noisy = add_gaussian_noise(np.ascontiguousarray(clean), sigma, noise_rng, self.clip, self.quantize)
        gt = torch.from_numpy(np.ascontiguousarray(rearrange(clean, "t h w c -> t c h w")))
        lq = torch.from_numpy(np.ascontiguousarray(rearrange(noisy, "t h w c -> t c h w")))
        if self.noise_map:
            lq = append_sigma_map(lq, sigma)
        name = f"{sequence.name}"
        return {"lq": lq, "gt": gt, "lq_path": name, "gt_path": name, "sigma": sigma}

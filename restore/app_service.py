"""What the Gradio app does, without Gradio: models, limits, image and video jobs.

``app.py`` only lays out widgets and turns :class:`UserError` into ``gr.Error``.
Keeping the work here means it can be tested and reused (a notebook, another
UI) and that the app never touches a file outside its own work folder.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from restore.api import Denoiser, build_network
from restore.io.image import ImageReadError, read_image, write_image
from restore.weights_card import WeightsCard, WeightsError, list_cards

IMAGE_MACS_SIZE = (256, 256)  # GMACs are quoted at 256×256, as in the paper's tables
VIDEO_MACS_CLIP = (7, 256, 256)  # and per frame of a 7×256×256 clip for video (Table 6)
ProgressFn = Callable[[float, str], None]


class UserError(ValueError):
    """A problem the user can fix (too big, wrong type, no model); shown as a friendly message."""


@dataclass(frozen=True)
class Limits:
    max_image_pixels: int = 16_000_000
    max_video_seconds: float = 20.0
    max_video_frame_pixels: int = 1920 * 1080
    max_upload_mb: int = 100


@dataclass
class ImageRun:
    noisy: np.ndarray  # what the network saw, 8-bit for display
    denoised: np.ndarray  # 8-bit for display
    download: Path  # the result at the input's bit depth and format
    seconds: float
    gmacs: float
    model: str


@dataclass
class VideoRun:
    video: Path  # denoised, with the input's audio
    preview: Path  # noisy | denoised side by side, no audio
    frames: int
    seconds: float
    model: str


def display_copy(pixels: np.ndarray) -> np.ndarray:
    """An 8-bit RGB(A) view for the browser (16-bit and grayscale are fine on disk, not in <img>)."""
    if pixels.dtype == np.uint16:
        pixels = np.rint(pixels / 257.0).astype(np.uint8)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    return pixels


def add_gaussian_noise(pixels: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """Noise of σ on the 0-255 scale, any bit depth, clipped; alpha is left clean."""
    scale = 257.0 if pixels.dtype == np.uint16 else 1.0
    top = 65535 if pixels.dtype == np.uint16 else 255
    colour = pixels[..., :3] if pixels.ndim == 3 and pixels.shape[2] == 4 else pixels
    noise = np.random.default_rng(seed).normal(0.0, sigma * scale, colour.shape)
    noisy = np.clip(np.rint(colour + noise), 0, top).astype(pixels.dtype)
    if colour is not pixels:
        noisy = np.concatenate([noisy, pixels[..., 3:]], axis=2)
    return noisy


class ModelCatalog:
    """The registered models, loaded on first use and kept; GMACs counted once per model."""

    def __init__(self, weights_dir: Path, device: str = "cpu", tile: int = 256, tile_overlap: int = 32,
                 video_tile: int = 128, video_tile_overlap: int = 10) -> None:
        self.weights_dir = Path(weights_dir)
        self.device = device
        self.tile = tile  # image tiles
        self.tile_overlap = tile_overlap
        self.video_tile = video_tile  # spatial size of the 7×tile×tile video patches (paper: 128, overlap 10)
        self.video_tile_overlap = video_tile_overlap
        self._cards = {card.name: card for card in list_cards(self.weights_dir)}
        self._loaded: dict[str, Denoiser] = {}
        self._gmacs: dict[str, float] = {}
        self._lock = threading.Lock()

    def names(self, kind: str) -> list[str]:
        return [name for name, card in self._cards.items() if card.kind == kind]

    def card(self, name: str) -> WeightsCard:
        if name not in self._cards:
            raise UserError(f"unknown model {name!r}; choose one of {', '.join(self._cards) or '(none registered)'}")
        return self._cards[name]

    def baseline_of(self, name: str) -> str | None:
        """The card's baseline model, if it is registered too."""
        baseline = self.card(name).baseline
        return baseline if baseline in self._cards else None

    def denoiser(self, name: str) -> Denoiser:
        with self._lock:
            if name not in self._loaded:
                try:
                    denoiser = Denoiser.from_pretrained(
                        self.card(name).path, device=self.device, tile=self.tile, tile_overlap=self.tile_overlap)
                except WeightsError as error:
                    raise UserError(str(error)) from None
                # One untimed pass at the tile size, so the speed shown (and compared with the
                # baseline) is steady-state rather than first-call set-up.
                denoiser.warm_up(size=self.tile if denoiser.kind == "image" else self.video_tile)
                self._loaded[name] = denoiser
            return self._loaded[name]

    def gmacs(self, name: str) -> float:
        """GMACs per image at 256×256 (per frame of a 7×256×256 clip for video), counted on the meta device."""
        from restore.flops import count_macs

        with self._lock:
            if name not in self._gmacs:
                card = self.card(name)
                # Built on CPU (constructors may read tensor values), counted on meta: no compute.
                net = build_network(card).eval().to("meta")
                channels = 3 + int(card.noise_map_input)
                if card.kind == "image":
                    shape, per = (1, channels, *IMAGE_MACS_SIZE), 1
                else:
                    shape, per = (1, VIDEO_MACS_CLIP[0], channels, *VIDEO_MACS_CLIP[1:]), VIDEO_MACS_CLIP[0]
                self._gmacs[name] = count_macs(net, torch.zeros(shape, device="meta")) / per / 1e9
            return self._gmacs[name]


def sigma_for(card: WeightsCard, sigma: float | None) -> float | None:
    """The σ to hand to a model: only Gaussian models take one."""
    return float(sigma) if card.is_gaussian and sigma is not None else None


def denoise_image_file(catalog: ModelCatalog, path: str | Path, model: str, sigma: float | None,
                       add_noise: bool, out_dir: Path, limits: Limits,
                       progress: ProgressFn | None = None) -> ImageRun:
    """Read an uploaded image, optionally add σ noise, denoise it, write the download file."""
    card = catalog.card(model)
    if card.kind != "image":
        raise UserError(f"{model} is a video model; pick an image model")
    try:
        loaded = read_image(path)
    except ImageReadError as error:
        raise UserError(f"could not read the uploaded image: {error}") from None
    height, width = loaded.pixels.shape[:2]
    if height * width > limits.max_image_pixels:
        raise UserError(f"the image is {width}×{height} = {height * width / 1e6:.1f} MP; this app takes up to "
                        f"{limits.max_image_pixels / 1e6:.0f} MP. Use restore/denoise_image.py for larger images.")
    pixels = loaded.pixels
    if add_noise:
        if not card.is_gaussian or sigma is None:
            raise UserError("adding noise needs a Gaussian model and a σ")
        pixels = add_gaussian_noise(pixels, sigma)
    denoiser = catalog.denoiser(model)

    def on_tile(done: int, total: int) -> None:
        if progress is not None:
            progress(done / total, f"{model}: tile {done}/{total}")

    started = time.perf_counter()
    try:
        result = denoiser(pixels, sigma=sigma_for(card, sigma), progress=on_tile)
    except ValueError as error:  # σ outside the model's range and similar
        raise UserError(str(error)) from None
    seconds = time.perf_counter() - started
    suffix = Path(path).suffix.lower() if loaded.format in ("png", "tiff", "webp") else ".png"
    download = out_dir / f"{Path(path).stem}_{model}{suffix}"
    write_image(download, result)
    return ImageRun(noisy=display_copy(pixels), denoised=display_copy(result), download=download,
                    seconds=seconds, gmacs=catalog.gmacs(model), model=model)


def video_frames(path: Path, sigma_noise: float | None,
                 shown: deque, pts: deque) -> Iterator[np.ndarray]:
    """Decoded frames (with optional added noise); remembers each frame for the preview and its pts."""
    from restore.io.video import read_video

    for index, decoded in enumerate(read_video(path)):
        frame = decoded.image
        if sigma_noise is not None:
            frame = add_gaussian_noise(frame, sigma_noise, seed=index)
        shown.append(frame)
        pts.append(decoded.pts)
        yield frame


def preview_size(width: int, height: int, max_width: int = 480) -> tuple[int, int]:
    """Each half of the side-by-side preview: at most ``max_width`` wide, even sizes for H.264."""
    scale = min(1.0, max_width / width)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def denoise_video_file(catalog: ModelCatalog, path: str | Path, model: str, sigma: float | None,
                       add_noise: bool, out_dir: Path, limits: Limits,
                       progress: ProgressFn | None = None) -> VideoRun:
    """Denoise an uploaded video, streaming, keeping its audio; also write a side-by-side preview."""
    import cv2

    from restore.io.video import VideoError, VideoWriter, probe_video
    from restore.video_inference import denoise_frames

    card = catalog.card(model)
    if card.kind != "video":
        raise UserError(f"{model} is an image model; pick a video model")
    path = Path(path)
    try:
        info = probe_video(path)
    except VideoError as error:
        raise UserError(f"could not read the uploaded video: {error}") from None
    if info.width * info.height > limits.max_video_frame_pixels:
        raise UserError(f"frames are {info.width}×{info.height}; this app takes up to "
                        f"{limits.max_video_frame_pixels / 1e6:.1f} MP per frame. Use restore/denoise_video.py.")
    max_frames = int(limits.max_video_seconds * float(info.fps)) + 1
    if info.frame_count is not None and info.frame_count > max_frames:
        raise UserError(f"the video is {info.frame_count / float(info.fps):.1f} s long; this app takes up to "
                        f"{limits.max_video_seconds:g} s. Use restore/denoise_video.py for longer videos.")
    if add_noise and (not card.is_gaussian or sigma is None):
        raise UserError("adding noise needs a Gaussian model and a σ")
    denoiser = catalog.denoiser(model)
    try:
        network = denoiser.network_fn(sigma_for(card, sigma))
    except ValueError as error:
        raise UserError(str(error)) from None

    shown: deque[np.ndarray] = deque()
    pts: deque[int | None] = deque()
    frames = video_frames(path, sigma if add_noise else None, shown, pts)
    stream = denoise_frames(network, frames, tile=catalog.video_tile, tile_overlap=catalog.video_tile_overlap)
    output, preview = out_dir / f"{path.stem}_{model}.mp4", out_dir / f"{path.stem}_side_by_side.mp4"
    half_width, half_height = preview_size(info.width, info.height)
    total = info.frame_count or max_frames
    started = time.perf_counter()
    try:
        with VideoWriter(output, info.width, info.height, info.fps, info.time_base, audio_from=path) as writer, \
                VideoWriter(preview, 2 * half_width, half_height, info.fps) as side_by_side:
            for count, frame in enumerate(stream, start=1):
                if count > max_frames:
                    raise UserError(f"the video is longer than {limits.max_video_seconds:g} s; "
                                    "use restore/denoise_video.py for longer videos")
                writer.write(frame, pts.popleft())
                halves = [cv2.resize(image, (half_width, half_height), interpolation=cv2.INTER_AREA)
                          for image in (shown.popleft(), frame)]
                side_by_side.write(np.hstack(halves))
                if progress is not None:
                    progress(min(count / total, 1.0), f"frame {count}/{total}")
    except VideoError as error:
        raise UserError(str(error)) from None
    return VideoRun(video=output, preview=preview, frames=writer.frames,
                    seconds=time.perf_counter() - started, model=model)

"""What the Gradio app does, without Gradio: models, limits, uploads, image and video jobs.

``app.py`` only lays out widgets and turns :class:`RestoreError` into ``gr.Error``.
Keeping the work here means it can be tested and reused (a notebook, another
UI) and that the app never touches a file outside its own work folder, keeps
only its latest results there, and never names a server path to the user.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from restore.api import Denoiser, build_network
from restore.errors import RestoreError, WeightsError
from restore.inference.defaults import (
    APP_MAX_IMAGE_PIXELS,
    DEFAULT_TILE,
    DEFAULT_TILE_OVERLAP,
    DEFAULT_VIDEO_TILE,
    DEFAULT_VIDEO_TILE_OVERLAP,
)
from restore.io.image import ImageReadError, read_image, write_image
from restore.io.temp_files import process_alive
from restore.io.weights_card import WeightsCard, list_cards
from restore.noise import NoiseModel

IMAGE_MACS_SIZE = (256, 256)  # GMACs are quoted at 256×256, as in the paper's tables
VIDEO_MACS_CLIP = (7, 256, 256)  # and per frame of a 7×256×256 clip for video (Table 6)
ProgressFn = Callable[[float, str], None]
# An absolute path in a message: a slash that starts a word, then folders, then the last part.
ABSOLUTE_PATH = re.compile(r"(?<![\w:/.])/(?:[^\s/'\"]+/)+([^\s/'\"]*)")


@dataclass(frozen=True)
class Limits:
    max_image_pixels: int = APP_MAX_IMAGE_PIXELS
    max_video_seconds: float = 20.0
    max_video_frame_pixels: int = 1920 * 1080
    max_upload_mb: int = 100
    keep_results: int = 8  # finished requests whose result folders stay (Gradio serves its own copies)


@dataclass
class ImageRun:
    noisy: np.ndarray  # what the network saw, 8-bit for display
    denoised: np.ndarray  # 8-bit for display
    download: Path  # the result at the input's bit depth and format
    seconds: float
    gmacs: float
    model: str
    sigma: float | None  # the σ the network was told; None for a model that finds the noise itself
    note: str | None = None  # a line about an input this model is not made for (a JPEG for a Gaussian model)


@dataclass
class VideoRun:
    video: Path  # denoised, with the input's audio and subtitles
    preview: Path  # noisy | denoised side by side, no audio
    frames: int
    seconds: float
    model: str
    sigma: float | None
    dropped: list[str]  # the input's streams the result could not keep


def display_copy(pixels: np.ndarray) -> np.ndarray:
    """An 8-bit RGB(A) view for the browser (16-bit and grayscale are fine on disk, not in <img>)."""
    if pixels.dtype == np.uint16:
        pixels = np.rint(pixels / 257.0).astype(np.uint8)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    if pixels.shape[2] == 2:  # gray + alpha
        pixels = pixels[:, :, [0, 0, 0, 1]]
    return pixels


class ModelCatalog:
    """The registered models, loaded on first use and kept; GMACs counted once per model."""

    def __init__(self, weights_dir: Path, device: str = "cpu", precision: str = "fp32", tile: int = DEFAULT_TILE,
                 tile_overlap: int = DEFAULT_TILE_OVERLAP, video_tile: int = DEFAULT_VIDEO_TILE,
                 video_tile_overlap: int = DEFAULT_VIDEO_TILE_OVERLAP) -> None:
        self.weights_dir = Path(weights_dir)
        self.device = device
        self.precision = precision
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
            raise RestoreError(f"unknown model {name!r}; choose one of {', '.join(self._cards) or '(none registered)'}")
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
                        self.card(name).path, device=self.device, precision=self.precision, tile=self.tile,
                        tile_overlap=self.tile_overlap)
                except WeightsError as error:
                    raise RestoreError(str(error)) from None
                # One untimed pass at the tile size, so the speed shown (and compared with the
                # baseline) is steady-state rather than first-call set-up.
                denoiser.warm_up(size=self.tile if denoiser.kind == "image" else self.video_tile)
                self._loaded[name] = denoiser
            return self._loaded[name]

    def gmacs(self, name: str) -> float:
        """GMACs per image at 256×256 (per frame of a 7×256×256 clip for video), counted on the meta device."""
        from restore.inference.flops import count_macs

        with self._lock:
            if name not in self._gmacs:
                card = self.card(name)
                # Built on CPU (constructors may read tensor values), counted on meta: no compute.
                net = build_network(card).eval().to("meta")
                channels = 3 * (2 if card.is_cascade else 1) + int(card.noise_map_input)  # a cascade: + image output
                if card.kind == "image":
                    shape, per = (1, channels, *IMAGE_MACS_SIZE), 1
                else:
                    shape, per = (1, VIDEO_MACS_CLIP[0], channels, *VIDEO_MACS_CLIP[1:]), VIDEO_MACS_CLIP[0]
                self._gmacs[name] = count_macs(net, torch.zeros(shape, device="meta")) / per / 1e9
            return self._gmacs[name]


def without_paths(message: str) -> str:
    """``message`` with every absolute path cut to its last part (an upload's file name): the
    app never tells a visitor where its files live."""
    return ABSOLUTE_PATH.sub(lambda match: match.group(1), message)


class ResultFolders:
    """A fresh folder under ``root`` for each request; making one removes all but the newest
    ``keep`` earlier ones. Gradio copies each result into its own cache before answering, so
    a finished request's folder is only a spare copy."""

    def __init__(self, root: Path, keep: int) -> None:
        self.root = root
        self.keep = keep
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def new(self) -> Path:
        with self._lock:
            earlier = sorted(self.root.iterdir(), key=lambda folder: folder.stat().st_mtime)
            for folder in earlier[:max(0, len(earlier) - self.keep)]:
                shutil.rmtree(folder, ignore_errors=True)
            return Path(tempfile.mkdtemp(dir=self.root))


def load_image_upload(path: str | Path, limits: Limits):
    """The uploaded image, or one :class:`RestoreError` line naming only the file; its size is
    checked from the header, before it is decoded."""
    try:
        return read_image(path, max_pixels=limits.max_image_pixels)
    except ImageReadError as error:
        message = without_paths(str(error))
        if "allowed" in message:
            message += " in this app; use restore/denoise_image.py for larger images"
        raise RestoreError(f"could not use the uploaded image: {message}") from None


def denoise_image_file(catalog: ModelCatalog, path: str | Path, model: str, sigma: float | str | None,
                       add_noise: bool, out_dir: Path, limits: Limits,
                       progress: ProgressFn | None = None, noise_sigma: float | None = None,
                       ensemble: bool = False) -> ImageRun:
    """Read an uploaded image, optionally add ``noise_sigma`` noise, denoise it with ``sigma``
    (a number, or "auto" to estimate it; models without a noise-map input find the noise
    themselves and get none), write the download file. ``ensemble``: the 8-way self-ensemble."""
    card = catalog.card(model)
    if card.kind != "image":
        raise RestoreError(f"{model} is a video model; pick an image model")
    loaded = load_image_upload(path, limits)
    pixels = loaded.pixels
    if add_noise:
        noise_sigma = noise_sigma if noise_sigma is not None else sigma
        if not card.noise_model.takes_sigma or not isinstance(noise_sigma, (int, float)):
            raise RestoreError("adding noise needs a model that takes σ, and a σ")
        pixels = card.noise_model.add_noise(pixels, noise_sigma, np.random.default_rng(0))
    denoiser = catalog.denoiser(model)

    def on_tile(done: int, total: int) -> None:
        if progress is not None:
            progress(done / total, f"{model}: tile {done}/{total}")

    started = time.perf_counter()
    value = denoiser.choose_sigma(pixels, sigma)[0] if card.noise_map_input else None
    result = denoiser(pixels, sigma=value, progress=on_tile, ensemble=ensemble)
    seconds = time.perf_counter() - started
    suffix = Path(path).suffix.lower() if loaded.format in ("png", "tiff", "webp") else ".png"
    download = out_dir / f"{Path(path).stem}_{model}{suffix}"
    write_image(download, result, loaded.metadata)
    return ImageRun(noisy=display_copy(pixels), denoised=display_copy(result), download=download,
                    seconds=seconds, gmacs=catalog.gmacs(model), model=model, sigma=value,
                    note=None if add_noise else denoiser.input_note(loaded.format))


def video_frames(path: Path, sigma_noise: float | None, shown: deque, pts: deque,
                 noise: NoiseModel) -> Iterator[np.ndarray]:
    """Decoded frames (with optional added noise); remembers each frame for the preview and its pts."""
    from restore.io.video import read_video

    for index, decoded in enumerate(read_video(path)):
        frame = decoded.image
        if sigma_noise is not None:
            frame = noise.add_noise(frame, sigma_noise, np.random.default_rng(index))
        shown.append(frame)
        pts.append(decoded.pts)
        yield frame


def preview_size(width: int, height: int, max_width: int = 480) -> tuple[int, int]:
    """Each half of the side-by-side preview: at most ``max_width`` wide, even sizes for H.264."""
    scale = min(1.0, max_width / width)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def probe_video_upload(path: str | Path, limits: Limits):
    """The uploaded video's ``VideoInfo``, or one :class:`RestoreError` line: not a video, frames
    too large, or too long for this app (where its index tells the length)."""
    from restore.io.video import VideoError, probe_video

    try:
        info = probe_video(path)
    except VideoError as error:
        raise RestoreError(f"could not read the uploaded video: {without_paths(str(error))}") from None
    if info.width * info.height > limits.max_video_frame_pixels:
        raise RestoreError(f"frames are {info.width}×{info.height}; this app takes up to "
                        f"{limits.max_video_frame_pixels / 1e6:.1f} MP per frame. Use restore/denoise_video.py.")
    if info.frame_count is not None and info.frame_count > max_video_frames(info, limits):
        raise RestoreError(f"the video is {info.frame_count / float(info.fps):.1f} s long; this app takes up to "
                        f"{limits.max_video_seconds:g} s. Use restore/denoise_video.py for longer videos.")
    return info


def max_video_frames(info, limits: Limits) -> int:
    return int(limits.max_video_seconds * float(info.fps)) + 1


def denoise_video_file(catalog: ModelCatalog, path: str | Path, model: str, sigma: float | str | None,
                       add_noise: bool, out_dir: Path, limits: Limits,
                       progress: ProgressFn | None = None, noise_sigma: float | None = None) -> VideoRun:
    """Denoise an uploaded video, streaming, keeping its audio and subtitles; also write a
    side-by-side preview. ``sigma`` is a number or "auto" (estimated once from the first frames)."""
    import cv2

    from restore.io.video import VideoError, VideoWriter

    card = catalog.card(model)
    if card.kind != "video":
        raise RestoreError(f"{model} is an image model; pick a video model")
    path = Path(path)
    info = probe_video_upload(path, limits)
    max_frames = max_video_frames(info, limits)
    noise_sigma = noise_sigma if noise_sigma is not None else sigma
    if add_noise and (not card.noise_model.takes_sigma or not isinstance(noise_sigma, (int, float))):
        raise RestoreError("adding noise needs a model that takes σ, and a σ")
    denoiser = catalog.denoiser(model)

    shown: deque[np.ndarray] = deque()
    pts: deque[int | None] = deque()
    frames = video_frames(path, noise_sigma if add_noise else None, shown, pts, card.noise_model)
    value = None  # a model without a noise-map input finds the noise itself
    if card.noise_map_input:
        try:
            frames, value, _ = denoiser.peek_sigma(frames, sigma)
        except VideoError as error:
            raise RestoreError(without_paths(str(error))) from None
    stream = denoiser.stream_video(frames, value, tile=catalog.video_tile, tile_overlap=catalog.video_tile_overlap)
    output, preview = out_dir / f"{path.stem}_{model}.mp4", out_dir / f"{path.stem}_side_by_side.mp4"
    half_width, half_height = preview_size(info.width, info.height)
    total = info.frame_count or max_frames
    started = time.perf_counter()
    try:
        with VideoWriter.like(output, info) as writer, \
                VideoWriter(preview, 2 * half_width, half_height, info.fps, rotation=info.rotation) as side_by_side:
            for count, frame in enumerate(stream, start=1):
                if count > max_frames:
                    raise RestoreError(f"the video is longer than {limits.max_video_seconds:g} s; "
                                    "use restore/denoise_video.py for longer videos")
                writer.write(frame, pts.popleft())
                halves = [cv2.resize(image, (half_width, half_height), interpolation=cv2.INTER_AREA)
                          for image in (shown.popleft(), frame)]
                side_by_side.write(np.hstack(halves))
                if progress is not None:
                    progress(min(count / total, 1.0), f"frame {count}/{total}")
    except VideoError as error:
        raise RestoreError(without_paths(str(error))) from None
    return VideoRun(video=output, preview=preview, frames=writer.frames, seconds=time.perf_counter() - started,
                    model=model, sigma=value, dropped=writer.dropped)


# ----- the work folder over HTTP, and the folders of apps that were killed --------------------------
#
# Gradio's protocol carries server paths: every file it hands out or takes back (uploads, results,
# examples in /config and the page) has a ``path`` and a ``url`` with the absolute path in them.
# HideWorkFolder is an ASGI middleware that writes the work folder as a short alias (``@work``) in
# every text response and reads the alias back in request paths, query strings and JSON bodies, so
# Gradio's own checks still see the real path and the browser never does. Uploaded file contents are
# never touched. claim_work_folder and remove_orphaned_work_folders let an app that was killed
# (kill -9, a power cut) have its folder removed by the next app started on the same root.

ALIAS = "@work"
OWNER_FILE = "owner.pid"
TEXT_TYPES = (b"application/json", b"text/", b"application/javascript")


class HideWorkFolder:
    """ASGI middleware: ``work_dir`` in outgoing text becomes ``@work``, and back on the way in."""

    def __init__(self, app, work_dir: str | Path):
        self.app = app
        self.real = str(work_dir).encode()
        self.alias = ALIAS.encode()

    def inward(self, data: bytes) -> bytes:
        return data.replace(self.alias, self.real).replace(b"%40" + self.alias[1:], self.real)

    def outward(self, data: bytes) -> bytes:
        return data.replace(self.real, self.alias)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        scope = dict(scope)
        scope["path"] = self.inward(scope["path"].encode()).decode()
        if scope.get("raw_path"):
            scope["raw_path"] = self.inward(scope["raw_path"])
        scope["query_string"] = self.inward(scope.get("query_string", b""))
        headers = dict(scope.get("headers") or [])
        json_body = headers.get(b"content-type", b"").startswith(b"application/json")

        async def receive_inward():
            message = await receive()
            if json_body and message["type"] == "http.request":
                message = {**message, "body": self.inward(message.get("body", b""))}
            return message

        state = {"rewrite": False, "stream": False, "start": None, "body": []}

        async def send_outward(message):
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                kind = headers.get(b"content-type", b"")
                state["rewrite"] = kind.startswith(TEXT_TYPES) and b"content-encoding" not in headers
                state["stream"] = kind.startswith(b"text/event-stream") or b"content-length" not in headers
                if not state["rewrite"] or state["stream"]:
                    if state["rewrite"]:  # a stream: no length to fix, each event goes out whole
                        message = {**message, "headers": [(key, value) for key, value in message["headers"]
                                                          if key != b"content-length"]}
                    return await send(message)
                state["start"] = message  # held until the body is known: its length changes
                return None
            if message["type"] != "http.response.body" or not state["rewrite"]:
                return await send(message)
            if state["stream"]:
                return await send({**message, "body": self.outward(message.get("body", b""))})
            state["body"].append(message.get("body", b""))
            if message.get("more_body"):
                return None
            body = self.outward(b"".join(state["body"]))
            start = state["start"]
            headers = [(key, value) for key, value in start["headers"] if key != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            return await send({"type": "http.response.body", "body": body})

        return await self.app(scope, receive_inward, send_outward)


def claim_work_folder(work_dir: Path) -> None:
    """Mark ``work_dir`` as this process's, for :func:`remove_orphaned_work_folders`."""
    (work_dir / OWNER_FILE).write_text(str(os.getpid()), encoding="ascii")


def remove_orphaned_work_folders(root: Path, prefix: str = "restore-app-") -> list[Path]:
    """Remove the work folders under ``root`` whose app process is gone; returns them.

    Only folders this module claimed (an ``owner.pid`` naming a process that no longer
    exists) are removed: a running app's folder, and anything else, is left alone."""
    removed = []
    for folder in sorted(root.glob(f"{prefix}*")):
        try:
            pid = int((folder / OWNER_FILE).read_text(encoding="ascii").strip())
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        if pid <= 0 or process_alive(pid):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed

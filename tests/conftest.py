"""Shared test set-up: a fixed thread count and seed so timings and numbers repeat, and the
builders that tests in several folders share.

- ``publish``, ``publish_local``, ``publish_uformer_pair``, ``publish_video``, ``publish_cascade``: small
  randomly initialised networks saved with real cards through ``save_pretrained`` and loaded back the
  way users load them; they run in seconds, where the published weights would take minutes.
- ``make_clip`` and ``running_app``: a small H.264 clip with audio, and the app on a loopback port.
- ``make_sidd_medium``, ``make_sidd_mat``, ``prepare_sidd``: small fake SIDD downloads.

The builders are session-scoped fixtures returning functions, so module-scoped fixtures can use them.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

import restore.archs  # noqa: F401  (registers the networks)

torch.set_num_threads(int(os.environ.get("RESTORE_TEST_THREADS", "2")))

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


# ----- tiny published networks ---------------------------------------------------------------

# A purely convolutional net (6 stacked 3x3 convs, receptive radius 6 px): tiled and
# untiled outputs must agree exactly away from the seams.
LOCAL_CONFIG = dict(num_feat=8, depth=6)
LOCAL_RADIUS = 6
TINY_UFORMER = dict(img_size=64, embed_dim=8, depths=[1] * 9, win_size=8, modulator=True, drop_path_rate=0.0)
# A tiny UniFormer video net with a noise-map input.
TINY_VIDEO = dict(embed_dim=4, enc_depths=[1, 1, 1, 1], dec_depths=[1, 1, 1, 1], bottleneck_depth=1, head_dim=8,
                  drop_path_rate=0.0, noise_map=True)


@pytest.fixture(scope="session")
def covered_once() -> Callable:
    """``covered_once(height, width, tile, overlap)``: the (H, W) mask of the pixels that exactly one
    tile of that layout covers, where a tiled network's output must equal the whole-image one."""
    def covered_once(height: int, width: int, tile: int, overlap: int) -> torch.Tensor:
        from restore.inference.tiling import tile_starts

        def once(length: int) -> torch.Tensor:
            count = torch.zeros(length, dtype=torch.int64)
            for start in tile_starts(length, tile, overlap):
                count[start:start + tile] += 1
            return count == 1
        return once(height)[:, None] & once(width)[None, :]
    return covered_once


@pytest.fixture(scope="session")
def local_radius() -> int:
    """How far one output pixel of ``publish_local``'s network sees."""
    return LOCAL_RADIUS


@pytest.fixture(scope="session")
def tiny_uformer() -> dict:
    """The config of ``publish_uformer_pair``'s networks (a copy: extend it with ``{**tiny_uformer, ...}``)."""
    return dict(TINY_UFORMER)


@pytest.fixture(scope="session")
def tiny_video() -> dict:
    """The config of ``publish_video``'s network."""
    return dict(TINY_VIDEO)


def _publish(folder: Path, name: str, arch: str, config: dict, seed: int = 0, **card):
    from restore.api import save_pretrained
    from restore.registry import ARCH_REGISTRY

    torch.manual_seed(seed)
    net = ARCH_REGISTRY.get(arch)
    card.setdefault("noise", {"type": "gaussian", "sigma": [0, 50]})
    return save_pretrained(net(**config), folder, name=name, arch=arch, config=config,
                           training_data="none: random initialisation (test fixture)", **card)


@pytest.fixture(scope="session")
def publish() -> Callable:
    """``publish(folder, name, arch, config, seed=0, **card)``: a seeded network saved with its card."""
    return _publish


@pytest.fixture(scope="session")
def publish_local() -> Callable:
    """``publish_local(folder, name="tiny_local_gauss", **card)``: the convolutional net of radius
    ``local_radius``."""
    def publish_local(folder: Path, name: str = "tiny_local_gauss", **card):
        return _publish(folder, name, "DnCNN", LOCAL_CONFIG, **card)
    return publish_local


@pytest.fixture(scope="session")
def publish_uformer_pair() -> Callable:
    """``publish_uformer_pair(folder)``: a tiny baseline Uformer and its SkipAt variant, the second
    naming the first as baseline."""
    def publish_uformer_pair(folder: Path) -> tuple:
        base = _publish(folder, "tiny_uformer_gauss", "Uformer", TINY_UFORMER)
        skip = _publish(folder, "tiny_uformer_skipat_gauss", "UformerSkipAt", TINY_UFORMER, baseline=base.name)
        return base, skip
    return publish_uformer_pair


@pytest.fixture(scope="session")
def publish_cascade() -> Callable:
    """``publish_cascade(folder, seed=0)``: the tiny SkipAt Uformer as an image stage and the tiny video
    net as a cascade on it (σ-map input, output conv at zero: it returns the image stage); returns
    (image card, cascade card). ``seed`` seeds the cascade's network, the image stage always has seed 0."""
    def publish_cascade(folder: Path, seed: int = 0) -> tuple:
        image = _publish(folder, "tiny_uformer_skipat_gauss", "UformerSkipAt", TINY_UFORMER)
        cascade = _publish(folder, "tiny_cascade_skipat_gauss", "UniformerVideoSkipAt", {**TINY_VIDEO, "cascade": True},
                           seed=seed, kind="video", noise_map_input=True, image_stage=image)
        return image, cascade
    return publish_cascade


@pytest.fixture(scope="session")
def publish_video() -> Callable:
    """``publish_video(folder, name="tiny_video_skipat_gauss")``: the tiny video net, σ-map input."""
    def publish_video(folder: Path, name: str = "tiny_video_skipat_gauss"):
        return _publish(folder, name, "UniformerVideoSkipAt", TINY_VIDEO, kind="video", noise_map_input=True)
    return publish_video


# ----- clips and the app ---------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _running_app(options: list[str], work: Path, env: dict | None = None
                 ) -> Iterator[tuple[str, subprocess.Popen]]:
    import httpx

    port = _free_port()
    with open(work / "app.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, str(REPO / "app.py"), "--port", str(port), "--work-dir", str(work), *options],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            env={**(env or os.environ), "GRADIO_ANALYTICS_ENABLED": "False"})
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"app did not start:\n{(work / 'app.log').read_text()[-3000:]}")
            time.sleep(0.5)
        try:
            yield url, process
        finally:
            process.terminate()
            process.wait(timeout=20)


@pytest.fixture(scope="session")
def running_app() -> Callable:
    """``with running_app(options, work, env=None) as (url, process)``: ``app.py`` with ``options``
    on a free loopback port, its log in ``work/app.log``, once the page answers; stopped afterwards."""
    return _running_app


def _make_clip(path: Path, frames: int, fps: int = 10, size: tuple[int, int] = (64, 48)) -> Path:
    import av
    from skimage import data

    width, height = size
    photo = data.astronaut()
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=44100)
        audio.layout = "mono"
        for index in range(frames):
            crop = np.ascontiguousarray(photo[100:100 + height, 100 + 4 * index:100 + 4 * index + width])
            for packet in video.encode(av.VideoFrame.from_ndarray(crop, format="rgb24")):
                container.mux(packet)
        samples = np.sin(2 * np.pi * 440 * np.arange(int(44100 * frames / fps)) / 44100).astype(np.float32)
        for start in range(0, len(samples), 1024):
            chunk = samples[start:start + 1024][None]
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 44100, start, Fraction(1, 44100)
            for packet in audio.encode(frame):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)
    return path


@pytest.fixture(scope="session")
def make_clip() -> Callable:
    """``make_clip(path, frames, fps=10, size=(64, 48))``: a pan across a real photo, H.264, with a
    440 Hz AAC tone as its audio track."""
    return _make_clip


# ----- fake SIDD downloads -------------------------------------------------------------------

SIDD_NOISE_SIGMA = 12.0


def _noisy_copy(gt: np.ndarray, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, SIDD_NOISE_SIGMA, gt.shape)
    return np.clip(gt.astype(np.float64) + noise, 0, 255).round().astype(np.uint8)


def _photos(size: int) -> list[np.ndarray]:
    """Real RGB photos cropped to size x size (uint8, RGB)."""
    from skimage import data

    return [np.ascontiguousarray(getattr(data, name)()[:size, :size, :3]) for name in ("astronaut", "coffee", "chelsea")]


def _make_sidd_medium(root: Path, size: int = 200) -> Path:
    import cv2

    for index, gt in enumerate(_photos(size)):
        scene = root / "SIDD_Medium_Srgb" / "Data" / f"{index + 1:04d}_001_S6_00100_00060_3200_L"
        scene.mkdir(parents=True)
        cv2.imwrite(str(scene / f"{index + 1:04d}_GT_SRGB_010.PNG"), cv2.cvtColor(gt, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(scene / f"{index + 1:04d}_NOISY_SRGB_010.PNG"),
                    cv2.cvtColor(_noisy_copy(gt, index), cv2.COLOR_RGB2BGR))
    return root / "SIDD_Medium_Srgb"


def _make_sidd_mat(root: Path, leading: tuple[int, ...] = (2, 3), block: int = 64) -> tuple[Path, Path]:
    from scipy import io as sio

    count = int(np.prod(leading))
    sources = _photos(256)
    blocks = np.stack([sources[i % len(sources)][(i // 3) * block:(i // 3 + 1) * block, :block] for i in range(count)])
    gt = blocks.reshape(*leading, block, block, 3)
    noisy = _noisy_copy(gt, 99)
    root.mkdir(parents=True, exist_ok=True)
    gt_path, noisy_path = root / "ValidationGtBlocksSrgb.mat", root / "ValidationNoisyBlocksSrgb.mat"
    sio.savemat(str(gt_path), {"ValidationGtBlocksSrgb": gt})
    sio.savemat(str(noisy_path), {"ValidationNoisyBlocksSrgb": noisy})
    return gt_path, noisy_path


def _prepare_sidd(src: Path, dst: Path, *extra: str) -> int:
    from restore.scripts.prepare_sidd import main

    return main(["--src", str(src), "--dst", str(dst), "--patches", "4", "--size", "96", "--workers", "1", *extra])


@pytest.fixture(scope="session")
def sidd_noise_sigma() -> float:
    """The σ (of 255) of the Gaussian noise in the fake SIDD photos."""
    return SIDD_NOISE_SIGMA


@pytest.fixture(scope="session")
def make_sidd_medium() -> Callable:
    """``make_sidd_medium(root, size=200)``: ``SIDD_Medium_Srgb/Data/<scene>/<n>_{GT,NOISY}_SRGB_010.PNG``
    for three scenes; returns the ``SIDD_Medium_Srgb`` folder."""
    return _make_sidd_medium


@pytest.fixture(scope="session")
def make_sidd_mat() -> Callable:
    """``make_sidd_mat(root, leading=(2, 3), block=64)``: validation .mat files with the official key
    names, blocks cut from real photos; returns (gt, noisy) paths."""
    return _make_sidd_mat


@pytest.fixture(scope="session")
def prepare_sidd() -> Callable:
    """``prepare_sidd(src, dst, *extra)``: ``restore.scripts.prepare_sidd`` on a fake download, small
    patches, one worker; returns its exit code."""
    return _prepare_sidd

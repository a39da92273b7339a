"""A free loopback port, the app started on one, and a small H.264 clip with an AAC tone,
for the app and video tests."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
from skimage import data


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_app(options: list[str], work: Path, env: dict | None = None
                ) -> Iterator[tuple[str, subprocess.Popen]]:
    """``app.py`` with ``options`` on a free loopback port, its log in ``work/app.log``:
    yields (url, process) once the page answers, and stops it afterwards."""
    port = free_port()
    repo = Path(__file__).resolve().parents[1]
    with open(work / "app.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, str(repo / "app.py"), "--port", str(port), "--work-dir", str(work), *options],
            cwd=repo, stdout=log, stderr=subprocess.STDOUT,
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


def make_clip(path: Path, frames: int, fps: int = 10, size: tuple[int, int] = (64, 48)) -> Path:
    """A pan across a real photo, H.264, with a 440 Hz AAC tone as its audio track."""
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

"""Streaming video reading and writing with PyAV: audio carried over, atomic output.

Frames are never all in memory: ``read_video`` yields one RGB uint8 frame at a
time and ``VideoWriter`` encodes each frame as it arrives. The writer copies
the source's audio packets into the output as the video advances (no audio
re-encoding when the container accepts the codec), writes into a hidden
temporary file beside the target, and renames it into place only when
everything succeeded, so a crash or a bad frame never leaves half a video.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from restore.errors import RestoreError
from restore.io.formats import VIDEO_SUFFIXES
from restore.io.temp_files import sibling_temp

IMAGE_DEMUXERS = {"image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "tiff_pipe", "webp_pipe", "gif"}


class VideoError(RestoreError):
    """A problem with a video file; the message is for the user."""


@dataclass(frozen=True)
class VideoInfo:
    """What the output must keep: size, frame rate, frame count and audio."""

    path: Path
    width: int
    height: int
    fps: Fraction
    frame_count: int | None  # exact count from an mp4/mov index; None for other containers
    time_base: Fraction
    has_audio: bool
    codec: str


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise VideoError(f"input video not found: {path}")
    if not path.is_file():
        raise VideoError(f"input is not a file: {path}")
    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        raise VideoError(f"{path} is not a readable video ({error.__class__.__name__}: {error})") from None


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Read the header; refuse files that are not videos with one clear message."""
    path = Path(path)
    container = _open(path)
    try:
        if container.format.name in IMAGE_DEMUXERS or not container.streams.video:
            raise VideoError(f"{path} is not a video (no video stream; images go through denoise_image.py)")
        stream = container.streams.video[0]
        if not stream.width or not stream.height:
            raise VideoError(f"{path} has a video stream without a frame size; is the file corrupt?")
        fps = stream.average_rate or stream.guessed_rate or Fraction(25)
        return VideoInfo(
            path=path, width=stream.width, height=stream.height, fps=Fraction(fps),
            # mp4/mov index every sample, so their count is exact; other containers only estimate
            frame_count=(stream.frames or None) if "mp4" in container.format.name else None, time_base=Fraction(stream.time_base or Fraction(1, 90000)),
            has_audio=bool(container.streams.audio), codec=stream.codec_context.name,
        )
    finally:
        container.close()


@dataclass
class DecodedFrame:
    """One decoded RGB frame and its presentation time (in the stream's time base)."""

    image: np.ndarray
    pts: int | None


def read_video(path: str | os.PathLike) -> Iterator[DecodedFrame]:
    """Yield frames one by one as ``(H, W, 3)`` uint8 RGB; decoding errors become ``VideoError``."""
    path = Path(path)
    probe_video(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        count = 0
        try:
            for frame in container.decode(stream):
                count += 1
                yield DecodedFrame(frame.to_ndarray(format="rgb24"), frame.pts)
        except av.error.FFmpegError as error:
            raise VideoError(f"{path}: decoding failed after {count} frames ({error})") from None
        if count == 0:
            raise VideoError(f"{path} contains no decodable video frames; is the file corrupt?")
    finally:
        container.close()


def default_output_path(source: Path, suffix_tag: str = "_denoised") -> Path:
    """``clip.mp4`` -> ``clip_denoised.mp4`` beside it (``.mp4`` when the suffix is unusual)."""
    suffix = source.suffix.lower() if source.suffix.lower() in VIDEO_SUFFIXES else ".mp4"
    if suffix in (".avi", ".webm"):
        suffix = ".mp4"  # H.264 in mp4 is what every player reads
    return source.with_name(f"{source.stem}{suffix_tag}{suffix}")


def check_output_path(output: Path, inputs: list[Path]) -> None:
    """Refuse to overwrite an input, or to write where no directory exists."""
    resolved = output.resolve()
    for source in inputs:
        if source.exists() and resolved == source.resolve():
            raise VideoError(f"output {output} is the input file; choose another --output")
    if not output.parent.is_dir():
        raise VideoError(f"output directory does not exist: {output.parent}")
    from restore.io.image import ImageWriteError, check_writable

    try:
        check_writable(output.parent)
    except ImageWriteError as error:
        raise VideoError(str(error)) from None
    if output.suffix.lower() not in VIDEO_SUFFIXES:
        raise VideoError(f"output {output} must end in one of {', '.join(VIDEO_SUFFIXES)}")


class _AudioCopier:
    """Stream the source's audio into the output, interleaved with the video."""

    def __init__(self, source: Path, output: av.container.OutputContainer) -> None:
        self.input = av.open(str(source), mode="r")
        in_stream = self.input.streams.audio[0]
        self.transcode = False
        try:
            self.stream = output.add_stream_from_template(in_stream)
        except (av.error.FFmpegError, ValueError):
            self.transcode = True
            self.stream = output.add_stream("aac", rate=in_stream.rate or 48000)
        self.time_base = in_stream.time_base
        self.packets = self.input.demux(in_stream)
        self.output = output
        self.finished = False

    def copy_until(self, seconds: float | None) -> None:
        """Mux audio packets that start before ``seconds`` (all of them for None)."""
        while not self.finished:
            try:
                packet = next(self.packets)
            except StopIteration:
                self.finished = True
                break
            if packet.dts is None and packet.pts is None:
                continue  # the demuxer's flush packet
            if self.transcode:
                for frame in packet.decode():
                    frame.pts = None
                    for out_packet in self.stream.encode(frame):
                        self.output.mux(out_packet)
            else:
                packet.stream = self.stream
                self.output.mux(packet)
            start = packet.pts if packet.pts is not None else packet.dts
            if seconds is not None and start * self.time_base >= seconds:
                break
        if self.finished and self.transcode:
            for out_packet in self.stream.encode(None):
                self.output.mux(out_packet)
            self.transcode = False  # flushed once

    def close(self) -> None:
        self.input.close()


class VideoWriter:
    """Encode RGB frames to H.264 (``crf``), keeping fps, timing and the source's audio.

    Use as a context manager; the file appears at ``path`` only after a clean exit::

        with VideoWriter(out, width, height, fps, audio_from=src) as writer:
            for frame in frames:
                writer.write(frame, pts)
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: Fraction,
                 time_base: Fraction | None = None, audio_from: str | os.PathLike | None = None,
                 crf: int = 18) -> None:
        self.path = Path(path)
        handle, tmp = sibling_temp(self.path, f".partial{self.path.suffix}")
        os.close(handle)
        self.tmp = Path(tmp)
        self.frames = 0
        self.audio: _AudioCopier | None = None
        try:
            # faststart: the index goes first, so browsers can play while downloading
            options = {"movflags": "+faststart"} if self.path.suffix.lower() in (".mp4", ".mov", ".m4v") else {}
            self.container = av.open(str(self.tmp), mode="w", format=self._format(), options=options)
            self.stream = self.container.add_stream("libx264", rate=fps)
            self.stream.width, self.stream.height = width, height
            # 4:2:0 needs even sizes; odd sizes keep every pixel with 4:4:4 instead of cropping.
            self.stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
            self.stream.options = {"crf": str(crf), "preset": "medium"}
            self.time_base = time_base or Fraction(1, 1) / Fraction(fps)
            self.stream.time_base = self.time_base
            self.fps = Fraction(fps)
            if audio_from is not None:
                with av.open(str(audio_from)) as probe:
                    has_audio = bool(probe.streams.audio)
                if has_audio:
                    self.audio = _AudioCopier(Path(audio_from), self.container)
        except BaseException:
            self._discard()
            raise

    def _format(self) -> str | None:
        return {".mkv": "matroska", ".webm": "matroska", ".m4v": "mp4"}.get(self.path.suffix.lower())

    def write(self, image: np.ndarray, pts: int | None = None) -> None:
        """Encode one ``(H, W, 3)`` uint8 RGB frame at ``pts`` (stream time base) or the next slot."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts = pts if pts is not None else round(self.frames / self.fps / self.time_base)
        frame.time_base = self.time_base
        if self.audio is not None:
            self.audio.copy_until(float(frame.pts * self.time_base))
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def _finish(self) -> None:
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        if self.audio is not None:
            self.audio.copy_until(None)
            self.audio.close()
        self.container.close()
        os.replace(self.tmp, self.path)

    def _discard(self) -> None:
        for closer in (getattr(self, "audio", None), getattr(self, "container", None)):
            try:
                if closer is not None:
                    closer.close()
            except Exception:  # noqa: BLE001  (already failing; the temp file goes regardless)
                pass
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None and self.frames > 0:
            try:
                self._finish()
            except BaseException:
                self._discard()
                raise
        else:
            self._discard()

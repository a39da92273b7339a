"""Streaming video reading and writing with PyAV: other streams carried over, atomic output.

Frames are never all in memory: ``read_video`` yields one RGB uint8 frame at a
time and ``VideoWriter`` encodes each frame as it arrives, at the source frame's
own timestamp (variable frame rates stay variable) and with the source's
rotation (a phone video's display matrix). The writer copies every audio and
subtitle stream of the source into the output, with its language, as the video
advances (no re-encoding when the container accepts the codec; audio it does
not accept is re-encoded to AAC, and what cannot be kept is listed in
``dropped``). It writes into a hidden temporary file beside the target and
renames it into place only when everything succeeded, so a crash, a bad frame
or a full disk never leaves half a video.
"""
from __future__ import annotations

import errno
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

# Still images that FFmpeg would open as one-frame videos; an animated GIF is a video here.
IMAGE_DEMUXERS = {"image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "tiff_pipe", "webp_pipe"}


class VideoError(RestoreError):
    """A problem with a video file; the message is for the user."""


@dataclass(frozen=True)
class VideoInfo:
    """What the output must keep: size, frame rate, frame count, rotation and the other streams."""

    path: Path
    width: int
    height: int
    fps: Fraction
    frame_count: int | None  # exact count from an mp4/mov index; None for other containers
    time_base: Fraction
    has_audio: bool
    codec: str
    rotation: int = 0  # degrees a player turns the frames by (a phone video's display matrix)


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
        rotation = _first_frame_rotation(container, stream)
        return VideoInfo(
            path=path, width=stream.width, height=stream.height, fps=Fraction(fps),
            # mp4/mov index every sample, so their count is exact; other containers only estimate
            frame_count=(stream.frames or None) if "mp4" in container.format.name else None, time_base=Fraction(stream.time_base or Fraction(1, 90000)),
            has_audio=bool(container.streams.audio), codec=stream.codec_context.name, rotation=rotation,
        )
    finally:
        container.close()


def _first_frame_rotation(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> int:
    """The display rotation FFmpeg attaches to decoded frames (from the stream's display matrix,
    which PyAV does not expose on the stream itself); 0 when the first frame does not decode,
    which ``read_video`` then reports."""
    try:
        for frame in container.decode(stream):
            return round(frame.rotation) % 360
    except av.error.FFmpegError:
        pass
    return 0


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
                if (frame.width, frame.height) != (stream.width, stream.height):
                    raise VideoError(f"{path}: frame {count + 1} is {frame.width}x{frame.height}, but the video "
                                     f"is {stream.width}x{stream.height}; videos that change size are not supported")
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


# Errors of the disk rather than of the video: reported as one line, with no output left behind.
DISK_ERRORS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
               errno.EFBIG: "the file is too large for this file system", errno.EROFS: "the file system is read-only",
               errno.EIO: "the disk reported an input/output error"}


def _describe(stream: av.stream.Stream) -> str:
    language = stream.metadata.get("language")
    codec = stream.codec_context.name or "unknown codec"
    return f"{stream.type} #{stream.index} ({codec}{', ' + language if language and language != 'und' else ''})"


class _StreamCopier:
    """Carry the source's audio and subtitle streams into the output, interleaved with the video.

    Packets are copied unchanged where the output container accepts their codec; audio it does not
    accept is re-encoded to AAC. Streams that cannot be kept (subtitles in a codec the container
    cannot hold, data streams, attachments) are named in ``dropped``."""

    def __init__(self, source: Path, output: av.container.OutputContainer) -> None:
        self.input = av.open(str(source), mode="r")
        self.output = output
        self.targets: dict[int, av.stream.Stream] = {}  # source stream index -> output stream
        self.transcoded: set[int] = set()
        self.dropped: list[str] = []
        accepted = output.supported_codecs
        for stream in self.input.streams:
            if stream.type == "video" and stream.index == self.input.streams.video[0].index:
                continue  # the one we denoise
            name = stream.codec_context.name
            if stream.type in ("audio", "subtitle") and name in accepted:
                target = output.add_stream_from_template(stream)
            elif stream.type == "audio" and name:
                target = output.add_stream("aac", rate=stream.rate or 48000)
                self.transcoded.add(stream.index)
            else:
                self.dropped.append(_describe(stream))
                continue
            for key in ("language", "title"):
                if key in stream.metadata:
                    target.metadata[key] = stream.metadata[key]
            target.disposition = stream.disposition
            self.targets[stream.index] = target
        kept = [stream for stream in self.input.streams if stream.index in self.targets]
        self.packets = self.input.demux(kept) if kept else iter(())
        self.finished = False

    def copy_until(self, seconds: float | None) -> None:
        """Mux packets that start before ``seconds`` (all of them for None)."""
        while not self.finished:
            try:
                packet = next(self.packets)
            except StopIteration:
                self.finished = True
                break
            if packet.dts is None and packet.pts is None:
                continue  # the demuxer's flush packet
            index, time_base = packet.stream.index, packet.stream.time_base
            target = self.targets[index]
            if index in self.transcoded:
                for frame in packet.decode():
                    frame.pts = None
                    self.output.mux(target.encode(frame))
            else:
                packet.stream = target
                self.output.mux(packet)
            start = packet.pts if packet.pts is not None else packet.dts
            if seconds is not None and start * time_base >= seconds:
                break
        if self.finished:
            for index in self.transcoded:
                self.output.mux(self.targets[index].encode(None))
            self.transcoded = set()  # flushed once

    def close(self) -> None:
        self.input.close()


class VideoWriter:
    """Encode RGB frames to H.264 (``crf``), keeping fps, timing, rotation and the source's other streams.

    Use as a context manager; the file appears at ``path`` only after a clean exit::

        with VideoWriter.like(out, probe_video(src)) as writer:
            for frame in read_video(src):
                writer.write(frame.image, frame.pts)
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: Fraction,
                 time_base: Fraction | None = None, streams_from: str | os.PathLike | None = None,
                 crf: int = 18, rotation: int = 0) -> None:
        self.path = Path(path)
        handle, tmp = sibling_temp(self.path, f".partial{self.path.suffix}")
        os.close(handle)
        self.tmp = Path(tmp)
        self.frames = 0
        self.last_pts: int | None = None
        self.copier: _StreamCopier | None = None
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
            # The encoder counts in the source's time base too: at 1/fps, the frames of a
            # variable-frame-rate video that are closer than 1/fps would share a timestamp.
            self.stream.time_base = self.stream.codec_context.time_base = self.time_base
            if rotation:
                self.stream.set_display_rotation(rotation)
            self.fps = Fraction(fps)
            if streams_from is not None:
                self.copier = _StreamCopier(Path(streams_from), self.container)
        except OSError as error:
            self._discard()
            raise self._disk_error(error) from None
        except BaseException:
            self._discard()
            raise

    @classmethod
    def like(cls, path: str | os.PathLike, info: VideoInfo, crf: int = 18) -> "VideoWriter":
        """A writer for a denoised copy of ``info.path``: its size, frame rate, time base, rotation,
        audio and subtitles."""
        return cls(path, info.width, info.height, info.fps, info.time_base, streams_from=info.path, crf=crf,
                   rotation=info.rotation)

    @property
    def dropped(self) -> list[str]:
        """The source's streams that the output could not keep, described for the user."""
        return self.copier.dropped if self.copier is not None else []

    def _format(self) -> str | None:
        return {".mkv": "matroska", ".webm": "matroska", ".m4v": "mp4"}.get(self.path.suffix.lower())

    def _disk_error(self, error: OSError) -> Exception:
        """A disk failure as one user-facing line naming the output, not the temporary file."""
        reason = DISK_ERRORS.get(error.errno)
        if reason is None:
            return error
        return VideoError(f"could not write {self.path}: {reason}; no output was written")

    def write(self, image: np.ndarray, pts: int | None = None) -> None:
        """Encode one ``(H, W, 3)`` uint8 RGB frame at ``pts`` (stream time base) or the next slot."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        if pts is None:
            pts = round(self.frames / self.fps / self.time_base)
        if self.last_pts is not None and pts <= self.last_pts:
            pts = self.last_pts + 1  # a muxer refuses repeated or backward timestamps
        frame.pts, frame.time_base, self.last_pts = pts, self.time_base, pts
        try:
            if self.copier is not None:
                self.copier.copy_until(float(frame.pts * self.time_base))
            self.container.mux(self.stream.encode(frame))
        except OSError as error:
            raise self._disk_error(error) from None
        self.frames += 1

    def _finish(self) -> None:
        try:
            self.container.mux(self.stream.encode(None))
            if self.copier is not None:
                self.copier.copy_until(None)
                self.copier.close()
            self.container.close()
            os.replace(self.tmp, self.path)
        except OSError as error:
            raise self._disk_error(error) from None

    def _discard(self) -> None:
        for closer in (getattr(self, "copier", None), getattr(self, "container", None)):
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

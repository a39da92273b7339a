"""denoise_video.py end to end: audio and subtitle tracks, timestamps, rotation, frame count and size
survive; bad input and a full disk exit 2 with one line."""
import shutil
from fractions import Fraction
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from restore.denoise_video import main
from restore.io.video import probe_video
from restore.api import save_pretrained

pytestmark = pytest.mark.slow  # subprocesses, servers or training: not in the fast subset

REPO = Path(__file__).resolve().parents[2]
GRADIO_VIDEOS = Path(__import__("gradio").__file__).parent / "media_assets" / "videos"
TINY = dict(embed_dim=4, enc_depths=[1, 1, 1, 1], dec_depths=[1, 1, 1, 1], bottleneck_depth=1, head_dim=8,
            drop_path_rate=0.0, noise_map=True)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A small untrained SkipAt video net saved with its weight card (no trained weights exist yet)."""
    import torch

    from restore.archs.uniformer_video_arch import UniformerVideoSkipAt

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("weights")
    net = UniformerVideoSkipAt(**TINY)
    save_pretrained(net, folder, name="tiny_video", arch="UniformerVideoSkipAt", config=TINY, kind="video",
                    noise={"type": "gaussian", "sigma": [0, 50]}, noise_map_input=True,
                    training_data="untrained test network")
    return folder / "tiny_video.json"


def count_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def audio_packets(path: Path) -> tuple[str, int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return stream.codec_context.name, stream.rate, sum(1 for p in container.demux(stream) if p.size)


@pytest.fixture(scope="module")
def clip_with_audio(tmp_path_factory) -> Path:
    """16 frames panning over a real photo at 30000/1001 fps, carrying gradio's AAC track."""
    from fractions import Fraction

    from restore.io.video import VideoWriter
    from restore.data.photos import load_rgb as load_photo, pan_zoom_clip

    path = tmp_path_factory.mktemp("clip") / "pan.mp4"
    with VideoWriter(path, 96, 62, Fraction(30000, 1001), streams_from=GRADIO_VIDEOS / "b.mp4") as writer:
        for frame in pan_zoom_clip(load_photo("chelsea"), 16, 62, 96):
            writer.write(frame)
    return path


def test_gradio_clip_round_trip_keeps_audio_fps_frames_and_size(tmp_path: Path) -> None:
    """The IO layer alone on gradio's 480x270 clip: decode every frame, re-encode, copy the audio."""
    from restore.io.video import VideoWriter, read_video

    source, output = GRADIO_VIDEOS / "b.mp4", tmp_path / "copy.mp4"
    info = probe_video(source)
    with VideoWriter.like(output, info) as writer:
        for frame in read_video(source):
            writer.write(frame.image, frame.pts)
    after = probe_video(output)
    assert (after.width, after.height, after.fps) == (480, 270, info.fps)
    assert count_frames(output) == count_frames(source) == 150
    assert audio_packets(output) == audio_packets(source)


def test_cli_keeps_audio_fps_frame_count_and_size(tiny_model: Path, clip_with_audio: Path, tmp_path: Path) -> None:
    source = tmp_path / "pan.mp4"
    shutil.copy(clip_with_audio, source)
    assert main(["--input", str(source), "--model", str(tiny_model), "--sigma", "30",
                 "--device", "cpu", "--tile", "64", "--tile-overlap", "10"]) == 0
    output = tmp_path / "pan_denoised.mp4"
    before, after = probe_video(source), probe_video(output)
    assert (after.width, after.height, after.fps) == (before.width, before.height, before.fps) == (96, 62, before.fps)
    assert before.fps == Fraction(30000, 1001)
    assert count_frames(output) == count_frames(source) == 16
    assert after.has_audio and audio_packets(output) == audio_packets(source)
    assert not list(tmp_path.glob(".*partial*"))  # the temporary file was moved, not left


def test_frames_dir_in_frames_dir_out(tiny_model: Path, tmp_path: Path) -> None:
    from restore.scripts.make_sample_clips import make_sample_set

    make_sample_set(tmp_path / "clips", frames=9, height=40, width=52, photos=("coffee",))
    frames = tmp_path / "clips" / "JPEGImages" / "480p" / "coffee"
    assert main(["--frames-dir", str(frames), "--model", str(tiny_model), "--sigma", "20",
                 "--device", "cpu", "--tile", "32", "--tile-overlap", "8"]) == 0
    written = sorted((tmp_path / "clips" / "JPEGImages" / "480p" / "coffee_denoised").iterdir())
    assert [p.name for p in written] == [f"{i:05d}.png" for i in range(9)]


def test_a_cascade_model_runs_unchanged_and_a_wrong_image_stage_is_one_line(tmp_path: Path, publish_cascade,
                                                                           publish, capsys) -> None:
    """The CLI takes a cascade card like any video card; its output is the API's, and a card
    whose image model was swapped is refused before any frame is written."""
    from restore.api import Denoiser
    from restore.io.video_frame_folder import list_frames, read_frame
    from restore.scripts.make_sample_clips import make_sample_set

    image, cascade = publish_cascade(tmp_path / "weights")
    make_sample_set(tmp_path / "clips", frames=9, height=40, width=52, photos=("coffee",))
    frames = tmp_path / "clips" / "JPEGImages" / "480p" / "coffee"
    options = ["--sigma", "20", "--device", "cpu", "--precision", "fp32", "--tile", "32", "--tile-overlap", "8"]
    assert main(["--frames-dir", str(frames), "--model", str(cascade.path), "--output", str(tmp_path / "out"),
                 *options]) == 0
    written = np.stack([read_frame(path) for path in list_frames(tmp_path / "out")])
    expected = Denoiser.from_pretrained(cascade.path, device="cpu").denoise_video(
        np.stack([read_frame(path) for path in list_frames(frames)]), sigma=20, tile=32, tile_overlap=8)
    assert np.array_equal(written, expected)
    capsys.readouterr()
    publish(tmp_path / "weights", image.name, "UformerSkipAt", image.config, seed=1)  # other weights, same name
    assert main(["--frames-dir", str(frames), "--model", str(cascade.path), "--output", str(tmp_path / "again"),
                 *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "use the image model it was trained with" in err
    assert not (tmp_path / "again").exists()


def test_corrupt_video_exits_2_and_leaves_no_output(tiny_model: Path, tmp_path: Path) -> None:
    corrupt = tmp_path / "broken.mp4"
    data = (GRADIO_VIDEOS / "b.mp4").read_bytes()
    corrupt.write_bytes(data[:200] + bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)))
    result = subprocess.run([sys.executable, str(REPO / "restore" / "denoise_video.py"), "--input", str(corrupt),
                             "--model", str(tiny_model), "--sigma", "30", "--device", "cpu"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "error:" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4"]


@pytest.mark.parametrize("case,fragment", [
    ("missing", "not found"),
    ("text", "not a readable video"),
    ("sigma", "sigma"),
    ("model", "model"),
    ("image_model_range", "outside"),
    ("same_output", "is the input"),
])
def test_bad_input_exits_2(tiny_model: Path, tmp_path: Path, capsys, case: str, fragment: str) -> None:
    clip = tmp_path / "b.mp4"
    shutil.copy(GRADIO_VIDEOS / "muted_b.mp4", clip)  # fails before any frame is denoised
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    args = {"missing": ["--input", str(tmp_path / "nope.mp4"), "--sigma", "30"],
            "text": ["--input", str(text), "--sigma", "30"],
            "sigma": ["--input", str(clip), "--sigma", "300"],
            "model": ["--input", str(clip), "--sigma", "30", "--model", "no_such_model"],
            "image_model_range": ["--input", str(clip), "--sigma", "80"],
            "same_output": ["--input", str(clip), "--output", str(clip), "--sigma", "30"]}[case]
    if "--model" not in args:
        args += ["--model", str(tiny_model)]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(args + ["--device", "cpu", "--weights-dir", str(tmp_path)]) == 2
    assert fragment in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_truncated_video_exits_2_and_leaves_no_output(tiny_model: Path, tmp_path: Path, capsys) -> None:
    """An mp4 cut short mid-stream decodes fewer frames than its index promises: exit 2, no half video."""
    from restore.scripts.make_sample_clips import make_sample_set

    make_sample_set(tmp_path / "clips", frames=16, height=62, width=96, photos=("chelsea",), videos=True)
    data = (tmp_path / "clips" / "videos" / "chelsea.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    shutil.rmtree(tmp_path / "clips")
    assert main(["--input", str(cut), "--model", str(tiny_model), "--sigma", "30", "--device", "cpu",
                 "--tile", "64"]) == 2
    assert "truncated" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4"]


# ----- what containers carry besides the frames --------------------------------------------------
# Each case is a small file crafted with PyAV: 16 frames of 64x64 panning over a real photo.

ASS_HEADER = (b"[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, "
              b"SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, "
              b"Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
              b"Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\n"
              b"[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n")


def pan_frame(index: int, size: int = 64) -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[100:100 + size, 100 + 4 * index:100 + 4 * index + size])


def add_video(container, rate: int = 10, rotation: int = 0, millisecond_pts: bool = False):
    stream = container.add_stream("libx264", rate=rate)
    stream.width = stream.height = 64
    stream.pix_fmt = "yuv420p"
    if millisecond_pts:
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
    if rotation:
        stream.set_display_rotation(rotation)
    return stream


def write_video(container, stream, frames: int = 16, pts_ms: list[int] | None = None) -> None:
    """H.264 frames: at ``pts_ms`` (milliseconds) when given, else one every 1/rate."""
    for index in range(frames):
        frame = av.VideoFrame.from_ndarray(pan_frame(index), format="rgb24")
        if pts_ms is not None:
            frame.pts, frame.time_base = pts_ms[index], Fraction(1, 1000)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def add_tone(container, language: str, rate: int = 44100):
    stream = container.add_stream("aac", rate=rate)
    stream.layout = "mono"
    stream.metadata["language"] = language
    return stream


def write_tone(container, stream, frequency: float, seconds: float = 1.6) -> None:
    rate = stream.rate
    samples = np.sin(2 * np.pi * frequency * np.arange(int(rate * seconds)) / rate).astype(np.float32)
    for start in range(0, len(samples), 1024):
        frame = av.AudioFrame.from_ndarray(samples[None, start:start + 1024], format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def make_multi_track(path: Path, subtitle_codec: str) -> Path:
    """Video, an English and a French audio track, and German subtitles (three lines)."""
    with av.open(str(path), "w") as container:  # every stream exists before the first packet
        video, english, french = add_video(container), add_tone(container, "eng"), add_tone(container, "fra")
        subtitles = container.add_stream(subtitle_codec)
        subtitles.metadata["language"] = "deu"
        subtitles.codec_context.subtitle_header = ASS_HEADER
        write_video(container, video)
        write_tone(container, english, 440)
        write_tone(container, french, 660)
        for line in range(3):
            text = f"0,0,Default,,0,0,0,,line {line}".encode()
            packet = subtitles.codec_context.encode_subtitle(
                av.subtitles.subtitle.SubtitleSet.create(text, 0, 400, pts=500 * line))
            packet.stream, packet.time_base = subtitles, Fraction(1, 1000)
            container.mux(packet)
    return path


def streams_of(path: Path) -> list[tuple]:
    """(type, codec, language, payloads of non-empty packets) of every stream but the video."""
    with av.open(str(path)) as container:
        payloads = {stream.index: [] for stream in container.streams}
        for packet in container.demux():
            if packet.size:
                payloads[packet.stream.index].append(bytes(packet))
        return [(stream.type, stream.codec_context.name, stream.metadata.get("language"), payloads[stream.index])
                for stream in container.streams if stream.type != "video"]


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(frame.pts * frame.time_base) for frame in container.decode(video=0)]


def denoise(tiny_model: Path, *args: str) -> int:
    return main([*args, "--model", str(tiny_model), "--sigma", "20", "--device", "cpu", "--tile", "64"])


def test_variable_frame_rate_keeps_each_frame_time(tiny_model: Path, tmp_path: Path) -> None:
    gaps = [10, 40, 15, 100] * 4  # ms between frames; 1/average rate would merge the close ones
    source = tmp_path / "vfr.mp4"
    with av.open(str(source), "w") as container:
        write_video(container, add_video(container, millisecond_pts=True),
                    pts_ms=[sum(gaps[:index]) for index in range(16)])
    assert denoise(tiny_model, "--input", str(source)) == 0
    assert frame_times(tmp_path / "vfr_denoised.mp4") == pytest.approx(frame_times(source), abs=1e-6)


def test_rotation_of_a_phone_video_is_kept(tiny_model: Path, tmp_path: Path) -> None:
    source = tmp_path / "portrait.mp4"
    with av.open(str(source), "w") as container:
        write_video(container, add_video(container, rotation=90))
    assert denoise(tiny_model, "--input", str(source)) == 0
    with av.open(str(tmp_path / "portrait_denoised.mp4")) as container:
        frame = next(container.decode(video=0))
    assert (frame.rotation, frame.width, frame.height) == (90, 64, 64)  # a player turns it upright


@pytest.mark.parametrize("suffix, subtitle_codec", [(".mkv", "subrip"), (".mp4", "mov_text")])
def test_every_audio_and_subtitle_track_is_kept_with_its_language(tiny_model: Path, tmp_path: Path, capsys,
                                                                  suffix: str, subtitle_codec: str) -> None:
    source = make_multi_track(tmp_path / f"film{suffix}", subtitle_codec)
    assert denoise(tiny_model, "--input", str(source)) == 0
    kept = streams_of(tmp_path / f"film_denoised{suffix}")
    assert [(kind, language) for kind, _, language, _ in kept] == [("audio", "eng"), ("audio", "fra"),
                                                                   ("subtitle", "deu")]
    assert kept == streams_of(source)  # packets copied, not re-encoded
    assert "not copied" not in capsys.readouterr().out


def test_a_track_the_output_cannot_hold_is_named_in_one_line(tiny_model: Path, tmp_path: Path, capsys) -> None:
    source = make_multi_track(tmp_path / "film.mkv", "subrip")  # SubRip has no place in an mp4
    assert denoise(tiny_model, "--input", str(source), "--output", str(tmp_path / "film.mp4")) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert notes == ["note: not copied to the output: subtitle #3 (srt, deu)"]
    assert [(kind, language) for kind, _, language, _ in streams_of(tmp_path / "film.mp4")] == [
        ("audio", "eng"), ("audio", "fra")]


def test_an_animated_gif_is_read_as_a_video(tiny_model: Path, tmp_path: Path) -> None:
    source = tmp_path / "anim.gif"
    with av.open(str(source), "w") as container:
        stream = container.add_stream("gif", rate=10)
        stream.width = stream.height = 64
        stream.pix_fmt = "rgb8"
        for index in range(10):
            frame = av.VideoFrame.from_ndarray(pan_frame(index), format="rgb24").reformat(format="rgb8")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    assert denoise(tiny_model, "--input", str(source)) == 0
    assert count_frames(tmp_path / "anim_denoised.mp4") == 10
    assert frame_times(tmp_path / "anim_denoised.mp4") == pytest.approx(frame_times(source))


def limit_file_size() -> None:
    """In the child: files may not grow past 20 kB, and the kernel answers EFBIG instead of SIGXFSZ."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


@pytest.fixture
def full_disk(tmp_path: Path):
    """A 16 kB tmpfs (needs root; skipped elsewhere, where the file-size limit case still runs)."""
    mount = tmp_path / "full"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("how, reason", [("tmpfs", "the disk is full"),
                                         ("file size limit", "the file is too large for this file system")])
def test_a_full_disk_exits_2_with_one_line_and_no_partial_file(tiny_model: Path, tmp_path: Path, request,
                                                               how: str, reason: str) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (16, 64, 64, 3), dtype=np.uint8)
    source = tmp_path / "noise.mp4"
    with av.open(str(source), "w") as container:  # incompressible frames: the output needs > 20 kB
        stream = container.add_stream("libx264", rate=10)
        stream.width = stream.height = 64
        for image in noise:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    folder = request.getfixturevalue("full_disk") if how == "tmpfs" else tmp_path / "out"
    folder.mkdir(exist_ok=True)
    output = folder / "clean.mp4"
    done = subprocess.run([sys.executable, str(REPO / "restore" / "denoise_video.py"), "--input", str(source),
                           "--output", str(output), "--model", str(tiny_model), "--sigma", "20", "--device", "cpu",
                           "--tile", "64", "--crf", "0"], capture_output=True, text=True, timeout=300,
                          preexec_fn=limit_file_size if how == "file size limit" else None)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2, done.stderr[-2000:]
    assert errors == [f"error: could not write {output}: {reason}; no output was written"]
    assert "Traceback" not in done.stderr and list(folder.iterdir()) == []


def test_frames_of_mixed_sizes_exit_2_before_any_work(tiny_model: Path, tmp_path: Path, capsys) -> None:
    from restore.io.image import write_image

    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(8):
        write_image(frames / f"{index:03d}.png", pan_frame(index, 48 if index == 5 else 64))
    for output in (tmp_path / "frames_denoised", tmp_path / "frames.mp4"):
        assert denoise(tiny_model, "--frames-dir", str(frames), "--output", str(output)) == 2
        err = capsys.readouterr().err
        assert err.strip() == ("error: 005.png is 48x48 but 000.png is 64x64; "
                               "the frames of a video must all have one size")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]

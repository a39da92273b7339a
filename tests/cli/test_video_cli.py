"""denoise_video.py end to end: audio, fps, frame count and size survive; bad input exits 2."""
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
    with VideoWriter(path, 96, 62, Fraction(30000, 1001), audio_from=GRADIO_VIDEOS / "b.mp4") as writer:
        for frame in pan_zoom_clip(load_photo("chelsea"), 16, 62, 96):
            writer.write(frame)
    return path


def test_gradio_clip_round_trip_keeps_audio_fps_frames_and_size(tmp_path: Path) -> None:
    """The IO layer alone on gradio's 480x270 clip: decode every frame, re-encode, copy the audio."""
    from restore.io.video import VideoWriter, read_video

    source, output = GRADIO_VIDEOS / "b.mp4", tmp_path / "copy.mp4"
    info = probe_video(source)
    with VideoWriter(output, info.width, info.height, info.fps, info.time_base, audio_from=source) as writer:
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

"""restore/denoise_image.py on real images: formats, channels, folders, errors, PSNR, tiling."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from restore.denoise_image import main
from restore.io.image import read_image, write_image
from restore.inference.tiling import tile_starts

REPO = Path(__file__).resolve().parents[2]
PHOTO = data.astronaut()[120:216:2, 150:278:2]  # 48×64 real photo crop


@pytest.fixture(scope="module")
def weights(tmp_path_factory, publish_local) -> Path:
    folder = tmp_path_factory.mktemp("weights")
    publish_local(folder)
    return folder


def run(weights: Path, *args: str) -> int:
    return main(["--weights-dir", str(weights), "--device", "cpu", "--sigma", "20", *map(str, args)])


@pytest.mark.parametrize("name,pixels", [
    ("rgb8.png", PHOTO),
    ("rgb16.png", PHOTO.astype(np.uint16) * 257),
    ("gray16.tiff", data.camera()[::8, ::8].astype(np.uint16) * 257),
    ("rgba.png", np.dstack([PHOTO, np.full(PHOTO.shape[:2], 128, np.uint8)])),
    ("rgba.webp", np.dstack([PHOTO, np.full(PHOTO.shape[:2], 200, np.uint8)])),
    ("gray.jpg", data.camera()[::8, ::8]),
    ("rgb.tif", PHOTO),
])
def test_each_format_and_mode_round_trips(tmp_path, weights, name, pixels):
    source = tmp_path / name
    write_image(source, pixels)
    stored = read_image(source).pixels
    assert run(weights, "--input", source) == 0
    out = read_image(tmp_path / f"{source.stem}_denoised{source.suffix}").pixels
    assert out.shape == stored.shape and out.dtype == stored.dtype
    if stored.ndim == 3 and stored.shape[2] == 4:
        assert np.array_equal(out[..., 3], stored[..., 3]), "alpha must be kept"
    assert not np.array_equal(out, stored), "the network ran"


def test_exif_orientation_is_respected(tmp_path, weights):
    source = tmp_path / "phone.jpg"
    stored = Image.fromarray(PHOTO)  # 64 wide, 48 high as stored
    exif = stored.getexif()
    exif[0x0112] = 8  # viewer rotates 90° counter-clockwise
    stored.save(source, exif=exif.tobytes(), quality=95)
    assert run(weights, "--input", source, "--output", tmp_path / "upright.png") == 0
    out = read_image(tmp_path / "upright.png")
    assert out.pixels.shape == (64, 48, 3) and out.orientation == 1


def test_folder_skips_a_corrupt_file_keeps_inputs_and_reports_failure(tmp_path, weights, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / "a.png", PHOTO)
    write_image(folder / "b.jpg", PHOTO[::-1])
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    (folder / "notes.txt").write_text("not an image")
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    assert run(weights, "--input", folder) == 2
    err = capsys.readouterr().err
    assert "broken.png" in err and "1 of 3 images failed" in err
    assert sorted(p.name for p in (tmp_path / "in_denoised").iterdir()) == ["a.png", "b.jpg"]
    assert before == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.mark.slow
def test_folder_lines_stand_alone_in_a_log(tmp_path, weights):
    """Read from one pipe, as a log holds stdout and stderr, each file's line is a line of its
    own, with no progress-bar redraws ("\\r") sharing it."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        write_image(folder / name, PHOTO)
    done = subprocess.run([sys.executable, str(REPO / "restore" / "denoise_image.py"), "--weights-dir", str(weights),
                           "--device", "cpu", "--sigma", "20", "--input", str(folder)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path, timeout=120)
    log = done.stdout.decode()
    assert done.returncode == 0, log
    assert "\r" not in log
    sources = [line.split(" -> ")[0] for line in log.splitlines() if " -> " in line]
    assert sources == [str(folder / name) for name in ("a.png", "b.png", "c.png")]


def test_outputs_never_overwrite_inputs(tmp_path, weights, capsys):
    source = tmp_path / "x.png"
    write_image(source, PHOTO)
    original = source.read_bytes()
    assert run(weights, "--input", source, "--output", source) == 2
    assert run(weights, "--input", tmp_path, "--output", tmp_path) == 2
    assert source.read_bytes() == original
    assert "is the input" in capsys.readouterr().err


def test_psnr_against_a_clean_reference(tmp_path, weights, capsys):
    clean = data.astronaut()[::8, ::8]
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 20, clean.shape), 0, 255).round().astype(np.uint8)
    write_image(tmp_path / "clean.png", clean)
    write_image(tmp_path / "noisy.png", noisy)
    assert run(weights, "--input", tmp_path / "noisy.png", "--gt", tmp_path / "clean.png") == 0
    line = capsys.readouterr().out
    noisy_psnr = 10 * np.log10(255**2 / np.mean((noisy.astype(float) - clean) ** 2))
    assert f"PSNR {noisy_psnr:.2f} dB ->" in line


def test_tiled_and_untiled_outputs_agree_on_the_overlap_free_interior(tmp_path, weights, local_radius):
    height, width, tile, overlap = 150, 130, 48, 2 * local_radius + 2
    photo = data.astronaut()[:height, :width].astype(np.uint16) * 257  # 16 bit: no 8-bit rounding ties
    write_image(tmp_path / "in.png", photo)
    assert run(weights, "--input", tmp_path / "in.png", "--output", tmp_path / "whole.png", "--tile", 0) == 0
    assert run(weights, "--input", tmp_path / "in.png", "--output", tmp_path / "tiled.png",
               "--tile", tile, "--tile-overlap", overlap) == 0
    whole = read_image(tmp_path / "whole.png").pixels.astype(int)
    tiled = read_image(tmp_path / "tiled.png").pixels.astype(int)

    def covered_once(length: int) -> np.ndarray:
        count = np.zeros(length, int)
        for start in tile_starts(length, tile, overlap):
            count[start:start + tile] += 1
        return count == 1

    interior = covered_once(height)[:, None] & covered_once(width)[None, :]
    assert interior.mean() > 0.3
    assert np.abs(tiled - whole)[interior].max() <= 1  # 16-bit rounding of equal floats
    assert np.abs(tiled - whole).max() < 0.02 * 65535  # the blended seams stay close too


def test_folder_outputs_that_would_collide_are_refused(tmp_path, weights, capsys):
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "a.png", PHOTO)
    write_image(tmp_path / "in" / "a.jpg", PHOTO)
    assert run(weights, "--input", tmp_path / "in", "--format", "png") == 2
    assert "same file (a.png)" in capsys.readouterr().err
    assert not (tmp_path / "in_denoised").exists()


@pytest.mark.slow
@pytest.mark.parametrize("args,message", [
    (["--input", "missing.png"], "input not found"),
    (["--input", "{img}", "--model", "no_such_model"], "unknown model"),
    (["--input", "{img}", "--sigma", "300"], "outside"),
    (["--input", "{img}", "--output", "{tmp}/out.txt"], "give an image file name"),
    (["--input", "{corrupt}"], "not a readable PNG"),
])
def test_bad_input_exits_2_with_one_clear_line(tmp_path, weights, args, message):
    write_image(tmp_path / "img.png", PHOTO)
    (tmp_path / "corrupt.png").write_bytes(b"nope")
    args = [a.format(img=tmp_path / "img.png", tmp=tmp_path, corrupt=tmp_path / "corrupt.png") for a in args]
    if "--sigma" not in args:
        args += ["--sigma", "20"]
    done = subprocess.run([sys.executable, str(REPO / "restore" / "denoise_image.py"), "--weights-dir", str(weights),
                           "--device", "cpu", *args], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "img_denoised.png").exists() and not (tmp_path / "out.txt").exists()


def test_cli_and_app_tile_defaults_match_the_api():
    from restore import app
    from restore.denoise_image import parse_args
    from restore.inference.defaults import DEFAULT_TILE, DEFAULT_TILE_OVERLAP

    for defaults in (parse_args(["--input", "x.png"]), app.parse_args([])):
        assert (defaults.tile, defaults.tile_overlap) == (DEFAULT_TILE, DEFAULT_TILE_OVERLAP)
    from restore.denoise_video import parse_args as video_args
    from restore.inference.defaults import DEFAULT_VIDEO_TILE, DEFAULT_VIDEO_TILE_OVERLAP

    video = video_args(["--input", "x.mp4"])
    app_defaults = app.parse_args([])
    for tile, overlap in ((video.tile, video.tile_overlap), (app_defaults.video_tile, app_defaults.video_tile_overlap)):
        assert (tile, overlap) == (DEFAULT_VIDEO_TILE, DEFAULT_VIDEO_TILE_OVERLAP)

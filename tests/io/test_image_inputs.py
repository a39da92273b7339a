"""Hostile and everyday image files at the IO layer: what is not a regular file, what is far
larger than its header allows, pages and frames, float TIFFs, gray+alpha, and the EXIF and
colour profile carried over to the output. Small files crafted in tmp_path throughout."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms
from skimage import data

from restore.io.image import ImageReadError, read_image, write_image
from restore.io.image_paths import plan_jobs

REPO = Path(__file__).resolve().parents[2]
RGB = data.chelsea()[:48, :64]
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def gray_alpha_png(pixels: np.ndarray) -> bytes:
    """A PNG of colour type 4 (gray+alpha) at 16 bits a sample, written by hand: neither
    Pillow nor OpenCV writes one."""
    height, width, _ = pixels.shape
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in pixels)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 4, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))


def camera_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Canon", "EOS R5", orientation
    exif.get_ifd(0x8769)[0x829A] = (1, 250)  # exposure time, in the Exif sub-directory
    return exif


# ----- what is not a regular image file -----------------------------------------------------

def test_a_fifo_named_png_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    outcome = []

    def attempt() -> None:
        try:
            read_image(fifo)
        except ImageReadError as error:
            outcome.append(str(error))

    reader = threading.Thread(target=attempt, daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "reading a FIFO hangs"
    assert outcome and "is a FIFO" in outcome[0]


def test_a_folder_and_a_device_are_refused_by_type(tmp_path):
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(ImageReadError, match="is a folder"):
        read_image(tmp_path / "dir.png")
    (tmp_path / "null.png").symlink_to("/dev/null")
    with pytest.raises(ImageReadError, match="is a character device, not an image"):
        read_image(tmp_path / "null.png")


MEASURE = """
import json, re, sys
from pathlib import Path
from restore.io.image import ImageReadError, read_image

def peak_mb():
    return int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024

before = peak_mb()
try:
    read_image(sys.argv[1])
    message = "read"
except ImageReadError as error:
    message = str(error)
print(json.dumps({"growth_mb": peak_mb() - before, "message": message}))
"""


def refusal_cost(path: Path) -> dict:
    """read_image(path) in a fresh process whose address space is capped at 3 GiB (so an
    unbounded read fails there instead of filling the machine): its message and peak growth."""
    import resource

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    done = subprocess.run([sys.executable, "-c", MEASURE, str(path)], cwd=REPO, capture_output=True, text=True,
                          timeout=60, preexec_fn=cap, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def sparse(path: Path, head: bytes, size: int = 2 * 10**9) -> Path:
    """A file of ``size`` bytes that starts with ``head`` and takes no disk space after it."""
    with open(path, "wb") as file:
        file.write(head)
        file.truncate(size)
    return path


def zero_device(path: Path) -> Path:
    path.symlink_to("/dev/zero")
    return path


WEBP_64X48 = b"RIFF\xf0\xff\xff\x7fWEBPVP8X" + bytes(8) + (63).to_bytes(3, "little") + (47).to_bytes(3, "little")


@pytest.mark.parametrize("name, make, fragment", [
    ("zero.png", zero_device, "is a character device"),
    ("sparse.png", lambda path: sparse(path, b""), "does not start as any image does"),
    ("tail.png", lambda path: sparse(path, cv2.imencode(".png", RGB)[1].tobytes()), "far more than a 64x48 image needs"),
    ("tail.webp", lambda path: sparse(path, WEBP_64X48), "far more than a 64x48 image needs"),
    ("huge.tif", lambda path: sparse(path, b"II*\x00", 3 * 2**30), "more than the 2.15 GB allowed"),
])
def test_hostile_files_are_refused_before_they_are_read(tmp_path, name, make, fragment):
    cost = refusal_cost(make(tmp_path / name))
    assert fragment in cost["message"]
    assert cost["growth_mb"] < 200


# ----- pages, frames and sample types ------------------------------------------------------

def test_multi_page_tiffs_and_animations_are_refused_in_one_line(tmp_path):
    frames = [Image.fromarray(np.roll(RGB, shift, axis=1)) for shift in (0, 8, 16)]
    frames[0].save(tmp_path / "pages.tif", save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / "moving.webp", save_all=True, append_images=frames[1:], duration=100, lossless=True)
    frames[0].save(tmp_path / "moving.png", save_all=True, append_images=frames[1:], duration=100)
    for name, fragment in [("pages.tif", "a multi-page TIFF of 3 pages"), ("moving.webp", "an animated WebP of 3 frames"),
                           ("moving.png", "an animated PNG of 3 frames")]:
        with pytest.raises(ImageReadError, match=fragment):
            read_image(tmp_path / name)


def test_a_camera_jpeg_with_a_preview_frame_is_still_read(tmp_path):
    photo, preview = Image.fromarray(RGB), Image.fromarray(RGB[::2, ::2])
    photo.save(tmp_path / "camera.jpg", "MPO", save_all=True, append_images=[preview])
    with Image.open(tmp_path / "camera.jpg") as stored:
        assert stored.n_frames == 2
    assert read_image(tmp_path / "camera.jpg").pixels.shape == RGB.shape


@pytest.mark.parametrize("pixels", [RGB.astype(np.float32) / 255, RGB[..., 0].astype(np.float32) / 255],
                         ids=["rgb", "gray"])
def test_a_float_tiff_is_refused_for_what_it_is_not_as_corrupt(tmp_path, pixels):
    tifffile.imwrite(tmp_path / "float.tif", pixels, photometric="rgb" if pixels.ndim == 3 else "minisblack")
    with pytest.raises(ImageReadError, match="32-bit floating-point pixels; only 8- and 16-bit") as refused:
        read_image(tmp_path / "float.tif")
    assert "corrupt" not in str(refused.value)


def test_a_tiff_pillow_cannot_parse_is_one_refusal_without_tifffile(tmp_path, monkeypatch):
    tifffile.imwrite(tmp_path / "float.tif", RGB.astype(np.float32) / 255, photometric="rgb")
    monkeypatch.setitem(sys.modules, "tifffile", None)  # inference alone (pip install .) has no tifffile
    with pytest.raises(ImageReadError, match="not a readable TIFF image"):
        read_image(tmp_path / "float.tif")


# ----- gray + alpha ------------------------------------------------------------------------

def test_a_16_bit_gray_alpha_png_comes_back_as_16_bit_gray_alpha(tmp_path):
    rng = np.random.default_rng(0)
    pixels = np.dstack([rng.integers(0, 65536, (20, 30)), np.tile(np.linspace(0, 65535, 30), (20, 1))]).astype(np.uint16)
    (tmp_path / "ga.png").write_bytes(gray_alpha_png(pixels))
    loaded = read_image(tmp_path / "ga.png")
    assert loaded.pixels.dtype == np.uint16 and np.array_equal(loaded.pixels, pixels)
    write_image(tmp_path / "out.png", loaded.pixels)
    assert (tmp_path / "out.png").read_bytes()[24:26] == b"\x10\x04"  # IHDR: 16 bits, colour type 4
    assert np.array_equal(read_image(tmp_path / "out.png").pixels, pixels)
    for fmt, shape in [("tif", (20, 30, 4)), ("webp", (20, 30, 4))]:  # neither holds gray+alpha here: RGBA
        back = read_image(write_image(tmp_path / f"out.{fmt}", loaded.pixels)).pixels
        assert back.shape == shape and np.array_equal(back[..., 3] > 0, pixels[..., 1] > 0)
    with pytest.warns(UserWarning, match="no alpha channel"):
        back = read_image(write_image(tmp_path / "out.jpg", loaded.pixels)).pixels
    assert back.ndim == 2


# ----- metadata ----------------------------------------------------------------------------

@pytest.mark.parametrize("source_format, target", [("JPEG", "out.jpg"), ("PNG", "out.png"), ("WEBP", "out.webp"),
                                                   ("JPEG", "out.png")])
def test_exif_and_colour_profile_are_carried_over_and_orientation_reset(tmp_path, source_format, target):
    source = tmp_path / f"in.{source_format.lower()}"
    Image.fromarray(RGB).save(source, source_format, exif=camera_exif(orientation=6).tobytes(), icc_profile=SRGB,
                              **({"quality": 95} if source_format == "JPEG" else {}))
    loaded = read_image(source)
    assert loaded.pixels.shape == (64, 48, 3)  # turned upright
    out = write_image(tmp_path / target, loaded.pixels, loaded.metadata)
    with Image.open(out) as written:
        exif, icc = written.getexif(), written.info.get("icc_profile")
    assert (exif[0x010F], exif[0x0110]) == ("Canon", "EOS R5")
    assert exif.get_ifd(0x8769)[0x829A] == (1, 250)
    assert exif[0x0112] == 1  # the pixels are upright now: no viewer may turn them again
    assert icc == SRGB
    assert read_image(out).pixels.shape == (64, 48, 3)


def test_formats_without_metadata_say_so(tmp_path):
    Image.fromarray(RGB).save(tmp_path / "in.jpg", exif=camera_exif().tobytes(), icc_profile=SRGB)
    loaded = read_image(tmp_path / "in.jpg")
    with pytest.warns(UserWarning, match="TIFF files are written without the input's EXIF and colour profile"):
        write_image(tmp_path / "out.tif", loaded.pixels, loaded.metadata)
    broken = type(loaded.metadata)(exif=loaded.metadata.exif, icc=b"\x00\x01\x00\x00" + bytes(65532))
    with pytest.warns(UserWarning, match="colour profile .malformed. could not be carried over"):
        write_image(tmp_path / "out.jpg", loaded.pixels, broken)
    with Image.open(tmp_path / "out.jpg") as written:
        assert written.getexif()[0x010F] == "Canon" and "icc_profile" not in written.info


# ----- output names ------------------------------------------------------------------------

@pytest.mark.parametrize("name, fmt, expected", [("a.jpg", "jpeg", "a_denoised.jpg"), ("a.JPG", "jpeg", "a_denoised.JPG"),
                                                 ("a.tif", "tiff", "a_denoised.tif"), ("a.png", "jpeg", "a_denoised.jpeg"),
                                                 ("a.jpg", None, "a_denoised.jpg")])
def test_format_keeps_a_suffix_that_already_names_it(tmp_path, name, fmt, expected):
    (tmp_path / name).write_bytes(b"")
    assert plan_jobs(tmp_path / name, fmt=fmt)[0].target.name == expected
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / name).write_bytes(b"")
    assert plan_jobs(folder, tmp_path / "out", fmt=fmt)[0].target.name == expected.replace("_denoised", "")

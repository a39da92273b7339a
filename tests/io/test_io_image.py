"""Image IO: every format and channel mode round-trips; orientation; corrupt files; atomic writes."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage import data

from restore.io.image import ImageReadError, ImageWriteError, read_image, write_image

RGB = data.astronaut()[::8, ::8]  # 64×64 real photo
GRAY = data.camera()[::8, ::8]
ALPHA = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (64, 1))
LOSSLESS = ["png", "tiff", "webp", "bmp"]


def variants():
    yield "gray8", GRAY
    yield "rgb8", RGB
    yield "rgba8", np.dstack([RGB, ALPHA])
    yield "gray16", GRAY.astype(np.uint16) * 257 + 3
    yield "rgb16", RGB.astype(np.uint16) * 257 + 5
    yield "rgba16", np.dstack([RGB, ALPHA]).astype(np.uint16) * 257


@pytest.mark.parametrize("fmt", ["png", "tiff", "webp", "jpg", "bmp"])
@pytest.mark.parametrize("name,pixels", list(variants()))
def test_round_trip_keeps_what_the_format_can_hold(tmp_path, fmt, name, pixels):
    path = tmp_path / f"{name}.{fmt}"
    with pytest.warns(UserWarning, match="alpha") if (fmt in ("jpg", "bmp") and "rgba" in name) else _no_warning():
        write_image(path, pixels)
    back = read_image(path).pixels
    sixteen_bit = fmt in ("png", "tiff")
    keeps_alpha = fmt not in ("jpg", "bmp")
    expected = pixels if sixteen_bit or pixels.dtype == np.uint8 else np.rint(pixels / 257).astype(np.uint8)
    if not keeps_alpha and expected.ndim == 3 and expected.shape[2] == 4:
        expected = expected[..., :3]
    if fmt == "webp" and expected.ndim == 2:  # WebP stores gray as RGB
        expected = np.dstack([expected] * 3)
    assert back.dtype == expected.dtype and back.shape == expected.shape, (back.dtype, back.shape)
    if fmt == "webp" and expected.ndim == 3 and expected.shape[2] == 4:
        visible = expected[..., 3] > 0  # lossless WebP may zero the colour of invisible pixels
        back, expected = back[visible], expected[visible]
    if fmt in LOSSLESS:
        assert np.array_equal(back, expected)
    else:  # JPEG q95 with 4:2:0 chroma on a downsampled (aliased) photo
        assert np.abs(back.astype(float) - expected).mean() < 8


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path, orientation):
    stored = Image.fromarray(data.astronaut()[:48, :64:2])  # non-square, so rotations show
    exif = stored.getexif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.png"
    stored.save(path, exif=exif.tobytes())
    upright = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    loaded = read_image(path)
    assert loaded.orientation == orientation
    assert np.array_equal(loaded.pixels, upright)


def test_exif_orientation_in_jpeg(tmp_path):
    stored = Image.fromarray(data.astronaut()[:40, :80])
    exif = stored.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", exif=exif.tobytes(), quality=95)
    (tmp_path / "p.jpg").write_bytes(buffer.getvalue())
    assert read_image(tmp_path / "p.jpg").pixels.shape == (80, 40, 3)


def test_palette_and_gray_alpha_png(tmp_path):
    Image.fromarray(RGB).convert("P").save(tmp_path / "palette.png")
    assert read_image(tmp_path / "palette.png").pixels.shape == (64, 64, 3)
    Image.fromarray(np.dstack([GRAY, ALPHA])).convert("LA").save(tmp_path / "la.png")
    loaded = read_image(tmp_path / "la.png").pixels
    assert loaded.shape == (64, 64, 2) and np.array_equal(loaded, np.dstack([GRAY, ALPHA]))


@pytest.mark.parametrize("content", [b"", b"not an image at all" * 10, "truncated"])
def test_corrupt_files_raise_a_clear_error(tmp_path, content):
    if content == "truncated":
        write_image(tmp_path / "whole.png", RGB)
        content = (tmp_path / "whole.png").read_bytes()[:300]
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match="bad.png"):
        read_image(path)


def test_missing_unsupported_and_folder_inputs(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "absent.png")
    with pytest.raises(ImageReadError, match="unsupported image type"):
        read_image(tmp_path / "notes.txt")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(ImageReadError, match="folder"):
        read_image(tmp_path / "dir.png")
    with pytest.raises(ImageWriteError, match="does not exist"):
        write_image(tmp_path / "nowhere" / "x.png", RGB)


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    path = tmp_path / "out.png"
    write_image(path, RGB)
    before = path.read_bytes()
    with pytest.raises(ImageWriteError):
        write_image(path, RGB.astype(np.float64))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_written_files_get_the_usual_permissions_not_mkstemps_0600(tmp_path):
    import os
    import stat

    from restore.io.temp_files import current_umask
    from restore.io.weights_card import write_json_atomic

    expected = 0o666 & ~current_umask()
    image = write_image(tmp_path / "out.png", data.camera()[:16, :16])
    write_json_atomic(tmp_path / "card.json", {"a": 1})
    from restore.io.checkpoints import save_safetensors as save_state_atomic
    import torch

    save_state_atomic({"w": torch.zeros(2)}, tmp_path / "w.safetensors")
    for path in (image, tmp_path / "card.json", tmp_path / "w.safetensors"):
        assert stat.S_IMODE(os.stat(path).st_mode) == expected, path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.json", "out.png", "w.safetensors"]  # no temp files left


def test_replace_atomically_keeps_the_old_file_when_the_writer_fails(tmp_path):
    from restore.io.temp_files import replace_atomically

    path = tmp_path / "state.pth"
    path.write_text("old")

    def half_then_fail(tmp: str) -> None:
        open(tmp, "w").write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        replace_atomically(path, half_then_fail)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["state.pth"]
    seen = []
    replace_atomically(path, lambda tmp: (seen.append(tmp), open(tmp, "w").write("new")), suffix=".png")
    assert path.read_text() == "new" and seen[0].endswith(".png") and [p.name for p in tmp_path.iterdir()] == ["state.pth"]

"""restore.inference.noise_level: sigma read back from flat fields, dark (clipped) images and a
textured training photo, every input type, whole clips."""
import io

import numpy as np
import pytest
from PIL import Image
from skimage import data

from restore.data.photos import load_rgb
from restore.inference.noise_level import estimate_sigma, estimate_sigma_frames


def noisy_uint8(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """clip(round(clean + N(0, sigma)), 0, 255): a noisy file as a user has it."""
    noise = np.random.default_rng(seed).normal(0.0, sigma, clean.shape)
    return np.clip(np.rint(clean.astype(np.float64) + noise), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("sigma", [5, 15, 30, 50])
def test_flat_gray_field_reads_back_sigma(sigma):
    flat = np.full((192, 192, 3), 128, np.uint8)
    assert estimate_sigma(noisy_uint8(flat, sigma, seed=sigma)) == pytest.approx(sigma, abs=0.5)


def test_clean_flat_field_reads_zero():
    assert estimate_sigma(np.full((64, 64, 3), 77, np.uint8)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("level", [0, 12, 245, 255])
def test_clipping_at_black_and_white_is_corrected(level):
    # a quarter to a half of these pixels are clipped; the raw spread would read 20-40% low
    flat = np.full((192, 192, 3), level, np.uint8)
    noisy = noisy_uint8(flat, 20, seed=level)
    assert noisy.std() < 17
    assert estimate_sigma(noisy) == pytest.approx(20, abs=1.5)


def test_dark_photo_is_not_biased_by_clipping():
    dark = (load_rgb("astronaut").astype(np.float64) * 0.25).round().astype(np.uint8)  # mostly below level 40
    assert estimate_sigma(noisy_uint8(dark, 25, seed=1)) == pytest.approx(25, abs=2)


def test_texture_is_not_read_as_noise():
    astronaut = load_rgb("astronaut")
    assert estimate_sigma(astronaut) < 1.5
    assert estimate_sigma(noisy_uint8(astronaut, 25, seed=2)) == pytest.approx(25, abs=2)
    assert estimate_sigma(noisy_uint8(astronaut, 5, seed=3)) == pytest.approx(5, abs=1)


def as_jpeg(pixels: np.ndarray, quality: int) -> np.ndarray:
    """``pixels`` saved and read back as a JPEG (Pillow's default 4:2:0 chroma, as cameras use)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer))


@pytest.mark.parametrize("quality", [75, 90])
def test_noise_that_jpeg_made_blocky_is_still_read(quality):
    # chelsea is a held-out photo; the white-noise reading of these files was 0.3-0.4
    noisy = as_jpeg(noisy_uint8(data.chelsea(), 18, seed=7), quality)
    assert estimate_sigma(noisy) == pytest.approx(18, abs=3)  # measured 19.5 (q75) and 19.2 (q90)
    assert estimate_sigma(as_jpeg(data.chelsea(), quality)) < 1.5  # the clean photo stays clean


def test_every_input_type_reads_the_same_level():
    rng = np.random.default_rng(4)
    clean = np.full((128, 128, 3), 100.0)
    reference = estimate_sigma(noisy_uint8(clean, 15, seed=5))
    assert reference == pytest.approx(15, abs=0.7)
    as_float = noisy_uint8(clean, 15, seed=5).astype(np.float32) / 255  # on the 1/255 grid
    assert estimate_sigma(as_float) == pytest.approx(reference, abs=1e-3)
    wide = np.clip(clean * 257 + rng.normal(0, 15 * 257, clean.shape), 0, 65535).round().astype(np.uint16)
    assert estimate_sigma(wide) == pytest.approx(15, abs=0.7)
    unrounded = clean / 255 + rng.normal(0, 15 / 255, clean.shape)  # float64, neither rounded nor clipped
    assert estimate_sigma(unrounded) == pytest.approx(15, abs=0.7)
    gray = noisy_uint8(clean[..., 0], 15, seed=6)
    assert gray.ndim == 2 and estimate_sigma(gray) == pytest.approx(15, abs=0.8)
    rgba = np.concatenate([noisy_uint8(clean, 15, seed=5), np.full((128, 128, 1), 255, np.uint8)], axis=-1)
    assert estimate_sigma(rgba) == pytest.approx(reference, abs=1e-6)  # alpha is ignored, even saturated


def test_bad_inputs_get_a_message():
    with pytest.raises(ValueError, match="too small"):
        estimate_sigma(np.zeros((4, 64), np.uint8))
    with pytest.raises(ValueError, match="dtype"):
        estimate_sigma(np.zeros((32, 32), np.int64))
    with pytest.raises(ValueError, match="NaN"):
        estimate_sigma(np.full((32, 32), np.nan))
    with pytest.raises(ValueError, match="channels"):
        estimate_sigma(np.zeros((32, 32, 5), np.uint8))


def test_frames_from_a_list_an_array_and_a_stream():
    clean = np.full((64, 64, 3), 128, np.uint8)
    frames = [noisy_uint8(clean, 30, seed=index) for index in range(5)]
    frames[2] = np.zeros_like(clean)  # a black frame: the median ignores it
    from_list = estimate_sigma_frames(frames, max_frames=5)
    assert from_list == pytest.approx(30, abs=1)
    assert estimate_sigma_frames(np.stack(frames), max_frames=5) == pytest.approx(from_list)
    read = []

    def stream():
        for frame in frames:
            read.append(frame)
            yield frame

    assert estimate_sigma_frames(stream(), max_frames=3) == pytest.approx(30, abs=1.5)
    assert len(read) == 3  # a stream is read no further than the frames it needs
    with pytest.raises(ValueError, match="no frames"):
        estimate_sigma_frames([])
    with pytest.raises(ValueError, match="max_frames"):
        estimate_sigma_frames(frames, max_frames=0)


def test_frames_are_spread_over_a_sequence():
    frames = [np.full((16, 16, 3), index, np.uint8) for index in range(9)]
    from restore.inference.noise_level import spread_sample

    picked = spread_sample(frames, 3)
    assert [int(frame[0, 0, 0]) for frame in picked] == [0, 4, 8]

"""Camera noise through an inverse camera pipeline: each stage undone by its inverse, the raw noise
variance shot * x + read, a flat colour surviving mosaic and demosaic, and seeded pairs."""
import numpy as np
import pytest
from skimage import data

from restore.noise import camera as cn

RNG = np.random.default_rng(0)
IMAGE = RNG.uniform(0, 1, (32, 48, 3)).astype(np.float64)


def test_the_tone_curve_and_gamma_are_undone_by_their_inverses():
    x = np.linspace(0, 1, 1001)
    np.testing.assert_allclose(cn.inverse_tone_curve(cn.tone_curve(x)), x, atol=1e-9)
    np.testing.assert_allclose(cn.tone_curve(cn.inverse_tone_curve(x)), x, atol=1e-9)
    y = np.linspace(0.01, 1, 1000)
    np.testing.assert_allclose(cn.gamma_compress(cn.gamma_expand(y)), y, rtol=1e-9)


def test_the_gains_and_the_colour_matrix_are_undone_by_their_inverses():
    gains = cn.gains_vector(1.25, 2.1, 1.7)
    dark = IMAGE * 0.8  # below the highlights, where the inverse is exact
    np.testing.assert_allclose(cn.apply_gains(cn.invert_gains(dark, gains), gains), dark, atol=1e-12)
    for seed in range(5):
        cam2rgb = cn.random_cam2rgb(np.random.default_rng(seed), (1.3, 2.0))
        np.testing.assert_allclose(cam2rgb.sum(axis=1), 1.0, atol=1e-12)  # white stays white
        assert (np.diag(cam2rgb) > 1).all() and (cam2rgb[~np.eye(3, dtype=bool)] < 0).all()
        there = cn.apply_matrix(IMAGE, np.linalg.inv(cam2rgb))
        np.testing.assert_allclose(cn.apply_matrix(there, cam2rgb), IMAGE, atol=1e-12)


def test_highlights_stay_highlights_through_the_inverse_gains():
    white = np.ones((4, 4, 3))
    back = cn.apply_gains(cn.invert_gains(white, cn.gains_vector(1.25, 2.1, 1.7)), cn.gains_vector(1.25, 2.1, 1.7))
    assert (np.clip(back, 0, 1) == 1).all()


@pytest.mark.parametrize("colour", [(0.2, 0.5, 0.7), (1.0, 0.0, 0.3), (0.5, 0.5, 0.5)])
def test_mosaic_then_demosaic_of_a_flat_colour_gives_the_colour(colour):
    flat = np.broadcast_to(np.array(colour, np.float32), (16, 20, 3)).copy()
    np.testing.assert_allclose(cn.demosaic(cn.mosaic(flat)), flat, atol=1e-6)


def test_mosaic_samples_rggb():
    raw = cn.mosaic(IMAGE)
    assert raw.shape == IMAGE.shape[:2]
    assert raw[0, 0] == IMAGE[0, 0, 0] and raw[0, 1] == IMAGE[0, 1, 1]
    assert raw[1, 0] == IMAGE[1, 0, 1] and raw[1, 1] == IMAGE[1, 1, 2]


@pytest.mark.parametrize("level", [0.05, 0.3, 0.8])
def test_raw_noise_variance_is_shot_times_signal_plus_read(level):
    shot, read = 4e-3, 2e-5
    flat = np.full((400, 400), level, np.float32)
    noisy = cn.add_shot_read_noise(flat, shot, read, np.random.default_rng(1))
    assert noisy.var() == pytest.approx(shot * level + read, rel=0.02)
    assert noisy.mean() == pytest.approx(level, abs=1e-3)


def test_noise_levels_follow_the_published_joint_distribution():
    rng = np.random.default_rng(2)
    draws = np.array([cn.noise_levels(rng, (1e-4, 1.2e-2)) for _ in range(20_000)])
    log_shot, log_read = np.log(draws[:, 0]), np.log(draws[:, 1])
    assert log_shot.min() >= np.log(1e-4) and log_shot.max() <= np.log(1.2e-2)
    residual = log_read - (2.18 * log_shot + 1.20)
    assert residual.mean() == pytest.approx(0, abs=0.01) and residual.std() == pytest.approx(0.26, abs=0.01)


def test_pairs_are_seeded_and_differ_only_by_the_camera():
    photo = data.chelsea()[:64, :96].astype(np.float32) / 255
    model = cn.CameraNoise()
    clean, noisy = model.pair(photo, np.random.default_rng(5))
    again_clean, again_noisy = model.pair(photo, np.random.default_rng(5))
    other = model.pair(photo, np.random.default_rng(6))[1]
    assert np.array_equal(noisy, again_noisy) and np.array_equal(clean, again_clean)
    assert not np.array_equal(noisy, other)
    assert clean.shape == noisy.shape == photo.shape and clean.dtype == noisy.dtype == np.float32
    assert np.abs(clean - photo).max() < 1e-3  # the round trip without noise returns the photo
    assert 0 <= noisy.min() and noisy.max() <= 1 and np.abs(noisy - clean).mean() > 1e-3


def test_the_noise_is_correlated_across_neighbours_and_channels():
    flat = np.full((128, 128, 3), 0.4, np.float32)
    model = cn.CameraNoise(shot=(5e-3, 5e-3), read_jitter=0.0, jpeg_prob=0.0)
    clean, noisy = model.pair(flat, np.random.default_rng(3))
    residual = (noisy - clean)[..., 1]
    neighbour = np.corrcoef(residual[:, :-1].ravel(), residual[:, 1:].ravel())[0, 1]
    assert neighbour > 0.2  # demosaicing spreads each sample's noise over its neighbours


def test_the_card_records_every_range():
    card = cn.CameraNoise().card()
    assert card["type"] == "camera" and card["shot"] == [1e-4, 1.2e-2] and card["jpeg_quality"] == [70, 95]


def _camera_dataset(folder, phase="train", **extra):
    from restore.data.gaussian_noise_dataset import GaussianNoiseDataset

    return GaussianNoiseDataset({"name": "cam", "phase": phase, "dataroot_gt": str(folder), "gt_size": 64,
                                 "noise_model": "camera", **extra})


@pytest.fixture
def photo_folder(tmp_path):
    import cv2
    cv2.imwrite(str(tmp_path / "coffee.png"), data.coffee()[..., ::-1])
    return tmp_path


def test_the_dataset_makes_camera_pairs_seeded_for_validation(photo_folder):
    val = _camera_dataset(photo_folder, phase="val")
    first, again = val[0], _camera_dataset(photo_folder, phase="val")[0]
    assert np.array_equal(first["lq"].numpy(), again["lq"].numpy())
    assert first["lq"].shape == first["gt"].shape == (3, 64, 64)
    assert (first["lq"] - first["gt"]).abs().mean() > 1e-3
    train = _camera_dataset(photo_folder, gray_prob=1.0, camera={"jpeg_prob": 0.0, "shot": [1e-3, 1e-3]})
    sample = train[0]
    assert np.allclose(sample["lq"][0], sample["lq"][1]) and np.allclose(sample["gt"][0], sample["gt"][2])


def test_the_dataset_checks_its_noise_options(photo_folder):
    from restore.errors import DatasetError

    with pytest.raises(DatasetError, match="noise_model"):
        _camera_dataset(photo_folder, noise_model="poisson")
    with pytest.raises(DatasetError, match="camera"):
        _camera_dataset(photo_folder, camera={"iso": 100})
    with pytest.raises(DatasetError, match="sigma"):
        _camera_dataset(photo_folder, noise_model="gaussian")


def test_a_gaussian_share_of_training_crops_gets_white_noise_of_sigma(photo_folder):
    from restore.errors import DatasetError

    # camera noise is correlated across neighbours (demosaicing) and JPEG-blocked; sigma 30
    # Gaussian noise is neither, with a standard deviation of 30 levels
    mixed = _camera_dataset(photo_folder, gaussian_share=0.5, sigma=[30, 30], clip=False,
                            camera={"jpeg_prob": 0.0})
    np.random.seed(0)
    kinds = []
    for _ in range(40):
        sample = mixed[0]
        noise = (sample["lq"] - sample["gt"]).numpy()
        white = abs(noise.std() * 255 - 30) < 3 and abs(np.corrcoef(noise[0, :, 1:].ravel(),
                                                                     noise[0, :, :-1].ravel())[0, 1]) < 0.1
        kinds.append(white)
    assert 10 <= sum(kinds) <= 30  # about half of them
    val = _camera_dataset(photo_folder, phase="val", gaussian_share=0.5, sigma=30)
    assert np.array_equal(val[0]["lq"].numpy(), _camera_dataset(photo_folder, phase="val")[0]["lq"].numpy())
    with pytest.raises(DatasetError, match="needs sigma"):
        _camera_dataset(photo_folder, gaussian_share=0.3)
    with pytest.raises(DatasetError, match="between 0 and 1"):
        _camera_dataset(photo_folder, gaussian_share=1.5, sigma=30)
    with pytest.raises(DatasetError, match="needs noise_model: camera"):
        _camera_dataset(photo_folder, gaussian_share=0.3, sigma=30, noise_model="gaussian")


def test_the_registry_knows_camera_noise_and_its_card():
    from restore.noise import noise_model

    model = noise_model("camera")
    assert not model.takes_sigma and model.sigma_range(cn.CameraNoise().card()) is None
    assert model.check(cn.CameraNoise().card()) is None and "iso" in model.check({"type": "camera", "iso": 1})
    assert model.from_text("") == cn.CameraNoise().card()
    rgba = np.dstack([data.astronaut()[:31, :45], np.full((31, 45), 200, np.uint8)])
    noisy = model.add_noise(rgba, 0, np.random.default_rng(0))
    assert noisy.shape == rgba.shape and noisy.dtype == np.uint8 and (noisy[..., 3] == 200).all()
    assert np.abs(noisy[..., :3].astype(int) - rgba[..., :3]).mean() > 1
    gray = model.add_noise(data.camera()[:20, :20], 0, np.random.default_rng(0))
    assert gray.shape == (20, 20)
    gray_alpha = np.dstack([data.camera()[:21, :20], np.full((21, 20), 7, np.uint8)])
    noisy = model.add_noise(gray_alpha, 0, np.random.default_rng(0))
    assert noisy.shape == gray_alpha.shape and (noisy[..., 1] == 7).all()
    assert np.abs(noisy[..., 0].astype(int) - gray_alpha[..., 0]).mean() > 1

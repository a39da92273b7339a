"""Synthetic Gaussian noise on a folder of clean images: seeding, sigma, clipping, errors."""
import cv2
import numpy as np
import pytest
from skimage import data as skdata

from restore.errors import DatasetError
from restore.data.gaussian_noise_dataset import GaussianNoiseDataset


@pytest.fixture
def clean_folder(tmp_path):
    folder = tmp_path / "clean" / "nested"
    folder.mkdir(parents=True)
    for name in ("astronaut", "coffee"):
        cv2.imwrite(str(folder / f"{name}.png"), getattr(skdata, name)()[..., ::-1])
    return tmp_path / "clean"


def _dataset(root, **extra) -> GaussianNoiseDataset:
    return GaussianNoiseDataset({"name": "g", "phase": "val", "dataroot_gt": str(root), "sigma": 25, **extra})


def test_validation_noise_is_seeded_and_has_the_asked_sigma(clean_folder):
    first, second = _dataset(clean_folder), _dataset(clean_folder)
    assert len(first) == 2
    a, b = first[1], second[1]
    assert np.array_equal(a["lq"].numpy(), b["lq"].numpy())
    noise = (a["lq"] - a["gt"]).numpy() * 255
    assert abs(noise.std() - 25) < 0.5 and noise.min() < -60  # unclipped: values leave [0, 1]
    assert a["lq"].min() < 0 or a["lq"].max() > 1
    other_seed = _dataset(clean_folder, noise_seed=1)[1]
    assert not np.array_equal(a["lq"].numpy(), other_seed["lq"].numpy())


def test_clipping_and_sigma_range(clean_folder):
    clipped = _dataset(clean_folder, clip=True)[0]["lq"]
    assert clipped.min() >= 0 and clipped.max() <= 1
    train = GaussianNoiseDataset({"name": "g", "phase": "train", "dataroot_gt": str(clean_folder),
                                  "sigma": [5, 15], "gt_size": 96})
    stds = [float((s["lq"] - s["gt"]).std() * 255) for s in (train[i % 2] for i in range(12))]
    assert train[0]["gt"].shape == (3, 96, 96)
    assert all(4.5 < s < 15.5 for s in stds) and max(stds) - min(stds) > 2  # drawn per sample


def test_folder_errors_name_the_path(tmp_path, clean_folder):
    with pytest.raises(DatasetError, match="not found: .*nowhere"):
        _dataset(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        _dataset(tmp_path / "empty")
    with pytest.raises(DatasetError, match="coffee.png is 400x600, smaller than the patch size 512"):
        _dataset(clean_folder, gt_size=512)
    with pytest.raises(ValueError, match="sigma range"):
        _dataset(clean_folder, sigma=[30, 10])


def test_gray_crops_and_in_memory_images(clean_folder):
    gray = GaussianNoiseDataset({"name": "g", "phase": "train", "dataroot_gt": str(clean_folder), "sigma": 0,
                                 "gt_size": 64, "gray_prob": 1.0, "in_memory": True})
    gt = gray[0]["gt"].numpy()
    assert np.array_equal(gt[0], gt[1]) and np.array_equal(gt[1], gt[2]) and gt.std() > 0.01
    colour = GaussianNoiseDataset({"name": "g", "phase": "train", "dataroot_gt": str(clean_folder), "sigma": 0,
                                   "gt_size": 64})
    assert not np.array_equal(colour[0]["gt"].numpy()[0], colour[0]["gt"].numpy()[1])
    from_disk, cached = _dataset(clean_folder), _dataset(clean_folder, in_memory=True)
    assert np.array_equal(from_disk[1]["lq"].numpy(), cached[1]["lq"].numpy())
    with pytest.raises(DatasetError, match="gray_prob"):
        _dataset(clean_folder, gray_prob=1.5)


def test_scaled_crops_cover_more_of_the_image(tmp_path):
    """scale [0.5, 0.5]: each 32² crop is a 64² window area-averaged by 2, so on a horizontal
    ramp of one level per pixel it spans twice the levels of a plain crop, and stays smooth."""
    folder = tmp_path / "ramp"
    folder.mkdir()
    ramp = np.tile(np.arange(200, dtype=np.uint8), (120, 1))
    cv2.imwrite(str(folder / "ramp.png"), np.dstack([ramp] * 3))
    options = {"name": "g", "phase": "train", "dataroot_gt": str(folder), "sigma": 0, "gt_size": 32,
               "augment": False}
    plain = GaussianNoiseDataset(options)[0]["gt"].numpy()[0]
    shrunk = GaussianNoiseDataset({**options, "scale": [0.5, 0.5]})[0]["gt"].numpy()[0]
    assert shrunk.shape == plain.shape == (32, 32)
    span = lambda crop: (crop[0, -1] - crop[0, 0]) * 255  # noqa: E731
    assert span(plain) == pytest.approx(31, abs=0.01)
    assert span(shrunk) == pytest.approx(62, abs=0.01)
    assert np.allclose(np.diff(shrunk[0]) * 255, 2, atol=0.01)  # area averaging: no skipped levels


def test_scale_is_checked_and_raised_where_the_window_would_not_fit(clean_folder):
    from restore.data.patch_ops import scaled_random_crop
    import random
    image = np.zeros((100, 300, 3), np.float32)
    assert scaled_random_crop(image, 80, (0.1, 0.1), random.Random(0)).shape == (80, 80, 3)
    train = {"name": "g", "phase": "train", "dataroot_gt": str(clean_folder), "sigma": 0, "gt_size": 64}
    for bad in ([0, 1], [0.8, 0.5], [0.5, 1.5], 0.5, ["a", 1]):
        with pytest.raises(DatasetError, match="scale must be"):
            GaussianNoiseDataset({**train, "scale": bad})
    with pytest.raises(DatasetError, match="scale needs a training dataset"):
        _dataset(clean_folder, gt_size=64, scale=[0.5, 1.0])

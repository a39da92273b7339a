"""Dead-leaves images: seeded, power-law radii, the whole canvas covered, and a dataset source
mixed with photo crops at the share asked for; the sigma sampler's distribution."""
import numpy as np
import pytest
from skimage import data as skdata

from restore.data.dead_leaves import DeadLeaves, photo_palette
from restore.data.gaussian_noise_dataset import GaussianNoiseDataset
from restore.noise.gaussian import draw_sigma
from restore.errors import DatasetError

PHOTO = skdata.coffee().astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def palette():
    return photo_palette([PHOTO], 256, np.random.default_rng(0))[0]


def test_the_same_seed_gives_the_same_image_and_another_seed_another(palette):
    leaves = DeadLeaves()
    first = leaves.draw(64, np.random.default_rng(7), palette, [PHOTO])
    again = leaves.draw(64, np.random.default_rng(7), palette, [PHOTO])
    other = leaves.draw(64, np.random.default_rng(8), palette, [PHOTO])
    assert first.shape == (64, 64, 3) and first.dtype == np.float32
    assert 0.0 <= first.min() and first.max() <= 1.0
    assert np.array_equal(first, again) and not np.array_equal(first, other)


@pytest.mark.parametrize("alpha", [2.0, 3.0, 4.0])
def test_radii_follow_the_power_law_asked_for(alpha):
    leaves = DeadLeaves(alpha=alpha, r_min=1.0, r_max_frac=0.5)
    radii = leaves.radii(200_000, 128, np.random.default_rng(0))
    assert radii.min() >= 1.0 and radii.max() <= 64.0
    # the density r^-alpha makes log-binned counts fall with slope 1 - alpha
    edges = np.geomspace(1, 64, 13)
    counts, _ = np.histogram(radii, edges)
    slope = np.polyfit(np.log(np.sqrt(edges[:-1] * edges[1:])), np.log(counts), 1)[0]
    assert slope == pytest.approx(1 - alpha, abs=0.08)


@pytest.mark.parametrize("size", [32, 128, 256])
def test_shapes_cover_the_whole_canvas(palette, size):
    leaves = DeadLeaves()
    for seed in range(3):
        image, coverage = leaves.render(size, np.random.default_rng(seed), palette, [PHOTO])
        assert coverage.min() >= 128  # no pixel shows the empty canvas through more than half
        assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50  # many shapes, many colours


def test_depth_of_field_blurs_what_fell_first(palette):
    sharp = DeadLeaves(blur_prob=0.0, texture_prob=0.0).draw(96, np.random.default_rng(3), palette, None)
    blurred = DeadLeaves(blur_prob=1.0, blur_sigma=(3.0, 3.0), texture_prob=0.0).draw(
        96, np.random.default_rng(3), palette, None)
    def roughness(image):
        return float(np.abs(np.diff(image, axis=0)).mean() + np.abs(np.diff(image, axis=1)).mean())
    assert roughness(blurred) < roughness(sharp)


def test_settings_are_checked():
    with pytest.raises(ValueError):
        DeadLeaves(alpha=0)
    with pytest.raises(ValueError):
        DeadLeaves(texture_prob=2)


def _train(folder, **extra):
    return GaussianNoiseDataset({"name": "t", "phase": "train", "dataroot_gt": str(folder), "sigma": [0, 50],
                                 "gt_size": 48, "in_memory": True, **extra})


@pytest.fixture
def photos(tmp_path):
    import cv2
    for name in ("astronaut", "coffee"):
        cv2.imwrite(str(tmp_path / f"{name}.png"), getattr(skdata, name)()[..., ::-1])
    return tmp_path


@pytest.mark.parametrize("mix", [0.0, 0.3, 1.0])
def test_the_dataset_mixes_dead_leaves_at_the_share_asked_for(photos, mix):
    np.random.seed(0)
    dataset = _train(photos, dead_leaves={"mix": mix, "r_min": 2.0})
    names = [dataset[i % 2]["gt_path"] for i in range(300)]
    share = np.mean([name.startswith("dead_leaves:") for name in names])
    assert share == pytest.approx(mix, abs=0.07)
    sample = dataset[0]
    assert sample["gt"].shape == (3, 48, 48) and sample["lq"].shape == (3, 48, 48)


def test_dead_leaves_options_are_checked(photos):
    for bad in ({"mix": 1.5}, {"share": 0.5}, 0.5, {"mix": 0.5, "alpha": -1}, {"mix": 0.5, "colour": 1}):
        with pytest.raises(DatasetError, match="dead_leaves"):
            _train(photos, dead_leaves=bad)
    with pytest.raises(DatasetError, match="training dataset"):
        GaussianNoiseDataset({"name": "v", "phase": "val", "dataroot_gt": str(photos), "sigma": 25,
                              "dead_leaves": {"mix": 0.5}})


@pytest.mark.parametrize("power", [1.0, 2.0, 3.0])
def test_the_sigma_sampler_follows_its_distribution(power):
    rng = np.random.default_rng(0)
    draws = np.array([draw_sigma([0, 50], rng, power) for _ in range(40_000)])
    assert draws.min() >= 0 and draws.max() <= 50
    for s in (5, 15, 30):  # P(sigma <= s) = (s / 50) ** (1 / power)
        assert np.mean(draws <= s) == pytest.approx((s / 50) ** (1 / power), abs=0.01)
    assert draw_sigma(25, rng, power) == 25.0
    with pytest.raises(ValueError):
        draw_sigma([0, 50], rng, 0.0)


def test_power_one_draws_exactly_what_uniform_sampling_drew():
    ours = [draw_sigma([0, 50], np.random.default_rng(s)) for s in range(20)]
    assert ours == [float(np.random.default_rng(s).uniform(0, 50)) for s in range(20)]

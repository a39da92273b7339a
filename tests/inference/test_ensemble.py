"""The 8-way flip and rotation self-ensemble: the mean of the eight transformed outputs, same shape
and dtype as the plain model, the same per tile as whole, from the API and the image CLI."""
import numpy as np
import pytest
import torch
from skimage import data

from restore.api import Denoiser
from restore.inference.ensemble import DIHEDRAL, self_ensemble, transform, untransform


@pytest.fixture
def weights_dir(tmp_path, publish_local):
    publish_local(tmp_path)
    return tmp_path


def test_each_transform_is_undone_and_all_eight_differ():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    seen = set()
    for flip, turns in DIHEDRAL:
        moved = transform(x, flip, turns)
        assert torch.equal(untransform(moved, flip, turns), x)
        seen.add(tuple(moved.flatten().tolist()))
    assert len(DIHEDRAL) == 8 and len(seen) == 8


def test_the_ensemble_is_the_mean_of_the_eight_transformed_outputs(weights_dir):
    den = Denoiser.from_pretrained("tiny_local_gauss", weights_dir=weights_dir, device="cpu", tile=None)
    x = torch.rand(1, 3, 24, 31, generator=torch.Generator().manual_seed(0))
    fn = den.network_fn(None)
    expected = torch.stack([untransform(fn(transform(x, f, t)), f, t) for f, t in DIHEDRAL]).mean(0)
    got = den.denoise_tensor(x, ensemble=True)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
    assert got.shape == x.shape and got.dtype == x.dtype
    assert not torch.allclose(got, den.denoise_tensor(x))  # a random network is not equivariant


@pytest.mark.parametrize("image", [data.astronaut()[:50, :70], data.camera()[:50, :70],
                                   (data.astronaut()[:50, :70].astype(np.uint16) * 257),
                                   data.astronaut()[:50, :70].astype(np.float32) / 255])
def test_the_ensemble_keeps_shape_and_dtype(weights_dir, image):
    den = Denoiser.from_pretrained("tiny_local_gauss", weights_dir=weights_dir, device="cpu")
    out = den(image, ensemble=True)
    assert out.shape == image.shape and out.dtype == image.dtype


def test_the_ensemble_works_tile_by_tile(weights_dir, local_radius, covered_once):
    tile, overlap = 48, 2 * local_radius + 2
    whole = Denoiser.from_pretrained("tiny_local_gauss", weights_dir=weights_dir, device="cpu", tile=None)
    tiled = Denoiser.from_pretrained("tiny_local_gauss", weights_dir=weights_dir, device="cpu", tile=tile,
                                     tile_overlap=overlap)
    x = torch.rand(1, 3, 110, 100, generator=torch.Generator().manual_seed(1))
    calls = []
    got = tiled.denoise_tensor(x, ensemble=True, progress=lambda done, total: calls.append((done, total)))
    expected = whole.denoise_tensor(x, ensemble=True)

    interior = covered_once(110, 100, tile, overlap)
    assert interior.float().mean() > 0.3
    torch.testing.assert_close(got[..., interior], expected[..., interior], atol=1e-6, rtol=0)
    assert (got - expected).abs().max() < 0.02
    assert len(calls) > 1 and calls[-1][0] == calls[-1][1]


def test_self_ensemble_wraps_any_tensor_function():
    # an equivariant function is unchanged by the ensemble; a position-dependent one is averaged
    smooth = self_ensemble(lambda t: t * 2)
    x = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(smooth(x), x * 2)
    ramp = torch.linspace(0, 1, 8).expand(8, 8)
    averaged = self_ensemble(lambda t: t + ramp)(torch.zeros(1, 1, 8, 8))
    torch.testing.assert_close(averaged, torch.full((1, 1, 8, 8), 0.5), atol=1e-6, rtol=0)

"""Noise models keyed by the card's noise.type: the card, the API and save_weights ask them, so a
new kind of noise is one registered class and nothing else."""
import argparse

import numpy as np
import pytest
import torch

from restore.api import Denoiser
from restore.errors import RestoreError, WeightsError
from restore.io.weights_card import WeightsCard
from restore.noise import NoiseModel, noise_model, noise_types
from restore.noise.base import NOISE_MODELS
from restore.noise.gaussian import append_sigma_map
from restore.save_weights import parse_noise


def card(noise: dict, noise_map_input: bool = False) -> WeightsCard:
    return WeightsCard(name="m", arch="DnCNN", config={}, kind="image", noise=noise, weights="m.safetensors",
                       sha256="0" * 64, noise_map_input=noise_map_input)


def test_the_cards_noise_types_are_the_registered_models():
    assert {"gaussian", "real"} <= set(noise_types())
    assert card({"type": "gaussian", "sigma": [0, 50]}).sigma_range == (0.0, 50.0)
    assert card({"type": "real", "dataset": "SIDD"}).sigma_range is None
    with pytest.raises(WeightsError, match="noise.type must be one of .*'gaussian'"):
        card({"type": "poisson"})
    with pytest.raises(WeightsError, match=r"sigma: \[low, high\]"):
        card({"type": "gaussian", "sigma": [50, 0]})
    with pytest.raises(WeightsError, match="noise-map input needs noise with a level"):
        card({"type": "real", "dataset": "SIDD"}, noise_map_input=True)


def test_the_sigma_map_is_one_channel_of_sigma_over_255_after_the_colours():
    clip = torch.rand(2, 7, 3, 8, 10)  # (B, T, C, H, W)
    mapped = append_sigma_map(clip, 30)
    assert mapped.shape == (2, 7, 4, 8, 10)
    assert torch.equal(mapped[:, :, :3], clip) and torch.all(mapped[:, :, 3] == 30 / 255)
    assert append_sigma_map(torch.rand(1, 3, 5, 6), 0).shape == (1, 4, 5, 6)


def test_save_weights_parses_the_noise_of_any_registered_model():
    assert parse_noise("gaussian:0,50") == {"type": "gaussian", "sigma": [0.0, 50.0]}
    assert parse_noise("real:SIDD") == {"type": "real", "dataset": "SIDD"}
    for bad in ("gaussian:fifty", "real:", "poisson:1"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_noise(bad)


class HalfScaleNoise(NoiseModel):
    """A made-up kind with a level: its map holds sigma/100 in two channels."""

    name = "half_scale_test"
    takes_sigma = True

    def sigma_range(self, noise):
        return tuple(noise["level"])

    def with_noise_map(self, x, sigma):
        return torch.cat([x, x.new_full((*x.shape[:-3], 2, *x.shape[-2:]), sigma / 100)], dim=-3)


@pytest.fixture
def half_scale(monkeypatch):
    monkeypatch.setitem(NOISE_MODELS._entries, HalfScaleNoise.name, HalfScaleNoise())
    return noise_model(HalfScaleNoise.name)


def test_a_new_noise_model_is_used_by_the_card_and_the_api_once_registered(half_scale, tmp_path, publish):
    config = dict(in_chans=5, num_feat=4, depth=3)
    publish(tmp_path, "half", "DnCNN", config, noise={"type": half_scale.name, "level": [0, 10]},
            noise_map_input=True)
    den = Denoiser.from_pretrained("half", weights_dir=tmp_path, device="cpu", tile=None)
    assert den.card.noise_model is half_scale and den.card.sigma_range == (0, 10)
    with pytest.raises(RestoreError, match=r"outside .* range \[0, 10\]"):
        den.check_sigma(20)
    noisy = np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    assert den.choose_sigma(noisy)[0] <= 10  # the estimate is clamped into the card's range
    x = torch.rand(1, 3, 24, 24)
    expected = den.net(half_scale.with_noise_map(x, 5.0)).clamp(0, 1)
    assert torch.allclose(den.network_fn(5.0)(x), expected)

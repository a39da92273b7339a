"""The σ slider adapts to the model: a range, one fixed σ (a slider needs min < max), or none."""
from restore.app import SIGMA_LABEL, sigma_control
from restore.io.weights_card import WeightsCard


def card(noise: dict) -> WeightsCard:
    return WeightsCard(name="m", arch="Uformer", config={}, kind="image", noise=noise,
                       weights="m.safetensors", sha256="0" * 64)


def test_sigma_range_gives_an_editable_slider():
    update = sigma_control(card({"type": "gaussian", "sigma": [0, 50]}))
    assert update["visible"] and update["interactive"]
    assert (update["minimum"], update["maximum"], update["value"]) == (0, 50, 25)


def test_one_sigma_model_shows_it_fixed():
    update = sigma_control(card({"type": "gaussian", "sigma": [30, 30]}))
    assert update["visible"] and not update["interactive"]
    assert update["minimum"] < update["maximum"] and update["value"] == 30
    assert update["label"] == f"{SIGMA_LABEL}: this model was trained for σ = 30"


def test_real_noise_model_hides_sigma():
    assert sigma_control(card({"type": "real", "dataset": "SIDD"}))["visible"] is False

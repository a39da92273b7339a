"""The σ slider adapts to the model: a range, one fixed σ (a slider needs min < max), or none, and it
shows only where σ changes the result."""
from restore.app import SIGMA_LABEL, sigma_control, sigma_matters
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


def test_sigma_matters_only_as_noise_to_add_or_as_the_level_given_to_a_noise_map():
    blind = card({"type": "gaussian", "sigma": [0, 50]})
    mapped = WeightsCard(name="m", arch="UniformerVideoSkipAt", config={}, kind="video",
                         noise={"type": "gaussian", "sigma": [0, 50]}, noise_map_input=True,
                         weights="m.safetensors", sha256="0" * 64)
    real = card({"type": "real", "dataset": "SIDD"})
    assert [sigma_matters(blind, auto, add) for auto, add in ((True, False), (False, False), (True, True))] == [
        False, False, True]  # a blind model finds the level itself
    assert [sigma_matters(mapped, auto, add) for auto, add in ((True, False), (False, False), (True, True))] == [
        False, True, True]
    assert not sigma_matters(real, False, True)

"""Denoiser.from_pretrained round trip, checksum refusal, channels and tiling."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from skimage import data

from restore.api import Denoiser
from restore.io.weights_card import ChecksumError, ModelNotFoundError, WeightsError, read_registry


@pytest.fixture()
def weights_dir(tmp_path, publish_local):
    publish_local(tmp_path)
    return tmp_path


def test_round_trip_by_name_and_by_path_gives_the_saved_network(weights_dir):
    by_name = Denoiser.from_pretrained("tiny_local_gauss", weights_dir=weights_dir, device="cpu")
    by_card = Denoiser.from_pretrained(weights_dir / "tiny_local_gauss.json", device="cpu")
    by_file = Denoiser.from_pretrained(weights_dir / "tiny_local_gauss.safetensors", device="cpu")
    from safetensors.torch import load_file

    saved = load_file(str(weights_dir / "tiny_local_gauss.safetensors"))
    for den in (by_name, by_card, by_file):
        for key, value in den.net.state_dict().items():
            assert torch.equal(value, saved[key]), key
    assert read_registry(weights_dir) == ["tiny_local_gauss.json"]
    image = data.astronaut()[:64, :80]
    assert np.array_equal(by_name(image, sigma=25), by_file(image, sigma=25))


def test_sha256_mismatch_is_refused(weights_dir):
    weights = weights_dir / "tiny_local_gauss.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0xFF  # flip the last byte of the last tensor
    weights.write_bytes(bytes(raw))
    with pytest.raises(ChecksumError, match="sha256"):
        Denoiser.from_pretrained("tiny_local_gauss", weights_dir=weights_dir, device="cpu")


def test_unknown_name_and_broken_card_give_clear_errors(weights_dir):
    with pytest.raises(ModelNotFoundError, match="tiny_local_gauss"):
        Denoiser.from_pretrained("no_such_model", weights_dir=weights_dir)
    card = weights_dir / "tiny_local_gauss.json"
    content = json.loads(card.read_text())
    content["arch"] = "NoSuchArch"
    card.write_text(json.dumps(content))
    with pytest.raises(WeightsError, match="NoSuchArch"):
        Denoiser.from_pretrained(card)


def test_pth_checkpoint_loads_weights_only(tmp_path, weights_dir):
    """A bare BasicSR-style .pth ({'params': ...}) loads without unpickling code."""
    den = Denoiser.from_pretrained("tiny_local_gauss", weights_dir=weights_dir, device="cpu")
    path = tmp_path / "net_g_latest.pth"
    torch.save({"params": den.net.state_dict()}, path)
    bare = Denoiser.from_pretrained(path, arch=den.card.arch, config=den.card.config, device="cpu")
    image = data.camera()[:48, :48]
    assert np.array_equal(bare(image), den(image))
    malicious = tmp_path / "code.pth"
    torch.save({"params": den.net.state_dict(), "hook": print}, malicious)
    with pytest.raises(WeightsError):
        Denoiser.from_pretrained(malicious, arch=den.card.arch, config=den.card.config)


@pytest.mark.parametrize("shape_dtype", [
    ("gray", np.uint8), ("rgb", np.uint8), ("rgba", np.uint8), ("rgb", np.uint16), ("rgb", np.float32),
])
def test_shape_and_dtype_come_back_and_alpha_is_kept(weights_dir, shape_dtype):
    mode, dtype = shape_dtype
    den = Denoiser.from_pretrained("tiny_local_gauss", weights_dir=weights_dir, device="cpu")
    rgb = data.astronaut()[100:140, 100:150]
    image = {"gray": rgb[..., 0], "rgb": rgb,
             "rgba": np.dstack([rgb, np.arange(40 * 50, dtype=np.uint8).reshape(40, 50)])}[mode]
    if dtype == np.uint16:
        image = image.astype(np.uint16) * 257
    elif dtype == np.float32:
        image = image.astype(np.float32) / 255
    out = den(image, sigma=10)
    assert out.shape == image.shape and out.dtype == image.dtype
    if mode == "rgba":
        assert np.array_equal(out[..., 3], image[..., 3])


def test_tiled_equals_untiled_on_the_overlap_free_interior(weights_dir, local_radius, covered_once):
    tile, overlap = 48, 2 * local_radius + 2
    whole = Denoiser.from_pretrained("tiny_local_gauss", weights_dir=weights_dir, device="cpu", tile=None)
    tiled = Denoiser.from_pretrained("tiny_local_gauss", weights_dir=weights_dir, device="cpu",
                                     tile=tile, tile_overlap=overlap)
    x = torch.from_numpy(data.astronaut()[:150, :130].astype(np.float32) / 255).permute(2, 0, 1)[None]
    expected, got = whole.denoise_tensor(x), tiled.denoise_tensor(x)

    interior = covered_once(150, 130, tile, overlap)
    assert interior.float().mean() > 0.3
    # A pixel seen by one tile only is farther than the receptive radius from that tile's edge.
    torch.testing.assert_close(got[..., interior], expected[..., interior], atol=1e-6, rtol=0)
    # In the overlaps the feathered blend stays close to the untiled result.
    assert (got - expected).abs().max() < 0.02


def test_sigma_is_checked_against_the_card(weights_dir, tmp_path, publish_local):
    den = Denoiser.from_pretrained("tiny_local_gauss", weights_dir=weights_dir, device="cpu")
    with pytest.raises(ValueError, match="outside"):
        den(data.camera()[:16, :16], sigma=80)
    real = publish_local(tmp_path / "real", name="tiny_local_real", noise={"type": "real", "dataset": "SIDD"})
    with pytest.raises(ValueError, match="takes no sigma"):
        Denoiser.from_pretrained(real.path, device="cpu")(data.camera()[:16, :16], sigma=10)


def test_noise_map_model_gets_an_extra_channel(tmp_path, publish, tiny_uformer):
    card = publish(tmp_path, "tiny_map", "Uformer", {**tiny_uformer, "dd_in": 4}, noise_map_input=True)
    den = Denoiser.from_pretrained(card.path, device="cpu")
    image = data.astronaut()[:32, :32]
    assert not np.array_equal(den(image, sigma=5), den(image, sigma=45))
    noisy = np.clip(image + np.random.default_rng(0).normal(0, 20, image.shape), 0, 255).astype(np.uint8)
    value, note = den.choose_sigma(noisy, "auto")  # no sigma given: estimated, and the network gets it
    assert 10 < value < 30 and "estimated" in note
    assert np.array_equal(den(noisy), den(noisy, sigma=value))
    with pytest.raises(ValueError, match="outside"):
        den(image, sigma=60)


def test_video_model_streams_frames_through_the_api(tmp_path, publish_video):
    card = publish_video(tmp_path)
    den = Denoiser.from_pretrained(card.path, device="cpu")
    photo = data.astronaut()
    clip = np.stack([photo[100 + 3 * t:140 + 3 * t, 200:248] for t in range(5)])  # 5 frames of 40×48
    out = den.denoise_video(clip, sigma=30, tile=32, tile_overlap=8)
    assert out.shape == clip.shape and out.dtype == np.uint8
    streamed = list(den.denoise_video(iter(clip), sigma=30, tile=32, tile_overlap=8))
    assert np.array_equal(np.stack(streamed), out)
    with pytest.raises(ValueError, match="video model"):
        den(photo[:32, :32], sigma=30)


def test_save_weights_cli_publishes_a_training_checkpoint(tmp_path, weights_dir):
    from restore.save_weights import main as save_weights

    den = Denoiser.from_pretrained("tiny_local_gauss", weights_dir=weights_dir, device="cpu")
    checkpoint = tmp_path / "net_g_latest.pth"
    torch.save({"params": den.net.state_dict()}, checkpoint)
    out = tmp_path / "published"
    assert save_weights(["--checkpoint", str(checkpoint), "--name", "from_training", "--arch", den.card.arch,
                         "--config", json.dumps(den.card.config), "--noise", "gaussian:0,50",
                         "--weights-dir", str(out), "--register"]) == 0
    published = Denoiser.from_pretrained("from_training", weights_dir=out, device="cpu")
    image = data.camera()[:40, :40]
    assert np.array_equal(published(image), den(image))
    assert save_weights(["--checkpoint", str(checkpoint), "--name", "x", "--arch", den.card.arch,
                         "--config", json.dumps({**den.card.config, "num_feat": 16}), "--noise", "gaussian:0,50",
                         "--weights-dir", str(out)]) == 2  # does not fit the network: refused


def test_save_weights_half_with_manifest_lists_the_training_images(tmp_path, weights_dir):
    from restore.save_weights import main as save_weights

    den = Denoiser.from_pretrained("tiny_local_gauss", weights_dir=weights_dir, device="cpu")
    checkpoint = tmp_path / "net_g_latest.pth"
    torch.save({"params": den.net.state_dict()}, checkpoint)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"sources": ["skimage.data (test)"],
                                    "train": [{"name": "astronaut", "file": "train/astronaut.png",
                                               "source": "skimage.data (test)", "sha256": "a" * 64},
                                              {"name": "coffee", "file": "train/coffee.png", "source": "debian:x",
                                               "version": "1.0-1", "license": "CC0", "sha256": "b" * 64}],
                                    "eval": [{"name": "camera", "file": "eval/camera.png"}]}))
    out = tmp_path / "published"
    common = ["--checkpoint", str(checkpoint), "--arch", den.card.arch, "--config", json.dumps(den.card.config),
              "--noise", "gaussian:0,50", "--manifest", str(manifest), "--recipe", "options/x.yml",
              "--weights-dir", str(out)]
    assert save_weights([*common, "--name", "half", "--half", "--register"]) == 0
    card = json.loads((out / "half.json").read_text())
    assert card["training_images"] == ["train/astronaut.png", "train/coffee.png"]
    assert card["held_out_images"] == ["camera"]
    assert card["training_files"] == [
        {"file": "train/astronaut.png", "source": "skimage.data (test)", "sha256": "a" * 64},
        {"file": "train/coffee.png", "source": "debian:x", "version": "1.0-1", "license": "CC0", "sha256": "b" * 64}]
    assert card["recipe"] == "options/x.yml" and card["dtype"] == "float16"
    assert "Stored as float16" in card["notes"] and "sources: skimage.data (test)" in card["training_data"]
    assert card["training_data"].endswith("synthetic Gaussian noise")
    camera = [arg if arg != "gaussian:0,50" else "camera" for arg in common]
    assert save_weights([*camera, "--name", "camera_model"]) == 0
    card = json.loads((out / "camera_model.json").read_text())
    assert card["noise"]["type"] == "camera" and card["training_data"].endswith("synthetic camera noise "
                                                                                  "(shot and read noise through a camera pipeline, JPEG)")
    from safetensors.torch import load_file

    stored = load_file(str(out / "half.safetensors")).values()
    assert all(v.dtype == torch.float16 for v in stored if v.is_floating_point())
    half = Denoiser.from_pretrained("half", weights_dir=out, device="cpu")
    assert all(p.dtype == torch.float32 for p in half.net.parameters())  # computed in float32
    image = data.camera()[:40, :40]
    assert np.abs(half(image, sigma=25).astype(int) - den(image, sigma=25).astype(int)).max() <= 1
    # a tolerance below the measured change refuses float16 and writes nothing
    assert save_weights([*common, "--name", "strict", "--half", "--half-tolerance", "-1"]) == 2
    assert not (out / "strict.json").exists() and not (out / "strict.safetensors").exists()
    manifest.write_text("{}")
    assert save_weights([*common, "--name", "bad_manifest"]) == 2


def test_cpu_tiles_run_side_by_side_and_give_the_one_thread_result():
    denoiser = Denoiser.from_pretrained("uformer_t_skipat_gauss", device="cpu", tile=64, tile_overlap=16)
    x = torch.from_numpy(data.astronaut()[:100, :140].astype(np.float32) / 255).permute(2, 0, 1)[None]
    noisy = (x + torch.randn(x.shape, generator=torch.Generator().manual_seed(0)) * 0.1).clamp(0, 1)
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert denoiser.workers == 1
        in_turn = denoiser.denoise_tensor(noisy, sigma=25)
        torch.set_num_threads(2)
        assert denoiser.workers == 2
        side_by_side = denoiser.denoise_tensor(noisy, sigma=25)
    finally:
        torch.set_num_threads(saved)
    torch.testing.assert_close(side_by_side, in_turn, atol=1e-5, rtol=0)


@pytest.mark.parametrize("image, fragment", [
    (data.astronaut()[:40, :40].astype(np.float64), r"values must lie in \[0, 1\], found \[0, 237\] \(for pixels on the "
                                                    r"0-255 scale pass data_range=255.0\)"),
    (np.full((40, 40, 3), -0.2, np.float32), r"must lie in \[0, 1\], found \[-0.2, -0.2\]"),
    (np.where(np.eye(40)[..., None] > 0, np.inf, 0.5).repeat(3, axis=2), "120 NaN or infinite values"),
    (np.pad(np.full((39, 40), 0.5), ((0, 1), (0, 0)), constant_values=np.nan), "holds 40 NaN or infinite values"),
])
def test_values_outside_the_range_or_not_finite_are_refused_not_clipped(weights_dir, image, fragment):
    from restore.errors import RestoreError

    den = Denoiser.from_pretrained("tiny_local_gauss", weights_dir=weights_dir, device="cpu")
    for sigma in (10, "auto"):
        with pytest.raises(RestoreError, match=fragment):
            den(image, sigma=sigma)


def test_data_range_names_the_white_level(weights_dir):
    from restore.errors import RestoreError

    den = Denoiser.from_pretrained("tiny_local_gauss", weights_dir=weights_dir, device="cpu")
    photo = data.astronaut()[:40, :48]
    as_255 = den(photo.astype(np.float64), sigma=10, data_range=255.0)
    assert as_255.dtype == np.float64 and abs(as_255.mean() - photo.mean()) < 10  # not clipped to white
    np.testing.assert_allclose(as_255, den(photo, sigma=10), atol=0.51)  # the uint8 result, unrounded
    twelve_bit = photo.astype(np.uint16) * 16
    assert den(twelve_bit, sigma=10, data_range=4095).max() <= 4095
    with pytest.raises(RestoreError, match=r"must lie in \[0, 255\], found \[0, 3792\]"):
        den(twelve_bit, sigma=10, data_range=255)
    with pytest.raises(RestoreError, match="data_range must be a positive number"):
        den(photo, sigma=10, data_range=0)
    slightly_over = np.clip(photo / 255 + 5e-4, 0, 1.0005)  # rounding slack is accepted
    assert den(slightly_over, sigma=10).max() <= 1.0


def test_gray_alpha_comes_back_gray_alpha_with_its_alpha(weights_dir):
    den = Denoiser.from_pretrained("tiny_local_gauss", weights_dir=weights_dir, device="cpu")
    gray_alpha = np.dstack([data.camera()[:40, :48], np.arange(40 * 48).reshape(40, 48) % 256]).astype(np.uint16) * 257
    out = den(gray_alpha)
    assert out.shape == gray_alpha.shape and out.dtype == np.uint16
    assert np.array_equal(out[..., 1], gray_alpha[..., 1])


@pytest.mark.parametrize("shape", [(3, 3, 3), (2, 2), (1, 2000, 3)])
def test_images_too_small_for_a_sigma_estimate(tmp_path, weights_dir, publish, tiny_uformer, shape):
    from restore.errors import RestoreError

    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    blind = Denoiser.from_pretrained("tiny_local_gauss", weights_dir=weights_dir, device="cpu")
    assert blind.choose_sigma(image) == (None, "sigma not estimated (image too small); blind model")
    assert blind(image).shape == image.shape
    card = publish(tmp_path, "tiny_map", "Uformer", {**tiny_uformer, "dd_in": 4}, noise_map_input=True)
    with_map = Denoiser.from_pretrained(card.path, device="cpu")
    with pytest.raises(RestoreError, match="too small to estimate the noise level .* give the noise level"):
        with_map(image)
    assert with_map(image, sigma=20).shape == image.shape


def test_a_card_lists_its_training_files_with_their_source_and_sha256_or_is_refused():
    from restore.errors import WeightsError
    from restore.io.weights_card import WeightsCard

    def card(files):
        return WeightsCard(name="m", arch="DnCNN", config={}, kind="image", noise={"type": "gaussian", "sigma": [0, 50]},
                           weights="m.safetensors", sha256="0" * 64, training_files=files)

    good = [{"file": "train/a.png", "source": "debian:x", "version": "1", "sha256": "c" * 64}]
    assert card(good).to_dict()["training_files"] == good
    assert "training_files" not in card(None).to_dict()
    for bad in ([{"file": "train/a.png", "source": "debian:x"}], [{"file": "a", "source": "s", "sha256": "xyz"}],
                ["train/a.png"], [{"file": "a", "source": "s", "sha256": "c" * 64, "version": 1}]):
        with pytest.raises(WeightsError, match="training_files"):
            card(bad)

"""A cascade video model through the Denoiser: its card names the image model by sha256, both
load, and the streaming tiled path runs the image model once per frame, never once per clip."""
import shutil

import numpy as np
import pytest
import torch

from restore.api import Denoiser
from restore.data.photos import load_rgb, pan_zoom_clip
from restore.errors import ChecksumError, WeightsError
from restore.io.weights_card import WeightsCard, read_card


@pytest.fixture(scope="module")
def cascade(tmp_path_factory, publish_cascade):
    folder = tmp_path_factory.mktemp("weights")
    return publish_cascade(folder)


def noisy_clip(frames: int, height: int = 40, width: int = 56) -> np.ndarray:
    clean = np.stack(pan_zoom_clip(load_rgb("chelsea"), frames, height, width, seed=0))
    noise = np.random.default_rng(0).normal(0, 25, clean.shape)
    return np.clip(clean + noise, 0, 255).round().astype(np.uint8)


def test_the_card_names_the_image_model_and_both_load(cascade):
    image, video = cascade
    card = read_card(video.path)
    assert card.is_cascade and card.image_stage == {"name": image.name, "sha256": image.sha256}
    assert "image_stage" not in read_card(image.path).to_dict()  # other cards keep their fields
    den = Denoiser.from_pretrained(video.path, device="cpu", tile=32, tile_overlap=8)
    assert den.image_stage.name == image.name and den.image_stage.kind == "image"
    assert den.image_stage.tile == 32  # the image stage tiles frames as an image Denoiser does
    den.warm_up(size=32, frames=3)


def test_the_image_stage_runs_once_per_frame_and_an_untrained_cascade_is_the_image_model(cascade, monkeypatch):
    image, video = cascade
    den = Denoiser.from_pretrained(video.path, device="cpu", tile=32, tile_overlap=8)
    per_frame = Denoiser.from_pretrained(image.path, device="cpu", tile=32, tile_overlap=8)
    clip = noisy_clip(13)  # two overlapping 7-frame windows, 2x2 video tiles of 24 px, 2x2 image tiles of 32 px
    seen = []
    stage = den.image_stage
    real = stage.denoise_tensor

    def counted(x, sigma=None, *args, **kwargs):
        seen.append(x.clone())
        return real(x, sigma, *args, **kwargs)

    monkeypatch.setattr(stage, "denoise_tensor", counted)
    out = den.denoise_video(clip, sigma=30, tile=24, tile_overlap=6)
    assert len(seen) == 13 and [frame.shape for frame in seen] == [(1, 3, 40, 56)] * 13  # once per whole frame
    expected = np.stack([per_frame(frame) for frame in clip])
    for frame, staged in zip(clip, seen):
        assert torch.equal(staged[0], torch.from_numpy(frame).permute(2, 0, 1).float() / 255)
    # the correction starts at zero: through the tiles and the temporal blending, the per-frame image model
    assert out.shape == clip.shape and np.array_equal(out, expected)


def test_streamed_frames_go_through_the_same_path(cascade):
    _, video = cascade
    den = Denoiser.from_pretrained(video.path, device="cpu", tile=32, tile_overlap=8)
    clip = noisy_clip(9)
    streamed = np.stack(list(den.denoise_video(iter(clip), sigma=30, tile=24, tile_overlap=6)))
    assert np.array_equal(streamed, den.denoise_video(clip, sigma=30, tile=24, tile_overlap=6))


def test_another_image_model_under_the_same_name_is_refused(cascade, tmp_path, publish):
    image, video = cascade
    for path in (video.path, video.weights_path):
        shutil.copy(path, tmp_path / path.name)
    publish(tmp_path, image.name, "UformerSkipAt", read_card(image.path).config, seed=1)  # other weights, same name
    with pytest.raises(ChecksumError, match=f"trained on the image model '{image.name}' with sha256 {image.sha256}"):
        Denoiser.from_pretrained(tmp_path / video.path.name, device="cpu")
    (tmp_path / f"{image.name}.json").unlink()
    with pytest.raises(WeightsError, match=f"whose card {image.name}.json is in none of"):
        Denoiser.from_pretrained(tmp_path / video.path.name, device="cpu", weights_dir=tmp_path)


def test_a_cascade_card_must_name_its_image_stage_and_only_a_cascade_may():
    fields = dict(name="x", arch="UniformerVideoSkipAt", kind="video", noise={"type": "gaussian", "sigma": [0, 50]},
                  weights="x.safetensors", sha256="0" * 64, noise_map_input=True)
    with pytest.raises(WeightsError, match="a cascade \\(config cascade: true\\) names its image_stage"):
        WeightsCard(config={"cascade": True}, **fields)
    with pytest.raises(WeightsError, match="names its image_stage, and only a cascade does"):
        WeightsCard(config={}, image_stage={"name": "y", "sha256": "1" * 64}, **fields)
    with pytest.raises(WeightsError, match="image_stage must be"):
        WeightsCard(config={"cascade": True}, image_stage={"name": "y", "sha256": "short"}, **fields)
    WeightsCard(config={"cascade": True}, image_stage={"name": "y", "sha256": "1" * 64}, **fields)


def test_save_weights_publishes_a_cascade_with_its_image_stage(cascade, tmp_path, capsys):
    import json

    from restore.save_weights import main as save_weights

    image, video = cascade
    den = Denoiser.from_pretrained(video.path, device="cpu")
    torch.nn.init.normal_(den.net.output_proj.weight, std=0.01)  # a trained correction
    checkpoint = tmp_path / "net_g_latest.pth"
    torch.save({"params": den.net.state_dict()}, checkpoint)
    common = ["--checkpoint", str(checkpoint), "--arch", video.arch, "--config", json.dumps(video.config),
              "--kind", "video", "--noise", "gaussian:0,50", "--noise-map-input", "--weights-dir", str(image.path.parent)]
    assert save_weights([*common, "--name", "no_stage"]) == 2
    assert "names its image_stage" in capsys.readouterr().err
    assert save_weights([*common, "--name", "published_cascade", "--image-stage", image.name, "--half",
                         "--half-tolerance", "255"]) == 0
    card = read_card(image.path.parent / "published_cascade.json")
    assert card.image_stage == {"name": image.name, "sha256": image.sha256} and card.dtype == "float16"
    clip = noisy_clip(7)
    published = Denoiser.from_pretrained(card.path, device="cpu").denoise_video(clip, sigma=30)
    assert np.abs(published.astype(int) - den.denoise_video(clip, sigma=30).astype(int)).max() <= 2


def test_save_weights_gives_a_noise_map_image_stage_its_map(cascade, tmp_path, publish):
    import json

    from restore.save_weights import main as save_weights

    _, video = cascade
    image = publish(tmp_path, "tiny_map_image", "DnCNN", dict(in_chans=4, num_feat=8, depth=3), noise_map_input=True)
    checkpoint = tmp_path / "net_g_latest.pth"
    torch.save({"params": Denoiser.from_pretrained(video.path, device="cpu").net.state_dict()}, checkpoint)
    assert save_weights(["--checkpoint", str(checkpoint), "--arch", video.arch, "--config", json.dumps(video.config),
                         "--kind", "video", "--noise", "gaussian:0,50", "--noise-map-input", "--weights-dir",
                         str(tmp_path), "--name", "map_cascade", "--image-stage", image.name, "--half",
                         "--half-tolerance", "255"]) == 0
    assert read_card(tmp_path / "map_cascade.json").image_stage["sha256"] == image.sha256


def test_the_app_runs_a_cascade_like_any_video_model(cascade, tmp_path, make_clip):
    from restore.app_service import Limits, ModelCatalog, denoise_video_file

    image, video = cascade
    catalog = ModelCatalog(image.path.parent, video_tile=32, video_tile_overlap=8)
    assert video.name in catalog.names("video") and catalog.gmacs(video.name) > 0
    clip = make_clip(tmp_path / "clip.mp4", frames=9)
    (tmp_path / "out").mkdir()
    run = denoise_video_file(catalog, clip, video.name, 30, False, tmp_path / "out", Limits())
    assert run.frames == 9 and run.video.is_file() and run.preview.is_file()


def test_the_stream_runs_the_image_stage_once_per_frame_with_bounded_memory():
    """Through denoise_frames itself: 100 frames, small tiles, overlapping clips; each frame's image
    stage runs once, shortly before it is needed, and the video stage sees (noisy, staged) frames."""
    from restore.inference.video_stream import denoise_frames

    calls, read = [], [0]

    def image_stage(frame: torch.Tensor) -> torch.Tensor:
        calls.append(frame.shape)
        return 1 - frame

    def video_stage(clip: torch.Tensor) -> torch.Tensor:
        assert clip.shape[1:3] == (7, 6)
        return clip[:, :, 3:]

    def stream():
        for index in range(100):
            read[0] += 1
            yield np.full((20, 30, 3), index, np.uint8)

    for index, frame in enumerate(denoise_frames(video_stage, stream(), tile=8, tile_overlap=2,
                                                 image_stage=image_stage)):
        assert len(calls) - index <= 2 * 7 + 1 and len(calls) == read[0]
        assert (frame == 255 - index).all()
    assert calls == [(3, 20, 30)] * 100

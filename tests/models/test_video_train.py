"""Video clips dataset (DAVIS layout, frame folders, video files) and a CPU smoke training run."""
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import restore.data  # noqa: F401  (registers datasets)
from restore.errors import DatasetError
from restore.data.video_clip_dataset import VideoClipDataset
from restore.scripts.make_sample_clips import make_sample_set

pytestmark = pytest.mark.slow  # subprocesses, servers or training: not in the fast subset

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def davis_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("davis")
    make_sample_set(root, frames=9, height=40, width=48, photos=("astronaut", "coffee"), videos=True)
    return root


def test_davis_layout_train_sample(davis_root: Path) -> None:
    dataset = VideoClipDataset({"dataroot": str(davis_root), "phase": "train", "gt_size": 32, "sigma": 30})
    assert len(dataset) == 2 and [s.name for s in dataset.sequences] == ["astronaut", "coffee"]
    sample = dataset[0]
    assert sample["lq"].shape == sample["gt"].shape == (7, 3, 32, 32)
    noise = (sample["lq"] - sample["gt"]).std().item()
    assert abs(noise - 30 / 255) < 0.01  # sigma on the 0-255 scale, not clipped
    assert sample["gt"].min() >= 0 and sample["gt"].max() <= 1


def test_still_shots_repeat_one_frame_with_fresh_noise(davis_root: Path) -> None:
    opt = {"dataroot": str(davis_root), "phase": "train", "gt_size": 32, "sigma": 30, "augment": False}
    still = VideoClipDataset({**opt, "still_prob": 1.0})[0]
    assert all(torch.equal(frame, still["gt"][0]) for frame in still["gt"])
    assert not torch.equal(still["lq"][0], still["lq"][1])  # each frame gets its own noise
    moving = VideoClipDataset({**opt, "still_prob": 0.0})[0]
    assert not torch.equal(moving["gt"][0], moving["gt"][-1])
    with pytest.raises(DatasetError, match="still_prob"):
        VideoClipDataset({**opt, "still_prob": 2})


def test_frame_folders_and_video_files_and_noise_map(davis_root: Path) -> None:
    folders = VideoClipDataset({"dataroot": str(davis_root / "JPEGImages" / "480p"), "phase": "val",
                                "gt_size": None, "sigma": [10, 50], "noise_map": True})
    sample = folders[1]
    assert sample["lq"].shape == (7, 4, 40, 48) and sample["gt"].shape == (7, 3, 40, 48)
    level = sample["lq"][:, 3]
    assert torch.allclose(level, torch.full_like(level, sample["sigma"] / 255))
    assert 10 <= sample["sigma"] <= 50
    videos = VideoClipDataset({"dataroot": str(davis_root / "videos"), "phase": "val", "sigma": 30})
    clip = videos[0]
    assert len(videos.sequences[0]) == 9 and clip["gt"].shape == (7, 3, 40, 48)
    # the video file decodes to (nearly) the same frames as the jpg folder: same middle clip chosen
    same = VideoClipDataset({"dataroot": str(davis_root), "phase": "val", "sigma": 30})[0]
    assert (clip["gt"] - same["gt"]).abs().mean() < 0.03


def test_validation_noise_repeats_and_short_sequences_mirror(davis_root: Path) -> None:
    opt = {"dataroot": str(davis_root), "phase": "val", "gt_size": 16, "sigma": 30, "num_frames": 13}
    first, again = VideoClipDataset(opt)[0], VideoClipDataset(opt)[0]
    assert torch.equal(first["lq"], again["lq"])
    assert first["gt"].shape[0] == 13  # 9 frames mirrored up to 13
    assert torch.equal(first["gt"][9], first["gt"][7])


def test_bad_roots_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        VideoClipDataset({"dataroot": str(tmp_path / "none"), "phase": "train"})
    with pytest.raises(DatasetError, match="no sequences"):
        VideoClipDataset({"dataroot": str(tmp_path), "phase": "train"})


def smoke_options(prefix: str, iterations: int) -> dict:
    """The video smoke recipe under a fresh run name, for ``iterations`` iterations, validated and
    saved at the last."""
    options = yaml.safe_load((REPO / "options" / "smoke" / "video_uniformer_skipat.yml").read_text())
    options["name"] = f"{prefix}_{uuid.uuid4().hex[:8]}"
    options["train"]["total_iter"] = options["train"]["scheduler"]["total_iter"] = iterations
    options["val"]["val_freq"] = options["logger"]["save_checkpoint_freq"] = iterations
    return options


def train(options: dict, path: Path) -> subprocess.CompletedProcess:
    """``options`` written to ``path`` and trained through restore/train.py, from ``path``'s folder."""
    path.write_text(yaml.safe_dump(options))
    env = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, str(REPO / "restore" / "train.py"), "-opt", str(path)],
                          cwd=path.parent, env=env, capture_output=True, text=True, timeout=240)


def test_smoke_training_run_on_cpu(tmp_path: Path) -> None:
    """A few iterations of the smoke config through restore/train.py; loss logged, checkpoint saved."""
    options = smoke_options("test_video_smoke", 4)
    options["logger"]["print_freq"] = 2
    name = options["name"]
    experiment = REPO / "experiments" / name
    try:
        done = train(options, tmp_path / "smoke.yml")
        assert done.returncode == 0, done.stderr[-3000:]
        log = "\n".join(p.read_text() for p in experiment.glob("train_*.log"))
        assert "l_pix" in log and "# psnr" in log
        state = torch.load(experiment / "models" / "net_g_4.pth", weights_only=True)["params"]
        assert not any("decoders" in key and "qkv" in key for key in state)  # SkipAt decoder: no q, k
        assert np.isfinite(sum(float(v.float().sum()) for v in state.values()))
    finally:
        shutil.rmtree(experiment, ignore_errors=True)
        shutil.rmtree(REPO / "tb_logger" / name, ignore_errors=True)


def test_a_cascade_trains_its_video_stage_on_a_frozen_image_model(tmp_path: Path, publish, tiny_uformer) -> None:
    """network_g cascade: true with image_stage: the image model is loaded from its card,
    frozen, and run on every frame; only the video stage (6-channel input) is saved."""
    image = publish(tmp_path / "weights", "tiny_image", "UformerSkipAt", tiny_uformer)
    before = image.weights_path.read_bytes()
    options = smoke_options("test_video_cascade", 2)
    options["network_g"]["cascade"] = True
    options["image_stage"] = str(image.path)
    options["train"]["scheduler"]["warmup_iter"] = 1
    options["logger"]["print_freq"] = 1
    name = options["name"]
    experiment = REPO / "experiments" / name
    try:
        done = train(options, tmp_path / "cascade.yml")
        assert done.returncode == 0, done.stderr[-3000:]
        log = "\n".join(p.read_text() for p in experiment.glob("train_*.log"))
        assert f"Cascade on the frozen image model tiny_image (sha256 {image.sha256})" in log and "# psnr" in log
        state = torch.load(experiment / "models" / "net_g_2.pth", weights_only=True)["params"]
        assert state["input_proj.0.weight"].shape[1] == 6 and not any("patch_embed" in key for key in state)
        assert state["output_proj.weight"].abs().sum() > 0  # the zero correction has started to learn
        assert image.weights_path.read_bytes() == before
        del options["image_stage"]
        done = train(options, tmp_path / "cascade.yml")
        assert done.returncode == 2 and done.stderr.count("\n") == 1
        assert done.stderr.startswith("error: network_g: cascade: true needs image_stage")
    finally:
        shutil.rmtree(experiment, ignore_errors=True)
        shutil.rmtree(REPO / "tb_logger" / name, ignore_errors=True)


def test_eval_protocol_identity_model_scores_the_noisy_input(davis_root: Path) -> None:
    """With an identity 'denoiser' the protocol's PSNR is that of the clamped, rounded noisy frames."""
    import zlib

    from restore.data.video_clip_dataset import find_sequences
    from restore.scripts.eval_video import evaluate, psnr_uint8

    sequences = find_sequences(davis_root)
    results = evaluate(lambda sigma: (lambda clip: clip.clone()), sequences, [30], num_frames=8, seed=3,
                       progress=False, tile=32, tile_overlap=8)
    expected = {}
    for sequence in sequences:
        rng = np.random.default_rng([3, 3000, zlib.crc32(sequence.name.encode())])
        scores = []
        for frame in sequence.frames(list(range(8))):
            noisy = frame / 255.0 + rng.standard_normal(frame.shape, dtype=np.float32) * np.float32(30 / 255)
            scores.append(psnr_uint8((np.clip(noisy, 0, 1) * 255).round().astype(np.uint8), frame))
        expected[sequence.name] = np.mean(scores)
    for name, value in expected.items():
        assert abs(results["30"]["sequences"][name] - value) < 0.02, (name, value)
    assert abs(results["30"]["mean"] - np.mean(list(expected.values()))) < 0.02
    assert 18 < results["30"]["mean"] < 21  # sigma 30 noise is about 18.6 dB before clamping


def test_eval_cli_bad_model_exits_2(davis_root: Path, capsys) -> None:
    from restore.scripts.eval_video import main

    assert main(["--data", str(davis_root), "--model", "no_such_model", "--sigmas", "30"]) == 2
    assert "error:" in capsys.readouterr().err

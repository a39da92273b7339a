"""The skimage.data corpus for the published weights, and its option files.

The corpus split must be disjoint and recorded; the writer must refuse to
overwrite; each weights option file must start training on that corpus (two
iterations on CPU, shrunk with --force_yml).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import torch
import yaml
from basicsr.utils.registry import ARCH_REGISTRY

from restore.scripts.make_sample_corpus import EVAL_PHOTOS, TRAIN_PHOTOS, main

REPO = Path(__file__).resolve().parent.parent
OPTIONS = REPO / "options"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "sample_corpus"
    assert main(["--out", str(out), "--clip-frames", "8", "--clip-size", "40x48"]) == 0
    return out


def test_split_is_disjoint_and_the_manifest_lists_every_file(corpus):
    manifest = json.loads((corpus / "manifest.json").read_text())
    train = [entry["name"] for entry in manifest["train"]]
    held_out = [entry["name"] for entry in manifest["eval"]]
    assert train == list(TRAIN_PHOTOS) and held_out == list(EVAL_PHOTOS)
    assert not set(train) & set(held_out) and "cat" not in train  # cat is chelsea
    assert sorted(p.name for p in (corpus / "train").iterdir()) == sorted(f"{n}.png" for n in train)
    assert sorted(p.name for p in (corpus / "eval").iterdir()) == sorted(f"{n}.png" for n in held_out)
    assert manifest["clips"]["photos"] == train
    sequences = sorted(p.name for p in (corpus / "clips/JPEGImages/480p").iterdir())
    assert sequences == sorted(manifest["clips"]["sequences"]) and len(sequences) == len(train)
    assert len(list((corpus / "clips/JPEGImages/480p/astronaut").glob("*.jpg"))) == 8
    import cv2
    camera = cv2.imread(str(corpus / "eval/camera.png"), cv2.IMREAD_UNCHANGED)
    assert camera.shape == (512, 512, 3) and (camera[..., 0] == camera[..., 2]).all()
    assert {e["name"]: e["source"] for e in manifest["eval"]}["chelsea"] == "rgb"


def test_refuses_to_overwrite_without_flag(corpus, tmp_path, capsys):
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert main(["--out", str(out)]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert (out / "mine.txt").read_text() == "keep"
    assert main(["--out", str(out), "--clip-frames", "7", "--clip-size", "32x32", "--overwrite"]) == 0
    assert not (out / "mine.txt").exists() and (out / "manifest.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["corpus"]  # no staging folders left behind
    assert main(["--out", str(tmp_path / "x"), "--clip-size", "big"]) == 2


def test_image_option_files_share_recipe_and_budget():
    skipat = yaml.safe_load((OPTIONS / "weights_uformer_t_skipat_gauss.yml").read_text())
    base = yaml.safe_load((OPTIONS / "weights_uformer_t_gauss.yml").read_text())
    assert skipat["train"] == base["train"] and skipat["datasets"] == base["datasets"] and skipat["val"] == base["val"]
    assert (skipat["network_g"]["type"], base["network_g"]["type"]) == ("UformerSkipAt", "Uformer")
    assert skipat["network_g"]["preset"] == base["network_g"]["preset"] == "T"
    assert skipat["datasets"]["train"]["sigma"] == [0, 50]
    video = yaml.safe_load((OPTIONS / "weights_uniformer_skipat_gauss.yml").read_text())
    assert video["datasets"]["train"]["sigma"] == [0, 50] and video["network_g"]["noise_map"] is True
    assert not set(video["datasets"]["val"]["skimage_pans"]["photos"]) & set(TRAIN_PHOTOS)


def test_video_stage2_fine_tunes_stage1_with_the_same_network_data_and_loss():
    stage1 = yaml.safe_load((OPTIONS / "weights_uniformer_skipat_gauss.yml").read_text())
    stage2 = yaml.safe_load((OPTIONS / "weights_uniformer_skipat_gauss_stage2.yml").read_text())
    assert stage2["path"]["pretrain_network_g"] == f"experiments/{stage1['name']}/models/net_g_latest.pth"
    assert stage2["network_g"] == stage1["network_g"]
    assert {**stage2["val"], "val_freq": 0} == {**stage1["val"], "val_freq": 0}
    assert stage2["datasets"]["val"] == stage1["datasets"]["val"]
    changed = {"gt_size", "batch_size_per_gpu", "dataset_enlarge_ratio", "still_prob"}
    assert {k: v for k, v in stage2["datasets"]["train"].items() if k not in changed} == \
        {k: v for k, v in stage1["datasets"]["train"].items() if k not in changed}
    for key in ("optim_g", "pixel_opt", "autocast", "ema_decay"):
        assert stage2["train"][key] == stage1["train"][key]
    assert stage2["train"]["total_iter"] == stage2["train"]["scheduler"]["total_iter"]


def test_video_stage3_restarts_stage2_at_a_lower_peak_and_changes_nothing_else():
    stage2 = yaml.safe_load((OPTIONS / "weights_uniformer_skipat_gauss_stage2.yml").read_text())
    stage3 = yaml.safe_load((OPTIONS / "weights_uniformer_skipat_gauss_stage3.yml").read_text())
    assert stage3["path"]["pretrain_network_g"] == f"experiments/{stage2['name']}/models/net_g_latest.pth"
    assert stage3["train"]["optim_g"]["lr"] < stage2["train"]["optim_g"]["lr"]
    stage3["train"]["optim_g"]["lr"] = stage2["train"]["optim_g"]["lr"]
    assert {k: v for k, v in stage3.items() if k not in ("name", "path")} == \
        {k: v for k, v in stage2.items() if k not in ("name", "path")}


def test_video_stage4_restarts_stage3_on_larger_crops_and_changes_nothing_else():
    stage3 = yaml.safe_load((OPTIONS / "weights_uniformer_skipat_gauss_stage3.yml").read_text())
    stage4 = yaml.safe_load((OPTIONS / "weights_uniformer_skipat_gauss_stage4.yml").read_text())
    assert stage4["path"]["pretrain_network_g"] == f"experiments/{stage3['name']}/models/net_g_latest.pth"
    crops = [(stage["datasets"]["train"]["gt_size"], stage["datasets"]["train"]["batch_size_per_gpu"])
             for stage in (stage3, stage4)]
    assert crops[1][0] > crops[0][0]  # more context for the H/8 global attention, which 7x128^2 tiles give at inference
    assert crops[1][0] ** 2 * crops[1][1] <= 1.5 * crops[0][0] ** 2 * crops[0][1]  # about the same pixels per step
    assert stage4["train"]["total_iter"] == stage4["train"]["scheduler"]["total_iter"]
    for stage in (stage3, stage4):
        train = stage["datasets"]["train"]
        del stage["name"], stage["path"], train["gt_size"], train["batch_size_per_gpu"]
        del stage["train"]["total_iter"], stage["train"]["scheduler"]["total_iter"]
    assert stage4 == stage3


def test_video_stage5_restarts_stage4_on_clips_drawn_from_the_training_photos():
    stage4 = yaml.safe_load((OPTIONS / "weights_uniformer_skipat_gauss_stage4.yml").read_text())
    stage5 = yaml.safe_load((OPTIONS / "weights_uniformer_skipat_gauss_stage5.yml").read_text())
    assert stage5["path"]["pretrain_network_g"] == f"experiments/{stage4['name']}/models/net_g_latest.pth"
    clips = stage5["datasets"]["train"]
    assert clips["photo_motion"]["dataroot"] == "datasets/sample_corpus/train"  # the training photos, no others
    assert stage4["datasets"]["train"]["dataroot"] == "datasets/sample_corpus/clips"
    assert clips["still_prob"] >= stage4["datasets"]["train"]["still_prob"] and clips["gray_prob"] > 0
    for stage in (stage4, stage5):
        train = stage["datasets"]["train"]
        for key in ("name", "dataroot", "photo_motion", "still_prob", "gray_prob"):
            train.pop(key, None)
        del stage["name"], stage["path"]
    assert stage5 == stage4  # same network, crops, batch, schedule, loss and validation


def test_video_stage6_restarts_stage5_with_a_faster_camera_and_changes_nothing_else():
    stage5 = yaml.safe_load((OPTIONS / "weights_uniformer_skipat_gauss_stage5.yml").read_text())
    stage6 = yaml.safe_load((OPTIONS / "weights_uniformer_skipat_gauss_stage6.yml").read_text())
    assert stage6["path"]["pretrain_network_g"] == f"experiments/{stage5['name']}/models/net_g_latest.pth"
    motion = [stage["datasets"]["train"]["photo_motion"] for stage in (stage5, stage6)]
    assert motion[1]["max_speed"] > motion[0]["max_speed"]  # the validation pans move 7-19 px per frame
    assert stage6["train"]["optim_g"]["lr"] < stage5["train"]["optim_g"]["lr"]
    assert stage6["train"]["total_iter"] == stage6["train"]["scheduler"]["total_iter"]
    for stage in (stage5, stage6):
        del stage["name"], stage["path"], stage["datasets"]["train"]["photo_motion"]["max_speed"], stage["val"]["val_freq"]
        del stage["train"]["optim_g"]["lr"], stage["train"]["total_iter"], stage["train"]["scheduler"]["total_iter"]
    assert stage6 == stage5


@pytest.mark.parametrize("stage, previous", [("_stage2", ""), ("_stage3", "_stage2"), ("_stage4", "_stage3")])
def test_image_later_stage_fine_tunes_the_last_with_one_shared_budget(stage, previous):
    skipat = yaml.safe_load((OPTIONS / f"weights_uformer_t_skipat_gauss{stage}.yml").read_text())
    base = yaml.safe_load((OPTIONS / f"weights_uformer_t_gauss{stage}.yml").read_text())
    assert skipat["train"] == base["train"] and skipat["datasets"] == base["datasets"] and skipat["val"] == base["val"]
    for later, stem in ((skipat, "weights_uformer_t_skipat_gauss"), (base, "weights_uformer_t_gauss")):
        last = yaml.safe_load((OPTIONS / f"{stem}{previous}.yml").read_text())
        assert later["path"]["pretrain_network_g"] == f"experiments/{last['name']}/models/net_g_latest.pth"
        assert later["network_g"] == last["network_g"]
        assert later["datasets"] == last["datasets"] and later["val"] == last["val"]
        for key in ("pixel_opt", "autocast", "ema_decay"):
            assert later["train"][key] == last["train"][key]
        assert {**later["train"]["optim_g"], "lr": 0} == {**last["train"]["optim_g"], "lr": 0}
        assert later["train"]["optim_g"]["lr"] < last["train"]["optim_g"]["lr"]
    assert skipat["train"]["total_iter"] == skipat["train"]["scheduler"]["total_iter"]


SHRINK = {
    "weights_uformer_t_skipat_gauss.yml": ["datasets:train:gt_size=64", "datasets:val_1:gt_size=32",
                                           "datasets:val_2:gt_size=32", "datasets:val_3:gt_size=32"],
    "weights_uformer_t_gauss.yml": ["datasets:train:gt_size=64", "datasets:val_1:gt_size=32",
                                    "datasets:val_2:gt_size=32", "datasets:val_3:gt_size=32"],
    "weights_uniformer_skipat_gauss.yml": ["datasets:train:gt_size=32", "datasets:val:skimage_pans:frames=7",
                                           "datasets:val:skimage_pans:height=32",
                                           "datasets:val:skimage_pans:width=32"],
}
WEIGHTS_OPTIONS = sorted(path.name for path in OPTIONS.glob("weights_*.yml"))


def first_stage(option_file: str) -> str:
    """Later stages share their first stage's network and data, so they shrink the same way."""
    return re.sub(r"_stage\d+\.yml$", ".yml", option_file)


@pytest.mark.parametrize("option_file", WEIGHTS_OPTIONS)
def test_weights_options_train_two_iterations_on_cpu(corpus, option_file, tmp_path):
    name = f"test_weights_{uuid.uuid4().hex[:8]}"
    key = "dataroot" if "uniformer" in option_file else "dataroot_gt"
    roots = [f"datasets:train:{key}={corpus / ('clips' if key == 'dataroot' else 'train')}"]
    if "photo_motion" in yaml.safe_load((OPTIONS / option_file).read_text())["datasets"]["train"]:
        roots = [f"datasets:train:photo_motion:dataroot={corpus / 'train'}"]
    if key == "dataroot_gt":
        roots += [f"datasets:val_{i}:dataroot_gt={corpus / 'eval'}" for i in (1, 2, 3)]
    force = [f"name={name}", "train:total_iter=2", "train:scheduler:total_iter=2", "train:scheduler:warmup_iter=1",
             "datasets:train:batch_size_per_gpu=1", "datasets:train:num_worker_per_gpu=0",
             "datasets:train:dataset_enlarge_ratio=1", "logger:print_freq=1", "logger:use_tb_logger=False",
             "logger:save_checkpoint_freq=2", *roots, *SHRINK[first_stage(option_file)]]
    if option_file != first_stage(option_file):  # later stages start from the last stage's checkpoint: give them a fresh one
        network = dict(yaml.safe_load((OPTIONS / option_file).read_text())["network_g"])
        torch.manual_seed(0)
        start = ARCH_REGISTRY.get(network.pop("type"))(**network)
        torch.save({"params": start.state_dict()}, tmp_path / "stage1.pth")
        force.append(f"path:pretrain_network_g={tmp_path / 'stage1.pth'}")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    try:
        done = subprocess.run([sys.executable, str(REPO / "restore/train.py"), "-opt", str(OPTIONS / option_file),
                               "--force_yml", *force], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=240)
        assert done.returncode == 0, done.stderr[-3000:]
        log = next((REPO / "experiments" / name).glob("train_*.log")).read_text()
        assert re.search(r"iter:\s+2, lr:", log), log[-2000:]
        assert "# psnr:" in log
        assert (REPO / "experiments" / name / "models" / "net_g_2.pth").is_file()
    finally:
        shutil.rmtree(REPO / "experiments" / name, ignore_errors=True)
        shutil.rmtree(REPO / "tb_logger" / name, ignore_errors=True)

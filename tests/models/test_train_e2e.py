"""End-to-end training through restore/train.py on fixtures in the real SIDD layout.

Prepared PNG patches for training, small .mat files with the official key names
for validation, a tiny Uformer. Checks: the loss falls on a fixed batch,
validation prints PSNR/SSIM, checkpoints appear, and after a SIGKILL
``--auto_resume`` (from another working directory) continues at the saved
iteration with the learning-rate schedule where it left off.
"""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import torch
import yaml

from restore.data.sidd_mat_dataset import SIDDMatDataset
from restore.data.sidd_paired_dataset import SIDDPairedDataset
from restore.models.denoise_model import DenoiseModel
from restore.models.warmup_cosine_lr import warmup_cosine_factor

pytestmark = pytest.mark.slow  # subprocesses, servers or training: not in the fast subset

REPO = Path(__file__).resolve().parents[2]
TINY_UFORMER = {"type": "Uformer", "img_size": 32, "embed_dim": 8, "depths": [1] * 9, "win_size": 8}
LR, WARMUP, TOTAL = 2e-3, 2, 1000


@pytest.fixture(scope="module")
def sidd_fixture(tmp_path_factory, make_sidd_medium, make_sidd_mat, prepare_sidd):
    root = tmp_path_factory.mktemp("sidd")
    assert prepare_sidd(make_sidd_medium(root), root / "train") == 0
    gt_mat, noisy_mat = make_sidd_mat(root / "val", leading=(2, 3), block=32)
    return root / "train", gt_mat, noisy_mat


def train_options(name: str, train_dir: Path, gt_mat: Path, noisy_mat: Path) -> dict:
    return {
        "name": name, "model_type": "DenoiseModel", "num_gpu": 0, "manual_seed": 0,
        "datasets": {
            "train": {"name": "sidd_patches", "type": "SIDDPairedDataset", "dataroot_gt": str(train_dir / "groundtruth"),
                      "dataroot_lq": str(train_dir / "input"), "gt_size": 32, "num_worker_per_gpu": 0,
                      "batch_size_per_gpu": 2, "dataset_enlarge_ratio": 1},
            "val": {"name": "sidd_val", "type": "SIDDMatDataset", "dataroot_gt": str(gt_mat),
                    "dataroot_lq": str(noisy_mat)}},
        "network_g": dict(TINY_UFORMER),
        "path": {"pretrain_network_g": None, "strict_load_g": True, "resume_state": None},
        "train": {"optim_g": {"type": "AdamW", "lr": LR, "weight_decay": 0.02, "betas": [0.9, 0.999]},
                  "scheduler": {"type": "WarmupCosineLR", "total_iter": TOTAL, "warmup_iter": WARMUP, "eta_min": 1e-6},
                  "total_iter": TOTAL,
                  "pixel_opt": {"type": "CharbonnierLoss", "loss_weight": 1.0, "reduction": "mean", "eps": 1e-6}},
        "val": {"val_freq": 2, "save_img": False, "quantize": False,
                "metrics": {"psnr": {"type": "calculate_psnr", "crop_border": 0, "test_y_channel": False},
                            "ssim": {"type": "calculate_ssim", "crop_border": 0, "test_y_channel": False}}},
        "logger": {"print_freq": 1, "save_checkpoint_freq": 2, "use_tb_logger": True},
    }


def test_loss_decreases_on_a_fixed_batch_and_best_keeps_ema(sidd_fixture, tmp_path):
    train_dir, gt_mat, noisy_mat = sidd_fixture
    opt = train_options("fixed_batch", train_dir, gt_mat, noisy_mat)
    opt.update(is_train=True, dist=False, rank=0, world_size=1)
    opt["train"]["scheduler"] = {"type": "WarmupCosineLR", "total_iter": 30, "warmup_iter": 0}
    opt["train"]["ema_decay"] = 0.9
    opt["path"].update(models=str(tmp_path), training_states=str(tmp_path))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _train_fixed_batch_and_validate(DenoiseModel(opt), opt, tmp_path)
    finally:
        torch.set_num_threads(threads)


def _train_fixed_batch_and_validate(model: DenoiseModel, opt: dict, tmp_path: Path) -> None:
    dataset = SIDDPairedDataset({**opt["datasets"]["train"], "phase": "train"})
    random.seed(0)  # the crops
    batch = torch.utils.data.default_collate([dataset[i] for i in (0, 7)])
    losses = []
    for current_iter in range(1, 9):
        model.update_learning_rate(current_iter)
        model.feed_data(batch)
        model.optimize_parameters(current_iter)
        losses.append(model.get_current_log()["l_pix"])
    assert sum(losses[-3:]) / 3 < 0.8 * losses[0], losses
    val_set = SIDDMatDataset({**opt["datasets"]["val"], "phase": "val"})
    loader = torch.utils.data.DataLoader(val_set, batch_size=1)
    model.validation(loader, current_iter=8, tb_logger=None, save_img=False)
    assert set(model.metric_results) == {"psnr", "ssim"} and model.metric_results["psnr"] > 20
    best = torch.load(tmp_path / "net_g_best.pth", weights_only=True)
    assert set(best) == {"params", "params_ema"}
    assert json.loads((tmp_path / "net_g_best.json").read_text())["iter"] == 8


def _log_text(experiment: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(experiment.glob("train_*.log")))


def _run_env() -> dict:
    # one thread: spinning OpenMP threads on a shared 2-core box slow tiny nets down 100-fold
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def test_train_validate_kill_and_auto_resume(sidd_fixture, tmp_path):
    name = f"test_e2e_{uuid.uuid4().hex[:8]}"
    experiment, tb_dir = REPO / "experiments" / name, REPO / "tb_logger" / name
    options = tmp_path / "opt.yml"
    options.write_text(yaml.safe_dump(train_options(name, *sidd_fixture)))
    command = [sys.executable, str(REPO / "restore/train.py"), "-opt", str(options)]
    try:
        process = subprocess.Popen(command, cwd=tmp_path, env=_run_env(), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        states = experiment / "training_states"
        deadline = time.monotonic() + 150
        while not (states / "4.state").exists():
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "no training state after 150 s"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        process.stderr.close()

        saved = max(int(p.stem) for p in states.glob("*.state"))
        first_log = _log_text(experiment)
        assert re.search(r"# psnr: \d+\.\d+", first_log) and re.search(r"# ssim: 0\.\d+", first_log)
        for checkpoint in ("net_g_2.pth", "net_g_4.pth", "net_g_best.pth"):
            assert (experiment / "models" / checkpoint).is_file()
        assert torch.load(experiment / "models/net_g_best.pth", weights_only=True)["params"]

        stop = saved + 3
        resumed = subprocess.run(command + ["--auto_resume", "--force_yml", f"train:total_iter={stop}"],
                                 cwd=tmp_path, env=_run_env(), capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert not (tmp_path / "experiments").exists()  # found under the repository root, not the cwd
        second_log = _log_text(experiment)[len(first_log):]
        assert f"iter: {saved}." in second_log  # "Resuming training from epoch: E, iter: N."
        logged = [int(i) for i in re.findall(r"iter:\s+(\d+), lr:", second_log)]
        assert logged == list(range(saved + 1, stop + 1))
        first_lr = float(re.search(rf"iter:\s+{saved + 1}, lr:\(([0-9.e+-]+),\)", second_log).group(1))
        assert first_lr == pytest.approx(LR * warmup_cosine_factor(saved, TOTAL, WARMUP, 1e-6 / LR), rel=1e-3)
        assert (experiment / "models" / f"net_g_{saved + 2}.pth").is_file()
        assert list(tb_dir.glob("events.out.tfevents.*"))
    finally:
        shutil.rmtree(experiment, ignore_errors=True)
        shutil.rmtree(tb_dir, ignore_errors=True)


def test_bad_options_exit_2_with_one_clear_line(sidd_fixture, tmp_path):
    options = train_options("test_bad_input", *sidd_fixture)
    options["datasets"]["train"]["dataroot_gt"] = str(tmp_path / "no_such_folder")
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(options))
    try:
        done = subprocess.run([sys.executable, str(REPO / "restore/train.py"), "-opt", str(path)], cwd=tmp_path,
                              env=_run_env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 2
        assert f"error: dataroot_gt of dataset 'train' not found: {tmp_path / 'no_such_folder'}" in done.stderr
        assert not (REPO / "experiments" / "test_bad_input").exists()  # refused before any folder is made
        assert "Traceback" not in done.stderr
        missing = subprocess.run([sys.executable, str(REPO / "restore/train.py"), "-opt", "nope.yml"],
                                 cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert missing.returncode == 2 and "option file not found: nope.yml" in missing.stderr
    finally:
        shutil.rmtree(REPO / "experiments" / "test_bad_input", ignore_errors=True)
        shutil.rmtree(REPO / "tb_logger" / "test_bad_input", ignore_errors=True)

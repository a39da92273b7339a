"""restore/test.py on SIDD .mat fixtures agrees with an independent PSNR of the same arrays."""
import json
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
from scipy import io as sio

import restore.archs  # noqa: F401  (registers archs)
from basicsr.utils.registry import ARCH_REGISTRY

pytestmark = pytest.mark.slow  # subprocesses, servers or training: not in the fast subset

REPO = Path(__file__).resolve().parents[2]
TINY = {"img_size": 32, "embed_dim": 8, "depths": [1] * 9, "win_size": 8}


def independent_psnr(checkpoint: Path, gt_mat: Path, noisy_mat: Path) -> float:
    """Mean over blocks of 10*log10(1/MSE) of the clamped float output, as Uformer's eval_sidd.m does."""
    net = ARCH_REGISTRY.get("Uformer")(**TINY)
    net.load_state_dict(torch.load(checkpoint, weights_only=True)["params"])
    net.eval()
    noisy = sio.loadmat(str(noisy_mat))["ValidationNoisyBlocksSrgb"].astype(np.float64) / 255
    gt = sio.loadmat(str(gt_mat))["ValidationGtBlocksSrgb"].astype(np.float64) / 255
    scores = []
    for index in np.ndindex(*gt.shape[:-3]):
        block = torch.from_numpy(noisy[index]).float().permute(2, 0, 1)[None]
        with torch.no_grad():
            out = net(block).clamp(0, 1)[0].permute(1, 2, 0).double().numpy()
        scores.append(10 * np.log10(1.0 / np.mean((out - gt[index]) ** 2)))
    return float(np.mean(scores))


def eval_options(name: str, checkpoint: Path, gt_mat: Path, noisy_mat: Path) -> dict:
    return {
        "name": name, "model_type": "DenoiseModel", "num_gpu": 0, "manual_seed": 0,
        "datasets": {"test_1": {"name": "sidd_val", "type": "SIDDMatDataset", "dataroot_gt": str(gt_mat),
                                "dataroot_lq": str(noisy_mat)}},
        "network_g": {"type": "Uformer", **TINY},
        "path": {"pretrain_network_g": str(checkpoint), "strict_load_g": True, "param_key_g": "params"},
        "val": {"save_img": True, "quantize": False,
                "metrics": {"psnr": {"type": "calculate_psnr", "crop_border": 0, "test_y_channel": False},
                            "ssim": {"type": "calculate_ssim", "crop_border": 0, "test_y_channel": False}}},
    }


def test_eval_psnr_matches_an_independent_computation(tmp_path, make_sidd_mat):
    gt_mat, noisy_mat = make_sidd_mat(tmp_path, leading=(2, 3), block=48)
    torch.manual_seed(3)
    checkpoint = tmp_path / "tiny.pth"
    torch.save({"params": ARCH_REGISTRY.get("Uformer")(**TINY).state_dict()}, checkpoint)
    name = f"test_eval_{uuid.uuid4().hex[:8]}"
    options = tmp_path / "test.yml"
    options.write_text(yaml.safe_dump(eval_options(name, checkpoint, gt_mat, noisy_mat)))
    results = REPO / "results" / name
    try:
        done = subprocess.run([sys.executable, str(REPO / "restore/test.py"), "-opt", str(options)],
                              cwd=tmp_path, capture_output=True, text=True, timeout=180,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert done.returncode == 0, done.stderr[-3000:]
        metrics = json.loads((results / "metrics.json").read_text())["sidd_val"]
        expected = independent_psnr(checkpoint, gt_mat, noisy_mat)
        assert abs(metrics["psnr"] - expected) < 1e-3, (metrics, expected)
        assert 0 < metrics["ssim"] < 1
        outputs = sorted(p.name for p in (results / "visualization" / "sidd_val").glob("*.png"))
        assert outputs == ["0001_01.png", "0001_02.png", "0001_03.png", "0002_01.png", "0002_02.png", "0002_03.png"]
    finally:
        shutil.rmtree(results, ignore_errors=True)


def test_eval_reports_a_missing_mat_file(tmp_path, make_sidd_mat):
    gt_mat, noisy_mat = make_sidd_mat(tmp_path)
    options = tmp_path / "test.yml"
    name = f"test_eval_{uuid.uuid4().hex[:8]}"
    opt = eval_options(name, tmp_path / "tiny.pth", gt_mat, tmp_path / "missing.mat")
    options.write_text(yaml.safe_dump(opt))
    try:
        done = subprocess.run([sys.executable, str(REPO / "restore/test.py"), "-opt", str(options)],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert f"dataroot_lq of dataset 'test_1' not found: {tmp_path / 'missing.mat'}" in done.stderr
        assert not (REPO / "results" / name).exists()
    finally:
        shutil.rmtree(REPO / "results" / name, ignore_errors=True)

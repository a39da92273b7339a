"""Two CPU processes train with DDP over gloo through torchrun and restore/train.py."""
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

pytestmark = pytest.mark.slow  # subprocesses, servers or training: not in the fast subset

REPO = Path(__file__).resolve().parents[2]
TORCHRUN = Path(sys.executable).with_name("torchrun")


def ddp_options(name: str) -> dict:
    return {
        "name": name, "model_type": "DenoiseModel", "num_gpu": 0, "manual_seed": 0,
        "datasets": {
            "train": {"name": "photos", "type": "GaussianNoiseDataset", "skimage_names": ["astronaut", "coffee"],
                      "sigma": 25, "gt_size": 32, "num_worker_per_gpu": 0, "batch_size_per_gpu": 2,
                      "dataset_enlarge_ratio": 4},
            "val": {"name": "photos_val", "type": "GaussianNoiseDataset", "skimage_names": ["camera"],
                    "sigma": 25, "gt_size": 64}},
        "network_g": {"type": "Uformer", "img_size": 32, "embed_dim": 8, "depths": [1] * 9, "win_size": 8},
        "path": {"pretrain_network_g": None, "strict_load_g": True, "resume_state": None},
        "train": {"optim_g": {"type": "AdamW", "lr": 2e-4, "weight_decay": 0.02, "betas": [0.9, 0.999]},
                  "scheduler": {"type": "WarmupCosineLR", "total_iter": 4, "warmup_iter": 1, "eta_min": 1e-6},
                  "total_iter": 4,
                  "pixel_opt": {"type": "CharbonnierLoss", "loss_weight": 1.0, "reduction": "mean", "eps": 1e-6}},
        "val": {"val_freq": 4, "save_img": False,
                "metrics": {"psnr": {"type": "calculate_psnr", "crop_border": 0, "test_y_channel": False}}},
        "logger": {"print_freq": 1, "save_checkpoint_freq": 4, "use_tb_logger": False},
    }


def test_two_process_gloo_ddp(tmp_path):
    name = f"test_ddp_{uuid.uuid4().hex[:8]}"
    experiment = REPO / "experiments" / name
    options = tmp_path / "ddp.yml"
    options.write_text(yaml.safe_dump(ddp_options(name)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    try:
        done = subprocess.run([str(TORCHRUN), "--standalone", "--nproc_per_node=2", str(REPO / "restore/train.py"),
                               "-opt", str(options), "--launcher", "pytorch"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-4000:]
        log = "\n".join(p.read_text() for p in experiment.glob("train_*.log"))
        assert "World size (gpu number): 2" in log
        assert "Network: DistributedDataParallel - Uformer" in log  # wrapped without CUDA device_ids
        assert "Require iter number per epoch: 2" in log  # 8 samples / (2 per process x 2 processes)
        assert [int(i) for i in re.findall(r"iter:\s+(\d+), lr:", log)] == [1, 2, 3, 4]
        assert re.search(r"# psnr: \d+\.\d+", log)
        state = torch.load(experiment / "models" / "net_g_4.pth", weights_only=True)["params"]
        assert not any(key.startswith("module.") for key in state)
    finally:
        shutil.rmtree(experiment, ignore_errors=True)

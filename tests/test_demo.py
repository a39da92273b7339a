"""`bash run.sh demo` (python -m restore.demo) works end to end: train, publish, denoise."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_trains_publishes_and_denoises():
    done = subprocess.run([sys.executable, "-m", "restore.demo"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    before, after = map(float, re.search(r"PSNR ([\d.]+) dB -> ([\d.]+) dB", done.stdout).groups())
    assert after > before + 1.0  # even 100 iterations of training must remove some noise
    weights = ROOT / "demo_output" / "weights"
    assert (weights / "demo_uformer_skipat_tiny.safetensors").is_file()
    assert (weights / "demo_uformer_skipat_tiny.json").is_file()
    assert (ROOT / "demo_output" / "camera_denoised.png").is_file()

"""Smoke demo of the whole path, in about a minute on a laptop CPU, with no download:

1. train a tiny Uformer + SkipAt for 100 iterations on photos shipped with scikit-image
   (``restore/train.py -opt options/smoke_uformer_tiny.yml``, through BasicSR);
2. publish the checkpoint as safetensors + weight card (``restore.save_weights``);
3. denoise a held-out noisy photo with the image CLI and print its PSNR
   (``restore/denoise_image.py --gt``).

Every step runs the same command a user would type; the commands are printed.
Outputs go to ``demo_output/``. This is a pipeline check, not a good denoiser:
trained weights ship in ``weights/`` once they exist.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "demo_output"
NAME = "demo_uformer_skipat_tiny"
OPTIONS = ROOT / "options" / "smoke_uformer_tiny.yml"


def step(title: str, args: list[str], env: dict[str, str] | None = None) -> None:
    print(f"\n== {title}\n$ {shlex.join(args)}", flush=True)
    done = subprocess.run(args, cwd=ROOT, env={**os.environ, **(env or {})})
    if done.returncode:
        sys.exit(f"demo failed at: {title} (exit code {done.returncode})")


def make_noisy_photo(sigma: float, seed: int) -> tuple[Path, Path]:
    """scikit-image's camera (not a training photo) and a seeded noisy 8-bit copy."""
    import numpy as np
    from skimage import data, io

    clean = data.camera()
    rng = np.random.default_rng(seed)
    noisy = np.clip(clean + rng.normal(0.0, sigma, clean.shape), 0, 255).round().astype(np.uint8)
    clean_path, noisy_path = OUT / "camera_clean.png", OUT / f"camera_sigma{sigma:g}.png"
    io.imsave(clean_path, clean, check_contrast=False)
    io.imsave(noisy_path, noisy, check_contrast=False)
    return clean_path, noisy_path


def main() -> None:
    py = sys.executable
    # A rerun replaces the demo's own earlier outputs (BasicSR would archive them instead).
    for old in [OUT, *(ROOT / "experiments").glob(f"{NAME}*")]:
        shutil.rmtree(old, ignore_errors=True)
    OUT.mkdir()
    options = yaml.safe_load(OPTIONS.read_text())
    config = {k: v for k, v in options["network_g"].items() if k != "type"}

    step("1/3 train a tiny Uformer + SkipAt on scikit-image photos (100 iterations)",
         [py, "restore/train.py", "-opt", str(OPTIONS.relative_to(ROOT)), "--force_yml",
          f"name={NAME}", "network_g:type=UformerSkipAt", "logger:use_tb_logger=false"],
         env={"OMP_NUM_THREADS": "1"})  # tiny nets run fastest on one thread

    checkpoint = ROOT / "experiments" / NAME / "models" / "net_g_latest.pth"
    step("2/3 publish it as safetensors + weight card",
         [py, "-m", "restore.save_weights", "--checkpoint", str(checkpoint.relative_to(ROOT)),
          "--name", NAME, "--arch", "UformerSkipAt", "--config", json.dumps(config),
          "--noise", "gaussian:25,25", "--training-data",
          "skimage.data: " + ", ".join(options["datasets"]["train"]["skimage_names"]),
          "--weights-dir", str((OUT / "weights").relative_to(ROOT)), "--register"])

    clean, noisy = make_noisy_photo(sigma=25.0, seed=0)
    denoised = OUT / "camera_denoised.png"
    step("3/3 denoise a held-out photo (camera, sigma 25) and compare with the clean one",
         [py, "restore/denoise_image.py", "--input", str(noisy.relative_to(ROOT)),
          "--output", str(denoised.relative_to(ROOT)), "--model", NAME,
          "--weights-dir", str((OUT / "weights").relative_to(ROOT)), "--sigma", "25",
          "--gt", str(clean.relative_to(ROOT))])
    print(f"\nDone. Denoised image: {denoised}\nWeights and card: {OUT / 'weights'}")


if __name__ == "__main__":
    main()

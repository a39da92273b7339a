"""``bash run.sh demo``: denoise held-out samples with the bundled weights, no download.

Default (about 75 s on one of this project's 2-core CPUs, after the install):

1. a held-out photo (skimage's chelsea, never trained on) with seeded Gaussian noise,
   σ = 30, quantised to 8 bits, through the image CLI and the default model
   ``uformer_t_skipat_gauss``; the CLI estimates σ, and prints PSNR before and after (``--gt``);
2. a 7-frame pan over another held-out photo (motorcycle_left: fine texture, a camera
   that pans and zooms), σ = 30, through the video CLI and ``uniformer_skipat_gauss`` with
   no σ given: the CLI estimates it from the frames; the demo prints the clip's PSNR;
3. the same noisy frames one by one through the image CLI, so the clip's PSNR stands next
   to what the image model gets without the other frames, whichever way it falls.

``--train`` runs the training path instead, in about a minute: train a tiny Uformer +
SkipAt for 100 iterations on scikit-image photos through BasicSR, publish it as
safetensors + card, denoise a held-out photo with it (a pipeline check, not a good
denoiser).

Every step runs the command a user would type, and prints it. Outputs go to
``demo_output/``.
"""
from __future__ import annotations

import argparse
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
OPTIONS = ROOT / "options" / "smoke" / "uformer_tiny.yml"


def step(title: str, args: list[str], env: dict[str, str] | None = None) -> None:
    print(f"\n== {title}\n$ {shlex.join(args)}", flush=True)
    done = subprocess.run(args, cwd=ROOT, env={**os.environ, **(env or {})})
    if done.returncode:
        sys.exit(f"demo failed at: {title} (exit code {done.returncode})")


def add_noise(clean, sigma: float, seed: int):
    """Seeded Gaussian noise, rounded and clipped to uint8, as a noisy file would be."""
    import numpy as np

    from restore.noise.gaussian import noisy_pixels

    return noisy_pixels(clean, sigma, np.random.default_rng(seed))


def make_noisy_photo(name: str, sigma: float, seed: int) -> tuple[Path, Path]:
    """A held-out scikit-image photo and a seeded noisy 8-bit copy."""
    from skimage import io

    from restore.data.photos import load_rgb

    clean = load_rgb(name)
    clean_path, noisy_path = OUT / f"{name}_clean.png", OUT / f"{name}_sigma{sigma:g}.png"
    io.imsave(clean_path, clean, check_contrast=False)
    io.imsave(noisy_path, add_noise(clean, sigma, seed), check_contrast=False)
    return clean_path, noisy_path


def make_noisy_clip(name: str, sigma: float, frames: int, seed: int) -> tuple[list, Path]:
    """A pan over a held-out photo: clean frames in memory, noisy PNG frames in a folder."""
    from skimage import io

    from restore.data.photos import pan_zoom_clip
    from restore.data.photos import CLIP_FRAMES, load_rgb

    # the start of a pan that moves as the training pans do
    clean = pan_zoom_clip(load_rgb(name), frames, 192, 256, seed=seed, path_frames=CLIP_FRAMES)
    folder = OUT / f"{name}_pan_sigma{sigma:g}"
    folder.mkdir()
    for index, frame in enumerate(clean):
        io.imsave(folder / f"{index:05d}.png", add_noise(frame, sigma, seed * 1000 + index), check_contrast=False)
    return clean, folder


def clip_psnr(clean: list, folder: Path) -> float:
    import numpy as np
    from skimage import io

    from restore.inference.metrics import psnr

    frames = sorted(folder.glob("*.png"))
    if len(frames) != len(clean):
        sys.exit(f"demo failed: {folder} holds {len(frames)} frames, expected {len(clean)}")
    return float(np.mean([psnr(io.imread(path), ref) for path, ref in zip(frames, clean)]))


def pretrained_demo() -> None:
    py = sys.executable
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    clean, noisy = make_noisy_photo("chelsea", sigma=30.0, seed=0)
    denoised = OUT / "chelsea_denoised.png"
    step("1/3 denoise a held-out photo (chelsea, sigma 30) with the default image model",
         [py, "restore/denoise_image.py", "--input", str(noisy.relative_to(ROOT)),
          "--output", str(denoised.relative_to(ROOT)), "--gt", str(clean.relative_to(ROOT))])
    clip, folder = make_noisy_clip("motorcycle_left", sigma=30.0, frames=7, seed=0)
    out = OUT / "motorcycle_left_pan_denoised"
    step("2/3 denoise a 7-frame pan over a held-out photo (motorcycle_left, sigma 30) with the video model",
         [py, "restore/denoise_video.py", "--frames-dir", str(folder.relative_to(ROOT)),
          "--output", str(out.relative_to(ROOT))])
    # what the frames' temporal information is worth on this clip, shown whichever way it falls
    per_frame = OUT / "motorcycle_left_pan_per_frame"
    step("3/3 for comparison, denoise the same frames one by one with the default image model",
         [py, "restore/denoise_image.py", "--input", str(folder.relative_to(ROOT)),
          "--output", str(per_frame.relative_to(ROOT))])
    print(f"video PSNR {clip_psnr(clip, folder):.2f} dB -> {clip_psnr(clip, out):.2f} dB (mean over 7 frames); "
          f"the image model frame by frame: {clip_psnr(clip, per_frame):.2f} dB")
    print(f"\nDone. Denoised photo: {denoised}\nDenoised frames: {out}/ (one by one: {per_frame}/)")


def training_demo() -> None:
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

    clean, noisy = make_noisy_photo("camera", sigma=25.0, seed=0)
    denoised = OUT / "camera_denoised.png"
    step("3/3 denoise a held-out photo (camera, sigma 25) and compare with the clean one",
         [py, "restore/denoise_image.py", "--input", str(noisy.relative_to(ROOT)),
          "--output", str(denoised.relative_to(ROOT)), "--model", NAME,
          "--weights-dir", str((OUT / "weights").relative_to(ROOT)), "--sigma", "25",
          "--gt", str(clean.relative_to(ROOT))])
    print(f"\nDone. Denoised image: {denoised}\nWeights and card: {OUT / 'weights'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true",
                        help="train, publish and run a tiny model instead of using the bundled weights")
    args = parser.parse_args(argv)
    if args.train:
        training_demo()
    else:
        pretrained_demo()


if __name__ == "__main__":
    main()

"""Camera-noise benchmark: photos as a camera or phone saves them, denoised by each method.

    python -m restore.benchmarks.camera                        # the 11 held-out photos, whole
    python -m restore.benchmarks.camera --images chelsea,camera --size 256 --out results/camera.md

Each held-out photo (never trained on) runs backwards through a camera pipeline, gets shot and
read noise on a Bayer mosaic, is demosaiced, processed forward and saved as a JPEG
(:mod:`restore.noise.camera`), seeded per (seed, photo). The settings lie **outside** the ranges
the camera models train on, so the set tests what they learnt rather than what they saw: colour
matrices with stronger diagonals (2.0-2.4 against 1.3-2.0), read noise 1.8x the published model's
(log read + 0.6), and JPEG quality 55-65 (against 70-95). Gray photos are made gray after the
camera, as a camera's black-and-white mode does.

Methods, side by side in one run: every registered model (camera models as they are; Gaussian
models that take a σ get the estimate), CBM3D and OpenCV's non-local means given the σ our
estimator reports for the noisy photo (what a user without a camera model would do). PSNR and
SSIM against the photo run through the same camera without noise; time is CPU seconds per
megapixel with ``--threads`` threads.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from restore.benchmarks.classical import cbm3d, check_available, opencv_nlm
from restore.benchmarks.common import (
    BenchmarkError,
    add_model_options,
    bad_input,
    centre_crop,
    check_held_out,
    check_out_file,
    cpu_name,
    image_metrics,
    load_models,
    method_label,
    print_notes,
    print_report,
    run_guarded,
)
from restore.data.photos import EVAL_GRAY, EVAL_PHOTOS, load_rgb
from restore.errors import MissingDependency
from restore.noise.camera import CameraNoise

# Outside every training range of CameraNoise's defaults: another colour matrix, stronger read
# noise, lower JPEG quality.
HELD_OUT_CAMERA = CameraNoise(ccm_diagonal=(2.0, 2.4), read_offset=1.80, jpeg_prob=1.0, jpeg_quality=(55, 65))


def camera_photo(name: str, size: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(clean, noisy) uint8 RGB of one held-out photo through :data:`HELD_OUT_CAMERA`."""
    photo = load_rgb(name)
    if size:
        photo = centre_crop(photo, size, size)
    rng = np.random.default_rng([seed, EVAL_PHOTOS.index(name)])
    clean, noisy = HELD_OUT_CAMERA.pair(photo.astype(np.float32) / 255.0, rng)
    if name in EVAL_GRAY:
        clean, noisy = (np.repeat(image.mean(axis=2, keepdims=True), 3, axis=2) for image in (clean, noisy))
    return tuple(np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8) for image in (clean, noisy))


def methods(models: list, notes: list[str]) -> list[tuple[str, object]]:
    """(label, fn(noisy) -> output) of every method that can run here."""
    from restore.inference.noise_level import estimate_sigma

    def ours(model):
        def run(noisy):
            return model(noisy, sigma="auto" if model.card.noise_model.takes_sigma else None)
        return run

    def with_estimate(fn):
        return lambda noisy: fn(noisy, max(estimate_sigma(noisy), 1.0))

    found = [(f"**{method_label(model)}**", ours(model)) for model in models if model.kind == "image"]
    for name, fn in (("CBM3D, estimated σ", cbm3d), ("OpenCV NLM, estimated σ", opencv_nlm)):
        try:
            check_available(name.split(",")[0])
        except MissingDependency as missing:
            notes.append(str(missing))
            continue
        found.append((name, with_estimate(fn)))
    return found


def run(args: argparse.Namespace) -> int:
    import cv2
    import torch
    from tqdm import tqdm

    notes: list[str] = []
    with bad_input():
        names = tuple(args.images.split(",")) if args.images else EVAL_PHOTOS
        check_held_out(names, "--images", "photos")
        if args.size is not None and args.size < 32:
            raise BenchmarkError("--size must be at least 32")
        check_out_file(args.out, "camera.md")
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
        models = load_models(args.model, args.weights_dir, notes, noise="camera")
        pairs = [camera_photo(name, args.size, args.seed) for name in names]
        compared = methods(models, notes)
    print_notes(notes)
    rows = [("noisy input", *np.mean([image_metrics(c, n) for c, n in pairs], axis=0), None)]
    with tqdm(total=len(pairs) * len(compared), desc="denoising", unit="photo") as progress:
        for label, fn in compared:
            scores, cpu, pixels = [], 0.0, 0
            for clean, noisy in pairs:
                start = time.process_time()
                out = fn(noisy)
                cpu += time.process_time() - start
                pixels += clean.shape[0] * clean.shape[1]
                scores.append(image_metrics(clean, out))
                progress.update(1)
            rows.append((label, *np.mean(scores, axis=0), cpu / pixels * 1e6))
    noisy_psnr = rows[0][1]
    lines = [f"Camera-noise benchmark: {len(pairs)} held-out photos" + (f" ({args.size}² centre crops)" if args.size
                                                                       else ", whole") +
             f", camera settings outside the training ranges, seed {args.seed}; {cpu_name()}, "
             f"{args.threads} thread(s).", "",
             "| method | PSNR | gain | SSIM | CPU s/MP |", "|---|---:|---:|---:|---:|"]
    for label, psnr, ssim, cpu in rows:
        gain = "" if cpu is None else f"{psnr - noisy_psnr:+.2f}"
        lines.append(f"| {label} | {psnr:.2f} | {gain} | {ssim:.4f} | {'' if cpu is None else f'{cpu:.2f}'} |")
    lines += [""] + [f"Note: {note}" for note in notes]
    return print_report("\n".join(lines).rstrip() + "\n", args.out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_model_options(parser)
    parser.add_argument("--images", help=f"comma-separated held-out photos (default: all of {','.join(EVAL_PHOTOS)})")
    parser.add_argument("--size", type=int, default=None, help="centre crops of this side (default: whole photos)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run_guarded(run, parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())

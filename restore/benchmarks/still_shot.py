"""Still-shot benchmark: does a video model use its frames at all?

    python -m restore.benchmarks.still_shot                      # bundled models, 3 held-out photos, 7 frames, σ 30
    python -m restore.benchmarks.still_shot --size 128 --frames 5 --out results/still_shot.md

A still shot (a tripod, a static scene) is the plainest case of temporal
information: each frame is the same held-out photo with fresh Gaussian noise,
so the mean of T frames already has σ/√T. The table puts the video model next to
the image model run on one frame (what it must beat) and the image model run on
the T-frame mean at σ/√T (what averaging alone buys; a video model that uses its
frames should come near it). The pans of ``restore.benchmarks.quality`` mix this
with motion; this separates the two. Noise is seeded and quantised to uint8.

Flicker, beside PSNR: the scene does not change, so any change of the output over time is
flicker; the table gives the mean over pixels of each output's standard deviation over time
(0-255 scale), for the video models, the image models and CBM3D (with ``bm3d`` installed) run
frame by frame, and the noisy frames themselves.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from restore.benchmarks.classical import cbm3d, check_available, per_frame
from restore.benchmarks.common import (
    VIDEO_PAN_PHOTOS,
    BenchmarkError,
    accepts_sigma,
    add_model_options,
    bad_input,
    centre_crop,
    check_held_out,
    check_out_file,
    clip_scores,
    image_metrics,
    load_models,
    model_method,
    print_notes,
    print_report,
    run_guarded,
    still_flicker,
    still_shot,
)
from restore.data.photos import EVAL_PHOTOS, load_rgb
from restore.errors import MissingDependency


def frame_mean(noisy: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(noisy.astype(np.float64).mean(axis=0)), 0, 255).astype(np.uint8)


def measure(photo: str, clean: np.ndarray, frames: int, sigma: float, seed: int, video_models: list,
            image_models: list, cbm3d_per_frame: bool = False) -> dict[str, tuple[float, float | None]]:
    """(PSNR, flicker) of every method on one still shot of ``clean``; keys are the table's rows.
    A method that gives one image (the mean, the image model on it) has no flicker: None."""
    noisy = still_shot(clean, frames, sigma, [seed, int(sigma * 100), EVAL_PHOTOS.index(photo)])
    mean = frame_mean(noisy)
    truth = np.broadcast_to(clean, noisy.shape)  # the clean clip: the same photo in every frame

    def clip_row(out: np.ndarray) -> tuple[float, float]:
        return float(clip_scores(truth, out)[0]), still_flicker(out)

    scores = {"one noisy frame": clip_row(noisy), f"mean of {frames} frames": (image_metrics(clean, mean)[0], None)}
    for model in video_models:
        scores[f"**{model.name}** on the {frames} frames"] = clip_row(model_method(model)(noisy, sigma))
    for model in image_models:
        scores[f"**{model.name}** on one frame"] = clip_row(model_method(model, per_frames=True)(noisy, sigma))
        scores[f"**{model.name}** on the mean, at σ/√{frames}"] = (
            image_metrics(clean, model(mean, sigma / frames ** 0.5))[0], None)
    if cbm3d_per_frame:
        scores["CBM3D on one frame"] = clip_row(per_frame(cbm3d)(noisy, sigma))
    return {row: (float(psnr), flicker) for row, (psnr, flicker) in scores.items()}


def markdown(table: dict[str, dict[str, tuple[float, float | None]]], frames: int, sigma: float,
             size: tuple[int, int]) -> str:
    photos = list(table)
    rows = list(table[photos[0]])
    lines = [f"Still shots: {frames} frames of one held-out photo ({size[1]}×{size[0]} centre crop), fresh "
             f"Gaussian noise in each, σ {sigma:g}, quantised to uint8; PSNR dB, mean over frames; flicker: the "
             "mean over pixels of the output's standard deviation over time (0-255, 0 is steady), mean over photos.",
             "", "| method | " + " | ".join(photos) + " | mean | flicker |", "|---|" + "---:|" * (len(photos) + 2)]
    for row in rows:
        values = [table[photo][row][0] for photo in photos]
        flickers = [table[photo][row][1] for photo in photos]
        flicker = "–" if None in flickers else f"{np.mean(flickers):.2f}"
        lines.append(f"| {row} | " + " | ".join(f"{v:.2f}" for v in values) + f" | {np.mean(values):.2f} | {flicker} |")
    return "\n".join(lines) + "\n"


def load_photos(names: list[str], size: tuple[int, int]) -> dict[str, np.ndarray]:
    """Centre crops of one size, so the photos' columns compare like with like."""
    check_held_out(names, "--photos", "photos")
    photos = {name: load_rgb(name) for name in dict.fromkeys(names)}
    small = {name: photo.shape[:2] for name, photo in photos.items()
             if photo.shape[0] < size[0] or photo.shape[1] < size[1]}
    if small:
        raise BenchmarkError(f"--size {size[0]} needs photos of at least {size[1]}×{size[0]}; "
                             f"{', '.join(f'{name} is {w}×{h}' for name, (h, w) in small.items())}")
    return {name: centre_crop(photo, *size) for name, photo in photos.items()}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default=",".join(VIDEO_PAN_PHOTOS), help="comma-separated held-out photos")
    parser.add_argument("--frames", type=int, default=7)
    parser.add_argument("--sigma", type=float, default=30)
    parser.add_argument("--size", type=int, default=256,
                        help="centre crop height; the width is 1.5x (the pans are 256 high, 384 wide)")
    add_model_options(parser)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    notes: list[str] = []
    size = (args.size, args.size * 3 // 2)
    with bad_input():
        if args.frames < 2 or not 0 < args.sigma <= 255 or args.size < 16 or args.threads < 1:
            raise BenchmarkError("need --frames >= 2, 0 < --sigma <= 255, --size >= 16 and --threads >= 1")
        check_out_file(args.out, "still_shot.md")
        photos = load_photos(args.photos.split(","), size)
        import torch
        torch.set_num_threads(args.threads)
        models = [m for m in load_models(args.model, args.weights_dir, notes) if m.card.is_gaussian]
        video_models = [m for m in models if m.kind == "video" and accepts_sigma(m, args.sigma)]
        image_models = [m for m in models if m.kind == "image" and accepts_sigma(m, args.sigma)]
        if not video_models:
            raise BenchmarkError(f"no Gaussian video model for σ {args.sigma:g} to measure: "
                                 "register one or pass --model")
        try:
            check_available("CBM3D per frame")
            with_cbm3d = True
        except MissingDependency as missing:
            notes.append(str(missing))
            with_cbm3d = False
    print_notes(notes)
    from tqdm import tqdm

    table = {name: measure(name, clean, args.frames, args.sigma, args.seed, video_models, image_models, with_cbm3d)
             for name, clean in tqdm(photos.items(), desc="still shots", unit="photo")}
    report = markdown(table, args.frames, args.sigma, size)
    return print_report(report, args.out)


def main(argv: list[str] | None = None) -> int:
    return run_guarded(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

"""Flat-field benchmark: what does a denoiser leave on a featureless region?

    python -m restore.benchmarks.flat_field                       # bundled models, levels 0 and 128, 7 frames, σ 30
    python -m restore.benchmarks.flat_field --levels 0,64,128,255 --out results/flat_field.md

Sky, walls and the black borders of many clips are flat: there PSNR hides two
different faults, a constant shift of the level (bias: a model that learnt that
clipped noise brightens black, say) and leftover grain or blotches (the spread
around the true level). The input is a still shot of one constant level,
fresh Gaussian noise in every frame, seeded and quantised to uint8 as a user's
file is; clipping at 0 and 255 biases the noisy frames themselves, which the
table's first row shows. Video models see all the frames, image models one at a
time.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from restore.benchmarks.common import (
    BenchmarkError,
    accepts_sigma,
    add_model_options,
    bad_input,
    check_out_file,
    load_models,
    model_method,
    print_notes,
    print_report,
    run_guarded,
    still_shot,
)


def flat_clip(level: int, frames: int, size: int, sigma: float, seed: int) -> np.ndarray:
    """``frames`` noisy uint8 frames of one ``size x size`` colour field at ``level``."""
    clean = np.full((size, size, 3), level, dtype=np.uint8)
    return still_shot(clean, frames, sigma, [seed, int(sigma * 100), level])


def bias_and_rmse(frames: np.ndarray, level: int) -> tuple[float, float]:
    """Mean error and root-mean-square error, in 8-bit levels."""
    error = frames.astype(np.float64) - level
    return float(error.mean()), float(np.sqrt(np.mean(error ** 2)))


def measure(level: int, frames: int, size: int, sigma: float, seed: int,
            models: list) -> dict[str, tuple[float, float]]:
    """(bias, RMSE) of the noisy input and of every model on one flat field; keys are the table's rows."""
    noisy = flat_clip(level, frames, size, sigma, seed)
    scores = {"noisy frames": bias_and_rmse(noisy, level)}
    for model in models:
        if model.kind == "video":
            scores[f"**{model.name}** on the {frames} frames"] = bias_and_rmse(model_method(model)(noisy, sigma), level)
        else:
            per_frame = model_method(model, per_frames=True)(noisy, sigma)
            scores[f"**{model.name}** on each frame"] = bias_and_rmse(per_frame, level)
    return scores


def markdown(table: dict[int, dict[str, tuple[float, float]]], frames: int, sigma: float, size: int) -> str:
    levels = list(table)
    rows = list(table[levels[0]])
    lines = [f"Flat fields: {frames} frames of {size}×{size} at one constant level, fresh Gaussian noise "
             f"in each, σ {sigma:g}, quantised to uint8; bias and RMSE in 8-bit levels, over all frames.", "",
             "| method | " + " | ".join(f"bias @{level} | RMSE @{level}" for level in levels) + " |",
             "|---|" + "---:|---:|" * len(levels)]
    for row in rows:
        cells = [f"{table[level][row][0]:+.2f} | {table[level][row][1]:.2f}" for level in levels]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def parse_levels(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",")]
    except ValueError:
        raise BenchmarkError(f"--levels takes comma-separated whole numbers 0-255, got {text!r}") from None
    if not levels or any(not 0 <= level <= 255 for level in levels):
        raise BenchmarkError(f"--levels must lie in 0-255, got {text!r}")
    return list(dict.fromkeys(levels))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="0,128", help="comma-separated 8-bit levels of the fields")
    parser.add_argument("--frames", type=int, default=7)
    parser.add_argument("--sigma", type=float, default=30)
    parser.add_argument("--size", type=int, default=128, help="side of the square frames")
    add_model_options(parser)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    notes: list[str] = []
    with bad_input():
        if args.frames < 2 or not 0 < args.sigma <= 255 or args.size < 16 or args.threads < 1:
            raise BenchmarkError("need --frames >= 2, 0 < --sigma <= 255, --size >= 16 and --threads >= 1")
        check_out_file(args.out, "flat_field.md")
        levels = parse_levels(args.levels)
        import torch
        torch.set_num_threads(args.threads)
        models = [m for m in load_models(args.model, args.weights_dir, notes)
                  if m.card.is_gaussian and accepts_sigma(m, args.sigma)]
        if not models:
            raise BenchmarkError(f"no Gaussian model for σ {args.sigma:g} to measure: register one or pass --model")
    print_notes(notes)
    from tqdm import tqdm

    table = {level: measure(level, args.frames, args.size, args.sigma, args.seed, models)
             for level in tqdm(levels, desc="flat fields", unit="level")}
    report = markdown(table, args.frames, args.sigma, args.size)
    return print_report(report, args.out)


def main(argv: list[str] | None = None) -> int:
    return run_guarded(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

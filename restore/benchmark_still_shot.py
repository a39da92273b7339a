"""Still-shot benchmark: does a video model use its frames at all?

    python -m restore.benchmark_still_shot                      # bundled models, 3 held-out photos, 7 frames, σ 30
    python -m restore.benchmark_still_shot --size 128 --frames 5 --out results/still_shot.md

A still shot (a tripod, a static scene) is the plainest case of temporal
information: each frame is the same held-out photo with fresh Gaussian noise,
so the mean of T frames already has σ/√T. The table puts the video model next to
the image model run on one frame (what it must beat) and the image model run on
the T-frame mean at σ/√T (what averaging alone buys; a video model that uses its
frames should come near it). The pans of ``restore.benchmark_quality`` mix this
with motion; this separates the two. Noise is seeded and quantised to uint8.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import restore  # noqa: F401  (must precede basicsr)
from restore.benchmark_quality import (
    VIDEO_PAN_PHOTOS,
    BenchmarkError,
    add_noise_uint8,
    centre_crop,
    image_metrics,
    load_models,
    write_text,
)
from restore.scripts.make_sample_corpus import EVAL_PHOTOS, load_rgb


def still_shot(clean: np.ndarray, frames: int, sigma: float, seed: list[int]) -> np.ndarray:
    """``frames`` noisy uint8 copies of one image, each with its own noise."""
    return np.stack([add_noise_uint8(clean, sigma, [*seed, frame]) for frame in range(frames)])


def frame_mean(noisy: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(noisy.astype(np.float64).mean(axis=0)), 0, 255).astype(np.uint8)


def score_frames(clean: np.ndarray, outputs: np.ndarray) -> float:
    return float(np.mean([image_metrics(clean, out)[0] for out in outputs]))


def measure(photo: str, clean: np.ndarray, frames: int, sigma: float, seed: int, video_models: list,
            image_models: list) -> dict[str, float]:
    """PSNR of every method on one still shot of ``clean``; keys are the table's rows."""
    noisy = still_shot(clean, frames, sigma, [seed, int(sigma * 100), EVAL_PHOTOS.index(photo)])
    mean = frame_mean(noisy)
    scores = {"one noisy frame": score_frames(clean, noisy), f"mean of {frames} frames": image_metrics(clean, mean)[0]}
    for model in video_models:
        scores[f"**{model.name}** on the {frames} frames"] = score_frames(clean, model.denoise_video(noisy, sigma))
    for model in image_models:
        scores[f"**{model.name}** on one frame"] = score_frames(clean, [model(frame, sigma) for frame in noisy])
        scores[f"**{model.name}** on the mean, at σ/√{frames}"] = image_metrics(
            clean, model(mean, sigma / frames ** 0.5))[0]
    return scores


def markdown(table: dict[str, dict[str, float]], frames: int, sigma: float, size: tuple[int, int]) -> str:
    photos = list(table)
    rows = list(table[photos[0]])
    lines = [f"Still shots: {frames} frames of one held-out photo ({size[1]}×{size[0]} centre crop), fresh "
             f"Gaussian noise in each, σ {sigma:g}, quantised to uint8; PSNR dB, mean over frames.", "",
             "| method | " + " | ".join(photos) + " | mean |", "|---|" + "---:|" * (len(photos) + 1)]
    for row in rows:
        values = [table[photo][row] for photo in photos]
        lines.append(f"| {row} | " + " | ".join(f"{v:.2f}" for v in values) + f" | {np.mean(values):.2f} |")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default=",".join(VIDEO_PAN_PHOTOS), help="comma-separated held-out photos")
    parser.add_argument("--frames", type=int, default=7)
    parser.add_argument("--sigma", type=float, default=30)
    parser.add_argument("--size", type=int, default=256,
                        help="centre crop height; the width is 1.5x (the pans are 256 high, 384 wide)")
    parser.add_argument("--model", action="append", help="a model name or card (repeatable); default: all registered")
    parser.add_argument("--weights-dir", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this Markdown file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    notes: list[str] = []
    try:
        photos = args.photos.split(",")
        unknown = [photo for photo in photos if photo not in EVAL_PHOTOS]
        if unknown:
            raise BenchmarkError(f"--photos: {unknown} are not held-out photos; choose from {', '.join(EVAL_PHOTOS)}")
        if args.frames < 2 or not 0 < args.sigma <= 255 or args.size < 16 or args.threads < 1:
            raise BenchmarkError("need --frames >= 2, 0 < --sigma <= 255, --size >= 16 and --threads >= 1")
        import torch
        torch.set_num_threads(args.threads)
        models = [m for m in load_models(args.model, args.weights_dir, notes) if m.card.is_gaussian]
        video_models = [m for m in models if m.kind == "video"]
        image_models = [m for m in models if m.kind == "image"]
        if not video_models:
            raise BenchmarkError("no Gaussian video model to measure: register one or pass --model")
    except (BenchmarkError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from tqdm import tqdm

    size = (args.size, args.size * 3 // 2)
    table = {}
    for photo in tqdm(photos, desc="still shots", unit="photo"):
        clean = centre_crop(load_rgb(photo), *size)
        table[photo] = measure(photo, clean, args.frames, args.sigma, args.seed, video_models, image_models)
    report = markdown(table, args.frames, args.sigma, clean.shape[:2])
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_text(args.out, report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Noise-level benchmark: how well does ``--sigma auto`` read sigma, and what does a miss cost?

    python -m restore.benchmarks.noise_level                    # held-out photos, σ 5-50, video model on 3 pans
    python -m restore.benchmarks.noise_level --quick --out results/noise_level.md

Each held-out photo gets seeded Gaussian noise, rounded and clipped to uint8 as a
user's file is, and both ``restore.inference.noise_level.estimate_sigma`` and
scikit-image's wavelet estimate (``estimate_sigma``, channels averaged) read it back;
the tables give the mean and worst |σ̂ - σ| per σ, over all held-out photos and over
the flat-dominated ones (a rule on the clean photo: most pixels have a small
gradient). Then the sigma-map video model denoises short pans over held-out photos
twice, told the true σ and told the σ̂ estimated from the noisy frames (clamped into
the model's σ range), and the PSNR difference is what estimation costs.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from restore.benchmarks.common import (
    VIDEO_PAN_PHOTOS,
    BenchmarkError,
    check_held_out,
    check_out_file,
    centre_crop,
    cpu_name,
    print_report,
    run_guarded,
)
from restore.data.photos import EVAL_PHOTOS, load_rgb, pan_zoom_clip
from restore.inference.metrics import psnr
from restore.inference.noise_level import estimate_sigma, estimate_sigma_frames

if TYPE_CHECKING:
    from restore.api import Denoiser

SIGMAS = (5, 15, 25, 30, 50)
VIDEO_SIGMAS = (15, 30, 50)
QUICK_VIDEO_PHOTOS = ("chelsea",)
QUICK_VIDEO_SIGMAS = (30,)
VIDEO_MODEL = "uniformer_skipat_gauss"
CLIP_FRAMES, CLIP_SIZE, PATH_FRAMES = 7, 128, 40
QUICK_CROP = 256              # --quick: centre crops of at most this side for the σ tables
FLAT_GRADIENT = 2.0           # a clean pixel is flat when its luma gradient is below this (levels per pixel)
FLAT_SHARE = 0.6              # a photo is flat-dominated when at least this share of its pixels is flat
TIMING_SIZE = (1080, 1920)


@dataclass(frozen=True)
class Reading:
    """Both estimators' σ̂ for one photo at one σ."""

    photo: str
    sigma: float
    ours: float
    skimage: float


@dataclass(frozen=True)
class VideoCost:
    """The video model on one noisy pan, told the true σ and told the estimate."""

    photo: str
    sigma: float
    estimate: float   # σ̂ from the noisy frames
    used: float       # σ̂ clamped into the model's σ range
    psnr_true: float
    psnr_estimated: float


def add_noise(clean: np.ndarray, sigma: float, seed: list[int]) -> np.ndarray:
    """clean + N(0, σ), rounded and clipped to uint8: a noisy file as a user has it."""
    noise = np.random.default_rng(seed).normal(0.0, sigma, clean.shape)
    return np.clip(np.rint(clean.astype(np.float64) + noise), 0, 255).astype(np.uint8)


def flat_share(clean: np.ndarray) -> float:
    """Share of pixels whose luma gradient (differences to the right and lower neighbours)
    is below FLAT_GRADIENT levels per pixel."""
    luma = clean.astype(np.float64).mean(axis=-1) if clean.ndim == 3 else clean.astype(np.float64)
    rows, cols = np.diff(luma, axis=0)[:, :-1], np.diff(luma, axis=1)[:-1, :]
    return float(np.mean(np.hypot(rows, cols) < FLAT_GRADIENT))


def is_flat_dominated(clean: np.ndarray) -> bool:
    """The flat-dominated subset's rule: it reads the clean photo only, never an estimate."""
    return flat_share(clean) >= FLAT_SHARE


def has_wavelets() -> bool:
    """scikit-image's estimate needs PyWavelets, an optional dependency."""
    try:
        import pywt  # noqa: F401
    except ImportError:
        return False
    return True


def skimage_sigma(noisy: np.ndarray) -> float:
    """scikit-image's wavelet (MAD) estimate, channels averaged, on the 0-255 scale."""
    from skimage.restoration import estimate_sigma as wavelet_sigma

    return float(wavelet_sigma(noisy.astype(np.float64) / 255.0, average_sigmas=True, channel_axis=-1)) * 255.0


def read_sigmas(photos: dict[str, np.ndarray], sigmas: tuple[float, ...], seed: int,
                baseline: bool = True) -> list[Reading]:
    """Both estimators on every photo at every σ (scikit-image's only with ``baseline``,
    else NaN); the noise is seeded per (σ, photo)."""
    readings = []
    for sigma in sigmas:
        for photo, clean in photos.items():
            noisy = add_noise(clean, sigma, [seed, int(round(sigma * 100)), EVAL_PHOTOS.index(photo)])
            theirs = skimage_sigma(noisy) if baseline else float("nan")
            readings.append(Reading(photo, sigma, estimate_sigma(noisy), theirs))
    return readings


SummaryRow = tuple[float, int, float, float, float, float]


def error_summary(readings: list[Reading], sigmas: tuple[float, ...]) -> list[SummaryRow]:
    """Per σ: (σ, photos, our mean and worst |σ̂ - σ|, scikit-image's mean and worst)."""
    rows = []
    for sigma in sigmas:
        ours = np.array([abs(r.ours - sigma) for r in readings if r.sigma == sigma])
        theirs = np.array([abs(r.skimage - sigma) for r in readings if r.sigma == sigma])
        if len(ours):
            rows.append((sigma, len(ours), ours.mean(), ours.max(), theirs.mean(), theirs.max()))
    return rows


def clip_psnr(clean: np.ndarray, out: np.ndarray) -> float:
    """Mean over the frames of each frame's PSNR."""
    return float(np.mean([psnr(c, o) for c, o in zip(clean, out)]))


def video_costs(denoiser: "Denoiser", photos: tuple[str, ...], sigmas: tuple[float, ...], seed: int) -> list[VideoCost]:
    """The PSNR cost of denoising pans with σ̂ instead of σ.

    σ̂ comes from ``estimate_sigma_frames`` on the noisy frames and is clamped into the
    model's σ range, since the model refuses a σ outside the range it was trained on.
    """
    low, high = denoiser.card.sigma_range
    costs = []
    for photo in photos:
        clean = np.stack(pan_zoom_clip(load_rgb(photo), frames=CLIP_FRAMES, height=CLIP_SIZE, width=CLIP_SIZE,
                                       seed=0, path_frames=PATH_FRAMES))
        for sigma in sigmas:
            noisy = np.stack([add_noise(frame, sigma, [seed, int(round(sigma * 100)), EVAL_PHOTOS.index(photo), index])
                              for index, frame in enumerate(clean)])
            estimate = estimate_sigma_frames(noisy)
            used = float(np.clip(estimate, low, high))
            with_true = denoiser.denoise_video(noisy, sigma=sigma)
            with_estimate = with_true if used == sigma else denoiser.denoise_video(noisy, sigma=used)
            costs.append(VideoCost(photo, sigma, estimate, used, clip_psnr(clean, with_true),
                                   clip_psnr(clean, with_estimate)))
    return costs


def time_estimate(repeats: int) -> float:
    """Best of ``repeats`` wall times, in seconds, of ``estimate_sigma`` on a noisy
    1920x1080 colour image (a held-out photo resized, σ 25)."""
    import cv2

    clean = cv2.resize(load_rgb(EVAL_PHOTOS[0]), TIMING_SIZE[::-1], interpolation=cv2.INTER_LINEAR)
    noisy = add_noise(clean, 25, [0])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        estimate_sigma(noisy)
        times.append(time.perf_counter() - start)
    return min(times)


def number(value: float) -> str:
    return "–" if np.isnan(value) else f"{value:.2f}"


def error_table(title: str, rows: list[SummaryRow]) -> list[str]:
    lines = [title, "", "| σ | photos | ours: mean | ours: worst | scikit-image: mean | scikit-image: worst |",
             "|---:|---:|---:|---:|---:|---:|"]
    for sigma, count, mean, worst, sk_mean, sk_worst in rows:
        lines.append(f"| {sigma:g} | {count} | {mean:.2f} | {worst:.2f} | {number(sk_mean)} | {number(sk_worst)} |")
    return lines + [""]


def markdown(readings: list[Reading], sigmas: tuple[float, ...], flat: list[str], shares: dict[str, float],
             costs: list[VideoCost] | None, sigma_range: tuple[float, float] | None, quick: bool,
             seconds: float | None) -> str:
    """The report: error tables (all, flat-dominated), per-photo readings, the video cost."""
    photos = list(dict.fromkeys(r.photo for r in readings))
    scope = f"centre crops of at most {QUICK_CROP}×{QUICK_CROP} of " if quick else ""
    lines = [f"Noise-level estimation on {scope}{len(photos)} held-out photos: Gaussian noise seeded per (σ, photo), "
             "rounded and clipped to uint8; |σ̂ - σ| on the 0-255 scale. Ours: "
             "`restore.inference.noise_level.estimate_sigma`; scikit-image: `skimage.restoration.estimate_sigma"
             "(average_sigmas=True, channel_axis=-1)` ×255.", ""]
    if any(np.isnan(r.skimage) for r in readings):
        lines += ["scikit-image's estimate needs PyWavelets (`pip install PyWavelets`), which is not installed: "
                  "its columns are empty.", ""]
    lines += error_table("**All held-out photos**", error_summary(readings, sigmas))
    rule = (f"at least {FLAT_SHARE:.0%} of the clean photo's pixels have a luma gradient (to the right and "
            f"lower neighbours) below {FLAT_GRADIENT:g} levels")
    listed = ", ".join(f"{name} ({shares[name]:.0%})" for name in flat) or "none"
    lines += [f"Flat-dominated: {rule}. Selected: {listed}.", ""]
    flat_readings = [r for r in readings if r.photo in flat]
    if flat_readings:
        lines += error_table("**Flat-dominated photos**", error_summary(flat_readings, sigmas))
    lines += ["**σ̂ per photo** (ours / scikit-image; flat share of the clean photo)", "",
              "| photo | flat share | " + " | ".join(f"σ {sigma:g}" for sigma in sigmas) + " |",
              "|---|---:|" + "---:|" * len(sigmas)]
    table = {(r.photo, r.sigma): r for r in readings}
    for photo in photos:
        cells = [f"{table[photo, sigma].ours:.2f} / {number(table[photo, sigma].skimage)}" for sigma in sigmas]
        lines.append(f"| {photo} | {shares[photo]:.2f} | " + " | ".join(cells) + " |")
    lines.append("")
    if costs:
        low, high = sigma_range
        lines += [f"**Cost for the video model** ({VIDEO_MODEL}): {CLIP_FRAMES}-frame {CLIP_SIZE}×{CLIP_SIZE} pans "
                  "over held-out photos, noise seeded per frame; σ̂ from `estimate_sigma_frames` on the noisy "
                  f"frames, clamped into the model's σ range [{low:g}, {high:g}] before denoising; "
                  "PSNR (dB) over the frames.", "",
                  "| photo | σ | σ̂ | σ̂ used | PSNR @ σ | PSNR @ σ̂ | Δ dB |", "|---|---:|---:|---:|---:|---:|---:|"]
        for cost in costs:
            lines.append(f"| {cost.photo} | {cost.sigma:g} | {cost.estimate:.2f} | {cost.used:.2f} | "
                         f"{cost.psnr_true:.2f} | {cost.psnr_estimated:.2f} | "
                         f"{cost.psnr_estimated - cost.psnr_true:+.3f} |")
        mean_delta = np.mean([c.psnr_estimated - c.psnr_true for c in costs])
        clips = f"{len(costs)} clip" + ("s" if len(costs) != 1 else "")
        lines += ["", f"Mean PSNR change from using σ̂: {mean_delta:+.3f} dB over {clips}.", ""]
    if seconds is not None:
        lines.append(f"Our estimator takes {seconds * 1000:.0f} ms on a noisy {TIMING_SIZE[1]}×{TIMING_SIZE[0]} "
                     f"colour image (best of {1 if quick else 3}, wall time) on {cpu_name()}.")
    return "\n".join(lines).rstrip() + "\n"


def parse_names(text: str, option: str) -> tuple[str, ...]:
    """Comma-separated held-out photo names; training photos are refused (they would flatter us)."""
    names = tuple(name for name in (part.strip() for part in text.split(",")) if name)
    check_held_out(names, option, "photos", used="tuned the estimator")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"σ tables on centre crops of at most {QUICK_CROP} px, the video model on one pan at σ 30")
    parser.add_argument("--photos", default=None,
                        help="comma-separated held-out photos for the σ tables (default: all)")
    parser.add_argument("--video-photos", default=None,
                        help=f"comma-separated held-out photos to pan over (default: {','.join(VIDEO_PAN_PHOTOS)}; "
                             f"--quick: {','.join(QUICK_VIDEO_PHOTOS)})")
    parser.add_argument("--no-video", action="store_true", help="skip the video model's cost")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the video model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="also write the report to this Markdown file")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    check_out_file(args.out, "noise_level.md")
    if args.threads < 1:
        raise BenchmarkError("--threads must be at least 1")
    names = parse_names(args.photos, "--photos") if args.photos is not None else EVAL_PHOTOS
    if not names:
        raise BenchmarkError("--photos names no photo")
    video_default = QUICK_VIDEO_PHOTOS if args.quick else VIDEO_PAN_PHOTOS
    video_names = () if args.no_video else (
        parse_names(args.video_photos, "--video-photos") if args.video_photos is not None else video_default)
    photos = {name: load_rgb(name) for name in names}
    if args.quick:
        photos = {name: centre_crop(image, QUICK_CROP, QUICK_CROP) for name, image in photos.items()}
    shares = {name: flat_share(image) for name, image in photos.items()}
    flat = [name for name, image in photos.items() if is_flat_dominated(image)]
    readings = read_sigmas(photos, SIGMAS, args.seed, baseline=has_wavelets())
    costs, sigma_range = None, None
    if video_names:
        import torch

        import restore  # noqa: F401  (registers the archs the card names)
        from restore.api import Denoiser

        torch.set_num_threads(args.threads)
        denoiser = Denoiser.from_pretrained(VIDEO_MODEL)
        sigma_range = tuple(denoiser.card.sigma_range)
        costs = video_costs(denoiser, video_names, QUICK_VIDEO_SIGMAS if args.quick else VIDEO_SIGMAS, args.seed)
    seconds = time_estimate(repeats=1 if args.quick else 3)
    report = markdown(readings, SIGMAS, flat, shares, costs, sigma_range, args.quick, seconds)
    return print_report(report, args.out)


def main(argv: list[str] | None = None) -> int:
    return run_guarded(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

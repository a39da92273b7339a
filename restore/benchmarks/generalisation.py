"""Data or compute: our image models and CBM3D on the same crops of the training and the held-out photos.

    python -m restore.benchmarks.generalisation --sigma 30 --threads 2
    python -m restore.benchmarks.generalisation --corpus datasets/sample_corpus --model uformer_t_gauss
    python -m restore.benchmarks.generalisation --video --threads 2   # video models against per-frame

The crops and their noise are the training runs' own validation sets
(``GaussianNoiseDataset`` in validation mode: 160² centre crops, seeded noise, clipped and
rounded to 8-bit levels), so a model's numbers here equal the last validation in its
training log. PSNR alone does not separate the two sets' difficulty (smooth wallpapers
against brick and gravel); CBM3D, which learnt nothing from either, does. A model whose lead
over CBM3D is much larger on its training photos than on the held-out ones has learnt its
photos more than it has learnt to denoise: more data, not more iterations, is what helps it.

``--video`` asks the same of the video models. Each photo of both sets gives one seeded clip
of a camera moving over it (``photo_motion``, as the video models train: up to 12 px per frame,
shrunk 0.5-1x), and the video models on the 7 frames are put beside the image models frame by
frame. A video model's lead over per-frame denoising is what it gets from its frames; if that
lead is no larger on the training photos than on the held-out ones, more photos will not
raise it, and capacity or training is what limits it.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import cv2
import numpy as np

from restore.benchmarks.classical import cbm3d, check_available, to_uint8
from restore.benchmarks.common import (
    BenchmarkError,
    accepts_sigma,
    add_model_options,
    bad_input,
    check_out_file,
    clip_scores,
    image_metrics,
    load_models,
    method_label,
    model_method,
    print_notes,
    print_report,
    run_guarded,
)
from restore.errors import MissingDependency

SETS = {"training photos": "train", "held-out photos": "eval"}


def crops(folder: Path, sigma: float, size: int, seed: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, clean, noisy)`` uint8 crops exactly as the training runs validate on them."""
    from restore.data.gaussian_noise_dataset import GaussianNoiseDataset

    dataset = GaussianNoiseDataset({"name": folder.name, "phase": "val", "dataroot_gt": str(folder),
                                    "sigma": sigma, "clip": True, "quantize": True, "gt_size": size,
                                    "noise_seed": seed})
    found = []
    for index in range(len(dataset)):
        sample = dataset[index]
        clean, noisy = (to_uint8(sample[key].permute(1, 2, 0).numpy()) for key in ("gt", "lq"))
        found.append((Path(sample["gt_path"]).name, clean, noisy))
    return found


def clips(folder: Path, sigma: float, size: int, frames: int, seed: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, clean, noisy)`` uint8 clips of ``frames x size x size``, one per photo of ``folder``: a
    seeded camera path over the photo, as ``photo_motion`` draws them for training, and seeded noise."""
    from restore.data.image_files import list_images, read_rgb_float
    from restore.noise.gaussian import noisy_pixels
    from restore.data.photo_motion import MotionRange, motion_clip

    motion = MotionRange(max_speed=12.0, max_zoom=0.01, scale=(0.5, 1.0))
    found = []
    for index, path in enumerate(list_images(folder, "photo", recursive=True)):
        photo = to_uint8(read_rgb_float(path))
        clean = np.stack(motion_clip(photo, frames, size, random.Random(seed * 100_003 + index), motion))
        found.append((path.name, clean, noisy_pixels(clean, sigma, np.random.default_rng([seed, index]))))
    return found


def measure(sets: dict[str, list], methods: dict[str, object], sigma: float, progress) -> dict[str, dict[str, float]]:
    """Mean PSNR of each method on each set: ``{method: {set: dB}}``."""
    table: dict[str, dict[str, float]] = {name: {} for name in methods}
    for set_name, items in sets.items():
        for name, method in methods.items():
            scores = [(clip_scores if clean.ndim == 4 else image_metrics)(clean, method(noisy, sigma))[0]
                      for _, clean, noisy in items]
            table[name][set_name] = float(np.mean(scores))
            progress.update(len(items))
    return table


def markdown(table: dict[str, dict[str, float]], sets: dict[str, list], sigma: float, size: int,
             reference: str | None, compared: list[str]) -> str:
    """The PSNR table, the gap between the sets, and the lead of each ``compared`` method over ``reference``."""
    names = list(sets)
    first = next(iter(sets.values()))[0][1]
    what = (f"{first.shape[0]}-frame clips of {size}² (one camera path per photo)" if first.ndim == 4
            else f"{size}² centre crops")
    header = (f"Mean PSNR (dB) on {what} at σ={sigma:g}: "
              + ", ".join(f"{len(items)} {name}" for name, items in sets.items())
              + ("; CBM3D is given the true σ" if "CBM3D" in table else "") + ".\n\n")
    lines = ["| method | " + " | ".join(names) + " | gap |", "|---|" + "---:|" * (len(names) + 1)]
    for method, scores in table.items():
        lines.append(f"| {method} | " + " | ".join(f"{scores[n]:.2f}" for n in names)
                     + f" | {scores[names[0]] - scores[names[1]]:.2f} |")
    if reference is not None:
        base = table[reference]
        for method in compared:
            leads = [table[method][n] - base[n] for n in names]
            lines.append(f"| {method} − {reference} | " + " | ".join(f"{lead:+.2f}" for lead in leads)
                         + f" | {leads[0] - leads[1]:+.2f} |")
    return header + "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("datasets/sample_corpus"),
                        help="a corpus of restore.scripts.make_sample_corpus (its train/ and eval/ folders)")
    parser.add_argument("--sigma", type=float, default=30)
    parser.add_argument("--size", type=int, default=None,
                        help="side of the centre crops (160, the validation size) or of the clips (--video: 128)")
    parser.add_argument("--video", action="store_true",
                        help="video models on clips over the photos, against the image models per frame")
    parser.add_argument("--frames", type=int, default=7, help="--video: frames per clip")
    add_model_options(parser)
    args = parser.parse_args(argv)
    if args.size is None:
        args.size = 128 if args.video else 160
    return args


def run(args: argparse.Namespace) -> int:
    notes: list[str] = []
    with bad_input():
        if not 0 < args.sigma <= 255 or args.size < 16 or args.threads < 1 or args.frames < 2:
            raise BenchmarkError("need 0 < --sigma <= 255, --size >= 16, --frames >= 2 and --threads >= 1")
        check_out_file(args.out, "generalisation.md")
        folders = {name: args.corpus / sub for name, sub in SETS.items()}
        missing = [str(folder) for folder in folders.values() if not folder.is_dir()]
        if missing:
            raise BenchmarkError(f"no {' or '.join(missing)}: build the corpus with "
                                 f"`python -m restore.scripts.make_sample_corpus --debian --out {args.corpus}`")
        import torch
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
        if args.video:
            sets = {name: clips(folder, args.sigma, args.size, args.frames, args.seed)
                    for name, folder in folders.items()}
        else:
            sets = {name: crops(folder, args.sigma, args.size, args.seed) for name, folder in folders.items()}
        kinds = ("video", "image") if args.video else ("image",)
        models = []
        for model in load_models(args.model, args.weights_dir, notes):
            if model.kind in kinds and model.card.is_gaussian and accepts_sigma(model, args.sigma):
                models.append(model)
            else:
                notes.append(f"{model.name} skipped: this run takes Gaussian {' and '.join(kinds)} models "
                             f"for σ {args.sigma:g}")
        if args.video and not {m.kind for m in models} == {"video", "image"}:
            raise BenchmarkError(f"--video needs a Gaussian video model and an image model for σ {args.sigma:g}: "
                                 "register them or pass --model")
        if not models:
            raise BenchmarkError(f"no Gaussian image model for σ {args.sigma:g}: register one or pass --model")
    ours = [m for m in models if m.kind == kinds[0]]  # the video models, or the image models
    methods = {method_label(m): model_method(m) for m in ours}
    reference = None
    if args.video:
        per_frame = {f"{method_label(m)} per frame": model_method(m, per_frames=True)
                     for m in models if m.kind == "image"}
        methods.update(per_frame)
        reference = next(iter(per_frame))
    else:
        try:
            check_available("CBM3D")
            methods["CBM3D"] = cbm3d
            reference = "CBM3D"
        except MissingDependency as missing:
            notes.append(str(missing))
    print_notes(notes)
    from tqdm import tqdm

    unit = "clip" if args.video else "crop"
    with tqdm(total=sum(map(len, sets.values())) * len(methods), desc="denoising", unit=unit) as progress:
        table = measure(sets, methods, args.sigma, progress)
    compared = [method_label(m) for m in ours]
    return print_report(markdown(table, sets, args.sigma, args.size, reference, compared), args.out)


def main(argv: list[str] | None = None) -> int:
    return run_guarded(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

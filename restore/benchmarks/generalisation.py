"""Data or compute: our image models and CBM3D on the same crops of the training and the held-out photos.

    python -m restore.benchmarks.generalisation --sigma 30 --threads 2
    python -m restore.benchmarks.generalisation --corpus datasets/sample_corpus --model uformer_t_gauss

The crops and their noise are the training runs' own validation sets
(``GaussianNoiseDataset`` in validation mode: 160² centre crops, seeded noise, clipped and
rounded to 8-bit levels), so a model's numbers here equal the last validation in its
training log. PSNR alone does not separate the two sets' difficulty (smooth wallpapers
against brick and gravel); CBM3D, which learnt nothing from either, does. A model whose lead
over CBM3D is much larger on its training photos than on the held-out ones has learnt its
photos more than it has learnt to denoise: more data, not more iterations, is what helps it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from restore.benchmarks.classical import MissingDependency, cbm3d, check_available, to_uint8
from restore.benchmarks.common import add_model_options
from restore.benchmarks.quality import (
    BenchmarkError,
    accepts_sigma,
    image_metrics,
    load_models,
    method_label,
    print_report,
)

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


def measure(sets: dict[str, list], methods: dict[str, object], sigma: float, progress) -> dict[str, dict[str, float]]:
    """Mean PSNR of each method on each set: ``{method: {set: dB}}``."""
    table: dict[str, dict[str, float]] = {name: {} for name in methods}
    for set_name, items in sets.items():
        for name, method in methods.items():
            scores = [image_metrics(clean, method(noisy, sigma))[0] for _, clean, noisy in items]
            table[name][set_name] = float(np.mean(scores))
            progress.update(len(items))
    return table


def markdown(table: dict[str, dict[str, float]], sets: dict[str, list], sigma: float, size: int) -> str:
    names = list(sets)
    header = (f"Mean PSNR (dB) on {size}² centre crops at σ={sigma:g}: "
              + ", ".join(f"{len(items)} {name}" for name, items in sets.items())
              + ("; CBM3D is given the true σ" if "CBM3D" in table else "") + ".\n\n")
    lines = ["| method | " + " | ".join(names) + " | gap |", "|---|" + "---:|" * (len(names) + 1)]
    for method, scores in table.items():
        lines.append(f"| {method} | " + " | ".join(f"{scores[n]:.2f}" for n in names)
                     + f" | {scores[names[0]] - scores[names[1]]:.2f} |")
    if "CBM3D" in table:
        reference = table["CBM3D"]
        for method, scores in table.items():
            if method == "CBM3D":
                continue
            leads = [scores[n] - reference[n] for n in names]
            lines.append(f"| {method} − CBM3D | " + " | ".join(f"{lead:+.2f}" for lead in leads)
                         + f" | {leads[0] - leads[1]:+.2f} |")
    return header + "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("datasets/sample_corpus"),
                        help="a corpus of restore.scripts.make_sample_corpus (its train/ and eval/ folders)")
    parser.add_argument("--sigma", type=float, default=30)
    parser.add_argument("--size", type=int, default=160, help="side of the centre crops (the validation size)")
    add_model_options(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    notes: list[str] = []
    try:
        if not 0 < args.sigma <= 255 or args.size < 16 or args.threads < 1:
            raise BenchmarkError("need 0 < --sigma <= 255, --size >= 16 and --threads >= 1")
        if args.out is not None and args.out.is_dir():
            raise BenchmarkError(f"--out {args.out} is a folder; give a file name such as "
                                 f"{args.out / 'generalisation.md'}")
        folders = {name: args.corpus / sub for name, sub in SETS.items()}
        missing = [str(folder) for folder in folders.values() if not folder.is_dir()]
        if missing:
            raise BenchmarkError(f"no {' or '.join(missing)}: build the corpus with "
                                 f"`python -m restore.scripts.make_sample_corpus --debian --out {args.corpus}`")
        import torch
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
        sets = {name: crops(folder, args.sigma, args.size, args.seed) for name, folder in folders.items()}
        models = []
        for model in load_models(args.model, args.weights_dir, notes):
            if model.kind == "image" and model.card.is_gaussian and accepts_sigma(model, args.sigma):
                models.append(model)
            else:
                notes.append(f"{model.name} skipped: this benchmark takes Gaussian image models for σ {args.sigma:g}")
        if not models:
            raise BenchmarkError(f"no Gaussian image model for σ {args.sigma:g}: register one or pass --model")
    except (BenchmarkError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    methods: dict[str, object] = {method_label(m): (lambda noisy, sigma, m=m: m(noisy, sigma=sigma)) for m in models}
    try:
        check_available("CBM3D")
        methods["CBM3D"] = cbm3d
    except MissingDependency as missing:
        notes.append(str(missing))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    from tqdm import tqdm

    with tqdm(total=sum(map(len, sets.values())) * len(methods), desc="denoising", unit="crop") as progress:
        table = measure(sets, methods, args.sigma, progress)
    return print_report(markdown(table, sets, args.sigma, args.size), args.out)


if __name__ == "__main__":
    sys.exit(main())

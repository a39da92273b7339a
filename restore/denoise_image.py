"""Denoise one image or a folder of images from the shell.

    python restore/denoise_image.py --input noisy.png [--output clean.png] [--model NAME_OR_PATH]
        [--sigma 25] [--tile 512 --tile-overlap 32] [--device auto|cpu|cuda] [--half] [--gt clean_ref.png]

Exit codes: 0 every image was written; 2 bad arguments or at least one input
could not be read (the others are still processed); 1 an unexpected failure.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import the package, not modules beside this file
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Denoise images (PNG 8/16-bit, JPEG, TIFF, WebP, BMP).")
    parser.add_argument("--input", required=True, type=Path, help="an image file or a folder of images")
    parser.add_argument("--output", type=Path, help="file or folder (default: <name>_denoised beside the input)")
    parser.add_argument("--model", help="a name in the weights registry or a .json card / weight file "
                                        "(default: the first registered image model)")
    parser.add_argument("--weights-dir", type=Path, help="weights folder with registry.json (default: weights/)")
    parser.add_argument("--sigma", type=float, help="Gaussian noise level on the 0-255 scale (Gaussian models)")
    parser.add_argument("--tile", type=int, default=512, help="tile size in pixels; 0 = whole image at once")
    parser.add_argument("--tile-overlap", type=int, default=32, help="overlap of neighbouring tiles in pixels")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--half", action="store_true", help="float16 on CUDA (ignored on CPU)")
    parser.add_argument("--format", choices=("png", "jpg", "tiff", "webp", "bmp"),
                        help="output format (default: that of each input)")
    parser.add_argument("--gt", type=Path, help="clean reference image (or folder, same names): prints PSNR")
    return parser.parse_args(argv)


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """PSNR in dB via basicsr, on the 0-255 scale whatever the bit depth."""
    from basicsr.metrics import calculate_psnr

    from restore.pixels import to_unit_float

    if image.shape != reference.shape:
        raise ValueError(f"reference has shape {reference.shape}, the image {image.shape}")
    return float(calculate_psnr(to_unit_float(image) * 255.0, to_unit_float(reference) * 255.0,
                                crop_border=0, input_order="HWC"))


PREFERRED_MODEL = "uformer_t_skipat_gauss"  # the default once the weights issue publishes it


def default_model(weights_dir: Path | None) -> str:
    from restore.api import default_weights_dir
    from restore.weights_card import WeightsError, list_cards

    folder = weights_dir or default_weights_dir()
    images = [card.name for card in list_cards(folder) if card.kind == "image"]
    if not images:
        raise WeightsError(f"no image models are registered in {folder}; pass --model PATH_TO_CARD_OR_WEIGHTS")
    return PREFERRED_MODEL if PREFERRED_MODEL in images else images[0]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from restore.api import Denoiser  # after argparse, so --help is instant
    from restore.io.image import ImageReadError, ImageWriteError, read_image, write_image
    from restore.io.image_paths import PathPlanError, plan_jobs
    from restore.weights_card import WeightsError

    try:
        if args.tile < 0:
            raise ValueError("--tile must be 0 (no tiling) or a positive size")
        jobs = plan_jobs(args.input, args.output, args.gt, args.format)
        model = args.model or default_model(args.weights_dir)
        denoiser = Denoiser.from_pretrained(model, weights_dir=args.weights_dir, device=args.device, half=args.half,
                                            tile=args.tile or None, tile_overlap=args.tile_overlap)
        if denoiser.kind != "image":
            raise WeightsError(f"model {denoiser.name!r} is a video model; use restore/denoise_video.py")
        denoiser.check_sigma(args.sigma)
    except (PathPlanError, WeightsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.input.is_dir():
        jobs[0].target.parent.mkdir(parents=True, exist_ok=True)
    elif not jobs[0].target.parent.is_dir():
        print(f"error: output folder {jobs[0].target.parent} does not exist", file=sys.stderr)
        return EXIT_BAD_INPUT

    failed, scores = [], []
    files_bar = tqdm(jobs, desc="images", unit="img", disable=len(jobs) == 1, file=sys.stderr)
    for job in files_bar:
        started = time.perf_counter()
        try:
            loaded = read_image(job.source)
            reference = read_image(job.reference).pixels if job.reference is not None else None
            tiles_bar = tqdm(desc=job.source.name, unit="tile", disable=len(jobs) > 1, file=sys.stderr)

            def on_tile(done: int, total: int, bar: tqdm = tiles_bar) -> None:
                bar.total = total
                bar.update(done - bar.n)

            result = denoiser(loaded.pixels, sigma=args.sigma, progress=on_tile)
            tiles_bar.close()
            write_image(job.target, result)
        except (ImageReadError, ImageWriteError, ValueError) as error:
            failed.append(job.source)
            tqdm.write(f"skipped {job.source}: {error}", file=sys.stderr)
            continue
        seconds = time.perf_counter() - started
        line = f"{job.source} -> {job.target} ({seconds:.2f} s)"
        if reference is not None:
            try:
                before, after = psnr(loaded.pixels, reference), psnr(result, reference)
                scores.append(after)
                line += f"  PSNR {before:.2f} dB -> {after:.2f} dB"
            except ValueError as error:
                failed.append(job.source)
                line += f"  PSNR not computed: {error}"
        tqdm.write(line, file=sys.stdout)
    if len(scores) > 1:
        print(f"mean PSNR over {len(scores)} images: {np.mean(scores):.2f} dB")
    if failed:
        print(f"{len(failed)} of {len(jobs)} images failed", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def run_cli() -> int:
    """``main`` with the last guard: one ``error:`` line instead of a traceback (RESTORE_TRACEBACK=1 shows it)."""
    import os

    try:
        return main()
    except KeyboardInterrupt:
        print("interrupted; outputs written so far are complete, the one in progress was not written",
              file=sys.stderr)
        return 130
    except Exception as error:  # out of memory, a CUDA failure, a bug: say so plainly
        if os.environ.get("RESTORE_TRACEBACK"):
            raise
        print(f"error: unexpected failure ({type(error).__name__}: {error}); "
              "rerun with RESTORE_TRACEBACK=1 for details", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(run_cli())

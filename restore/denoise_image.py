"""Denoise one image or a folder of images from the shell.

    python restore/denoise_image.py --input noisy.png [--output clean.png] [--model NAME_OR_PATH]
        [--sigma auto|25] [--tile 512 --tile-overlap 32] [--device auto|cpu|cuda|mps]
        [--precision auto|fp32|bf16|fp16] [--gt clean_ref.png]

Exit codes: 0 every image was written; 2 bad arguments or at least one input
could not be read (the others are still processed); 1 an unexpected failure.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from restore.inference.defaults import (  # no torch: --help stays instant
    DEFAULT_IMAGE_MODEL,
    DEFAULT_TILE,
    DEFAULT_TILE_OVERLAP,
    DEVICES,
    PRECISIONS,
)
from restore.io.formats import IMAGE_FORMATS


def sigma_arg(text: str) -> float | str:
    """``auto`` or a number (the model checks its range)."""
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number, got {text!r}") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Denoise images (PNG 8/16-bit, JPEG, TIFF, WebP, BMP).")
    parser.add_argument("--input", required=True, type=Path, help="an image file or a folder of images")
    parser.add_argument("--output", type=Path, help="file or folder (default: <name>_denoised beside the input)")
    parser.add_argument("--model", help="a name in the weights registry or a .json card / weight file / .onnx "
                                        f"(default: {DEFAULT_IMAGE_MODEL})")
    parser.add_argument("--weights-dir", type=Path, help="weights folder with registry.json (default: weights/)")
    parser.add_argument("--sigma", type=sigma_arg, default="auto",
                        help="noise level σ on the 0-255 scale (Gaussian noise), or 'auto' (default): estimated "
                             "from each image and printed; blind and real-noise models need none")
    parser.add_argument("--tile", type=int, default=DEFAULT_TILE, help="tile size in pixels; 0 = whole image at once")
    parser.add_argument("--tile-overlap", type=int, default=DEFAULT_TILE_OVERLAP,
                        help="overlap of neighbouring tiles in pixels")
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="auto: bf16 on CPUs with native bf16, fp16 on GPUs, else fp32")
    parser.add_argument("--format", choices=sorted(set(IMAGE_FORMATS.values())),
                        help="output format (default: that of each input)")
    parser.add_argument("--ensemble", action="store_true",
                        help="average the 8 flips and quarter turns: a little cleaner, 8x the time")
    parser.add_argument("--gt", type=Path, help="clean reference image (or folder, same names): prints PSNR")
    return parser.parse_args(argv)


def psnr(image, reference) -> float:
    """PSNR in dB on the 0-255 scale whatever the bit depth."""
    from restore.errors import RestoreError
    from restore.inference.metrics import psnr as psnr_255
    from restore.inference.pixels import to_unit_float

    if image.shape != reference.shape:
        raise RestoreError(f"reference has shape {reference.shape}, the image {image.shape}")
    return psnr_255(to_unit_float(image) * 255.0, to_unit_float(reference) * 255.0)


def default_model(weights_dir: Path | None) -> str:
    from restore.api import default_weights_dir
    from restore.errors import WeightsError
    from restore.io.weights_card import list_cards

    folder = weights_dir or default_weights_dir()
    images = [card.name for card in list_cards(folder) if card.kind == "image"]
    if not images:
        raise WeightsError(f"no image models are registered in {folder}; pass --model PATH_TO_CARD_OR_WEIGHTS")
    return DEFAULT_IMAGE_MODEL if DEFAULT_IMAGE_MODEL in images else images[0]


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from restore.api import Denoiser
    from restore.errors import EXIT_BAD_INPUT, EXIT_OK, RestoreError, WeightsError
    from restore.io.image import check_writable, read_image, write_image
    from restore.io.image_paths import plan_jobs

    if args.tile < 0:
        raise RestoreError("--tile must be 0 (no tiling) or a positive size")
    jobs = plan_jobs(args.input, args.output, args.gt, args.format)
    if args.input.is_dir():
        jobs[0].target.parent.mkdir(parents=True, exist_ok=True)
    check_writable(jobs[0].target.parent)
    model = args.model or default_model(args.weights_dir)
    denoiser = Denoiser.from_pretrained(model, weights_dir=args.weights_dir, device=args.device,
                                        precision=args.precision, tile=args.tile or None,
                                        tile_overlap=args.tile_overlap)
    if denoiser.kind != "image":
        raise WeightsError(f"model {denoiser.name!r} is a video model; use restore/denoise_video.py")
    if args.sigma != "auto":
        denoiser.check_sigma(args.sigma)

    failed, scores, noted = [], [], set()
    # Bars only on a terminal (disable=None): in a log their redraws would share a line with
    # the per-file lines, which tqdm.write can only keep apart where "\r" returns the cursor.
    files_bar = tqdm(jobs, desc="images", unit="img", disable=True if len(jobs) == 1 else None, file=sys.stderr)
    for job in files_bar:
        started = time.perf_counter()
        try:
            loaded = read_image(job.source)
            reference = read_image(job.reference).pixels if job.reference is not None else None
            sigma, how = denoiser.choose_sigma(loaded.pixels, args.sigma)
            note = denoiser.input_note(loaded.format)
            if note and note not in noted:  # once a run, not once a file
                noted.add(note)
                tqdm.write(f"note: {note}", file=sys.stderr)
            with tqdm(desc=job.source.name, unit="tile", disable=True if len(jobs) > 1 else None,
                      file=sys.stderr) as tiles_bar:  # closed on a refusal too

                def on_tile(done: int, total: int, bar: tqdm = tiles_bar) -> None:
                    bar.total = total
                    bar.update(done - bar.n)

                result = denoiser(loaded.pixels, sigma=sigma, progress=on_tile, ensemble=args.ensemble)
            write_image(job.target, result, loaded.metadata)
        except RestoreError as error:  # this image only: the others are still processed
            failed.append(job.source)
            message = str(error) if str(job.source) in str(error) else f"{job.source}: {error}"
            tqdm.write(f"error: {message}", file=sys.stderr)
            continue
        seconds = time.perf_counter() - started
        line = f"{job.source} -> {job.target} ({seconds:.2f} s, {denoiser.precision}, {how})"
        if reference is not None:
            try:
                before, after = psnr(loaded.pixels, reference), psnr(result, reference)
                scores.append(after)
                line += f"  PSNR {before:.2f} dB -> {after:.2f} dB"
            except RestoreError as error:
                failed.append(job.source)
                line += f"  PSNR not computed: {error}"
        tqdm.write(line, file=sys.stdout)
    if len(scores) > 1:
        print(f"mean PSNR over {len(scores)} images: {np.mean(scores):.2f} dB")
    if failed:
        if len(jobs) > 1:
            print(f"{len(failed)} of {len(jobs)} images failed", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from restore.errors import run_cli

    return run_cli(lambda: run(args),
                   on_stop="outputs written so far are complete, the one in progress was not written")


if __name__ == "__main__":
    sys.exit(main())

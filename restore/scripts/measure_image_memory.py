"""Measure peak memory and time of restore/denoise_image.py on a large image.

    python -m restore.scripts.measure_image_memory --size 4000x3000 --tile 512 [--preset T] [--arch UformerSkipAt]

Memory does not depend on the weights' values, so a randomly initialised
network of the real architecture is published into a temporary folder (never
into weights/). The input is a real photo (skimage.data.astronaut) resized to
the requested size with σ=25 noise. The CLI runs in a child process and the
child's peak resident memory (ru_maxrss) is reported.
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=(4000, 3000), help="WIDTHxHEIGHT")
    parser.add_argument("--tile", type=int, default=512, help="0 = no tiling")
    parser.add_argument("--tile-overlap", type=int, default=32)
    parser.add_argument("--arch", default="UformerSkipAt")
    parser.add_argument("--preset", default="T")
    args = parser.parse_args(argv)

    import cv2
    import numpy as np
    from skimage import data

    import restore.archs  # noqa: F401  (registers the networks)
    from restore.api import save_pretrained
    from restore.io.image import write_image
    from restore.registry import ARCH_REGISTRY

    with tempfile.TemporaryDirectory(prefix="measure-") as tmp:
        tmp = Path(tmp)
        config = {"preset": args.preset}
        save_pretrained(ARCH_REGISTRY.get(args.arch)(**config), tmp, name="measure", arch=args.arch, config=config,
                        noise={"type": "gaussian", "sigma": [0, 50]}, training_data="none (random init)")
        width, height = args.size
        photo = cv2.resize(data.astronaut(), (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        noisy = np.clip(np.rint(photo + np.random.default_rng(0).normal(0, 25, photo.shape)), 0, 255)
        write_image(tmp / "noisy.png", noisy.astype(np.uint8))
        del photo, noisy
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(REPO_ROOT / "restore" / "denoise_image.py"), "--input",
                               str(tmp / "noisy.png"), "--model", str(tmp / "measure.json"), "--device", "cpu",
                               "--sigma", "25", "--tile", str(args.tile), "--tile-overlap", str(args.tile_overlap)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        print(f"denoise_image.py failed with exit code {done.returncode}", file=sys.stderr)
        return done.returncode
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{args.arch} preset {args.preset}, {width}x{height}, tile {args.tile or 'none'} "
          f"(overlap {args.tile_overlap}): peak RSS {peak_mib:.0f} MiB, {seconds:.1f} s wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())

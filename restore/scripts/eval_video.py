"""Score a video denoiser with the FastDVDnet / VRT protocol.

For every sigma and every sequence: take the first ``--num-frames`` frames
(0 = all), add ``N(0, sigma/255)`` noise to the clean frames with a generator
seeded by (seed, sigma, sequence) and do not clip it, denoise with the same
streaming tiled MIMO path as ``denoise_video.py``, clamp and round the output
to uint8, compute PSNR per frame, average per sequence, then over sequences.

    python -m restore.scripts.eval_video --data datasets/DAVIS-test --model NAME_OR_CARD.json \
        [--sigmas 10 20 30 40 50] [--num-frames 85] [--tile 128 --tile-overlap 10] [--json out.json]

``--data`` takes the DAVIS layout (``JPEGImages/480p/<seq>/``), a folder of frame
folders, or a folder of video files. Exit code 2 for bad input.
"""
from __future__ import annotations

import argparse
import json
import sys
import zlib
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from restore.inference.defaults import (
    DEFAULT_CLIP_LEN,
    DEFAULT_CLIP_OVERLAP,
    DEFAULT_VIDEO_TILE,
    DEFAULT_VIDEO_TILE_OVERLAP,
    DEVICES,
)
from restore.noise.gaussian import add_gaussian_noise


def psnr_uint8(restored: np.ndarray, clean: np.ndarray) -> float:
    """PSNR on the 0-255 scale of two uint8 frames (infinite for identical frames)."""
    mse = np.mean((restored.astype(np.float64) - clean.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def noisy_frames(clean: Iterator[np.ndarray], sigma: float, rng: np.random.Generator,
                 keep: list[np.ndarray]) -> Iterator[np.ndarray]:
    """``clean/255 + N(0, sigma/255)`` as float32, unclipped; the clean frames are kept for scoring."""
    for frame in clean:
        keep.append(frame)
        yield add_gaussian_noise(frame.astype(np.float32) / 255.0, sigma, rng, clip=False)


def evaluate_sequence(model_for_sigma: Callable[[float], Callable], frames: Iterator[np.ndarray], sigma: float,
                      seed: int, image_stage_for_sigma: Callable[[float], Callable | None] | None = None,
                      **tiling) -> list[float]:
    """Per-frame PSNR of one sequence at one sigma; a cascade's image stage (for a sigma) runs once per frame."""
    from restore.inference.video_stream import denoise_frames

    rng = np.random.default_rng(seed)
    clean: list[np.ndarray] = []
    scores = []
    image_stage = None if image_stage_for_sigma is None else image_stage_for_sigma(sigma)
    for index, restored in enumerate(denoise_frames(model_for_sigma(sigma), noisy_frames(frames, sigma, rng, clean),
                                                    image_stage=image_stage, unclipped=True, **tiling)):
        scores.append(psnr_uint8(restored, clean[index]))
        clean[index] = None  # type: ignore[call-overload]  (scored: free it)
    return scores


def evaluate(model_for_sigma: Callable[[float], Callable], sequences: list, sigmas: list[float],
             num_frames: int = 0, seed: int = 0, progress: bool = True, **tiling) -> dict:
    """{sigma: {"mean": PSNR over sequences, "sequences": {name: mean PSNR over frames}}}."""
    from tqdm import tqdm

    results: dict = {}
    for sigma in sigmas:
        per_sequence = {}
        for sequence in tqdm(sequences, desc=f"sigma {sigma:g}", unit="seq", disable=not progress):
            count = len(sequence) if num_frames <= 0 else min(num_frames, len(sequence))
            frames = sequence.iter_frames(count)  # streamed: long sequences never sit in memory
            sequence_seed = [seed, int(round(sigma * 100)), zlib.crc32(sequence.name.encode())]
            scores = evaluate_sequence(model_for_sigma, frames, sigma, sequence_seed, **tiling)
            per_sequence[sequence.name] = float(np.mean(scores))
        results[f"{sigma:g}"] = {"mean": float(np.mean(list(per_sequence.values()))), "sequences": per_sequence}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="PSNR of a video denoiser, FastDVDnet/VRT protocol.")
    parser.add_argument("--data", type=Path, required=True, help="DAVIS root, frame folders or video files")
    parser.add_argument("--model", required=True, help="a name in weights/ or a .json card / weight file")
    parser.add_argument("--weights-dir", type=Path)
    parser.add_argument("--sigmas", type=float, nargs="+", default=[10, 20, 30, 40, 50])
    parser.add_argument("--num-frames", type=int, default=85, help="frames per sequence (0 = all; "
                        "FastDVDnet's default is 25, published comparisons use up to 85)")
    parser.add_argument("--sequences", nargs="*", help="only these sequence names")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--tile", type=int, default=DEFAULT_VIDEO_TILE)
    parser.add_argument("--tile-overlap", type=int, default=DEFAULT_VIDEO_TILE_OVERLAP)
    parser.add_argument("--clip-len", type=int, default=DEFAULT_CLIP_LEN)
    parser.add_argument("--clip-overlap", type=int, default=DEFAULT_CLIP_OVERLAP)
    parser.add_argument("--tile-batch", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    from restore.errors import run_cli

    return run_cli(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    from restore.api import Denoiser
    from restore.data.video_clip_dataset import find_sequences
    from restore.errors import RestoreError

    if any(not 0 <= s <= 255 for s in args.sigmas):
        raise RestoreError("--sigmas must be on the 0-255 scale")
    sequences = find_sequences(args.data)
    if args.sequences:
        sequences = [s for s in sequences if s.name in set(args.sequences)]
        if not sequences:
            raise RestoreError(f"none of the sequences {args.sequences} is in {args.data}")
    denoiser = Denoiser.from_pretrained(args.model, weights_dir=args.weights_dir, device=args.device)
    if denoiser.kind != "video":
        raise RestoreError(f"model {denoiser.name!r} is not a video model")
    for sigma in args.sigmas:
        denoiser.check_sigma(sigma)
    results = evaluate(denoiser.network_fn, sequences, args.sigmas, args.num_frames, args.seed,
                       image_stage_for_sigma=denoiser.image_stage_fn, tile=args.tile, tile_overlap=args.tile_overlap,
                       clip_len=args.clip_len, clip_overlap=args.clip_overlap, tile_batch=args.tile_batch)
    for sigma, result in results.items():
        print(f"sigma {sigma:>4}: PSNR {result['mean']:.2f} dB over {len(result['sequences'])} sequences")
    if args.json:
        args.json.write_text(json.dumps({"model": denoiser.name, "num_frames": args.num_frames,
                                         "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

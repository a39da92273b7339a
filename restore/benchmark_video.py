"""Video benchmark: cost per frame of UniFormer vs UniFormer+SkipAt, and CPU speed
of the whole streaming tiled path.

FLOPs are counted with ``torch.utils.flop_counter`` on the meta device, where no
arithmetic runs and ``scaled_dot_product_attention`` is decomposed into the
matrix products it stands for (on CPU tensors the fused kernel is not counted).
We report GMACs (= counted FLOPs / 2), the convention of the paper's Table 6.

    python -m restore.benchmark_video            # FLOPs + CPU fps, prints a table
    python -m restore.benchmark_video --json out.json
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

import restore  # noqa: F401  (registers archs)
from restore.archs.uniformer_video_arch import UniformerVideo, UniformerVideoSkipAt


def gmacs_per_frame(arch: type, frames: int = 7, size: int = 256, **arch_kwargs: Any) -> float:
    """Multiply-accumulates per output frame, in billions, for a ``frames x size x size`` clip."""
    with torch.device("meta"):
        net = arch(**arch_kwargs).eval()
        clip = torch.empty(1, frames, net.in_chans, size, size)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        net(clip)
    return counter.get_total_flops() / 2 / frames / 1e9


def flops_table(frames: int = 7, size: int = 256) -> dict[str, float]:
    """Baseline and SkipAt GMACs per frame and their ratio."""
    base = gmacs_per_frame(UniformerVideo, frames, size)
    skip = gmacs_per_frame(UniformerVideoSkipAt, frames, size)
    return {"uniformer_gmacs_per_frame": round(base, 2), "skipat_gmacs_per_frame": round(skip, 2),
            "skipat_over_baseline": round(skip / base, 4), "saving_percent": round(100 * (1 - skip / base), 1)}


def cpu_fps(arch: type, width: int = 480, height: int = 270, frames: int = 14,
            tile: int = 128, overlap: int = 10, clip_len: int = 7, clip_overlap: int = 2,
            threads: int | None = None, **arch_kwargs: Any) -> dict[str, float]:
    """Frames per second through ``restore.video_inference`` (tiles, blending, streaming)."""
    from restore.video_inference import denoise_frames

    if threads:
        torch.set_num_threads(threads)
    net = arch(**arch_kwargs).eval()
    rng = np.random.default_rng(0)
    video = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(frames)]
    start = time.perf_counter()
    count = sum(1 for _ in denoise_frames(net, iter(video), sigma=30, tile=tile, tile_overlap=overlap,
                                          clip_len=clip_len, clip_overlap=clip_overlap))
    seconds = time.perf_counter() - start
    return {"frames": count, "seconds": round(seconds, 2), "fps": round(count / seconds, 4),
            "threads": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=14, help="frames in the fps clip")
    parser.add_argument("--no-fps", action="store_true", help="only count FLOPs")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"flops_7x256x256": flops_table()}
    print("GMACs per frame at 7x256x256:", results["flops_7x256x256"])
    if not args.no_fps:
        for name, arch in (("uniformer", UniformerVideo), ("skipat", UniformerVideoSkipAt)):
            results[f"cpu_fps_480x270_{name}"] = cpu_fps(arch, frames=args.frames)
            print(f"CPU 480x270 {name}:", results[f"cpu_fps_480x270_{name}"])
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

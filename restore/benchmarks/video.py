"""Video benchmark: cost per frame of UniFormer vs UniFormer+SkipAt, and CPU speed
of the whole streaming tiled path.

FLOPs are counted with ``torch.utils.flop_counter`` on the meta device, where no
arithmetic runs and ``scaled_dot_product_attention`` is decomposed into the
matrix products it stands for (on CPU tensors the fused kernel is not counted).
We report GMACs (= counted FLOPs / 2), the convention of the paper's Table 6.

    python -m restore.benchmarks.video            # FLOPs + CPU fps of the paper-sized and the published layouts
    python -m restore.benchmarks.video --json out.json
    python -m restore.benchmarks.video --stream-memory clip.mp4   # peak RSS of the streaming path
    python -m restore.benchmarks.video --profile  # where one 7x128x128 tile's time goes, per op
"""
from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from restore.archs.uniformer_video_arch import UniformerVideo, UniformerVideoSkipAt
from restore.benchmarks.common import cpu_name, run_guarded, write_text


def gmacs_per_frame(arch: type, frames: int = 7, size: int = 256, **arch_kwargs: Any) -> float:
    """Multiply-accumulates per output frame, in billions, for a ``frames x size x size`` clip."""
    from restore.archs.fused_ops import plain_kernels

    with torch.device("meta"), plain_kernels():
        net = arch(**arch_kwargs).eval()
        clip = torch.empty(1, frames, net.in_chans, size, size)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        net(clip)
    return counter.get_total_flops() / 2 / frames / 1e9


def flops_table(frames: int = 7, size: int = 256, **config: Any) -> dict[str, float]:
    """Baseline and SkipAt GMACs per frame and their ratio."""
    base = gmacs_per_frame(UniformerVideo, frames, size, **config)
    skip = gmacs_per_frame(UniformerVideoSkipAt, frames, size, **config)
    return {"uniformer_gmacs_per_frame": round(base, 2), "skipat_gmacs_per_frame": round(skip, 2),
            "skipat_over_baseline": round(skip / base, 4), "saving_percent": round(100 * (1 - skip / base), 1)}


def published_config() -> dict | None:
    """The layout of the published video model (its card's config), if it is registered; a
    cascade's video stage, which takes the image stage's output too, is not timed here."""
    from restore.api import default_weights_dir
    from restore.io.weights_card import list_cards

    cards = [card for card in list_cards(default_weights_dir())
             if card.arch == "UniformerVideoSkipAt" and not card.is_cascade]
    return dict(cards[0].config) if cards else None


def cpu_fps(archs: dict[str, type], width: int = 480, height: int = 270, frames: int = 7,
            rounds: int = 3, tile: int = 128, overlap: int = 10, clip_len: int = 7,
            clip_overlap: int = 2, threads: int | None = None, config: dict | None = None) -> dict[str, Any]:
    """Frames per second through ``restore.inference.video_stream`` (tiles, blending, streaming),
    as ``denoise_video.py`` runs it: one tile per torch thread at a time.

    The models take turns on the same noisy clip for ``rounds`` rounds and each gets its
    median, so a busy machine slows them alike and their ratio stays meaningful.
    """
    from restore.data.photos import load_rgb as load_photo
    from restore.data.photos import pan_zoom_clip
    from restore.inference.video_stream import denoise_frames
    from restore.noise.gaussian import append_sigma_map

    if threads:
        torch.set_num_threads(threads)
    nets = {name: arch(**(config or {})).eval() for name, arch in archs.items()}  # speed does not depend on weights
    channels = next(iter(nets.values())).in_chans
    clean = pan_zoom_clip(load_photo("astronaut"), frames, height, width)
    rng = np.random.default_rng(0)
    video = [np.clip(f + rng.normal(0, 30, f.shape), 0, 255).astype(np.uint8) for f in clean]
    seconds: dict[str, list[float]] = {name: [] for name in nets}
    with torch.inference_mode():
        for _ in range(rounds):
            for name, net in nets.items():
                start = time.perf_counter()
                fn = net if channels == 3 else (lambda clip, net=net: net(append_sigma_map(clip, 30)))
                count = sum(1 for _ in denoise_frames(fn, iter(video), tile=tile, tile_overlap=overlap,
                                                      clip_len=clip_len, clip_overlap=clip_overlap,
                                                      workers=torch.get_num_threads()))
                seconds[name].append(time.perf_counter() - start)
    results: dict[str, Any] = {name: {"frames": count, "median_seconds": round(float(np.median(t)), 2),
                                      "fps": round(count / float(np.median(t)), 4)}
                               for name, t in seconds.items()}
    names = list(nets)
    results[f"{names[1]}_over_{names[0]}_fps"] = round(results[names[1]]["fps"] / results[names[0]]["fps"], 3)
    results["threads"] = torch.get_num_threads()
    results["process_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return results


def profile_tile(archs: dict[str, type], config: dict | None = None, frames: int = 7,
                 tile: int = 128, rounds: int = 3, top: int = 8) -> dict[str, Any]:
    """Where one tile's time goes, as ``cpu_fps`` runs a tile: one thread, inference mode.

    The models take turns for ``rounds`` rounds (after one warm-up call each, which
    allocates the SkipAt workspace), and each is profiled on its fastest round. Per model:
    the whole call and its ``top`` operators by self CPU time, in milliseconds.
    """
    from torch.profiler import ProfilerActivity, profile

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        nets = {name: arch(**(config or {})).eval() for name, arch in archs.items()}
        clip = torch.rand(1, frames, next(iter(nets.values())).in_chans, tile, tile)
        runs: dict[str, list[tuple[float, Any]]] = {name: [] for name in nets}
        with torch.inference_mode():
            for net in nets.values():
                net(clip)
            for _ in range(rounds):
                for name, net in nets.items():
                    with profile(activities=[ProfilerActivity.CPU]) as prof:
                        start = time.perf_counter()
                        net(clip)
                        seconds = time.perf_counter() - start
                    runs[name].append((seconds, prof))
    finally:
        torch.set_num_threads(saved)
    results: dict[str, Any] = {}
    for name, timed in runs.items():
        seconds, prof = min(timed, key=lambda run: run[0])
        ops = sorted(prof.key_averages(), key=lambda event: event.self_cpu_time_total, reverse=True)
        results[name] = {"ms": round(seconds * 1e3, 1),
                         "ops": {op.key: {"ms": round(op.self_cpu_time_total / 1e3, 1), "calls": op.count}
                                 for op in ops[:top]}}
    return results


def profile_markdown(profiles: dict[str, Any]) -> str:
    """One table: each model's top operators, self CPU ms and calls."""
    names = list(profiles)
    keys = list(dict.fromkeys(key for name in names for key in profiles[name]["ops"]))
    lines = ["| operator | " + " | ".join(f"{name} ms (calls)" for name in names) + " |",
             "|---|" + "---:|" * len(names)]
    for key in keys:
        cells = [f"{profiles[n]['ops'][key]['ms']} ({profiles[n]['ops'][key]['calls']})"
                 if key in profiles[n]["ops"] else "–" for n in names]
        lines.append(f"| `{key}` | " + " | ".join(cells) + " |")
    lines.append("| **whole tile** | " + " | ".join(f"**{profiles[n]['ms']}**" for n in names) + " |")
    return "\n".join(lines)


def streaming_peak_memory(video: str, tile: int = 128, overlap: int = 10) -> dict[str, float]:
    """Peak RSS of decode -> tiled streaming -> encode with audio, with an identity network.

    Run once per process (``ru_maxrss`` only grows). Comparing a short and a long video
    shows that memory does not grow with length; the network's own memory (one tile
    batch of activations) comes on top and is measured by ``cpu_fps``.
    """
    import tempfile

    from restore.inference.video_stream import denoise_frames
    from restore.io.video import VideoWriter, probe_video, read_video

    info = probe_video(video)
    pts = []

    def frames():
        for frame in read_video(video):
            pts.append(frame.pts)
            yield frame.image

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.mp4"
        with VideoWriter.like(out, info) as writer:
            for index, frame in enumerate(denoise_frames(lambda clip: clip, frames(), tile=tile, tile_overlap=overlap)):
                writer.write(frame, pts[index])
        count = writer.frames
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"video": str(video), "frames": count, "size": f"{info.width}x{info.height}",
            "seconds": round(time.perf_counter() - start, 1), "peak_rss_mb": round(peak),
            "rss_before_mb": round(before)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=7, help="frames in the fps clip")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds per model")
    parser.add_argument("--no-fps", action="store_true", help="only count FLOPs")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--profile", action="store_true",
                        help="only profile one 7x128x128 tile of the published pair on one thread")
    parser.add_argument("--stream-memory", metavar="VIDEO",
                        help="only measure the peak memory of streaming VIDEO through the tiled path")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    if args.stream_memory:
        print(streaming_peak_memory(args.stream_memory))
        return 0
    published = published_config()
    if args.profile:
        print(f"CPU: {cpu_name()}, 1 thread, one {args.frames}x128x128 tile of the "
              f"{'published' if published is not None else 'paper-sized'} layout")
        print(profile_markdown(profile_tile({"uniformer": UniformerVideo, "skipat": UniformerVideoSkipAt},
                                            published, frames=args.frames, rounds=args.rounds)))
        return 0
    layouts = {"paper-sized": {}, **({"published": published} if published is not None else {})}
    results: dict[str, Any] = {"cpu": cpu_name()}
    for layout, config in layouts.items():
        results[f"{layout}_flops_7x256x256"] = flops_table(**config)
        print(f"{layout} layout, GMACs per frame at 7x256x256:", results[f"{layout}_flops_7x256x256"])
    if not args.no_fps:
        print(f"CPU: {results['cpu']}, {torch.get_num_threads()} threads")
        for layout, config in layouts.items():
            results[f"{layout}_cpu_fps_480x270"] = cpu_fps(
                {"uniformer": UniformerVideo, "skipat": UniformerVideoSkipAt}, frames=args.frames,
                rounds=args.rounds, config=config)
            print(f"{layout} layout, CPU 480x270, full tiled path:", results[f"{layout}_cpu_fps_480x270"])
    if args.json:
        write_text(Path(args.json), json.dumps(results, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_guarded(run, parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())

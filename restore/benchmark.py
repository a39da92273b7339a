"""Speed and size of Uformer-T/S/B against Uformer+SkipAt, measured side by side.

    python -m restore.benchmark [--models T,S,B] [--size 256] [--repeats 10]
                                [--threads 2] [--device cpu|cuda|auto]
                                [--official-dir PATH] [--video]

Prints a Markdown table: parameters, GMACs (torch.utils.flop_counter, one
multiply-add = 1 MAC), median latency and images/s, peak memory, and the
throughput of SkipAt relative to its baseline. Latencies of the models being
compared are taken in interleaved rounds in one process, so a busy machine slows
them alike; report the ratios. ``--official-dir`` adds the official Uformer
release (a folder holding its ``model.py``; it needs ``timm``) with the same
weights, and checks that its outputs equal ours.
"""
from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

import restore  # noqa: F401  (registers archs)
from restore.archs.uformer_arch import PRESETS, Uformer
from restore.archs.uformer_skipat_arch import UformerSkipAt
from restore.flops import count_macs


def build(kind: str, preset: str, official_dir: str | None = None) -> nn.Module:
    """'base', 'skipat' or 'official' Uformer of a preset size, in eval mode."""
    if kind == "base":
        return Uformer(preset=preset).eval()
    if kind == "skipat":
        return UformerSkipAt(preset=preset).eval()
    if official_dir not in sys.path:
        sys.path.insert(0, official_dir)
    from model import Uformer as OfficialUformer  # the official release, outside our code
    sizes = {k: dict(embed_dim=v["embed_dim"], depths=v["depths"]) for k, v in PRESETS.items()}
    return OfficialUformer(img_size=128, win_size=8, token_projection="linear",
                           token_mlp="leff", modulator=True, **sizes[preset]).eval()


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _peak_rss_worker(kind: str, preset: str, size: int, threads: int,
                     official_dir: str | None, queue: multiprocessing.Queue) -> None:
    torch.set_num_threads(threads)
    model = build(kind, preset, official_dir)
    x = torch.rand(1, 3, size, size)
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    before = _status_kb("VmRSS")
    with torch.inference_mode():
        model(x)
    queue.put((_status_kb("VmHWM") - before) / 1024)


def cpu_peak_memory_mb(kind: str, preset: str, size: int, threads: int,
                       official_dir: str | None) -> float:
    """Peak resident memory a forward adds over the loaded model, in a fresh process (Linux)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_peak_rss_worker,
                       args=(kind, preset, size, threads, official_dir, queue))
    proc.start()
    proc.join()
    return queue.get() if not queue.empty() else float("nan")


def interleaved_latency(fns: dict[str, Callable[[], object]], repeats: int,
                        sync: Callable[[], None]) -> dict[str, float]:
    """Median seconds per call, calling each function once per round."""
    for fn in fns.values():
        fn()
    sync()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def run(models: list[str], size: int, repeats: int, threads: int, device: str,
        official_dir: str | None) -> list[dict]:
    torch.set_num_threads(threads)
    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    rows = []
    for preset in models:
        kinds = ["base", "skipat"] + (["official"] if official_dir else [])
        nets = {kind: build(kind, preset, official_dir) for kind in kinds}
        if official_dir:
            nets["official"].load_state_dict(nets["base"].state_dict())
        x_cpu = torch.rand(1, 3, size, size)
        macs = {kind: count_macs(net, x_cpu) for kind, net in nets.items() if kind != "official"}
        x = x_cpu.to(dev)
        for net in nets.values():
            net.to(dev)
        with torch.inference_mode():
            latency = interleaved_latency({k: (lambda n=n: n(x)) for k, n in nets.items()},
                                          repeats, sync)
            max_diff = ((nets["official"](x) - nets["base"](x)).abs().max().item()
                        if official_dir else None)
        for kind in kinds:
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
                with torch.inference_mode():
                    nets[kind](x)
                peak = torch.cuda.max_memory_allocated() / 2**20
            else:
                peak = cpu_peak_memory_mb(kind, preset, size, threads, official_dir)
            rows.append(dict(
                model=f"Uformer-{preset}" + {"base": "", "skipat": " + SkipAt",
                                              "official": " (official code)"}[kind],
                params=sum(p.numel() for p in nets[kind].parameters()),
                gmacs=macs.get(kind, macs["base"]) / 1e9,
                ms=latency[kind] * 1e3, ips=1.0 / latency[kind], peak_mb=peak,
                vs_base=latency["base"] / latency[kind], max_diff=max_diff))
        del nets
    return rows


def markdown(rows: list[dict], size: int, device: str, threads: int) -> str:
    head = (f"Input 1x3x{size}x{size}, fp32, device {device}"
            + (f", {threads} threads" if device == "cpu" else "") + "\n\n"
            "| model | params | GMACs | median latency | images/s | peak memory | "
            "throughput vs baseline |\n|---|---:|---:|---:|---:|---:|---:|\n")
    lines = [f"| {r['model']} | {r['params'] / 1e6:.2f} M | {r['gmacs']:.2f} | "
             f"{r['ms']:.0f} ms | {r['ips']:.2f} | {r['peak_mb']:.0f} MB | "
             f"{r['vs_base']:.2f}x |" for r in rows]
    diffs = {r["model"].split(" ")[0]: r["max_diff"] for r in rows if r["max_diff"] is not None}
    notes = "".join(f"\n{name}: max |official - ours| = {d:.1e} on the same weights"
                    for name, d in diffs.items())
    return head + "\n".join(lines) + notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="T,S,B", help="comma-separated presets")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--official-dir", type=Path, default=None,
                        help="folder with the official Uformer model.py, to time it too")
    parser.add_argument("--video", action="store_true",
                        help="also run the video benchmark (restore.benchmark_video)")
    args = parser.parse_args(argv)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" \
        else args.device
    if device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but no CUDA device is available", file=sys.stderr)
        return 2
    models = [m.strip().upper() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in PRESETS]
    if unknown:
        print(f"error: unknown model size(s) {unknown}; choose from T, S, B", file=sys.stderr)
        return 2
    if args.official_dir and not (args.official_dir / "model.py").is_file():
        print(f"error: no model.py in {args.official_dir}", file=sys.stderr)
        return 2
    official = str(args.official_dir.resolve()) if args.official_dir else None
    rows = run(models, args.size, args.repeats, args.threads, device, official)
    print(markdown(rows, args.size, device, args.threads))
    if args.video:
        from restore import benchmark_video
        return benchmark_video.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())

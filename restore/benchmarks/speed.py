"""Speed and size of Uformer-T/S/B against Uformer+SkipAt, measured side by side.

    python -m restore.benchmarks.speed [--models T,S,B] [--size 256] [--repeats 10]
                                [--threads 2] [--device cpu|cuda|auto] [--precision fp32,bf16]
                                [--onnx] [--official-dir PATH] [--video]

Prints a Markdown table: parameters, GMACs (torch.utils.flop_counter, one
multiply-add = 1 MAC), median latency and images/s, peak memory, and the
throughput of each row relative to the fp32 baseline. Latencies of the models being
compared are taken in interleaved rounds in one process, so a busy machine slows
them alike; report the ratios. ``--precision`` adds a row per precision, and a second
table with the PSNR change each precision causes with the published weights on
held-out photos. ``--onnx`` adds onnxruntime rows (the same network exported at the
input size). ``--official-dir`` adds the official Uformer release (a folder holding
its ``model.py``; it needs ``timm``) with the same weights, and checks that its
outputs equal ours. The first line names the CPU.
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

from restore.archs.uformer_arch import PRESETS, Uformer
from restore.archs.uformer_skipat_arch import UformerSkipAt
from restore.benchmarks.common import BenchmarkError, cpu_name, run_guarded
from restore.inference.flops import count_macs


def build(kind: str, preset: str, official_dir: str | None = None) -> nn.Module:
    """'base', 'skipat' or 'official' Uformer of a preset size, in eval mode."""
    if kind == "base":
        return Uformer(preset=preset).eval()
    if kind == "skipat":
        return UformerSkipAt(preset=preset).eval()
    from restore.scripts.make_uformer_reference import official_uformer

    OfficialUformer = official_uformer(official_dir)  # noqa: N806  (the official release, outside our code)
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


def onnx_runner(net: nn.Module, size: int, folder: Path) -> Callable[[torch.Tensor], torch.Tensor]:
    """``net`` exported to ONNX at 1x3xsize x size and run by onnxruntime on the CPU."""
    from restore.inference.onnx_model import OnnxNetwork, export

    path = folder / f"{id(net)}.onnx"
    shape = export(net, {}, path, "image", 3, size)
    return OnnxNetwork(path, shape)


def run(models: list[str], size: int, repeats: int, threads: int, device: str,
        official_dir: str | None, precisions: list[str] = ("fp32",), onnx: bool = False) -> list[dict]:
    import tempfile

    from restore.inference.precision import resolve_precision, uses_autocast, weights_dtype

    torch.set_num_threads(threads)
    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    names = {"base": "", "skipat": " + SkipAt", "official": " (official code)"}
    rows = []
    for preset in models:
        kinds = ["base", "skipat"] + (["official"] if official_dir else [])
        nets = {kind: build(kind, preset, official_dir) for kind in kinds}
        if official_dir:
            nets["official"].load_state_dict(nets["base"].state_dict())
        x_cpu = torch.rand(1, 3, size, size)
        macs = {kind: count_macs(net, x_cpu) for kind, net in nets.items() if kind != "official"}
        variants: dict[tuple[str, str], Callable[[], object]] = {}
        with tempfile.TemporaryDirectory() as folder:
            for kind, net in nets.items():
                for precision in precisions:
                    dtype = resolve_precision(precision, dev)
                    autocast = uses_autocast(dtype, dev)  # as the Denoiser runs it
                    copy = build(kind, preset, official_dir) if len(precisions) > 1 else net
                    copy.load_state_dict(net.state_dict())
                    held = weights_dtype(dtype, dev)
                    copy.to(device=dev, dtype=held)
                    x = x_cpu.to(device=dev, dtype=held)

                    def call(n=copy, x=x, dtype=dtype, autocast=autocast):
                        with torch.autocast(dev.type, dtype=dtype, enabled=autocast):
                            return n(x)
                    variants[(kind, precision)] = call
                if onnx and kind != "official":
                    runner = onnx_runner(net, size, Path(folder))
                    variants[(kind, "onnxruntime")] = lambda r=runner: r(x_cpu)
            with torch.inference_mode():
                latency = interleaved_latency(variants, repeats, sync)
                max_diff = ((nets["official"](x_cpu) - nets["base"](x_cpu)).abs().max().item()
                            if official_dir else None)
        for (kind, precision), seconds in latency.items():
            if dev.type == "cuda":
                peak = float("nan")
            elif precision == "fp32":
                peak = cpu_peak_memory_mb(kind, preset, size, threads, official_dir)
            else:
                peak = float("nan")
            rows.append(dict(
                model=f"Uformer-{preset}{names[kind]}", precision=precision,
                params=sum(p.numel() for p in nets[kind].parameters()),
                gmacs=macs.get(kind, macs["base"]) / 1e9,
                ms=seconds * 1e3, ips=1.0 / seconds, peak_mb=peak,
                vs_base=latency[("base", "fp32")] / seconds, max_diff=max_diff))
        del nets, variants
    return rows


PRECISION_SIGMAS = (15, 30, 50)


def precision_psnr(precisions: list[str], device: str, sigmas: tuple[float, ...] = PRECISION_SIGMAS,
                   size: int = 256, names: tuple[str, ...] | None = None) -> list[dict]:
    """PSNR of each published image model on the held-out photos (centre crops, seeded σ noise,
    quantised) at each σ, in fp32 and in each other precision: what the faster precision costs."""
    import numpy as np

    from restore.api import Denoiser, default_weights_dir
    from restore.benchmarks.common import add_noise_uint8, centre_crop, image_metrics
    from restore.data.photos import EVAL_PHOTOS, load_rgb
    from restore.io.weights_card import list_cards

    photos = [centre_crop(load_rgb(name), size, size) for name in names or EVAL_PHOTOS]
    noisy = {sigma: [add_noise_uint8(clean, sigma, [0, int(sigma * 100), i]) for i, clean in enumerate(photos)]
             for sigma in sigmas}
    rows = []
    for card in list_cards(default_weights_dir()):
        if card.kind != "image" or not card.is_gaussian:
            continue
        scores = {}
        for precision in ["fp32", *[p for p in precisions if p != "fp32"]]:
            den = Denoiser.from_pretrained(card.path, device=device, precision=precision)
            scores[precision] = {sigma: float(np.mean([image_metrics(den(image, sigma=sigma), clean)[0]
                                                       for image, clean in zip(noisy[sigma], photos)]))
                                 for sigma in sigmas}
        rows += [dict(model=card.name, precision=p, psnr=v,
                      change={sigma: v[sigma] - scores["fp32"][sigma] for sigma in sigmas})
                 for p, v in scores.items()]
    return rows


def markdown(rows: list[dict], size: int, device: str, threads: int) -> str:
    head = (f"Input 1x3x{size}x{size}, device {device}"
            + (f" ({cpu_name()}), {threads} threads" if device == "cpu" else "") + "\n\n"
            "| model | precision | params | GMACs | median latency | images/s | peak memory | "
            "throughput vs fp32 baseline |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
    lines = [f"| {r['model']} | {r['precision']} | {r['params'] / 1e6:.2f} M | {r['gmacs']:.2f} | "
             f"{r['ms']:.0f} ms | {r['ips']:.2f} | "
             + ("–" if r["peak_mb"] != r["peak_mb"] else f"{r['peak_mb']:.0f} MB")
             + f" | {r['vs_base']:.2f}x |" for r in rows]
    diffs = {r["model"].split(" ")[0]: r["max_diff"] for r in rows if r["max_diff"] is not None}
    notes = "".join(f"\n{name}: max |official - ours| = {d:.1e} on the same weights"
                    for name, d in diffs.items())
    return head + "\n".join(lines) + notes


def precision_markdown(rows: list[dict], size: int = 256) -> str:
    sigmas = list(rows[0]["psnr"]) if rows else []
    lines = [f"| {r['model']} | {r['precision']} | "
             + " | ".join(f"{r['psnr'][s]:.3f} ({r['change'][s]:+.3f})" for s in sigmas) + " |" for r in rows]
    return (f"\nPublished weights on the held-out photos ({size}² centre crops, seeded noise, quantised): "
            "PSNR dB (change vs fp32)\n\n"
            "| model | precision | " + " | ".join(f"σ={s:g}" for s in sigmas) + " |\n"
            "|---|---|" + "---:|" * len(sigmas) + "\n" + "\n".join(lines))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="T,S,B", help="comma-separated presets")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--precision", default="fp32",
                        help="comma-separated: fp32, bf16, fp16 (a row each, and the PSNR change they cause)")
    parser.add_argument("--onnx", action="store_true", help="also time the networks exported to onnxruntime")
    parser.add_argument("--official-dir", type=Path, default=None,
                        help="folder with the official Uformer model.py, to time it too")
    parser.add_argument("--video", action="store_true",
                        help="also run the video benchmark (restore.benchmarks.video)")
    return parser.parse_args(argv)


def run_benchmark(args: argparse.Namespace) -> int:
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" \
        else args.device
    if device == "cuda" and not torch.cuda.is_available():
        raise BenchmarkError("--device cuda but no CUDA device is available")
    models = [m.strip().upper() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in PRESETS]
    if unknown:
        raise BenchmarkError(f"unknown model size(s) {unknown}; choose from T, S, B")
    if args.official_dir and not (args.official_dir / "model.py").is_file():
        raise BenchmarkError(f"no model.py in {args.official_dir}")
    precisions = [p.strip() for p in args.precision.split(",") if p.strip()]
    if not precisions or any(p not in ("fp32", "bf16", "fp16") for p in precisions):
        raise BenchmarkError(f"--precision takes fp32, bf16 and fp16, got {args.precision!r}")
    if "fp32" not in precisions:
        precisions.insert(0, "fp32")
    official = str(args.official_dir.resolve()) if args.official_dir else None
    rows = run(models, args.size, args.repeats, args.threads, device, official, precisions, args.onnx)
    print(markdown(rows, args.size, device, args.threads))
    if len(precisions) > 1:
        print(precision_markdown(precision_psnr(precisions, device)))
    if args.video:
        from restore.benchmarks import video as benchmark_video
        return benchmark_video.main([])
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_guarded(run_benchmark, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

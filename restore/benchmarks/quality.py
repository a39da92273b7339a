"""Quality benchmark: our denoisers against CBM3D and non-local means, on photos never trained on.

    python -m restore.benchmarks.quality                  # --quick (default): small crops, into results/quality
    python -m restore.benchmarks.quality --full           # whole images, longer clips
    python -m restore.benchmarks.quality --out results/quality --model weights/uformer_t_skipat_gauss.json

Images are the held-out photos of ``restore.scripts.make_sample_corpus`` (never
in training). Noise is Gaussian with σ ∈ {15, 25, 30, 50} on the 0–255 scale,
seeded per (seed, σ, image), added to the clean uint8 image and quantised back
to uint8, as a user's noisy file would be. Outputs are uint8 too. PSNR and SSIM
are BasicSR's (RGB, no border crop); time is CPU seconds (process time, all
threads) and wall seconds per megapixel of input, with ``--threads`` threads for
torch and OpenCV (the compiled ``bm3d`` library picks its own thread count, so
CBM3D's CPU seconds exceed its wall seconds on a multi-core machine).

Video: pans over held-out photos and the small mp4 files that gradio ships
(a.mp4 scaled to 480×270; muted_b.mp4 is b.mp4 without sound and is skipped),
σ = 30: OpenCV's ``fastNlMeansDenoisingColoredMulti``, CBM3D per frame, our video
models, and our image models per frame. PSNR per frame, averaged per clip, then
over clips; a second table gives each clip's PSNR. Flicker, beside PSNR: the RMSE of the
output's consecutive-frame differences against the clean clip's (0-255; 0 when the output
changes from frame to frame exactly as the scene does), mean over clips. A pan follows a 40-frame path,
as the training pans do, and the clip is its first frames: the motion per frame
does not depend on how many frames are scored.

Our models are every card registered in ``--weights-dir`` (or those named with
``--model``); with none, the benchmark says so and compares the classical methods.
Writes ``results.md`` (tables), ``results.json``, and with matplotlib ``psnr_vs_time.png``
and ``comparison.png`` (a crop of one image at the plot σ) into ``--out``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from restore.benchmarks.classical import IMAGE_METHODS, cbm3d, check_available, opencv_nlm_multi, per_frame
from restore.benchmarks.common import (
    VIDEO_PAN_PHOTOS,
    BenchmarkError,
    Method,
    accepts_sigma,
    add_noise_uint8,
    bad_input,
    centre_crop,
    check_held_out,
    clip_scores,
    cpu_name,
    image_metrics,
    load_models,
    method_label,
    model_method,
    motion_flicker,
    optional_import,
    print_notes,
    run_guarded,
    write_text,
)
from restore.data.photos import CLIP_FRAMES, EVAL_PHOTOS, load_rgb, pan_zoom_clip
from restore.errors import MissingDependency

SIGMAS = (15, 25, 30, 50)
QUICK_IMAGES = ("chelsea", "motorcycle_left", "camera")
GRADIO_VIDEOS = ("a.mp4", "b.mp4", "world.mp4")


@dataclass
class Row:
    """One method at one σ, averaged over the test set."""

    part: str        # "image" or "video"
    method: str
    ours: bool
    sigma: float
    psnr: float
    ssim: float
    cpu_s_per_mp: float | None
    wall_s_per_mp: float | None
    items: int
    per_item: dict[str, float] | None = None  # video: PSNR of each clip
    flicker: float | None = None  # video: mean over clips of common.motion_flicker


@dataclass
class Settings:
    quick: bool
    crop: int            # quick mode: centre crops of this side
    video_frames: int
    video_size: tuple[int, int]
    seed: int


# ----------------------------------------------------------------------------- data

def heldout_images(names: tuple[str, ...], settings: Settings) -> list[tuple[str, np.ndarray]]:
    images = [(name, load_rgb(name)) for name in names]
    if settings.quick:
        images = [(name, centre_crop(image, settings.crop, settings.crop)) for name, image in images]
    return images


def gradio_video_dir() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("gradio")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "media_assets" / "videos"
    return folder if folder.is_dir() else None


def read_clip(path: Path, frames: int, max_width: int = 480) -> np.ndarray:
    """The first ``frames`` frames, scaled down (INTER_AREA) to at most ``max_width`` wide."""
    from restore.io.video import read_video

    out = []
    for decoded in read_video(path):
        image = decoded.image
        if image.shape[1] > max_width:
            height = round(image.shape[0] * max_width / image.shape[1] / 2) * 2
            image = cv2.resize(image, (max_width, height), interpolation=cv2.INTER_AREA)
        out.append(image)
        if len(out) == frames:
            break
    return np.stack(out)


def heldout_clips(settings: Settings, notes: list[str]) -> list[tuple[str, np.ndarray]]:
    height, width = settings.video_size
    clips = [(f"pan-{name}", np.stack(pan_zoom_clip(load_rgb(name), settings.video_frames, height, width, seed=i,
                                                    path_frames=CLIP_FRAMES)))
             for i, name in enumerate(VIDEO_PAN_PHOTOS)]
    folder = gradio_video_dir()
    if folder is None:
        notes.append("gradio's sample mp4 files were not found (gradio not installed): video uses the pans only")
        return clips
    for name in GRADIO_VIDEOS:
        clip = read_clip(folder / name, settings.video_frames)
        if settings.quick:
            clip = np.stack([centre_crop(frame, height, width) for frame in clip])
        clips.append((f"gradio-{name}", clip))
    return clips


# ----------------------------------------------------------------------------- methods

def image_methods(models: list, notes: list[str], ensemble: bool = False) -> list[tuple[str, bool, Method, object]]:
    """Our image models (and with ``ensemble`` each one's 8-way self-ensemble, ``<name> ×8``) and the
    classical methods that are installed."""
    methods = []
    for model in models:
        if model.kind == "image":
            methods.append((method_label(model), True, model_method(model), model))
            if ensemble:
                methods.append((f"{method_label(model)} ×8", True, model_method(model, ensemble=True), model))
    for name, fn in IMAGE_METHODS.items():
        try:
            check_available(name)
        except MissingDependency as missing:
            notes.append(str(missing))
            continue
        methods.append((name, False, fn, None))
    return methods


def video_methods(models: list, notes: list[str]) -> list[tuple[str, bool, Method, object]]:
    methods = [(method_label(model), True, model_method(model), model) for model in models if model.kind == "video"]
    methods += [(f"{method_label(model)} per frame", True, model_method(model, per_frames=True), model)
                for model in models if model.kind == "image"]
    methods.append(("OpenCV NLM multi-frame", False, opencv_nlm_multi, None))
    try:
        check_available("CBM3D per frame")
        methods.append(("CBM3D per frame", False, per_frame(cbm3d), None))
    except MissingDependency as missing:
        notes.append(str(missing))
    return methods


# ----------------------------------------------------------------------------- runs

def timed(fn: Method, noisy: np.ndarray, sigma: float) -> tuple[np.ndarray, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn(noisy, sigma)
    return out, time.process_time() - cpu, time.perf_counter() - wall


def evaluate_method(fn, cleans: list[np.ndarray], noisy_set: list[np.ndarray], sigma: float,
                    score, progress, flicker=None
                    ) -> tuple[float, float, float, float, np.ndarray, list[float], float | None]:
    """Mean PSNR, mean SSIM, CPU and wall seconds per megapixel of one method, its first output,
    the PSNR of each item and, given a ``flicker(clean, out)`` figure, its mean over items.

    Images are (H, W, 3) and clips (T, H, W, 3): the pixels counted are all but the channel axis.
    """
    scores, flickers, cpu, wall, pixels, first = [], [], 0.0, 0.0, 0, None
    for clean, noisy in zip(cleans, noisy_set):
        out, cpu_s, wall_s = timed(fn, noisy, sigma)
        scores.append(score(clean, out))
        if flicker is not None:
            flickers.append(flicker(clean, out))
        cpu, wall, pixels = cpu + cpu_s, wall + wall_s, pixels + int(np.prod(clean.shape[:-1]))
        first = out if first is None else first
        progress.update(1)
    psnr, ssim = np.mean(scores, axis=0)
    return (psnr, ssim, cpu / pixels * 1e6, wall / pixels * 1e6, first, [float(item[0]) for item in scores],
            float(np.mean(flickers)) if flickers else None)


def run_images(images: list[tuple[str, np.ndarray]], sigmas: tuple[float, ...], methods: list, seed: int,
               example_sigma: float, progress) -> tuple[list[Row], dict[str, np.ndarray]]:
    """Every method on every (image, σ); returns averaged rows and the first image's outputs at example σ."""
    rows, example = [], {}
    for sigma in sigmas:
        noisy_set = [add_noise_uint8(clean, sigma, [seed, int(sigma * 100), index])
                     for index, (_, clean) in enumerate(images)]
        scores = [image_metrics(clean, noisy) for (_, clean), noisy in zip(images, noisy_set)]
        rows.append(Row("image", "noisy input", False, sigma, *np.mean(scores, axis=0), None, None, len(images)))
        if sigma == example_sigma:
            example["clean"], example["noisy input"] = images[0][1], noisy_set[0]
        for name, ours, fn, model in methods:
            if model is not None and not accepts_sigma(model, sigma):
                progress.update(len(images))
                continue
            *measured, first_out, _, _ = evaluate_method(fn, [c for _, c in images], noisy_set, sigma,
                                                         image_metrics, progress)
            if sigma == example_sigma and name not in example:
                example[name] = first_out
            rows.append(Row("image", name, ours, sigma, *measured, len(images)))
    return rows, example


def run_videos(clips: list[tuple[str, np.ndarray]], sigma: float, methods: list, seed: int, progress) -> list[Row]:
    rows = []
    noisy_set = [add_noise_uint8(clip, sigma, [seed, int(sigma * 100), 1000 + index])
                 for index, (_, clip) in enumerate(clips)]
    names = [name for name, _ in clips]
    scores = [clip_scores(clean, noisy) for (_, clean), noisy in zip(clips, noisy_set)]
    noisy_flicker = float(np.mean([motion_flicker(clean, noisy) for (_, clean), noisy in zip(clips, noisy_set)]))
    rows.append(Row("video", "noisy input", False, sigma, *np.mean(scores, axis=0), None, None, len(clips),
                    dict(zip(names, (float(item[0]) for item in scores))), noisy_flicker))
    for name, ours, fn, model in methods:
        if model is not None and not accepts_sigma(model, sigma):
            progress.update(len(clips))
            continue
        *measured, _, per_clip, flicker = evaluate_method(fn, [c for _, c in clips], noisy_set, sigma, clip_scores,
                                                          progress, flicker=motion_flicker)
        rows.append(Row("video", name, ours, sigma, *measured, len(clips), dict(zip(names, per_clip)), flicker))
    return rows


# ----------------------------------------------------------------------------- reports

def _fmt_time(value: float | None) -> str:
    return "–" if value is None else (f"{value:.3g}" if value < 100 else f"{value:.0f}")


def markdown(rows: list[Row], notes: list[str], header: str) -> str:
    """One table per part: PSNR / SSIM for each σ side by side, then time per megapixel."""
    lines = [header, ""]
    for part in ("image", "video"):
        part_rows = [row for row in rows if row.part == part]
        if not part_rows:
            continue
        sigmas = sorted({row.sigma for row in part_rows})
        methods = list(dict.fromkeys(row.method for row in part_rows))
        lines += [f"**{'Images' if part == 'image' else 'Video'}** ({part_rows[0].items} "
                  f"{'images' if part == 'image' else 'clips'}; PSNR dB / SSIM)", ""]
        flickers = part == "video"  # one σ: its flicker beside its PSNR
        lines.append("| method | " + " | ".join(f"σ={s:g}" for s in sigmas) + " | flicker" * flickers
                     + " | CPU s/MP | wall s/MP |")
        lines.append("|---|" + "---:|" * (len(sigmas) + 2 + flickers))
        for method in methods:
            by_sigma = {row.sigma: row for row in part_rows if row.method == method}
            cells = [f"{by_sigma[s].psnr:.2f} / {by_sigma[s].ssim:.3f}" if s in by_sigma else "–" for s in sigmas]
            timed_rows = [row for row in by_sigma.values() if row.cpu_s_per_mp is not None]
            cpu = np.mean([row.cpu_s_per_mp for row in timed_rows]) if timed_rows else None
            wall = np.mean([row.wall_s_per_mp for row in timed_rows]) if timed_rows else None
            name = f"**{method}** (ours)" if by_sigma[next(iter(by_sigma))].ours else method
            if flickers:
                values = [row.flicker for row in by_sigma.values() if row.flicker is not None]
                cells.append(f"{np.mean(values):.2f}" if values else "–")
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {_fmt_time(cpu)} | {_fmt_time(wall)} |")
        lines.append("")
    lines += per_clip_table([row for row in rows if row.part == "video" and row.per_item])
    if notes:
        lines += ["Notes:", ""] + [f"- {note}" for note in notes] + [""]
    return "\n".join(lines)


def per_clip_table(rows: list[Row]) -> list[str]:
    """Each clip's PSNR: where temporal information pays off shows clip by clip."""
    if not rows:
        return []
    clips = list(rows[0].per_item)
    lines = [f"**Video, per clip** (σ={rows[0].sigma:g}; PSNR dB)", "",
             "| method | " + " | ".join(clips) + " |", "|---|" + "---:|" * len(clips)]
    for row in rows:
        name = f"**{row.method}** (ours)" if row.ours else row.method
        lines.append(f"| {name} | " + " | ".join(f"{row.per_item[clip]:.2f}" for clip in clips) + " |")
    return lines + [""]


def can_plot(notes: list[str]) -> bool:
    """Whether matplotlib is there to draw the figures; if not, a note says how to get it."""
    try:
        optional_import("matplotlib", "psnr_vs_time.png and comparison.png")
    except MissingDependency as missing:
        notes.append(str(missing))
        return False
    return True


# ----------------------------------------------------------------------------- CLI

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("results/quality"),
                        help="folder for results.md/.json and the PNGs (default: results/quality)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="(default) a few images, centre crops, short clips")
    mode.add_argument("--full", action="store_true", help="every held-out image whole, longer clips")
    parser.add_argument("--model", action="append", help="a model name, card or weight file (repeatable); "
                        "default: every model registered in --weights-dir")
    parser.add_argument("--weights-dir", type=Path, default=None)
    parser.add_argument("--images", help=f"comma-separated held-out images (default quick: {','.join(QUICK_IMAGES)}; "
                        f"full: all of {','.join(EVAL_PHOTOS)})")
    parser.add_argument("--sigmas", default=",".join(map(str, SIGMAS)), help="comma-separated, 0-255 scale")
    parser.add_argument("--crop", type=int, default=128, help="quick mode: side of the centre crops")
    parser.add_argument("--plot-sigma", type=float, default=30, help="σ of the plot and the comparison crop")
    parser.add_argument("--video-sigma", type=float, default=30)
    parser.add_argument("--video-frames", type=int, default=None, help="frames per clip (quick 7, full 20)")
    parser.add_argument("--no-video", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads (bm3d uses its own)")
    parser.add_argument("--precision", default="fp32",
                        help="comma-separated precisions of our models, one row each (fp32, bf16, auto)")
    parser.add_argument("--ensemble", action="store_true",
                        help="also run each image model's 8-way flip/rotation self-ensemble (rows '<name> ×8')")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> tuple[Settings, tuple[str, ...], tuple[float, ...]]:
    quick = not args.full
    names = tuple(args.images.split(",")) if args.images else (QUICK_IMAGES if quick else EVAL_PHOTOS)
    check_held_out(names, "--images", "images")
    try:
        sigmas = tuple(float(s) for s in args.sigmas.split(","))
    except ValueError:
        raise BenchmarkError(f"--sigmas must be numbers separated by commas, got {args.sigmas!r}") from None
    if any(not 0 < s <= 255 for s in (*sigmas, args.video_sigma)):
        raise BenchmarkError("every σ must be in (0, 255]")
    if args.crop < 16 or args.threads < 1 or (args.video_frames is not None and args.video_frames < 1):
        raise BenchmarkError("--crop must be at least 16, --threads and --video-frames at least 1")
    unknown = set(args.precision.split(",")) - {"auto", "fp32", "bf16"}
    if unknown:
        raise BenchmarkError(f"--precision: {', '.join(sorted(unknown))} unknown; choose from fp32, bf16, auto")
    frames = args.video_frames or (7 if quick else 20)
    size = (min(args.crop, 64), min(args.crop, 96)) if quick else (256, 384)
    return Settings(quick, args.crop, frames, size, args.seed), names, sigmas


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    notes: list[str] = []
    with bad_input():
        settings, names, sigmas = settings_from(args)
        import torch
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
        models = load_models(args.model, args.weights_dir, notes, tuple(args.precision.split(",")))
        images = heldout_images(names, settings)
        methods = image_methods(models, notes, ensemble=args.ensemble)
        clips = [] if args.no_video else heldout_clips(settings, notes)
        vmethods = [] if args.no_video else video_methods(models, notes)
        plots = can_plot(notes)
        args.out.mkdir(parents=True, exist_ok=True)  # before the long run: a bad --out fails now
    print_notes(notes)
    total = len(images) * len(sigmas) * len(methods) + len(clips) * len(vmethods)
    with tqdm(total=total, desc="denoising", unit="run") as progress:
        rows, example = run_images(images, sigmas, methods, settings.seed, args.plot_sigma, progress)
        rows += run_videos(clips, args.video_sigma, vmethods, settings.seed, progress) if clips else []
    mode = "quick (centre crops)" if settings.quick else "full"
    sizes = sorted({f"{image.shape[1]}×{image.shape[0]}" for _, image in images})
    header = (f"Held-out images: {', '.join(names)} ({mode}; sizes {', '.join(sizes)}); Gaussian σ "
              f"{', '.join(f'{s:g}' for s in sigmas)}, seed {settings.seed}, noisy inputs quantised to uint8; "
              f"{args.threads} thread(s) on {cpu_name()}; time per megapixel is the mean over σ.")
    if clips:
        header += f" Video: {len(clips)} clips of {settings.video_frames} frames, σ {args.video_sigma:g}."
    report = markdown(rows, notes, header)
    write_text(args.out / "results.md", report)
    write_text(args.out / "results.json", json.dumps({"header": header, "notes": notes,
                                                      "rows": [asdict(row) for row in rows]}, indent=2) + "\n")
    written = ["results.json"]
    if plots:
        from restore.benchmarks import plots as figures

        figures.psnr_vs_time(rows, args.plot_sigma, f"Held-out images, sigma {args.plot_sigma:g} ({mode})",
                             args.out / "psnr_vs_time.png")
        written.append("psnr_vs_time.png")
        if example:
            figures.comparison_strip(example, args.out / "comparison.png", side=min(96, settings.crop))
            written.append("comparison.png")
    print(report)
    print(f"wrote {args.out / 'results.md'}, {', '.join(written)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_guarded(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

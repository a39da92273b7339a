"""What the benchmarks share: their options and error, the held-out photos with seeded noise,
our published models as methods, the scores, and the reports they write.

Every benchmark's ``main`` parses its arguments and runs under ``restore.errors.run_cli``:
a :class:`BenchmarkError` (or any other ``RestoreError``) is one ``error:`` line and exit 2.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import numpy as np

from restore.errors import MissingDependency, RestoreError

BENCHMARK_REQUIREMENTS = "requirements-benchmark.txt"
# Held-out photos that the video parts pan over, and still shots copy.
VIDEO_PAN_PHOTOS = ("chelsea", "motorcycle_left", "camera")
Method = Callable[[np.ndarray, float], np.ndarray]


# ----------------------------------------------------------------------------- options and errors

class BenchmarkError(RestoreError):
    """Bad arguments or an unusable model; the message is for the user."""


@contextmanager
def bad_input() -> Iterator[None]:
    """What fails while a benchmark reads its arguments, photos and models (a bad ``--out``, an
    unreadable file) is the user's to fix: it leaves as a :class:`BenchmarkError`."""
    try:
        yield
    except RestoreError:
        raise
    except (OSError, ValueError) as error:
        raise BenchmarkError(str(error)) from error


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model/--weights-dir (which published models), --threads, --seed and --out (a Markdown table)."""
    parser.add_argument("--model", action="append", help="a model name or card (repeatable); default: all registered")
    parser.add_argument("--weights-dir", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this Markdown file")


def check_out_file(out: Path | None, example: str) -> None:
    """``--out`` names a file: refuse a folder before the long run."""
    if out is not None and out.is_dir():
        raise BenchmarkError(f"--out {out} is a folder; give a file name such as {out / example}")


def optional_import(module: str, what: str) -> ModuleType:
    """Import an optional package of the benchmarks, or raise ``MissingDependency`` naming what is skipped."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(f"{what} skipped: the optional package '{module}' is not installed "
                                f"(pip install -r {BENCHMARK_REQUIREMENTS})") from None


def cpu_name() -> str:
    """The CPU model, its logical cores and the flags that decide bf16 speed, as ``lscpu`` reports them."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU"
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                 "unknown CPU")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    shown = [flag for flag in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if flag in flags]
    return f"{model} ({os.cpu_count()} logical cores; {', '.join(shown) or 'no AVX2'})"


# ----------------------------------------------------------------------------- photos and noise

def check_held_out(names: tuple[str, ...] | list[str], option: str, noun: str,
                   used: str = "were used in training, so are not held-out {noun}") -> None:
    """Refuse names that are not held-out photos: a benchmark on training photos would flatter us.
    ``used`` says why a training photo is refused."""
    from restore.data.photos import EVAL_PHOTOS, TRAIN_PHOTOS

    unknown = [name for name in names if name not in EVAL_PHOTOS]
    if unknown:
        trained = [name for name in unknown if name in TRAIN_PHOTOS]
        reason = f"{trained} {used.format(noun=noun)}" if trained else f"{unknown} are not held-out {noun}"
        raise BenchmarkError(f"{option}: {reason}; choose from {', '.join(EVAL_PHOTOS)}")


def centre_crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
    top, left = max((image.shape[0] - height) // 2, 0), max((image.shape[1] - width) // 2, 0)
    return image[top:top + height, left:left + width]


def add_noise_uint8(clean: np.ndarray, sigma: float, seed: list[int]) -> np.ndarray:
    """clean + N(0, σ), rounded and clipped to uint8 (a noisy file as a user has it)."""
    from restore.noise.gaussian import noisy_pixels

    return noisy_pixels(clean, sigma, np.random.default_rng(seed))


def still_shot(clean: np.ndarray, frames: int, sigma: float, seed: list[int]) -> np.ndarray:
    """``frames`` noisy uint8 copies of one image, each with its own noise."""
    return np.stack([add_noise_uint8(clean, sigma, [*seed, frame]) for frame in range(frames)])


# ----------------------------------------------------------------------------- our models

def load_models(specs: list[str] | None, weights_dir: Path | None, notes: list[str],
                precisions: tuple[str, ...] = ("fp32",), noise: str = "gaussian") -> list:
    """Denoisers for ``--model`` names/paths, or every registered card, once per precision;
    [] (with a note) if none. A model made for other noise than the benchmark's ``noise`` gets a note."""
    from restore.api import Denoiser, default_weights_dir
    from restore.io.weights_card import list_cards

    folder = weights_dir or default_weights_dir()
    if not specs:
        specs = [str(card.path) for card in list_cards(folder)]
    models = [Denoiser.from_pretrained(spec, weights_dir=folder, device="cpu", precision=precision)
              for precision in precisions for spec in specs]
    if not models:
        notes.append(f"no trained model is registered in {folder}: only the classical methods are compared "
                     "(publish one with `python -m restore.save_weights ... --register`, or pass --model CARD.json)")
    for model in models:
        model.warm_up()  # lazy kernel set-up stays out of the timings
        if model.card.noise["type"] != noise:
            made_for = model.card.noise_model.describe(model.card.noise)
            notes.append(f"{model.name} was made for {made_for}, not for the {noise} noise of this benchmark: "
                         "its numbers say what a user who picks it for this noise gets")
    return models


def model_method(model, per_frames: bool = False, ensemble: bool = False) -> Method:
    """Our Denoiser as a method; Gaussian models get σ, real-noise models none; ``ensemble``: the
    8-way flip and rotation self-ensemble of an image model."""
    def run(noisy: np.ndarray, sigma: float) -> np.ndarray:
        level = sigma if model.card.is_gaussian else None
        if model.kind == "video":
            return model.denoise_video(noisy, sigma=level)
        if per_frames:
            return np.stack([model(frame, sigma=level, ensemble=ensemble) for frame in noisy])
        return model(noisy, sigma=level, ensemble=ensemble)
    return run


def method_label(model) -> str:
    """The model's name, and its precision where that is not fp32."""
    return model.name if model.precision == "fp32" else f"{model.name} ({model.precision})"


def accepts_sigma(model, sigma: float) -> bool:
    low_high = model.card.sigma_range
    return low_high is None or low_high[0] <= sigma <= low_high[1]


# ----------------------------------------------------------------------------- scores

def image_metrics(clean: np.ndarray, out: np.ndarray) -> tuple[float, float]:
    """(PSNR, SSIM) of a uint8 output against the clean image, as BasicSR scores them."""
    from restore.inference.metrics import psnr, ssim

    return psnr(out, clean), ssim(out, clean)


def clip_scores(clean: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Mean (PSNR, SSIM) over the frames of a (T, H, W, 3) clip: per frame, then per clip."""
    return np.mean([image_metrics(c, o) for c, o in zip(clean, out)], axis=0)


# Flicker: what a viewer of a denoised video sees before any PSNR, frame-to-frame change that the
# scene does not have. Both figures are on the 0-255 scale; 0 is a perfectly steady output.

def still_flicker(out: np.ndarray) -> float:
    """Flicker of a still shot's output (T, H, W, C): the mean over pixels of its standard
    deviation over time (the scene does not change, so every change is flicker)."""
    return float(out.astype(np.float64).std(axis=0).mean())


def motion_flicker(clean: np.ndarray, out: np.ndarray) -> float:
    """Flicker of a moving clip's output: the RMSE of its consecutive-frame differences against
    the clean clip's (the change the scene has is kept out of the figure)."""
    change, truth = np.diff(out.astype(np.float64), axis=0), np.diff(clean.astype(np.float64), axis=0)
    return float(np.sqrt(np.mean((change - truth) ** 2)))


# ----------------------------------------------------------------------------- reports

def write_text(path: Path, text: str) -> None:
    """Write ``text`` through a sibling temporary file and a rename: never half a report."""
    from restore.io.temp_files import replace_atomically

    replace_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def print_report(report: str, out: Path | None) -> int:
    """Print a Markdown report and, given ``out``, write it there too; the exit status."""
    print(report)
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            write_text(out, report)
        except OSError as error:
            raise BenchmarkError(f"cannot write {out}: {error}") from None
    return 0


def run_guarded(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """``run(args)`` under the entry points' guard: one ``error:`` line and exit 2 for bad input."""
    from restore.errors import run_cli

    return run_cli(lambda: run(args), on_stop="no report was written")


def print_notes(notes: list[str]) -> None:
    """What a run skipped or could not do, one ``note:`` line each on stderr."""
    for note in notes:
        print(f"note: {note}", file=sys.stderr)

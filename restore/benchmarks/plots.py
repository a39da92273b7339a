"""The quality benchmark's figures, drawn with matplotlib (the ``[bench]`` extra, imported here
only): PSNR against CPU time per megapixel, and a strip of crops of each method's output.

Both are written through a sibling temporary file and a rename, at a fixed size in pixels.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from restore.benchmarks.common import centre_crop, image_metrics, optional_import

DPI = 100
OURS, THEIRS = "#c82828", "#285ac8"  # our models red, the classical methods blue


def new_figure(width_px: int, height_px: int):
    """A matplotlib figure on its own Agg canvas: no pyplot, no display, no global state;
    ``MissingDependency`` without matplotlib."""
    optional_import("matplotlib", "the plots")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path: Path) -> None:
    from restore.io.temp_files import replace_atomically

    replace_atomically(path, lambda tmp: figure.savefig(tmp, format="png", dpi=DPI))


def psnr_vs_time(rows: list, sigma: float, title: str, path: Path) -> None:
    """PSNR against CPU s/MP (log scale) of every timed image method at one σ, 820 × 520 px.

    Labels are placed from the best PSNR down; one that would overlap a placed label moves
    down, with a leader line to its point."""
    points = [row for row in rows if row.part == "image" and row.sigma == sigma and row.cpu_s_per_mp]
    figure = new_figure(820, 520)
    axes = figure.subplots()
    figure.subplots_adjust(left=0.09, right=0.76, top=0.9, bottom=0.12)
    axes.set_title(title, loc="left", fontsize=11)
    axes.set_xlabel("CPU seconds per megapixel (log scale)")
    axes.set_ylabel("PSNR (dB)")
    if not points:
        axes.text(0.5, 0.5, "no timed method at this sigma", transform=axes.transAxes, ha="center")
        _save(figure, path)
        return
    times = np.array([max(row.cpu_s_per_mp, 1e-4) for row in points])
    psnrs = np.array([row.psnr for row in points])
    axes.set_xscale("log")
    low, high = np.floor(np.log10(times.min())), np.ceil(np.log10(times.max()))
    axes.set_xlim(10 ** low, 10 ** max(high, low + 1))
    axes.set_ylim(np.floor(psnrs.min() - 0.5), np.ceil(psnrs.max() + 0.5))
    axes.grid(True, which="major", alpha=0.3)
    renderer = figure.canvas.get_renderer()
    placed = []
    for index in np.argsort(-psnrs):
        row, colour = points[index], OURS if points[index].ours else THEIRS
        axes.scatter(times[index], psnrs[index], s=50, color=colour, zorder=3)
        point, offset = (times[index], psnrs[index]), (9, -4)
        label = axes.annotate(row.method, point, xytext=offset, textcoords="offset points", fontsize=9)
        box = label.get_window_extent(renderer)
        while any(box.overlaps(other) for other in placed):
            label.xyann = (offset[0], label.xyann[1] - box.height * 72 / DPI - 2)
            box = label.get_window_extent(renderer)
        label.remove()
        moved = label.xyann != offset
        leader = dict(arrowstyle="-", color=colour, lw=0.8, relpos=(0, 0.5), shrinkA=1, shrinkB=4)
        axes.annotate(row.method, point, xytext=label.xyann, textcoords="offset points", fontsize=9, color=colour,
                      arrowprops=leader if moved else None)
        placed.append(box)
    _save(figure, path)


def comparison_strip(example: dict[str, np.ndarray], path: Path, side: int = 96, zoom: int = 2) -> None:
    """Centre crops of the clean image, the noisy input and each method's output, side by side
    (``zoom`` × ``side`` px each, 4 px apart), each under its name and PSNR."""
    label_px, gap = 40, 4
    clean = example["clean"]
    crops = {name: centre_crop(image, side, side) for name, image in example.items()}
    height, width = next(iter(crops.values())).shape[:2]
    panel_w, panel_h = width * zoom, height * zoom
    total_w, total_h = len(crops) * (panel_w + gap) - gap, panel_h + label_px
    figure = new_figure(total_w, total_h)
    for index, (name, crop) in enumerate(crops.items()):
        left = index * (panel_w + gap)
        axes = figure.add_axes((left / total_w, 0, panel_w / total_w, panel_h / total_h))
        axes.imshow(crop, interpolation="nearest")
        axes.set_axis_off()
        text = name[:30] if name == "clean" else f"{name[:30]}\n{image_metrics(clean, example[name])[0]:.2f} dB"
        figure.text((left + 3) / total_w, 1 - 3 / total_h, text, va="top", fontsize=7)
    _save(figure, path)

"""restore.benchmarks.quality in --quick mode on tiny crops: classical methods, a tiny
published image model and a tiny video model, report files, figures, clear messages."""
import importlib
import json

import cv2
import numpy as np
import pytest

from restore.benchmarks import classical as classical_denoisers
from restore.benchmarks import common
from restore.benchmarks import quality as benchmark_quality

NO_BM3D = "CBM3D skipped: the optional package 'bm3d' is not installed (pip install -r requirements-benchmark.txt)"


def without(monkeypatch, *modules: str) -> None:
    """The benchmarks' optional imports of ``modules`` fail, as when they are not installed."""
    real = importlib.import_module

    def fake(name, *args, **kwargs):
        if name in modules:
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(common.importlib, "import_module", fake)


@pytest.fixture
def without_bm3d(monkeypatch):
    without(monkeypatch, "bm3d")


def methods(table: list[dict[str, str]]) -> list[str]:
    return [row["method"] for row in table]


def test_quick_run_with_models_writes_tables_and_plots(weights_dir, tmp_path, capsys, without_bm3d,
                                                        markdown_tables):
    out = tmp_path / "quality"
    code = benchmark_quality.main(["--out", str(out), "--weights-dir", str(weights_dir), "--images", "chelsea,camera",
                                   "--sigmas", "15,30", "--crop", "32", "--video-frames", "3"])
    assert code == 0
    err = capsys.readouterr().err
    assert NO_BM3D in err
    report = (out / "results.md").read_text()
    images, videos, per_clip = markdown_tables(report)
    assert NO_BM3D in report
    assert methods(images) == ["noisy input", "**tiny_image** (ours)", "OpenCV NLM", "skimage NLM"]
    assert methods(videos) == ["noisy input", "**tiny_video** (ours)", "**tiny_image per frame** (ours)",
                              "OpenCV NLM multi-frame"]
    assert list(images[0]) == ["method", "σ=15", "σ=30", "CPU s/MP", "wall s/MP"]
    assert list(videos[0]) == ["method", "σ=30", "flicker", "CPU s/MP", "wall s/MP"]
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert {(r["part"], r["sigma"]) for r in rows} == {("image", 15.0), ("image", 30.0), ("video", 30.0)}
    by = {(r["part"], r["method"], r["sigma"]): r for r in rows}
    noisy, nlm = by[("image", "noisy input", 30.0)], by[("image", "skimage NLM", 30.0)]
    assert 15 < noisy["psnr"] < 25 and nlm["psnr"] > noisy["psnr"] + 2  # real denoising on real photos
    assert by[("video", "tiny_video", 30.0)]["items"] == 6  # 3 pans + a.mp4, b.mp4, world.mp4
    clips = ["pan-chelsea", "pan-motorcycle_left", "pan-camera", "gradio-a.mp4", "gradio-b.mp4", "gradio-world.mp4"]
    assert list(by[("video", "tiny_video", 30.0)]["per_item"]) == clips
    video = by[("video", "OpenCV NLM multi-frame", 30.0)]
    assert np.mean(list(video["per_item"].values())) == pytest.approx(video["psnr"])
    # flicker of the moving clips: fresh noise in every frame flickers by about σ√2, denoising calms it
    assert 30 < by[("video", "noisy input", 30.0)]["flicker"] < 30 * 2 ** 0.5 + 1
    assert video["flicker"] < by[("video", "noisy input", 30.0)]["flicker"] / 2
    assert {row["method"]: float(row["flicker"]) for row in videos}["OpenCV NLM multi-frame"] == pytest.approx(
        video["flicker"], abs=0.006)
    assert all(r["flicker"] is None for r in rows if r["part"] == "image")
    assert list(per_clip[0]) == ["method", *clips] and methods(per_clip) == methods(videos)
    for row in per_clip:  # the table's cells are the JSON's numbers
        name = row["method"].removeprefix("**").removesuffix("** (ours)")
        assert [float(row[clip]) for clip in clips] == pytest.approx(
            list(by[("video", name, 30.0)]["per_item"].values()), abs=0.006)
    assert all(r["cpu_s_per_mp"] > 0 for r in rows if r["method"] != "noisy input")
    plot = cv2.imread(str(out / "psnr_vs_time.png"))
    strip = cv2.imread(str(out / "comparison.png"))
    assert plot.shape == (520, 820, 3) and plot.std() > 5
    # clean, noisy and 3 methods, each a 2x zoom of a 32² crop under a 40 px label, 4 px apart
    assert strip.shape == (40 + 64, 5 * 64 + 4 * 4, 3) and strip.std() > 5


def test_pans_move_as_the_training_pans_whatever_the_clip_length():
    settings = benchmark_quality.Settings(quick=False, crop=64, video_frames=3, video_size=(64, 96), seed=0)
    longer = benchmark_quality.Settings(quick=False, crop=64, video_frames=7, video_size=(64, 96), seed=0)
    short = dict(benchmark_quality.heldout_clips(settings, []))
    long = dict(benchmark_quality.heldout_clips(longer, []))
    assert np.array_equal(short["pan-chelsea"], long["pan-chelsea"][:3])


def test_without_models_it_says_so_and_runs_the_classical_methods(tmp_path, capsys, without_bm3d,
                                                                   markdown_tables):
    empty = tmp_path / "weights"
    empty.mkdir()
    out = tmp_path / "quality"
    code = benchmark_quality.main(["--out", str(out), "--weights-dir", str(empty), "--images", "coins",
                                   "--sigmas", "25", "--crop", "32", "--no-video", "--plot-sigma", "25"])
    assert code == 0
    assert f"no trained model is registered in {empty}" in capsys.readouterr().err
    report = (out / "results.md").read_text()
    (images,) = markdown_tables(report)  # no video table
    assert methods(images) == ["noisy input", "OpenCV NLM", "skimage NLM"]
    assert (out / "psnr_vs_time.png").is_file() and (out / "comparison.png").is_file()


def test_without_matplotlib_it_says_so_and_writes_the_tables(tmp_path, capsys, monkeypatch):
    without(monkeypatch, "bm3d", "matplotlib")
    out = tmp_path / "quality"
    assert benchmark_quality.main(["--out", str(out), "--weights-dir", str(tmp_path), "--images", "coins",
                                   "--sigmas", "25", "--crop", "32", "--no-video", "--plot-sigma", "25"]) == 0
    captured = capsys.readouterr()
    assert "psnr_vs_time.png and comparison.png skipped: the optional package 'matplotlib'" in captured.err
    assert sorted(path.name for path in out.iterdir()) == ["results.json", "results.md"]
    assert f"wrote {out / 'results.md'}, results.json\n" in captured.out


@pytest.mark.parametrize("argv, message", [
    (["--images", "astronaut"], "were used in training"),
    (["--images", "nope"], "are not held-out images"),
    (["--sigmas", "30,x"], "--sigmas must be numbers"),
    (["--sigmas", "0"], "every σ must be in (0, 255]"),
    (["--model", "no_such_model"], "unknown model 'no_such_model'"),
    (["--precision", "fp32,fp8"], "--precision: fp8 unknown"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message, tmp_path, capsys):
    out = tmp_path / "quality"
    assert benchmark_quality.main(["--out", str(out), "--weights-dir", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not out.exists()


def test_noise_is_seeded_and_quantised():
    clean = np.full((8, 8, 3), 128, np.uint8)
    first = benchmark_quality.add_noise_uint8(clean, 30, [0, 3000, 1])
    assert first.dtype == np.uint8 and np.array_equal(first, benchmark_quality.add_noise_uint8(clean, 30, [0, 3000, 1]))
    assert not np.array_equal(first, benchmark_quality.add_noise_uint8(clean, 30, [0, 3000, 2]))
    assert 20 < first.astype(float).std() < 40


def test_cbm3d_when_installed():
    pytest.importorskip("bm3d")
    from skimage import data
    clean = cv2.resize(data.chelsea(), (48, 32), interpolation=cv2.INTER_AREA)
    noisy = benchmark_quality.add_noise_uint8(clean, 30, [0])
    out = classical_denoisers.cbm3d(noisy, 30)
    psnr = benchmark_quality.image_metrics
    assert out.dtype == np.uint8 and psnr(clean, out)[0] > psnr(clean, noisy)[0] + 3


def test_each_precision_is_a_row_of_its_own(weights_dir, tmp_path, without_bm3d):
    out = tmp_path / "quality"
    code = benchmark_quality.main(["--out", str(out), "--weights-dir", str(weights_dir), "--images", "chelsea",
                                   "--sigmas", "30", "--crop", "32", "--no-video", "--precision", "fp32,bf16"])
    assert code == 0
    by = {r["method"]: r for r in json.loads((out / "results.json").read_text())["rows"]}
    assert abs(by["tiny_image (bf16)"]["psnr"] - by["tiny_image"]["psnr"]) < 0.5  # the same model, rounded


def test_the_ensemble_is_a_row_beside_its_model_with_its_gain_and_cost(weights_dir, tmp_path, without_bm3d):
    out = tmp_path / "quality"
    code = benchmark_quality.main(["--out", str(out), "--weights-dir", str(weights_dir), "--images", "chelsea",
                                   "--sigmas", "30", "--crop", "32", "--no-video", "--ensemble"])
    assert code == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    names = [r["method"] for r in rows]
    assert names.index("tiny_image ×8") == names.index("tiny_image") + 1
    by = {r["method"]: r for r in rows}
    plain, ensemble = by["tiny_image"], by["tiny_image ×8"]
    assert ensemble["psnr"] != plain["psnr"] and ensemble["cpu_s_per_mp"] > 2 * plain["cpu_s_per_mp"]

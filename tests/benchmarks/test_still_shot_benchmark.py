"""restore.benchmarks.still_shot on small crops with the bundled weights: the noise of each
frame is independent, the table names every method with its PSNR and flicker, bad arguments
get a clear message; the flicker figures themselves."""
import math

import numpy as np
import pytest

from restore.benchmarks import still_shot as benchmark_still_shot
from restore.benchmarks.common import motion_flicker, still_flicker
from restore.data.photos import load_rgb, pan_zoom_clip


def test_flicker_is_zero_on_identical_frames_and_grows_with_per_frame_noise():
    still = np.stack([load_rgb("chelsea")[:48, :64]] * 7)
    pan = np.stack(pan_zoom_clip(load_rgb("chelsea"), 7, 48, 64, seed=0))
    assert still_flicker(still) == 0 and motion_flicker(still, still) == 0
    assert motion_flicker(pan, pan) == 0 < still_flicker(pan)  # the scene's own motion is not flicker
    assert motion_flicker(pan, np.clip(pan.astype(int) + 5, 0, 255)) < 0.5  # nor a change the frames share
    rng = np.random.default_rng(0)
    figures = []
    for amount in (1, 3, 10):
        figures.append([still_flicker(np.clip(still + rng.normal(0, amount, still.shape), 0, 255)),
                        motion_flicker(pan, np.clip(pan + rng.normal(0, amount, pan.shape), 0, 255))])
    figures = np.array(figures)
    assert (np.diff(figures, axis=0) > 0).all()
    # fresh noise of σ in each frame: a standard deviation of about σ over time, differences of about σ√2
    assert figures[1] == pytest.approx([3, 3 * math.sqrt(2)], rel=0.15)


def test_frames_carry_independent_noise():
    clean = load_rgb("coins")[:64, :64]
    noisy = benchmark_still_shot.still_shot(clean, 7, 30, [0, 3000, 1])
    assert noisy.shape == (7, 64, 64, 3) and noisy.dtype == np.uint8
    residuals = noisy.astype(float) - clean
    assert abs(np.corrcoef(residuals[0].ravel(), residuals[1].ravel())[0, 1]) < 0.05
    assert np.array_equal(noisy, benchmark_still_shot.still_shot(clean, 7, 30, [0, 3000, 1]))  # seeded


@pytest.mark.slow
def test_bundled_models_on_small_still_shots(tmp_path, capsys, markdown_tables):
    out = tmp_path / "still.md"
    assert benchmark_still_shot.main(["--size", "64", "--photos", "chelsea,camera", "--out", str(out)]) == 0
    report = out.read_text()
    assert report in capsys.readouterr().out
    (table,) = markdown_tables(report)
    assert list(table[0]) == ["method", "chelsea", "camera", "mean", "flicker"]
    rows = {row["method"]: [float(row[column]) for column in ("chelsea", "camera", "mean")] for row in table}
    flicker = {row["method"]: row["flicker"] for row in table}
    assert flicker["mean of 7 frames"] == "–"  # one image has no time axis
    assert float(flicker["**uniformer_skipat_gauss** on the 7 frames"]) < float(flicker["one noisy frame"]) / 3
    noisy, mean = rows["one noisy frame"][-1], rows["mean of 7 frames"][-1]
    # averaging 7 frames gives σ/√7 (+8.45 dB); clipping at 0 and 255 takes some of it, repeated noise all of it
    assert 6 < mean - noisy < 10 * math.log10(7) + 0.5
    video = rows["**uniformer_skipat_gauss** on the 7 frames"][-1]
    assert video > noisy + 5
    one_frame = rows["**uformer_t_skipat_gauss** on one frame"][-1]
    on_mean = rows["**uformer_t_skipat_gauss** on the mean, at σ/√7"][-1]
    assert on_mean > max(one_frame, mean) + 1  # the averaging bar: denoising the mean beats both ingredients


def test_bad_arguments_get_a_message(tmp_path, capsys):
    assert benchmark_still_shot.main(["--photos", "astronaut"]) == 2
    assert "not held-out photos" in capsys.readouterr().err
    assert benchmark_still_shot.main(["--frames", "1"]) == 2
    assert "--frames >= 2" in capsys.readouterr().err
    assert benchmark_still_shot.main(["--weights-dir", str(tmp_path)]) == 2
    assert "no Gaussian video model" in capsys.readouterr().err
    assert benchmark_still_shot.main(["--sigma", "80"]) == 2  # the bundled video model covers σ 0-50
    assert "no Gaussian video model for σ 80" in capsys.readouterr().err
    assert benchmark_still_shot.main(["--size", "320"]) == 2  # chelsea is 451×300
    assert "chelsea is 451×300" in capsys.readouterr().err
    assert benchmark_still_shot.main(["--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []

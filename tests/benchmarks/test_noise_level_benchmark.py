"""restore.benchmarks.noise_level: its pure parts, the video cost with a stub model, and the
quick path without the video model."""
import numpy as np
import pytest

from restore.benchmarks import noise_level as benchmark_noise_level


def test_benchmark_pure_parts():
    clean = np.full((32, 32, 3), 128, np.uint8)
    assert np.array_equal(benchmark_noise_level.add_noise(clean, 10, [1, 2]),
                          benchmark_noise_level.add_noise(clean, 10, [1, 2]))
    assert benchmark_noise_level.flat_share(clean) == 1.0 and benchmark_noise_level.is_flat_dominated(clean)
    stripes = np.tile(np.array([0, 255], np.uint8), (32, 16))[..., None].repeat(3, axis=-1)
    assert benchmark_noise_level.flat_share(stripes) == 0.0
    Reading = benchmark_noise_level.Reading
    readings = [Reading("a", 5, 6.0, 9.0), Reading("b", 5, 4.5, 5.0), Reading("a", 15, 15.0, 20.0)]
    rows = benchmark_noise_level.error_summary(readings, (5, 15, 25))
    assert rows == [(5, 2, 0.75, 1.0, 2.0, 4.0), (15, 1, 0.0, 0.0, 5.0, 5.0)]
    assert benchmark_noise_level.clip_psnr(clean[None], clean[None]) == float("inf")
    assert benchmark_noise_level.clip_psnr(clean[None], clean[None] + 1) == pytest.approx(48.13, abs=0.01)


class StubDenoiser:
    """What video_costs needs of a Denoiser: the card's σ range and denoise_video, which
    records the σ it is told and returns the frames unchanged."""

    class card:
        sigma_range = (0.0, 12.0)

    def __init__(self) -> None:
        self.sigmas = []

    def denoise_video(self, frames: np.ndarray, sigma: float) -> np.ndarray:
        self.sigmas.append(sigma)
        return frames


def test_video_cost_clamps_the_estimate_into_the_model_range(monkeypatch):
    monkeypatch.setattr(benchmark_noise_level, "CLIP_FRAMES", 3)
    monkeypatch.setattr(benchmark_noise_level, "CLIP_SIZE", 64)
    denoiser = StubDenoiser()
    (cost,) = benchmark_noise_level.video_costs(denoiser, ("coins",), (15,), seed=0)
    assert cost.estimate > 12 and cost.used == 12.0
    assert denoiser.sigmas == [15, 12.0]  # the true σ, then the clamped estimate
    assert cost.psnr_true == cost.psnr_estimated  # the stub returns its input either way


def test_benchmark_quick_path_without_the_video_model(tmp_path, capsys, monkeypatch, markdown_tables):
    monkeypatch.setattr(benchmark_noise_level, "QUICK_CROP", 128)
    monkeypatch.setattr(benchmark_noise_level, "TIMING_SIZE", (120, 160))
    out = tmp_path / "noise.md"
    assert benchmark_noise_level.main(["--quick", "--photos", "coins", "--no-video", "--out", str(out)]) == 0
    report = out.read_text()
    assert report in capsys.readouterr().out
    every_photo, per_photo = markdown_tables(report)  # coins is not flat-dominated: no table for those
    assert [(row["σ"], row["photos"]) for row in every_photo] == [("5", "1"), ("15", "1"), ("25", "1"), ("30", "1"),
                                                                 ("50", "1")]
    baseline = benchmark_noise_level.has_wavelets()  # scikit-image's estimate needs PyWavelets
    assert all(float(row["ours: mean"]) < 3 and (row["scikit-image: mean"] != "–") == baseline
               for row in every_photo)
    assert [row["photo"] for row in per_photo] == ["coins"]
    assert "ms on a noisy 160×120" in report and "128×128" in report
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind


def test_benchmark_refuses_training_photos(tmp_path, capsys):
    assert benchmark_noise_level.main(["--photos", "astronaut", "--no-video"]) == 2
    assert "tuned the estimator" in capsys.readouterr().err
    assert benchmark_noise_level.main(["--out", str(tmp_path), "--no-video"]) == 2
    assert "is a folder" in capsys.readouterr().err

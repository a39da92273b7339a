"""restore.benchmarks.camera on a tiny set: held-out photos through a camera outside the training
ranges, our models beside the classical methods given the estimated σ, one table."""
import numpy as np
import pytest

from restore.benchmarks import camera
from restore.noise.camera import CameraNoise


def test_the_held_out_camera_lies_outside_every_training_range():
    train, test = CameraNoise(), camera.HELD_OUT_CAMERA
    assert test.ccm_diagonal[0] >= train.ccm_diagonal[1]
    assert test.read_offset > train.read_offset + 0.5
    assert test.jpeg_prob == 1.0 and test.jpeg_quality[1] < train.jpeg_quality[0]


def test_pairs_are_seeded_and_gray_photos_stay_gray():
    clean, noisy = camera.camera_photo("camera", 64, seed=0)
    again = camera.camera_photo("camera", 64, seed=0)[1]
    assert clean.shape == noisy.shape == (64, 64, 3) and noisy.dtype == np.uint8
    assert np.array_equal(noisy, again) and not np.array_equal(noisy, camera.camera_photo("camera", 64, 1)[1])
    assert (noisy[..., 0] == noisy[..., 1]).all() and (clean[..., 0] == clean[..., 2]).all()
    colour_clean, colour_noisy = camera.camera_photo("chelsea", 64, seed=0)
    assert np.abs(colour_noisy.astype(int) - colour_clean).mean() > 2


def test_a_tiny_run_scores_every_method(weights_dir, tmp_path, capsys, markdown_tables, monkeypatch):
    from benchmarks.test_quality_benchmark import without

    without(monkeypatch, "bm3d")
    out = tmp_path / "camera.md"
    code = camera.main(["--weights-dir", str(weights_dir), "--images", "chelsea,camera", "--size", "48",
                        "--out", str(out)])
    assert code == 0
    (table,) = markdown_tables(out.read_text())
    labels = [row["method"] for row in table]
    assert labels == ["noisy input", "**tiny_image**", "OpenCV NLM, estimated σ"]
    nlm = table[2]
    assert float(nlm["PSNR"]) == pytest.approx(float(table[0]["PSNR"]) + float(nlm["gain"]), abs=0.011)
    assert "CBM3D skipped" in out.read_text() and float(nlm["CPU s/MP"]) > 0


@pytest.mark.parametrize("argv, message", [(["--images", "astronaut"], "training"), (["--size", "8"], "--size")])
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys):
    assert camera.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_cbm3d_takes_sigma_0_and_gray_given_as_three_equal_channels():
    """An estimate of 0 on a photo the JPEG has smoothed is a σ a user could be told."""
    pytest.importorskip("bm3d")
    from restore.benchmarks.classical import cbm3d

    noisy = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert np.array_equal(cbm3d(noisy, 0.0), noisy)
    gray = np.repeat(noisy[..., :1], 3, axis=2)  # three equal channels: bm3d_rgb would give NaN
    clean = cbm3d(gray, 10.0)
    assert (clean == clean[..., :1]).all() and 0 < clean.std() < gray.std()

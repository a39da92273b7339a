"""restore.benchmarks.flat_field on small fields with the bundled weights: the statistics are
right on known input, the models leave less than the noise, bad arguments get a clear message."""
import numpy as np
import pytest

from restore.benchmarks import flat_field as benchmark_flat_field


def test_bias_and_rmse_in_levels():
    frames = np.array([[[[10, 10, 10]]], [[[14, 14, 14]]]], dtype=np.uint8)  # errors -2 and +2 around 12
    assert benchmark_flat_field.bias_and_rmse(frames, 12) == (0.0, 2.0)
    assert benchmark_flat_field.bias_and_rmse(frames, 11) == (1.0, np.sqrt(5.0))


def test_flat_clip_is_seeded_and_black_is_biased_by_clipping():
    black = benchmark_flat_field.flat_clip(0, 3, 32, 30, seed=0)
    assert black.shape == (3, 32, 32, 3) and black.dtype == np.uint8
    assert np.array_equal(black, benchmark_flat_field.flat_clip(0, 3, 32, 30, seed=0))
    assert not np.array_equal(black[0], black[1])  # fresh noise in every frame
    bias, _ = benchmark_flat_field.bias_and_rmse(black, 0)
    assert 10 < bias < 14  # E[max(0, N(0, 30))] = 30/sqrt(2 pi) = 11.97
    gray_bias, gray_rmse = benchmark_flat_field.bias_and_rmse(benchmark_flat_field.flat_clip(128, 3, 32, 30, 0), 128)
    assert abs(gray_bias) < 1 and 28 < gray_rmse < 32


@pytest.mark.slow
def test_bundled_models_on_small_fields(tmp_path, capsys, markdown_tables):
    out = tmp_path / "flat.md"
    assert benchmark_flat_field.main(["--size", "32", "--frames", "3", "--levels", "0,128", "--out", str(out)]) == 0
    report = out.read_text()
    assert report in capsys.readouterr().out
    (table,) = markdown_tables(report)
    columns = ["bias @0", "RMSE @0", "bias @128", "RMSE @128"]
    assert list(table[0]) == ["method", *columns]
    rows = {row["method"]: [float(row[column]) for column in columns] for row in table}
    assert set(rows) == {"noisy frames", "**uformer_t_skipat_gauss** on each frame",
                         "**uformer_t_gauss** on each frame", "**uniformer_skipat_gauss** on the 3 frames",
                         "**uniformer_gauss** on the 3 frames"}
    for row, (bias_0, rmse_0, bias_128, rmse_128) in rows.items():
        if row != "noisy frames":  # every model removes most of the noise and of the clipping bias
            assert abs(bias_0) < 3 and rmse_0 < 6 and abs(bias_128) < 2 and rmse_128 < 6


def test_bad_arguments_get_a_message(tmp_path, capsys):
    for argv, message in ((["--levels", "0,300"], "must lie in 0-255"), (["--levels", "gray"], "whole numbers"),
                          (["--frames", "1"], "--frames >= 2"), (["--sigma", "80"], "no Gaussian model for σ 80"),
                          (["--weights-dir", str(tmp_path)], "no Gaussian model"),
                          (["--out", str(tmp_path)], "is a folder")):
        assert benchmark_flat_field.main(argv) == 2
        assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []

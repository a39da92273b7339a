"""The speed benchmark runs end to end and refuses bad arguments (it is a script, not a timed test)."""
from restore.benchmarks import speed as benchmark


def test_benchmark_prints_a_table_for_a_small_run(capsys, markdown_tables):
    assert benchmark.main(["--models", "T", "--size", "64", "--repeats", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("Input 1x3x64x64, device cpu (")  # names the CPU
    (table,) = markdown_tables(out)
    rows = {(row["model"], row["precision"]): row for row in table}
    assert list(rows) == [("Uformer-T", "fp32"), ("Uformer-T + SkipAt", "fp32")]
    assert rows["Uformer-T", "fp32"]["params"] == "5.29 M" and rows["Uformer-T + SkipAt", "fp32"]["params"] == "5.28 M"
    for row in table:
        assert float(row["peak memory"].removesuffix(" MB")) > 0 and float(row["images/s"]) > 0
    assert rows["Uformer-T", "fp32"]["throughput vs fp32 baseline"] == "1.00x"


def test_benchmark_refuses_unknown_size_and_precision(capsys):
    assert benchmark.main(["--models", "XL"]) == 2
    assert "unknown model size" in capsys.readouterr().err
    assert benchmark.main(["--models", "T", "--precision", "fp8"]) == 2
    assert "--precision takes fp32, bf16 and fp16" in capsys.readouterr().err


def test_precision_table_has_the_psnr_change_at_each_sigma(markdown_tables):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bf16 is emulated (and warned about) on CPUs without it
        rows = benchmark.precision_psnr(["bf16"], "cpu", sigmas=(15, 30), size=64, names=("chelsea",))
    assert {row["model"] for row in rows} == {"uformer_t_gauss", "uformer_t_skipat_gauss"}
    for row in rows:
        assert set(row["psnr"]) == {15, 30} and row["psnr"][15] > row["psnr"][30] > 20
        assert abs(row["change"][15]) < 0.2 and (row["change"][30] == 0) == (row["precision"] == "fp32")
    (table,) = markdown_tables(benchmark.precision_markdown(rows, size=64))
    assert [(row["model"], row["precision"]) for row in table] == [(row["model"], row["precision"]) for row in rows]
    for cells, row in zip(table, rows):  # "PSNR (change)" at each σ
        assert cells[f"σ={15}"] == f"{row['psnr'][15]:.3f} ({row['change'][15]:+.3f})"

"""The benchmark script runs end to end and refuses bad arguments (it is a script, not a timed test)."""
from restore import benchmark


def test_benchmark_prints_a_table_for_a_small_run(capsys):
    assert benchmark.main(["--models", "T", "--size", "64", "--repeats", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "| Uformer-T | 5.29 M |" in out
    assert "| Uformer-T + SkipAt | 5.28 M |" in out
    peak = float(out.split("| Uformer-T | ")[1].split("|")[4].strip().split()[0])
    assert peak > 0


def test_benchmark_refuses_unknown_size(capsys):
    assert benchmark.main(["--models", "XL"]) == 2
    assert "unknown model size" in capsys.readouterr().err

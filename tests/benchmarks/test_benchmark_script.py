"""The speed benchmark runs end to end and refuses bad arguments (it is a script, not a timed test)."""
from restore.benchmarks import speed as benchmark


def test_benchmark_prints_a_table_for_a_small_run(capsys):
    assert benchmark.main(["--models", "T", "--size", "64", "--repeats", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("Input 1x3x64x64, device cpu (")  # names the CPU
    assert "| Uformer-T | fp32 | 5.29 M |" in out
    assert "| Uformer-T + SkipAt | fp32 | 5.28 M |" in out
    peak = float(out.split("| Uformer-T | fp32 | ")[1].split("|")[4].strip().split()[0])
    assert peak > 0


def test_benchmark_refuses_unknown_size_and_precision(capsys):
    assert benchmark.main(["--models", "XL"]) == 2
    assert "unknown model size" in capsys.readouterr().err
    assert benchmark.main(["--models", "T", "--precision", "fp8"]) == 2
    assert "--precision takes fp32, bf16 and fp16" in capsys.readouterr().err

"""What the benchmarks share: the per-model command-line options, and the CPU they name."""
from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model/--weights-dir (which published models), --threads, --seed and --out (a Markdown table)."""
    parser.add_argument("--model", action="append", help="a model name or card (repeatable); default: all registered")
    parser.add_argument("--weights-dir", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this Markdown file")


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

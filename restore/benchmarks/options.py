"""Command-line options that the per-model benchmarks share."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model/--weights-dir (which published models), --threads, --seed and --out (a Markdown table)."""
    parser.add_argument("--model", action="append", help="a model name or card (repeatable); default: all registered")
    parser.add_argument("--weights-dir", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this Markdown file")

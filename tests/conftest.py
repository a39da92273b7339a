"""Shared test set-up: a fixed thread count and seed so timings and numbers repeat."""
import os

import pytest
import torch

import restore  # noqa: F401  (registers archs; makes basicsr importable)

torch.set_num_threads(int(os.environ.get("RESTORE_TEST_THREADS", "2")))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)

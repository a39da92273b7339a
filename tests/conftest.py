"""Shared test set-up: a fixed thread count and seed so timings and numbers repeat."""
import os

import pytest
import torch

import restore.archs  # noqa: F401  (registers the networks in basicsr's ARCH_REGISTRY)

torch.set_num_threads(int(os.environ.get("RESTORE_TEST_THREADS", "2")))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)

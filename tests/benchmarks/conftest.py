"""What the benchmark tests share: a weights folder with a tiny published image model and a
tiny video model, both Gaussian σ 0–50, and a reader of the reports' Markdown tables."""
import re

import pytest
import torch

import restore.archs  # noqa: F401  (registers the networks)
from restore.api import save_pretrained
from restore.registry import ARCH_REGISTRY

TINY_IMAGE = {"img_size": 32, "embed_dim": 8, "depths": [1] * 9, "win_size": 8}
TINY_VIDEO = {"embed_dim": 8, "enc_depths": [1, 1, 1, 1], "dec_depths": [1, 1, 1, 1], "bottleneck_depth": 1,
              "head_dim": 16, "noise_map": True}


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    """``tiny_image`` (Uformer + SkipAt) and ``tiny_video`` (UniFormer + SkipAt), seeded."""
    folder = tmp_path_factory.mktemp("weights")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        image = ARCH_REGISTRY.get("UformerSkipAt")(**TINY_IMAGE)
        save_pretrained(image, folder, name="tiny_image", arch="UformerSkipAt", config=TINY_IMAGE,
                        noise={"type": "gaussian", "sigma": [0, 50]})
        video = ARCH_REGISTRY.get("UniformerVideoSkipAt")(**TINY_VIDEO)
        save_pretrained(video, folder, name="tiny_video", arch="UniformerVideoSkipAt", config=TINY_VIDEO,
                        kind="video", noise={"type": "gaussian", "sigma": [0, 50]}, noise_map_input=True)
    finally:
        torch.set_num_threads(threads)
    return folder


SEPARATOR = re.compile(r"^\|(\s*:?-+:?\s*\|)+$")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _markdown_tables(text: str) -> list[list[dict[str, str]]]:
    lines, tables = text.splitlines(), []
    for index in range(len(lines) - 1):
        if lines[index].startswith("|") and SEPARATOR.match(lines[index + 1].strip()):
            header, rows = _cells(lines[index]), []
            for line in lines[index + 2:]:
                if not line.startswith("|"):
                    break
                rows.append(dict(zip(header, _cells(line))))
            tables.append(rows)
    return tables


@pytest.fixture(scope="session")
def markdown_tables():
    """``markdown_tables(text)``: every Markdown table in ``text``, each a list of rows, each row
    its cells keyed by the column headers (a header repeated in one table keeps its last cell)."""
    return _markdown_tables

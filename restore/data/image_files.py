"""Finding, sizing and reading image files for the datasets.

Sizes come from the file header (PIL opens lazily), so a folder of many
thousands of patches can be checked up front without decoding any of them.
"""
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from restore.errors import DatasetError
from restore.io.formats import IMAGE_SUFFIXES



def require_dir(path: str | Path, what: str) -> Path:
    """The folder as a Path, or a DatasetError naming it."""
    folder = Path(path)
    if not folder.is_dir():
        raise DatasetError(f"{what} folder not found: {folder}")
    return folder


def require_file(path: str | Path, what: str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise DatasetError(f"{what} file not found: {file}")
    return file


def list_images(folder: str | Path, what: str, recursive: bool = False) -> list[Path]:
    """Image files in a folder, sorted; an empty or missing folder is an error."""
    root = require_dir(folder, what)
    pattern = "**/*" if recursive else "*"
    files = sorted(p for p in root.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DatasetError(f"{what} folder has no images ({', '.join(IMAGE_SUFFIXES)}): {root}")
    return files


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) read from the header only."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, ValueError) as error:
        raise DatasetError(f"cannot read image {path}: {error}") from error
    return height, width


def require_min_size(path: str | Path, size: tuple[int, int], min_side: int) -> None:
    if min(size) < min_side:
        raise DatasetError(f"image {path} is {size[0]}x{size[1]}, smaller than the patch size {min_side}")


def decode_rgb_float(data: np.ndarray, source: str) -> np.ndarray:
    """Decoded cv2 array (BGR, any bit depth, maybe gray) -> float32 RGB in [0, 1], HxWx3."""
    if data is None:
        raise DatasetError(f"cannot decode image {source}")
    scale = float(np.iinfo(data.dtype).max) if np.issubdtype(data.dtype, np.integer) else 1.0
    if data.ndim == 2:
        data = np.repeat(data[..., None], 3, axis=2)
    elif data.shape[2] == 4:
        data = data[..., :3]
    rgb = cv2.cvtColor(data, cv2.COLOR_BGR2RGB)
    return rgb.astype(np.float32) / scale


def read_rgb_float(path: str | Path) -> np.ndarray:
    """Read an image file as float32 RGB in [0, 1], HxWx3."""
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return decode_rgb_float(data, str(path))

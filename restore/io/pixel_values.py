"""What a pixel value means: the value that stands for white in each dtype, and the one scaling
of pixels to float32 in [0, 1] (used by inference and by the datasets alike).

Integers are scaled by their dtype's largest value and floats taken as in [0, 1], unless a
white level is given; the result is clipped to [0, 1], so a value a little past white (float
rounding) stays white. Callers that must refuse values outside the range check them first
(``restore.inference.pixels.check_values``).
"""
from __future__ import annotations

import numpy as np

from restore.errors import RestoreError

MAX_VALUE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def white_level(dtype: np.dtype, data_range: float | None = None) -> float:
    """The value that stands for white: ``data_range``, else 1.0 for floats and the largest
    value of an integer dtype."""
    if data_range is not None:
        if isinstance(data_range, bool) or not isinstance(data_range, (int, float)) or not 0 < data_range < np.inf:
            raise RestoreError(f"data_range must be a positive number, got {data_range!r}")
        return float(data_range)
    return 1.0 if np.dtype(dtype).kind == "f" else MAX_VALUE[np.dtype(dtype)]


def to_unit_float(pixels: np.ndarray, top: float | None = None) -> np.ndarray:
    """Scale to float32 in [0, 1], ``top`` (default: :func:`white_level`) becoming 1."""
    top = white_level(pixels.dtype) if top is None else top
    return np.clip(pixels.astype(np.float32) / np.float32(top), 0.0, 1.0)

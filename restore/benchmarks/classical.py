"""The classical denoisers a user would otherwise pick, behind one calling convention.

The quality benchmark compares our networks with CBM3D, OpenCV's and
scikit-image's non-local means. Each method here takes uint8 RGB input and a
known σ (0–255 scale; the classical methods get the true σ, our blind models do
not need it) and returns uint8 RGB, as a saved file would be. CBM3D needs the
optional ``bm3d`` package (``requirements-benchmark.txt``); when it is missing
``restore.errors.MissingDependency`` says so in one sentence.

Parameters: CBM3D uses its own defaults (profile 'np', opponent colour space).
Non-local means strengths were picked once on crops of the *training* photos
(coffee, astronaut, rocket at σ 15/30/50; never on held-out images): OpenCV
``h = hColor = 0.6 σ`` (7×7 patches, 21×21 search, the library defaults), and
scikit-image ``h = 0.6 σ`` with ``sigma = σ``, 5×5 patches, distance 6, fast mode.
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from restore.benchmarks.common import optional_import

OPENCV_STRENGTH = 0.6
SKIMAGE_STRENGTH = 0.6
MULTI_WINDOW = 5  # frames seen by fastNlMeansDenoisingColoredMulti (odd, centred)

ImageMethod = Callable[[np.ndarray, float], np.ndarray]


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float [0, 1] -> uint8, rounded as an image writer would."""
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def cbm3d(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """CBM3D (the ``bm3d`` package) with the true σ; BM3D for gray images given as three equal
    channels; σ = 0 (nothing to remove, as an estimate may say) gives the input back."""
    bm3d = optional_import("bm3d", "CBM3D")
    if sigma <= 0:
        return noisy.copy()
    image = noisy.astype(np.float64) / 255.0
    if (noisy == noisy[..., :1]).all():  # gray as three equal channels: CBM3D's colour transform
        # would divide by the zero range of the chroma channels, so the gray BM3D runs instead
        return to_uint8(np.repeat(np.atleast_3d(bm3d.bm3d(image[..., 0], sigma / 255.0)), 3, axis=2))
    return to_uint8(bm3d.bm3d_rgb(image, sigma / 255.0))


def opencv_nlm(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """OpenCV ``fastNlMeansDenoisingColored`` (works in Lab; h for L, hColor for a/b)."""
    strength = OPENCV_STRENGTH * sigma
    bgr = cv2.cvtColor(noisy, cv2.COLOR_RGB2BGR)
    return cv2.cvtColor(cv2.fastNlMeansDenoisingColored(bgr, None, strength, strength, 7, 21), cv2.COLOR_BGR2RGB)


def skimage_nlm(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """scikit-image ``denoise_nl_means`` with the true σ (fast mode)."""
    from skimage.restoration import denoise_nl_means

    scaled = sigma / 255.0
    out = denoise_nl_means(noisy.astype(np.float32) / 255.0, h=SKIMAGE_STRENGTH * scaled, sigma=scaled,
                           fast_mode=True, patch_size=5, patch_distance=6, channel_axis=-1)
    return to_uint8(out)


IMAGE_METHODS: dict[str, ImageMethod] = {
    "CBM3D": cbm3d,
    "OpenCV NLM": opencv_nlm,
    "skimage NLM": skimage_nlm,
}


def check_available(name: str) -> None:
    """Raise ``MissingDependency`` now if ``name`` cannot run (before any timing)."""
    if name in ("CBM3D", "CBM3D per frame"):
        optional_import("bm3d", name)


def opencv_nlm_multi(frames: np.ndarray, sigma: float) -> np.ndarray:
    """OpenCV ``fastNlMeansDenoisingColoredMulti`` over a window of frames centred on each frame.

    (T, H, W, 3) uint8 RGB in and out. OpenCV needs the target in the middle of
    its window, so at the clip's ends the window is mirrored in time.
    """
    count = len(frames)
    window = min(MULTI_WINDOW, count if count % 2 else count - 1)
    half = window // 2
    last = count - 1
    bgr = [cv2.cvtColor(frame, cv2.COLOR_RGB2BGR) for frame in frames]
    strength = OPENCV_STRENGTH * sigma
    out = []
    for index in range(count):
        order = [abs(i) if i <= last else 2 * last - i for i in range(index - half, index + half + 1)]
        stack = [bgr[i] for i in order]
        denoised = cv2.fastNlMeansDenoisingColoredMulti(stack, half, window, None, strength, strength, 7, 21)
        out.append(cv2.cvtColor(denoised, cv2.COLOR_BGR2RGB))
    return np.stack(out)


def per_frame(method: ImageMethod) -> Callable[[np.ndarray, float], np.ndarray]:
    """Apply an image method to each frame of a (T, H, W, 3) clip."""
    def run(frames: np.ndarray, sigma: float) -> np.ndarray:
        return np.stack([method(frame, sigma) for frame in frames])
    return run

"""Noise-level estimation for additive white Gaussian noise: the engine of ``--sigma auto``.

The estimate follows the weak-texture PCA of Liu et al. (2013) and the eigenvalue
analysis of Chen et al. (2015): image patches are vectors, natural image content
lives in a few of their principal directions, and the remaining directions hold
noise alone, whose eigenvalues scatter around sigma^2 (within the Marchenko-Pastur
bulk). Only patches whose gradient energy is plausible for noise on a flat region
take part, since texture inflates even the small eigenvalues, and the threshold
follows the estimate until both agree.

Noisy files are ``clip(round(clean + N(0, sigma)), 0, 255)``. Rounding adds 1/12 of a
level squared, which is subtracted. Clipping shrinks the noise near black and white:
patches with a pixel whose local level is close enough to 0 or 255 to lose more than
a small share of its noise variance are left out, and the small loss in the rest is
corrected with the variance of a censored Gaussian at each pixel's local level.

Compressed files (JPEG, and video codecs) break the white-noise premise: chroma
subsampling removes most of the noise's colour and quantising the 8x8 block transforms
its fine detail, so many patch directions hold no noise at all, their eigenvalues fall
to zero and so does the estimate (0.4 for sigma 18 saved at JPEG quality 90 with 4:2:0
chroma). What compression keeps is the coarse luminance, so sigma is also read from the
luminance averaged over 2x2 blocks (white noise of sigma becomes sigma * |LUMA| / 2
there). On white noise the two readings agree; the coarse one is reported only when it
is several times the fine one, which white noise never gives, and texture (gravel,
grass: a coarse reading 3-5x the fine one) did not either.

Numpy, OpenCV and scipy only; a 1920x1080 colour image takes a fraction of a second
on one core, since only a grid of at most MAX_PATCHES patches is ever converted.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from scipy import special, stats
from threadpoolctl import threadpool_limits

from restore.errors import RestoreError

PATCH = 7                       # side of the square patches
MAX_PATCHES = 40_000            # patch positions per image: the grid's stride grows on large images
MIN_PATCHES_PER_DIMENSION = 4   # fewer chosen patches than this per patch dimension widen the choice
TEXTURE_QUANTILE = 0.99         # weak texture: gradient energy below this quantile of noise's
EDGE_MARGIN = 1.1               # slack over the Marchenko-Pastur edge before an eigenvalue counts as content
LEVEL_WINDOW = 9                # side of the box filter that gives each pixel's local level
KEEP_VARIANCE = 0.9             # leave out patches where clipping takes more than 10% of a pixel's noise variance
MAX_ROUNDS = 10                 # threshold/estimate rounds; they settle within a few
TOLERANCE = 1e-3                # stop when sigma moves less than this (0-255 scale)
QUANTISATION_VARIANCE = 1.0 / 12.0  # variance of rounding to whole levels
LEVELS = 255.0
LEVEL_BINS = 4                  # levels are kept in quarter-level bins: clipping shares are looked up per bin
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # the luminance JPEG keeps (ITU-R BT.601)
COARSE = 2                      # side of the blocks the coarse luminance is averaged over
CORRELATED_RATIO = 6.0          # the coarse reading this many times the fine one, and CORRELATED_MARGIN
CORRELATED_MARGIN = 2.0         # levels above it: the noise is not white


class TooSmallToEstimate(RestoreError):
    """The image has too few pixels a side for a patch: its noise level cannot be read."""


@dataclass(frozen=True)
class Patches:
    """The patches of one image and what the estimate needs of them, on the 0-255 scale.

    ``vectors`` (N x d, d = C * PATCH^2) are the patches, all channels of a patch in one
    vector, and ``local`` the same pixels of the box-filtered image (each pixel's local
    level); ``energy`` (N) is a patch's gradient energy; ``darkest``, ``brightest`` and
    ``mean`` (N x C) are each channel's extreme local levels and mean level in the patch.
    Levels are stored as bins of 1 / LEVEL_BINS level (uint16).
    ``clipped_low``/``clipped_high`` say whether the image holds pixels at exactly 0 /
    255: only then is clipping modelled at that end. ``step_variance`` is the variance
    its rounding added.
    """

    vectors: np.ndarray
    local: np.ndarray
    energy: np.ndarray
    darkest: np.ndarray
    brightest: np.ndarray
    mean: np.ndarray
    clipped_low: bool
    clipped_high: bool
    step_variance: float

    @property
    def channels(self) -> int:
        return self.darkest.shape[1]


def as_channels(image: np.ndarray) -> np.ndarray:
    """H x W x C with C in 1..3: a 2-D image gets a channel axis, alpha is dropped."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"expected an H x W or H x W x C image with 1-4 channels, got shape {array.shape}")
    if array.shape[-1] in (2, 4):  # gray + alpha, RGB + alpha: alpha carries no noise
        array = array[..., :-1]
    if array.shape[0] < PATCH + 1 or array.shape[1] < PATCH + 1:
        raise TooSmallToEstimate(f"a {array.shape[1]}x{array.shape[0]} picture is too small to estimate the "
                                 f"noise level from (that needs at least {PATCH + 1} pixels a side)")
    return array


def level_scale(array: np.ndarray) -> tuple[float, float, float]:
    """(factor to the 0-255 scale, the stored value that is 255, the variance rounding added).

    uint8 and float images on the 1/255 grid count as rounded to whole levels; uint16
    steps (255/65535 of a level) and other floats add no measurable variance.
    """
    if array.dtype == np.uint8:
        return 1.0, 255.0, QUANTISATION_VARIANCE
    if array.dtype == np.uint16:
        return LEVELS / 65535.0, 65535.0, QUANTISATION_VARIANCE * (LEVELS / 65535.0) ** 2
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ValueError("image holds NaN or infinite values")
        scaled = array.astype(np.float32) * np.float32(LEVELS)
        on_grid = bool((np.abs(scaled - np.rint(scaled)) < 1e-3).all())
        return LEVELS, 1.0, QUANTISATION_VARIANCE if on_grid else 0.0
    raise ValueError(f"unsupported image dtype {array.dtype}: use uint8, uint16 or float in [0, 1]")


def grid_patches(array: np.ndarray, stride: int) -> np.ndarray:
    """The PATCH x PATCH patches whose corners lie on a ``stride`` grid, as N x C x PATCH x PATCH."""
    windows = np.lib.stride_tricks.sliding_window_view(array, (PATCH, PATCH), axis=(0, 1))
    return windows[::stride, ::stride].reshape(-1, array.shape[-1], PATCH, PATCH)


def to_bins(levels: np.ndarray) -> np.ndarray:
    """Levels on the 0-255 scale as uint16 bins of 1 / LEVEL_BINS level."""
    return np.rint(np.clip(levels, 0.0, LEVELS) * LEVEL_BINS).astype(np.uint16)


def patch_statistics(image: np.ndarray) -> Patches:
    """Patches on a grid of at most about MAX_PATCHES positions, with their local levels
    and gradient energy, all on the 0-255 scale.

    The gradient energy is the sum of squared horizontal and vertical neighbour
    differences inside the patch, over all channels: ``n^T A n`` for a noise patch ``n``.
    """
    array = as_channels(image)
    scale, top, step_variance = level_scale(array)
    if array.dtype not in (np.uint8, np.uint16, np.float32):
        array = array.astype(np.float32)
    height, width, channels = array.shape
    stride = max(1, int(np.ceil(np.sqrt((height - PATCH + 1) * (width - PATCH + 1) / MAX_PATCHES))))
    patches = grid_patches(array, stride).astype(np.float32) * np.float32(scale)
    # the box filter of uint8/uint16 rounds to whole steps: far finer than clipping needs
    blurred = cv2.blur(array, (LEVEL_WINDOW, LEVEL_WINDOW), borderType=cv2.BORDER_REFLECT).reshape(array.shape)
    local = grid_patches(blurred, stride).astype(np.float32) * np.float32(scale)
    energy = (np.square(np.diff(patches, axis=-1)).sum(axis=(1, 2, 3))
              + np.square(np.diff(patches, axis=-2)).sum(axis=(1, 2, 3)))
    return Patches(
        vectors=patches.reshape(len(patches), -1),
        local=to_bins(local.reshape(len(local), -1)),
        energy=energy,
        darkest=to_bins(local.min(axis=(2, 3))),
        brightest=to_bins(local.max(axis=(2, 3))),
        mean=to_bins(patches.mean(axis=(2, 3))),
        clipped_low=bool(array.min() == 0),
        clipped_high=bool(array.max() == top),
        step_variance=step_variance,
    )


def texture_threshold(channels: int) -> float:
    """The TEXTURE_QUANTILE quantile of a unit-variance noise patch's gradient energy."""
    return gamma_quantile(PATCH, channels, TEXTURE_QUANTILE)


@lru_cache(maxsize=16)
def gamma_quantile(patch: int, channels: int, quantile: float) -> float:
    """A quantile of ``n^T A n`` for white unit noise ``n`` and the gradient energy's form ``A``.

    A gamma law with the form's exact mean tr(A) and variance 2 tr(A^2) stands in for
    its distribution, as in Liu et al. (2013).
    """
    eye = np.eye(patch)
    difference = np.diff(eye, axis=0)  # (patch-1) x patch forward differences
    horizontal = np.kron(eye, difference)  # along the rows of a row-major flattened patch
    vertical = np.kron(difference, eye)
    form = horizontal.T @ horizontal + vertical.T @ vertical
    trace, trace_square = channels * np.trace(form), channels * np.trace(form @ form)
    shape, scale = trace ** 2 / (2 * trace_square), 2 * trace_square / trace
    return float(stats.gamma.ppf(quantile, shape, scale=scale))


@lru_cache(maxsize=1)
def censoring_table() -> tuple[np.ndarray, np.ndarray]:
    """(observed mean, kept variance share) of ``max(level + Z, 0)`` for unit normal Z,
    tabulated over clean levels 0-8: the mean a local filter sees and what survives of
    the noise variance at that level."""
    level = np.linspace(0.0, 8.0, 1601)
    cdf, pdf = special.ndtr(-level), np.exp(-0.5 * level ** 2) / np.sqrt(2 * np.pi)
    # moments of max(Z, -level) shifted by level
    mean = -level * cdf + pdf
    second = level ** 2 * cdf + (1 - cdf) - level * pdf
    return level + mean, second - mean ** 2


def kept_share(sigma: float, low: bool, high: bool) -> np.ndarray:
    """Per level bin, the share of the noise variance that clipping leaves at pixels of
    that local level (index it with the bins of ``to_bins``).

    The local level is itself a mean of clipped values; the table maps it back. The two
    ends are treated apart, which is exact while 255 / sigma is large (above about 4).
    """
    level = np.arange(int(LEVELS) * LEVEL_BINS + 1) / LEVEL_BINS
    share = np.ones_like(level)
    observed, kept = censoring_table()
    if low:
        share -= 1 - np.interp(level / sigma, observed, kept)
    if high:
        share -= 1 - np.interp((LEVELS - level) / sigma, observed, kept)
    return np.clip(share, 0.0, 1.0)


def noise_eigenvalue_mean(vectors: np.ndarray) -> float:
    """The noise variance from the patch covariance's eigenvalues.

    Noise alone spreads its eigenvalues over the Marchenko-Pastur bulk, up to
    ``sigma^2 (1 + sqrt(d / N))^2``; image content lies above it. The largest eigenvalue
    is dropped while it clears the bulk's edge (with EDGE_MARGIN) for the mean of those
    left, and that mean is sigma^2. (Chen et al. 2015 stop when mean <= median instead,
    which also drops the bulk's skewed top and reads about 1% low.)
    """
    centred = vectors - vectors.mean(axis=0, dtype=np.float64).astype(np.float32)
    # OpenCV's gemm: numpy's threaded BLAS can run tens of times slower on cores busy elsewhere
    covariance = cv2.gemm(centred, centred, 1.0, None, 0.0, flags=cv2.GEMM_1_T).astype(np.float64)
    covariance /= max(len(vectors) - 1, 1)
    eigenvalues = np.clip(np.linalg.eigvalsh(covariance), 0.0, None)  # ascending
    sums = np.cumsum(eigenvalues)
    for count in range(len(eigenvalues), 0, -1):
        mean = sums[count - 1] / count
        if eigenvalues[count - 1] <= mean * EDGE_MARGIN * (1 + np.sqrt(count / len(vectors))) ** 2:
            return float(mean)
    return float(eigenvalues[0])


def select(patches: Patches, sigma: float) -> tuple[np.ndarray, float]:
    """(indices of the weak-texture patches usable at ``sigma``, the share of the noise
    variance that clipping leaves in them).

    A patch is used when its gradient energy fits noise of ``sigma`` (with rounding) on a
    flat region and every pixel's local level, in every channel, keeps KEEP_VARIANCE of
    its noise. Fewer than MIN_PATCHES_PER_DIMENSION per dimension make the covariance
    unreliable; then the weak-texture patches least touched by clipping top the choice
    up (a dark image, or saturated colours that clip one channel of most patches), and
    failing those the flattest patches stand in (a fully textured image).
    """
    low, high = patches.clipped_low, patches.clipped_high
    share = kept_share(sigma, low, high)
    worst = np.minimum(share[patches.darkest], share[patches.brightest]).min(axis=1)
    typical = share[patches.mean].mean(axis=1)
    limit = texture_threshold(patches.channels) * (sigma ** 2 * typical + patches.step_variance)
    flat = patches.energy <= limit
    chosen = np.flatnonzero(flat & (worst >= KEEP_VARIANCE))
    least = min(MIN_PATCHES_PER_DIMENSION * patches.vectors.shape[1], len(flat))
    if len(chosen) < least:
        others = np.flatnonzero(flat & (worst < KEEP_VARIANCE))
        ranked = others[np.argsort(-worst[others], kind="stable")]
        chosen = np.concatenate([chosen, ranked[:least - len(chosen)]])
        if len(chosen) < least:
            chosen = np.argsort(patches.energy / np.maximum(limit, 1e-12), kind="stable")[:least]
    if not (low or high):
        return chosen, 1.0
    # the mean share over the chosen pixels, from a histogram of their local levels
    touched = chosen[worst[chosen] < 0.999]  # the others lose nothing measurable
    counts = np.bincount(patches.local[touched].ravel(), minlength=len(share))
    lost = float(counts @ (1.0 - share))
    return chosen, 1.0 - lost / (len(chosen) * patches.local.shape[1])


def estimate_from_patches(patches: Patches) -> float:
    """Alternate between choosing weak-texture patches and estimating sigma from them,
    starting from the estimate over all patches (an overestimate on textured images)."""
    sigma = np.sqrt(max(noise_eigenvalue_mean(patches.vectors) - patches.step_variance, 0.0))
    for _ in range(MAX_ROUNDS):
        chosen, keep = select(patches, max(sigma, 0.1))
        variance = noise_eigenvalue_mean(patches.vectors[chosen]) - patches.step_variance
        updated = float(np.sqrt(max(variance, 0.0) / max(keep, 0.05)))
        if abs(updated - sigma) < TOLERANCE:
            return updated
        sigma = updated
    return float(sigma)


def estimate_sigma(image: np.ndarray) -> float:
    """The standard deviation of additive white Gaussian noise in ``image``, on the 0-255 scale.

    ``image`` is H x W or H x W x C (alpha is ignored), uint8, uint16 or float in [0, 1].
    Colour channels are taken to carry i.i.d. noise of one sigma and are used together:
    a patch holds all its channels, so the principal directions also separate colours
    (on a gray photo stored as RGB two thirds of them hold noise alone). Noise that
    compression made blocky and colourless is read from the coarse luminance
    (:func:`coarse_estimate`). Raises :class:`TooSmallToEstimate` for an image under
    PATCH + 1 pixels a side.
    """
    # One BLAS thread: the matrices are small (at most 147 x 147), and a threaded BLAS waiting
    # at its barriers on cores busy with other work ran tens of times slower.
    with threadpool_limits(limits=1, user_api="blas"):
        fine = estimate_from_patches(patch_statistics(image))
        coarse = coarse_estimate(image)
    if coarse is not None and coarse > CORRELATED_RATIO * fine + CORRELATED_MARGIN:
        return coarse
    return fine


def coarse_estimate(image: np.ndarray) -> float | None:
    """Sigma read from the luminance averaged over COARSE x COARSE blocks, scaled back to the
    white noise per channel that would give it; None when the image is too small for it."""
    array = as_channels(image)
    height, width = (array.shape[0] // COARSE) * COARSE, (array.shape[1] // COARSE) * COARSE
    if height < COARSE * (PATCH + 1) or width < COARSE * (PATCH + 1):
        return None
    scale = level_scale(array)[0]
    levels = array[:height, :width].astype(np.float32) * np.float32(scale / LEVELS)
    weights = LUMA if levels.shape[-1] == 3 else np.ones(1, np.float32)
    luminance = levels @ weights
    blocks = luminance.reshape(height // COARSE, COARSE, width // COARSE, COARSE).mean(axis=(1, 3))
    return estimate_from_patches(patch_statistics(blocks)) * COARSE / float(np.linalg.norm(weights))


def spread_sample(frames: Iterable[np.ndarray], max_frames: int) -> list[np.ndarray]:
    """Up to ``max_frames`` frames: evenly spread over a sequence (or array) of known
    length, the first ones of any other iterable (a stream is not read to its end)."""
    if isinstance(frames, (Sequence, np.ndarray)):
        count = len(frames)
        if count <= max_frames:
            return [np.asarray(frame) for frame in frames]
        picks = np.unique(np.linspace(0, count - 1, max_frames).round().astype(int))
        return [np.asarray(frames[index]) for index in picks]
    return [np.asarray(frame) for frame in itertools.islice(frames, max_frames)]


def estimate_sigma_frames(frames: Iterable[np.ndarray], max_frames: int = 8) -> float:
    """One noise level for a clip: the median of per-frame estimates over up to ``max_frames`` frames.

    ``frames`` is a sequence, a T x H x W x C array or any iterable of frames (then its
    first ``max_frames`` are read). The median ignores a few odd frames: a black fade,
    a title card.
    """
    if max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    sample = spread_sample(frames, max_frames)
    if not sample:
        raise ValueError("no frames to estimate the noise level from")
    return float(np.median([estimate_sigma(frame) for frame in sample]))

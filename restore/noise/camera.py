"""Camera noise synthesised through an inverse camera pipeline (after Brooks et al., "Unprocessing
Images for Learned Raw Denoising", CVPR 2019), written from the paper's description.

An sRGB photo is run backwards to the sensor: inverse tone curve, inverse gamma, a random colour
correction matrix, white-balance and brightness gains, then a Bayer mosaic (RGGB). Shot and read
noise are added there, with the paper's joint distribution of their levels (log shot uniform on
[1e-4, 1.2e-2], log read = 2.18 log shot + 1.20 + N(0, 0.26^2), variance = shot * x + read), and
the mosaic is demosaiced (bilinear) and processed forward again; optionally the result is saved as
a JPEG at a random quality, as a phone would. The noise that comes out is signal-dependent,
spatially correlated by demosaicing and reshaped by the tone curve and JPEG: what real photos hold.

The clean target is the same photo run backwards and forwards without mosaic or noise, so the pair
differs only by what the camera added. Every random choice is drawn from one
``numpy.random.Generator``: the same seed gives the same pair.

The colour matrices are drawn, not taken from real cameras: ``cam2rgb`` has diagonal entries in
``ccm_diagonal`` and negative off-diagonals, each row summing to one (white stays white), which is
the shape of the colour matrices cameras record.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from restore.noise.base import NoiseModel, register_noise_model

GAMMA = 2.2


# ----- the pipeline's stages, each with its inverse ---------------------------------------------

def tone_curve(x: np.ndarray) -> np.ndarray:
    """The smoothstep tone curve ``3x^2 - 2x^3`` on [0, 1]."""
    return 3.0 * x ** 2 - 2.0 * x ** 3


def inverse_tone_curve(y: np.ndarray) -> np.ndarray:
    """The inverse of :func:`tone_curve` on [0, 1]: ``0.5 - sin(asin(1 - 2y) / 3)``."""
    return 0.5 - np.sin(np.arcsin(np.clip(1.0 - 2.0 * y, -1.0, 1.0)) / 3.0)


def gamma_compress(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 1e-8) ** (1.0 / GAMMA)


def gamma_expand(y: np.ndarray) -> np.ndarray:
    return np.maximum(y, 1e-8) ** GAMMA


def random_cam2rgb(rng: np.random.Generator, diagonal: tuple[float, float]) -> np.ndarray:
    """A 3x3 camera-to-sRGB matrix: diagonal in ``diagonal``, negative off-diagonals, rows summing to 1."""
    matrix = np.zeros((3, 3))
    for row in range(3):
        d = rng.uniform(*diagonal)
        share = rng.uniform(0.2, 0.8)
        others = [c for c in range(3) if c != row]
        matrix[row, row] = d
        matrix[row, others[0]] = -(d - 1.0) * share
        matrix[row, others[1]] = -(d - 1.0) * (1.0 - share)
    return matrix


def apply_matrix(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``matrix @ pixel`` for every pixel of an H x W x 3 image."""
    return np.einsum("ij,hwj->hwi", matrix, image, optimize=True).astype(image.dtype)


def gains_vector(rgb_gain: float, red_gain: float, blue_gain: float) -> np.ndarray:
    """Per-channel gains as the camera applies them (brightness times white balance)."""
    return np.array([rgb_gain * red_gain, rgb_gain, rgb_gain * blue_gain], np.float32)


def apply_gains(image: np.ndarray, gains: np.ndarray) -> np.ndarray:
    return image * gains.astype(image.dtype)


def invert_gains(image: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Divide by the gains, except near white: there the division is blended out, so highlights
    that the forward gain would clip stay highlights (a plain inverse would grey them)."""
    gray = image.mean(axis=-1, keepdims=True)
    keep = (np.maximum(gray - 0.9, 0.0) / 0.1) ** 2
    divided = image / gains.astype(image.dtype)
    return keep * image + (1.0 - keep) * divided


def mosaic(image: np.ndarray) -> np.ndarray:
    """An H x W x 3 image (H, W even) sampled on an RGGB Bayer pattern: one H x W plane."""
    raw = np.empty(image.shape[:2], image.dtype)
    raw[0::2, 0::2] = image[0::2, 0::2, 0]
    raw[0::2, 1::2] = image[0::2, 1::2, 1]
    raw[1::2, 0::2] = image[1::2, 0::2, 1]
    raw[1::2, 1::2] = image[1::2, 1::2, 2]
    return raw


_GREEN_KERNEL = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], np.float32) / 4.0
_RED_BLUE_KERNEL = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32) / 4.0


def demosaic(raw: np.ndarray) -> np.ndarray:
    """Bilinear demosaicing of an RGGB plane back to H x W x 3 (mirror borders keep the pattern)."""
    height, width = raw.shape
    planes = np.zeros((3, height, width), np.float32)
    planes[0, 0::2, 0::2] = raw[0::2, 0::2]
    planes[1, 0::2, 1::2] = raw[0::2, 1::2]
    planes[1, 1::2, 0::2] = raw[1::2, 0::2]
    planes[2, 1::2, 1::2] = raw[1::2, 1::2]
    out = [cv2.filter2D(planes[c], -1, kernel, borderType=cv2.BORDER_REFLECT_101)
           for c, kernel in ((0, _RED_BLUE_KERNEL), (1, _GREEN_KERNEL), (2, _RED_BLUE_KERNEL))]
    return np.stack(out, axis=-1)


def noise_levels(rng: np.random.Generator, shot_range: tuple[float, float], read_offset: float = 1.20,
                 read_jitter: float = 0.26) -> tuple[float, float]:
    """(shot, read) drawn from the paper's joint distribution; ``read_offset`` shifts log read."""
    log_shot = rng.uniform(np.log(shot_range[0]), np.log(shot_range[1]))
    log_read = 2.18 * log_shot + read_offset + rng.normal(0.0, read_jitter)
    return float(np.exp(log_shot)), float(np.exp(log_read))


def add_shot_read_noise(raw: np.ndarray, shot: float, read: float, rng: np.random.Generator) -> np.ndarray:
    """Heteroscedastic Gaussian noise of variance ``shot * x + read`` on a raw plane."""
    variance = np.maximum(raw, 0.0) * shot + read
    return (raw + rng.standard_normal(raw.shape, dtype=np.float32) * np.sqrt(variance).astype(np.float32))


def jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """Save an RGB float image as a JPEG of ``quality`` and read it back (8-bit, 4:2:0 as phones save)."""
    pixels = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", pixels[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0


# ----- the model --------------------------------------------------------------------------------

@dataclass(frozen=True)
class CameraNoise:
    """The ranges every random choice is drawn from. Defaults are the training ranges; the camera
    benchmark draws from ranges outside them."""

    shot: tuple[float, float] = (1e-4, 1.2e-2)
    read_offset: float = 1.20          # log read = 2.18 log shot + read_offset + N(0, read_jitter^2)
    read_jitter: float = 0.26
    ccm_diagonal: tuple[float, float] = (1.3, 2.0)
    rgb_gain_mean: float = 0.8          # brightness: 1 / N(mean, 0.1^2), as the paper draws it
    red_gain: tuple[float, float] = (1.9, 2.4)
    blue_gain: tuple[float, float] = (1.5, 1.9)
    jpeg_prob: float = 0.8
    jpeg_quality: tuple[int, int] = (70, 95)

    def card(self) -> dict:
        """The parameter ranges as a weight card's ``noise`` entry records them."""
        return {"type": "camera", **{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}}

    def pair(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(clean, noisy)`` float32 H x W x 3 in [0, 1] from an sRGB float image (H, W even)."""
        if image.shape[0] % 2 or image.shape[1] % 2:
            image = image[: image.shape[0] // 2 * 2, : image.shape[1] // 2 * 2]
        cam2rgb = random_cam2rgb(rng, self.ccm_diagonal)
        rgb2cam = np.linalg.inv(cam2rgb)
        rgb_gain = 1.0 / max(rng.normal(self.rgb_gain_mean, 0.1), 0.3)
        gains = gains_vector(rgb_gain, rng.uniform(*self.red_gain), rng.uniform(*self.blue_gain))
        linear = gamma_expand(inverse_tone_curve(np.clip(image, 0.0, 1.0))).astype(np.float32)
        camera = np.clip(invert_gains(apply_matrix(linear, rgb2cam), gains), 0.0, 1.0)
        shot, read = noise_levels(rng, self.shot, self.read_offset, self.read_jitter)
        noisy_raw = add_shot_read_noise(mosaic(camera), shot, read, rng)
        clean = self.forward(camera, cam2rgb, gains)
        noisy = self.forward(demosaic(noisy_raw), cam2rgb, gains)
        if self.jpeg_prob and rng.random() < self.jpeg_prob:
            noisy = jpeg_round_trip(noisy, int(rng.integers(self.jpeg_quality[0], self.jpeg_quality[1] + 1)))
        else:
            noisy = np.rint(noisy * 255.0) / 255.0
        return clean.astype(np.float32), noisy.astype(np.float32)

    @staticmethod
    def forward(camera: np.ndarray, cam2rgb: np.ndarray, gains: np.ndarray) -> np.ndarray:
        """Camera space back to sRGB: gains, colour matrix, clip, gamma, tone curve."""
        linear = np.clip(apply_matrix(np.clip(apply_gains(camera, gains), 0.0, 1.0), cam2rgb), 0.0, 1.0)
        return tone_curve(gamma_compress(linear))


@register_noise_model
class CameraNoiseModel(NoiseModel):
    """Noise of photos from cameras and phones; a card says ``{"type": "camera", ...ranges}``
    (:meth:`CameraNoise.card`). The models trained on it take no σ: the noise has no single level."""

    name = "camera"
    camera_photos = True
    usage = "camera"

    def check(self, noise: dict[str, Any]) -> str | None:
        unknown = set(noise) - {"type", *CameraNoise.__dataclass_fields__}
        return f"camera noise has no settings {sorted(unknown)}" if unknown else None

    def from_text(self, text: str) -> dict[str, Any]:
        if text:
            raise ValueError("write camera noise as camera (its ranges are the training defaults)")
        return CameraNoise().card()

    def describe(self, noise: dict[str, Any]) -> str:
        return "camera noise (shot and read noise through a camera pipeline, JPEG)"

    def add_noise(self, pixels: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
        """Camera noise on uint8/uint16 gray, gray+alpha, RGB or RGBA pixels (σ unused: the ranges
        are the training ones); gray goes through the pipeline as three equal channels, and an
        alpha channel (the last of 2 or 4) is left clean."""
        top = 65535 if pixels.dtype == np.uint16 else 255
        alpha = pixels[..., -1:] if pixels.ndim == 3 and pixels.shape[2] in (2, 4) else None
        colour = pixels[..., :-1] if alpha is not None else pixels
        gray = colour.ndim == 2 or colour.shape[2] == 1
        rgb = np.repeat(colour.reshape(*colour.shape[:2], 1), 3, axis=2) if gray else colour
        height, width = rgb.shape[:2]
        padded = np.pad(rgb, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        noisy = CameraNoise().pair(padded.astype(np.float32) / top, rng)[1][:height, :width]
        if gray:
            noisy = noisy.mean(axis=2).reshape(colour.shape)
        out = np.clip(np.rint(noisy * top), 0, top).astype(pixels.dtype)
        if alpha is not None:
            out = np.concatenate([out.reshape(*out.shape[:2], -1), alpha], axis=2)
        return out

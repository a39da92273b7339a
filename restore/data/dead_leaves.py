"""Scale-invariant dead-leaves images: clean training images that cannot be memorised.

The model (Matheron's dead leaves, as used for denoiser training by Achddou, Gousseau and
Ladjal, SSVM 2021, and extended by VibrantLeaves, arXiv 2504.10201): shapes fall on the
canvas one after another and each hides what lies beneath it. Radii follow a power law,
``p(r) ∝ r^-alpha`` on ``[r_min, r_max]``; with ``alpha = 3`` the picture looks alike at every
scale, as natural images do. Here:

* shapes are disks or random convex polygons (3-8 corners), drawn with anti-aliased edges;
* their colours are pixels of one photo drawn at random per image (a palette), so colour
  statistics are those of real photographs;
* with ``texture_prob``, a large shape is filled with a crop of a photo instead of a flat
  colour (VibrantLeaves' textured leaves);
* with ``blur_prob``, a random depth of field: the shapes that fell first (the background)
  are blurred by a Gaussian of random width before the rest fall sharp on top.

Shapes are drawn back to front until every pixel is covered (a fourth, coverage channel
is drawn with each shape), so no pixel shows the empty canvas. Everything is drawn with a ``numpy.random.Generator``:
the same seed gives the same image.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_SHIFT = 4  # sub-pixel precision of the drawing calls: coordinates in 1/16 pixel


@dataclass(frozen=True)
class DeadLeaves:
    """Settings of the generator; :meth:`draw` makes one image."""

    alpha: float = 3.0
    r_min: float = 1.5          # 1.5 px: half the shapes of 1 px per image, at 70 ms per 128² crop
    r_max_frac: float = 0.5      # largest radius, as a fraction of the canvas side
    polygon_prob: float = 0.5
    texture_prob: float = 0.15   # chance that a shape larger than texture_min_r is textured
    texture_min_r: float = 8.0
    blur_prob: float = 0.3
    blur_sigma: tuple[float, float] = (0.5, 3.0)
    max_shapes: int = 30000

    def __post_init__(self):
        if not (self.alpha > 0 and 0 < self.r_min and 0 < self.r_max_frac <= 4):
            raise ValueError(f"dead leaves need alpha > 0, r_min > 0 and 0 < r_max_frac <= 4, got {self}")
        for name in ("polygon_prob", "texture_prob", "blur_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"dead leaves: {name} must be in [0, 1], got {getattr(self, name)}")

    def radii(self, count: int, size: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` radii from ``p(r) ∝ r^-alpha`` on ``[r_min, r_max_frac * size]`` (inverse CDF)."""
        low, high = self.r_min, max(self.r_min, self.r_max_frac * size)
        u = rng.random(count)
        if abs(self.alpha - 1.0) < 1e-9:
            return low * (high / low) ** u
        a, b = low ** (1 - self.alpha), high ** (1 - self.alpha)
        return (a + u * (b - a)) ** (1 / (1 - self.alpha))

    def draw(self, size: int, rng: np.random.Generator, palette: np.ndarray,
             textures: list[np.ndarray] | None = None) -> np.ndarray:
        """One ``size x size x 3`` float32 image in [0, 1].

        ``palette``: N x 3 colours (uint8 or float in [0, 1]) to draw shape colours from;
        ``textures``: photos (H x W x 3, float in [0, 1]) to cut textured shapes from.
        """
        return self.render(size, rng, palette, textures)[0]

    def render(self, size: int, rng: np.random.Generator, palette: np.ndarray,
               textures: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`draw`'s image and its coverage (uint8, 255 where shapes fully cover a pixel)."""
        colours = _as_uint8(palette).reshape(-1, 3)
        if len(colours) == 0:
            raise ValueError("dead leaves need a non-empty palette")
        # RGB plus a coverage channel, drawn in one call per shape: 255 where a shape has fallen
        canvas = np.zeros((size, size, 4), np.uint8)
        canvas[..., :3] = colours[rng.integers(len(colours))]
        blur_after = (int(rng.integers(200, 2000)) if rng.random() < self.blur_prob else None)
        drawn, batch = 0, 256
        while drawn < self.max_shapes:
            radii = self.radii(batch, size, rng)
            centres = rng.uniform(-0.1 * size, 1.1 * size, size=(batch, 2))
            picks = colours[rng.integers(len(colours), size=batch)].tolist()
            polygons = rng.random(batch) < self.polygon_prob
            textured = (rng.random(batch) < self.texture_prob) & (radii >= self.texture_min_r)
            for index in range(batch):
                points = _polygon(centres[index], radii[index], rng) if polygons[index] else None
                if textured[index] and textures:
                    mask = np.zeros((size, size), np.uint8)
                    _fill(mask, centres[index], radii[index], points, 1)
                    _paste_texture(canvas, mask, textures[rng.integers(len(textures))], rng)
                else:
                    _fill(canvas, centres[index], radii[index], points, (*picks[index], 255))
                drawn += 1
                if drawn == blur_after:
                    sigma = float(rng.uniform(*self.blur_sigma))
                    canvas[..., :3] = cv2.GaussianBlur(canvas[..., :3], (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
            if drawn >= (blur_after or 0) and int(canvas[..., 3].min()) >= 128:
                break
        return canvas[..., :3].astype(np.float32) / 255.0, canvas[..., 3].copy()


def _as_uint8(colours: np.ndarray) -> np.ndarray:
    colours = np.asarray(colours)
    if colours.dtype == np.uint8:
        return colours
    return np.clip(np.rint(colours * 255.0), 0, 255).astype(np.uint8)


def _polygon(centre: np.ndarray, radius: float, rng: np.random.Generator) -> np.ndarray:
    """A random convex polygon of 3-8 corners around ``centre``, within ``radius``."""
    corners = int(rng.integers(3, 9))
    angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
    reach = radius * rng.uniform(0.6, 1.0, corners)
    points = centre[::-1] + np.stack([np.cos(angles), np.sin(angles)], axis=1) * reach[:, None]  # (x, y)
    return np.rint(points * (1 << _SHIFT)).astype(np.int32)


def _fill(image: np.ndarray, centre: np.ndarray, radius: float, points: np.ndarray | None, colour) -> None:
    """A disk (``points`` None) or polygon; anti-aliased on the canvas, hard-edged on a mask."""
    line = cv2.LINE_AA if image.ndim == 3 else cv2.LINE_8
    if points is None:
        y, x = centre
        cv2.circle(image, (int(round(x * (1 << _SHIFT))), int(round(y * (1 << _SHIFT)))),
                   max(1, int(round(radius * (1 << _SHIFT)))), colour, thickness=-1, lineType=line, shift=_SHIFT)
    else:
        cv2.fillConvexPoly(image, points, colour, lineType=line, shift=_SHIFT)


def _paste_texture(canvas: np.ndarray, mask: np.ndarray, photo: np.ndarray, rng: np.random.Generator) -> None:
    """Fill the masked pixels with a random crop of ``photo``, turned a random number of quarter turns."""
    size = canvas.shape[0]
    height, width = photo.shape[:2]
    if height < size or width < size:
        return
    top, left = int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
    patch = np.rot90(photo[top:top + size, left:left + size], k=int(rng.integers(4)))
    where = mask.astype(bool)
    canvas[where, :3] = _as_uint8(patch)[where]
    canvas[where, 3] = 255


def photo_palette(images: list[np.ndarray], per_image: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``per_image`` random pixels of each photo (float in [0, 1]) as uint8 colours: one palette per photo."""
    palettes = []
    for image in images:
        flat = image.reshape(-1, image.shape[-1])[:, :3]
        palettes.append(_as_uint8(flat[rng.integers(len(flat), size=per_image)]))
    return palettes

"""Read and write still images without losing what the user cares about.

OpenCV decodes the pixels because it keeps 16-bit PNG/TIFF and alpha intact
(Pillow drops 16-bit colour to 8 bit). Pillow only reads the header: the EXIF
orientation tag (which ``IMREAD_UNCHANGED`` ignores) and whether the file is
grayscale. Arrays are RGB(A) order, H×W for grayscale, uint8 or uint16.

Writes are atomic: the encoded bytes go to a temporary file in the target
folder that is renamed over the target only once complete, so a crash or a
full disk never leaves half an image behind.
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from restore.errors import RestoreError
from restore.inference.defaults import MAX_IMAGE_PIXELS
from restore.io.formats import IMAGE_FORMATS
from restore.io.temp_files import replace_atomically, sibling_temp

# Errors only: libtiff/libjpeg warnings are not the user's business.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

FORMATS = IMAGE_FORMATS
EIGHT_BIT_ONLY = {"jpeg", "webp", "bmp"}
NO_ALPHA = {"jpeg", "bmp"}
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "La"}
ORIENTATION_TAG = 0x0112
JPEG_QUALITY = 95


class ImageReadError(RestoreError):
    """The file is missing, not an image, corrupt, too large, or of a kind we do not handle."""


class ImageWriteError(RestoreError):
    """The target cannot be written (format, folder or disk)."""


@dataclass
class LoadedImage:
    pixels: np.ndarray  # H×W (gray), H×W×3 (RGB) or H×W×4 (RGBA); uint8 or uint16
    format: str  # 'png', 'jpeg', 'tiff', 'webp' or 'bmp'
    orientation: int  # the EXIF orientation that was applied (1 = none)

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def has_alpha(self) -> bool:
        return self.pixels.ndim == 3 and self.pixels.shape[2] == 4


def image_format(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise ImageReadError(f"{path}: unsupported image type {suffix or '(none)'}; use one of {known}")
    return FORMATS[suffix]


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright as EXIF orientation 1–8 asks (the values Pillow's exif_transpose uses)."""
    transforms = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, k=-1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, k=1),
    }
    return np.ascontiguousarray(transforms.get(orientation, transforms[1])(pixels))


@dataclass(frozen=True)
class ImageHeader:
    width: int
    height: int
    frames: int        # pages of a TIFF, frames of an animated PNG/WebP
    orientation: int   # EXIF orientation 1-8 (1 = upright)
    gray: bool


def read_header(raw: bytes, source: str = "image", fmt: str = "image",
                max_pixels: int = MAX_IMAGE_PIXELS) -> ImageHeader:
    """Size, frame count, orientation and mode from the header alone. The size is checked
    against ``max_pixels`` before anything else is read, so a small file that declares a
    gigantic image costs nothing to refuse."""
    Image.MAX_IMAGE_PIXELS = None  # our own limit applies, with our own message
    try:
        header = Image.open(io.BytesIO(raw))
    except Exception:  # any malformed header: the file is unusable
        raise ImageReadError(f"{source}: not a readable {fmt.upper()} image (corrupt, truncated or empty)") from None
    with header:
        width, height = header.size
        check_size(width, height, max_pixels, source)
        # Pillow finds a PNG's EXIF only by decoding the whole image unless the eXIf chunk
        # came before the pixels; a PNG without it there is taken as upright.
        try:
            exif = header.getexif() if fmt != "png" or "exif" in header.info else {}
            orientation = int(exif.get(ORIENTATION_TAG, 1) or 1)
        except Exception:  # a malformed EXIF block: the pixels may still be fine
            orientation = 1
        frames = int(getattr(header, "n_frames", 1) or 1)
        return ImageHeader(width, height, frames, orientation if 1 <= orientation <= 8 else 1,
                           header.mode in GRAY_MODES)


def megapixels(pixels: int) -> str:
    """'1,600' or '0.12': whole megapixels when there are many, two digits when there are few."""
    return f"{pixels / 1e6:,.0f}" if pixels >= 10e6 else f"{pixels / 1e6:.2g}"


def check_size(width: int, height: int, max_pixels: int, source: str) -> None:
    pixels = width * height
    if width < 1 or height < 1:
        raise ImageReadError(f"{source}: declares an empty {width}x{height} image")
    if pixels > max_pixels:
        raise ImageReadError(f"{source}: the image is {width}x{height} = {megapixels(pixels)} MP, "
                             f"more than the {megapixels(max_pixels)} MP allowed")


def to_rgb_order(pixels: np.ndarray, gray: bool) -> np.ndarray:
    """OpenCV's BGR(A) -> RGB(A); a grayscale source -> H×W (gray with alpha stays RGBA)."""
    if pixels.ndim == 2:
        return pixels
    channels = pixels.shape[2]
    if channels == 1:
        return pixels[:, :, 0]
    if gray:  # OpenCV expanded a gray(+alpha) file to BGR(A): keep one channel
        return pixels[:, :, 0] if channels == 3 else cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGBA)
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB if channels == 3 else cv2.COLOR_BGRA2RGBA)


def read_image(path: str | os.PathLike, max_pixels: int = MAX_IMAGE_PIXELS) -> LoadedImage:
    """Decode an image upright, in RGB(A) order, at its own bit depth. The header is read
    first, and an image over ``max_pixels`` is refused before any decoding."""
    fmt = image_format(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a folder, not an image") from None
    except OSError as error:
        raise ImageReadError(f"{path}: cannot be read ({error.strerror or error})") from None
    if not raw:
        raise ImageReadError(f"{path}: not a readable {fmt.upper()} image (the file is empty)")
    header = read_header(raw, str(path), fmt, max_pixels)
    try:
        pixels = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        pixels = None
    if pixels is None or pixels.size == 0:
        raise ImageReadError(f"{path}: not a readable {fmt.upper()} image (corrupt, truncated or empty)")
    if pixels.dtype == np.int16:  # some TIFFs; values we can show are the non-negative ones
        pixels = np.clip(pixels, 0, None).astype(np.uint16)
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ImageReadError(f"{path}: {pixels.dtype} pixels are not supported (8- or 16-bit integer images only)")
    pixels = apply_orientation(to_rgb_order(pixels, header.gray), header.orientation)
    return LoadedImage(pixels=pixels, format=fmt, orientation=header.orientation)


def encode_image(pixels: np.ndarray, fmt: str, source: str = "image") -> bytes:
    """Encode RGB(A)/gray pixels for ``fmt``, reducing bit depth or alpha only where the format must."""
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ImageWriteError(f"cannot write {pixels.dtype} pixels; expected uint8 or uint16")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if fmt in EIGHT_BIT_ONLY and pixels.dtype == np.uint16:
        pixels = np.rint(pixels / 257.0).astype(np.uint8)
    if fmt in NO_ALPHA and pixels.ndim == 3 and pixels.shape[2] == 4:
        warnings.warn(f"{source}: {fmt.upper()} has no alpha channel; the alpha channel was dropped", stacklevel=3)
        pixels = pixels[:, :, :3]
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR if pixels.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    params = {"jpeg": [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY],
              "webp": [cv2.IMWRITE_WEBP_QUALITY, 101],  # >100 = lossless
              "png": [cv2.IMWRITE_PNG_COMPRESSION, 3]}.get(fmt, [])
    ok, encoded = cv2.imencode("." + ("tiff" if fmt == "tiff" else "jpg" if fmt == "jpeg" else fmt), pixels, params)
    if not ok:
        raise ImageWriteError(f"{source}: OpenCV could not encode a {pixels.shape} {pixels.dtype} image "
                              f"as {fmt.upper()}")
    return encoded.tobytes()


def write_bytes_atomic(path: Path, payload: bytes) -> None:
    """The target is either the old file or the complete new one, never a partial image."""
    replace_atomically(path, lambda tmp: Path(tmp).write_bytes(payload), suffix=path.suffix + ".part")


def check_writable(folder: Path) -> None:
    """Refuse a missing or unwritable output folder before any work is done (by creating and
    removing a file there: permissions, read-only mounts and quotas all show)."""
    if not folder.is_dir():
        raise ImageWriteError(f"output folder {folder} does not exist")
    try:
        handle, probe = sibling_temp(folder / ".write-check", ".tmp")
    except OSError as error:
        raise ImageWriteError(f"output folder {folder} is not writable ({error.strerror or error})") from None
    os.close(handle)
    os.unlink(probe)


def write_image(path: str | os.PathLike, pixels: np.ndarray) -> Path:
    """Write H×W / H×W×3 / H×W×4 uint8 or uint16 pixels in the format named by the suffix."""
    path = Path(path)
    try:
        fmt = image_format(path)
    except ImageReadError as error:
        raise ImageWriteError(str(error)) from None
    if not path.parent.is_dir():
        raise ImageWriteError(f"{path}: folder {path.parent} does not exist")
    payload = encode_image(pixels, fmt, source=str(path))
    try:
        write_bytes_atomic(path, payload)
    except OSError as error:
        raise ImageWriteError(f"{path}: cannot be written ({error.strerror or error})") from None
    return path

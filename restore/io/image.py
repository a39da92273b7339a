"""Read and write still images without losing what the user cares about.

OpenCV decodes and encodes the pixels because it keeps 16-bit PNG/TIFF and alpha intact
(Pillow drops 16-bit colour to 8 bit). Pillow only reads the header: the size, the pages,
the EXIF orientation tag (which ``IMREAD_UNCHANGED`` ignores), whether the file is
grayscale, and the metadata that goes on to the output (the camera's EXIF and the ICC
colour profile). Arrays are RGB(A) order, H×W for grayscale and H×W×2 for gray with
alpha, uint8 or uint16.

A file is trusted no further than it must be: only a regular file is opened
(``restore.io.input_files``), its first bytes must be an image's, its header is parsed
with a bounded read, and the rest is read only when it is no larger than the header's
size can need, so a symlink to /dev/zero, a FIFO or a huge non-image costs nothing.

Writes are atomic: the encoded bytes go to a temporary file in the target
folder that is renamed over the target only once complete, so a crash or a
full disk never leaves half an image behind.
"""
from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image

from restore.errors import RestoreError
from restore.io.formats import IMAGE_FORMATS, MAX_IMAGE_PIXELS
from restore.io.input_files import open_regular_file, size_text
from restore.io.temp_files import replace_atomically, sibling_temp

# Our own checks say what failed; OpenCV's log lines would only repeat it on stderr.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)

FORMATS = IMAGE_FORMATS
EIGHT_BIT_ONLY = {"jpeg", "webp", "bmp"}
NO_ALPHA = {"jpeg", "bmp"}
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "La", "F"}
ORIENTATION_TAG = 0x0112
JPEG_QUALITY = 95

SIGNATURES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg", b"II*\x00": "tiff", b"MM\x00*": "tiff",
              b"II+\x00": "tiff", b"MM\x00+": "tiff", b"BM": "bmp"}
PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "webp": "WEBP", "bmp": "BMP"}  # the one parser tried
MAX_IMAGE_BYTES = 2 * 1024 ** 3  # no image file is read beyond this, whatever its header says
HEADER_BYTES = 16 * 1024 ** 2    # what parsing a header may read (EXIF, colour profile, TIFF directories)
BYTES_PER_PIXEL = 16             # twice 16-bit RGBA: room for any codec's overhead
METADATA_BYTES = 64 * 1024 ** 2  # room for previews, colour profiles and XMP beside the pixels
ANIMATED = {"png": "an animated PNG", "webp": "an animated WebP", "tiff": "a multi-page TIFF"}
# What each output format carries over (OpenCV's encoders); TIFF and BMP keep none.
METADATA_FORMATS = {"png", "jpeg", "webp"}
JPEG_SEGMENT = 65_000            # a JPEG marker segment holds at most 64 KiB


class ImageReadError(RestoreError):
    """The file is missing, not an image, corrupt, too large, or of a kind we do not handle."""


class ImageWriteError(RestoreError):
    """The target cannot be written (format, folder or disk)."""


@dataclass(frozen=True)
class ImageMetadata:
    """What an output carries over from its input: the EXIF block (camera, exposure, date,
    GPS; as TIFF-structured bytes, its orientation reset to upright since the pixels were
    turned) and the ICC colour profile."""

    exif: bytes | None = None
    icc: bytes | None = None


@dataclass
class LoadedImage:
    pixels: np.ndarray  # H×W (gray), H×W×2 (gray+alpha), H×W×3 (RGB) or H×W×4 (RGBA); uint8 or uint16
    format: str  # what the file holds: 'png', 'jpeg', 'tiff', 'webp' or 'bmp'
    orientation: int  # the EXIF orientation that was applied (1 = none)
    metadata: ImageMetadata = field(default_factory=ImageMetadata)

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def has_alpha(self) -> bool:
        return self.pixels.ndim == 3 and self.pixels.shape[2] in (2, 4)


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
    metadata: ImageMetadata

    @property
    def byte_limit(self) -> int:
        return byte_limit(self.width, self.height)


def byte_limit(width: int, height: int) -> int:
    """The largest file an image of this size can honestly be."""
    return min(MAX_IMAGE_BYTES, width * height * BYTES_PER_PIXEL + METADATA_BYTES)


def sniff_format(prefix: bytes) -> str | None:
    """The format the first bytes announce, whatever the file's suffix says."""
    if prefix[:4] == b"RIFF" and prefix[8:12] == b"WEBP":
        return "webp"
    return next((kind for signature, kind in SIGNATURES.items() if prefix.startswith(signature)), None)


def webp_size(prefix: bytes) -> tuple[int, int] | None:
    """A WebP's canvas size from its first chunk (VP8X, VP8L or VP8). Pillow reads a whole WebP
    to parse it, so the size is checked from these bytes first."""
    chunk = prefix[12:16]
    if chunk == b"VP8X" and len(prefix) >= 30:
        return 1 + int.from_bytes(prefix[24:27], "little"), 1 + int.from_bytes(prefix[27:30], "little")
    if chunk == b"VP8L" and len(prefix) >= 25 and prefix[20] == 0x2F:
        bits = int.from_bytes(prefix[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 " and len(prefix) >= 30 and prefix[23:26] == b"\x9d\x01\x2a":
        return int.from_bytes(prefix[26:28], "little") & 0x3FFF, int.from_bytes(prefix[28:30], "little") & 0x3FFF
    return None


class BoundedReader:
    """A file as a header parser sees it: reads beyond ``budget`` bytes in all raise ``refusal``."""

    def __init__(self, file: BinaryIO, budget: int, refusal: ImageReadError) -> None:
        self.file, self.left, self.refusal = file, budget, refusal

    def read(self, size: int | None = -1) -> bytes:
        wanted = self.left + 1 if size is None or size < 0 else min(size, self.left + 1)
        data = self.file.read(wanted)
        self.left -= len(data)
        if self.left < 0:
            raise self.refusal
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.file.seek(offset, whence)

    def tell(self) -> int:
        return self.file.tell()


def carried_metadata(header: Image.Image, kind: str) -> tuple[ImageMetadata, int]:
    """(what the output carries over, the EXIF orientation) from a parsed header.

    A TIFF's tags describe its own strips and pages rather than the camera, so a TIFF gives
    only its colour profile. Pillow finds a PNG's EXIF only by decoding the whole image
    unless the eXIf chunk came before the pixels; a PNG without it there is taken as upright.
    """
    icc = header.info.get("icc_profile") or None
    if kind == "tiff" or (kind == "png" and "exif" not in header.info):
        return ImageMetadata(icc=icc), 1
    try:
        tags = header.getexif()
        orientation = int(tags.get(ORIENTATION_TAG, 1) or 1)
        if ORIENTATION_TAG in tags:
            tags[ORIENTATION_TAG] = 1
        exif = tags.tobytes().removeprefix(b"Exif\x00\x00") if tags else None
    except Exception:  # a malformed EXIF block: the pixels may still be fine
        return ImageMetadata(icc=icc), 1
    return ImageMetadata(exif=exif, icc=icc), orientation if 1 <= orientation <= 8 else 1


def read_header(file: BinaryIO, source: str, fmt: str, kind: str, max_pixels: int = MAX_IMAGE_PIXELS) -> ImageHeader:
    """Size, pages, orientation, mode and metadata from the header alone, through a bounded
    read. The size is checked against ``max_pixels`` before anything else is read, so a
    small file that declares a gigantic image costs nothing to refuse."""
    Image.MAX_IMAGE_PIXELS = None  # our own limit applies, with our own message
    unreadable = ImageReadError(f"{source}: not a readable {fmt.upper()} image (corrupt, truncated or empty)")
    file.seek(0)
    prefix = file.read(32)
    budget = HEADER_BYTES
    if kind == "webp":  # Pillow reads all of a WebP to parse it: its size is checked first
        canvas = webp_size(prefix)
        if canvas is None:
            raise unreadable
        check_size(*canvas, max_pixels, source)
        check_fits(os.fstat(file.fileno()).st_size, *canvas, source, fmt)
        budget = byte_limit(*canvas)
    file.seek(0)
    too_long = ImageReadError(f"{source}: its header runs past {size_text(budget)}; "
                              f"not a readable {fmt.upper()} image")
    try:
        header = Image.open(BoundedReader(file, budget, too_long), formats=[PILLOW_FORMATS[kind]])
    except ImageReadError:
        raise
    except Exception:  # any malformed header: the file is unusable
        refusal = float_tiff_error(file, source) if kind == "tiff" else None
        raise refusal or unreadable from None
    with header:
        width, height = header.size
        check_size(width, height, max_pixels, source)
        try:
            frames = int(getattr(header, "n_frames", 1) or 1)
        except ImageReadError:
            raise
        except Exception:
            raise unreadable from None
        if frames > 1 and kind in ANIMATED:
            raise ImageReadError(f"{source}: {ANIMATED[kind]} of {frames} {'pages' if kind == 'tiff' else 'frames'}; "
                                 "only single images are denoised (save each one as its own file)")
        metadata, orientation = carried_metadata(header, kind)
        gray = prefix[25] in (0, 4) if kind == "png" else header.mode in GRAY_MODES  # PNG: IHDR colour type
        return ImageHeader(width, height, frames, orientation, gray, metadata)


def check_fits(size: int, width: int, height: int, source: str, fmt: str) -> None:
    """Refuse a file of ``size`` bytes that is far larger than a ``width`` x ``height`` image can be."""
    if size > byte_limit(width, height):
        raise ImageReadError(f"{source}: the file is {size_text(size)}, far more than a {width}x{height} image "
                             f"needs; not a readable {fmt.upper()} image")


def float_tiff_error(file: BinaryIO, source: str) -> ImageReadError | None:
    """What to say about a TIFF Pillow cannot parse: floating-point colour is the usual reason
    (told only where tifffile, which scikit-image brings, is installed)."""
    try:
        import tifffile
    except ImportError:  # not a dependency of inference: the TIFF is called unreadable
        return None
    try:
        file.seek(0)
        with tifffile.TiffFile(file, name=Path(source).name) as tiff:
            dtype = tiff.pages[0].dtype
    except Exception:  # not a TIFF tifffile can read either
        return None
    return unsupported_samples(source, dtype) if dtype is not None and dtype.kind == "f" else None


def unsupported_samples(source: str, dtype: np.dtype) -> ImageReadError:
    kind = f"{8 * dtype.itemsize}-bit floating-point" if dtype.kind == "f" else str(dtype)
    return ImageReadError(f"{source}: holds {kind} pixels; only 8- and 16-bit integer images are supported "
                          "(save it as a 16-bit TIFF or PNG first)")


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
    """OpenCV's BGR(A) -> RGB(A); a grayscale source -> H×W, or H×W×2 with its alpha."""
    if pixels.ndim == 2:
        return pixels
    channels = pixels.shape[2]
    if channels in (1, 2):
        return pixels[:, :, 0] if channels == 1 else pixels
    if gray:  # OpenCV expanded a gray(+alpha) file to BGR(A): keep one channel (and the alpha)
        return pixels[:, :, 0] if channels == 3 else np.ascontiguousarray(pixels[:, :, [0, 3]])
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB if channels == 3 else cv2.COLOR_BGRA2RGBA)


def read_image(path: str | os.PathLike, max_pixels: int = MAX_IMAGE_PIXELS) -> LoadedImage:
    """Decode an image upright, in RGB(A) order, at its own bit depth, with the metadata its
    output should carry. The file's type, signature and header are checked first: an image
    over ``max_pixels``, or a file larger than its header's size can need, is refused before
    the rest is read."""
    fmt = image_format(path)
    with open_regular_file(path, "an image", ImageReadError) as file:
        size = os.fstat(file.fileno()).st_size
        if size == 0:
            raise ImageReadError(f"{path}: not a readable {fmt.upper()} image (the file is empty)")
        if size > MAX_IMAGE_BYTES:
            raise ImageReadError(f"{path}: the file is {size_text(size)}, more than the "
                                 f"{size_text(MAX_IMAGE_BYTES)} allowed for an image")
        kind = sniff_format(file.read(32))
        if kind is None:
            raise ImageReadError(f"{path}: not a readable {fmt.upper()} image (it does not start as any image does)")
        header = read_header(file, str(path), fmt, kind, max_pixels)
        check_fits(size, header.width, header.height, str(path), fmt)
        file.seek(0)
        raw = file.read(header.byte_limit + 1)  # bounded, should the file grow meanwhile
    check_fits(len(raw), header.width, header.height, str(path), fmt)
    try:
        pixels = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        pixels = None
    if pixels is None or pixels.size == 0:
        raise ImageReadError(f"{path}: not a readable {fmt.upper()} image (corrupt, truncated or empty)")
    if pixels.dtype == np.int16:  # some TIFFs; values we can show are the non-negative ones
        pixels = np.clip(pixels, 0, None).astype(np.uint16)
    if pixels.dtype not in (np.uint8, np.uint16):
        raise unsupported_samples(str(path), pixels.dtype)
    pixels = apply_orientation(to_rgb_order(pixels, header.gray), header.orientation)
    return LoadedImage(pixels=pixels, format=kind, orientation=header.orientation, metadata=header.metadata)


def metadata_pieces(metadata: ImageMetadata | None, fmt: str, gray: bool, source: str) -> list[tuple[int, bytes]]:
    """The EXIF and ICC profile ``fmt`` can carry for these pixels, as (OpenCV metadata type,
    bytes); what has to stay behind is said in one warning."""
    if metadata is None or not (metadata.exif or metadata.icc):
        return []
    if fmt not in METADATA_FORMATS:
        warnings.warn(f"{source}: {fmt.upper()} files are written without the input's EXIF and colour profile",
                      stacklevel=4)
        return []
    pieces, left = [], []
    if metadata.exif:
        if fmt == "jpeg" and len(metadata.exif) > JPEG_SEGMENT:
            left.append("EXIF block (too large for a JPEG)")
        else:
            pieces.append((cv2.IMAGE_METADATA_EXIF, metadata.exif))
    if metadata.icc:
        icc = metadata.icc
        whole = len(icc) >= 132 and int.from_bytes(icc[:4], "big") == len(icc) and icc[36:40] == b"acsp"
        if not whole:
            left.append("colour profile (malformed)")
        elif fmt == "png" and (icc[16:20] == b"GRAY") != gray:
            left.append("colour profile (made for other channels)")
        elif fmt == "jpeg" and len(icc) > JPEG_SEGMENT:
            left.append("colour profile (too large for a JPEG)")
        else:
            pieces.append((cv2.IMAGE_METADATA_ICCP, icc))
    if left:
        warnings.warn(f"{source}: the input's {' and '.join(left)} could not be carried over", stacklevel=4)
    return pieces


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def encode_gray_alpha_png(pixels: np.ndarray, pieces: list[tuple[int, bytes]]) -> bytes:
    """Gray+alpha as PNG colour type 4 (8 or 16 bits a sample), which OpenCV cannot write,
    with the metadata as iCCP and eXIf chunks."""
    height, width, _ = pixels.shape
    depth = 16 if pixels.dtype == np.uint16 else 8
    rows = pixels.astype(">u2" if depth == 16 else np.uint8).reshape(height, -1).view(np.uint8)
    scanlines = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1)  # filter type 0: none
    chunks = [png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, 4, 0, 0, 0))]
    for kind, payload in pieces:
        chunks.append(png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(payload))
                      if kind == cv2.IMAGE_METADATA_ICCP else png_chunk(b"eXIf", payload))
    chunks += [png_chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 6)), png_chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def encode_image(pixels: np.ndarray, fmt: str, source: str = "image", metadata: ImageMetadata | None = None) -> bytes:
    """Encode RGB(A)/gray(+alpha) pixels for ``fmt``, reducing bit depth or alpha only where the
    format must, with ``metadata`` where the format holds it (PNG, JPEG, WebP)."""
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ImageWriteError(f"cannot write {pixels.dtype} pixels; expected uint8 or uint16")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if fmt in EIGHT_BIT_ONLY and pixels.dtype == np.uint16:
        pixels = np.rint(pixels / 257.0).astype(np.uint8)
    if fmt in NO_ALPHA and pixels.ndim == 3 and pixels.shape[2] in (2, 4):
        warnings.warn(f"{source}: {fmt.upper()} has no alpha channel; the alpha channel was dropped", stacklevel=3)
        pixels = pixels[:, :, 0] if pixels.shape[2] == 2 else pixels[:, :, :3]
    gray = pixels.ndim == 2 or pixels.shape[2] == 2
    if pixels.ndim == 3 and pixels.shape[2] == 2 and fmt != "png":  # no gray+alpha in WebP or TIFF here: RGBA
        pixels, gray = np.ascontiguousarray(pixels[:, :, [0, 0, 0, 1]]), False
    pieces = metadata_pieces(metadata, fmt, gray, source)
    if pixels.ndim == 3 and pixels.shape[2] == 2:
        return encode_gray_alpha_png(pixels, pieces)
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR if pixels.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    params = {"jpeg": [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY],
              "webp": [cv2.IMWRITE_WEBP_QUALITY, 101],  # >100 = lossless
              "png": [cv2.IMWRITE_PNG_COMPRESSION, 3]}.get(fmt, [])
    suffix = "." + ("tiff" if fmt == "tiff" else "jpg" if fmt == "jpeg" else fmt)
    try:
        if pieces:
            ok, encoded = cv2.imencodeWithMetadata(suffix, pixels, [kind for kind, _ in pieces],
                                                   [np.frombuffer(data, np.uint8) for _, data in pieces], params)
        else:
            ok, encoded = cv2.imencode(suffix, pixels, params)
    except cv2.error:
        ok = False
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


def write_image(path: str | os.PathLike, pixels: np.ndarray, metadata: ImageMetadata | None = None) -> Path:
    """Write H×W / H×W×2 / H×W×3 / H×W×4 uint8 or uint16 pixels in the format named by the
    suffix, carrying ``metadata`` (usually the input's ``LoadedImage.metadata``) over."""
    path = Path(path)
    try:
        fmt = image_format(path)
    except ImageReadError as error:
        raise ImageWriteError(str(error)) from None
    if not path.parent.is_dir():
        raise ImageWriteError(f"{path}: folder {path.parent} does not exist")
    payload = encode_image(pixels, fmt, source=str(path), metadata=metadata)
    try:
        write_bytes_atomic(path, payload)
    except OSError as error:
        raise ImageWriteError(f"{path}: cannot be written ({error.strerror or error})") from None
    return path

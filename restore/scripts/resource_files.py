"""Read images out of two resource-file formats that Debian packages ship photos in.

* **Qt resource files** (``.rcc``, written by Qt's ``rcc`` tool). A 20-byte header (``qres``,
  format version, and the offsets of the tree, data and names sections; version 3 adds a
  4-byte flags word), then a tree of fixed-size nodes (14 bytes, or 22 from version 2 on,
  which adds a modification time). Each node names itself by an offset into the names
  section (a 2-byte length, a 4-byte hash, then UTF-16BE text). A directory node holds a
  child count and the index of its first child; a file node holds an offset into the data
  section, where a 4-byte size precedes the bytes. Flag 1 marks zlib data, stored as Qt's
  ``qCompress`` writes it (a 4-byte uncompressed size, then a zlib stream); flag 4 marks
  zstd data, which we refuse with a clear message.
* **Enlightenment ``.edj`` files** (Eet containers). A header (magic ``0x1ee70f42``, the
  number of directory entries and of dictionary entries), then per entry six big-endian
  integers: data offset, stored size, decoded size, name offset, name size, flags. Images
  are stored as JPEG streams inside their entries; the photograph is the largest one.

Both readers are written from these format descriptions; neither needs Qt or EFL installed.
"""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image

from restore.errors import RestoreError

RCC_MAGIC = b"qres"
EET_MAGIC = 0x1EE70F42
_RCC_DIRECTORY, _RCC_ZLIB, _RCC_ZSTD = 0x02, 0x01, 0x04


class ResourceFileError(RestoreError):
    """A resource file is not in the format expected, or lacks the member asked for."""


def _unpack(fmt: str, data: bytes, offset: int, what: str) -> tuple:
    end = offset + struct.calcsize(fmt)
    if offset < 0 or end > len(data):
        raise ResourceFileError(f"{what}: truncated (an offset points past the end of the file)")
    return struct.unpack_from(fmt, data, offset)


def rcc_members(path: Path) -> dict[str, bytes]:
    """Every file inside a Qt ``.rcc`` resource file: ``{path inside the file: bytes}``."""
    data = Path(path).read_bytes()
    if data[:4] != RCC_MAGIC:
        raise ResourceFileError(f"{path} is not a Qt resource file (no 'qres' header)")
    version, tree, payload, names = _unpack(">IIII", data, 4, str(path))
    node_size = 14 if version == 1 else 22

    def name_at(offset: int) -> str:
        (length,) = _unpack(">H", data, names + offset, str(path))
        start = names + offset + 6
        try:
            return data[start:start + 2 * length].decode("utf-16-be")
        except UnicodeDecodeError:
            raise ResourceFileError(f"{path}: a resource name is not UTF-16 text; the file is damaged") from None

    members: dict[str, bytes] = {}
    stack = [(0, "")]
    seen = set()
    while stack:
        index, prefix = stack.pop()
        if index in seen:
            raise ResourceFileError(f"{path}: the resource tree loops")
        seen.add(index)
        node = tree + index * node_size
        name_offset, flags = _unpack(">IH", data, node, str(path))
        name = name_at(name_offset) if index else ""
        if flags & _RCC_DIRECTORY:
            count, first = _unpack(">II", data, node + 6, str(path))
            stack.extend((first + child, f"{prefix}{name}/" if index else "") for child in range(count))
            continue
        (offset,) = _unpack(">I", data, node + 10, str(path))
        (size,) = _unpack(">I", data, payload + offset, str(path))
        blob = data[payload + offset + 4:payload + offset + 4 + size]
        if flags & _RCC_ZSTD:
            raise ResourceFileError(f"{path}: {prefix}{name} is zstd-compressed, which this reader does not handle")
        if flags & _RCC_ZLIB:
            try:
                blob = zlib.decompress(blob[4:])
            except zlib.error as error:
                raise ResourceFileError(f"{path}: {prefix}{name} is damaged ({error})") from None
        members[prefix + name] = blob
    return members


def edj_images(path: Path) -> list[bytes]:
    """The JPEG streams stored in an Enlightenment ``.edj`` (Eet) file, in entry order."""
    data = Path(path).read_bytes()
    magic, entries, _ = _unpack(">III", data, 0, str(path))
    if magic != EET_MAGIC:
        raise ResourceFileError(f"{path} is not an Eet/.edj file (magic {magic:#x})")
    images = []
    for entry in range(entries):
        offset, size, _, _, _, _ = _unpack(">IIIIII", data, 12 + 24 * entry, str(path))
        blob = data[offset:offset + size]
        start = blob.find(b"\xff\xd8\xff")
        if start >= 0:
            images.append(blob[start:])
    return images


def edj_photo(path: Path) -> Image.Image:
    """The largest image (by pixel count) inside an ``.edj`` file, decoded."""
    best = None
    for blob in edj_images(path):
        try:
            image = Image.open(io.BytesIO(blob))
            image.load()
        except (OSError, SyntaxError):
            continue  # an entry whose bytes merely look like a JPEG start
        if best is None or image.width * image.height > best.width * best.height:
            best = image
    if best is None:
        raise ResourceFileError(f"{path} holds no decodable image")
    return best

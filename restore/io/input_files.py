"""Opening a file a user named, without trusting what it is.

Every input (an image, a weight card, a registry, an option file) is opened here: only a
regular file is read, so a FIFO named ``photo.png`` cannot hang a run and a symlink to
``/dev/zero`` cannot fill the memory, and reads stop at a limit the caller chooses.
The FIFO is opened without blocking and its type is taken from the open descriptor,
so nothing can be swapped in between the check and the read.
"""
from __future__ import annotations

import os
import stat
from typing import BinaryIO

from restore.errors import RestoreError

KINDS = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device",
         stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


def size_text(size: int) -> str:
    """'1.2 GB', '64 MB', '980 kB': for messages."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def open_regular_file(path: str | os.PathLike, what: str = "a file",
                      error: type[RestoreError] = RestoreError) -> BinaryIO:
    """``path`` opened for binary reading, or ``error`` saying why it is not ``what``:
    missing, a folder, a device, a FIFO, a socket or unreadable."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except OSError as failure:
        raise error(f"{path}: cannot be read ({failure.strerror or failure})") from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        kind = "a folder" if stat.S_ISDIR(mode) else KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise error(f"{path}: is {kind}, not {what}")
    os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def read_limited(path: str | os.PathLike, limit: int, what: str = "a file",
                 error: type[RestoreError] = RestoreError) -> bytes:
    """The whole of a regular file of at most ``limit`` bytes; a larger one is refused
    before it is read (and one that grows while being read, once past the limit)."""
    with open_regular_file(path, what, error) as file:
        size = os.fstat(file.fileno()).st_size
        payload = file.read(limit + 1) if size <= limit else b""
    if size > limit or len(payload) > limit:
        raise error(f"{path}: the file is {size_text(max(size, len(payload)))}, more than the "
                    f"{size_text(limit)} allowed for {what}")
    return payload

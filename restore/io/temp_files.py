"""Temporary files beside their target, for writes that end in an atomic rename.

``tempfile.mkstemp`` creates files readable by their owner only (0600); renamed into
place, a denoised photo, a weight file or a checkpoint would keep that mode and be
unreadable to the rest of a team. Files made here get the mode a plain ``open()``
would give (0666 minus the umask).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def give_default_mode(path: str | os.PathLike) -> None:
    """The mode a plain ``open()`` would have given the file: 0666 minus the umask."""
    os.chmod(path, 0o666 & ~current_umask())


def sibling_temp(path: Path, suffix: str) -> tuple[int, str]:
    """(open descriptor, name) of a new file in ``path``'s folder, so that the final
    ``os.replace`` stays on one filesystem."""
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    give_default_mode(tmp)
    return handle, tmp

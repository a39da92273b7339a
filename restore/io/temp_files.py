"""Temporary files beside their target, for writes that end in an atomic rename.

``tempfile.mkstemp`` creates files readable by their owner only (0600); renamed into
place, a denoised photo, a weight file or a checkpoint would keep that mode and be
unreadable to the rest of a team. Files made here get the mode a plain ``open()``
would give (0666 minus the umask).

A temporary file is named ``.<target>.<pid>.<random><suffix>``: a crash or ``kill -9``
can leave one behind, and the next write of the same target removes it once the
process that made it is gone.
"""
from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def give_default_mode(path: str | os.PathLike) -> None:
    """The mode a plain ``open()`` would have given the file: 0666 minus the umask."""
    os.chmod(path, 0o666 & ~current_umask())


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temps(path: Path, suffix: str) -> list[Path]:
    """Delete the temporary files of ``path`` left by processes that no longer run."""
    removed = []
    prefix = f".{path.name}."
    for candidate in path.parent.glob(f"{glob.escape(prefix)}*{glob.escape(suffix)}"):
        pid = candidate.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def sibling_temp(path: Path, suffix: str) -> tuple[int, str]:
    """(open descriptor, name) of a new file in ``path``'s folder, so that the final
    ``os.replace`` stays on one filesystem."""
    remove_stale_temps(path, suffix)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=suffix)
    give_default_mode(tmp)
    return handle, tmp


def replace_atomically(path: Path, write: Callable[[str], None], suffix: str = ".tmp") -> None:
    """``write(tmp_name)`` into a sibling temporary file, flush it to disk, then rename it over
    ``path``: readers and crashes see the old file or the whole new one, never half of one.

    ``suffix`` matters to writers that pick the format from the name (``cv2.imwrite``). The
    mode is set again after ``write``, for writers that recreate the file (safetensors
    makes it 0600).
    """
    handle, tmp = sibling_temp(path, suffix)
    os.close(handle)
    try:
        write(tmp)
        give_default_mode(tmp)
        descriptor = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

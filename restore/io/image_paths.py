"""Which files to read and where each result goes, for one image or a folder.

Kept apart from the CLI so that its one promise can be tested on its own:
an output path is never an input path.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from restore.errors import RestoreError
from restore.io.formats import IMAGE_FORMATS as FORMATS

DEFAULT_SUFFIX = "_denoised"


class PathPlanError(RestoreError):
    """The input/output/reference paths do not make a valid job."""


@dataclass(frozen=True)
class ImageJob:
    source: Path
    target: Path
    reference: Path | None = None


def is_image_path(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in FORMATS


def same_file(first: Path, second: Path) -> bool:
    if first.exists() and second.exists():
        return os.path.samefile(first, second)
    return first.resolve() == second.resolve()


def target_suffix(source: Path, fmt: str | None) -> str:
    """The output's suffix: the input's own, unless ``fmt`` asks for another format
    (``--format jpeg`` leaves ``.jpg`` as it is)."""
    if fmt is None or FORMATS.get(source.suffix.lower()) == fmt:
        return source.suffix
    return f".{fmt}"


def target_name(source: Path, fmt: str | None) -> str:
    return source.stem + target_suffix(source, fmt)


def plan_jobs(source: str | os.PathLike, output: str | os.PathLike | None = None,
              reference: str | os.PathLike | None = None, fmt: str | None = None) -> list[ImageJob]:
    """Pair every input image with an output path (and a clean reference, when given).

    A file goes to ``output`` or ``<stem>_denoised.<ext>`` beside it. A folder's images
    go, under their own names, into ``output`` or a sibling ``<folder>_denoised/``.
    ``fmt`` ('png', 'tiff', ...) changes the written format's suffix.
    """
    source = Path(source)
    if fmt is not None and f".{fmt}" not in FORMATS:
        raise PathPlanError(f"unknown output format {fmt!r}; use one of {sorted({f[1:] for f in FORMATS})}")
    if not source.exists():
        raise PathPlanError(f"input not found: {source}")
    if source.is_dir():
        return plan_folder(source, output, reference, fmt)
    if source.suffix.lower() not in FORMATS:
        raise PathPlanError(f"{source}: not a supported image type ({', '.join(sorted(FORMATS))})")
    if output is None:
        target = source.with_name(f"{source.stem}{DEFAULT_SUFFIX}{target_suffix(source, fmt)}")
    else:
        target = Path(output)
        if target.is_dir():
            target = target / target_name(source, fmt)
        elif target.suffix.lower() not in FORMATS:
            raise PathPlanError(f"output {target}: give an image file name ({', '.join(sorted(FORMATS))}) or a folder")
    if same_file(source, target):
        raise PathPlanError(f"output {target} is the input itself; choose another --output")
    ref = Path(reference) if reference is not None else None
    if ref is not None and not ref.is_file():
        raise PathPlanError(f"reference image not found: {ref}")
    return [ImageJob(source, target, ref)]


def plan_folder(source: Path, output: str | os.PathLike | None, reference: str | os.PathLike | None,
                fmt: str | None) -> list[ImageJob]:
    folder = Path(output) if output is not None else source.with_name(source.name + DEFAULT_SUFFIX)
    if folder.exists() and not folder.is_dir():
        raise PathPlanError(f"input is a folder, so --output must be a folder too, but {folder} is a file")
    if same_file(source, folder):
        raise PathPlanError(f"output folder {folder} is the input folder; outputs would overwrite the inputs")
    ref_folder = Path(reference) if reference is not None else None
    if ref_folder is not None and not ref_folder.is_dir():
        raise PathPlanError(f"input is a folder, so --gt must be a folder of references too: {ref_folder}")
    sources = sorted(p for p in source.iterdir() if is_image_path(p))
    if not sources:
        raise PathPlanError(f"no images in {source} ({', '.join(sorted(FORMATS))})")
    jobs = []
    for path in sources:
        ref = ref_folder / path.name if ref_folder is not None else None
        jobs.append(ImageJob(path, folder / target_name(path, fmt), ref))
    targets = [job.target.name for job in jobs]
    clashes = sorted({name for name in targets if targets.count(name) > 1})
    if clashes:
        raise PathPlanError(f"several inputs would be written to the same file ({', '.join(clashes)}); "
                            "drop --format or rename the inputs")
    return jobs

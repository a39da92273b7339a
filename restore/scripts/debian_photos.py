"""The natural photographs in Debian packages, as clean training images.

``plasma-workspace-wallpapers`` and ``mate-backgrounds`` ship a couple of dozen real
photographs at 1.3K-2.5K among much digital art; only the photographs listed in
:data:`PHOTOS` are used (:func:`find_or_fetch`). Fourteen more packages add 258 photographs
(:mod:`restore.scripts.debian_photo_list`, :func:`find_or_fetch_extra`), some of them inside
Qt ``.rcc`` and Enlightenment ``.edj`` resource files (:mod:`restore.scripts.resource_files`).
Files are looked for where the packages install them (``/usr/share/...``), then in a cache
folder, and when missing there they are fetched into the cache with ``apt-get download`` and
``dpkg -x`` (no root install).
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from restore.errors import RestoreError
from restore.scripts.debian_photo_list import EXTRA_PACKAGES, PhotoPackage
from restore.scripts.resource_files import edj_photo, rcc_members

PLASMA = "plasma-workspace-wallpapers"
MATE = "mate-backgrounds"
PLASMA_PHOTOS = ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
                 "Grey", "Kite", "OneStandsOut", "Path", "summer_1am")
MATE_PHOTOS = ("Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird", "RainDrops",
               "Storm", "TwoWings", "Wood", "YellowFlower")
PHOTOS = {PLASMA: PLASMA_PHOTOS, MATE: MATE_PHOTOS}
APT_GET = "apt-get"
DPKG = "dpkg"


class DebianPhotosError(RestoreError):
    """The photos could be neither found nor fetched; the message says why and what to do."""


@dataclass(frozen=True)
class DebianPhoto:
    name: str
    package: str
    path: Path              # the file on disk
    package_path: str       # where the package installs it, e.g. /usr/share/backgrounds/mate/nature/Aqua.jpg


def _pixels(path: Path) -> int:
    with Image.open(path) as image:
        width, height = image.size
    return width * height


def _largest(folder: Path) -> Path | None:
    """A plasma wallpaper folder holds one picture in many sizes: the largest by pixel count."""
    files = sorted(folder.glob("*.jpg")) + sorted(folder.glob("*.png"))
    return max(files, key=_pixels, default=None)


def locate(root: Path) -> dict[str, DebianPhoto]:
    """The photos found under ``root`` (``/`` for installed packages, or a ``dpkg -x`` folder)."""
    found = {}
    for name in PLASMA_PHOTOS:
        package_dir = f"usr/share/wallpapers/{name}/contents/images"
        file = _largest(root / package_dir)
        if file is not None:
            found[name] = DebianPhoto(name, PLASMA, file, f"/{package_dir}/{file.name}")
    for name in MATE_PHOTOS:
        package_path = f"usr/share/backgrounds/mate/nature/{name}.jpg"
        if (root / package_path).is_file():
            found[name] = DebianPhoto(name, MATE, root / package_path, f"/{package_path}")
    return found


def _run(command: list[str], cwd: Path) -> None:
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900)
    except FileNotFoundError:
        raise DebianPhotosError(f"{command[0]} is not available on this machine") from None
    except subprocess.TimeoutExpired:
        raise DebianPhotosError(f"'{' '.join(command)}' took over 15 minutes") from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise DebianPhotosError(f"'{' '.join(command)}' failed: {last}")


def fetch(packages: list[str], cache: Path) -> None:
    """``apt-get download`` each package into ``cache`` and unpack it there with ``dpkg -x``."""
    cache.mkdir(parents=True, exist_ok=True)
    for package in packages:
        _run([APT_GET, "download", package], cache)
        debs = sorted(cache.glob(f"{package}_*.deb"))
        if not debs:
            raise DebianPhotosError(f"apt-get download left no {package}_*.deb in {cache}")
        _run([DPKG, "-x", debs[-1].name, "root"], cache)


def package_versions(cache: Path) -> dict[str, str]:
    """Package -> version, read from the names of the fetched .deb files (empty when none)."""
    versions = {}
    for deb in sorted(cache.glob("*.deb")):
        package, _, rest = deb.name.partition("_")
        versions[package] = rest.rsplit("_", 1)[0].replace("%3a", ":")
    return versions


def find_or_fetch(cache: Path, system_root: Path = Path("/"), log=print) -> list[DebianPhoto]:
    """Every photo of :data:`PHOTOS`, from the installed packages, the cache, or a fresh fetch."""
    found = locate(system_root)
    missing = [package for package, names in PHOTOS.items() if not all(n in found for n in names)]
    if missing:
        found |= {n: p for n, p in locate(cache / "root").items() if p.package in missing}
    missing = [package for package, names in PHOTOS.items() if not all(n in found for n in names)]
    if missing:
        if shutil.which(APT_GET) is None or shutil.which(DPKG) is None:
            raise DebianPhotosError(
                f"the Debian photos are not installed ({', '.join(missing)}) and apt-get/dpkg are not available "
                f"to fetch them; install the packages, or unpack them into {cache / 'root'}")
        log(f"fetching {', '.join(missing)} with apt-get download into {cache} (no root install)")
        try:
            fetch(missing, cache)
        except DebianPhotosError as error:
            raise DebianPhotosError(f"could not fetch the Debian photos: {error}") from None
        found |= {n: p for n, p in locate(cache / "root").items() if p.package in missing}
    absent = [n for names in PHOTOS.values() for n in names if n not in found]
    if absent:
        raise DebianPhotosError(f"these Debian photos are missing from their packages: {', '.join(absent)}")
    return [found[n] for names in PHOTOS.values() for n in names]


@dataclass(frozen=True)
class ExtraPhoto:
    name: str               # unique corpus name: <package>/<file stem>
    package: PhotoPackage
    path: Path              # a file on disk: the photo itself, or one extracted from a resource file
    package_path: str       # where the package installs it (rcc: <file>.rcc::<member>)
    container_sha256: str | None = None  # the .rcc/.edj file's sha256, for extracted photos


RCC_FOLDER = "usr/share/gcompris-qt/rcc"


def _package_file(package: PhotoPackage, entry: str) -> str:
    return f"{RCC_FOLDER}/{entry.split('::', 1)[0]}" if package.kind == "rcc" else entry


def _has_all(root: Path, package: PhotoPackage) -> bool:
    return all((root / _package_file(package, entry)).is_file() for entry in package.files)


def _extract(root: Path, package: PhotoPackage, entry: str, out: Path) -> tuple[Path, str | None]:
    """The photo as a file: itself for ``file`` entries, else written below ``out`` once."""
    from restore.io.weights_card import sha256_of_file

    source = root / _package_file(package, entry)
    if package.kind == "file":
        return source, None
    member = entry.split("::", 1)[1] if package.kind == "rcc" else f"{Path(entry).stem}.png"
    target = out / package.package / member
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.tmp")
        if package.kind == "rcc":
            members = rcc_members(source)
            if member not in members:
                raise DebianPhotosError(f"{source} holds no {member}")
            staging.write_bytes(members[member])
        else:
            edj_photo(source).convert("RGB").save(staging, format="PNG")
        staging.replace(target)
    return target, sha256_of_file(source)


def find_or_fetch_extra(cache: Path, system_root: Path = Path("/"), log=print,
                        required: bool = True) -> list[ExtraPhoto]:
    """Every photo of :data:`EXTRA_PACKAGES`, from installed packages, the cache or a fresh fetch.

    A package that can be neither found nor fetched is an error when ``required``; otherwise
    it is named in one log line and left out.
    """
    roots = {}
    missing = []
    for package in EXTRA_PACKAGES:
        for root in (system_root, cache / "root"):
            if _has_all(root, package):
                roots[package.package] = root
                break
        else:
            missing.append(package)
    if missing:
        names = ", ".join(p.package for p in missing)
        if shutil.which(APT_GET) is None or shutil.which(DPKG) is None:
            problem = f"these packages are not installed and apt-get/dpkg are not available to fetch them: {names}"
            if required:
                raise DebianPhotosError(problem)
            log(f"warning: {problem}; leaving them out")
        else:
            log(f"fetching {names} with apt-get download into {cache} (no root install)")
            for package in missing:
                try:
                    fetch([package.package], cache)
                except DebianPhotosError as error:
                    if required:
                        raise DebianPhotosError(f"could not fetch {package.package}: {error}") from None
                    log(f"warning: could not fetch {package.package} ({error}); leaving it out")
                    continue
                if not _has_all(cache / "root", package):
                    absent = [e for e in package.files if not (cache / "root" / _package_file(package, e)).is_file()]
                    problem = f"{package.package} lacks {len(absent)} of its listed photos, e.g. {absent[0]}"
                    if required:
                        raise DebianPhotosError(problem)
                    log(f"warning: {problem}; leaving it out")
                    continue
                roots[package.package] = cache / "root"
    photos = []
    for package in EXTRA_PACKAGES:
        if package.package not in roots:
            continue
        for entry in package.files:
            path, container = _extract(roots[package.package], package, entry, cache / "extracted")
            stem = Path(entry.split("::")[-1]).stem
            if package.kind == "rcc":  # activities reuse names (two giraffes, two horses)
                stem = f"{Path(entry.split('::')[0]).stem}_{stem}"
            photos.append(ExtraPhoto(f"{package.package}/{stem}", package, path, f"/{entry}", container))
    names = [photo.name for photo in photos]
    if len(set(names)) != len(names):
        raise DebianPhotosError("two listed photos share a name; the list needs renaming")
    return photos

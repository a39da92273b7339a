"""The natural photographs in Debian's wallpaper packages, as clean training images.

``plasma-workspace-wallpapers`` and ``mate-backgrounds`` ship a couple of dozen real
photographs at 1.3K-2.5K among much digital art; only the photographs listed in
:data:`PHOTOS` are used. They are looked for where the packages install them
(``/usr/share/...``), then in a cache folder, and when missing there they are fetched
into the cache with ``apt-get download`` and ``dpkg -x`` (no root install).
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from restore.errors import RestoreError

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

"""Corpus v2: the 258 more Debian photographs, read from plain files, Qt .rcc and Enlightenment
.edj resource files, shrunk, recorded with package, version, license and sha256, and kept
apart from every evaluation-only image."""
import io
import json
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from restore.data.photos import EVAL_PHOTOS
from restore.scripts import debian_photos, resource_files
from restore.scripts.debian_photo_list import EXTRA_PACKAGES, PhotoPackage
from restore.scripts.make_sample_corpus import make_corpus

from scripts.test_sample_corpus import fake_debian_root

REPO = Path(__file__).resolve().parents[2]


def write_rcc(path: Path, files: dict[str, tuple[bytes, bool]]) -> None:
    """A Qt resource file (format version 3) holding ``{path: (bytes, zlib-compressed)}``."""
    tree: dict = {}
    for name, value in files.items():
        node = tree
        *folders, leaf = name.split("/")
        for folder in folders:
            node = node.setdefault(folder, {})
        node[leaf] = value
    names, data, nodes = bytearray(), bytearray(), []

    def name_offset(text: str) -> int:
        offset = len(names)
        names.extend(struct.pack(">HI", len(text), 0) + text.encode("utf-16-be"))
        return offset

    def add(children: dict) -> int:  # breadth-first: a directory's children are consecutive nodes
        first = len(nodes)
        for child_name, child in children.items():
            nodes.append([child_name, child])
        for index in range(first, first + len(children)):
            child_name, child = nodes[index]
            if isinstance(child, dict):
                nodes[index] = (child_name, "dir", len(child), add(child))
            else:
                blob, compress = child
                stored = struct.pack(">I", len(blob)) + zlib.compress(blob) if compress else blob
                nodes[index] = (child_name, "file", len(data), compress)
                data.extend(struct.pack(">I", len(stored)) + stored)
        return first

    nodes.append(None)  # the root
    nodes[0] = ("", "dir", len(tree), add(tree))
    packed = bytearray()
    for name, kind, a, b in nodes:
        offset = name_offset(name) if name else 0
        if kind == "dir":
            packed += struct.pack(">IHII", offset, 2, a, b) + bytes(8)
        else:
            packed += struct.pack(">IHHHI", offset, 1 if b else 0, 0, 0, a) + bytes(8)
    header = 24
    tree_at, data_at = header, header + len(packed)
    names_at = data_at + len(data)
    path.write_bytes(b"qres" + struct.pack(">IIIII", 3, tree_at, data_at, names_at, 0) + packed + data + names)


def write_edj(path: Path, images: list[bytes]) -> None:
    """An Eet file whose entries hold ``images`` behind a few header bytes, as edje stores them."""
    entries = [(f"edje/images/{i}".encode(), b"\x00" * 12 + blob) for i, blob in enumerate(images)]
    directory = 12 + 24 * len(entries)
    body, table = bytearray(), bytearray()
    for name, blob in entries:
        data_at = directory + len(body)
        body += blob
        name_at = directory + len(body)
        body += name
        table += struct.pack(">IIIIII", data_at, len(blob), len(blob), name_at, len(name), 0)
    path.write_bytes(struct.pack(">III", 0x1EE70F42, len(entries), 0) + table + body)


def jpeg_bytes(image: np.ndarray, orientation: int | None = None) -> bytes:
    out = io.BytesIO()
    pil = Image.fromarray(image)
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        pil.save(out, format="JPEG", quality=95, exif=exif)
    else:
        pil.save(out, format="JPEG", quality=95)
    return out.getvalue()


def test_rcc_reader_finds_plain_and_zlib_members(tmp_path):
    files = {"gcompris/a/one.webp": (b"first" * 10, False), "gcompris/a/b/two.txt": (b"second" * 50, True),
             "top.bin": (bytes(range(256)), False)}
    write_rcc(tmp_path / "x.rcc", files)
    assert resource_files.rcc_members(tmp_path / "x.rcc") == {name: blob for name, (blob, _) in files.items()}
    (tmp_path / "bad.rcc").write_bytes(b"nope" + bytes(40))
    with pytest.raises(resource_files.ResourceFileError, match="not a Qt resource file"):
        resource_files.rcc_members(tmp_path / "bad.rcc")


def test_edj_reader_returns_the_largest_image(tmp_path):
    rng = np.random.default_rng(0)
    small, large = (rng.integers(0, 255, shape, np.uint8) for shape in ((20, 30, 3), (60, 90, 3)))
    write_edj(tmp_path / "bg.edj", [jpeg_bytes(small), jpeg_bytes(large), b"\xff\xd8\xffnot really"])
    photo = resource_files.edj_photo(tmp_path / "bg.edj")
    assert photo.size == (90, 60)
    (tmp_path / "bad.edj").write_bytes(bytes(64))
    with pytest.raises(resource_files.ResourceFileError, match="not an Eet"):
        resource_files.edj_photo(tmp_path / "bad.edj")


@pytest.fixture
def fake_extra(tmp_path, monkeypatch):
    """Three tiny packages, one of each kind, installed under a fake root."""
    root = fake_debian_root(tmp_path / "root")
    rng = np.random.default_rng(1)
    portrait = rng.integers(0, 255, (400, 300, 3), np.uint8)
    (root / "usr/share/photos").mkdir(parents=True)
    # stored sideways with EXIF orientation 6 (turn 90 degrees clockwise to view), as phone photos are
    (root / "usr/share/photos/tall.jpg").write_bytes(jpeg_bytes(np.ascontiguousarray(np.rot90(portrait, 1)), 6))
    webp = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (300, 320, 3), np.uint8)).save(webp, format="WEBP", lossless=True)
    (root / "usr/share/gcompris-qt/rcc").mkdir(parents=True)
    write_rcc(root / "usr/share/gcompris-qt/rcc/erase.rcc",
              {"gcompris/src/activities/erase/resource/bee.webp": (webp.getvalue(), False)})
    (root / "usr/share/bg").mkdir(parents=True)
    write_edj(root / "usr/share/bg/Bamboo.edj", [jpeg_bytes(rng.integers(0, 255, (1200, 2200, 3), np.uint8))])
    packages = (PhotoPackage("fake-photos", "1.0-1", "CC0", "file", ("usr/share/photos/tall.jpg",)),
                PhotoPackage("fake-gcompris", "3.1-2", "GPL-3+", "rcc",
                             ("erase.rcc::gcompris/src/activities/erase/resource/bee.webp",)),
                PhotoPackage("fake-enlightenment", "0.25", "BSD-2-clause", "edj", ("usr/share/bg/Bamboo.edj",)))
    monkeypatch.setattr(debian_photos, "EXTRA_PACKAGES", packages)
    return root, portrait


def test_corpus_v2_reads_every_kind_shrinks_and_records_it(tmp_path, fake_extra):
    root, portrait = fake_extra
    out = tmp_path / "corpus"
    manifest = make_corpus(out, all_debian=True, debian_cache=tmp_path / "cache", system_root=root,
                           clip_frames=7, clip_height=32, clip_width=32)
    assert manifest["corpus"] == "v2"
    extra = {entry["name"]: entry for entry in manifest["train"] if entry["file"].startswith("train/debian_more/")}
    assert sorted(extra) == ["fake-enlightenment/Bamboo", "fake-gcompris/erase_bee", "fake-photos/tall"]
    for entry in extra.values():
        assert {"source", "version", "license", "source_file", "source_sha256", "sha256", "height", "width"} <= set(entry)
        assert entry["sha256"] == __import__("hashlib").sha256((out / entry["file"]).read_bytes()).hexdigest()
    tall = extra["fake-photos/tall"]
    assert (tall["height"], tall["width"]) == (200, 150)  # upright, then shrunk 2x
    stored = cv2.cvtColor(cv2.imread(str(out / tall["file"])), cv2.COLOR_BGR2RGB).astype(float)
    assert np.abs(stored - cv2.resize(portrait, (150, 200), interpolation=cv2.INTER_AREA)).mean() < 12
    bee = extra["fake-gcompris/erase_bee"]
    assert bee["source_file"].startswith("/erase.rcc::") and len(bee["container_sha256"]) == 64
    assert bee["license"] == "GPL-3+" and bee["version"] == "3.1-2"
    bamboo = extra["fake-enlightenment/Bamboo"]
    assert bamboo["shrink"].startswith("2x") and (bamboo["height"], bamboo["width"]) == (600, 1100)
    # the 29 photos of corpus v1 are still there, and no evaluation-only photo is
    assert len(manifest["train"]) == 6 + 23 + 3
    assert not {entry["name"] for entry in manifest["train"]} & set(EVAL_PHOTOS)


def test_a_required_package_that_cannot_be_fetched_is_exit_2(tmp_path, fake_extra, monkeypatch, capsys):
    root, _ = fake_extra
    (root / "usr/share/bg/Bamboo.edj").unlink()
    monkeypatch.setattr(debian_photos.shutil, "which", lambda name: None)
    from restore.errors import run_cli

    code = run_cli(lambda: make_corpus(tmp_path / "corpus", all_debian=True, debian_cache=tmp_path / "cache",
                                       system_root=root, clip_frames=7, clip_height=32, clip_width=32))
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "fake-enlightenment" in err
    assert not (tmp_path / "corpus").exists()


def test_the_photo_list_is_the_data_notes_list():
    assert sum(len(p.files) for p in EXTRA_PACKAGES) == 258 and len(EXTRA_PACKAGES) == 14
    files = [f for p in EXTRA_PACKAGES for f in p.files]
    assert len(set(files)) == len(files)
    assert all(p.kind in ("file", "rcc", "edj") and p.license and p.version for p in EXTRA_PACKAGES)
    # evaluation-only images never appear: opencv-doc's classic test scans and anything a Python package ships
    scans = {"baboon", "fruits", "apple", "orange", "lena"}
    opencv = next(p for p in EXTRA_PACKAGES if p.package == "opencv-doc").files
    assert not [f for f in opencv if Path(f).stem.lower() in scans]
    assert not [f for f in files if "site-packages" in f or "dist-packages" in f]


def test_no_published_card_lists_an_evaluation_only_image_for_training():
    for card_path in sorted((REPO / "weights").glob("*.json")):
        card = json.loads(card_path.read_text())
        if "training_images" not in card:
            continue
        names = {Path(f).stem for f in card["training_images"]}
        assert not names & set(EVAL_PHOTOS), card_path.name
        assert not [f for f in card["training_images"] if "site-packages" in f or "dist-packages" in f]


def test_a_damaged_rcc_member_is_one_clear_error(tmp_path):
    write_rcc(tmp_path / "x.rcc", {"a/b.bin": (b"payload" * 20, True)})
    data = bytearray((tmp_path / "x.rcc").read_bytes())
    at = data.find(zlib.compress(b"payload" * 20))
    data[at + 2:at + 8] = b"\xff" * 6  # inside the zlib stream
    (tmp_path / "x.rcc").write_bytes(bytes(data))
    with pytest.raises(resource_files.ResourceFileError, match="damaged"):
        resource_files.rcc_members(tmp_path / "x.rcc")

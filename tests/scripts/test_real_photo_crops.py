"""make_real_photo_crops: the phone-photo figures of the docs, on stand-in photos and tiny models."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data

from restore.errors import RestoreError
from restore.io.image import read_image
from restore.scripts import make_real_photo_crops as crops


def test_each_photo_gets_its_crop_and_every_models_result_side_by_side(tmp_path, monkeypatch, publish_local):
    weights = tmp_path / "weights"
    publish_local(weights, name="tiny_local_gauss")
    publish_local(weights, name="tiny_local_camera", noise={"type": "camera"})
    root = tmp_path / "package"
    photo = np.tile(data.astronaut(), (6, 8, 1))  # 4096 x 3072, as the phone's: the crops lie inside
    for entry, *_ in crops.CROPS:
        (root / crops.FOLDER / entry).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(photo).save(root / crops.FOLDER / entry, quality=70)
    monkeypatch.setattr(crops, "package_root", lambda cache: (root, "1.0-test"))
    out = tmp_path / "docs"
    assert crops.main(["--out", str(out), "--weights-dir", str(weights),
                       "--models", "tiny_local_gauss,tiny_local_camera"]) == 0
    for *_, name in crops.CROPS:
        figure = read_image(out / name).pixels
        assert figure.shape == (crops.SIZE + 28, 3 * crops.SIZE + 2 * 6, 3)
        left, right = figure[28:, :crops.SIZE], figure[28:, -crops.SIZE:]
        assert left.std() > 10 and not np.array_equal(left, right)  # a photo, and a result that differs


def test_an_unknown_model_is_one_error_line(tmp_path, capsys, publish_local):
    publish_local(tmp_path / "weights")
    assert crops.main(["--weights-dir", str(tmp_path / "weights"), "--models", "nope", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error:")


def test_a_photo_too_small_for_its_crop_is_refused(tmp_path):
    small = tmp_path / "small.jpg"
    Image.fromarray(data.astronaut()).save(small)
    with pytest.raises(RestoreError, match="too small for the crop"):
        crops.shrunk_crop(small, 380, 1180)

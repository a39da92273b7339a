"""Video clips drawn from still photos (photo_motion): still shots, motion, gray, errors."""
import random
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata

import restore.data  # noqa: F401  (registers datasets)
from restore.errors import DatasetError
from restore.data import photo_motion
from restore.data.photo_motion import MotionRange, motion_clip
from restore.data.video_clip_dataset import VideoClipDataset
from restore.models.options import OptionsError, check_dataroots, with_overrides

PHOTO = skdata.astronaut()  # 512 x 512 RGB


def measured_shift(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(dy, dx) of the content between two frames, by windowed phase correlation (about 0.5 px)."""
    window = cv2.createHanningWindow(first.shape[1::-1], cv2.CV_64F)
    a, b = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float64) for f in (first, second))
    (dx, dy), _ = cv2.phaseCorrelate(a, b, window)
    return np.array([dy, dx])


@pytest.mark.parametrize("size", [64, 63])
def test_a_still_shot_is_one_exact_crop_in_every_frame(size):
    clip = motion_clip(PHOTO, 7, size, random.Random(0), MotionRange(scale=(1.0, 1.0)), still=True)
    assert clip.shape == (7, size, size, 3) and clip.dtype == np.uint8
    assert all(np.array_equal(frame, clip[0]) for frame in clip)
    # a whole-pixel crop of the photo itself (odd sizes too): no resampling blur
    hits = [(y, x) for y in range(513 - size) for x in range(513 - size)
            if PHOTO[y, x, 0] == clip[0, 0, 0, 0] and np.array_equal(PHOTO[y:y + size, x:x + size], clip[0])]
    assert hits


def test_the_camera_moves_at_a_constant_speed_within_the_range():
    motion = MotionRange(max_speed=4.0, max_zoom=0.0, scale=(1.0, 1.0))
    speeds = []
    for seed in range(8):
        clip = motion_clip(PHOTO, 7, 128, random.Random(seed), motion)
        first_half, second_half = measured_shift(clip[0], clip[3]), measured_shift(clip[3], clip[6])
        assert np.abs(first_half - second_half).max() < 0.8  # constant velocity
        speeds.append(np.hypot(*(first_half + second_half)) / 6)
    assert max(speeds) <= 4.2 and max(speeds) - min(speeds) > 1  # drawn from [0, 4] px per frame, not one value


def test_zoom_and_scale_stay_inside_the_photo_and_never_enlarge(monkeypatch):
    motion = MotionRange(max_speed=4.0, max_zoom=0.05, scale=(0.5, 1.0))
    warps = []  # (source height, width, matrix) of every frame drawn
    real_warp = photo_motion.cv2.warpAffine
    monkeypatch.setattr(photo_motion.cv2, "warpAffine",
                        lambda source, matrix, *args, **kw: warps.append((*source.shape[:2], matrix))
                        or real_warp(source, matrix, *args, **kw))
    for photo in (PHOTO[:100, :140], PHOTO[:300, :200], PHOTO):
        for seed in range(20):
            clip = motion_clip(photo, 7, 96, random.Random(seed), motion)
            assert clip.shape == (7, 96, 96, 3)
    assert len(warps) == 3 * 20 * 7
    for height, width, matrix in warps:
        scale = matrix[0, 0]
        assert 0 < scale <= 1 and matrix[1, 1] == scale  # shrunk or 1:1, never enlarged
        corners = (np.array([0.0, 95.0])[:, None] - matrix[:, 2]) / scale  # output corners in the source
        assert corners.min() >= -1e-6 and corners[:, 0].max() <= width - 1 + 1e-6
        assert corners[:, 1].max() <= height - 1 + 1e-6  # the whole window lies inside the photo
    zooms = {round(float(warps[i + 6][2][0, 0] / warps[i][2][0, 0]), 3) for i in range(0, len(warps), 7)}
    assert any(z < 1 for z in zooms) and any(z > 1 for z in zooms)  # zooming out and in both happen
    with pytest.raises(DatasetError, match="smaller than the crop size"):
        motion_clip(PHOTO[:80, :200], 7, 96, random.Random(0), motion)
    for bad in ({"scale": (0.5, 2.0)}, {"scale": (0.0, 1.0)}, {"max_speed": -1.0}, {"max_zoom": 0.5}):
        with pytest.raises(DatasetError, match="photo_motion needs"):
            MotionRange(**bad)


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for name in ("astronaut", "coffee"):
        cv2.imwrite(str(folder / f"{name}.png"), cv2.cvtColor(getattr(skdata, name)(), cv2.COLOR_RGB2BGR))
    return folder


def dataset(folder: Path, **extra) -> VideoClipDataset:
    return VideoClipDataset({"phase": "train", "photo_motion": {"dataroot": str(folder)}, "gt_size": 48,
                             "sigma": [0, 50], "clip": True, "noise_map": True, "augment": False, **extra})


def test_the_dataset_draws_a_new_clip_per_sample(photo_folder):
    photos = dataset(photo_folder)
    assert len(photos) == 2 and [s.name for s in photos.sequences] == ["astronaut", "coffee"]
    np.random.seed(0)
    first, again = photos[0], photos[0]
    assert first["lq"].shape == (7, 4, 48, 48) and first["gt"].shape == (7, 3, 48, 48)
    assert not torch.equal(first["gt"], again["gt"])  # fresh content and motion each time
    still = dataset(photo_folder, still_prob=1.0)[1]
    assert all(torch.equal(frame, still["gt"][0]) for frame in still["gt"])
    assert not torch.equal(still["lq"][0, :3], still["lq"][1, :3])  # fresh noise in each frame
    gray = dataset(photo_folder, gray_prob=1.0)[0]["gt"]
    assert torch.allclose(gray[:, 0], gray[:, 1]) and torch.allclose(gray[:, 1], gray[:, 2])
    only = dataset(photo_folder, sequences=["coffee"])
    assert len(only) == 1 and only[0]["lq_path"] == "coffee"


def test_validation_clips_repeat_and_are_never_still_shots(photo_folder):
    val = VideoClipDataset({"phase": "val", "photo_motion": {"dataroot": str(photo_folder)}, "gt_size": 48,
                            "sigma": 30, "still_prob": 1.0})
    first, again = val[0], val[0]
    assert torch.equal(first["lq"], again["lq"]) and torch.equal(first["gt"], again["gt"])
    assert not torch.equal(first["gt"][0], first["gt"][-1])  # still_prob is a training option


def test_photos_in_subfolders_keep_their_own_names(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        cv2.imwrite(str(tmp_path / sub / "1.png"), cv2.cvtColor(PHOTO[:96, :96], cv2.COLOR_RGB2BGR))
    photos = dataset(tmp_path)
    assert [s.name for s in photos.sequences] == ["a/1", "b/1"]


def test_bad_photo_motion_options_are_clear_errors(photo_folder, tmp_path):
    with pytest.raises(DatasetError, match="gray_prob must be in"):
        dataset(photo_folder, gray_prob=1.5)
    with pytest.raises(DatasetError, match="photos smaller than gt_size 600"):
        dataset(photo_folder, gt_size=600)
    for bad, message in (({"scale": 0.5}, "scale must be \\[low, high\\].*got 0.5"),
                         ({"scale": [0.5, 1, 1]}, "scale must be"),
                         ({"max_speed": "fast"}, "must be numbers"),
                         ({"max_speed": float("nan")}, "photo_motion needs"),
                         ({"max_sped": 8}, "unknown key\\(s\\) max_sped")):
        with pytest.raises(DatasetError, match=message):
            VideoClipDataset({"phase": "train", "photo_motion": {"dataroot": str(photo_folder), **bad},
                              "gt_size": 48})
    with pytest.raises(DatasetError, match="set only one source"):
        VideoClipDataset({"phase": "train", "photo_motion": {"dataroot": str(photo_folder)},
                          "dataroot": str(photo_folder), "gt_size": 48})
    with pytest.raises(DatasetError, match="needs a dataroot"):
        VideoClipDataset({"phase": "train", "photo_motion": {"max_speed": 2}, "gt_size": 48})
    with pytest.raises(DatasetError, match="has no images"):
        VideoClipDataset({"phase": "train", "photo_motion": {"dataroot": str(tmp_path)}, "gt_size": 48})


def test_a_nested_dataroot_is_checked_and_can_be_forced(tmp_path):
    opt = {"datasets": {"train": {"photo_motion": {"dataroot": str(tmp_path / "missing")}}}}
    with pytest.raises(OptionsError, match="photo_motion: dataroot of dataset 'train' not found"):
        check_dataroots(opt)
    check_dataroots(with_overrides(opt, [f"datasets:train:photo_motion:dataroot={tmp_path}"]))
    assert opt["datasets"]["train"]["photo_motion"]["dataroot"] == str(tmp_path)
    # BasicSR creates no keys on the way, so a misspelt one fails here, with its name
    with pytest.raises(OptionsError, match="no 'datasets:train:photo_motoin' mapping"):
        with_overrides(opt, [f"datasets:train:photo_motoin:dataroot={tmp_path}"])
    with pytest.raises(OptionsError, match="no 'datasets:tarin' mapping"):
        with_overrides(opt, [f"datasets:tarin:dataroot={tmp_path}"])


RED = np.zeros((300, 300, 3), np.uint8)
RED[..., 0] = 255  # a sprite source whose every crop is one colour, easy to find in a frame
GRAY = np.full((400, 400, 3), 128, np.uint8)  # a background on which the camera's motion does not show


def test_sprites_move_on_their_own_over_the_moving_background():
    """Away from its sprite a clip is the camera's clip exactly; the sprite keeps one velocity of
    its own in the frame, whatever the camera does; seeded; a still shot stays one image."""
    motion = MotionRange(max_speed=6.0, max_zoom=0.0, scale=(1.0, 1.0), sprites=1, sprite_size=(0.2, 0.3))
    speeds = []
    for seed in range(12):
        background = motion_clip(PHOTO, 7, 96, random.Random(seed), motion)
        clip = motion_clip(PHOTO, 7, 96, random.Random(seed), motion, sprite_photos=[RED])
        assert np.array_equal(clip, motion_clip(PHOTO, 7, 96, random.Random(seed), motion, sprite_photos=[RED]))
        for frame, camera in zip(clip, background):
            red = ((frame == [255, 0, 0]).all(axis=-1) * 255).astype(np.uint8)
            near = cv2.dilate(red, np.ones((7, 7), np.uint8)) > 0
            assert np.array_equal(frame[~near], camera[~near])  # the sprite's edge is soft, 1-2 px wide
        on_gray = motion_clip(GRAY, 7, 96, random.Random(seed), motion, sprite_photos=[RED])
        alpha = (on_gray[..., 0].astype(float) - 128) / 127
        if (alpha.sum(axis=(1, 2)).min() < 0.97 * alpha.sum(axis=(1, 2)).max()) or alpha[0].sum() < 20:
            continue  # the sprite leaves the frame: its centre is not measurable
        grid = np.mgrid[:96, :96]
        centres = np.array([[(a * g).sum() / a.sum() for g in grid] for a in alpha])
        steps = np.diff(centres, axis=0)
        assert np.abs(steps - steps.mean(axis=0)).max() < 0.25  # a constant velocity
        speeds.append(np.hypot(*steps.mean(axis=0)))
    assert len(speeds) >= 3 and max(speeds) > 1 and max(speeds) <= 6.3
    still = motion_clip(PHOTO, 7, 96, random.Random(0), motion, still=True, sprite_photos=[RED, RED])
    assert all(np.array_equal(frame, still[0]) for frame in still)
    assert not np.array_equal(still, motion_clip(PHOTO, 7, 96, random.Random(0), motion, still=True))


def test_the_camera_turns_slowly_and_stays_inside_the_photo(monkeypatch):
    motion = MotionRange(max_speed=3.0, max_zoom=0.0, scale=(1.0, 1.0), max_rotation=2.0)
    warps = []
    real_warp = photo_motion.cv2.warpAffine
    monkeypatch.setattr(photo_motion.cv2, "warpAffine",
                        lambda source, matrix, *args, **kw: warps.append(matrix) or real_warp(source, matrix, *args, **kw))
    turns = []
    for seed in range(10):
        motion_clip(PHOTO[:200, :260], 7, 96, random.Random(seed), motion)
    for first in range(0, len(warps), 7):
        angles = [np.degrees(np.arctan2(m[1, 0], m[0, 0])) for m in warps[first:first + 7]]
        assert angles[0] == 0 and np.allclose(np.diff(angles), angles[1])  # from upright, at one rate
        assert abs(angles[1]) <= 2.0 + 1e-9
        turns.append(abs(angles[1]))
        for matrix in warps[first:first + 7]:
            linear, shift = matrix[:, :2], matrix[:, 2]
            corners = np.array([[0, 0], [95, 0], [0, 95], [95, 95]], float)
            inside = np.linalg.solve(linear, (corners - shift).T).T  # where each output corner reads the photo
            assert inside.min() >= -1e-6 and inside[:, 0].max() <= 259 + 1e-6 and inside[:, 1].max() <= 199 + 1e-6
    assert max(turns) > 0.5


def test_the_dataset_pastes_sprites_from_its_other_photos(photo_folder):
    photos = VideoClipDataset({"phase": "train", "photo_motion": {"dataroot": str(photo_folder), "sprites": 2,
                                                                   "max_rotation": 0.5},
                               "gt_size": 48, "sigma": 30, "augment": False})
    np.random.seed(0)
    sample = photos[0]
    assert sample["lq"].shape == (7, 3, 48, 48) and sample["gt"].shape == (7, 3, 48, 48)
    for bad, message in (({"sprites": 1.5}, "sprites a whole number"), ({"sprites": 9}, "sprites a whole number"),
                         ({"max_rotation": 10}, "max_rotation <= 5"), ({"sprite_size": 0.3}, "sprite_size must be"),
                         ({"sprite_size": [0.5, 0.2]}, "sprite_size low <= high")):
        with pytest.raises(DatasetError, match=message):
            VideoClipDataset({"phase": "train", "photo_motion": {"dataroot": str(photo_folder), **bad},
                              "gt_size": 48})

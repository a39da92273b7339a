"""SIDD data: the prep script, the prepared-patch, raw-layout and .mat datasets, and their errors.

The fixtures are real photos from scikit-image laid out as SIDD ships them;
other test files import the builders below.
"""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy import io as sio

from restore.errors import DatasetError
from restore.data.gaussian_noise_dataset import GaussianNoiseDataset  # noqa: F401  (registers)
from restore.data.sidd_mat_dataset import SIDDMatDataset
from restore.data.sidd_medium_dataset import SIDDMediumDataset
from restore.data.sidd_paired_dataset import SIDDPairedDataset
from restore.scripts.prepare_sidd import crop_corners

REPO = Path(__file__).resolve().parents[2]
def test_prepare_sidd_writes_seeded_exact_crops(tmp_path, make_sidd_medium, prepare_sidd):
    src = make_sidd_medium(tmp_path)
    assert prepare_sidd(src, tmp_path / "train") == 0
    gt_files = sorted((tmp_path / "train" / "groundtruth").glob("*.png"))
    assert [p.name for p in gt_files] == sorted(p.name for p in (tmp_path / "train" / "input").glob("*.png"))
    assert len(gt_files) == 3 * 4
    assert not list((tmp_path / "train").glob("*.partial"))
    # patch 2 of pair 1 is the seeded window of the source, bit for bit, on both sides
    top, left = crop_corners(200, 200, 96, 4, 0, 0)[1]
    scene = next((src / "Data").glob("0001_*"))
    for side, tag in (("groundtruth", "GT"), ("input", "NOISY")):
        source = cv2.imread(str(scene / f"0001_{tag}_SRGB_010.PNG"))
        patch = cv2.imread(str(tmp_path / "train" / side / "0001_002.png"))
        np.testing.assert_array_equal(patch, source[top:top + 96, left:left + 96])


def test_prepare_sidd_refuses_to_overwrite_and_reports_unpaired(tmp_path, capsys, make_sidd_medium, prepare_sidd):
    src = make_sidd_medium(tmp_path)
    assert prepare_sidd(src, tmp_path / "train") == 0
    assert prepare_sidd(src, tmp_path / "train") == 2
    assert "already exists" in capsys.readouterr().err
    orphan = next((src / "Data").glob("0002_*")) / "0002_NOISY_SRGB_010.PNG"
    orphan.unlink()
    assert prepare_sidd(src, tmp_path / "other") == 2
    assert "0002_GT_SRGB_010.PNG" in capsys.readouterr().err
    assert prepare_sidd(src, src / "inside") == 2


@pytest.mark.slow
def test_prepare_sidd_cli_runs_as_a_script(tmp_path, make_sidd_medium):
    src = make_sidd_medium(tmp_path, size=120)
    done = subprocess.run([sys.executable, str(REPO / "restore/scripts/prepare_sidd.py"), "--src", str(src),
                           "--dst", str(tmp_path / "out"), "--patches", "2", "--size", "256"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "smaller than the patch size 256" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "groundtruth").exists()


def _paired(root: Path, name: str, **extra) -> SIDDPairedDataset:
    return SIDDPairedDataset({"name": "sidd", "phase": "train", "gt_size": 64,
                              "dataroot_gt": str(root / f"groundtruth{name}"),
                              "dataroot_lq": str(root / f"input{name}"), **extra})


def test_paired_dataset_crops_aligned_patches_from_png_and_lmdb(tmp_path, make_sidd_medium, prepare_sidd,
                                                                 sidd_noise_sigma):
    src = make_sidd_medium(tmp_path)
    assert prepare_sidd(src, tmp_path / "png") == 0
    assert prepare_sidd(src, tmp_path / "db", "--format", "lmdb") == 0
    png, db = _paired(tmp_path / "png", ""), _paired(tmp_path / "db", ".lmdb")
    assert len(png) == len(db) == 12
    for dataset in (png, db):
        sample = dataset[5]
        assert sample["gt"].shape == sample["lq"].shape == (3, 64, 64)
        aligned = (sample["lq"] - sample["gt"]).abs().mean().item()
        shifted = (sample["lq"][:, 8:] - sample["gt"][:, :-8]).abs().mean().item()
        # the noise's mean |n| is 0.8 sigma (less where clipped), so 0.8 sigma itself failed 1 crop in 10;
        # a shift adds content differences to the noise, so the true window has the smallest error
        assert aligned < sidd_noise_sigma / 255 and aligned < shifted
    val = SIDDPairedDataset({"name": "v", "phase": "val", "dataroot_gt": str(tmp_path / "png/groundtruth"),
                             "dataroot_lq": str(tmp_path / "png/input")})
    full = cv2.imread(str(tmp_path / "png/groundtruth/0003_004.png"))[..., ::-1] / 255.0
    np.testing.assert_allclose(val[11]["gt"].permute(1, 2, 0).numpy(), full, atol=1e-6)


def test_paired_dataset_errors_name_the_path(tmp_path, make_sidd_medium, prepare_sidd):
    src = make_sidd_medium(tmp_path)
    assert prepare_sidd(src, tmp_path / "png") == 0
    with pytest.raises(DatasetError, match="missing_dir"):
        SIDDPairedDataset({"name": "x", "phase": "train", "gt_size": 64,
                           "dataroot_gt": str(tmp_path / "missing_dir"), "dataroot_lq": str(tmp_path / "png/input")})
    with pytest.raises(DatasetError, match="smaller than the patch size 128"):
        _paired(tmp_path / "png", "", gt_size=128)
    (tmp_path / "png/input/0002_003.png").unlink()
    with pytest.raises(DatasetError, match="0002_003.png has no noisy partner"):
        _paired(tmp_path / "png", "")


def test_sidd_medium_dataset_reads_the_download_layout(tmp_path, make_sidd_medium, sidd_noise_sigma):
    src = make_sidd_medium(tmp_path)
    dataset = SIDDMediumDataset({"name": "raw", "phase": "train", "dataroot": str(src), "gt_size": 64,
                                 "patches_per_image": 2})
    assert len(dataset) == 6
    sample = dataset[4]
    assert sample["gt"].shape == (3, 64, 64) and "GT_SRGB" in sample["gt_path"]
    assert (sample["lq"] - sample["gt"]).abs().mean().item() < sidd_noise_sigma / 255  # the noise alone: 0.8 sigma
    with pytest.raises(DatasetError, match="smaller than the patch size 512"):
        SIDDMediumDataset({"name": "raw", "dataroot": str(src), "gt_size": 512})


def test_sidd_mat_dataset_accepts_any_leading_dims(tmp_path, make_sidd_mat):
    gt_path, noisy_path = make_sidd_mat(tmp_path, leading=(2, 3))
    dataset = SIDDMatDataset({"name": "val", "phase": "val", "dataroot_gt": str(gt_path),
                              "dataroot_lq": str(noisy_path)})
    assert len(dataset) == 6
    sample = dataset[4]
    assert sample["lq_path"] == "0002_02"
    gt = sio.loadmat(str(gt_path))["ValidationGtBlocksSrgb"]
    np.testing.assert_allclose(sample["gt"].permute(1, 2, 0).numpy(), gt[1, 1] / 255.0, atol=1e-7)
    flat_gt, flat_noisy = make_sidd_mat(tmp_path / "flat", leading=(5,))
    assert len(SIDDMatDataset({"name": "v", "dataroot_gt": str(flat_gt), "dataroot_lq": str(flat_noisy)})) == 5


def test_sidd_mat_dataset_errors(tmp_path, make_sidd_mat):
    gt_path, noisy_path = make_sidd_mat(tmp_path)
    with pytest.raises(DatasetError, match="nope.mat"):
        SIDDMatDataset({"name": "v", "dataroot_gt": str(tmp_path / "nope.mat"), "dataroot_lq": str(noisy_path)})
    with pytest.raises(DatasetError, match="no array named 'Wrong'"):
        SIDDMatDataset({"name": "v", "dataroot_gt": str(gt_path), "dataroot_lq": str(noisy_path), "key_gt": "Wrong"})
    other_gt, _ = make_sidd_mat(tmp_path / "other", leading=(1, 3))
    with pytest.raises(DatasetError, match="holds"):
        SIDDMatDataset({"name": "v", "dataroot_gt": str(other_gt), "dataroot_lq": str(noisy_path)})

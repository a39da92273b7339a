"""restore.benchmarks.generalisation on a tiny corpus: the same crops and noise as the training
validation, the gap against CBM3D, clear messages."""
import cv2
import numpy as np
import pytest
from skimage import data as skdata

from restore.benchmarks import generalisation
from restore.data.gaussian_noise_dataset import GaussianNoiseDataset


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    for sub, names in (("train", ("astronaut", "coffee")), ("eval", ("camera",))):
        (root / sub).mkdir()
        for name in names:
            image = getattr(skdata, name)()
            image = image if image.ndim == 3 else np.dstack([image] * 3)
            cv2.imwrite(str(root / sub / f"{name}.png"), image[100:164, 100:164, ::-1])
    return root


def test_crops_are_the_validation_samples(corpus):
    found = generalisation.crops(corpus / "train", 30, 48, 0)
    dataset = GaussianNoiseDataset({"name": "v", "phase": "val", "dataroot_gt": str(corpus / "train"),
                                    "sigma": 30, "clip": True, "quantize": True, "gt_size": 48})
    assert [name for name, _, _ in found] == ["astronaut.png", "coffee.png"]
    for (_, clean, noisy), index in zip(found, range(2)):
        sample = dataset[index]
        assert clean.dtype == noisy.dtype == np.uint8 and clean.shape == (48, 48, 3)
        assert np.array_equal(noisy, np.rint(sample["lq"].permute(1, 2, 0).numpy() * 255))
        assert 20 < (noisy.astype(float) - clean).std() < 35


def test_table_has_both_sets_the_gap_and_the_lead_over_cbm3d(corpus, weights_dir, tmp_path, capsys, monkeypatch,
                                                              markdown_tables):
    # a stand-in for CBM3D, so the test neither needs the optional package nor waits for it
    monkeypatch.setattr(generalisation, "check_available", lambda name: None)
    monkeypatch.setattr(generalisation, "cbm3d", lambda noisy, sigma: cv2.GaussianBlur(noisy, (5, 5), 0))
    out = tmp_path / "gap.md"
    assert generalisation.main(["--corpus", str(corpus), "--weights-dir", str(weights_dir), "--size", "48",
                                "--out", str(out)]) == 0
    table = out.read_text()
    assert "2 training photos, 1 held-out photos" in table
    (rows,) = markdown_tables(table)
    assert list(rows[0]) == ["method", "training photos", "held-out photos", "gap"]
    values = {row["method"]: [float(row[column]) for column in list(row)[1:]] for row in rows}
    assert list(values) == ["tiny_image", "CBM3D", "tiny_image − CBM3D"]  # no video model
    train, held_out, gap = values["CBM3D"]
    assert 20 < held_out < 40 and gap == pytest.approx(train - held_out, abs=0.011)
    lead = values["tiny_image − CBM3D"]
    assert lead[0] == pytest.approx(values["tiny_image"][0] - train, abs=0.011)
    assert lead[2] == pytest.approx(lead[0] - lead[1], abs=0.011)
    assert table in capsys.readouterr().out


def test_without_bm3d_it_says_so_and_compares_the_models(corpus, weights_dir, monkeypatch, capsys,
                                                          markdown_tables):
    from restore.errors import MissingDependency

    def missing(name):
        raise MissingDependency("CBM3D skipped: the optional package 'bm3d' is not installed")
    monkeypatch.setattr(generalisation, "check_available", missing)
    assert generalisation.main(["--corpus", str(corpus), "--weights-dir", str(weights_dir), "--size", "48"]) == 0
    captured = capsys.readouterr()
    assert "note: CBM3D skipped" in captured.err
    (table,) = markdown_tables(captured.out)
    assert [row["method"] for row in table] == ["tiny_image"]  # no CBM3D row, and no lead over it


def test_errors_are_one_line(corpus, tmp_path, capsys):
    assert generalisation.main(["--corpus", str(tmp_path / "none")]) == 2
    assert "make_sample_corpus" in capsys.readouterr().err
    assert generalisation.main(["--corpus", str(corpus), "--sigma", "0"]) == 2
    assert generalisation.main(["--corpus", str(corpus), "--out", str(tmp_path)]) == 2
    assert generalisation.main(["--corpus", str(corpus), "--weights-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 3 and "Traceback" not in err


def test_the_defaults_are_the_image_recipes_validation():
    """The crops equal the training logs' validation only while both use the same settings."""
    import yaml
    from pathlib import Path

    args = generalisation.parse_args([])
    recipes = sorted(Path(__file__).resolve().parents[2].glob("options/weights/uformer_t*/stage*.yml"))
    checked = 0
    for recipe in recipes:
        datasets = {d.get("name"): d for d in yaml.safe_load(recipe.read_text())["datasets"].values()}
        if "train_sigma30" not in datasets:  # the recipes that measure the train/held-out gap
            continue
        for dataset in (datasets["train_sigma30"], datasets["heldout_sigma30"]):
            assert dataset["gt_size"] == args.size and dataset.get("noise_seed", 0) == args.seed
            assert dataset["clip"] is True and dataset["quantize"] is True and dataset["sigma"] == args.sigma
            checked += 1
    assert checked >= 4  # both networks' newest recipes at least


def test_video_clips_are_seeded_camera_paths_over_each_photo(corpus):
    first, again = (generalisation.clips(corpus / "train", 30, 32, 3, 0) for _ in range(2))
    assert [name for name, _, _ in first] == ["astronaut.png", "coffee.png"]
    for (_, clean, noisy), (_, clean2, noisy2) in zip(first, again):
        assert clean.shape == noisy.shape == (3, 32, 32, 3) and clean.dtype == noisy.dtype == np.uint8
        assert np.array_equal(clean, clean2) and np.array_equal(noisy, noisy2)
        assert 20 < (noisy.astype(float) - clean).std() < 35
    assert not np.array_equal(first[0][2][0], first[0][2][1])  # fresh noise in every frame


def test_video_mode_puts_the_video_model_beside_the_image_model_per_frame(corpus, weights_dir, capsys,
                                                                          markdown_tables):
    assert generalisation.main(["--corpus", str(corpus), "--weights-dir", str(weights_dir), "--video",
                                "--size", "32", "--frames", "3"]) == 0
    out = capsys.readouterr().out
    assert "3-frame clips of 32²" in out and "CBM3D" not in out
    (table,) = markdown_tables(out)
    assert [row["method"] for row in table] == ["tiny_video", "tiny_image per frame",
                                                "tiny_video − tiny_image per frame"]
    assert generalisation.main(["--corpus", str(corpus), "--weights-dir", str(weights_dir), "--video",
                                "--size", "32", "--model", "tiny_image"]) == 2
    assert "--video needs a Gaussian video model and an image model" in capsys.readouterr().err

"""The training corpus and the recipes of the published weights.

The corpus builder writes a disjoint, recorded split (held-out photos never enter
training, whatever folder a user adds), finds or fetches the Debian photographs, and
refuses to overwrite; each weight recipe chains onto its previous stage and shares its
budget with its SkipAt or baseline twin; the newest recipes train for two iterations.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from restore.data.photos import EVAL_PHOTOS, TRAIN_PHOTOS, load_rgb
from restore.scripts import debian_photos
from restore.scripts.make_sample_corpus import main

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "options" / "weights"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "sample_corpus"
    assert main(["--out", str(out), "--clip-frames", "8", "--clip-size", "40x48"]) == 0
    return out


def fake_debian_root(root: Path) -> Path:
    """Every listed photo as a small JPEG where its package installs it; plasma folders hold
    two sizes of each picture, as the real ones hold twelve."""
    rng = np.random.default_rng(0)
    for name in debian_photos.PLASMA_PHOTOS:
        folder = root / "usr/share/wallpapers" / name / "contents/images"
        folder.mkdir(parents=True)
        for width, height in ((320, 200), (640, 400)):
            cv2.imwrite(str(folder / f"{width}x{height}.jpg"), rng.integers(0, 255, (height, width, 3), np.uint8))
    folder = root / "usr/share/backgrounds/mate/nature"
    folder.mkdir(parents=True)
    for name in debian_photos.MATE_PHOTOS:
        cv2.imwrite(str(folder / f"{name}.jpg"), rng.integers(0, 255, (300, 400, 3), np.uint8))
    return root


def test_split_is_disjoint_and_the_manifest_lists_every_file_with_its_hash(corpus):
    manifest = json.loads((corpus / "manifest.json").read_text())
    train = [entry["name"] for entry in manifest["train"]]
    held_out = [entry["name"] for entry in manifest["eval"]]
    assert train == list(TRAIN_PHOTOS) and held_out == list(EVAL_PHOTOS)
    assert not set(train) & set(held_out) and "cat" not in train  # cat is chelsea
    assert sorted(p.name for p in (corpus / "train").iterdir()) == sorted(f"{n}.png" for n in train)
    assert sorted(p.name for p in (corpus / "eval").iterdir()) == sorted(f"{n}.png" for n in held_out)
    for entry in manifest["train"] + manifest["eval"]:
        assert entry["source"].startswith("skimage.data")
        assert len(entry["sha256"]) == 64 and file_sha256(corpus / entry["file"]) == entry["sha256"]
    sequences = sorted(p.name for p in (corpus / "clips/JPEGImages/480p").iterdir())
    assert sequences == sorted(manifest["clips"]["sequences"]) and len(sequences) == len(train)
    camera = cv2.imread(str(corpus / "eval/camera.png"), cv2.IMREAD_UNCHANGED)
    assert camera.shape == (512, 512, 3) and (camera[..., 0] == camera[..., 2]).all()
    assert {e["name"]: e["channels"] for e in manifest["eval"]}["chelsea"] == "rgb"


def file_sha256(path: Path) -> str:
    import hashlib
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_debian_photos_are_found_shrunk_and_recorded(tmp_path):
    root = fake_debian_root(tmp_path / "root")
    out = tmp_path / "corpus"
    from restore.scripts.make_sample_corpus import make_corpus
    manifest = make_corpus(out, debian=True, debian_cache=tmp_path / "cache", system_root=root,
                           clip_frames=7, clip_height=32, clip_width=32)
    debian = [entry for entry in manifest["train"] if entry["source"].startswith("debian:")]
    assert [entry["name"] for entry in debian] == [*debian_photos.PLASMA_PHOTOS, *debian_photos.MATE_PHOTOS]
    kite = next(entry for entry in debian if entry["name"] == "Kite")
    assert kite["source"] == "debian:plasma-workspace-wallpapers"
    assert kite["source_file"] == "/usr/share/wallpapers/Kite/contents/images/640x400.jpg"  # the largest size
    assert (kite["height"], kite["width"]) == (200, 320) and kite["shrink"].startswith("2x")
    assert cv2.imread(str(out / kite["file"])).shape == (200, 320, 3)
    assert all(len(entry["source_sha256"]) == 64 for entry in debian)
    assert not {entry["name"] for entry in manifest["train"]} & set(EVAL_PHOTOS)


def test_missing_debian_photos_are_a_clear_error_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(debian_photos, "APT_GET", "apt-get-that-does-not-exist")
    monkeypatch.setattr(debian_photos.shutil, "which", lambda name: None)
    code = main(["--out", str(tmp_path / "corpus"), "--debian", "--debian-cache", str(tmp_path / "cache"),
                 "--clip-frames", "7", "--clip-size", "32x32"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert "Debian photos are not installed" in err and "apt-get/dpkg are not available" in err
    assert not (tmp_path / "corpus").exists() and [p.name for p in tmp_path.iterdir()] == []


def test_a_failed_fetch_says_which_command_failed(tmp_path, monkeypatch):
    monkeypatch.setattr(debian_photos, "APT_GET", "false")
    monkeypatch.setattr(debian_photos.shutil, "which", lambda name: f"/usr/bin/{name}")
    with pytest.raises(debian_photos.DebianPhotosError, match="could not fetch the Debian photos: 'false download"):
        debian_photos.find_or_fetch(tmp_path / "cache", system_root=tmp_path, log=lambda _: None)


def test_a_folder_of_your_photos_is_added_but_held_out_photos_are_refused(tmp_path, capsys):
    mine = tmp_path / "mine"
    (mine / "trip").mkdir(parents=True)
    photo = np.random.default_rng(0).integers(0, 255, (300, 400, 3), np.uint8)
    cv2.imwrite(str(mine / "trip" / "beach.png"), photo)
    out = tmp_path / "corpus"
    assert main(["--out", str(out), "--photos", str(mine), "--clip-frames", "7", "--clip-size", "32x32"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    entry = manifest["train"][-1]
    assert entry["name"] == "trip_beach" and entry["source"] == "user" and entry["file"] == "train/user/trip_beach.png"
    assert cv2.imread(str(out / entry["file"])).shape == (150, 200, 3)

    cv2.imwrite(str(mine / "cat.png"), cv2.cvtColor(load_rgb("chelsea"), cv2.COLOR_RGB2BGR))
    assert main(["--out", str(tmp_path / "again"), "--photos", str(mine), "--clip-frames", "7",
                 "--clip-size", "32x32"]) == 2
    assert "is one of the held-out photos" in capsys.readouterr().err
    assert not (tmp_path / "again").exists()


def test_refuses_to_overwrite_without_flag(tmp_path, capsys):
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert main(["--out", str(out)]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert (out / "mine.txt").read_text() == "keep"
    assert main(["--out", str(out), "--clip-frames", "7", "--clip-size", "32x32", "--overwrite"]) == 0
    assert not (out / "mine.txt").exists() and (out / "manifest.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["corpus"]  # no staging folders left behind
    assert main(["--out", str(tmp_path / "x"), "--clip-size", "big"]) == 2
    assert main(["--out", str(tmp_path / "x"), "--shrink", "1"]) == 2


# ----- recipes -------------------------------------------------------------------------------

def stage_files(model: str) -> dict[int, Path]:
    return {int(re.search(r"\d+", path.stem).group()): path for path in RECIPES.glob(f"{model}/stage*.yml")}


def stages(model: str) -> dict[int, dict]:
    return {number: yaml.safe_load(path.read_text()) for number, path in sorted(stage_files(model).items())}


MODELS = sorted(path.name for path in RECIPES.iterdir())


@pytest.mark.parametrize("model", MODELS)
def test_each_stage_starts_from_the_last_stage_of_the_same_network(model):
    chain = stages(model)
    numbers = list(chain)
    assert numbers == list(range(numbers[0], numbers[-1] + 1))  # no gaps
    first = chain[numbers[0]]["path"]["pretrain_network_g"]
    # from scratch, or a warm start from a published file: a baseline's from its SkipAt twin, a
    # camera-noise model's from the Gaussian model of the same network
    assert first is None or first.startswith("experiments/init/")
    if first is not None and numbers[0] == 1:
        assert model.endswith("_camera") and re.fullmatch(rf"{model.replace('_camera', '_gauss')}_stage\d+\.safetensors", Path(first).name)
    for number, (previous, later) in enumerate(zip(list(chain.values()), list(chain.values())[1:]), start=numbers[0]):
        # the last stage's checkpoint, or the published file of the last stage or of an earlier one
        # (a stage that was not published is a dead end), restored into experiments/init/
        published = {f"experiments/init/{model}_stage{earlier}.safetensors" for earlier in numbers if earlier <= number}
        assert later["path"]["pretrain_network_g"] in {f"experiments/{previous['name']}/models/net_g_latest.pth",
                                                       *published}
        assert later["network_g"] == previous["network_g"]
    for recipe in chain.values():
        image_stage = recipe.get("image_stage")  # a cascade refines a published image model, frozen
        assert (image_stage is not None) == bool(recipe["network_g"].get("cascade"))
        assert image_stage is None or (image_stage.startswith("weights/") and (REPO / image_stage).is_file())
        assert recipe["train"]["total_iter"] == recipe["train"]["scheduler"]["total_iter"]
        train = recipe["datasets"]["train"]
        assert train["noise_model"] == "camera" if model.endswith("_camera") else train["sigma"] == [0, 50]


PAIRS = [(skipat, skipat.replace("_skipat", "")) for skipat in MODELS
         if "_skipat" in skipat and skipat.replace("_skipat", "") in MODELS]


@pytest.mark.parametrize("skipat, baseline", PAIRS)
def test_skipat_and_baseline_share_every_recipe_and_budget(skipat, baseline):
    ours, theirs = stages(skipat), stages(baseline)
    assert set(theirs) <= set(ours) and max(theirs) == max(ours)  # the baseline trains every stage SkipAt does
    for number, b in theirs.items():
        a = ours[number]
        assert a["train"] == b["train"] and a["datasets"] == b["datasets"] and a["val"] == b["val"]
        assert a.get("image_stage") == b.get("image_stage")
        assert a["network_g"]["type"].replace("SkipAt", "") == b["network_g"]["type"]
        shared = (set(a["network_g"]) & set(b["network_g"])) - {"type"}
        assert all(a["network_g"][key] == b["network_g"][key] for key in shared)


def training_fingerprint(path: Path) -> str:
    """What a two-iteration run can tell apart: data, budget, validation and the network with
    SkipAt taken out (a baseline trains exactly its SkipAt twin's recipe, checked above)."""
    recipe = yaml.safe_load(path.read_text())
    network = {key: value for key, value in recipe["network_g"].items() if key != "phi"}
    network["type"] = network["type"].replace("SkipAt", "")
    keys = ("model_type", "datasets", "train", "val", "image_stage")
    return repr([network, *(recipe.get(key) for key in keys)])


def newest_recipes() -> list[Path]:
    """The first and the last stage of every published model, and every experiment's arms, each
    distinct recipe once: a baseline runs as its SkipAt twin, an arm that became a stage as that stage."""
    picked = []
    for model in sorted(MODELS, key=lambda name: "_skipat" not in name):  # SkipAt twins first
        files = stage_files(model)
        picked += sorted({files[min(files)], files[max(files)]})
    picked += sorted((REPO / "options" / "experiments").glob("*/*.yml"))
    distinct = {}
    for path in picked:
        distinct.setdefault(training_fingerprint(path), path)
    return list(distinct.values())


def shrink(recipe: dict, corpus: Path) -> list[str]:
    """--force_yml overrides that make a recipe run two tiny iterations on the test corpus."""
    force = []
    for phase, dataset in recipe["datasets"].items():
        if "dataroot_gt" in dataset:
            folder = "train" if "train" in dataset["dataroot_gt"].rsplit("/", 1)[-1] else "eval"
            force += [f"datasets:{phase}:dataroot_gt={corpus / folder}", f"datasets:{phase}:gt_size=32"]
        if "photo_motion" in dataset:
            force.append(f"datasets:{phase}:photo_motion:dataroot={corpus / 'train'}")
        if "dataroot" in dataset:
            force.append(f"datasets:{phase}:dataroot={corpus / 'clips'}")
        if "skimage_pans" in dataset:
            force += [f"datasets:{phase}:skimage_pans:{key}={value}"
                      for key, value in (("frames", 7), ("height", 32), ("width", 32))]
        if phase == "train" and "gt_size" in dataset:
            force.append(f"datasets:{phase}:gt_size={64 if 'dataroot_gt' in dataset else 32}")
    return force


@pytest.mark.slow
@pytest.mark.parametrize("option_file", newest_recipes(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recipes_train_two_iterations_on_cpu(corpus, option_file, tmp_path):
    recipe = yaml.safe_load(option_file.read_text())
    name = f"test_weights_{uuid.uuid4().hex[:8]}"
    force = [f"name={name}", "train:total_iter=2", "train:scheduler:total_iter=2", "train:scheduler:warmup_iter=1",
             "datasets:train:batch_size_per_gpu=1", "datasets:train:num_worker_per_gpu=0",
             "datasets:train:dataset_enlarge_ratio=1", "logger:print_freq=1", "logger:use_tb_logger=False",
             "logger:save_checkpoint_freq=2", "val:val_freq=2", *shrink(recipe, corpus)]
    if recipe["path"]["pretrain_network_g"]:  # a later stage starts from the last one: give it a fresh start
        from restore.archs.construct import build_network
        network = dict(recipe["network_g"])
        torch.manual_seed(0)
        torch.save({"params": build_network(network.pop("type"), network).state_dict()}, tmp_path / "start.pth")
        force.append(f"path:pretrain_network_g={tmp_path / 'start.pth'}")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    try:
        done = subprocess.run([sys.executable, str(REPO / "restore/train.py"), "-opt", str(option_file),
                               "--force_yml", *force], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        log = next((REPO / "experiments" / name).glob("train_*.log")).read_text()
        assert re.search(r"iter:\s+2, lr:", log), log[-2000:]
        assert "# psnr:" in log
        assert (REPO / "experiments" / name / "models" / "net_g_2.pth").is_file()
    finally:
        shutil.rmtree(REPO / "experiments" / name, ignore_errors=True)
        shutil.rmtree(REPO / "tb_logger" / name, ignore_errors=True)

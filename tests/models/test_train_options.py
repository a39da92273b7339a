"""The shipped option files: recipe numbers, registered types, buildable networks, matching test files."""
from pathlib import Path

import pytest
import torch
import yaml
from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, MODEL_REGISTRY

import restore.data  # noqa: F401  (registers datasets)
import restore.models  # noqa: F401  (registers models)
from restore.models.options import TEST_KEYS, TRAIN_KEYS, check_option_file

OPTIONS = Path(__file__).resolve().parents[2] / "options"
MODELS = [f"uformer_{size}{suffix}" for size in "tsb" for suffix in ("", "_skipat")]
SIDD_PATCHES = 320 * 300  # SIDD-Medium pairs x patches per pair
BATCH, EPOCHS = 32, 250


def load(name: str) -> dict:
    return yaml.safe_load((OPTIONS / name).read_text())


@pytest.mark.parametrize("model", MODELS)
def test_sidd_recipe(model):
    opt = check_option_file(str(OPTIONS / f"sidd_{model}.yml"), TRAIN_KEYS)
    train = opt["train"]
    assert train["total_iter"] == train["scheduler"]["total_iter"] == SIDD_PATCHES // BATCH * EPOCHS == 750_000
    assert train["scheduler"] == {"type": "WarmupCosineLR", "total_iter": 750_000, "warmup_iter": 3 * 3000,
                                  "eta_min": 1e-6}
    assert "warmup_iter" not in train
    optim = train["optim_g"]
    assert (optim["type"], optim["lr"], optim["betas"], optim["weight_decay"]) == ("AdamW", 2e-4, [0.9, 0.999], 0.02)
    assert train["pixel_opt"]["type"] == "CharbonnierLoss" and train["pixel_opt"]["eps"] == pytest.approx(1e-3 ** 2)
    data = opt["datasets"]
    assert (data["train"]["gt_size"], data["train"]["batch_size_per_gpu"], data["train"]["augment"]) == (128, 32, True)
    assert data["val"]["type"] == "SIDDMatDataset"
    assert opt["network_g"]["type"] == ("UformerSkipAt" if "skipat" in model else "Uformer")
    assert opt["network_g"]["preset"] == model.split("_")[1].upper()
    for dataset in data.values():
        DATASET_REGISTRY.get(dataset["type"])
    MODEL_REGISTRY.get(opt["model_type"])


@pytest.mark.parametrize("model", MODELS)
def test_matching_test_and_gaussian_files(model):
    train, gauss = load(f"sidd_{model}.yml"), load(f"gauss_{model}.yml")
    test = check_option_file(str(OPTIONS / "test" / f"sidd_{model}.yml"), TEST_KEYS)
    assert test["network_g"] == train["network_g"] == gauss["network_g"]
    assert test["path"]["pretrain_network_g"] == f"experiments/sidd_{model}/models/net_g_best.pth"
    check_option_file(str(OPTIONS / f"gauss_{model}.yml"), TRAIN_KEYS)
    assert gauss["datasets"]["train"]["type"] == "GaussianNoiseDataset"
    assert gauss["train"]["optim_g"] == train["train"]["optim_g"]
    assert {v["sigma"] for k, v in gauss["datasets"].items() if k.startswith("val")} == {15, 25, 50}


@pytest.mark.parametrize("preset", ["T", "S", "B"])
def test_networks_build(preset):
    model = f"uformer_{preset.lower()}"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # weight init only: extra threads just spin on a shared box
    try:
        for name in (model, f"{model}_skipat"):
            options = dict(load(f"sidd_{name}.yml")["network_g"])
            network = ARCH_REGISTRY.get(options.pop("type"))(**options)
            assert sum(p.numel() for p in network.parameters()) > 1e6
    finally:
        torch.set_num_threads(threads)


def test_smoke_options_build_their_datasets_without_downloads():
    opt = check_option_file(str(OPTIONS / "smoke" / "uformer_tiny.yml"), TRAIN_KEYS)
    for phase, dataset in opt["datasets"].items():
        built = DATASET_REGISTRY.get(dataset["type"])({**dataset, "phase": phase})
        sample = built[0]
        assert sample["gt"].shape == sample["lq"].shape == (3, dataset["gt_size"], dataset["gt_size"])
    assert opt["train"]["total_iter"] <= 100 and opt["network_g"]["embed_dim"] <= 8


def test_dataroots_are_checked_after_force_yml_overrides(tmp_path):
    from restore.models.options import OptionsError, check_dataroots, with_overrides
    opt = load("sidd_uformer_t.yml")
    with pytest.raises(OptionsError, match="dataroot_gt of dataset 'train' not found: .*datasets/SIDD/train"):
        check_dataroots(opt)
    overrides = [f"datasets:{phase}:{key}={tmp_path}" for phase in ("train", "val")
                 for key in ("dataroot_gt", "dataroot_lq")]
    check_dataroots(with_overrides(opt, overrides + ["train:total_iter=4"]))


@pytest.mark.parametrize("text, value", [("1e-4", 1e-4), ("[1, 2]", [1, 2]), ("true", True), ("False", False),
                                         ("~", None), ("32", 32), ("'name'", "name"), ("experiments/x", "experiments/x"),
                                         ('[__import__("os").system("id")]', ['__import__("os").system("id")'])])
def test_force_yml_values_are_read_as_data(text, value):
    from restore.models.options import override_value

    assert override_value(text) == value


def test_training_autocast_modes(monkeypatch):
    import torch

    from restore.models import autocast

    monkeypatch.setattr(autocast, "bf16_is_native", lambda device: True)
    with autocast.training_autocast("bf16", torch.device("cpu")):
        out = torch.nn.Linear(4, 4)(torch.ones(2, 4))
    assert out.dtype == torch.bfloat16
    with autocast.training_autocast(None, torch.device("cpu")):
        assert torch.nn.Linear(4, 4)(torch.ones(2, 4)).dtype == torch.float32
    with pytest.raises(ValueError, match="autocast"):
        autocast.training_autocast("fp8", torch.device("cpu"))


def test_bf16_autocast_falls_back_to_float32_where_bf16_would_be_emulated(monkeypatch):
    import torch

    from restore.models import autocast

    assert isinstance(autocast.bf16_is_native(torch.device("cpu")), bool)
    warned = []
    monkeypatch.setattr(autocast, "bf16_is_native", lambda device: False)
    monkeypatch.setattr(autocast, "_warn_emulated", warned.append)
    with autocast.training_autocast("bf16", torch.device("cpu")):
        assert torch.nn.Linear(4, 4)(torch.ones(2, 4)).dtype == torch.float32
    assert warned == ["cpu"]


def test_our_networks_and_datasets_are_handed_to_basicsr():
    from restore import registry

    for ours, theirs in ((registry.ARCH_REGISTRY, ARCH_REGISTRY), (registry.DATASET_REGISTRY, DATASET_REGISTRY)):
        assert ours.names() and all(theirs.get(name) is cls for name, cls in ours.items())

"""Pretrained weights and training states load weights-only, in every layout users have."""
import os
import pickle

import pytest
import torch
from basicsr.models.base_model import BaseModel
from safetensors.torch import save_file

import restore.models  # noqa: F401  (installs the fixes)
from restore.io.checkpoints import WeightsError
from restore.io.checkpoints import read_checkpoint as load_weights_only, save_atomic


def _net() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(4, 3, 1))


@pytest.fixture
def model():
    return BaseModel({"num_gpu": 0, "is_train": False, "dist": False})


def test_basicsr_official_and_safetensors_layouts_load(model, tmp_path):
    source = _net()
    weights = source.state_dict()
    torch.save({"params": weights, "params_ema": {k: v * 0 for k, v in weights.items()}}, tmp_path / "basicsr.pth")
    torch.save({"epoch": 250, "state_dict": {f"module.{k}": v for k, v in weights.items()}}, tmp_path / "official.pth")
    save_file({k: v.contiguous() for k, v in weights.items()}, str(tmp_path / "plain.safetensors"))
    for name, key in (("basicsr.pth", "params"), ("official.pth", "params"), ("plain.safetensors", "params")):
        target = _net()
        model.load_network(target, str(tmp_path / name), strict=True, param_key=key)
        for k, v in target.state_dict().items():
            assert torch.equal(v, weights[k]), (name, k)
    target = _net()
    model.load_network(target, str(tmp_path / "basicsr.pth"), strict=True, param_key="params_ema")
    assert all(v.abs().sum() == 0 for v in target.state_dict().values())


class _Payload:
    def __reduce__(self):
        return (os.getcwd, ())


def test_pickled_code_is_refused(model, tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as file:
        pickle.dump({"params": _Payload()}, file)
    with pytest.raises(WeightsError, match="weights-only"):
        load_weights_only(path)
    with pytest.raises((pickle.UnpicklingError, WeightsError)):
        model.load_network(_net(), str(path))


def test_atomic_save_leaves_no_partial_file(tmp_path):
    target = tmp_path / "models" / "7.state"
    save_atomic({"iter": 7, "optimizers": []}, target)
    assert load_weights_only(target)["iter"] == 7
    with pytest.raises(Exception):
        save_atomic({"bad": _Unsaveable()}, target)
    assert load_weights_only(target)["iter"] == 7  # the old file is intact
    assert sorted(p.name for p in target.parent.iterdir()) == ["7.state"]


class _Unsaveable:
    def __reduce__(self):
        raise RuntimeError("cannot be saved")

"""Uformer is faithful to the official release: sizes, keys, checkpoints and outputs."""
from pathlib import Path

import numpy as np
import pytest
import torch

from restore.archs import fused_ops
from restore.archs.fused_ops import plain_kernels
from restore.archs.uformer_arch import Uformer
from restore.io.checkpoints import WeightsError, load_state, read_state_dict
from restore.registry import ARCH_REGISTRY
from restore.scripts.make_uformer_reference import CASES, reference_input, reference_weights

DATA = Path(__file__).resolve().parents[1] / "fixtures"

# The published parameter counts (Uformer paper, Table 1; modulator included).
OFFICIAL_PARAMS = {"T": 5_291_853, "S": 20_751_197, "B": 50_880_946}

# Keys named in the release that a port must keep, typo included.
SPOT_KEYS = {
    "input_proj.proj.0.weight": (32, 3, 3, 3),
    "dowsample_0.conv.0.weight": (64, 32, 4, 4),
    "encoderlayer_2.blocks.3.attn.qkv.to_kv.weight": (256, 128),
    "encoderlayer_2.blocks.3.attn.relative_position_bias_table": (225, 4),
    "encoderlayer_2.blocks.3.mlp.linear1.0.weight": (512, 128),
    "encoderlayer_2.blocks.3.mlp.dwconv.0.weight": (512, 1, 3, 3),
    "decoderlayer_0.blocks.1.modulator.weight": (64, 512),
    "upsample_0.deconv.0.weight": (512, 256, 2, 2),
    "conv.blocks.1.attn.relative_position_index": (64, 64),
}


def official_shapes(name: str) -> dict[str, tuple[int, ...]]:
    lines = (DATA / f"uformer_{name}_official_state_dict.txt").read_text().splitlines()
    return {key: tuple(int(n) for n in shape.split("x")) if shape else ()
            for key, shape in (line.split(" ") for line in lines if not line.startswith("#"))}


@pytest.mark.parametrize("preset", ["T", "S", "B"])
def test_parameter_counts_equal_official(preset):
    model = Uformer(preset=preset)
    assert sum(p.numel() for p in model.parameters()) == OFFICIAL_PARAMS[preset]


@pytest.mark.parametrize("preset", ["T", "B"])
def test_state_dict_keys_and_shapes_equal_official(preset):
    ours = {k: tuple(v.shape) for k, v in Uformer(preset=preset).state_dict().items()}
    assert ours == official_shapes(preset.lower())
    assert list(ours) == list(official_shapes(preset.lower())), "key order differs"


def test_named_official_keys():
    state = Uformer(preset="B").state_dict()
    for key, shape in SPOT_KEYS.items():
        assert tuple(state[key].shape) == shape, key
    assert not any(k.startswith("encoderlayer") and "modulator" in k for k in state)


def test_registered():
    net = ARCH_REGISTRY.get("Uformer")(preset="T")
    assert isinstance(net, Uformer)


@pytest.mark.parametrize("name, kwargs, side, stride", CASES)
def test_outputs_match_official_release(name, kwargs, side, stride):
    """Same weights, same image: our output equals the official model's (recorded)."""
    expected = np.load(DATA / "uformer_official_reference.npz")[name]
    model = Uformer(win_size=8, token_projection="linear", token_mlp="leff", **kwargs).eval()
    model.load_state_dict(reference_weights(model.state_dict()))
    with torch.no_grad():
        out = model(reference_input(side))[0, :, ::stride, ::stride].numpy()
    np.testing.assert_allclose(out, expected, atol=2e-5, rtol=0)


def test_official_checkpoint_layout_loads_strict(tmp_path):
    """The release saves {'epoch', 'state_dict' with 'module.' prefixes, 'optimizer'}."""
    source = Uformer(preset="T")
    optimizer = torch.optim.AdamW(source.parameters(), lr=2e-4)
    path = tmp_path / "Uformer_T.pth"
    torch.save({"epoch": 250,
                "state_dict": {f"module.{k}": v for k, v in source.state_dict().items()},
                "optimizer": optimizer.state_dict()}, path)
    target = Uformer(preset="T")
    load_state(target, read_state_dict(path), "Uformer_T")
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_checkpoint_of_another_size_is_refused_clearly(tmp_path):
    path = tmp_path / "s.pth"
    torch.save({"state_dict": Uformer(preset="S").state_dict()}, path)
    with pytest.raises(WeightsError, match="weights do not match the network .*wrong shape"):
        load_state(Uformer(preset="T"), read_state_dict(path), "Uformer_S")


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "hook": Path("x")}, path)  # a non-tensor object
    with pytest.raises(WeightsError):
        read_state_dict(path)


@pytest.mark.parametrize("size", [(123, 250), (37, 41), (128, 128), (1, 5)])
def test_any_input_size(size):
    model = Uformer(embed_dim=8, depths=[1] * 9, img_size=128, modulator=True).eval()
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()


def test_non_multiple_size_is_reflect_padded_then_cropped():
    model = Uformer(embed_dim=8, depths=[1] * 9, img_size=128, modulator=True).eval()
    x = torch.rand(1, 3, 123, 250)
    padded = torch.nn.functional.pad(x, (0, 6, 0, 5), mode="reflect")
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(padded)[..., :123, :250], atol=1e-6, rtol=0)


def test_wrong_channel_count_is_a_clear_error():
    model = Uformer(preset="T")
    with pytest.raises(ValueError, match=r"expects a \(B, 3, H, W\) tensor, got shape \(1, 4, 64, 64\)"):
        model(torch.rand(1, 4, 64, 64))
    with pytest.raises(ValueError, match="expects"):
        model(torch.rand(3, 64, 64))


def test_unknown_keyword_and_preset_are_refused():
    with pytest.raises(TypeError, match="unexpected arguments"):
        Uformer(embed_dims=16)
    with pytest.raises(ValueError, match="unknown Uformer preset"):
        Uformer(preset="XL")


def test_fused_kernels_and_plain_ops_agree(monkeypatch, threads):
    """Fused attention, oneDNN kernels and feed-forwards in bands of a few rows against
    plain ops."""
    monkeypatch.setattr(fused_ops, "BAND_BYTES", 100_000)
    model = Uformer(embed_dim=8, depths=[1, 2, 1, 1, 2, 1, 1, 2, 1], img_size=256,
                    modulator=True).eval()
    x = torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        fused = model(x)
        with plain_kernels():
            plain = model(x)
    torch.testing.assert_close(fused, plain, atol=1e-5, rtol=0)


def test_gradients_reach_every_parameter():
    model = Uformer(embed_dim=8, depths=[1, 2, 1, 1, 2, 1, 1, 2, 1], img_size=64,
                    modulator=True, drop_path_rate=0.0)
    model(torch.rand(2, 3, 64, 64)).square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing


def test_bfloat16_forward_runs_close_to_fp32():
    model = Uformer(embed_dim=8, depths=[1] * 9, img_size=128, modulator=True).eval()
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        ref = model(x)
        low = model.to(torch.bfloat16)(x.to(torch.bfloat16)).float()
    assert (low - ref).abs().mean() < 2e-2


def test_batch_equals_images_one_by_one_with_shifted_windows():
    model = Uformer(embed_dim=8, depths=[2, 2, 1, 1, 2, 1, 1, 2, 2], img_size=256,
                    modulator=True).eval()
    x = torch.rand(3, 3, 128, 256)
    with torch.no_grad():
        batched = model(x)
        single = torch.cat([model(image[None]) for image in x])
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=0)


def test_training_after_inference_in_the_same_process():
    """Cached window indices and masks made under inference mode must not poison training."""
    model = Uformer(embed_dim=8, depths=[1, 2, 1, 1, 2, 1, 1, 2, 1], img_size=40, win_size=4, modulator=True)
    x = torch.rand(1, 3, 40, 40)
    with torch.inference_mode():
        model(x)
    model(x).mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_input_projection_stays_float32_under_bf16_autocast():
    """The full-resolution stream starts in float32, so bf16 autocast keeps the fine detail."""
    model = Uformer(embed_dim=8, depths=[1] * 9, img_size=64, modulator=True).eval()
    seen = []
    model.input_proj.register_forward_hook(lambda module, inputs, out: seen.append(out.dtype))
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x)
    assert seen == [torch.float32, torch.float32] and low.dtype == torch.float32
    assert (low - ref).abs().mean() < 2e-2

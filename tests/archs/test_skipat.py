"""Uformer + SkipAt: skipped decoder blocks compute no attention, and Phi is the paper's."""
import pytest
import torch

from restore.archs import fused_ops
from restore.archs.fused_ops import plain_kernels
from restore.archs.skipat import ECA, ConvPhi, SkipAtPhi, build_phi, eca_kernel_size
from restore.archs.uformer_arch import DEFAULT_SKIP_LEVELS, Uformer
from restore.archs.uformer_skipat_arch import SkipAtBlock, UformerSkipAt
from restore.inference.flops import count_macs
from restore.registry import ARCH_REGISTRY

TINY = dict(embed_dim=8, depths=[1, 2, 1, 1, 2, 1, 2, 1, 1], img_size=64, modulator=True)


def record_output(method, store: dict, key):
    """Wrap a bound method so that its output is stored under ``key``."""
    def wrapped(*args, **kwargs):
        store[key] = method(*args, **kwargs)
        return store[key]
    return wrapped


def test_eca_kernel_follows_eca_net_rule():
    # k = |(log2 C + 1) / 2|, bumped to the next odd number (ECA-Net, gamma=2, b=1)
    expected = {8: 3, 16: 3, 32: 3, 64: 3, 128: 5, 256: 5, 512: 5, 1024: 5, 2048: 7}
    assert {c: eca_kernel_size(c) for c in expected} == expected
    assert ECA(256).conv.kernel_size == (5,)


def test_phi_layers_and_ablation_arguments():
    phi = SkipAtPhi(32, kernel_size=7, expansion=0.5)
    assert phi.fc1.out_features == 16 and phi.fc2.in_features == 16
    assert phi.dwconv.kernel_size == (7, 7) and phi.dwconv.groups == 16
    x = torch.rand(2, 9, 11, 32)
    assert phi(x).shape == x.shape
    assert isinstance(build_phi("identity", 32), torch.nn.Identity)
    assert isinstance(build_phi("conv", 32, 3), ConvPhi)
    with pytest.raises(ValueError, match="unknown SkipAt function"):
        build_phi("mlp", 32)


def test_eca_rescales_channels_by_a_sigmoid_gate():
    eca = ECA(16)
    x = torch.rand(1, 4, 4, 16)
    gate = eca(x) / x
    assert torch.all((gate > 0) & (gate < 1))
    assert torch.allclose(gate, gate[:, :1, :1, :].expand_as(gate))  # one gate per channel


def test_skipped_blocks_have_no_attention_parameters():
    model = UformerSkipAt(preset="B", skip_levels=[0, 1])
    names = [n for n, _ in model.named_parameters()]
    for level in (0, 1):
        level_names = [n for n in names if n.startswith(f"decoderlayer_{level}.")]
        assert level_names and not [n for n in level_names
                                    if any(w in n for w in ("attn", "qkv", "modulator", "norm1"))]
        assert all(isinstance(b, SkipAtBlock) for b in getattr(model, f"decoderlayer_{level}").blocks)
    assert any(n.startswith("decoderlayer_2.blocks.0.attn.qkv") for n in names)


def test_skipped_blocks_never_call_attention():
    model = UformerSkipAt(**TINY, skip_levels=[0, 1, 2, 3]).eval()
    calls = []
    for name, module in model.named_modules():
        if name.endswith(".attn"):
            module.register_forward_hook(lambda m, i, o, name=name: calls.append(name))
    with torch.no_grad():
        model(torch.rand(1, 3, 64, 64))
    assert calls and all(not c.startswith("decoderlayer") for c in calls)


def test_phi_is_fed_by_the_matching_encoder_block():
    """Decoder level j, block k reads encoder level 3-j, block k (extra blocks: the last)."""
    model = UformerSkipAt(**TINY, skip_levels=[0, 1, 2, 3]).eval()
    seen = {}
    for j in range(4):
        for k, block in enumerate(getattr(model, f"decoderlayer_{j}").blocks):
            block.register_forward_pre_hook(
                lambda m, args, key=(j, k): seen.__setitem__(key, args[1]))
    produced = {}
    for i in range(4):
        for k, block in enumerate(getattr(model, f"encoderlayer_{i}").blocks):
            block.window_attention = record_output(block.window_attention, produced, (i, k))
    with torch.no_grad():
        model(torch.rand(1, 3, 64, 64))
    depths = TINY["depths"]
    for (j, k), tensor in seen.items():
        encoder_level = 3 - j
        source = (encoder_level, min(k, depths[encoder_level] - 1))
        assert tensor is produced[source], (j, k)


def test_baseline_encoder_is_plain_uformer():
    """SkipAt reads the encoder's WSA outputs without changing what Uformer's levels return."""
    model = UformerSkipAt(**TINY).eval()
    x = torch.rand(1, 64, 64, 8)
    assert isinstance(model.encoderlayer_0(x), torch.Tensor)
    assert not any(hasattr(Uformer, name) for name in ("_keeps_wsa", "_run_decoder_level", "_decoder_level"))


@pytest.mark.parametrize("phi", ["skipat", "identity", "conv"])
def test_inference_paths_equal_plain_ops_and_training_path(monkeypatch, phi, threads):
    """Banded Phi and feed-forwards (bands of a few rows), and the concatenation written
    straight into one buffer, give what plain ops and the training path (no dropout) give."""
    monkeypatch.setattr(fused_ops, "BAND_BYTES", 20_000)
    model = UformerSkipAt(**TINY, drop_path_rate=0.0, skip_levels=[0, 2, 3], phi=phi).eval()
    x = torch.rand(1, 3, 64, 48)
    with torch.no_grad():
        fused = model(x)
        with plain_kernels():
            plain = model(x)
        trained = model.train()(x)
    torch.testing.assert_close(fused, plain, atol=1e-5, rtol=0)
    torch.testing.assert_close(fused, trained, atol=1e-5, rtol=0)


@pytest.mark.parametrize("phi", ["skipat", "identity", "conv"])
def test_gradients_reach_every_parameter(phi):
    model = UformerSkipAt(**TINY, drop_path_rate=0.0, skip_levels=[0, 2], phi=phi)
    model(torch.rand(2, 3, 64, 64)).square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing


@pytest.mark.parametrize("size", [(123, 250), (31, 17)])
def test_any_input_size(size):
    model = UformerSkipAt(**TINY).eval()
    x = torch.rand(1, 3, *size)
    with torch.no_grad():
        assert model(x).shape == x.shape


def test_defaults_cut_macs_as_documented():
    """Default skip levels per preset, and the 256x256 GMACs they give (README table)."""
    assert DEFAULT_SKIP_LEVELS == {"T": [3], "S": [2, 3], "B": [1, 2, 3]}
    x = torch.rand(1, 3, 256, 256)
    base = count_macs(Uformer(preset="T").eval(), x)
    skip = count_macs(UformerSkipAt(preset="T").eval(), x)
    assert (base, skip) == (11_268_521_984, 10_433_855_584)  # -7.4%


def test_registered_and_config_recorded():
    net = ARCH_REGISTRY.get("UformerSkipAt")(preset="S", phi_kernel=3)
    assert net.config["skip_levels"] == DEFAULT_SKIP_LEVELS["S"]
    assert net.config["phi_kernel"] == 3 and net.config["embed_dim"] == 32
    with pytest.raises(ValueError, match="skip_levels"):
        UformerSkipAt(preset="T", skip_levels=[4])


def test_mac_count_sees_every_kernel():
    """flop_counter misses fused CPU kernels; count_macs must still see the full network."""
    macs = count_macs(Uformer(preset="T").eval(), torch.rand(1, 3, 256, 256))
    assert abs(macs / 11.2685e9 - 1) < 1e-3

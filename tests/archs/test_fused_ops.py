"""The fused-kernel switch, and inference kernels that must equal plain ops."""
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import ProfilerActivity, profile

from restore.archs import fused_ops
from restore.archs.fused_ops import concat_sums, conv_mlp, fused_kernels, plain_kernels
from restore.archs.uformer_arch import Uformer
from restore.archs.uformer_skipat_arch import UformerSkipAt
from restore.archs.uniformer_video_arch import UniformerVideoSkipAt

# Operators only the fast paths call: oneDNN's fused linear and conv, and fused attention.
FAST_OPS = {"mkldnn::_linear_pointwise", "mkldnn::_convolution_pointwise", "aten::scaled_dot_product_attention"}
TINY_UFORMER = dict(embed_dim=8, depths=[1, 2, 1, 1, 2, 1, 1, 2, 1], img_size=64, modulator=True)
TINY_VIDEO = dict(embed_dim=8, enc_depths=(1, 1, 1, 2), dec_depths=(2, 1, 1, 1), bottleneck_depth=1,
                  head_dim=16, drop_path_rate=0.0)


def test_plain_kernels_switch_is_scoped():
    assert fused_kernels()
    with plain_kernels():
        assert not fused_kernels()
        with plain_kernels():
            assert not fused_kernels()
        assert not fused_kernels()
    assert fused_kernels()
    with pytest.raises(RuntimeError), plain_kernels():
        raise RuntimeError
    assert fused_kernels()


def test_restore_fused_0_starts_a_process_on_the_plain_path():
    code = "from restore.archs.fused_ops import fused_kernels; print(fused_kernels())"
    for value, expected in (("0", "False"), ("1", "True")):
        done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "RESTORE_FUSED": value},
                              capture_output=True, text=True, timeout=120)
        assert done.stdout.strip() == expected, done.stderr


def operators(net: nn.Module, x: torch.Tensor) -> set[str]:
    with profile(activities=[ProfilerActivity.CPU]) as prof, torch.no_grad():
        net(x)
    return {event.key for event in prof.key_averages()}


@pytest.mark.skipif(not fused_ops.HAVE_FUSED, reason="this PyTorch has no oneDNN fused kernels")
@pytest.mark.parametrize("net, x", [
    (Uformer(**TINY_UFORMER), torch.rand(1, 3, 64, 48)),
    (UformerSkipAt(**TINY_UFORMER, skip_levels=[0, 2, 3]), torch.rand(1, 3, 64, 48)),
    (UniformerVideoSkipAt(**TINY_VIDEO), torch.rand(1, 3, 3, 32, 32)),
], ids=["Uformer", "UformerSkipAt", "UniformerVideoSkipAt"])
def test_plain_kernels_switches_off_every_fast_path(net, x):
    """One switch: the networks call the fast operators, and none of them inside ``plain_kernels()``."""
    net.eval()
    assert operators(net, x) & FAST_OPS
    with plain_kernels():
        assert not operators(net, x) & FAST_OPS


def plain_conv_mlp(x: torch.Tensor, fc1: nn.Linear, dwconv: nn.Conv2d, fc2: nn.Linear) -> torch.Tensor:
    return fc2(F.gelu(dwconv(F.gelu(fc1(x)).permute(0, 3, 1, 2))).permute(0, 2, 3, 1))


@pytest.mark.parametrize("kernel", [3, 5, 7])
@pytest.mark.parametrize("band_bytes", [1, 1000, 2 ** 40])
def test_conv_mlp_equals_plain_ops(monkeypatch, threads, kernel, band_bytes):
    """Bands of 1 row up to the whole grid, with halos cut short by the border on either
    side, on one thread and on two."""
    monkeypatch.setattr(fused_ops, "BAND_BYTES", band_bytes)
    torch.manual_seed(kernel)
    fc1, fc2 = nn.Linear(6, 12), nn.Linear(12, 6)
    dwconv = nn.Conv2d(12, 12, kernel, padding=kernel // 2, groups=12)
    for height in (1, 2, 5, 10, 17):
        x = torch.randn(2, height, 7, 6)
        with torch.no_grad():
            assert fused_ops.banded(x, dwconv) == fused_ops.HAVE_FUSED
            torch.testing.assert_close(conv_mlp(x, fc1, dwconv, fc2), plain_conv_mlp(x, fc1, dwconv, fc2),
                                       rtol=0, atol=1e-5)


def test_conv_mlp_with_norm_and_residual_in_the_bands(monkeypatch):
    monkeypatch.setattr(fused_ops, "BAND_BYTES", 1000)
    torch.manual_seed(0)
    fc1, fc2, norm = nn.Linear(6, 12), nn.Linear(12, 6), nn.LayerNorm(6)
    dwconv = nn.Conv2d(12, 12, 3, padding=1, groups=12)
    x = torch.randn(2, 11, 7, 6)
    with torch.no_grad():
        torch.testing.assert_close(conv_mlp(x, fc1, dwconv, fc2, norm, residual=x),
                                   x + plain_conv_mlp(norm(x), fc1, dwconv, fc2), rtol=0, atol=1e-5)


def test_conv_mlp_with_a_conv_that_resizes():
    torch.manual_seed(0)
    fc1, fc2 = nn.Linear(4, 8), nn.Linear(8, 4)
    x = torch.randn(1, 9, 9, 4)
    for dwconv in (nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Conv2d(8, 8, 3, groups=8)):
        with torch.no_grad():
            fused = conv_mlp(x, fc1, dwconv, fc2)
            with plain_kernels():
                plain = conv_mlp(x, fc1, dwconv, fc2)
        torch.testing.assert_close(fused, plain, rtol=0, atol=1e-5)


def test_concat_sums_equals_cat_of_sums():
    a, b, c, d = (torch.randn(2, 5, 6, n) for n in (3, 3, 4, 4))
    expected = torch.cat([a + b, c + d], dim=-1)
    with torch.no_grad():
        torch.testing.assert_close(concat_sums([(a, b), (c, d)]), expected)
    leaf = a.clone().requires_grad_()
    concat_sums([(leaf, b), (c, d)]).sum().backward()  # under autograd: differentiable ops
    torch.testing.assert_close(leaf.grad, torch.ones_like(a))


@pytest.mark.parametrize(("avx512_bf16", "amx", "native"), [(False, False, False), (True, False, True),
                                                         (False, True, True)])
def test_bf16_is_native_asks_for_the_instructions_not_onednns_emulation(monkeypatch, avx512_bf16, amx,
                                                                       native):
    """oneDNN says bf16 is supported on any AVX512 CPU, where it emulates it; native needs
    AVX512-BF16 or AMX."""
    monkeypatch.setattr(fused_ops.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False)
    fused_ops._cpu_bf16_is_native.cache_clear()
    try:
        assert fused_ops.bf16_is_native(torch.device("cpu")) is native
    finally:
        fused_ops._cpu_bf16_is_native.cache_clear()

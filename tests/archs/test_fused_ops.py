"""The fused-kernel switch, and inference kernels that must equal plain ops."""
import pytest
import torch
from torch import nn

from restore.archs import fused_ops
from restore.archs.fused_ops import concat_sums, conv_mlp, fused_kernels, plain_kernels


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


@pytest.mark.parametrize("kernel", [3, 5, 7])
@pytest.mark.parametrize("band_bytes", [1, 1000, 2 ** 40])
def test_conv_mlp_equals_plain_ops(monkeypatch, threads, kernel, band_bytes):
    """Bands of 1 row up to the whole grid, with halos cut short by the border on either
    side, on one thread and on two."""
    monkeypatch.setattr(fused_ops, "BAND_BYTES", band_bytes)
    torch.manual_seed(kernel)
    fc1, fc2 = nn.Linear(6, 12), nn.Linear(12, 6)
    dwconv = nn.Conv2d(12, 12, kernel, padding=kernel // 2, groups=12)
    norm = nn.LayerNorm(6)
    for height in (1, 2, 5, 10, 17):
        x = torch.randn(2, height, 7, 6)
        with torch.no_grad():
            banded = conv_mlp(x, fc1, dwconv, fc2, norm, residual=x)
            with plain_kernels():
                plain = conv_mlp(x, fc1, dwconv, fc2, norm, residual=x)
        torch.testing.assert_close(banded, plain, rtol=0, atol=1e-5)


def test_conv_mlp_without_norm_or_residual_and_with_a_conv_that_resizes():
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

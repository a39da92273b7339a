"""The one switch between the plain and the fast CPU paths, and the fast kernels themselves.

The networks are written with plain layers (``nn.Linear``, convolutions, an explicit softmax)
that read like their papers. Where a block has a faster way to compute the same thing, it
asks ``fused_kernels()`` first, as timm's ``Attention`` asks ``fused_attn``:

* ``Linear``: an ``nn.Linear`` whose CPU inference runs oneDNN's GEMM, the bias in its
  epilogue; ``linear_gelu`` and ``conv_gelu``/``conv_leaky_relu`` also fuse the activation
  (instead of extra passes over the often 4x-wide output);
* ``conv_mlp``: Uformer's LeFF and SkipAt's Phi in row bands that stay in cache;
* ``concat_sums``: sums written straight into their slices of one buffer;
* ``scaled_dot_product_attention`` instead of an explicit softmax;
* the chunked attention of ``attention_ops``, which keeps SkipAt's matrix A.

Inside ``plain_kernels()``, or in a process started with ``RESTORE_FUSED=0``, every block
takes its plain path, with the same arithmetic: ``torch.utils.flop_counter`` needs that
(it cannot see oneDNN's fused ops nor the CPU flash-attention kernel), ONNX export traces
it, and tests compare the two paths. The switch is per thread (a context variable).

Except for ``scaled_dot_product_attention``, these paths have no backward: under
autograd the plain ops run whatever the switch says. The oneDNN ones also need a
float32 CPU tensor.
"""
from __future__ import annotations

import functools
import os
import platform
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import torch
import torch.nn.functional as F
from torch import nn

from restore.archs.layers import to_nchw, to_nhwc

_OPS = getattr(torch.ops, "mkldnn", None)
HAVE_FUSED = (torch.backends.mkldnn.is_available()
              and hasattr(_OPS, "_linear_pointwise") and hasattr(_OPS, "_convolution_pointwise"))

_FUSED = ContextVar("fused_kernels", default=os.environ.get("RESTORE_FUSED", "1") != "0")


@contextmanager
def plain_kernels() -> Iterator[None]:
    """Run every network with plain ops only: unfused linears and convs, explicit softmax
    attention, no banded or chunked inference paths."""
    token = _FUSED.set(False)
    try:
        yield
    finally:
        _FUSED.reset(token)


def fused_kernels() -> bool:
    """The switch: False inside ``plain_kernels()`` or with ``RESTORE_FUSED=0``, else True."""
    return _FUSED.get()


def bf16_is_native(device: torch.device) -> bool:
    """Whether bfloat16 matmuls and convolutions run in hardware on ``device``: on x86 CPUs,
    AVX512-BF16 or AMX. oneDNN's own check (``torch.ops.mkldnn._is_mkldnn_bf16_supported``)
    also says yes on every AVX512 CPU, where it emulates bf16: there a bf16 ``A @ V`` of a
    video tile took 3.4x as long as in float32, and a bf16 training step longer still."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return _cpu_bf16_is_native()
    return True


_X86 = ("x86_64", "amd64", "i386", "i686", "x86")


@functools.cache
def _cpu_bf16_is_native() -> bool:
    checks = [getattr(torch.cpu, name, None)
              for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if platform.machine().lower() in _X86 and all(checks):
        return any(check() for check in checks)
    try:  # other CPUs (Arm's bf16 extensions), or a PyTorch without the x86 checks
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _onednn(x: torch.Tensor) -> bool:
    """oneDNN's fused float32 kernels: never under autocast, whose weights may be bf16."""
    return (fused_kernels() and HAVE_FUSED and x.device.type == "cpu" and x.dtype == torch.float32
            and not torch.is_grad_enabled() and not torch.is_autocast_enabled("cpu"))


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear``; oneDNN's kernel adds the bias in its epilogue, where ``addmm`` first
    copies the bias into the whole output (measured about 2x faster for our shapes)."""
    if not _onednn(x):
        return F.linear(x, weight, bias)
    flat = x.reshape(-1, x.shape[-1])
    out = _OPS._linear_pointwise(flat, weight, bias, "none", [], "none")
    return out.view(*x.shape[:-1], out.shape[-1])


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters and state-dict keys) whose CPU inference runs ``linear``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)


def linear_gelu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
                ) -> torch.Tensor:
    """``gelu(F.linear(x, weight, bias))``."""
    if not _onednn(x):
        return F.gelu(F.linear(x, weight, bias))
    flat = x.reshape(-1, x.shape[-1])
    out = _OPS._linear_pointwise(flat, weight, bias, "gelu", [], "none")
    return out.view(*x.shape[:-1], out.shape[-1])


def _conv_pointwise(conv: nn.Conv2d | nn.Conv3d, x: torch.Tensor, attr: str,
                    scalars: list[float]) -> torch.Tensor:
    return _OPS._convolution_pointwise(x, conv.weight, conv.bias, list(conv.padding),
                                       list(conv.stride), list(conv.dilation), conv.groups,
                                       attr, scalars, "none")


def _conv_fuses(conv: nn.Conv2d | nn.Conv3d, x: torch.Tensor) -> bool:
    return _onednn(x) and conv.padding_mode == "zeros" and not isinstance(conv.padding, str)


def conv_gelu(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """``gelu(conv(x))`` for an NCHW tensor (channels-last memory preferred)."""
    if not _conv_fuses(conv, x):
        return F.gelu(conv(x))
    return _conv_pointwise(conv, x, "gelu", [])


def conv_leaky_relu(conv: nn.Conv2d | nn.Conv3d, x: torch.Tensor, slope: float) -> torch.Tensor:
    """``leaky_relu(conv(x), slope)`` for a 2-D or 3-D conv. oneDNN keeps channels-last
    memory, where PyTorch's heuristics send a batch-1 input with few channels to a slow
    unfused conv that returns contiguous memory."""
    if not _conv_fuses(conv, x):
        return F.leaky_relu(conv(x), slope)
    return _conv_pointwise(conv, x, "leaky_relu", [slope])


def concat_sums(pairs: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """``torch.cat([a + b for a, b in pairs], dim=-1)``; at inference each sum is written
    straight into its slice of one buffer, so neither the sums nor a concatenation of
    either side is ever built."""
    if not fused_kernels() or torch.is_grad_enabled():
        return torch.cat([a + b for a, b in pairs], dim=-1)
    first = pairs[0][0]
    out = first.new_empty(*first.shape[:-1], sum(a.shape[-1] for a, _ in pairs))
    start = 0
    for a, b in pairs:
        torch.add(a, b, out=out[..., start:start + a.shape[-1]])
        start += a.shape[-1]
    return out


# Bytes of hidden activations per band in ``conv_mlp``: a band then stays in cache instead
# of passing through memory. On the Uformer-T feed-forwards at 512 x 512 (one thread), 1-16
# MiB bands ran alike, and 1.3-1.7x faster than the whole grid at the two finest levels.
# With two threads each band's ops are split again between them; 4 MiB bands still made the
# widest feed-forward (32 -> 128 channels at 256 x 256) 2.2x faster than the whole grid and
# both Uformer-T networks 1.3x faster at 512 x 512 (Intel Xeon, 2 cores), while 1 and 16 MiB
# bands lost to 4 MiB.
BAND_BYTES = 4 * 2 ** 20


def _keeps_size(conv: nn.Conv2d) -> bool:
    """An odd, stride-1, zero-padded conv whose output has its input's size."""
    return (conv.padding_mode == "zeros" and tuple(conv.stride) == (1, 1)
            and tuple(conv.dilation) == (1, 1) and all(k % 2 for k in conv.kernel_size)
            and tuple(conv.padding) == tuple(k // 2 for k in conv.kernel_size))


def banded(x: torch.Tensor, dwconv: nn.Conv2d) -> bool:
    """Whether ``conv_mlp`` can run on ``x`` in bands: oneDNN's kernels, and a depthwise conv
    that keeps the grid size."""
    return _onednn(x) and _keeps_size(dwconv)


def conv_mlp(x: torch.Tensor, fc1: nn.Linear, dwconv: nn.Conv2d, fc2: nn.Linear,
             norm: nn.Module | None = None, residual: torch.Tensor | None = None) -> torch.Tensor:
    """``residual + fc2(gelu(dwconv(gelu(fc1(norm(x))))))`` on a (B, H, W, C) grid; ``norm`` and
    ``residual`` are optional.

    Where ``banded(x, dwconv)``, it runs in bands of rows (``BAND_BYTES``), each read with the
    rows of halo that the conv needs: the wide hidden activations stay in cache instead of
    making full-size passes through memory, and the result equals the whole-grid computation.
    """
    if not banded(x, dwconv):
        hidden = linear_gelu(x if norm is None else norm(x), fc1.weight, fc1.bias)
        out = linear(to_nhwc(conv_gelu(dwconv, to_nchw(hidden))), fc2.weight, fc2.bias)
        return out if residual is None else residual + out
    height, width = x.shape[1:3]
    rows = max(1, BAND_BYTES // (x.shape[0] * width * fc1.out_features * x.element_size()))
    out = x.new_empty(*x.shape[:-1], fc2.out_features)
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        band = _conv_mlp_rows(x, top, bottom, fc1, dwconv, fc2, norm)
        if residual is None:
            out[:, top:bottom] = band
        else:
            torch.add(residual[:, top:bottom], band, out=out[:, top:bottom])
    return out


def _conv_mlp_rows(x: torch.Tensor, top: int, bottom: int, fc1: nn.Linear, dwconv: nn.Conv2d,
                   fc2: nn.Linear, norm: nn.Module | None) -> torch.Tensor:
    """Rows ``top:bottom`` of ``conv_mlp`` without the residual, from those rows and their halo."""
    halo = dwconv.kernel_size[0] // 2
    first, last = max(top - halo, 0), min(bottom + halo, x.shape[1])
    band = x[:, first:last]
    hidden = linear_gelu(band if norm is None else norm(band), fc1.weight, fc1.bias)
    # zero rows where the grid's border cuts the halo short; the output rows that this
    # padding adds on the other side lie outside top:bottom and are dropped
    pad = 0 if (first, last) == (top - halo, bottom + halo) else halo
    hidden = _OPS._convolution_pointwise(
        to_nchw(hidden), dwconv.weight, dwconv.bias, [pad, dwconv.padding[1]],
        list(dwconv.stride), list(dwconv.dilation), dwconv.groups, "gelu", [], "none")
    start = top - first - halo + pad
    return linear(to_nhwc(hidden)[:, start:start + bottom - top], fc2.weight, fc2.bias)

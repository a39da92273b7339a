"""Linear, linear+GELU and conv+GELU as single oneDNN kernels for CPU inference.

Bias and GELU then run in the GEMM/conv epilogue instead of extra passes over the
(often 4x-wide) output; results equal the plain ops to float precision. These are
the kernels torch's own compiler emits on x86. Training, other devices and builds
without oneDNN take the plain path.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

_OPS = getattr(torch.ops, "mkldnn", None)
HAVE_FUSED = (torch.backends.mkldnn.is_available()
              and hasattr(_OPS, "_linear_pointwise") and hasattr(_OPS, "_convolution_pointwise"))


_enabled = True


@contextmanager
def plain_kernels():
    """Run the unfused ops, e.g. for ``flop_counter``, which cannot see the fused ones."""
    global _enabled
    saved, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = saved


def _can_fuse(x: torch.Tensor) -> bool:
    """Only without autograd: the fused kernels have no backward."""
    return (_enabled and HAVE_FUSED and x.device.type == "cpu" and x.dtype == torch.float32
            and not torch.is_grad_enabled())


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear``; oneDNN's kernel adds the bias in its epilogue, where ``addmm`` first
    copies the bias into the whole output (measured about 2x faster for our shapes)."""
    if not _can_fuse(x):
        return F.linear(x, weight, bias)
    flat = x.reshape(-1, x.shape[-1])
    out = _OPS._linear_pointwise(flat, weight, bias, "none", [], "none")
    return out.view(*x.shape[:-1], out.shape[-1])


def linear_gelu(linear: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``gelu(linear(x))`` over the last dim of ``x``."""
    if not _can_fuse(x):
        return F.gelu(linear(x))
    flat = x.reshape(-1, x.shape[-1])
    out = _OPS._linear_pointwise(flat, linear.weight, linear.bias, "gelu", [], "none")
    return out.view(*x.shape[:-1], out.shape[-1])


def conv_gelu(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """``gelu(conv(x))`` for an NCHW tensor (channels-last memory preferred)."""
    if not _can_fuse(x) or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        return F.gelu(conv(x))
    return _OPS._convolution_pointwise(x, conv.weight, conv.bias, list(conv.padding),
                                       list(conv.stride), list(conv.dilation), conv.groups,
                                       "gelu", [], "none")

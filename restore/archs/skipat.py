"""The SkipAt parametric function Phi (paper, section 3.3, Eq. 6).

Phi approximates a skipped attention block's output from another block's:
FC1 (expand) -> GELU -> r x r depthwise conv -> GELU -> FC2 (back) -> ECA.
The depthwise conv restores the cross-token relations that the skipped attention
would have encoded; ECA restores cross-channel ones. Identity and plain-conv
variants are the ablation rows of Table 7. All work on (B, H, W, C) grids.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from restore.archs.fused_ops import banded, conv_mlp
from restore.archs.layers import to_nchw, to_nhwc
from restore.archs.uformer_layers import conv_nhwc


def eca_kernel_size(channels: int, gamma: int = 2, b: int = 1) -> int:
    """ECA-Net's adaptive kernel: |(log2 C + b) / gamma| rounded to the odd number above."""
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


class ECA(nn.Module):
    """Efficient channel attention: global average pool, 1-D conv across channels, sigmoid."""

    def __init__(self, channels: int):
        super().__init__()
        k = eca_kernel_size(channels)
        self.conv = nn.Conv1d(1, 1, kernel_size=k, padding=k // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(1, 2)).unsqueeze(1)           # B, 1, C
        gate = torch.sigmoid(self.conv(pooled)).squeeze(1)  # B, C
        return x * gate[:, None, None, :]


class SkipAtPhi(nn.Module):
    """Phi of Eq. 6; ``kernel_size`` and ``expansion`` are the Table 7 ablations."""

    def __init__(self, dim: int, kernel_size: int = 5, expansion: float = 2.0):
        super().__init__()
        assert kernel_size % 2 == 1, f"kernel_size should be odd, got {kernel_size}"
        hidden = int(dim * expansion)
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, kernel_size, padding=kernel_size // 2,
                                groups=hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.act = nn.GELU()
        self.eca = ECA(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if banded(x, self.dwconv):  # the same, in row bands that stay in cache
            return self.eca(conv_mlp(x, self.fc1, self.dwconv, self.fc2))
        x = self.act(self.fc1(x))
        x = self.act(to_nhwc(self.dwconv(to_nchw(x))))
        return self.eca(self.fc2(x))


class ConvPhi(nn.Module):
    """A dense r x r convolution: Table 7's 'Conv' row."""

    def __init__(self, dim: int, kernel_size: int = 5):
        super().__init__()
        self.conv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv_nhwc(self.conv, x)


def build_phi(kind: str, dim: int, kernel_size: int = 5, expansion: float = 2.0) -> nn.Module:
    """'skipat' (the paper's Phi), 'identity' (reuse as is) or 'conv' (dense conv)."""
    if kind == "skipat":
        return SkipAtPhi(dim, kernel_size, expansion)
    if kind == "identity":
        return nn.Identity()
    if kind == "conv":
        return ConvPhi(dim, kernel_size)
    raise ValueError(f"unknown SkipAt function {kind!r}; choose 'skipat', 'identity' or 'conv'")

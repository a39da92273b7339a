"""UniFormer layers for 5-D video features ``(B, C, T, H, W)``, plus SkipAt reuse.

Two block kinds follow UniFormer (Li et al., ICLR 2022):

* ``LocalBlock``: 3-D depthwise position encoding, then a depthwise 5x5x5
  convolution between two 1x1x1 convolutions as "local attention", then an MLP.
* ``GlobalBlock``: the same position encoding, then multi-head self-attention
  over all ``T*H*W`` tokens, then an MLP.

For SkipAt (paper Appendix A.2, "naive SkipAt") a decoder ``GlobalBlock`` is
built with ``reuse_attention=True``: it owns no query or key projection and no
softmax; it takes the attention matrix ``A`` of its encoder partner and
computes only its values ``V`` and ``A @ V``. The encoder partner is built with
``keep_attention=True`` and hands its ``A`` out (see ``attention_ops``).

The 1x1x1 convolutions run as linears over the channels of each token: the
networks keep 5-D features in channels-last memory, where that is a view.

Deviation from UniFormer: BatchNorm3d in local blocks is replaced by a
per-token LayerNorm over channels, so a tile gives the same result whatever
batch it is processed in (denoisers are trained with small batches and run
tile by tile).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from restore.archs.attention_ops import apply_attention, attention_keeping_matrix
from restore.archs.fused_ops import Linear, fused_kernels, linear, linear_gelu
from restore.archs.layers import DropPath, channels_to_first, channels_to_last

Tensor = torch.Tensor


class ChannelLayerNorm3d(nn.Module):
    """LayerNorm over the channel dim of ``(B, C, T, H, W)``: one norm per token."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        return channels_to_first(self.norm(channels_to_last(x)))


def depthwise_conv3d(channels: int, kernel: int) -> nn.Conv3d:
    return nn.Conv3d(channels, channels, kernel, padding=kernel // 2, groups=channels)


def pointwise(conv: nn.Conv3d, x: Tensor) -> Tensor:
    """A 1x1x1 convolution of ``(B, C, T, H, W)`` features, as a linear over channels."""
    return channels_to_first(linear(channels_to_last(x), conv.weight.flatten(1), conv.bias))


class ConvMlp(nn.Module):
    """Token-wise MLP on 5-D features: 1x1x1 conv, GELU, 1x1x1 conv (GELU fused at inference)."""

    def __init__(self, channels: int, ratio: float) -> None:
        super().__init__()
        hidden = int(channels * ratio)
        self.fc1 = nn.Conv3d(channels, hidden, 1)
        self.fc2 = nn.Conv3d(hidden, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        hidden = linear_gelu(channels_to_last(x), self.fc1.weight.flatten(1), self.fc1.bias)
        return pointwise(self.fc2, channels_to_first(hidden))


class TokenMlp(nn.Module):
    """Token-wise MLP on ``(B, N, C)`` tokens: Linear, GELU, Linear (GELU fused at inference)."""

    def __init__(self, channels: int, ratio: float) -> None:
        super().__init__()
        hidden = int(channels * ratio)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = Linear(hidden, channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(linear_gelu(x, self.fc1.weight, self.fc1.bias))


class LocalBlock(nn.Module):
    """UniFormer's convolutional block (CBlock) on 3-D features."""

    def __init__(self, channels: int, mlp_ratio: float = 4.0, drop_path: float = 0.0) -> None:
        super().__init__()
        self.pos_embed = depthwise_conv3d(channels, 3)
        self.norm1 = ChannelLayerNorm3d(channels)
        self.conv1 = nn.Conv3d(channels, channels, 1)
        self.local_attn = depthwise_conv3d(channels, 5)
        self.conv2 = nn.Conv3d(channels, channels, 1)
        self.norm2 = ChannelLayerNorm3d(channels)
        self.mlp = ConvMlp(channels, mlp_ratio)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.pos_embed(x)
        local = self.local_attn(pointwise(self.conv1, self.norm1(x)))
        x = x + self.drop_path(pointwise(self.conv2, local))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class GlobalAttention(nn.Module):
    """Multi-head self-attention over all tokens.

    ``forward`` runs ``scaled_dot_product_attention`` (an explicit softmax inside
    ``fused_ops.plain_kernels()``); ``forward_keeping_matrix`` also returns ``A``
    of shape ``(B, heads, N, N)``, so that a SkipAt decoder block can reuse it. At
    inference that A lives in this block's workspace buffer (``attention_ops``): it
    is valid until the block's next call on the same thread.
    """

    def __init__(self, channels: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        assert channels % num_heads == 0, "channels should be divisible by num_heads"
        self.num_heads = num_heads
        self.scale = (channels // num_heads) ** -0.5
        self.qkv = Linear(channels, channels * 3, bias=qkv_bias)
        self.proj = Linear(channels, channels)

    def _heads(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        query, key, value = rearrange(self.qkv(x), "b n (three h d) -> three b h n d", three=3,
                                      h=self.num_heads)
        return query, key, value

    def _merge(self, out: Tensor) -> Tensor:
        return self.proj(rearrange(out, "b h n d -> b n (h d)"))

    def forward(self, x: Tensor) -> Tensor:
        query, key, value = self._heads(x)
        if fused_kernels():
            out = F.scaled_dot_product_attention(query, key, value, scale=self.scale)
        else:
            out = (query @ key.transpose(-2, -1) * self.scale).softmax(dim=-1) @ value
        return self._merge(out)

    def forward_keeping_matrix(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out, attention = attention_keeping_matrix(*self._heads(x), self.scale, owner=self)
        return self._merge(out), attention


class ReusedAttention(nn.Module):
    """SkipAt decoder attention: ``A_dec = I(A_enc)``; only values and ``A @ V``."""

    def __init__(self, channels: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        assert channels % num_heads == 0, "channels should be divisible by num_heads"
        self.num_heads = num_heads
        self.v = Linear(channels, channels, bias=qkv_bias)
        self.proj = Linear(channels, channels)

    def forward(self, x: Tensor, attention: Tensor) -> Tensor:
        if attention.shape[1] != self.num_heads or attention.shape[-1] != x.shape[1]:
            raise ValueError(
                f"reused attention has shape {tuple(attention.shape)}, which does not fit "
                f"{self.num_heads} heads over {x.shape[1]} tokens"
            )
        value = rearrange(self.v(x), "b n (h d) -> b h n d", h=self.num_heads)
        out = rearrange(apply_attention(attention, value), "b h n d -> b n (h d)")
        return self.proj(out)


class GlobalBlock(nn.Module):
    """UniFormer's global block (SABlock) on 3-D features; optionally SkipAt.

    ``keep_attention``: a SkipAt encoder block, which also returns its ``A``;
    ``reuse_attention``: a SkipAt decoder block, which takes its partner's ``A``.
    """

    def __init__(
        self,
        channels: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        keep_attention: bool = False,
        reuse_attention: bool = False,
    ) -> None:
        super().__init__()
        assert not (keep_attention and reuse_attention), "a block keeps A or reuses one, not both"
        self.keep_attention = keep_attention
        self.reuse_attention = reuse_attention
        self.pos_embed = depthwise_conv3d(channels, 3)
        self.norm1 = nn.LayerNorm(channels, eps=1e-6)
        attention_cls = ReusedAttention if reuse_attention else GlobalAttention
        self.attn = attention_cls(channels, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(channels, eps=1e-6)
        self.mlp = TokenMlp(channels, mlp_ratio)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor, attention: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """The new features, and this block's ``A`` if it keeps it (else None).
        ``attention`` is the encoder's ``A``, for a block that reuses it."""
        x = x + self.pos_embed(x)
        frames, height, width = x.shape[2:]
        tokens = rearrange(x, "b c t h w -> b (t h w) c")
        own = None
        if self.reuse_attention:
            if attention is None:
                raise ValueError("a SkipAt decoder block needs the encoder's attention matrix")
            mixed = self.attn(self.norm1(tokens), attention)
        elif self.keep_attention:
            mixed, own = self.attn.forward_keeping_matrix(self.norm1(tokens))
        else:
            mixed = self.attn(self.norm1(tokens))
        tokens = tokens + self.drop_path(mixed)
        tokens = tokens + self.drop_path(self.mlp(self.norm2(tokens)))
        x = rearrange(tokens, "b (t h w) c -> b c t h w", t=frames, h=height, w=width)
        return x, own

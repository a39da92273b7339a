"""UniFormer layers for 5-D video features ``(B, C, T, H, W)``, plus SkipAt reuse.

Two block kinds follow UniFormer (Li et al., ICLR 2022):

* ``LocalBlock``: 3-D depthwise position encoding, then a depthwise 5x5x5
  convolution between two 1x1x1 convolutions as "local attention", then an MLP.
* ``GlobalBlock``: the same position encoding, then multi-head self-attention
  over all ``T*H*W`` tokens, then an MLP.

For SkipAt (paper Appendix A.2, "naive SkipAt") a decoder ``GlobalBlock`` is
built with ``reuse_attention=True``: it owns no query or key projection and no
softmax; it takes the attention matrix ``A`` of its encoder partner and
computes only its values ``V`` and ``A @ V``.

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

Tensor = torch.Tensor


class DropPath(nn.Module):
    """Stochastic depth: drop a whole residual branch per sample while training."""

    def __init__(self, prob: float = 0.0) -> None:
        super().__init__()
        self.prob = prob

    def forward(self, x: Tensor) -> Tensor:
        if self.prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep


class ChannelLayerNorm3d(nn.Module):
    """LayerNorm over the channel dim of ``(B, C, T, H, W)``: one norm per token."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.movedim(1, -1)).movedim(-1, 1)


def depthwise_conv3d(channels: int, kernel: int) -> nn.Conv3d:
    return nn.Conv3d(channels, channels, kernel, padding=kernel // 2, groups=channels)


class ConvMlp(nn.Module):
    """Token-wise MLP on 5-D features: 1x1x1 conv, GELU, 1x1x1 conv."""

    def __init__(self, channels: int, ratio: float) -> None:
        super().__init__()
        hidden = int(channels * ratio)
        self.fc1 = nn.Conv3d(channels, hidden, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv3d(hidden, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class TokenMlp(nn.Module):
    """Token-wise MLP on ``(B, N, C)`` tokens: Linear, GELU, Linear."""

    def __init__(self, channels: int, ratio: float) -> None:
        super().__init__()
        hidden = int(channels * ratio)
        self.fc1 = nn.Linear(channels, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


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
        x = x + self.drop_path(self.conv2(self.local_attn(self.conv1(self.norm1(x)))))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def explicit_attention(query: Tensor, key: Tensor, scale: float) -> Tensor:
    """softmax(q k^T * scale). Without autograd it works in place on the one (N, N)
    buffer, about a quarter faster on CPU, where this matrix is the cost of keeping A."""
    scores = query @ key.transpose(-2, -1)
    if torch.is_grad_enabled():
        return (scores * scale).softmax(dim=-1)
    return torch.softmax(scores.mul_(scale), dim=-1, out=scores)


class GlobalAttention(nn.Module):
    """Multi-head self-attention over all tokens.

    ``return_attention=False`` uses fused ``scaled_dot_product_attention``;
    ``True`` takes the explicit softmax path and also returns ``A`` of shape
    ``(B, heads, N, N)`` so a SkipAt decoder block can reuse it.
    """

    def __init__(self, channels: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        assert channels % num_heads == 0, "channels should be divisible by num_heads"
        self.num_heads = num_heads
        self.scale = (channels // num_heads) ** -0.5
        self.qkv = nn.Linear(channels, channels * 3, bias=qkv_bias)
        self.proj = nn.Linear(channels, channels)

    def forward(self, x: Tensor, return_attention: bool = False) -> tuple[Tensor, Tensor | None]:
        qkv = rearrange(self.qkv(x), "b n (three h d) -> three b h n d", three=3, h=self.num_heads)
        query, key, value = qkv.unbind(0)
        if return_attention:
            attention = explicit_attention(query, key, self.scale)
            out = attention @ value
        else:
            attention = None
            out = F.scaled_dot_product_attention(query, key, value)
        return self.proj(rearrange(out, "b h n d -> b n (h d)")), attention


class ReusedAttention(nn.Module):
    """SkipAt decoder attention: ``A_dec = I(A_enc)``; only values and ``A @ V``."""

    def __init__(self, channels: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        assert channels % num_heads == 0, "channels should be divisible by num_heads"
        self.num_heads = num_heads
        self.v = nn.Linear(channels, channels, bias=qkv_bias)
        self.proj = nn.Linear(channels, channels)

    def forward(self, x: Tensor, attention: Tensor) -> Tensor:
        if attention.shape[1] != self.num_heads or attention.shape[-1] != x.shape[1]:
            raise ValueError(
                f"reused attention has shape {tuple(attention.shape)}, which does not fit "
                f"{self.num_heads} heads over {x.shape[1]} tokens"
            )
        value = rearrange(self.v(x), "b n (h d) -> b h n d", h=self.num_heads)
        return self.proj(rearrange(attention @ value, "b h n d -> b n (h d)"))


class GlobalBlock(nn.Module):
    """UniFormer's global block (SABlock) on 3-D features; optionally SkipAt."""

    def __init__(
        self,
        channels: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        reuse_attention: bool = False,
    ) -> None:
        super().__init__()
        self.reuse_attention = reuse_attention
        self.pos_embed = depthwise_conv3d(channels, 3)
        self.norm1 = nn.LayerNorm(channels, eps=1e-6)
        attention_cls = ReusedAttention if reuse_attention else GlobalAttention
        self.attn = attention_cls(channels, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(channels, eps=1e-6)
        self.mlp = TokenMlp(channels, mlp_ratio)
        self.drop_path = DropPath(drop_path)

    def forward(
        self, x: Tensor, attention: Tensor | None = None, return_attention: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """Return the new features and, if asked (encoder side), this block's ``A``."""
        x = x + self.pos_embed(x)
        frames, height, width = x.shape[2:]
        tokens = rearrange(x, "b c t h w -> b (t h w) c")
        if self.reuse_attention:
            if attention is None:
                raise ValueError("a SkipAt decoder block needs the encoder's attention matrix")
            mixed, own = self.attn(self.norm1(tokens), attention), None
        else:
            mixed, own = self.attn(self.norm1(tokens), return_attention=return_attention)
        tokens = tokens + self.drop_path(mixed)
        tokens = tokens + self.drop_path(self.mlp(self.norm2(tokens)))
        x = rearrange(tokens, "b (t h w) c -> b c t h w", t=frames, h=height, w=width)
        return x, own

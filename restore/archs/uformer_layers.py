"""Building blocks of Uformer (Wang et al., CVPR 2022), faithful to the official release.

Attribute names follow the official code so that its checkpoints load with
``strict=True``. Unlike the official code, every layer works on tokens kept as a
``(B, H, W, C)`` grid: the grid shape is explicit (non-square inputs work) and no
layer has to guess ``H = sqrt(L)`` or copy between layouts.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from restore.archs.fused_ops import Linear, banded, conv_mlp, fused_kernels, linear
from restore.archs.layers import DropPath, to_nchw, to_nhwc

T = TypeVar("T")

# The official code fills masked attention logits with -100, not -inf; keep it
# so that outputs match the official model to float precision.
MASK_VALUE = -100.0


def conv_nhwc(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a 2-D conv to a token grid, keeping channels-last memory throughout."""
    x = to_nchw(x).contiguous(memory_format=torch.channels_last)
    return to_nhwc(conv(x))


class LinearProjection(nn.Module):
    """q from ``to_q`` and k, v from ``to_kv``, as the official layer names them.

    The fast path runs the two weights (separate parameters, the official keys) as one GEMM.
    """

    def __init__(self, dim: int, heads: int, bias: bool = True):
        super().__init__()
        assert dim % heads == 0, f"dim {dim} should be divisible by num_heads {heads}"
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=bias)
        self.to_kv = nn.Linear(dim, dim * 2, bias=bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if fused_kernels():
            weight = torch.cat([self.to_q.weight, self.to_kv.weight])
            bias = None if self.to_q.bias is None else torch.cat([self.to_q.bias, self.to_kv.bias])
            qkv = linear(x, weight, bias)
        else:
            qkv = torch.cat([self.to_q(x), self.to_kv(x)], dim=-1)
        q, k, v = rearrange(qkv, "b n (three h d) -> three b h n d", three=3, h=self.heads)
        return q, k, v


def cached_tensors(maxsize: int) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """``functools.lru_cache`` for index and mask tensors that every later call shares.

    They are built outside inference mode: a tensor first made under ``torch.inference_mode``
    could not be used by a later call that records gradients (training after inference).
    """
    def wrap(build: Callable[..., T]) -> Callable[..., T]:
        @functools.lru_cache(maxsize=maxsize)
        @functools.wraps(build)
        def cached(*args: Any) -> T:
            with torch.inference_mode(False):
                return build(*args)
        return cached
    return wrap


@cached_tensors(maxsize=8)
def relative_position_index(win: int) -> torch.Tensor:
    """Index into the (2w-1)^2 bias table for every pair of positions in a window."""
    coords = torch.stack(torch.meshgrid(torch.arange(win, device="cpu"), torch.arange(win, device="cpu"),
                                        indexing="ij"))
    coords = coords.flatten(1)
    rel = rearrange(coords[:, :, None] - coords[:, None, :], "two n m -> n m two") + (win - 1)
    return rel[..., 0] * (2 * win - 1) + rel[..., 1]


class WindowAttention(nn.Module):
    """Multi-head self-attention inside non-overlapping windows, with relative position bias.

    Runs ``scaled_dot_product_attention``, or inside ``fused_ops.plain_kernels()`` the
    explicit softmax it computes (what ``flop_counter`` can count).
    """

    def __init__(self, dim: int, win_size: int, num_heads: int, qkv_bias: bool = True,
                 qk_scale: float | None = None, attn_drop: float = 0.0, proj_drop: float = 0.0,
                 token_projection: str = "linear"):
        super().__init__()
        if token_projection != "linear":
            raise ValueError(f"token_projection={token_projection!r} is not supported; "
                             "the released Uformer models use 'linear'")
        self.dim = dim
        self.win_size = (win_size, win_size)
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * win_size - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(win_size).clone())
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.qkv = LinearProjection(dim, num_heads, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def position_bias(self) -> torch.Tensor:
        """(heads, N, N) additive bias for a window of N = win*win tokens."""
        n = self.win_size[0] * self.win_size[1]
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        return rearrange(bias, "(n m) h -> h n m", n=n)

    def _fused(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor
               ) -> torch.Tensor:
        dropout = self.attn_drop.p if self.training else 0.0
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout,
                                              scale=self.scale)

    def forward(self, x: torch.Tensor, border_mask: torch.Tensor | None = None,
                images: int = 1) -> torch.Tensor:
        """x: (images*nW, N, C) windows. ``border_mask`` (nB, N, N) applies to the last
        nB windows of each image; the others only get the position bias."""
        q, k, v = self.qkv(x)
        bias = self.position_bias().to(q.dtype).unsqueeze(0)  # 1, h, N, N
        if not fused_kernels():
            attn = (q * self.scale) @ k.transpose(-2, -1) + bias
            if border_mask is not None:
                attn = attn.unflatten(0, (images, -1))
                n_border = border_mask.shape[0]
                attn = torch.cat([attn[:, :-n_border],
                                  attn[:, -n_border:] + border_mask.to(attn.dtype).unsqueeze(1)], 1)
                attn = attn.flatten(0, 1)
            out = self.attn_drop(attn.softmax(dim=-1)) @ v
        elif border_mask is None:
            out = self._fused(q, k, v, bias)
        else:
            # The fused kernel is much slower with a per-window mask: run every window
            # with the shared bias, then redo the few border windows with their mask.
            n_border = border_mask.shape[0]
            out = self._fused(q, k, v, bias).unflatten(0, (images, -1))
            border = [t.unflatten(0, (images, -1))[:, -n_border:].flatten(0, 1)
                      for t in (q, k, v)]
            masked_bias = (bias + border_mask.to(q.dtype).unsqueeze(1)).repeat(images, 1, 1, 1)
            redone = self._fused(*border, masked_bias).unflatten(0, (images, -1))
            out = torch.cat([out[:, :-n_border], redone], 1).flatten(0, 1)
        out = rearrange(out, "b h n d -> b n (h d)")
        return self.proj_drop(self.proj(out))


class LeFF(nn.Module):
    """Locally-enhanced feed-forward: Linear, GELU, 3x3 depthwise conv, GELU, Linear."""

    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.linear1 = nn.Sequential(nn.Linear(dim, hidden_dim), nn.GELU())
        self.dwconv = nn.Sequential(
            nn.Conv2d(hidden_dim, hidden_dim, kernel_size=3, padding=1, groups=hidden_dim),
            nn.GELU())
        self.linear2 = nn.Sequential(nn.Linear(hidden_dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if banded(x, self.dwconv[0]):  # the same, in row bands that stay in cache
            return conv_mlp(x, self.linear1[0], self.dwconv[0], self.linear2[0])
        x = self.linear1(x)
        x = to_nhwc(self.dwconv(to_nchw(x)))
        return self.linear2(x)

    def residual(self, x: torch.Tensor, norm: nn.Module) -> torch.Tensor:
        """``x + self(norm(x))``, a block's feed-forward branch and its sum; on the fast path the
        norm and the sum run inside the row bands too, where the block's input is in cache."""
        if banded(x, self.dwconv[0]):
            return conv_mlp(x, self.linear1[0], self.dwconv[0], self.linear2[0], norm, residual=x)
        return x + self(norm(x))


@dataclass(frozen=True)
class ShiftedWindows:
    """How a cyclically shifted grid splits into windows, precomputed once per size.

    Windows are ordered interior first, border last: only the border windows (last
    window row and column) mix regions that were not adjacent before the shift, so
    only they need a mask. ``order`` gathers the rolled, partitioned tokens from the
    grid in one copy; ``inverse`` puts them back.
    """

    order: torch.Tensor        # (H*W,) grid index of each windowed token
    inverse: torch.Tensor      # (H*W,) windowed position of each grid token
    interior: int              # number of windows that need no mask
    border_mask: torch.Tensor  # (n_border, N, N) additive mask, 0 or MASK_VALUE


@cached_tensors(maxsize=32)
def shifted_windows(height: int, width: int, win: int, shift: int,
                    device: torch.device) -> ShiftedWindows:
    rows = (torch.arange(height) + shift) % height  # torch.roll by -shift
    cols = (torch.arange(width) + shift) % width
    grid_index = rows[:, None] * width + cols[None, :]
    windows = rearrange(grid_index, "(nh wh) (nw ww) -> nh nw (wh ww)", wh=win, ww=win)
    n_rows, n_cols = windows.shape[:2]
    is_border = torch.zeros(n_rows, n_cols, dtype=torch.bool)
    is_border[-1, :] = True
    is_border[:, -1] = True
    windows, is_border = windows.flatten(0, 1), is_border.flatten()
    ordered = torch.cat([windows[~is_border], windows[is_border]])

    regions = torch.zeros(height, width)
    cuts = (slice(0, -win), slice(-win, -shift), slice(-shift, None))
    for label, (r, c) in enumerate((r, c) for r in cuts for c in cuts):
        regions[r, c] = label
    region_windows = rearrange(regions, "(nh wh) (nw ww) -> (nh nw) (wh ww)", wh=win, ww=win)
    border = region_windows[is_border]
    differs = border.unsqueeze(1) != border.unsqueeze(2)
    mask = torch.zeros(differs.shape).masked_fill_(differs, MASK_VALUE)

    order = ordered.flatten()
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(order.numel())
    return ShiftedWindows(order.to(device), inverse.to(device), int((~is_border).sum()),
                          mask.to(device))


class LeWinTransformerBlock(nn.Module):
    """(Shifted) window attention, then LeFF, each with a pre-norm residual.

    ``input_resolution`` is the grid size the model was built for: as in the
    official code, a level whose grid is no larger than the window uses one
    unshifted window of that size, whatever size it later runs at.
    """

    def __init__(self, dim: int, input_resolution: tuple[int, int], num_heads: int,
                 win_size: int = 8, shift_size: int = 0, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, qk_scale: float | None = None, drop: float = 0.0,
                 attn_drop: float = 0.0, drop_path: float = 0.0,
                 token_projection: str = "linear", token_mlp: str = "leff",
                 modulator: bool = False):
        super().__init__()
        if token_mlp != "leff":
            raise ValueError(f"token_mlp={token_mlp!r} is not supported; Uformer uses 'leff'")
        self.dim = dim
        self.win_size = win_size
        self.shift_size = shift_size
        if min(input_resolution) <= win_size:
            self.shift_size = 0
            self.win_size = min(input_resolution)
        assert 0 <= self.shift_size < self.win_size, "shift_size must be in [0, win_size)"
        # The official code sizes the modulator by the requested window, not the clipped one.
        self.modulator = nn.Embedding(win_size * win_size, dim) if modulator else None
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, self.win_size, num_heads, qkv_bias=qkv_bias,
                                    qk_scale=qk_scale, attn_drop=attn_drop, proj_drop=drop,
                                    token_projection=token_projection)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = LeFF(dim, int(dim * mlp_ratio))

    def window_attention(self, x: torch.Tensor) -> torch.Tensor:
        """The WSA branch alone, on a (B, H, W, C) grid: SkipAt reuses this output."""
        batch, height, width, channels = x.shape
        win, shift = self.win_size, self.shift_size
        x = self.norm1(x)
        if shift:
            plan = shifted_windows(height, width, win, shift, x.device)
            windows = x.view(batch, -1, channels).index_select(1, plan.order)
            windows = windows.view(-1, win * win, channels)
        else:
            windows = rearrange(x, "b (nh wh) (nw ww) c -> (b nh nw) (wh ww) c", wh=win, ww=win)
        if self.modulator is not None:
            windows = windows + self.modulator.weight
        if not shift:
            out = self.attn(windows)
            return rearrange(out, "(b nh nw) (wh ww) c -> b (nh wh) (nw ww) c",
                             nh=height // win, nw=width // win, wh=win)
        out = self.attn(windows, border_mask=plan.border_mask, images=batch)
        out = out.view(batch, -1, channels).index_select(1, plan.inverse)
        return out.view(batch, height, width, channels)

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x + LeFF(LN(x))`` (drop-path only in training)."""
        if self.training:
            return x + self.drop_path(self.mlp(self.norm2(x)))
        return self.mlp.residual(x, self.norm2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.feed_forward(x + self.drop_path(self.window_attention(x)))


class Downsample(nn.Module):
    """4x4 stride-2 conv; the official layer is ``conv.0``."""

    def __init__(self, in_channel: int, out_channel: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(in_channel, out_channel, 4, stride=2, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv_nhwc(self.conv, x)


class Upsample(nn.Module):
    """2x2 stride-2 transposed conv; the official layer is ``deconv.0``."""

    def __init__(self, in_channel: int, out_channel: int):
        super().__init__()
        self.deconv = nn.Sequential(nn.ConvTranspose2d(in_channel, out_channel, 2, stride=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv_nhwc(self.deconv, x)


class InputProj(nn.Module):
    """3x3 conv + LeakyReLU from image channels to the embedding."""

    def __init__(self, in_channel: int, out_channel: int):
        super().__init__()
        self.proj = nn.Sequential(nn.Conv2d(in_channel, out_channel, 3, padding=1),
                                  nn.LeakyReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return to_nhwc(self.proj(x.contiguous(memory_format=torch.channels_last)))


class OutputProj(nn.Module):
    """3x3 conv from the last decoder features back to image channels."""

    def __init__(self, in_channel: int, out_channel: int):
        super().__init__()
        self.proj = nn.Sequential(nn.Conv2d(in_channel, out_channel, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(to_nchw(x).contiguous(memory_format=torch.channels_last))

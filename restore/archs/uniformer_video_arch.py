"""U-shaped UniFormer video denoiser (MIMO: T noisy frames in, T clean out), and
its SkipAt variant that reuses encoder attention in the decoder.

Layout (defaults; a fit to the paper's Table 6 cost, see README):

* input projection 3x3x3 conv to ``embed_dim`` channels;
* encoder levels at H, H/2, H/4 (UniFormer local blocks) and H/8 (global
  spatio-temporal attention), depths ``enc_depths``, channels ``embed_dim*2**i``,
  each followed by a (1,2,2)/(1,2,2) strided conv that halves H and W (time is
  never downsampled: a 7-in/7-out denoiser must keep every frame);
* a bottleneck of global blocks at H/16;
* a symmetric decoder (``dec_depths``, deepest level first): transposed-conv
  upsampling, concatenation with the encoder skip, a 1x1x1 fuse, then blocks;
* a 3x3x3 output conv and a residual to the noisy input.

``cascade=True`` makes it the second stage after a frozen image denoiser: each frame
comes as the noisy frame, the image model's output for it (and the σ map), and the
residual goes to the image model's output instead of the noisy frame. The output
conv starts at zero, so an untrained cascade returns the image model's output exactly
and can only learn what the extra frames add.

``UniformerVideoSkipAt`` (``skipat=True``): each decoder global block at a level
reuses the attention matrix of the encoder block with the same index at that
level (identity, "naive SkipAt", Appendix A.2). The encoder keeps exactly the
matrices the decoder will read, and each is dropped once read.

Input ``(B, T, C, H, W)`` in [0, 1], ``C = 3`` or ``4`` with ``noise_map=True``
(the fourth channel is sigma/255 everywhere); a cascade takes ``C = 6`` (noisy, image
output) or ``7`` (noisy, image output, sigma/255). Any T >= 1 and any H, W: the
frame is padded to a multiple of 16 and cropped back.
"""
from __future__ import annotations

from typing import Sequence

import torch
from einops import rearrange
from torch import nn

from restore.archs.fused_ops import conv_leaky_relu, fused_kernels
from restore.archs.layers import full_precision
from restore.archs.padding import pad_to_multiple
from restore.archs.video_uniformer_blocks import GlobalBlock, LocalBlock, pointwise
from restore.archs.weight_init import init_transformer_weights
from restore.registry import ARCH_REGISTRY

Tensor = torch.Tensor
BLOCK_TYPES = ("local", "global")


def _make_blocks(
    kind: str, channels: int, depth: int, head_dim: int, mlp_ratio: float, qkv_bias: bool,
    drop_paths: Sequence[float], keep: int = 0, reuse_attention: bool = False,
) -> nn.ModuleList:
    """``keep``: how many leading global blocks keep their attention matrix for a decoder."""
    if kind == "local":
        return nn.ModuleList(LocalBlock(channels, mlp_ratio, drop_paths[i]) for i in range(depth))
    heads = max(1, channels // head_dim)
    return nn.ModuleList(
        GlobalBlock(channels, heads, mlp_ratio, qkv_bias, drop_paths[i],
                    keep_attention=i < keep, reuse_attention=reuse_attention)
        for i in range(depth)
    )


@ARCH_REGISTRY.register()
class UniformerVideo(nn.Module):
    """U-shaped UniFormer denoiser; ``skipat=True`` gives the SkipAt variant."""

    def __init__(
        self,
        in_chans: int = 3,
        out_chans: int = 3,
        embed_dim: int = 32,
        enc_depths: Sequence[int] = (1, 2, 8, 8),
        dec_depths: Sequence[int] = (8, 8, 2, 1),
        bottleneck_depth: int = 2,
        level_types: Sequence[str] = ("local", "local", "local", "global"),
        bottleneck_type: str = "global",
        head_dim: int = 64,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.1,
        noise_map: bool = False,
        skipat: bool = False,
        cascade: bool = False,
    ) -> None:
        super().__init__()
        levels = len(enc_depths)
        assert len(dec_depths) == levels and len(level_types) == levels, (
            "enc_depths, dec_depths and level_types need one entry per level")
        assert all(kind in BLOCK_TYPES for kind in (*level_types, bottleneck_type)), (
            f"block types must be one of {BLOCK_TYPES}")
        if skipat:
            for depth_enc, depth_dec, kind in zip(enc_depths, reversed(dec_depths), level_types):
                assert kind != "global" or depth_dec <= depth_enc, (
                    "a SkipAt decoder level cannot have more global blocks than its encoder level")
        assert not cascade or in_chans == out_chans, "a cascade refines an image of its own colour channels"
        self.in_chans = in_chans * (2 if cascade else 1) + (1 if noise_map else 0)
        self.out_chans = out_chans
        self.noise_map = noise_map
        self.cascade = cascade
        # where the residual is added: the noisy frame, or in a cascade the image stage's output
        self.base_channels = slice(out_chans, 2 * out_chans) if cascade else slice(0, out_chans)
        self.pad_multiple = 2 ** levels
        widths = [embed_dim * 2 ** i for i in range(levels + 1)]
        total = sum(enc_depths) + bottleneck_depth + sum(dec_depths)
        rates = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]  # linear rise
        rates_enc, rates_mid = rates[:sum(enc_depths)], rates[sum(enc_depths):sum(enc_depths) + bottleneck_depth]
        rates_dec = rates[sum(enc_depths) + bottleneck_depth:]

        self.input_proj = nn.Sequential(
            nn.Conv3d(self.in_chans, embed_dim, 3, padding=1), nn.LeakyReLU(inplace=True))
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        for i, (depth, kind) in enumerate(zip(enc_depths, level_types)):
            drops = rates_enc[sum(enc_depths[:i]):sum(enc_depths[:i + 1])]
            keep = dec_depths[levels - 1 - i] if skipat else 0
            self.encoders.append(
                _make_blocks(kind, widths[i], depth, head_dim, mlp_ratio, qkv_bias, drops, keep))
            self.downs.append(nn.Conv3d(widths[i], widths[i + 1], (1, 2, 2), (1, 2, 2)))
        self.bottleneck = _make_blocks(
            bottleneck_type, widths[-1], bottleneck_depth, head_dim, mlp_ratio, qkv_bias, rates_mid)
        self.ups, self.fuses, self.decoders = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for j, depth in enumerate(dec_depths):
            i = levels - 1 - j  # encoder level this decoder level mirrors
            drops = rates_dec[sum(dec_depths[:j]):sum(dec_depths[:j + 1])]
            reuse = skipat and level_types[i] == "global"
            self.ups.append(nn.ConvTranspose3d(widths[i + 1], widths[i], (1, 2, 2), (1, 2, 2)))
            self.fuses.append(nn.Conv3d(2 * widths[i], widths[i], 1))
            self.decoders.append(_make_blocks(
                level_types[i], widths[i], depth, head_dim, mlp_ratio, qkv_bias, drops,
                reuse_attention=reuse))
        self.output_proj = nn.Conv3d(embed_dim, out_chans, 3, padding=1)
        self.apply(init_transformer_weights)
        if cascade:  # a zero correction: the untrained cascade is the image stage
            nn.init.zeros_(self.output_proj.weight)
            nn.init.zeros_(self.output_proj.bias)

    def _pad(self, x: Tensor) -> tuple[Tensor, int, int]:
        height, width = x.shape[-2:]
        return pad_to_multiple(x, self.pad_multiple), height, width

    @staticmethod
    def _run_level(blocks: nn.ModuleList, x: Tensor, reuse: list[Tensor] | None = None
                   ) -> tuple[Tensor, list[Tensor]]:
        """Run one level: returns the attention matrices its blocks keep, and feeds
        ``reuse`` to the blocks that reuse one (popped, so each A is freed once read)."""
        kept: list[Tensor] = []
        for block in blocks:
            if isinstance(block, LocalBlock):
                x = block(x)
                continue
            x, attention = block(x, reuse.pop(0) if block.reuse_attention else None)
            if attention is not None:
                kept.append(attention)
        return x, kept

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 5 or x.shape[2] != self.in_chans:
            raise ValueError(
                f"expected input (B, T, {self.in_chans}, H, W), got {tuple(x.shape)}")
        base = x[:, :, self.base_channels]
        feats = rearrange(x, "b t c h w -> b c t h w")
        feats, height, width = self._pad(feats)
        # channels-last all the way: per-token norms, 1x1x1 convs (linears) and token
        # reshapes become views, and oneDNN/cuDNN 3-D convolutions run faster
        conv, act = self.input_proj
        layout = torch.channels_last_3d if fused_kernels() else torch.contiguous_format  # ONNX has no layouts
        feats = full_precision(lambda grid: conv_leaky_relu(conv, grid.contiguous(memory_format=layout), act.negative_slope),
                               feats, conv.weight.dtype)
        feats = feats.contiguous(memory_format=layout)
        skips, saved = [], []
        for blocks, down in zip(self.encoders, self.downs):
            feats, kept = self._run_level(blocks, feats)
            skips.append(feats)
            saved.append(kept)
            feats = down(feats)
        feats, _ = self._run_level(self.bottleneck, feats)
        for up, fuse, blocks in zip(self.ups, self.fuses, self.decoders):
            feats = pointwise(fuse, torch.cat([up(feats), skips.pop()], dim=1))
            feats, _ = self._run_level(blocks, feats, reuse=saved.pop())
        out = self.output_proj(feats)[..., :height, :width]
        return base + rearrange(out, "b c t h w -> b t c h w")


@ARCH_REGISTRY.register()
class UniformerVideoSkipAt(UniformerVideo):
    """UniformerVideo whose decoder global blocks reuse the encoder's attention."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("skipat", True)
        super().__init__(**kwargs)

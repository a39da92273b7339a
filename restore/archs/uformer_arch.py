"""Uformer (Wang et al., CVPR 2022) and Uformer + SkipAt (paper section 4.4, Appendix A.2).

``Uformer`` takes the official constructor keywords and has the official
state-dict keys and shapes, so the released SIDD checkpoints load with
``strict=True``. ``preset='T'|'S'|'B'`` picks the published sizes.

``UformerSkipAt`` drops the window self-attention (WSA) of chosen decoder levels.
Decoder level ``j`` works at the resolution of encoder level ``3 - j`` with twice
its channels ``c``; there, block ``k`` computes no q, k, v and no attention. Its
WSA output is replaced (Eq. 9) by::

    concat(Phi(WSA output of encoder level 3-j, block k),   # c channels
           upsampled decoder features entering level j)     # c channels

and the rest of the block (residuals, LeFF) is unchanged. Where a decoder level
has more blocks than its encoder level, the extra blocks reuse the encoder's last.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from restore.archs.layers import full_precision
from restore.archs.padding import pad_to_multiple
from restore.archs.weight_init import init_transformer_weights
from restore.archs.uformer_layers import (Downsample, InputProj,
                                          LeWinTransformerBlock, OutputProj, Upsample)
from restore.registry import ARCH_REGISTRY

PRESETS: dict[str, dict] = {
    "T": dict(embed_dim=16, depths=[2, 2, 2, 2, 2, 2, 2, 2, 2]),
    "S": dict(embed_dim=32, depths=[2, 2, 2, 2, 2, 2, 2, 2, 2]),
    "B": dict(embed_dim=32, depths=[1, 2, 8, 8, 2, 8, 8, 2, 1]),
}
# What every released model shares; img_size 128 is the SIDD training patch.
PRESET_COMMON = dict(img_size=128, win_size=8, mlp_ratio=4.0, token_projection="linear",
                     token_mlp="leff", modulator=True,
                     num_heads=[1, 2, 4, 8, 16, 16, 8, 4, 2])

# Decoder levels whose WSA is skipped by default (0 = next to the bottleneck, 3 = full
# resolution): the highest-resolution levels, as many as bring the 256x256 MACs
# closest to Table 5 (T -8%, S -11%, B -13%); see README, "SkipAt mapping".
DEFAULT_SKIP_LEVELS: dict[str, list[int]] = {"T": [3], "S": [2, 3], "B": [1, 2, 3]}

# The official constructor's keywords and defaults.
OFFICIAL_DEFAULTS: dict = dict(
    img_size=256, in_chans=3, dd_in=3, embed_dim=32, depths=[2] * 9,
    num_heads=[1, 2, 4, 8, 16, 16, 8, 4, 2], win_size=8, mlp_ratio=4.0, qkv_bias=True,
    qk_scale=None, drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.1,
    token_projection="linear", token_mlp="leff", shift_flag=True, modulator=False,
    cross_modulator=False)
# Official keywords that select layer classes we fix; accepted and ignored.
OFFICIAL_IGNORED = {"norm_layer", "patch_norm", "dowsample", "upsample"}


def resolve_config(preset: str | None, options: dict) -> dict:
    """Official defaults, then the preset, then explicit keywords."""
    unknown = set(options) - set(OFFICIAL_DEFAULTS) - OFFICIAL_IGNORED
    if unknown:
        raise TypeError(f"Uformer got unexpected arguments: {sorted(unknown)}")
    preset_values = {}
    if preset is not None:
        key = preset.upper()
        if key not in PRESETS:
            raise ValueError(f"unknown Uformer preset {preset!r}; choose one of {sorted(PRESETS)}")
        preset_values = {**PRESET_COMMON, **PRESETS[key]}
    explicit = {k: v for k, v in options.items() if k not in OFFICIAL_IGNORED}
    return {**OFFICIAL_DEFAULTS, **preset_values, **explicit}


class UformerLevel(nn.Module):
    """A stack of LeWin blocks at one resolution (the official ``BasicUformerLayer``)."""

    def __init__(self, dim: int, resolution: int, depth: int, num_heads: int, win_size: int,
                 drop_path: Sequence[float], shift_flag: bool, use_checkpoint: bool = False,
                 **block_kwargs):
        super().__init__()
        self.use_checkpoint = use_checkpoint
        self.blocks = nn.ModuleList([
            LeWinTransformerBlock(dim, (resolution, resolution), num_heads, win_size=win_size,
                                  shift_size=win_size // 2 if shift_flag and i % 2 else 0,
                                  drop_path=drop_path[i], **block_kwargs)
            for i in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            if self.use_checkpoint and self.training:
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return x


@ARCH_REGISTRY.register()
class Uformer(nn.Module):
    """U-shaped window-attention denoiser. Input (B, dd_in, H, W) in [0, 1], any H and W.

    Keywords are the official ones (see ``OFFICIAL_DEFAULTS``), so an official
    config ports as it is; ``preset`` fills in a published size first.
    """

    option_defaults = OFFICIAL_DEFAULTS  # what **options takes, and of which types

    def __init__(self, preset: str | None = None, use_checkpoint: bool = False, **options):
        super().__init__()
        config = resolve_config(preset, options)
        self.config = config
        depths, num_heads = list(config["depths"]), list(config["num_heads"])
        if len(depths) != 9 or len(num_heads) != 9:
            raise ValueError("depths and num_heads need 9 entries: 4 encoder levels, "
                             "the bottleneck and 4 decoder levels")
        if config["cross_modulator"]:
            raise ValueError("cross_modulator is not supported (no released model uses it)")
        self.dd_in = config["dd_in"]
        self.in_chans = config["in_chans"]
        dim = config["embed_dim"]
        size, win = config["img_size"], config["win_size"]
        rate = config["drop_path_rate"]
        shared = dict(mlp_ratio=config["mlp_ratio"], qkv_bias=config["qkv_bias"],
                      qk_scale=config["qk_scale"], drop=config["drop_rate"],
                      attn_drop=config["attn_drop_rate"],
                      token_projection=config["token_projection"],
                      token_mlp=config["token_mlp"], shift_flag=config["shift_flag"],
                      use_checkpoint=use_checkpoint, win_size=win)

        enc_dpr = torch.linspace(0, rate, sum(depths[:4]), device="cpu").tolist()
        dec_dpr = enc_dpr[::-1]
        enc_slices = [enc_dpr[sum(depths[:i]):sum(depths[:i + 1])] for i in range(4)]
        dec_slices = [dec_dpr[sum(depths[5:5 + j]):sum(depths[5:6 + j])] for j in range(4)]

        self.input_proj = InputProj(self.dd_in, dim)
        self.output_proj = OutputProj(2 * dim, self.in_chans)
        self.pos_drop = nn.Dropout(config["drop_rate"])
        for i in range(4):
            setattr(self, f"encoderlayer_{i}", UformerLevel(
                dim * 2 ** i, size // 2 ** i, depths[i], num_heads[i],
                drop_path=enc_slices[i], **shared))
            setattr(self, f"dowsample_{i}", Downsample(dim * 2 ** i, dim * 2 ** (i + 1)))
        self.conv = UformerLevel(dim * 16, size // 16, depths[4], num_heads[4],
                                 drop_path=[rate] * depths[4], **shared)
        for j in range(4):
            in_dim = dim * 16 if j == 0 else dim * 2 ** (5 - j)
            setattr(self, f"upsample_{j}", Upsample(in_dim, dim * 2 ** (3 - j)))
            setattr(self, f"decoderlayer_{j}", UformerLevel(
                dim * 2 ** (4 - j), size // 2 ** (3 - j), depths[5 + j], num_heads[5 + j],
                drop_path=dec_slices[j], modulator=config["modulator"], **shared))
        self.pad_multiple = self._pad_multiple(size, win)
        self.apply(init_transformer_weights)

    @staticmethod
    def _pad_multiple(img_size: int, win: int) -> int:
        """Each level k must split into its windows: side % (2**k * window_k) == 0."""
        multiple = 1
        for k in range(5):
            res = img_size // 2 ** k
            level_win = min(res, win) if res <= win else win
            multiple = math.lcm(multiple, 2 ** k * max(level_win, 1))
        return multiple

    def no_weight_decay_keywords(self) -> set[str]:
        return {"relative_position_bias_table"}

    def check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.dd_in:
            raise ValueError(f"{type(self).__name__} expects a (B, {self.dd_in}, H, W) tensor, "
                             f"got shape {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        height, width = x.shape[-2:]
        x = pad_to_multiple(x, self.pad_multiple)
        start = full_precision(self.input_proj, x, self.input_proj.proj[0].weight.dtype)
        y = self.output_proj(self.features(self.pos_drop(start)))
        out = x + y if self.dd_in == 3 else y
        return out[..., :height, :width]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The U-net between the projections, on a (B, H, W, C) grid: encoder levels,
        bottleneck, then decoder levels fed the upsampled features and the encoder skip."""
        skips = []
        for i in range(4):
            x = getattr(self, f"encoderlayer_{i}")(x)
            skips.append(x)
            x = getattr(self, f"dowsample_{i}")(x)
        x = self.conv(x)
        for j in range(4):
            up = getattr(self, f"upsample_{j}")(x)
            x = getattr(self, f"decoderlayer_{j}")(torch.cat([up, skips.pop()], dim=-1))
        return x


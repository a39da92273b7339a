"""Uformer + SkipAt: decoder levels that reuse the encoder's attention output (Eq. 9).

See ``uformer_arch`` for the mapping: decoder level ``j``, block ``k`` takes the
WSA output of encoder level ``3 - j``, block ``k``, through Phi, concatenated with
the upsampled features entering level ``j``. Skipped blocks own no ``norm1``,
``attn`` or ``modulator``: those weights do not exist, so they cost nothing.
The encoder levels are Uformer's own; the encoder levels a skipped decoder level
reads are run block by block so that each block's WSA output can be kept.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from restore.archs.fused_ops import concat_sums
from restore.archs.layers import DropPath
from restore.archs.skipat import build_phi
from restore.archs.uformer_arch import DEFAULT_SKIP_LEVELS, Uformer, UformerLevel
from restore.archs.uformer_layers import LeFF, LeWinTransformerBlock
from restore.archs.weight_init import init_transformer_weights
from restore.registry import ARCH_REGISTRY


def block_keeping_wsa(block: LeWinTransformerBlock, x: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """A LeWin block's output and its WSA output."""
    wsa = block.window_attention(x)
    return block.feed_forward(x + block.drop_path(wsa)), wsa


def level_keeping_wsa(level: UformerLevel, x: torch.Tensor
                      ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """An encoder level's output and the WSA output of each of its blocks."""
    wsa_outputs = []
    for block in level.blocks:
        if level.use_checkpoint and level.training:
            x, wsa = checkpoint(block_keeping_wsa, block, x, use_reentrant=False)
        else:
            x, wsa = block_keeping_wsa(block, x)
        wsa_outputs.append(wsa)
    return x, wsa_outputs


class SkipAtBlock(nn.Module):
    """A decoder block whose WSA is replaced by Phi of an encoder block's WSA output."""

    def __init__(self, dim: int, phi: nn.Module, mlp_ratio: float = 4.0,
                 drop_path: float = 0.0):
        super().__init__()
        self.phi = phi
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = LeFF(dim, int(dim * mlp_ratio))

    def forward(self, halves: Sequence[torch.Tensor], encoder_wsa: torch.Tensor,
                up: torch.Tensor) -> torch.Tensor:
        """``x = concat(halves) + concat(Phi(encoder_wsa), up)``, then ``x + LeFF(LN(x))``.

        ``halves`` is the block input as its first and its last ``c`` channels; one
        drop-path mask covers the whole concatenation, as in Eq. 9.
        """
        phi = self.phi(encoder_wsa)
        if self.training:
            x = torch.cat(halves, dim=-1) + self.drop_path(torch.cat([phi, up], dim=-1))
            return x + self.drop_path(self.mlp(self.norm2(x)))
        x = concat_sums([(halves[0], phi), (halves[1], up)])  # the same sums, into one buffer
        return self.mlp.residual(x, self.norm2)


class SkipAtLevel(nn.Module):
    """A decoder level made of SkipAt blocks only."""

    def __init__(self, dim: int, depth: int, drop_path: Sequence[float], phi: str,
                 phi_kernel: int, phi_expansion: float, mlp_ratio: float = 4.0):
        super().__init__()
        self.blocks = nn.ModuleList([
            SkipAtBlock(dim, build_phi(phi, dim // 2, phi_kernel, phi_expansion), mlp_ratio,
                        drop_path[i])
            for i in range(depth)])

    @classmethod
    def replacing(cls, level: UformerLevel, **phi_options) -> SkipAtLevel:
        """A SkipAt level with the dim, depth, drop-path rates and LeFF width of ``level``."""
        blocks = level.blocks
        dim = blocks[0].dim
        mlp_ratio = blocks[0].mlp.linear1[0].out_features / dim
        return cls(dim, len(blocks), [b.drop_path.prob for b in blocks], mlp_ratio=mlp_ratio,
                   **phi_options)

    def forward(self, up: torch.Tensor, skip: torch.Tensor, encoder_wsa: list[torch.Tensor]
                ) -> torch.Tensor:
        """The level's input is ``concat(up, skip)``; its first block takes the two
        halves as they are, so that concatenation is never built."""
        halves = (up, skip)
        for k, block in enumerate(self.blocks):
            x = block(halves, encoder_wsa[min(k, len(encoder_wsa) - 1)], up)
            halves = x.chunk(2, dim=-1)
        return x


@ARCH_REGISTRY.register()
class UformerSkipAt(Uformer):
    """Uformer whose decoder levels in ``skip_levels`` (0 = next to the bottleneck) skip WSA.

    ``phi`` is 'skipat' (FC, DwConv, FC, ECA), 'identity' or 'conv' (Table 7);
    ``phi_kernel`` and ``phi_expansion`` are its kernel size and channel expansion.
    ``skip_levels=None`` takes the preset's default, or every level without a preset.
    """

    def __init__(self, preset: str | None = None, skip_levels: Sequence[int] | None = None,
                 phi: str = "skipat", phi_kernel: int = 5, phi_expansion: float = 2.0,
                 **options):
        if skip_levels is None:
            skip_levels = DEFAULT_SKIP_LEVELS[preset.upper()] if preset else [0, 1, 2, 3]
        bad = [j for j in skip_levels if j not in range(4)]
        if bad:
            raise ValueError(f"skip_levels must be decoder levels 0..3, got {bad}")
        super().__init__(preset=preset, **options)
        self.skip_levels = sorted(set(skip_levels))
        phi_options = dict(phi=phi, phi_kernel=phi_kernel, phi_expansion=phi_expansion)
        for j in self.skip_levels:  # same attribute, so the state-dict order is Uformer's
            name = f"decoderlayer_{j}"
            setattr(self, name, SkipAtLevel.replacing(getattr(self, name), **phi_options))
            getattr(self, name).apply(init_transformer_weights)
        self.config.update(skip_levels=self.skip_levels, **phi_options)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Uformer's U-net, where the encoder levels that skipped decoder levels read also
        hand out their blocks' WSA outputs."""
        skips, wsa = [], {}
        for i in range(4):
            level = getattr(self, f"encoderlayer_{i}")
            if 3 - i in self.skip_levels:
                x, wsa[3 - i] = level_keeping_wsa(level, x)
            else:
                x = level(x)
            skips.append(x)
            x = getattr(self, f"dowsample_{i}")(x)
        x = self.conv(x)
        for j in range(4):
            up = getattr(self, f"upsample_{j}")(x)
            level = getattr(self, f"decoderlayer_{j}")
            if j in wsa:
                x = level(up, skips.pop(), wsa.pop(j))
            else:
                x = level(torch.cat([up, skips.pop()], dim=-1))
        return x

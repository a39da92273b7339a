"""Uformer + SkipAt: decoder levels that reuse the encoder's attention output (Eq. 9).

See ``uformer_arch`` for the mapping: decoder level ``j``, block ``k`` takes the
WSA output of encoder level ``3 - j``, block ``k``, through Phi, concatenated with
the upsampled features entering level ``j``. Skipped blocks own no ``norm1``,
``attn`` or ``modulator``: those weights do not exist, so they cost nothing.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from restore.archs.skipat import build_phi
from restore.archs.uformer_arch import DEFAULT_SKIP_LEVELS, Uformer
from restore.archs.uformer_layers import DropPath, LeFF


class SkipAtBlock(nn.Module):
    """A decoder block whose WSA is replaced by Phi of an encoder block's WSA output."""

    def __init__(self, dim: int, phi: nn.Module, mlp_ratio: float = 4.0,
                 drop_path: float = 0.0):
        super().__init__()
        self.phi = phi
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = LeFF(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, encoder_wsa: torch.Tensor, up: torch.Tensor
                ) -> torch.Tensor:
        x = x + self.drop_path(torch.cat([self.phi(encoder_wsa), up], dim=-1))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class SkipAtLevel(nn.Module):
    """A decoder level made of SkipAt blocks only."""

    def __init__(self, dim: int, depth: int, drop_path: Sequence[float], phi: str,
                 phi_kernel: int, phi_expansion: float, mlp_ratio: float = 4.0):
        super().__init__()
        self.blocks = nn.ModuleList([
            SkipAtBlock(dim, build_phi(phi, dim // 2, phi_kernel, phi_expansion), mlp_ratio,
                        drop_path[i])
            for i in range(depth)])

    def forward(self, x: torch.Tensor, encoder_wsa: list[torch.Tensor], up: torch.Tensor
                ) -> torch.Tensor:
        for k, block in enumerate(self.blocks):
            x = block(x, encoder_wsa[min(k, len(encoder_wsa) - 1)], up)
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
        self.skip_levels = sorted(set(skip_levels))
        self._phi_options = dict(phi=phi, phi_kernel=phi_kernel, phi_expansion=phi_expansion)
        super().__init__(preset=preset, **options)
        self.config.update(skip_levels=self.skip_levels, **self._phi_options)

    def _decoder_level(self, index: int, dim: int, resolution: int, depth: int, heads: int,
                       drop_path: Sequence[float], **kwargs) -> nn.Module:
        if index not in self.skip_levels:
            return super()._decoder_level(index, dim, resolution, depth, heads, drop_path,
                                          **kwargs)
        return SkipAtLevel(dim, depth, drop_path, mlp_ratio=kwargs["mlp_ratio"],
                           **self._phi_options)

    def _keeps_wsa(self, encoder_level: int) -> bool:
        return 3 - encoder_level in self.skip_levels

    def _run_decoder_level(self, index: int, x: torch.Tensor, up: torch.Tensor,
                           encoder_wsa: list[torch.Tensor]) -> torch.Tensor:
        if index not in self.skip_levels:
            return super()._run_decoder_level(index, x, up, encoder_wsa)
        return getattr(self, f"decoderlayer_{index}")(x, encoder_wsa, up)

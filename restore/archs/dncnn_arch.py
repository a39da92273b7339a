"""DnCNN (Zhang et al., TIP 2017): the classical all-convolutional Gaussian denoiser.

``depth`` 3x3 convolutions (ReLU between them, batch norm on the inner ones) predict the
noise, which is subtracted from the input. Every output pixel sees ``depth`` pixels around
it and no further, so tiled and whole-image outputs agree exactly away from the seams.
"""
from __future__ import annotations

import torch
from torch import nn

from restore.registry import ARCH_REGISTRY


@ARCH_REGISTRY.register()
class DnCNN(nn.Module):
    """Input (B, in_chans, H, W) in [0, 1]; channels beyond ``out_chans`` (a noise map) are
    read but not denoised. The paper's network is ``depth=17, num_feat=64``."""

    def __init__(self, in_chans: int = 3, out_chans: int = 3, num_feat: int = 64, depth: int = 17) -> None:
        super().__init__()
        assert depth >= 2, "DnCNN needs at least an input and an output convolution"
        assert in_chans >= out_chans, "the input must hold the channels that are denoised"
        self.in_chans, self.out_chans = in_chans, out_chans
        layers: list[nn.Module] = [nn.Conv2d(in_chans, num_feat, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(num_feat, num_feat, 3, padding=1, bias=False), nn.BatchNorm2d(num_feat),
                       nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(num_feat, out_chans, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :self.out_chans] - self.body(x)

"""Small real networks saved with real cards, for the API, CLI and app tests.

Tests publish small randomly initialised networks through ``save_pretrained`` into
a temporary weights folder and load them back through the same path users take;
they run in seconds, where the published weights would take minutes.
"""
from __future__ import annotations

from pathlib import Path

import torch

import restore.archs  # noqa: F401
from restore.api import save_pretrained
from restore.io.weights_card import WeightsCard

# A purely convolutional basicsr net (6 stacked 3x3 convs at upscale=1, receptive
# radius 6 px): tiled and untiled outputs must agree exactly away from the seams.
LOCAL_CONFIG = dict(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=4, upscale=1, act_type="prelu")
LOCAL_RADIUS = 6

TINY_UFORMER = dict(img_size=64, embed_dim=8, depths=[1] * 9, win_size=8, modulator=True, drop_path_rate=0.0)


def publish(folder: Path, name: str, arch: str, config: dict, seed: int = 0, **card) -> WeightsCard:
    from basicsr.utils.registry import ARCH_REGISTRY

    torch.manual_seed(seed)
    net = ARCH_REGISTRY._obj_map.get(arch) or ARCH_REGISTRY._obj_map[f"{arch}_basicsr"]
    card.setdefault("noise", {"type": "gaussian", "sigma": [0, 50]})
    return save_pretrained(net(**config), folder, name=name, arch=arch, config=config,
                           training_data="none: random initialisation (test fixture)", **card)


def publish_local(folder: Path, name: str = "tiny_local_gauss", **card) -> WeightsCard:
    return publish(folder, name, "SRVGGNetCompact", LOCAL_CONFIG, **card)


def publish_uformer_pair(folder: Path) -> tuple[WeightsCard, WeightsCard]:
    """A tiny baseline Uformer and its SkipAt variant, the second naming the first as baseline."""
    base = publish(folder, "tiny_uformer_gauss", "Uformer", TINY_UFORMER)
    skip = publish(folder, "tiny_uformer_skipat_gauss", "UformerSkipAt", TINY_UFORMER, baseline=base.name)
    return base, skip


# A tiny UniFormer video net with a noise-map input (the video engineer's arch).
TINY_VIDEO = dict(embed_dim=4, enc_depths=[1, 1, 1, 1], dec_depths=[1, 1, 1, 1], bottleneck_depth=1, head_dim=8,
                  drop_path_rate=0.0, noise_map=True)


def publish_video(folder: Path, name: str = "tiny_video_skipat_gauss") -> WeightsCard:
    return publish(folder, name, "UniformerVideoSkipAt", TINY_VIDEO, kind="video", noise_map_input=True)

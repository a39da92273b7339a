"""Default tile sizes, in one place. The CLIs and the app repeat the literals
(their --help must not import torch); a test keeps them equal.

Image tiles: 512 px costs ~1.3x less CPU per megapixel than 256 px (less overlap, and
fewer flush-to-border tiles; measured for Uformer-T on a 512x752 photo, 1 thread), and
a 4000x3000 photo still fits in a few GB. Video tiles follow the paper: 7x128x128
patches overlapping by 10 px.
"""
DEFAULT_TILE = 512
DEFAULT_TILE_OVERLAP = 32
DEFAULT_VIDEO_TILE = 128
DEFAULT_VIDEO_TILE_OVERLAP = 10

"""The defaults that the CLIs, the app and the API share, in one place. No imports, so
that ``--help`` stays instant.

Image tiles: 512 px costs ~1.3x less CPU per megapixel than 256 px (less overlap, and
fewer flush-to-border tiles; measured for Uformer-T on a 512x752 photo, 1 thread), and
a 4000x3000 photo still fits in a few GB. Video tiles follow the paper: 7x128x128
patches overlapping by 10 px, 7-frame clips sharing 2 frames.
"""
DEFAULT_IMAGE_MODEL = "uformer_t_skipat_gauss"
DEFAULT_VIDEO_MODEL = "uniformer_skipat_gauss"

DEFAULT_TILE = 512
DEFAULT_TILE_OVERLAP = 32
DEFAULT_VIDEO_TILE = 128
DEFAULT_VIDEO_TILE_OVERLAP = 10
DEFAULT_CLIP_LEN = 7
DEFAULT_CLIP_OVERLAP = 2

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")

# Largest upload the app decodes (its default; --max-image-mp changes it). The CLIs' limit is
# restore.io.formats.MAX_IMAGE_PIXELS.
APP_MAX_IMAGE_PIXELS = 16_000_000

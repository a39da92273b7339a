"""The file types we read and write and the largest image we decode, in one place (no imports:
the CLIs use these for --help)."""

# image suffix -> the format written for it
IMAGE_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".tif": "tiff", ".tiff": "tiff",
                 ".webp": "webp", ".bmp": "bmp"}
IMAGE_SUFFIXES = tuple(IMAGE_FORMATS)
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v")
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt")

# Largest image the CLIs decode (the app has its own, smaller default); tiling keeps memory
# bounded for anything below it.
MAX_IMAGE_PIXELS = 400_000_000   # 20000 x 20000

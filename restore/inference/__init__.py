"""Running networks on user data: tiling (2-D and 3-D), streaming video, pixel
conversions, MAC counting and the defaults the CLIs and the app share."""

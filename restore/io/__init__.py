"""Reading and writing images and videos: formats, channels, audio, atomic writes."""

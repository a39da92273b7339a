"""Which frames make a clip: a sequence shorter than a network's clip is mirrored back and forth
in time, the same way when training (``restore.data``) and when denoising (``restore.inference``)."""


def mirror_indices(length: int, target: int) -> list[int]:
    """Indices 0..length-1 mirrored back and forth to fill ``target`` slots."""
    if length == 1:
        return [0] * target
    period = 2 * (length - 1)
    return [min(i % period, period - i % period) for i in range(target)]

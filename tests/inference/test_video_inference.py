"""Streaming tiled MIMO inference: identity round trip, bounded memory, real networks."""
import numpy as np
import pytest
import torch

from restore.archs.uniformer_video_arch import UniformerVideoSkipAt
from restore.data.photos import load_rgb as load_photo, pan_zoom_clip
from restore.io.clip_frames import mirror_indices
from restore.inference.video_stream import denoise_frames


def identity(clip: torch.Tensor) -> torch.Tensor:
    assert clip.dim() == 5 and clip.shape[1] == 7 and clip.shape[2] == 3  # always full MIMO clips
    return clip.clone()


@pytest.mark.parametrize("frames", [1, 5, 7, 13, 100])
def test_identity_network_returns_every_frame_exactly(frames: int) -> None:
    rng = np.random.default_rng(frames)
    video = [rng.integers(0, 256, (23, 37, 3), dtype=np.uint8) for _ in range(frames)]
    out = list(denoise_frames(identity, iter(video), tile=16, tile_overlap=5, clip_len=7, clip_overlap=2))
    assert len(out) == frames
    for a, b in zip(video, out):
        assert b.dtype == np.uint8 and np.array_equal(a, b)


def test_memory_stays_bounded_on_a_long_stream() -> None:
    """Frames are yielded while reading: the lag never exceeds about two clips."""
    read, lags = [0], []

    def stream():
        for _ in range(200):
            read[0] += 1
            yield np.zeros((8, 8, 3), dtype=np.uint8)

    for index, _ in enumerate(denoise_frames(identity, stream(), tile=8, tile_overlap=2)):
        lags.append(read[0] - index)
    assert len(lags) == 200 and max(lags) <= 2 * 7 + 1


def test_mirror_indices_fill_short_clips() -> None:
    assert mirror_indices(3, 7) == [0, 1, 2, 1, 0, 1, 2]
    assert mirror_indices(1, 4) == [0, 0, 0, 0]


def test_each_temporal_window_gets_different_frames() -> None:
    """A network that shifts by its own clip proves windows are stitched in the right order."""
    video = [np.full((4, 4, 3), i, dtype=np.uint8) for i in range(20)]
    out = list(denoise_frames(lambda c: c * 1.0, iter(video), tile=4, tile_overlap=1))
    assert [int(f[0, 0, 0]) for f in out] == list(range(20))


def test_bad_frames_are_rejected() -> None:
    with pytest.raises(ValueError, match="uint8"):
        list(denoise_frames(identity, iter([np.zeros((4, 4, 3), np.float64)])))
    with pytest.raises(ValueError, match="shape"):
        list(denoise_frames(identity, iter([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)])))
    with pytest.raises(ValueError, match="no frames"):
        list(denoise_frames(identity, iter([])))


def test_float_frames_out_of_range_or_not_finite_are_refused_and_tiny_frames_pass() -> None:
    from restore.errors import RestoreError

    dark = np.zeros((4, 4, 3), np.float32)
    with pytest.raises(RestoreError, match=r"frame 1 values must lie in \[0, 1\], found \[255, 255\]$"):
        list(denoise_frames(identity, iter([dark, dark + 255])))
    with pytest.raises(RestoreError, match="frame 0 holds 1 NaN or infinite values"):
        list(denoise_frames(identity, iter([np.where(np.arange(48).reshape(4, 4, 3) == 5, np.nan, dark)])))
    tiny = [np.full((2, 2, 3), index, np.uint8) for index in range(9)]
    out = denoise_frames(identity, iter(tiny), tile=128, tile_overlap=10)
    assert all(np.array_equal(a, b) for a, b in zip(tiny, out))


def test_real_clip_through_tiny_skipat_net() -> None:
    """A real (tiny, untrained) SkipAt net runs through tiles and windows on a real clip."""
    clip = pan_zoom_clip(load_photo("astronaut"), 8, 36, 44, seed=1)
    net = UniformerVideoSkipAt(embed_dim=4, enc_depths=(1, 1, 1, 1), dec_depths=(1, 1, 1, 1),
                               bottleneck_depth=1, head_dim=8, drop_path_rate=0.0).eval()
    with torch.inference_mode():
        first = np.stack(list(denoise_frames(net, iter(clip), tile=24, tile_overlap=8)))
        again = np.stack(list(denoise_frames(net, iter(clip), tile=24, tile_overlap=8, tile_batch=4)))
    assert first.shape == (8, 36, 44, 3) and first.dtype == np.uint8
    assert np.abs(first.astype(int) - again.astype(int)).max() <= 1  # batching tiles changes nothing

"""Overlapping tiles: exact layout, identity round trip, seamless blending, and jobs side by side."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from skimage import data

from restore.inference.tiling import ramp_weights, tile_starts, tiled_apply


def test_tile_starts_cover_and_last_is_flush() -> None:
    assert tile_starts(300, 128, 10) == [0, 118, 172]
    assert tile_starts(128, 128, 10) == [0]
    assert tile_starts(50, 128, 10) == [0]  # shorter than a tile: one tile
    for length in (1, 5, 7, 13, 100, 257):
        for tile, overlap in ((7, 2), (4, 1), (16, 10)):
            starts = tile_starts(length, tile, overlap)
            size = min(tile, length)
            covered = set()
            for start in starts:
                covered.update(range(start, start + size))
            assert covered == set(range(length))
            assert starts[-1] + size == length


def test_bad_overlap_is_rejected() -> None:
    with pytest.raises(ValueError, match="overlap"):
        tile_starts(300, 128, 128)


@pytest.mark.parametrize("frames", [5, 7, 13, 100])
def test_identity_3d_returns_input(frames: int) -> None:
    x = torch.randint(0, 256, (1, 3, frames, 37, 53)).float() / 255  # like decoded frames
    y = tiled_apply(lambda t: t.clone(), x, tile=(7, 16, 16), overlap=(2, 5, 5), batch_size=4)
    assert y.shape == x.shape
    torch.testing.assert_close(y, x, rtol=0, atol=1e-6)
    # after the uint8 rounding used for output files it is exactly the input
    assert torch.equal((y * 255).round(), (x * 255).round())
    assert y.shape[2] == frames


def test_identity_2d_real_image_odd_size() -> None:
    image = torch.from_numpy(data.astronaut()[:301, :257]).permute(2, 0, 1)[None].float() / 255
    y = tiled_apply(lambda t: t, image, tile=64, overlap=10)
    torch.testing.assert_close(y, image, rtol=0, atol=1e-6)


def test_weights_sum_to_one_everywhere() -> None:
    x = torch.zeros(1, 1, 45, 70)
    ones = tiled_apply(lambda t: torch.ones_like(t), x, tile=16, overlap=6)
    torch.testing.assert_close(ones, torch.ones_like(x), rtol=0, atol=1e-6)


def test_overlaps_are_feathered_not_seamed() -> None:
    """Tile k outputs the constant k; in an overlap the result ramps between them."""
    x = torch.zeros(1, 1, 1, 40)
    counter = iter(range(100))
    y = tiled_apply(lambda t: torch.full_like(t, float(next(counter))), x, tile=(1, 20), overlap=(0, 10))
    row = y[0, 0, 0]
    assert row[0] == 0 and row[-1] == 2
    overlap = row[10:20]
    assert torch.all(overlap > 0) and torch.all(overlap < 1)
    assert torch.all(overlap[1:] > overlap[:-1])  # a smooth ramp, no jump


def test_ramp_keeps_border_sides_at_one() -> None:
    w = ramp_weights(10, 4, ramp_low=False, ramp_high=True)
    assert torch.all(w[:6] == 1) and torch.all(w[6:] < 1) and torch.all(w > 0)


def test_fn_changing_tiled_shape_is_an_error() -> None:
    with pytest.raises(ValueError, match="tiled shape"):
        tiled_apply(lambda t: t[..., :-1], torch.zeros(1, 1, 30, 30), tile=16, overlap=4)


def test_batched_tiles_match_single_tiles_and_channels_may_change() -> None:
    x = torch.rand(2, 4, 33, 29)
    fn = lambda t: t[:, :3] * 2  # noqa: E731
    a = tiled_apply(fn, x, tile=12, overlap=3, batch_size=1)
    b = tiled_apply(fn, x, tile=12, overlap=3, batch_size=5)
    assert a.shape == (2, 3, 33, 29)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, x[:, :3] * 2, rtol=0, atol=1e-6)


def test_tiles_side_by_side_give_the_same_output_as_tiles_in_turn() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.GELU(), torch.nn.Conv2d(8, 3, 3, padding=1))
    x = torch.rand(1, 3, 70, 90)
    calls: list[int] = []
    with torch.inference_mode():
        one = tiled_apply(net, x, tile=32, overlap=6)
        many = tiled_apply(net, x, tile=32, overlap=6, batch_size=2, workers=3,
                           progress=lambda done, total: calls.append(done))
    assert many.is_inference()  # the workers ran under the caller's inference mode
    torch.testing.assert_close(one, many, rtol=0, atol=1e-6)
    assert calls == sorted(calls) and calls[-1] == len(tile_starts(70, 32, 6)) * len(tile_starts(90, 32, 6))


def test_a_failing_tile_stops_the_workers_and_restores_the_thread_count() -> None:
    threads = torch.get_num_threads()
    seen: list[int] = []

    def fn(t: torch.Tensor) -> torch.Tensor:
        seen.append(torch.get_num_threads())
        if len(seen) == 2:
            raise RuntimeError("tile failed")
        time.sleep(0.02)  # tiles take time, as real ones do: the ones not started yet get dropped
        return t

    with pytest.raises(RuntimeError, match="tile failed"):
        tiled_apply(fn, torch.zeros(1, 1, 200, 200), tile=16, overlap=4, workers=2)
    assert set(seen) == {1} and len(seen) < len(tile_starts(200, 16, 4)) ** 2 // 4
    assert torch.get_num_threads() == threads


def new_thread_count() -> int:
    """The count a thread that has not run torch yet starts with: torch's process-wide setting
    (each thread keeps its own copy once it has run an op)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(torch.get_num_threads).result()


def test_two_jobs_at_once_give_one_at_a_time_outputs_and_leave_the_thread_count_alone() -> None:
    # The first job's tiles run side by side (one thread each); the second starts while they do and
    # ends after them, which is when a job restoring "its" saved count would leave one thread.
    threads = torch.get_num_threads()
    assert new_thread_count() == threads
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.GELU(), torch.nn.Conv2d(8, 3, 3, padding=1))
    short, long = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 160, 160)
    started = threading.Event()

    def slow_net(t: torch.Tensor) -> torch.Tensor:
        started.set()
        time.sleep(0.01)
        return net(t)

    def job(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return tiled_apply(slow_net, x, tile=24, overlap=4, workers=2)

    alone = [job(short), job(long)]
    assert torch.get_num_threads() == threads
    started.clear()
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(job, short)
        started.wait(timeout=10)
        second = pool.submit(job, long)
        together = [first.result(), second.result()]
    assert torch.get_num_threads() == new_thread_count() == threads
    for one, both in zip(alone, together):
        torch.testing.assert_close(one, both, rtol=0, atol=1e-6)

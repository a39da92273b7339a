"""pad_to_multiple: sides reach the multiple by mirroring, however small the input."""
import numpy as np
import pytest
import torch

from restore.archs.padding import pad_to_multiple


@pytest.mark.parametrize("height, width, multiple", [(5, 6, 8), (2, 3, 16), (30, 31, 128), (128, 64, 128)])
def test_pads_by_mirroring_like_numpy_reflect(height, width, multiple):
    x = torch.randn(1, 3, height, width)
    padded = pad_to_multiple(x, multiple)
    assert padded.shape[-2] % multiple == 0 and padded.shape[-1] % multiple == 0
    assert padded.shape[-2] - height < multiple and padded.shape[-1] - width < multiple
    expected = np.pad(x.numpy(), ((0, 0), (0, 0), (0, padded.shape[-2] - height), (0, padded.shape[-1] - width)),
                      mode="reflect")  # numpy reflects again where the pad is wider than the side
    assert np.array_equal(padded.numpy(), expected)


def test_clips_are_padded_in_space_only_and_lines_repeat():
    clip = torch.randn(1, 3, 7, 5, 6)
    padded = pad_to_multiple(clip, 16)
    assert padded.shape == (1, 3, 7, 16, 16) and torch.equal(padded[..., :5, :6], clip)
    line = torch.randn(1, 3, 1, 7)  # one row: nothing to mirror, the edge repeats
    assert torch.equal(pad_to_multiple(line, 8), line[..., [0] * 8, :][..., list(range(7)) + [6]])

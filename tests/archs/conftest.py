"""Thread counts for tests of paths that depend on them (banded and chunked ones run on one thread)."""
import pytest
import torch


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request):
    """Run the test on one torch thread, then on two; restore the count afterwards."""
    saved = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(saved)

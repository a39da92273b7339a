"""restore.archs.construct: parameter counts found without allocating, and the start-up they cost."""
from __future__ import annotations

import subprocess
import sys

import pytest

from restore.archs.construct import build_network, count_parameters


@pytest.mark.parametrize("name, config", [("UformerSkipAt", {"preset": "T"}), ("Uformer", {"preset": "S"}),
                                          ("UniformerVideoSkipAt", {"embed_dim": 16, "head_dim": 16})])
def test_the_count_on_the_meta_device_is_the_real_networks(name, config):
    assert count_parameters(name, config) == sum(p.numel() for p in build_network(name, config).parameters())


def test_counting_leaves_real_initialisation_alone_and_imports_no_compiler():
    """Counting skips the initialisers on the meta device only: a network built afterwards is
    initialised as usual, and torch._dynamo (two seconds of import) is never loaded."""
    code = ("import sys, torch\n"
            "from restore.archs.construct import build_network\n"
            "net = build_network('UformerSkipAt', {'preset': 'T'})\n"
            "weight = net.state_dict()['decoderlayer_0.blocks.0.modulator.weight']\n"
            "assert weight.std() > 0.5, weight.std()  # nn.Embedding's N(0, 1)\n"
            "print('torch._dynamo' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"

"""Inference needs no training framework: the API, the networks, the tiling and the file IO
run a published model without ever importing basicsr."""
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CODE = textwrap.dedent("""
    import importlib, pkgutil, sys, tempfile
    import numpy as np
    import restore.archs, restore.inference, restore.io
    for package in (restore.archs, restore.inference, restore.io):
        for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    from restore.api import Denoiser, save_pretrained
    from restore.registry import ARCH_REGISTRY

    folder = tempfile.mkdtemp()
    config = dict(num_feat=8, depth=4)
    save_pretrained(ARCH_REGISTRY.get("DnCNN")(**config), folder, name="tiny", arch="DnCNN", config=config,
                    noise={"type": "gaussian", "sigma": [0, 50]})
    denoiser = Denoiser.from_pretrained("tiny", weights_dir=folder, device="cpu", tile=32, tile_overlap=8)
    noisy = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    out = denoiser(noisy, sigma=25)
    print(out.shape, out.dtype, "basicsr" in sys.modules)
""")


def test_the_api_denoises_without_importing_basicsr():
    done = subprocess.run([sys.executable, "-c", CODE], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(40,", "50,", "3)", "uint8", "False"], done.stdout + done.stderr

"""Record the official Uformer's outputs so our tests can check equality without its code.

Usage: python restore/scripts/make_uformer_reference.py --official-dir PATH [--out FILE]
PATH holds the official release's ``model.py`` (github.com/ZhendongWang6/Uformer;
it needs ``timm``). Weights are filled deterministically by ``reference_weights``,
which the test uses too, so only the official outputs need storing.
"""
from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np
import torch

# (name, official constructor kwargs, input side, output stride stored)
CASES = [
    ("t_img128", dict(img_size=128, embed_dim=16, modulator=True), 128, 2),
    ("small_img256_shifted_bottleneck",
     dict(img_size=256, embed_dim=8, depths=[1, 2, 2, 2, 2, 2, 2, 2, 1], modulator=True), 256, 4),
    ("small_img64_clipped_windows",
     dict(img_size=64, embed_dim=8, depths=[1, 1, 1, 1, 2, 1, 1, 1, 1], modulator=True), 128, 2),
]


def reference_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Deterministic, well-scaled weights for every float tensor of a state dict."""
    gen = torch.Generator().manual_seed(1234)
    out = {}
    for name, tensor in state.items():
        if not tensor.is_floating_point():
            out[name] = tensor.clone()
            continue
        noise = torch.randn(tensor.shape, generator=gen)
        out[name] = 1.0 + 0.1 * noise if "norm" in name and name.endswith("weight") else 0.05 * noise
    return out


def official_uformer(official_dir: str | Path) -> type[torch.nn.Module]:
    """The ``Uformer`` class of the official release's ``model.py`` in ``official_dir``, loaded
    from that file alone (it imports torch, timm and einops, nothing beside it)."""
    from restore.errors import RestoreError

    path = Path(official_dir) / "model.py"
    if not path.is_file():
        raise RestoreError(f"{path} not found: the official directory must hold the Uformer release's model.py")
    spec = importlib.util.spec_from_file_location("uformer_official_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Uformer


def reference_input(side: int) -> torch.Tensor:
    """A real photo (skimage's astronaut), resized to side x side, as (1, 3, H, W) in [0, 1]."""
    import cv2
    from skimage import data
    image = cv2.resize(data.astronaut(), (side, side), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official-dir", required=True, type=Path)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[2] / "tests/fixtures/uformer_official_reference.npz")
    args = parser.parse_args()
    OfficialUformer = official_uformer(args.official_dir)  # noqa: N806  (the official release, not our code)

    arrays = {}
    for name, kwargs, side, stride in CASES:
        model = OfficialUformer(win_size=8, token_projection="linear", token_mlp="leff", **kwargs)
        model.load_state_dict(reference_weights(model.state_dict()))
        with torch.no_grad():
            out = model.eval()(reference_input(side))
        arrays[name] = out[0, :, ::stride, ::stride].numpy().astype(np.float32)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

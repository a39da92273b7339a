"""Export a model to ONNX, with a parity check against PyTorch.

    python -m restore.export --model uformer_t_skipat_gauss --format onnx --output model.onnx [--size 512]
    python -m restore.export --model uniformer_skipat_gauss --format onnx --output video.onnx [--size 128 --frames 7]

The network is traced at one tile shape (our window and attention reshapes do not trace with
free sizes); the Denoiser runs the file through tiles of that size, so any image or video size
works: ``Denoiser.from_pretrained("model.onnx")``, ``denoise_image.py --model model.onnx``.
At the end the export is run on a noisy held-out crop beside PyTorch and the largest
difference is printed. Needs ``pip install -r requirements-onnx.txt``.

A cascade video model exports its video stage, which takes each frame beside its image
model's output (6 channels, 7 with the σ map). The file's card still names the image model
by sha256; the Denoiser loads that model's card (beside the .onnx, else in the weights
folder) and feeds the export its outputs, once per frame, as for PyTorch.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from restore.inference.defaults import DEFAULT_CLIP_LEN, DEFAULT_TILE, DEFAULT_VIDEO_TILE

PARITY_TOLERANCE = 1e-4


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a name in weights/ or a .json card / weight file")
    parser.add_argument("--weights-dir", type=Path, help="weights folder with registry.json (default: weights/)")
    parser.add_argument("--format", default="onnx", choices=("onnx",))
    parser.add_argument("--output", type=Path, required=True, help="the .onnx file to write")
    parser.add_argument("--size", type=int, help=f"tile side in pixels (default: {DEFAULT_TILE} for images, "
                                                  f"{DEFAULT_VIDEO_TILE} for video)")
    parser.add_argument("--frames", type=int, default=DEFAULT_CLIP_LEN, help="frames per clip (video models)")
    parser.add_argument("--opset", type=int, default=17)
    return parser.parse_args(argv)


def parity_input(kind: str, shape: tuple[int, ...], noise_map: bool, image_stage=None):
    """A noisy (σ=30) crop of a held-out photo in the exported shape, with its noise map; for a
    cascade each frame beside ``image_stage``'s output for it."""
    import numpy as np
    import torch

    from restore.archs.padding import pad_to_multiple
    from restore.data.photos import load_rgb, pan_zoom_clip
    from restore.noise.gaussian import add_gaussian_noise, append_sigma_map

    size = shape[-1]
    photo = load_rgb("chelsea")
    if kind == "image":
        clean = torch.from_numpy(photo.astype(np.float32) / 255).permute(2, 0, 1)[None]
        clean = pad_to_multiple(clean, size)[..., :size, :size]
    else:
        frames = pan_zoom_clip(photo, shape[1], size, size, seed=0, path_frames=40)
        clean = torch.from_numpy(np.stack(frames).astype(np.float32) / 255).permute(0, 3, 1, 2)[None]
    noisy = torch.from_numpy(add_gaussian_noise(clean.numpy(), 30, np.random.default_rng(0), clip=True))
    if image_stage is not None:
        noisy = torch.cat([noisy, torch.stack([image_stage(frame) for frame in noisy[0]])[None]], dim=2)
    if noise_map:
        noisy = append_sigma_map(noisy, 30)
    return noisy


def run(args: argparse.Namespace) -> int:
    import torch

    from restore.api import Denoiser
    from restore.errors import RestoreError
    from restore.inference.onnx_model import OnnxNetwork, export, require_onnxruntime

    require_onnxruntime()
    if args.output.suffix != ".onnx":
        raise RestoreError(f"--output must end in .onnx, got {args.output}")
    if not args.output.resolve().parent.is_dir():
        raise RestoreError(f"output folder {args.output.parent} does not exist")
    denoiser = Denoiser.from_pretrained(args.model, weights_dir=args.weights_dir, device="cpu", precision="fp32")
    card = denoiser.card
    size = args.size or (DEFAULT_TILE if card.kind == "image" else DEFAULT_VIDEO_TILE)
    if size < 16 or args.frames < 1:
        raise RestoreError("--size must be at least 16 and --frames at least 1")
    channels = 3 * (2 if card.is_cascade else 1) + int(card.noise_map_input)  # a cascade: + the image output
    fields = {key: value for key, value in card.to_dict().items() if key not in ("weights", "sha256")}
    print(f"tracing {card.name} at {'x'.join(map(str, [args.frames] * (card.kind == 'video') + [size, size]))}...",
          flush=True)
    shape = export(denoiser.net, fields, args.output, card.kind, channels, size, args.frames, args.opset)
    sample = parity_input(card.kind, shape, card.noise_map_input, denoiser.image_stage_fn(30))
    with torch.inference_mode():
        expected = denoiser.net(sample)
    got = OnnxNetwork(args.output, shape)(sample)
    difference = float((got - expected).abs().max())
    print(f"wrote {args.output} (input {tuple(shape)}, {args.output.stat().st_size / 1e6:.1f} MB); "
          f"parity on a noisy held-out crop: max |onnx - torch| = {difference:.2e}")
    if difference > PARITY_TOLERANCE:
        raise RestoreError(f"the export differs from PyTorch by {difference:.2e}, more than {PARITY_TOLERANCE:g}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from restore.errors import run_cli

    return run_cli(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())

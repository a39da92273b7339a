"""Publish a network as safetensors + weight card (+ registry entry).

The counterpart of ``Denoiser.from_pretrained``: training runs and tests use it
so that every weight file that exists has a card with its true sha256.

CLI (turn a BasicSR training checkpoint into a published model)::

    python -m restore.save_weights --checkpoint experiments/x/models/net_g_latest.pth \
        --name uformer_t_skipat_gauss --arch UformerSkipAt --config '{"preset": "T"}' \
        --noise gaussian:0,50 --training-data "DIV2K+Flickr2K" [--weights-dir weights] [--register]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from restore.weights_card import WeightsCard, WeightsError, register, sha256_of_file, write_card


def save_state_atomic(state: dict[str, torch.Tensor], path: Path) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        # safetensors refuses shared or non-contiguous storage: give it plain copies.
        save_file({key: value.detach().cpu().contiguous().clone() for key, value in state.items()}, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_pretrained(net: nn.Module | dict[str, torch.Tensor], folder: str | os.PathLike, *, name: str, arch: str,
                    config: dict[str, Any], kind: str = "image", noise: dict[str, Any],
                    noise_map_input: bool = False, training_data: str | None = None,
                    psnr: dict[str, Any] | None = None, baseline: str | None = None,
                    notes: str | None = None, register_model: bool = True) -> WeightsCard:
    """Write ``<name>.safetensors`` and ``<name>.json`` into ``folder``; return the card."""
    folder = Path(folder)
    state = net.state_dict() if isinstance(net, nn.Module) else net
    weights = folder / f"{name}.safetensors"
    save_state_atomic(state, weights)
    card = WeightsCard(name=name, arch=arch, config=config, kind=kind, noise=noise,
                       noise_map_input=noise_map_input, weights=weights.name, sha256=sha256_of_file(weights),
                       training_data=training_data, psnr=psnr, baseline=baseline, notes=notes)
    write_card(card, folder)
    if register_model:
        register(card, folder)
    return card


def parse_noise(text: str) -> dict[str, Any]:
    """'gaussian:0,50' or 'real:SIDD' -> the card's noise mapping."""
    kind, _, rest = text.partition(":")
    if kind == "gaussian":
        try:
            low, high = (float(v) for v in rest.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError("write gaussian noise as gaussian:LOW,HIGH, e.g. gaussian:0,50") from None
        return {"type": "gaussian", "sigma": [low, high]}
    if kind == "real" and rest:
        return {"type": "real", "dataset": rest}
    raise argparse.ArgumentTypeError("noise is gaussian:LOW,HIGH or real:DATASET")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, type=Path, help="BasicSR .pth or a .safetensors state dict")
    parser.add_argument("--name", required=True)
    parser.add_argument("--arch", required=True, help="name in basicsr's ARCH_REGISTRY, e.g. UformerSkipAt")
    parser.add_argument("--config", default="{}", help="JSON constructor kwargs")
    parser.add_argument("--kind", choices=("image", "video"), default="image")
    parser.add_argument("--noise", type=parse_noise, required=True, help="gaussian:LOW,HIGH or real:DATASET")
    parser.add_argument("--noise-map-input", action="store_true")
    parser.add_argument("--training-data")
    parser.add_argument("--baseline", help="name of the baseline (non-SkipAt) model to compare with")
    parser.add_argument("--weights-dir", type=Path, default=None)
    parser.add_argument("--register", action="store_true", help="add the model to the folder's registry.json")
    args = parser.parse_args(argv)

    from restore.api import build_network, default_weights_dir, load_state, load_weights_file

    try:
        config = json.loads(args.config)
        if not args.checkpoint.is_file():
            raise WeightsError(f"checkpoint not found: {args.checkpoint}")
        state = load_weights_file(args.checkpoint)
        folder = args.weights_dir or default_weights_dir()
        probe = WeightsCard(name=args.name, arch=args.arch, config=config, kind=args.kind, noise=args.noise,
                            noise_map_input=args.noise_map_input, weights=f"{args.name}.safetensors", sha256="0" * 64)
        load_state(build_network(probe), state, args.name)  # refuse a checkpoint that does not fit
        card = save_pretrained(state, folder, name=args.name, arch=args.arch, config=config, kind=args.kind,
                               noise=args.noise, noise_map_input=args.noise_map_input,
                               training_data=args.training_data, baseline=args.baseline,
                               register_model=args.register)
    except (WeightsError, json.JSONDecodeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {card.weights_path} and {card.path} (sha256 {card.sha256})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

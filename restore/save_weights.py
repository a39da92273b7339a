"""Publish a training checkpoint as safetensors + weight card (+ registry entry).

    python -m restore.save_weights --checkpoint experiments/x/models/net_g_latest.pth \
        --name uformer_t_skipat_gauss --arch UformerSkipAt --config '{"preset": "T"}' \
        --noise gaussian:0,50 --manifest datasets/sample_corpus/manifest.json \
        --recipe options/weights/uformer_t_skipat_gauss/stage5.yml [--half] [--weights-dir weights] [--register]

A thin CLI over ``restore.api.save_pretrained``, the counterpart of
``Denoiser.from_pretrained``. ``--manifest`` copies the exact training and held-out
file lists of ``restore.scripts.make_sample_corpus`` into the card. ``--half`` stores float16
(half the size) after measuring how far the outputs move on a real photo; the
measurement goes into the card's notes, and an output change above
``--half-tolerance`` 8-bit levels is refused. A cascade video model (config ``cascade: true``)
names the image model it was trained on with ``--image-stage``; its card records that model's
name and weight sha256.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from restore.errors import WeightsError


def manifest_lists(path: Path, kind: str, noise: str = "synthetic Gaussian noise"
                   ) -> tuple[list[str], list[str], str, list[dict[str, str]] | None]:
    """(training files, held-out images, a training_data sentence naming ``noise``, each training
    file with its source, version, license and sha256) from a corpus manifest."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        train = [entry["file"] for entry in manifest["train"]]
        files = [{key: str(entry[key]) for key in ("file", "source", "version", "license", "sha256") if key in entry}
                 for entry in manifest["train"]]
        if not all({"file", "source", "sha256"} <= set(entry) for entry in files):
            files = None  # an older manifest: the file names only
        held_out = [entry["name"] for entry in manifest["eval"]]
        sources = ", ".join(manifest["sources"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise WeightsError(f"{path} is not a sample-corpus manifest: {error}") from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    what = ("clips drawn from" if kind == "video" else "random crops of")
    text = (f"{what} the {len(train)} training photos of the corpus {path.name} (sha256 {digest}...; sources: "
            f"{sources}), {noise}")
    return train, held_out, text, files


def half_precision_check(net, state: dict, kind: str, noise_map_input: bool, image_stage=None) -> tuple[float, float]:
    """(largest change in 8-bit levels, share of 8-bit values that change) when the weights
    are stored as float16, on a noisy (σ = 30) crop of a held-out photo (for a cascade, each
    frame beside the output of ``image_stage``, the image model's Denoiser, for it)."""
    import numpy as np
    import torch

    from restore.api import cast_floating
    from restore.data.photos import load_rgb
    from restore.noise.gaussian import add_gaussian_noise, append_sigma_map

    photo = load_rgb("chelsea")[:128, :128].astype(np.float32) / 255.0
    clean = np.stack([np.roll(photo, 2 * t, axis=1) for t in range(7)]) if kind == "video" else photo
    noisy = torch.from_numpy(add_gaussian_noise(clean, 30, np.random.default_rng(0), clip=False))
    noisy = noisy.movedim(-1, -3)[None]
    if image_stage is not None:  # its own noise map, if it takes one
        level = 30 if image_stage.card.noise_map_input else None
        noisy = torch.cat([noisy, image_stage.denoise_tensor(noisy[0], level)[None]], dim=2)
    if noise_map_input:
        noisy = append_sigma_map(noisy, 30)
    outputs = []
    for weights in (state, cast_floating(state, torch.float16)):
        net.load_state_dict(cast_floating(weights, torch.float32), strict=True)
        net.eval()
        with torch.no_grad():
            outputs.append(torch.round(net(noisy).clamp(0, 1) * 255))
    change = (outputs[0] - outputs[1]).abs()
    return float(change.max()), float((change > 0).float().mean())


def parse_noise(text: str) -> dict[str, Any]:
    """'gaussian:0,50' or 'real:SIDD' (TYPE:PARAMETERS of a registered noise model) -> the card's noise mapping."""
    from restore.noise import noise_model, noise_types

    kind, _, rest = text.partition(":")
    if kind not in noise_types():
        raise argparse.ArgumentTypeError(f"noise is {' or '.join(noise_model(t).usage for t in noise_types())}")
    try:
        return noise_model(kind).from_text(rest)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, type=Path, help="BasicSR .pth or a .safetensors state dict")
    parser.add_argument("--param-key", choices=("params_ema", "params"), default=None,
                        help="which network of a BasicSR checkpoint to publish (default: params_ema when the run "
                             "kept an EMA, else params); training logs validate both")
    parser.add_argument("--name", required=True)
    parser.add_argument("--arch", required=True,
                        help="a registered network (restore.registry.ARCH_REGISTRY), e.g. UformerSkipAt")
    parser.add_argument("--config", default="{}", help="JSON constructor kwargs")
    parser.add_argument("--kind", choices=("image", "video"), default="image")
    parser.add_argument("--noise", type=parse_noise, required=True, help="gaussian:LOW,HIGH or real:DATASET")
    parser.add_argument("--noise-map-input", action="store_true")
    parser.add_argument("--training-data", help="free text; --manifest writes it when not given")
    parser.add_argument("--manifest", type=Path, help="make_sample_corpus manifest: the exact image lists")
    parser.add_argument("--recipe", help="the option file that trained it, e.g. options/x.yml")
    parser.add_argument("--notes")
    parser.add_argument("--half", action="store_true", help="store float16 after measuring the output change")
    parser.add_argument("--half-tolerance", type=float, default=1.0,
                        help="largest output change, in 8-bit levels, that --half accepts (default 1)")
    parser.add_argument("--baseline", help="name of the baseline (non-SkipAt) model to compare with")
    parser.add_argument("--image-stage", help="a cascade's frozen image model: a name in --weights-dir or a .json card")
    parser.add_argument("--weights-dir", type=Path, default=None)
    parser.add_argument("--register", action="store_true", help="add the model to the folder's registry.json")
    args = parser.parse_args(argv)

    from restore.errors import run_cli

    return run_cli(lambda: publish(args))


def publish(args: argparse.Namespace) -> int:
    from restore.api import Denoiser, build_network, default_weights_dir, save_pretrained
    from restore.io.checkpoints import load_state, read_checkpoint, read_state_dict
    from restore.io.weights_card import WeightsCard, find_card, read_card

    try:
        config = json.loads(args.config)
    except json.JSONDecodeError as error:
        raise WeightsError(f"--config is not JSON: {error}") from None
    if not args.checkpoint.is_file():
        raise WeightsError(f"checkpoint not found: {args.checkpoint}")
    state = read_state_dict(args.checkpoint, key=args.param_key)
    if args.param_key is not None and args.param_key not in read_checkpoint(args.checkpoint):
        raise WeightsError(f"{args.checkpoint} holds no {args.param_key!r} network")
    folder = args.weights_dir or default_weights_dir()
    image_stage = None
    if args.image_stage:
        image_stage = (read_card(args.image_stage) if args.image_stage.endswith(".json")
                       else find_card(args.image_stage, folder))
    probe = WeightsCard(name=args.name, arch=args.arch, config=config, kind=args.kind, noise=args.noise,
                        noise_map_input=args.noise_map_input, weights=f"{args.name}.safetensors", sha256="0" * 64,
                        image_stage=None if image_stage is None else {"name": image_stage.name,
                                                                      "sha256": image_stage.sha256})
    net = build_network(probe)
    load_state(net, state, args.name)  # refuse a checkpoint that does not fit
    training_images = held_out = training_files = None
    training_data, notes = args.training_data, args.notes
    if args.manifest:
        from restore.noise import noise_model

        described = noise_model(args.noise["type"]).describe(args.noise)
        noise = "synthetic Gaussian noise" if args.noise["type"] == "gaussian" else f"synthetic {described}"
        training_images, held_out, text, training_files = manifest_lists(args.manifest, args.kind, noise)
        training_data = training_data or text
    dtype = "float32"
    if args.half:
        largest, share = half_precision_check(net, state, args.kind, args.noise_map_input,
                                              None if image_stage is None else
                                              Denoiser.from_pretrained(image_stage.path, device="cpu", tile=None))
        measured = (f"stored as float16: on a noisy (σ=30) crop of skimage's chelsea, outputs change by at most "
                    f"{largest:g} 8-bit level(s), {100 * share:.3f}% of values")
        if largest > args.half_tolerance:
            raise WeightsError(f"{measured}, more than --half-tolerance {args.half_tolerance:g}; keep float32")
        print(measured)
        sentence = f"{measured[0].upper()}{measured[1:]}."
        notes = f"{notes} {sentence}" if notes else sentence
        dtype = "float16"
    try:
        card = save_pretrained(state, folder, name=args.name, arch=args.arch, config=config, kind=args.kind,
                               noise=args.noise, noise_map_input=args.noise_map_input,
                               training_data=training_data, baseline=args.baseline, notes=notes,
                               register_model=args.register, training_images=training_images,
                               held_out_images=held_out, recipe=args.recipe, dtype=dtype, image_stage=image_stage,
                               training_files=training_files)
    except OSError as error:
        raise WeightsError(f"cannot write the weights into {folder}: {error}") from None
    print(f"wrote {card.weights_path} and {card.path} (sha256 {card.sha256})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Start a baseline video UniFormer from a trained UniFormer + SkipAt.

    python -m restore.scripts.baseline_from_skipat --skipat CHECKPOINT --config OPTIONS.yml \
        --output experiments/init/uniformer_gauss.safetensors

The two networks differ only in their decoder global blocks: SkipAt's reuse the encoder's
attention matrix and own only a value projection, the baseline's compute their own attention
from a q/k/v projection. Every shared weight is copied; each baseline decoder block gets the
SkipAt block's value projection and, for query and key, those of the encoder block whose
attention SkipAt reused. From there both networks can train the same further stage.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import yaml


def baseline_state(skipat_state: dict[str, torch.Tensor], net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The baseline ``net``'s state dict built from a SkipAt state dict (same config)."""
    state = {}
    levels = len(net.encoders)
    for key, target in net.state_dict().items():
        if key in skipat_state:
            state[key] = skipat_state[key].to(target.dtype)
            continue
        # decoders.<j>.<k>.attn.qkv.{weight,bias}: rows are [q; k; v]
        _, j, k, _, _, kind = key.split(".")
        encoder = skipat_state[f"encoders.{levels - 1 - int(j)}.{k}.attn.qkv.{kind}"]
        value = skipat_state[f"decoders.{j}.{k}.attn.v.{kind}"]
        channels = value.shape[0]
        state[key] = torch.cat([encoder[:2 * channels], value]).to(target.dtype)
    return state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skipat", type=Path, required=True, help="SkipAt weights (.pth or .safetensors)")
    parser.add_argument("--config", type=Path, required=True, help="the option file (network_g) that built them")
    parser.add_argument("--output", type=Path, required=True, help="the baseline's .safetensors")
    args = parser.parse_args(argv)

    from restore.archs.construct import build_network
    from restore.errors import RestoreError, run_cli
    from restore.io.checkpoints import read_state_dict, save_safetensors

    def run() -> int:
        try:
            network = dict(yaml.safe_load(args.config.read_text())["network_g"])
        except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
            raise RestoreError(f"cannot read network_g from {args.config}: {error}") from None
        if network.pop("type", None) != "UniformerVideoSkipAt":
            raise RestoreError(f"{args.config} does not describe a UniformerVideoSkipAt")
        net = build_network("UniformerVideo", network)
        state = baseline_state(read_state_dict(args.skipat), net)
        net.load_state_dict(state, strict=True)
        save_safetensors(state, args.output)
        print(f"wrote {args.output}: UniformerVideo from {args.skipat}")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())

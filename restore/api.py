"""``Denoiser``: the one place where weights are loaded and networks are run.

The image CLI, the video CLI and the Gradio app all go through this class, so
device choice, half precision, tiling, the noise-map convention and the
checksum check behave the same everywhere::

    from restore.api import Denoiser
    den = Denoiser.from_pretrained("uformer_t_skipat_gauss")  # name in weights/ or a path
    out = den(image_uint8_rgb, sigma=30)                       # numpy in, numpy out

Network conventions (what a card's ``arch`` must accept):
  * image models take (B, C, H, W), video models (B, T, C, H, W), floats in [0, 1];
  * a model whose card says ``noise_map_input: true`` gets one extra channel,
    appended after the colour channels (dim -3), filled with sigma / 255.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch
from torch import nn

import restore  # noqa: F401  (registers archs; must precede basicsr)
from restore.pixels import merge_image, split_image
from restore.tile_defaults import DEFAULT_TILE, DEFAULT_TILE_OVERLAP, DEFAULT_VIDEO_TILE, DEFAULT_VIDEO_TILE_OVERLAP
from restore.weights_card import (
    CARD_FORMAT,
    WEIGHT_SUFFIXES,
    WeightsCard,
    WeightsError,
    find_card,
    read_card,
    sha256_of_file,
    verify_checksum,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
WEIGHTS_DIR_ENV = "RESTORE_WEIGHTS_DIR"
DEVICES = ("auto", "cpu", "cuda")


def default_weights_dir() -> Path:
    """``$RESTORE_WEIGHTS_DIR`` if set, else the repository's ``weights/``."""
    return Path(os.environ.get(WEIGHTS_DIR_ENV) or REPO_ROOT / "weights")


def resolve_device(device: str | torch.device) -> torch.device:
    """'auto' picks CUDA when present; asking for CUDA without one is an error."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for, but no CUDA GPU is available (use --device cpu or auto)")
        return torch.device(device)
    if device == "cpu":
        return torch.device("cpu")
    raise ValueError(f"unknown device {device!r}; choose one of {DEVICES}")


def build_network(card: WeightsCard) -> nn.Module:
    """Instantiate the card's arch from basicsr's registry with the card's config."""
    from basicsr.utils.registry import ARCH_REGISTRY

    if card.arch not in ARCH_REGISTRY and f"{card.arch}_basicsr" not in ARCH_REGISTRY:
        raise WeightsError(f"model {card.name!r}: arch {card.arch!r} is not registered in basicsr's ARCH_REGISTRY")
    arch = ARCH_REGISTRY._obj_map.get(card.arch) or ARCH_REGISTRY._obj_map[f"{card.arch}_basicsr"]
    try:
        return arch(**card.config)
    except TypeError as error:
        raise WeightsError(f"model {card.name!r}: config does not fit arch {card.arch}: {error}") from None


def load_weights_file(path: Path) -> dict[str, torch.Tensor]:
    """Safetensors directly; .pth/.pt only through the weights_only loader (no pickled code)."""
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as error:
            raise WeightsError(f"{path} is not a readable safetensors file: {error}") from None
    from restore.checkpoints import CheckpointError, load_state_dict_file

    try:
        return load_state_dict_file(path)
    except CheckpointError as error:  # weights_only refusal, corrupt archive, no state dict
        raise WeightsError(str(error)) from None


def load_state(net: nn.Module, state: dict[str, torch.Tensor], name: str) -> None:
    missing, unexpected = [], []
    own = net.state_dict()
    missing = [key for key in own if key not in state]
    unexpected = [key for key in state if key not in own]
    wrong = [key for key in own if key in state and own[key].shape != state[key].shape]
    if missing or unexpected or wrong:
        raise WeightsError(
            f"model {name!r}: weights do not match the network "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong[:3]})"
        )
    net.load_state_dict(state, strict=True)


def card_for_path(path: Path, arch: str | None, config: dict[str, Any] | None,
                  noise: dict[str, Any] | None) -> WeightsCard:
    """The card of a path: the .json itself, the card beside a weight file, or one built from arguments."""
    if path.suffix == ".json":
        return read_card(path)
    if path.suffix not in WEIGHT_SUFFIXES:
        raise WeightsError(f"{path}: expected a .json card or a weight file ({', '.join(WEIGHT_SUFFIXES)})")
    beside = path.with_suffix(".json")
    if beside.is_file():
        card = read_card(beside)
        if card.weights != path.name:
            raise WeightsError(f"card {beside} describes {card.weights}, not {path.name}")
        return card
    if arch is None:
        raise WeightsError(
            f"{path} has no card beside it ({beside.name}); pass arch= and config= "
            "(CLI: give the .json card instead) so the network can be built"
        )
    # A bare checkpoint (for example an official Uformer .pth): there is no promised
    # checksum to compare with, so the card records the file's own.
    return WeightsCard(
        name=path.stem, arch=arch, config=dict(config or {}), kind="image",
        noise=noise or {"type": "real", "dataset": "unknown"}, weights=path.name,
        sha256=sha256_of_file(path), format=CARD_FORMAT, path=path,
    )


class Denoiser:
    """A loaded denoising network plus everything needed to run it on user data."""

    def __init__(self, net: nn.Module, card: WeightsCard, device: str | torch.device = "auto",
                 half: bool = False, tile: int | None = DEFAULT_TILE, tile_overlap: int = DEFAULT_TILE_OVERLAP) -> None:
        self.device = resolve_device(device)
        if half and self.device.type != "cuda":
            warnings.warn("half precision is only used on CUDA; running in float32", stacklevel=2)
            half = False
        if tile is not None and tile <= 0:
            raise ValueError(f"tile must be positive (or None for no tiling), got {tile}")
        if tile is not None and not 0 <= tile_overlap < tile:
            raise ValueError(f"tile overlap must be in [0, tile), got {tile_overlap} for tile {tile}")
        self.card = card
        self.half = half
        self.tile = tile
        self.tile_overlap = tile_overlap
        self.dtype = torch.float16 if half else torch.float32
        self.net = net.eval().to(device=self.device, dtype=self.dtype)
        for parameter in self.net.parameters():
            parameter.requires_grad_(False)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *, weights_dir: str | os.PathLike | None = None,
                        device: str = "auto", half: bool = False, tile: int | None = DEFAULT_TILE, tile_overlap: int = DEFAULT_TILE_OVERLAP,
                        arch: str | None = None, config: dict[str, Any] | None = None,
                        noise: dict[str, Any] | None = None) -> "Denoiser":
        """Load by registry name or by path (.json card, .safetensors or .pth), checking the sha256.

        ``arch``/``config``/``noise`` are only needed for a bare checkpoint that has no card
        beside it, such as an official Uformer ``.pth``.
        """
        path = Path(name_or_path)
        if path.suffix in (".json", *WEIGHT_SUFFIXES) or path.exists():
            if not path.is_file():
                raise WeightsError(f"model file not found: {path}")
            card = card_for_path(path, arch, config, noise)
        else:
            card = find_card(str(name_or_path), weights_dir or default_weights_dir())
        weights = verify_checksum(card)
        net = build_network(card)
        load_state(net, load_weights_file(weights), card.name)
        return cls(net, card, device=device, half=half, tile=tile, tile_overlap=tile_overlap)

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def kind(self) -> str:
        return self.card.kind

    def check_sigma(self, sigma: float | None) -> float | None:
        """A σ within the card's range for Gaussian models; real-noise models take none."""
        if sigma is None:
            if self.card.noise_map_input:
                raise ValueError(f"model {self.name!r} needs the noise level: pass sigma (0-255 scale)")
            return None
        if not self.card.is_gaussian:
            dataset = self.card.noise.get("dataset")
            raise ValueError(f"model {self.name!r} removes real ({dataset}) noise and takes no sigma")
        low, high = self.card.sigma_range
        if not low <= float(sigma) <= high:
            raise ValueError(f"sigma {sigma} is outside model {self.name!r}'s range [{low:g}, {high:g}]")
        return float(sigma)

    def network_fn(self, sigma: float | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
        """A tensor -> tensor function for tilers and streaming video: device, dtype and noise map handled.

        Input and output live on the input's device in float32, so a tiler can keep its
        accumulators on CPU while the network runs on the GPU.
        """
        sigma = self.check_sigma(sigma)

        @torch.inference_mode()
        def run(x: torch.Tensor) -> torch.Tensor:
            home = x.device
            x = x.to(device=self.device, dtype=self.dtype)
            if self.card.noise_map_input:
                level = x.new_full((*x.shape[:-3], 1, *x.shape[-2:]), sigma / 255.0)
                x = torch.cat([x, level], dim=-3)
            return self.net(x).clamp_(0, 1).to(device=home, dtype=torch.float32)

        return run

    def denoise_tensor(self, x: torch.Tensor, sigma: float | None = None,
                       progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """Denoise a (B, 3, H, W) float tensor in [0, 1], tiled when larger than the tile.

        ``progress(done, total)`` is called after each tile (once for an untiled image).
        """
        if self.kind != "image":
            raise ValueError(f"model {self.name!r} is a video model; use restore.video_inference with it")
        fn = self.network_fn(sigma)
        if self.tile is None or (x.shape[-2] <= self.tile and x.shape[-1] <= self.tile):
            out = fn(x)
            if progress is not None:
                progress(1, 1)
            return out
        from restore.tiling import tiled_apply

        return tiled_apply(fn, x, tile=self.tile, overlap=self.tile_overlap, progress=progress)

    def __call__(self, image: np.ndarray, sigma: float | None = None,
                 progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Denoise an H×W[×1|3|4] uint8/uint16/float image; same shape and dtype come back.

        Grayscale goes through the colour network as three equal channels and comes
        back as one; an alpha channel is passed through untouched.
        """
        tensor, layout = split_image(image)
        return merge_image(self.denoise_tensor(tensor, sigma, progress), layout)

    def denoise_video(self, frames: Iterable[np.ndarray] | np.ndarray, sigma: float | None = None, *,
                      tile: int = DEFAULT_VIDEO_TILE, tile_overlap: int = DEFAULT_VIDEO_TILE_OVERLAP, clip_len: int = 7,
                      clip_overlap: int = 2) -> Iterator[np.ndarray] | np.ndarray:
        """Denoise (H, W, 3) uint8 RGB frames with a video model, streaming with bounded memory.

        An iterable of frames gives an iterator of frames (nothing is held beyond a few
        clips); a (T, H, W, 3) array gives a (T, H, W, 3) array. Defaults are the paper's
        7×128×128 patches with a 10-pixel overlap.
        """
        if self.kind != "video":
            raise ValueError(f"model {self.name!r} is an image model; call the Denoiser on each image instead")
        from restore.video_inference import denoise_frames

        stream = denoise_frames(self.network_fn(sigma), frames, tile=tile, tile_overlap=tile_overlap,
                                clip_len=clip_len, clip_overlap=clip_overlap)
        if isinstance(frames, np.ndarray):
            return np.stack(list(stream))
        return stream

    def warm_up(self, size: int = 64, frames: int = 7) -> None:
        """One small untimed forward, so lazy kernel set-up does not land in the first timing."""
        sigma = None if self.card.sigma_range is None else sum(self.card.sigma_range) / 2
        shape = (1, 3, size, size) if self.kind == "image" else (1, frames, 3, size, size)
        self.network_fn(sigma)(torch.zeros(shape))

    def __repr__(self) -> str:
        return f"Denoiser({self.name!r}, arch={self.card.arch}, device={self.device}, tile={self.tile})"

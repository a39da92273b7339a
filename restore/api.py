"""``Denoiser``: the one place where weights are loaded and networks are run.

The image CLI, the video CLI and the Gradio app all go through this class, so
device and precision choice, tiling, the noise level (given or estimated), the
noise-map convention and the checksum check behave the same everywhere::

    from restore.api import Denoiser
    den = Denoiser.from_pretrained("uformer_t_skipat_gauss")  # name in weights/ or a path
    out = den(image_uint8_rgb)                                 # numpy in, numpy out
    video = Denoiser.from_pretrained("uniformer_skipat_gauss")
    clean = video.denoise_video(frames)                        # sigma estimated once ("auto")

A cascade video model's card names the image model it refines (``image_stage``, by name and
sha256); loading it loads both, and the video path runs the image model once per frame.

Network conventions (what a card's ``arch`` must accept):
  * image models take (B, C, H, W), video models (B, T, C, H, W), floats in [0, 1];
  * a model whose card says ``noise_map_input: true`` gets its noise model's level map
    appended after the colour channels (dim -3): for Gaussian noise one channel of sigma / 255
    (``restore.noise``).
"""
from __future__ import annotations

import itertools
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch
from torch import nn

from restore.errors import RestoreError, WeightsError
from restore.inference.defaults import (
    DEFAULT_CLIP_LEN,
    DEFAULT_CLIP_OVERLAP,
    DEFAULT_TILE,
    DEFAULT_TILE_OVERLAP,
    DEFAULT_VIDEO_TILE,
    DEFAULT_VIDEO_TILE_OVERLAP,
)
from restore.inference.pixels import check_image_array, merge_image, split_image, to_unit_float
from restore.inference.precision import (precision_name, resolve_device, resolve_precision, uses_autocast,
                                         weights_dtype)
from restore.inference.networks import build_network, load_network
from restore.io.checkpoints import save_safetensors
from restore.io.weights_card import (
    CARD_FORMAT,
    WEIGHT_SUFFIXES,
    WeightsCard,
    find_card,
    image_stage_card,
    list_cards,
    read_card,
    register,
    sha256_of_file,
    write_card,
)

# An installed package carries the published weights as restore/weights; a checkout has them
# in its weights/ folder (pyproject.toml maps the one onto the other).
INSTALLED_WEIGHTS = Path(__file__).resolve().parent / "weights"
CHECKOUT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
WEIGHTS_DIR_ENV = "RESTORE_WEIGHTS_DIR"
SIGMA_FRAMES = 8  # frames a video's noise level is estimated from
# JPEG turns sensor noise blocky and colourless: not the white Gaussian noise these models learnt.
JPEG_NOTE = "noise in JPEG photos is not Gaussian, so results may stay noisy"


def camera_model_beside(card: WeightsCard) -> str | None:
    """The image model for camera photos registered in the same folder as ``card`` (a SkipAt one
    first), or None."""
    if card.path is None:
        return None
    try:
        cards = [other for other in list_cards(card.path.parent)
                 if other.kind == "image" and other.noise_model.camera_photos]
    except WeightsError:
        return None
    return ([other.name for other in cards if other.baseline] or [other.name for other in cards] or [None])[0]


def default_weights_dir() -> Path:
    """``$RESTORE_WEIGHTS_DIR`` if set, else the weights installed with the package, else the
    checkout's ``weights/``."""
    if os.environ.get(WEIGHTS_DIR_ENV):
        return Path(os.environ[WEIGHTS_DIR_ENV])
    return INSTALLED_WEIGHTS if INSTALLED_WEIGHTS.is_dir() else CHECKOUT_WEIGHTS


def card_for_path(path: Path, arch: str | None, config: dict[str, Any] | None,
                  noise: dict[str, Any] | None) -> WeightsCard:
    """The card of a path: the .json itself, the card beside a weight file, or one built from arguments."""
    if path.suffix == ".json":
        return read_card(path)
    if path.suffix == ".onnx":
        from restore.inference.onnx_model import read_metadata

        fields, _ = read_metadata(path)
        return WeightsCard(**{**fields, "weights": path.name, "sha256": sha256_of_file(path), "path": path})
    if path.suffix not in WEIGHT_SUFFIXES:
        raise WeightsError(f"{path}: expected a .json card, a weight file ({', '.join(WEIGHT_SUFFIXES)}) "
                           "or an exported .onnx file")
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


def save_pretrained(net: nn.Module | dict[str, torch.Tensor], folder: str | os.PathLike, *, name: str, arch: str,
                    config: dict[str, Any], kind: str = "image", noise: dict[str, Any],
                    noise_map_input: bool = False, training_data: str | None = None,
                    psnr: dict[str, Any] | None = None, baseline: str | None = None,
                    notes: str | None = None, register_model: bool = True,
                    training_images: list[str] | None = None, held_out_images: list[str] | None = None,
                    recipe: str | None = None, dtype: str = "float32",
                    image_stage: WeightsCard | None = None,
                    training_files: list[dict[str, str]] | None = None) -> WeightsCard:
    """Write ``<name>.safetensors`` and ``<name>.json`` into ``folder``; return the card.
    ``dtype`` float16/bfloat16 casts floating tensors before writing; ``image_stage`` is the
    card of the image model a cascade video model was trained on."""
    folder = Path(folder)
    state = net.state_dict() if isinstance(net, nn.Module) else net
    state = cast_floating(state, getattr(torch, dtype))
    weights = folder / f"{name}.safetensors"
    save_safetensors(state, weights)
    card = WeightsCard(name=name, arch=arch, config=config, kind=kind, noise=noise,
                       noise_map_input=noise_map_input, weights=weights.name, sha256=sha256_of_file(weights),
                       training_data=training_data, psnr=psnr, baseline=baseline, notes=notes,
                       training_images=training_images, held_out_images=held_out_images, recipe=recipe,
                       dtype=dtype, image_stage=None if image_stage is None else
                       {"name": image_stage.name, "sha256": image_stage.sha256}, training_files=training_files)
    write_card(card, folder)
    if register_model:
        register(card, folder)
    return card


def cast_floating(state: dict[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    return {key: value.to(dtype) if value.is_floating_point() else value for key, value in state.items()}


class Denoiser:
    """A loaded denoising network plus everything needed to run it on user data; for a cascade
    video model also its image stage, a Denoiser of its own."""

    def __init__(self, net: nn.Module, card: WeightsCard, device: str | torch.device = "auto",
                 precision: str = "fp32", tile: int | None = DEFAULT_TILE,
                 tile_overlap: int = DEFAULT_TILE_OVERLAP, image_stage: "Denoiser | None" = None) -> None:
        if card.is_cascade != (image_stage is not None):
            raise WeightsError(f"model {card.name!r}: a cascade needs its image stage, and only a cascade takes one")
        if image_stage is not None and image_stage.card.sha256 != card.image_stage["sha256"]:
            raise WeightsError(f"model {card.name!r} refines the image model of sha256 {card.image_stage['sha256']}, "
                               f"not {image_stage.name!r} ({image_stage.card.sha256})")
        self.image_stage = image_stage
        self.device = resolve_device(device)
        if tile is not None and tile <= 0:
            raise RestoreError(f"tile must be positive (or None for no tiling), got {tile}")
        if tile is not None and not 0 <= tile_overlap < tile:
            raise RestoreError(f"tile overlap must be in [0, tile), got {tile_overlap} for tile {tile}")
        self.card = card
        self.tile = tile
        self.tile_overlap = tile_overlap
        self.dtype = resolve_precision(precision, self.device)
        self.autocast = uses_autocast(self.dtype, self.device)
        self.net = net.eval().to(device=self.device, dtype=weights_dtype(self.dtype, self.device))
        for parameter in self.net.parameters():
            parameter.requires_grad_(False)

    @property
    def workers(self) -> int:
        """Tiles run at once: on a CPU one per torch thread, each tile on one thread
        (``restore.inference.tiling``); elsewhere one at a time."""
        if self.device.type != "cpu" or hasattr(self.net, "session"):  # onnxruntime keeps its own threads
            return 1
        return torch.get_num_threads()

    def fit_tile(self, tile: int) -> int:
        """The tile to use: ``tile``, but no larger than an exported network's fixed input."""
        return min(tile, getattr(self.net, "tile", tile))

    @property
    def precision(self) -> str:
        """fp32, bf16 or fp16: what the network runs in."""
        return precision_name(self.dtype)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *, weights_dir: str | os.PathLike | None = None,
                        device: str = "auto", precision: str = "fp32", tile: int | None = DEFAULT_TILE,
                        tile_overlap: int = DEFAULT_TILE_OVERLAP,
                        arch: str | None = None, config: dict[str, Any] | None = None,
                        noise: dict[str, Any] | None = None) -> "Denoiser":
        """Load by registry name or by path (.json card, .safetensors or .pth), checking the sha256.

        ``arch``/``config``/``noise`` are only needed for a bare checkpoint that has no card
        beside it, such as an official Uformer ``.pth``. ``precision`` is auto, fp32, bf16 or
        fp16 (see ``restore.inference.precision``); ``device`` is auto, cpu, cuda or mps.
        A cascade video model's image stage is loaded too, from the card of that name beside
        the model's own card (or its .onnx file), else in ``weights_dir``, with the same device,
        precision and image tiling; a card whose weights differ from the ones named is refused.
        """
        path = Path(name_or_path)
        if path.suffix in (".json", ".onnx", *WEIGHT_SUFFIXES) or path.exists():
            if not path.is_file():
                raise WeightsError(f"model file not found: {path}")
            card = card_for_path(path, arch, config, noise)
        else:
            card = find_card(str(name_or_path), weights_dir or default_weights_dir())
        if path.suffix == ".onnx":
            from restore.inference.onnx_model import OnnxNetwork, read_metadata

            if resolve_device(device).type != "cpu" or precision not in ("auto", "fp32"):
                raise RestoreError("an .onnx model runs on the CPU in fp32 here (onnxruntime's CPU provider)")
            net = OnnxNetwork(path, read_metadata(path)[1])
            stage = cls._image_stage(card, weights_dir, "cpu", "fp32", tile, tile_overlap)
            return cls(net, card, device="cpu", precision="fp32", tile=min(tile or net.tile, net.tile),
                       tile_overlap=min(tile_overlap, net.tile // 4), image_stage=stage)
        net = load_network(card)
        stage = cls._image_stage(card, weights_dir, device, precision, tile, tile_overlap)
        return cls(net, card, device=device, precision=precision, tile=tile, tile_overlap=tile_overlap,
                   image_stage=stage)

    @classmethod
    def _image_stage(cls, card: WeightsCard, weights_dir: str | os.PathLike | None, device: str, precision: str,
                     tile: int | None, tile_overlap: int) -> "Denoiser | None":
        """The image model a cascade refines, checked against the sha256 its card names; None otherwise."""
        if not card.is_cascade:
            return None
        folders = [card.weights_path.parent, Path(weights_dir or default_weights_dir())]
        stage = image_stage_card(card, folders)
        return cls.from_pretrained(stage.path, device=device, precision=precision, tile=tile,
                                   tile_overlap=tile_overlap)

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def kind(self) -> str:
        return self.card.kind

    @cached_property
    def camera_model(self) -> str | None:
        """The camera-noise model registered beside this one (its folder's cards read once)."""
        return camera_model_beside(self.card)

    def input_note(self, fmt: str) -> str | None:
        """One line to show with the result of an input of format ``fmt`` ('jpeg', 'png', ...)
        that this model is not made for, or None."""
        if fmt != "jpeg" or not self.card.is_gaussian:
            return None
        camera = self.camera_model
        return JPEG_NOTE + (f"; {camera}, made for photos from a camera or phone, suits them better" if camera else "")

    def check_sigma(self, sigma: float | None) -> float | None:
        """A σ within the card's range for noise with a level; other models (real noise) take none."""
        if sigma is None:
            if self.card.noise_map_input:
                raise RestoreError(f"model {self.name!r} needs the noise level: pass sigma (0-255 scale)")
            return None
        noise = self.card.noise_model
        if not noise.takes_sigma:
            raise RestoreError(f"model {self.name!r} removes {noise.describe(self.card.noise)} and takes no sigma")
        low, high = self.card.sigma_range
        if not low <= float(sigma) <= high:
            raise RestoreError(f"sigma {sigma} is outside model {self.name!r}'s range [{low:g}, {high:g}]")
        return float(sigma)

    def choose_sigma(self, sample: np.ndarray | Iterable[np.ndarray], sigma: float | str | None = "auto",
                     data_range: float | None = None) -> tuple[float | None, str]:
        """(the σ to pass to the network, a short note of where it came from) for an image
        (H, W[, C]) or a sequence of video frames.

        ``sigma="auto"`` or None estimates σ from ``sample``; a model that takes a noise map
        gets the estimate (clamped into its trained range), a blind model gets none and the
        estimate is only reported. A number is checked against the card and passed on.
        ``data_range`` is as for :meth:`__call__`. An image too small to estimate σ from
        needs a number, unless the model is blind.
        """
        if sigma not in (None, "auto"):
            value = self.check_sigma(float(sigma))
            return value, f"sigma {value:g} given"
        if not self.card.noise_model.takes_sigma:
            return None, f"model for {self.card.noise_model.describe(self.card.noise)}"
        from restore.inference.noise_level import TooSmallToEstimate, estimate_sigma, estimate_sigma_frames

        try:
            if isinstance(sample, np.ndarray) and self.kind == "image":
                top = check_image_array(sample, data_range)
                estimate = estimate_sigma(sample if data_range is None else to_unit_float(sample, top))
            else:
                estimate = estimate_sigma_frames(sample)
        except TooSmallToEstimate as error:
            if not self.card.noise_map_input:
                return None, "sigma not estimated (image too small); blind model"
            raise RestoreError(f"{error}; give the noise level (--sigma, or sigma= in the API)") from None
        if not self.card.noise_map_input:
            return None, f"sigma ~{estimate:.1f} estimated; blind model"
        low, high = self.card.sigma_range
        clamped = min(max(estimate, low), high)
        note = f"sigma {clamped:.1f} estimated" + (f" (clamped from {estimate:.1f})" if clamped != estimate else "")
        return clamped, note

    def network_fn(self, sigma: float | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
        """A tensor -> tensor function for tilers and streaming video: device, dtype and noise map handled.

        Input and output live on the input's device in float32, so a tiler can keep its
        accumulators on CPU while the network runs on the GPU.
        """
        sigma = self.check_sigma(sigma)
        # Under autocast the input stays float32, so the residual connection that adds it back
        # keeps full precision (bf16 rounds [0, 1] to about one 8-bit level near 1).
        input_dtype = weights_dtype(self.dtype, self.device)

        @torch.inference_mode()
        def run(x: torch.Tensor) -> torch.Tensor:
            home = x.device
            x = x.to(device=self.device, dtype=input_dtype)
            if self.card.noise_map_input:
                x = self.card.noise_model.with_noise_map(x, sigma)
            with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.autocast):
                out = self.net(x)
            return out.float().clamp_(0, 1).to(device=home)

        return run

    def denoise_tensor(self, x: torch.Tensor, sigma: float | None = None,
                       progress: Callable[[int, int], None] | None = None, ensemble: bool = False) -> torch.Tensor:
        """Denoise a (B, 3, H, W) float tensor in [0, 1], tiled when larger than the tile.

        ``progress(done, total)`` is called after each tile (once for an untiled image).
        ``ensemble``: average over the 8 flips and quarter turns of each tile (8x the time).
        """
        if self.kind != "image":
            raise RestoreError(f"model {self.name!r} is a video model; use restore.inference.video_stream with it")
        fn = self.network_fn(sigma)
        if ensemble:
            from restore.inference.ensemble import self_ensemble

            fn = self_ensemble(fn)
        if self.tile is None or (x.shape[-2] <= self.tile and x.shape[-1] <= self.tile):
            out = fn(x)
            if progress is not None:
                progress(1, 1)
            return out
        from restore.inference.tiling import tiled_apply

        return tiled_apply(fn, x, tile=self.tile, overlap=self.tile_overlap, progress=progress, workers=self.workers)

    def __call__(self, image: np.ndarray, sigma: float | str | None = "auto",
                 progress: Callable[[int, int], None] | None = None, ensemble: bool = False, *,
                 data_range: float | None = None) -> np.ndarray:
        """Denoise an H×W[×1|2|3|4] uint8/uint16/float image; same shape and dtype come back.

        Values are read as scikit-image reads them: uint8 0-255, uint16 0-65535, floats 0-1.
        ``data_range`` names another white level (255.0 for floats on the 0-255 scale, 4095 for
        12-bit data in uint16); values outside [0, white] (beyond a 1e-3 rounding slack for
        floats), NaN and infinity are refused with a RestoreError rather than clipped.

        ``sigma`` is a number (0-255 scale) or "auto"/None: estimated from the image for
        models that take a noise map, not needed by blind ones. Grayscale goes through the
        colour network as three equal channels and comes back as one; an alpha channel (the
        last of 2 or 4) is passed through untouched. ``ensemble`` averages the 8 flips and
        quarter turns (8x the time, a little cleaner).
        """
        tensor, layout = split_image(image, data_range)
        if sigma in (None, "auto") and not self.card.noise_map_input:
            sigma = None
        else:
            sigma = self.choose_sigma(image, sigma, data_range)[0]
        return merge_image(self.denoise_tensor(tensor, sigma, progress, ensemble=ensemble), layout)

    def denoise_video(self, frames: Iterable[np.ndarray] | np.ndarray, sigma: float | str | None = "auto", *,
                      tile: int = DEFAULT_VIDEO_TILE, tile_overlap: int = DEFAULT_VIDEO_TILE_OVERLAP,
                      clip_len: int = DEFAULT_CLIP_LEN, clip_overlap: int = DEFAULT_CLIP_OVERLAP
                      ) -> Iterator[np.ndarray] | np.ndarray:
        """Denoise (H, W, 3) uint8 RGB frames with a video model, streaming with bounded memory.

        An iterable of frames gives an iterator of frames (nothing is held beyond a few
        clips); a (T, H, W, 3) array gives a (T, H, W, 3) array. ``sigma`` "auto"/None is
        estimated once from the first frames (:meth:`peek_sigma`). Defaults are the paper's
        7×128×128 patches with a 10-pixel overlap.
        """
        if self.kind != "video":
            raise RestoreError(f"model {self.name!r} is an image model; call the Denoiser on each image instead")
        if isinstance(frames, np.ndarray):
            sigma = self.choose_sigma(frames[:SIGMA_FRAMES], sigma)[0]
        else:
            frames, sigma, _ = self.peek_sigma(frames, sigma)

        stream = self.stream_video(frames, sigma, tile=tile, tile_overlap=tile_overlap, clip_len=clip_len,
                                   clip_overlap=clip_overlap)
        if isinstance(frames, np.ndarray):
            return np.stack(list(stream))
        return stream

    def stream_video(self, frames: Iterable[np.ndarray], sigma: float | None, *, tile: int = DEFAULT_VIDEO_TILE,
                     tile_overlap: int = DEFAULT_VIDEO_TILE_OVERLAP, clip_len: int = DEFAULT_CLIP_LEN,
                     clip_overlap: int = DEFAULT_CLIP_OVERLAP, tile_batch: int = 1) -> Iterator[np.ndarray]:
        """The video path once σ is chosen (:meth:`peek_sigma`): clips of 3-D tiles through
        ``restore.inference.video_stream``; a cascade runs its image stage once per frame first."""
        if self.kind != "video":
            raise RestoreError(f"model {self.name!r} is an image model; call the Denoiser on each image instead")
        from restore.inference.video_stream import denoise_frames

        tile = self.fit_tile(tile)
        return denoise_frames(self.network_fn(sigma), frames, tile=tile, tile_overlap=min(tile_overlap, tile - 1),
                              clip_len=clip_len, clip_overlap=clip_overlap, tile_batch=tile_batch,
                              workers=self.workers, image_stage=self.image_stage_fn(sigma))

    def image_stage_fn(self, sigma: float | None) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """A cascade's image stage on one whole (3, H, W) frame, tiled as the image model tiles
        images; None for a video model without one."""
        if self.image_stage is None:
            return None
        stage = self.image_stage
        level = sigma if stage.card.noise_map_input else None
        return lambda frame: stage.denoise_tensor(frame[None], level)[0]

    def peek_sigma(self, frames: Iterable[np.ndarray], sigma: float | str | None = "auto"
                   ) -> tuple[Iterator[np.ndarray], float | None, str]:
        """(the same frames, σ for the network, where σ came from) for a stream: "auto"/None
        reads the first frames to estimate σ and puts them back in front of the stream."""
        frames = iter(frames)
        if sigma not in (None, "auto") or not self.card.noise_model.takes_sigma:
            return frames, *self.choose_sigma([], sigma)
        head = list(itertools.islice(frames, SIGMA_FRAMES))
        if not head:
            raise RestoreError("the video has no frames")
        value, note = self.choose_sigma(head, sigma)
        return itertools.chain(head, frames), value, f"{note} from the first {len(head)} frames"

    def warm_up(self, size: int = 64, frames: int = 7) -> None:
        """One small untimed forward, so lazy kernel set-up does not land in the first timing."""
        sigma = None if self.card.sigma_range is None else sum(self.card.sigma_range) / 2
        channels = 6 if self.image_stage is not None else 3  # a cascade: (noisy, image output)
        shape = (1, channels, size, size) if self.kind == "image" else (1, frames, channels, size, size)
        self.network_fn(sigma)(torch.zeros(shape))
        if self.image_stage is not None:
            self.image_stage.warm_up(size)

    def __repr__(self) -> str:
        return f"Denoiser({self.name!r}, arch={self.card.arch}, device={self.device}, tile={self.tile})"

"""Weight cards: the small JSON file that travels beside every weight file.

A weight file alone cannot be used: one needs the network's arch and config,
what noise it was trained on and whether it takes a noise-level map. The card
says all of that, plus the file's sha256 so that a truncated or swapped file
is refused instead of silently producing garbage. A ``registry.json`` in the
weights folder lists the cards that are available by name.

Card layout (``<name>.json`` next to ``<name>.safetensors``)::

    {
      "format": "restore-weights-card/1",
      "name": "uformer_t_skipat_gauss",
      "arch": "UformerSkipAt",            # a network in restore.registry.ARCH_REGISTRY
      "config": {"preset": "T"},          # kwargs for the arch constructor
      "kind": "image",                    # "image" (B,C,H,W) or "video" (B,T,C,H,W)
      "noise": {"type": "gaussian", "sigma": [0, 50]},   # a restore.noise model; or {"type": "real", "dataset": "SIDD"}
      "noise_map_input": false,           # true: the noise model's level map is appended to the input
      "training_data": "DIV2K+Flickr2K, random 128x128 crops",
      "psnr": null,                       # or {"dataset": "CBSD68", "sigma": 25, "value": 31.2}
      "weights": "uformer_t_skipat_gauss.safetensors",
      "sha256": "…64 hex digits…",
      "baseline": "uformer_t_gauss",      # optional: the non-SkipAt model to compare with
      "training_images": ["astronaut", …], # optional: the exact images trained on
      "training_files": [{"file": …, "source": "debian:…", "sha256": …}, …],  # optional: with their origin
      "held_out_images": ["chelsea", …],   # optional: images kept out of training for evaluation
      "recipe": "options/….yml",          # optional: the option file that trained it
      "dtype": "float16",                 # how the file stores the weights (loaded as float32)
      "image_stage": {"name": "uformer_t_skipat_gauss", "sha256": "…"}   # a cascade video model only
    }

A cascade video model (config ``cascade: true``) refines the output of a frozen image model,
so it is only right with the very weights it was trained on: ``image_stage`` names that
model and the sha256 of its weight file, and :func:`image_stage_card` refuses any other.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from restore.errors import ChecksumError, ModelNotFoundError, WeightsError
from restore.io.formats import WEIGHT_SUFFIXES
from restore.io.input_files import read_limited
from restore.io.temp_files import replace_atomically
from restore.noise import NoiseModel, noise_model, noise_types

CARD_FORMAT = "restore-weights-card/1"
REGISTRY_FILE = "registry.json"
KINDS = ("image", "video")
STORED_DTYPES = ("float32", "float16", "bfloat16")
MAX_CARD_BYTES = 1 << 20  # a card is a few kB; a larger one is not a card


_OPTIONAL_TEXT = (str, type(None))
# The type of every field; the arch, preset, keywords and size are checked when the network is
# built (restore.archs.construct), before any memory is allocated.
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "arch": (str,), "config": (dict,), "kind": (str,), "noise": (dict,), "weights": (str,),
    "sha256": (str,), "noise_map_input": (bool,), "training_data": _OPTIONAL_TEXT, "psnr": (dict, type(None)),
    "baseline": _OPTIONAL_TEXT, "notes": _OPTIONAL_TEXT, "training_images": (list, type(None)),
    "held_out_images": (list, type(None)), "recipe": _OPTIONAL_TEXT, "dtype": (str,), "format": (str,),
    "image_stage": (dict, type(None)), "training_files": (list, type(None)),
}
TRAINING_FILE_KEYS = ("file", "source", "sha256")  # required; "version" and "license" where known
IMAGE_STAGE_KEYS = ("name", "sha256")


def _is_sha256(text: object) -> bool:
    return isinstance(text, str) and len(text) == 64 and all(c in "0123456789abcdef" for c in text)


@dataclass
class WeightsCard:
    """Everything needed to rebuild and trust one set of weights."""

    name: str
    arch: str
    config: dict[str, Any]
    kind: str
    noise: dict[str, Any]
    weights: str
    sha256: str
    noise_map_input: bool = False
    training_data: str | None = None
    psnr: dict[str, Any] | None = None
    baseline: str | None = None
    notes: str | None = None
    training_images: list[str] | None = None
    held_out_images: list[str] | None = None
    recipe: str | None = None
    dtype: str = "float32"
    format: str = CARD_FORMAT
    image_stage: dict[str, str] | None = None
    training_files: list[dict[str, str]] | None = None
    path: Path | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        where = f"weight card {self.path or self.name!s}"
        for field_name, types in FIELD_TYPES.items():
            value = getattr(self, field_name)
            if not isinstance(value, types) or (bool in types) != isinstance(value, bool):
                expected = " or ".join("null" if t is type(None) else t.__name__ for t in types)
                raise WeightsError(f"{where}: {field_name} must be {expected}, got {type(value).__name__}")
        if not self.name or not self.arch:
            raise WeightsError(f"{where}: name and arch must not be empty")
        if self.format != CARD_FORMAT:
            raise WeightsError(f"{where}: format {self.format!r} is not {CARD_FORMAT!r}")
        if self.kind not in KINDS:
            raise WeightsError(f"{where}: kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.noise.get("type"), str) or self.noise["type"] not in noise_types():
            raise WeightsError(f"{where}: noise.type must be one of {tuple(noise_types())}, "
                               f"got {self.noise.get('type')!r}")
        problem = self.noise_model.check(self.noise)
        if problem:
            raise WeightsError(f"{where}: {problem}")
        if self.noise_map_input and not self.noise_model.takes_sigma:
            raise WeightsError(f"{where}: a noise-map input needs noise with a level, not {self.noise['type']} noise")
        if not all(isinstance(key, str) for key in self.config):
            raise WeightsError(f"{where}: config must map constructor keyword names to values")
        if not _is_sha256(self.sha256):
            raise WeightsError(f"{where}: sha256 must be 64 lower-case hex digits")
        if bool(self.config.get("cascade")) != (self.image_stage is not None):
            raise WeightsError(f"{where}: a cascade (config cascade: true) names its image_stage, and only a "
                               "cascade does")
        if self.image_stage is not None and (
                self.kind != "video" or sorted(self.image_stage) != sorted(IMAGE_STAGE_KEYS)
                or not isinstance(self.image_stage["name"], str) or not _is_sha256(self.image_stage["sha256"])):
            raise WeightsError(f"{where}: image_stage must be {{\"name\": the image model, \"sha256\": its weight "
                               "file's 64 hex digits}, on a video model")
        for field_name in ("training_images", "held_out_images"):
            names = getattr(self, field_name)
            if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
                raise WeightsError(f"{where}: {field_name} must be a list of image names")
        if self.training_files is not None and not all(
                isinstance(entry, dict) and all(isinstance(entry.get(key), str) for key in TRAINING_FILE_KEYS)
                and _is_sha256(entry["sha256"]) and all(isinstance(value, str) for value in entry.values())
                for entry in self.training_files):
            raise WeightsError(f"{where}: training_files must be a list of {{\"file\", \"source\", \"sha256\"}} "
                               "mappings of text")
        if self.dtype not in STORED_DTYPES:
            raise WeightsError(f"{where}: dtype must be one of {STORED_DTYPES}, got {self.dtype!r}")
        if Path(self.weights).name != self.weights or not self.weights.endswith((*WEIGHT_SUFFIXES, ".onnx")):
            raise WeightsError(f"{where}: weights must be a bare file name ending in one of "
                               f"{(*WEIGHT_SUFFIXES, '.onnx')}")

    @property
    def is_cascade(self) -> bool:
        """A video model that refines a frozen image model's output per frame."""
        return self.image_stage is not None

    @property
    def noise_model(self) -> NoiseModel:
        """What the noise this model removes is: whether it takes σ, its range, its noise map."""
        return noise_model(self.noise["type"])

    @property
    def is_gaussian(self) -> bool:
        """Gaussian noise, which the benchmarks and the demo synthesise to score a model."""
        return self.noise["type"] == "gaussian"

    @property
    def sigma_range(self) -> tuple[float, float] | None:
        """The σ range (0–255 scale) the model was trained for; None for noise without a level."""
        return self.noise_model.sigma_range(self.noise)

    @property
    def weights_path(self) -> Path:
        if self.path is None:
            raise WeightsError(f"weight card {self.name!r} was not read from a file, so its weights cannot be located")
        return self.path.parent / self.weights

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("path")
        for optional in ("image_stage", "training_files"):  # cards without them stay as they were
            if data[optional] is None:
                data.pop(optional)
        return data


def sha256_of_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hash in chunks: weight files can be hundreds of MB."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: Path, what: str) -> Any:
    """The JSON in ``path``, read as the small text file a card or registry is: at most
    MAX_CARD_BYTES, from a regular file, nested no deeper than Python can parse."""
    raw = read_limited(path, MAX_CARD_BYTES, f"a {what}", WeightsError)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WeightsError(f"{what} {path} is not readable JSON: {error}") from None
    except RecursionError:
        raise WeightsError(f"{what} {path} is nested too deeply to be a card") from None


def read_card(path: str | os.PathLike) -> WeightsCard:
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"weight card not found: {path}")
    data = read_json(path, "weight card")
    if not isinstance(data, dict):
        raise WeightsError(f"weight card {path} must hold a JSON object")
    known = set(WeightsCard.__dataclass_fields__) - {"path"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise WeightsError(f"weight card {path} has unknown fields {unknown}")
    try:
        return WeightsCard(**data, path=path)
    except TypeError as error:  # a required field is missing
        raise WeightsError(f"weight card {path}: {error}") from None


def write_json_atomic(path: Path, data: Any) -> None:
    """Write beside the target then rename, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    replace_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_card(card: WeightsCard, folder: str | os.PathLike) -> Path:
    path = Path(folder) / f"{card.name}.json"
    write_json_atomic(path, card.to_dict())
    card.path = path
    return path


def verify_checksum(card: WeightsCard) -> Path:
    """Return the weight file's path, or refuse it if it is missing or differs."""
    weights = card.weights_path
    if not weights.is_file():
        raise WeightsError(f"model {card.name!r}: weight file {weights} is missing")
    actual = sha256_of_file(weights)
    if actual != card.sha256:
        raise ChecksumError(
            f"model {card.name!r}: {weights} has sha256 {actual}, but its card expects {card.sha256}. "
            "The file is corrupt, truncated or not the one the card describes; download it again."
        )
    return weights


def image_stage_card(card: WeightsCard, folders: list[Path]) -> WeightsCard:
    """The card of a cascade's image model: ``<name>.json`` in the first of ``folders`` that has
    it, refused unless it describes the very weight file the cascade was trained on."""
    name, expected = card.image_stage["name"], card.image_stage["sha256"]
    found = next((folder / f"{name}.json" for folder in folders if (folder / f"{name}.json").is_file()), None)
    if found is None:
        raise WeightsError(f"model {card.name!r} refines the image model {name!r}, whose card {name}.json is in "
                           f"none of {', '.join(map(str, dict.fromkeys(folders)))}")
    stage = read_card(found)
    if stage.kind != "image":
        raise WeightsError(f"model {card.name!r} refines {name!r}, but {found} describes a {stage.kind} model")
    if stage.sha256 != expected:
        raise ChecksumError(f"model {card.name!r} was trained on the image model {name!r} with sha256 {expected}, "
                            f"but {found} describes weights with sha256 {stage.sha256}; "
                            "use the image model it was trained with")
    return stage


def read_registry(folder: str | os.PathLike) -> list[str]:
    """Card file names listed in ``folder/registry.json``; [] when there is none."""
    path = Path(folder) / REGISTRY_FILE
    if not path.exists():
        return []
    data = read_json(path, "model registry")
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise WeightsError(f'model registry {path} must look like {{"models": ["name.json", ...]}}')
    return models


def list_cards(folder: str | os.PathLike) -> list[WeightsCard]:
    """The registered cards of a weights folder, in registry order."""
    return [read_card(Path(folder) / entry) for entry in read_registry(folder)]


def register(card: WeightsCard, folder: str | os.PathLike) -> None:
    """Add a card to the folder's registry (once)."""
    folder = Path(folder)
    entries = read_registry(folder)
    entry = f"{card.name}.json"
    if entry not in entries:
        entries.append(entry)
    write_json_atomic(folder / REGISTRY_FILE, {"models": entries})


def find_card(name: str, folder: str | os.PathLike) -> WeightsCard:
    """Look a model name up in the registry of ``folder``."""
    for card in list_cards(folder):
        if card.name == name:
            return card
    available = [card.name for card in list_cards(folder)]
    hint = f"available: {', '.join(available)}" if available else f"no models are registered in {folder} yet"
    raise ModelNotFoundError(f"unknown model {name!r} ({hint}); or pass the path of a .json card or weight file")

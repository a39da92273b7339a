"""Shared edge of ``restore/train.py`` and ``restore/test.py``.

Checks the option file before BasicSR reads it (required keys, data folders, the
network's keywords and size, the schedule, the loaders), installs our registrations and
the basicsr fixes, and runs the pipeline under the shared guard of ``restore.errors``:
bad input is one ``error:`` line and exit code 2, and no experiment folder is left.

``--force_yml`` values are read here as data (:func:`override_value`) and applied here;
BasicSR, which would ``eval`` and ``exec`` them, reads the result from a copy of the
option file and never sees the flag.
"""
import argparse
import ast
import contextlib
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

from restore.errors import OptionsError
from restore.io.input_files import read_limited

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_root() -> Path:
    """Where runs live and relative paths start: the checkout (beside ``pyproject.toml``) when the
    code runs from one, else the current folder (an installed package lives in site-packages)."""
    return REPO_ROOT if (REPO_ROOT / "pyproject.toml").is_file() else Path.cwd()

MAX_OPTION_BYTES = 1 << 20  # the largest option file in options/ is under 10 kB

TRAIN_KEYS = {"name": None, "model_type": None, "num_gpu": None, "network_g": None, "path": None,
              "datasets": ("train",), "train": ("optim_g", "scheduler", "total_iter"),
              "logger": ("print_freq", "save_checkpoint_freq")}
TEST_KEYS = {"name": None, "model_type": None, "num_gpu": None, "network_g": None, "datasets": None,
             "path": ("pretrain_network_g",), "val": None}


def check_option_file(path: str, required: dict) -> dict:
    """The parsed option file, or an OptionsError naming what is wrong."""
    file = Path(path)
    if not file.is_file():
        raise OptionsError(f"option file not found: {file}")
    text = read_limited(file, MAX_OPTION_BYTES, "an option file", OptionsError).decode("utf-8", "replace")
    try:
        opt = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise OptionsError(f"option file {file} is not valid YAML: {error}") from error
    if not isinstance(opt, dict):
        raise OptionsError(f"option file {file} must hold a mapping of options")
    for key, subkeys in required.items():
        if key not in opt or opt[key] is None:
            raise OptionsError(f"option file {file} lacks '{key}'")
        for subkey in subkeys or ():
            if not isinstance(opt[key], dict) or opt[key].get(subkey) is None:
                raise OptionsError(f"option file {file} lacks '{key}: {subkey}'")
    if not isinstance(opt["network_g"], dict):
        raise OptionsError(f"option file {file}: network_g must be a mapping with the network's type")
    datasets = opt["datasets"]
    if not isinstance(datasets, dict) or not all(isinstance(dataset, dict) for dataset in datasets.values()):
        raise OptionsError(f"option file {file}: datasets must map each phase to a mapping of its options")
    return opt


def check_dataroots(opt: dict) -> None:
    """Every ``dataroot*`` path exists (relative ones under the repository root), before
    BasicSR creates any experiment or results folder."""
    for phase, dataset in (opt.get("datasets") or {}).items():
        entries = [(key, key, value) for key, value in (dataset or {}).items()]
        # a source given as a mapping (photo_motion: {dataroot: ...}) is checked too
        entries += [(f"{key}: {inner}", inner, value) for key, source in (dataset or {}).items()
                    if isinstance(source, dict) for inner, value in source.items()]
        for label, key, value in entries:
            if key.startswith("dataroot") and isinstance(value, str):
                path = Path(value).expanduser()
                path = path if path.is_absolute() else run_root() / path
                if not path.exists():
                    raise OptionsError(f"{label} of dataset '{phase}' not found: {path}")


def with_overrides(opt: dict, force_yml: list[str]) -> dict:
    """Apply ``--force_yml a:b:c=VALUE`` overrides as BasicSR will, so that what is checked is
    what will run. BasicSR sets the last key but never creates the ones before it, so a
    misspelt one is an error here."""
    for entry in force_yml:
        keys, sep, value = entry.partition("=")
        parts = keys.strip().split(":")
        if not sep or not all(parts):
            raise OptionsError(f"--force_yml {entry!r}: write KEY:SUBKEY=VALUE")
        target = opt
        for depth, part in enumerate(parts[:-1], start=1):
            if not isinstance(target, dict) or not isinstance(target.get(part), dict):
                raise OptionsError(f"--force_yml {keys.strip()}: the option file has no "
                                   f"'{':'.join(parts[:depth])}' mapping")
            target = target[part]
        target[parts[-1]] = override_value(value)
    return opt


def override_value(text: str) -> object:
    """A ``--force_yml`` value as data, never as code: a Python literal (``1e-4``, ``[1, 2]``,
    ``'name'``, ``True``, ``None``), else what YAML reads (``true``, ``~``), else the text itself."""
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


@contextlib.contextmanager
def basicsr_command_line(opt: dict, option_file: str, overrides: list[str], rest: list[str]) -> Iterator[None]:
    """While BasicSR parses ``sys.argv``, hand it the checked options without ``--force_yml``:
    a copy of the option file under its own name (BasicSR copies it into the experiment
    folder) with the overrides applied, and the rest of the command line as it was."""
    if not overrides:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="restore-options-") as folder:
        copy = Path(folder) / Path(option_file).name
        copy.write_text(f"# {option_file} with --force_yml {' '.join(overrides)}\n"
                        + yaml.safe_dump(opt, sort_keys=False))
        saved, sys.argv = sys.argv, [sys.argv[0], "-opt", str(copy), *rest]
        try:
            yield
        finally:
            sys.argv = saved


def check_loaders(opt: dict) -> None:
    """Each dataset's batch size is a whole number of at least 1 and its worker count one of
    at least 0 (PyTorch's DataLoader would fail on them after BasicSR made the folders)."""
    for phase, dataset in (opt.get("datasets") or {}).items():
        for key, least in (("batch_size_per_gpu", 1), ("num_worker_per_gpu", 0)):
            value = dataset.get(key) if isinstance(dataset, dict) else None
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
                raise OptionsError(f"datasets: {phase}: {key} must be a whole number of at least {least}, "
                                   f"got {value!r}")


def check_network(opt: dict) -> None:
    """``network_g`` names a registered arch whose constructor takes these keywords, at a sane size.

    The network is built on the meta device (no memory), so a typo'd keyword or an absurd
    width is an error here, before BasicSR creates any experiment folder."""
    from restore.archs.construct import MAX_PARAMETERS, count_parameters
    from restore.errors import ConfigError

    network = dict(opt["network_g"])
    arch = network.pop("type", None)
    try:
        count = count_parameters(arch, network)
    except ConfigError as error:
        raise OptionsError(f"network_g: {error}") from None
    if count > MAX_PARAMETERS:
        raise OptionsError(f"network_g: {arch} would have {count:,} parameters, more than {MAX_PARAMETERS:,}")


def cascade_image_card(opt: dict):
    """The weight card of a cascade's frozen image model (the top-level ``image_stage``, beside
    ``network_g``: a .json card, a relative path under the repository root; not under ``path``,
    where BasicSR makes a folder of every entry), checked against ``network_g: cascade``; None for
    any other network. Its weight file is checked when the model loads it."""
    from restore.errors import WeightsError
    from restore.io.weights_card import read_card

    spec = opt.get("image_stage")
    cascade = bool(opt["network_g"].get("cascade"))
    if cascade != (spec is not None):
        raise OptionsError("network_g: cascade: true needs image_stage (the weight card of the frozen image "
                           "model), and only a cascade takes one")
    if spec is None:
        return None
    path = Path(str(spec)).expanduser()
    path = path if path.is_absolute() else run_root() / path
    try:
        card = read_card(path)
    except WeightsError as error:
        raise OptionsError(f"image_stage: {error}") from None
    if card.kind != "image":
        raise OptionsError(f"image_stage: {path} describes a {card.kind} model, not an image model")
    if card.noise_map_input and not opt["network_g"].get("noise_map"):
        raise OptionsError(f"image_stage: {card.name} takes a noise map, so network_g needs noise_map: true")
    return card


def check_schedule(opt: dict) -> None:
    """A positive ``total_iter``, and a scheduler that lasts the whole run."""
    train = opt["train"]
    total = train["total_iter"]
    if isinstance(total, bool) or not isinstance(total, (int, float)) or total <= 0:
        raise OptionsError(f"train: total_iter must be a positive number of iterations, got {total!r}")
    scheduler = train["scheduler"]
    if not isinstance(scheduler, dict):
        raise OptionsError("train: scheduler must be a mapping with a type")
    length = None
    if scheduler.get("type") == "WarmupCosineLR":
        length = scheduler.get("total_iter")
    elif scheduler.get("type") == "CosineAnnealingRestartLR":
        periods = scheduler.get("periods")
        length = sum(periods) if isinstance(periods, list) and all(isinstance(p, int) for p in periods) else None
    if length is not None and (isinstance(length, bool) or not isinstance(length, (int, float)) or length < total):
        raise OptionsError(f"train: the {scheduler['type']} schedule lasts {length!r} iterations, shorter than "
                           f"total_iter {total}; the learning rate would sit at its floor for the rest of the run")


def run_folders(opt: dict, is_train: bool) -> list[Path]:
    """The folders BasicSR creates for this run (it archives existing ones, never reuses them)."""
    name = str(opt["name"])
    if is_train:
        return [run_root() / "experiments" / name, run_root() / "tb_logger" / name]
    return [run_root() / "results" / name]


def remove_folders(folders: list[Path]) -> None:
    """Remove the folders a failed start made, so that it leaves nothing behind; a run that
    failed later, after saving a checkpoint or state, keeps everything."""
    import shutil

    saved = [path for folder in folders for sub in ("models", "training_states") for path in (folder / sub).glob("*")]
    if not saved:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


def run_entry(pipeline: Callable[[str], object], is_train: bool) -> int:
    """Validate ``-opt``, register our code, run ``pipeline(repo_root)`` under the shared guard:
    0 on success, 2 on bad input (one ``error:`` line), before any experiment folder is made."""
    from restore.errors import RestoreError, run_cli

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-opt", default=None)
    parser.add_argument("--force_yml", nargs="+", default=[])
    known, rest = parser.parse_known_args()
    if known.opt is None and {"-h", "--help"} & set(sys.argv[1:]):
        import restore.models  # noqa: F401
        pipeline(str(run_root()))  # BasicSR's argument parser prints the usage and exits
        return 0

    def main() -> int:
        if known.opt is None:
            raise OptionsError("usage: -opt OPTIONS.yml is required")
        opt = check_option_file(known.opt, TRAIN_KEYS if is_train else TEST_KEYS)
        opt = with_overrides(opt, known.force_yml)
        check_dataroots(opt)
        check_loaders(opt)
        if is_train:
            check_schedule(opt)
        check_network(opt)
        cascade_image_card(opt)
        import restore.data  # noqa: F401  (registers datasets)
        import restore.models  # noqa: F401  (installs the basicsr fixes, registers models)
        made = [folder for folder in run_folders(opt, is_train) if not folder.exists()]
        try:
            with basicsr_command_line(opt, known.opt, known.force_yml, rest):
                pipeline(str(run_root()))
        except (FileNotFoundError, KeyError) as error:  # BasicSR's own option and file checks
            remove_folders(made)
            message = error.args[0] if isinstance(error, KeyError) and error.args else error
            raise OptionsError(str(message)) from None
        except RestoreError:  # a dataset or model refused its options while being built
            remove_folders(made)
            raise
        return 0

    return run_cli(main)

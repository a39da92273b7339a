"""Shared edge of ``restore/train.py`` and ``restore/test.py``.

Checks the option file before BasicSR reads it, installs our registrations and
the basicsr fixes, runs the pipeline, and turns bad input into one ``error:``
line and exit code 2 instead of a traceback. Set ``RESTORE_TRACEBACK=1`` to see
the traceback anyway.
"""
import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent

TRAIN_KEYS = {"name": None, "model_type": None, "num_gpu": None, "network_g": None, "path": None,
              "datasets": ("train",), "train": ("optim_g", "scheduler", "total_iter"),
              "logger": ("print_freq", "save_checkpoint_freq")}
TEST_KEYS = {"name": None, "model_type": None, "num_gpu": None, "network_g": None, "datasets": None,
             "path": ("pretrain_network_g",), "val": None}


class OptionsError(ValueError):
    """The option file is missing, unreadable or lacks a required key."""


def check_option_file(path: str, required: dict) -> dict:
    """The parsed option file, or an OptionsError naming what is wrong."""
    file = Path(path)
    if not file.is_file():
        raise OptionsError(f"option file not found: {file}")
    try:
        opt = yaml.safe_load(file.read_text())
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
                path = path if path.is_absolute() else REPO_ROOT / path
                if not path.exists():
                    raise OptionsError(f"{label} of dataset '{phase}' not found: {path}")


def with_forced_dataroots(opt: dict, force_yml: list[str]) -> dict:
    """Apply ``--force_yml datasets:<phase>[:<source>]:dataroot_*=PATH`` overrides, as BasicSR will:
    it sets the last key but never creates the ones before it, so a misspelt one is an error here."""
    for entry in force_yml:
        keys, _, value = entry.partition("=")
        parts = keys.strip().split(":")
        if len(parts) in (3, 4) and parts[0] == "datasets" and parts[-1].startswith("dataroot"):
            target = opt.get("datasets")
            for depth, part in enumerate(parts[1:-1], start=2):
                if not isinstance(target, dict) or not isinstance(target.get(part), dict):
                    raise OptionsError(f"--force_yml {keys.strip()}: the option file has no "
                                       f"'{':'.join(parts[:depth])}' mapping")
                target = target[part]
            target[parts[-1]] = value.strip()
    return opt


def run_entry(pipeline: Callable[[str], object], is_train: bool) -> int:
    """Validate ``-opt``, register our code, run ``pipeline(repo_root)``; 0 on success, 2 on bad input."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-opt", default=None)
    parser.add_argument("--force_yml", nargs="+", default=[])
    known, _ = parser.parse_known_args()
    from restore.data.dataset_errors import DatasetError
    if known.opt is None and {"-h", "--help"} & set(sys.argv[1:]):
        import restore.models  # noqa: F401
        pipeline(str(REPO_ROOT))  # BasicSR's argument parser prints the usage and exits
        return 0
    try:
        if known.opt is None:
            raise OptionsError("usage: -opt OPTIONS.yml is required")
        opt = check_option_file(known.opt, TRAIN_KEYS if is_train else TEST_KEYS)
        check_dataroots(with_forced_dataroots(opt, known.force_yml))
        import restore.data  # noqa: F401  (registers datasets)
        import restore.models  # noqa: F401  (installs the basicsr fixes, registers models)
        pipeline(str(REPO_ROOT))
    except (OptionsError, DatasetError, FileNotFoundError, KeyError, ValueError) as error:
        if os.environ.get("RESTORE_TRACEBACK"):
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"error: {message}", file=sys.stderr, flush=True)
        return 2
    return 0

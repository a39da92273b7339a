"""What ``pip install .`` installs: every package of the tree, the bundled weights, and console
scripts that name real entry points."""
import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from restore.io.weights_card import list_cards

REPO = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PROJECT["tool"]["setuptools"]


def test_every_package_of_the_tree_is_installed():
    found = {path.parent.relative_to(REPO).as_posix().replace("/", ".")
             for path in (REPO / "restore").rglob("__init__.py")}
    assert set(SETUPTOOLS["packages"]) == found | {"restore.weights"}


def test_the_bundled_weights_are_package_data():
    folder = REPO / SETUPTOOLS["package-dir"]["restore.weights"]
    patterns = SETUPTOOLS["package-data"]["restore.weights"]
    shipped = {path.name for pattern in patterns for path in folder.glob(pattern)}
    assert "registry.json" in shipped
    cards = list_cards(folder)
    assert cards and all({card.path.name, card.weights} <= shipped for card in cards)


def test_console_scripts_name_main_functions():
    scripts = PROJECT["project"]["scripts"]
    assert {"skipat-denoise", "skipat-denoise-video", "skipat-app"} <= set(scripts)
    for target in scripts.values():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), target


@pytest.mark.parametrize("script", ["train.py", "test.py"])
def test_training_without_basicsr_is_one_line_naming_the_extra(script, tmp_path):
    """A plain ``pip install .`` has no BasicSR: the training entry points say what to install."""
    hide = tmp_path / "hide_basicsr.py"
    hide.write_text("import importlib.util, runpy, sys\n"
                    "real = importlib.util.find_spec\n"
                    "importlib.util.find_spec = lambda name, *a: None if name == 'basicsr' else real(name, *a)\n"
                    f"sys.argv = [{script!r}, '-opt', 'options/smoke/uformer_tiny.yml']\n"
                    f"runpy.run_path({str(REPO / 'restore' / script)!r}, run_name='__main__')\n")
    done = subprocess.run([sys.executable, str(hide)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: ") and "skipat-denoise[train]" in done.stderr

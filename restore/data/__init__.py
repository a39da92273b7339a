"""Datasets. Every ``*_dataset.py`` here is imported so that its classes register
in BasicSR's ``DATASET_REGISTRY`` and can be named by ``type:`` in option files."""
import importlib
from pathlib import Path

for _file in sorted(Path(__file__).parent.glob("*_dataset.py")):
    importlib.import_module(f"{__name__}.{_file.stem}")

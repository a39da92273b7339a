"""Networks. Every ``*_arch.py`` here is imported so that its classes register in our
``restore.registry.ARCH_REGISTRY`` and can be named by a weight card's ``arch`` or an option
file's ``type:``."""
import importlib
from pathlib import Path

for _file in sorted(Path(__file__).parent.glob("*_arch.py")):
    importlib.import_module(f"{__name__}.{_file.stem}")

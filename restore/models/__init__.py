"""Training models. The BasicSR fixes are installed first, then every ``*_model.py``
here is imported so that its classes register in BasicSR's ``MODEL_REGISTRY``."""
import importlib
from pathlib import Path

from restore.models.basicsr_fixes import apply_basicsr_fixes

apply_basicsr_fixes()

for _file in sorted(Path(__file__).parent.glob("*_model.py")):
    importlib.import_module(f"{__name__}.{_file.stem}")

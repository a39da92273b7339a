"""Training with BasicSR. Importing this package is what makes BasicSR usable here, and nothing
below it imports basicsr: it installs the fixes of ``basicsr_fixes``, hands our networks and
datasets to BasicSR's registries of the same names (so option files' ``type:`` finds them), and
imports every ``*_model.py`` here so that its classes register in BasicSR's ``MODEL_REGISTRY``."""
import importlib
from pathlib import Path

from restore.models.basicsr_fixes import apply_basicsr_fixes  # first: basicsr imports only after it

from basicsr.utils import registry as basicsr_registry  # noqa: E402

import restore.archs  # noqa: E402,F401  (fills our registries)
import restore.data  # noqa: E402,F401
from restore.registry import ARCH_REGISTRY, DATASET_REGISTRY  # noqa: E402

apply_basicsr_fixes()

for _ours, _theirs in ((ARCH_REGISTRY, basicsr_registry.ARCH_REGISTRY),
                       (DATASET_REGISTRY, basicsr_registry.DATASET_REGISTRY)):
    for _name, _cls in _ours.items():
        if _name == _cls.__name__:
            _theirs.register(_cls)
        else:  # a second name of one class: BasicSR's register() names by class, so register it by name
            _theirs._do_register(_name, _cls)

for _file in sorted(Path(__file__).parent.glob("*_model.py")):
    importlib.import_module(f"{__name__}.{_file.stem}")

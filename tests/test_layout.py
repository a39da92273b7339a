"""The tree keeps its layers: light package import, library code below the entry points, and
no lower layer importing a higher one."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "restore"
LOWER = ("archs", "noise", "data", "models", "inference", "io")
HIGHER = ("restore.scripts", "restore.benchmarks", "restore.api", "restore.app_service", "restore.demo",
          "restore.train", "restore.test", "restore.denoise_image", "restore.denoise_video",
          "restore.save_weights", "restore.export", "restore.app", "app")
ENTRY_POINTS = {"train.py", "test.py", "denoise_image.py", "denoise_video.py", "demo.py", "save_weights.py",
                "export.py", "api.py", "app.py", "app_service.py", "errors.py", "registry.py"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_import_restore_loads_neither_torch_nor_basicsr():
    code = "import restore, sys; print('torch' in sys.modules, 'basicsr' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "False"], done.stderr


@pytest.mark.parametrize("layer", LOWER)
def test_lower_layers_never_import_higher_ones(layer):
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        bad = sorted(name for name in imported_modules(path) if name.startswith(HIGHER))
        assert not bad, f"{path.relative_to(REPO)} imports {bad}"


@pytest.mark.parametrize("layer", ["io", "data"])
def test_io_and_data_sit_below_inference(layer):
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        bad = sorted(name for name in imported_modules(path) if name.startswith(("restore.inference", "restore.models")))
        assert not bad, f"{path.relative_to(REPO)} imports {bad}"


def test_archs_import_nothing_of_ours_but_archs_errors_and_the_registry():
    for path in sorted((PACKAGE / "archs").rglob("*.py")):
        ours = {name for name in imported_modules(path) if name.startswith("restore")}
        assert all(name.startswith(("restore.archs", "restore.errors", "restore.registry")) for name in ours), (
            path, ours)


def test_noise_imports_nothing_of_ours_but_noise_errors_and_the_registry():
    for path in sorted((PACKAGE / "noise").rglob("*.py")):
        ours = {name for name in imported_modules(path) if name.startswith("restore")}
        assert all(name.startswith(("restore.noise", "restore.errors", "restore.registry")) for name in ours), (
            path, ours)


def test_the_package_root_holds_only_the_entry_points_and_the_api():
    modules = {path.name for path in PACKAGE.glob("*.py")} - {"__init__.py"}
    assert modules <= ENTRY_POINTS, sorted(modules - ENTRY_POINTS)

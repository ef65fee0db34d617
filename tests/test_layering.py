"""Import rules: desktop -> training -> core; core imports no Qt; batch commands import no Qt."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "textmask_core": ROOT / "textmask_core",
    "textmask_training": ROOT / "training" / "textmask_training",
    "textmask_desktop": ROOT / "textmask_desktop",
}
FORBIDDEN = {
    "textmask_core": ("textmask_training", "textmask_desktop", "PySide6", "shiboken6"),
    "textmask_training": ("textmask_desktop", "PySide6", "shiboken6"),
}


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_go_one_way(package):
    offenders = []
    for path in sorted(PACKAGES[package].rglob("*.py")):
        for module in _imported_modules(path):
            if module.split(".")[0] in FORBIDDEN[package]:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


@pytest.mark.parametrize("subcommand", ["predict", "eval", "export", "train"])
def test_batch_commands_do_not_import_qt(subcommand):
    code = (
        "import sys\n"
        "from textmask_desktop import commands\n"
        f"commands.build_parser({subcommand!r})\n"
        f"import textmask_desktop.commands.{'evaluate' if subcommand == 'eval' else subcommand}\n"
        "import textmask_core.predictor, textmask_training.evaluate\n"
        "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"

"""Package boundaries: dependencies point one way, and serving never needs training."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Each package and the project packages it may import (README, "Layout").
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "schooldata": {"core"},
    "features": {"core", "schooldata"},
    "riskmodel": {"core"},
    "synth": {"core", "schooldata"},
    "training": {"core", "schooldata", "features", "riskmodel"},
    "serving": {"core", "schooldata", "features", "riskmodel"},
    "ews": {"core", "schooldata", "features", "riskmodel", "synth", "training", "serving"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level names of every import in a file, including imports inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def forbidden_imports(package: str) -> list[str]:
    own = set(ALLOWED) - ALLOWED[package] - {package}
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in sorted(imported_packages(path) & own)
    ]


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_dependencies_point_one_way(package: str) -> None:
    assert forbidden_imports(package) == []


def test_a_forbidden_import_is_caught(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from training.train import train\n")

    assert "training" in imported_packages(module)


def test_importing_every_serving_module_loads_no_training_code() -> None:
    code = (
        "import importlib, pkgutil, sys, serving\n"
        "for m in pkgutil.walk_packages(serving.__path__, 'serving.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(len([m for m in sys.modules if m.startswith('serving.')]))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'training'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    modules, training = result.stdout.strip().splitlines()

    assert int(modules) >= 12
    assert training == "[]"

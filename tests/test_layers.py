"""The house's arrows: which top-level package may import which (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from launcher.processes import ROOT

PACKAGES = {
    "core": ROOT / "core",
    "gateways": ROOT / "gateways",
    "plinth": ROOT / "clients" / "python" / "plinth",
    "launcher": ROOT / "launcher",
}
# Each package's own imports of ours, besides itself; `plinth` includes the generated stubs.
ALLOWED = {
    "core": {"plinth"},
    "gateways": {"plinth"},
    "plinth": set(),
    "launcher": {"core", "gateways", "plinth"},
}


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_imports_follow_the_arrows(package: str) -> None:
    wrong = {}
    for path in sorted(PACKAGES[package].rglob("*.py")):
        if "v1" in path.relative_to(PACKAGES[package]).parts:
            continue  # generated
        outside = imported_packages(path) - {package} - ALLOWED[package]
        if outside:
            wrong[str(path.relative_to(ROOT))] = sorted(outside)
    assert not wrong, f"{package} may import only {sorted(ALLOWED[package])}: {wrong}"


def test_core_and_gateways_read_no_environment() -> None:
    """Settings are read once, by the launcher; core and the gateways take configs."""
    for package in ("core", "gateways"):
        for path in PACKAGES[package].rglob("*.py"):
            assert "os.environ" not in path.read_text(), path

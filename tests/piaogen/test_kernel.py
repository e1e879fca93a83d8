"""The kernel (piaogen/) depends on no app: the apps build on it, never the other way round.
Only the composition root names the apps: settings (INSTALLED_APPS and the settings that name
their classes) and the URL configuration that mounts them."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = {"accounts", "cards", "invoices", "support"}
COMPOSITION_ROOT = {"settings.py", "test_settings.py", "urls.py"}


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def test_no_kernel_module_imports_an_app():
    checked, offenders = 0, []
    for path in sorted((ROOT / "piaogen").rglob("*.py")):
        if path.name in COMPOSITION_ROOT and path.parent.name == "piaogen":
            continue
        checked += 1
        for line, module in _imported(ast.parse(path.read_text())):
            if module.split(".")[0] in APPS:
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert checked > 20  # the kernel's modules were found and read
    assert offenders == []


def test_the_check_sees_an_app_import():
    """The check above would catch one (so that its empty answer means something)."""
    tree = ast.parse("def f():\n    from invoices.regimes import regime_on\n")
    assert [m for _line, m in _imported(tree) if m.split(".")[0] in APPS] == ["invoices.regimes"]

"""Qt stays in codatdesk/ui/: the core, the sandbox, the engine and the CLI never import it,
at module level or inside a function (ruff's TID251 says the same at lint time)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "codatdesk"
QT_MODULES = ("PySide6", "shiboken6", "PyQt5", "PyQt6")


def _qt_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
        found += [f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports {name}"
                  for name in names if name.split(".")[0] in QT_MODULES]
    return found


def test_nothing_outside_ui_imports_qt() -> None:
    outside_ui = [p for p in PACKAGE.rglob("*.py") if "ui" not in p.relative_to(PACKAGE).parts[:1]]
    assert len(outside_ui) > 50  # the walk found the package
    offenders = [hit for path in outside_ui for hit in _qt_imports(path)]
    assert offenders == []


def test_the_ui_is_where_qt_is_found() -> None:  # the check can fail: it does see imports
    assert _qt_imports(PACKAGE / "ui" / "expense_model.py")


def test_the_core_and_the_self_test_run_without_loading_qt() -> None:
    code = ("import sys, codatdesk.engine.core, codatdesk.selftest, codatdesk.cli, codatdesk.sandbox.server;"
            "from codatdesk.selftest import check_version; check_version(None);"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            cwd=PACKAGE.parent, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"

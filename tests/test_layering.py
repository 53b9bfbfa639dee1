"""Qt stays in codatdesk/ui/: the core, the sandbox, the engine and the CLI never import it,
at module level or inside a function (ruff's TID251 says the same at lint time). And the other
way round: the UI reads and writes through the core (``core_api.CoreAPI``), never the store."""

from __future__ import annotations

import ast
import re
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


# -- the window reads through the core (issue #13): no view opens a session or queries a table --------------

STORE_MODULES = ("codatdesk.store", "sqlmodel", "sqlalchemy")
# Where a UI module may still reach the store, each with its reason. Empty: none may.
STORE_ALLOWED: dict[str, str] = {}
_CORE_DB = re.compile(r"\bcore\.db\b|\bself\.core\.db\b|\bread_db\b")


def _store_reach(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    text = path.read_text(encoding="utf-8")
    where = path.relative_to(root)
    found = []
    for node in ast.walk(ast.parse(text, str(path))):  # lazy and TYPE_CHECKING imports count too
        names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
        found += [f"{where}:{node.lineno} imports {name}" for name in names
                  if any(name == m or name.startswith(m + ".") for m in STORE_MODULES)]
    found += [f"{where}:{number} touches the core's database: {line.strip()}"
              for number, line in enumerate(text.splitlines(), 1) if _CORE_DB.search(line)]
    return found


def test_the_ui_reads_through_the_core_never_the_store() -> None:
    ui_modules = sorted((PACKAGE / "ui").rglob("*.py"))
    assert len(ui_modules) > 20  # the walk found the package
    offenders = [hit for path in ui_modules if str(path.relative_to(PACKAGE)) not in STORE_ALLOWED
                 for hit in _store_reach(path)]
    assert offenders == []


def test_the_store_check_sees_a_query_and_the_cores_database(tmp_path) -> None:  # the check can fail
    view = tmp_path / "view.py"
    view.write_text("def f(core):\n    from sqlmodel import select\n    return core.db\n", encoding="utf-8")
    assert [hit.split(" ", 1)[1] for hit in _store_reach(view, tmp_path)] == [
        "imports sqlmodel", "touches the core's database: return core.db"]

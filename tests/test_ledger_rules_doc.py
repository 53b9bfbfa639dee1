"""docs/ledger-rules.md cannot rot: every test its table names exists (file and function), and every
rule says how codatdesk stops it (or "n/a"), except the negative direct cost rows left to h-prop."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ledger-rules.md"
COLUMNS = ["rule", "source", "profiles", "sandbox test", "codatdesk stops it before sending by", "app test"]
NOT_NAMED = {"", "—", "(not yet)"}  # cells that name no test


def table(text: str) -> list[dict[str, str]]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split(" | ")]
    assert header == COLUMNS, header
    rows = []
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip().removeprefix("|").removesuffix("|").split(" | ")]
        assert len(cells) == len(COLUMNS), line
        rows.append(dict(zip(COLUMNS, cells, strict=True)))
    return rows


def abbreviations(text: str) -> dict[str, str]:
    """"`tests/test_sandbox_profiles.py` (P)" in the intro -> {"P": "tests/test_sandbox_profiles.py"}."""
    return {short: path for path, short in re.findall(r"`(tests/[\w/]+\.py)` \((\w+)\)", text)}


def named_tests(cell: str, short: dict[str, str]) -> list[tuple[str, str]]:
    if cell in NOT_NAMED:
        return []
    named = []
    for entry in cell.split(", "):
        path, _, function = entry.strip().strip("`").partition("::")
        assert function, f"not a test name: {entry!r}"
        named.append((short.get(path, path), function))
    return named


@cache
def functions_in(path: str) -> frozenset[str]:
    file = ROOT / path
    if not file.is_file():
        return frozenset()
    tree = ast.parse(file.read_text(encoding="utf-8"))
    return frozenset(node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef))


def missing_tests(text: str) -> list[str]:
    short = abbreviations(text)
    missing = []
    for row in table(text):
        for column in ("sandbox test", "app test"):
            for path, function in named_tests(row[column], short):
                if function not in functions_in(path):
                    missing.append(f"{path}::{function}")
    return missing


def test_every_test_the_table_names_exists():
    text = DOC.read_text(encoding="utf-8")
    assert abbreviations(text) == {"P": "tests/test_sandbox_profiles.py", "S": "tests/test_sandbox_profiles_suppliers.py"}
    assert missing_tests(text) == []


def test_every_rule_says_how_codatdesk_stops_it():
    for row in table(DOC.read_text(encoding="utf-8")):
        if "negative direct cost" in row["rule"]:
            continue  # the app side is branch h-prop's
        stop = row["codatdesk stops it before sending by"]
        assert stop, row["rule"]
        assert stop.startswith("n/a") or "`" in stop, f"name the check (module/function): {row['rule']}"
        if not stop.startswith("n/a: sandbox only"):
            assert row["app test"] not in NOT_NAMED, f"no app test for: {row['rule']}"


def test_app_rules_the_issue_lists_have_rows():
    rules = " ".join(row["rule"] for row in table(DOC.read_text(encoding="utf-8")) if row["profiles"] == "app")
    for words in ("unknown or inactive tax code", "\"no tax\" mapped", "active bank account", "needs a rate",
                  "create model", "never cost of sales", "only when the company allows", "`timeoutInMinutes`",
                  "`allowSyncOnPushComplete=false`", "`companyTags`", "accounting connections", "replaced connection",
                  "`Idempotency-Key`"):
        assert words in rules, words


def test_a_renamed_or_missing_test_is_noticed():
    header = "| " + " | ".join(COLUMNS) + " |\n|" + " --- |" * len(COLUMNS) + "\n"
    intro = "Tests are in `tests/test_sandbox_profiles.py` (P).\n\n"
    row = ("| r | s | all | P::test_xero_requires_a_contact, P::test_no_such_thing | `m.f` | "
           "tests/test_fixes.py::test_each_reason_has_its_fix, tests/no_such_file.py::test_x |\n")
    assert missing_tests(intro + header + row) == ["tests/test_sandbox_profiles.py::test_no_such_thing",
                                                   "tests/no_such_file.py::test_x"]

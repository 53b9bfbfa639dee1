"""B4 — big tables: 100,000 expenses in the real window, and in a QTableWidget.

Each variant runs in its own process (so peak memory is its own) on the same database
(seeded once per run, in another process). The product: ``MainWindow`` over a Core that
is not started (no network), offscreen. Open = constructing the window (it loads the
company's rows, sorted by date); first paint = ``show()`` to the table's first paint;
sort = by supplier; filter = typing a search term (the proxy's own filter, the debounce
timer skipped); one update = an expense's status changed in the database, then
``refresh_rows({id})`` (median of 20). The alternative fills a ``QTableWidget`` with the
same rows and texts, sorts with ``sortItems``, filters with ``setRowHidden`` and
updates one item's text.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import Row, isolated_environment, peak_rss_mb, scratch_dir

SIZES = {"full": 100_000, "smoke": 500}
SEARCH = "acme"
UPDATES = 20

SPEC = [
    Row("B4", "100k rows: open", "open_s", "s", "≤ 1.5 s", lambda v: v <= 1.5, "widget_open_s", "QTableWidget",
        "alt/fig", None, decimals=2),
    Row("B4", "100k rows: first paint", "paint_s", "s", "—", None, "widget_paint_s", "QTableWidget", "alt/fig",
        None, decimals=3),
    Row("B4", "100k rows: sort by supplier", "sort_s", "s", "—", None, "widget_sort_s", "QTableWidget", "alt/fig",
        None, decimals=2),
    Row("B4", "100k rows: filter (search)", "filter_s", "s", "—", None, "widget_filter_s", "QTableWidget",
        "alt/fig", None, decimals=2),
    Row("B4", "100k rows: one status update", "update_ms", "ms", "≤ 1 ms", lambda v: v <= 1, "widget_update_ms",
        "QTableWidget", "alt/fig", None, decimals=2),
    Row("B4", "100k rows: peak memory", "memory_mb", "MB", "≤ 400 MB", lambda v: v <= 400, "widget_memory_mb",
        "QTableWidget", "fig/alt", None, decimals=0),
]


def _paint(app, widget) -> float:
    """Show ``widget``'s window and return the seconds until ``widget`` has painted."""
    from PySide6.QtCore import QEvent, QObject

    painted: list[float] = []

    class Watch(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Paint:
                painted.append(time.monotonic())
            return False

    watch = Watch()
    widget.viewport().installEventFilter(watch)
    began = time.monotonic()
    widget.window().show()
    deadline = began + 30
    while not painted and time.monotonic() < deadline:
        app.processEvents()
    app.processEvents()  # let that paint finish
    widget.viewport().removeEventFilter(watch)
    return time.monotonic() - began


def measure_product(home: Path, company_id: str) -> dict[str, float]:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from benchmarks.setup import database, make_core
    from codatdesk import paths
    from codatdesk.ui.expense_model import Column
    from codatdesk.ui.main_window import MainWindow

    paths.set_data_dir(str(home))
    app = QApplication.instance() or QApplication([])
    db = database(home)
    core = make_core(home, base_url="http://127.0.0.1:9", api_key="unused", company_id=company_id,
                     connection_id="unused", listen=False, db=db)
    began = time.monotonic()
    window = MainWindow(core)
    opened = time.monotonic() - began
    window.resize(1280, 800)
    rows = window.model.rowCount()
    paint = _paint(app, window.table)

    began = time.monotonic()
    window.table.sortByColumn(Column.SUPPLIER, Qt.SortOrder.AscendingOrder)
    app.processEvents()
    sort = time.monotonic() - began

    began = time.monotonic()
    window.proxy.set_search_text(SEARCH)
    app.processEvents()
    filtered = time.monotonic() - began
    shown = window.proxy.rowCount()

    # One status update at a time, for rows that are visible under the filter.
    ids = [window.proxy.index(r, 0).data(Qt.ItemDataRole.UserRole + 3) for r in range(min(UPDATES, shown))]
    updates = []
    for expense_id in ids:
        with db.begin() as conn:
            conn.exec_driver_sql("UPDATE expense SET status = 'Push complete', updated_at = CURRENT_TIMESTAMP "
                                 "WHERE id = ?", (expense_id,))
        began = time.monotonic()
        window.model.refresh_rows({expense_id})
        updates.append(time.monotonic() - began)
        app.processEvents()
    window.close()
    db.dispose()
    return {"rows": rows, "open_s": opened, "paint_s": paint, "sort_s": sort, "filter_s": filtered,
            "filtered_rows": shown, "update_ms": statistics.median(updates) * 1000, "memory_mb": peak_rss_mb()}


def measure_widget(home: Path, company_id: str) -> dict[str, float]:
    from types import SimpleNamespace

    from PySide6.QtWidgets import QApplication, QTableWidget, QTableWidgetItem

    from benchmarks.setup import database
    from codatdesk.engine import read_models
    from codatdesk.ui.expense_model import HEADERS, Column, ExpenseTableModel

    app = QApplication.instance() or QApplication([])
    db = database(home)
    began = time.monotonic()
    # Only to read and format the rows exactly as the product shows them (the core's read model, no core).
    source = ExpenseTableModel(SimpleNamespace(expense_rows=lambda company: read_models.expense_rows(db, company)))
    rows = source._fetch_company(company_id)
    table = QTableWidget(len(rows), len(Column))
    table.setHorizontalHeaderLabels([HEADERS[c] for c in Column])
    table.setSortingEnabled(False)
    for r, row in enumerate(rows):
        for column in Column:
            table.setItem(r, column, QTableWidgetItem(source.display_text(row, column)))
    opened = time.monotonic() - began
    del rows
    table.resize(1280, 800)
    paint = _paint(app, table)

    began = time.monotonic()
    table.sortItems(Column.SUPPLIER)
    app.processEvents()
    sort = time.monotonic() - began

    began = time.monotonic()
    for r in range(table.rowCount()):
        text = " ".join(table.item(r, c).text() for c in Column).casefold()
        table.setRowHidden(r, SEARCH not in text)
    app.processEvents()
    filtered = time.monotonic() - began

    updates = []
    for r in range(min(UPDATES, table.rowCount())):
        began = time.monotonic()
        table.item(r, Column.STATUS).setText("Push complete")
        updates.append(time.monotonic() - began)
        app.processEvents()
    db.dispose()
    return {"widget_open_s": opened, "widget_paint_s": paint, "widget_sort_s": sort, "widget_filter_s": filtered,
            "widget_update_ms": statistics.median(updates) * 1000, "widget_memory_mb": peak_rss_mb()}


def _child(variant: str, home: Path, company_id: str) -> dict[str, float]:
    env = isolated_environment(home)
    output = subprocess.run([sys.executable, "-m", "benchmarks.b4_big_tables", variant, str(home), company_id],
                            env=env, capture_output=True, text=True, timeout=900)
    for line in output.stdout.splitlines():
        if line.startswith("B4-FIGURES "):
            return json.loads(line[len("B4-FIGURES "):])
    raise RuntimeError(f"B4 {variant} failed: {output.stderr[-3000:]}")


def run(size: str) -> dict[str, float]:
    from benchmarks.setup import database, seed_expenses

    company_id = "bench-company"
    with scratch_dir("b4") as home:
        db = database(home)
        seed_expenses(db, company_id, SIZES[size], seed=4)
        with db.begin() as conn:  # a realistic mix of statuses
            conn.exec_driver_sql("UPDATE expense SET status = CASE id % 7 WHEN 0 THEN 'Push complete' "
                                 "WHEN 1 THEN 'Push failed' WHEN 2 THEN 'Push in progress' ELSE 'Not pushed' END")
        db.dispose()
        figures = _child("product", home, company_id)
        figures.update(_child("widget", home, company_id))
    return figures


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    variant, home, company = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    measure = measure_product if variant == "product" else measure_widget
    print("B4-FIGURES " + json.dumps(measure(home, company)), flush=True)

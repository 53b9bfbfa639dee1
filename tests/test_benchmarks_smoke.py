"""The benchmarks still run: each at a tiny size, producing its figures.

Not a timed test: nothing here checks a target (see docs/benchmarks.md for those).
"""

from __future__ import annotations

import pytest

from benchmarks import report
from benchmarks.__main__ import main, run_once
from benchmarks._child import MODULES

pytestmark = pytest.mark.slow

# Figures each benchmark must produce even at the smoke size (B5's bundle rows are
# measured only at full size, when a bundle exists).
OPTIONAL = {"shown_bundle_s", "filled_bundle_s"}


@pytest.mark.parametrize("name", list(MODULES))
def test_benchmark_produces_its_figures(name):
    figures = run_once(name, "smoke")
    for row in report._spec(name):
        for key in (row.metric, row.alternative):
            if key is None or key in OPTIONAL:
                continue
            assert isinstance(figures.get(key), (int, float)), f"{name} produced no {key}: {figures}"
            assert figures[key] >= 0
    cells = [report.evaluate(row, [figures]) for row in report._spec(name)]
    assert any(not c["missing"] for c in cells)


def test_runner_writes_the_table(tmp_path, capsys):
    output = tmp_path / "benchmarks.md"
    assert main(["--smoke", "--only", "B6", "--output", str(output)]) == 0
    text = output.read_text()
    assert "| B6 | catch up" in text and "## Machine" in text and "cpu cores" in text
    assert "| B6 |" in capsys.readouterr().out

"""Run the benchmarks: ``.venv/bin/python -m benchmarks [--only B1,B3] [--runs N] [--smoke]``.

Each run of each benchmark is a fresh subprocess (own data folder, offscreen Qt, no
keyring). Prints the table and, unless ``--smoke``, writes it to docs/benchmarks.md
with the machine's facts. ``--smoke`` runs each benchmark once at a tiny size: it
proves they still work; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import report
from benchmarks._child import MODULES
from benchmarks.common import REPO, isolated_environment, parse_result, scratch_dir

TIMEOUT_SECONDS = {"full": 1200, "smoke": 180}
RAW = REPO / "docs" / "benchmarks-raw.json"  # every run's figures, for --report-only
LOAD_AT_START = ""


def run_once(name: str, size: str) -> dict:
    with scratch_dir(f"{name.lower()}-home") as home:
        started = time.monotonic()
        completed = subprocess.run([sys.executable, "-m", "benchmarks._child", name, size], cwd=str(REPO),
                                   env=isolated_environment(home), capture_output=True, text=True,
                                   timeout=TIMEOUT_SECONDS[size])
        if completed.returncode != 0:
            raise RuntimeError(f"{name} ({size}) failed with exit code {completed.returncode}:\n"
                               f"{completed.stderr[-4000:]}")
        figures = parse_result(completed.stdout)
        print(f"  {name} run done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated benchmarks, e.g. B1,B3 (default: all)")
    parser.add_argument("--runs", type=int, help="runs per benchmark (default 3; 1 with --smoke)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run, no docs written")
    parser.add_argument("--output", type=Path, help="markdown file to write (default docs/benchmarks.md; "
                                                    "with --smoke nothing is written unless given)")
    parser.add_argument("--report-only", action="store_true",
                        help="run nothing: rewrite the markdown from the raw figures of the last full run")
    args = parser.parse_args(argv)
    if args.report_only:
        raw = json.loads(RAW.read_text())
        names = [n for n in raw["names"] if not args.only or n in args.only.upper().split(",")]
        (args.output or REPO / "docs" / "benchmarks.md").write_text(
            report.document(names, raw["results"], raw["runs"], raw["size"], raw.get("facts")))
        print(report.table(names, raw["results"]))
        return 0
    names = [n.strip().upper() for n in args.only.split(",")] if args.only else list(MODULES)
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    size = "smoke" if args.smoke else "full"
    runs = args.runs or (1 if args.smoke else 3)

    global LOAD_AT_START
    LOAD_AT_START = " / ".join(f"{v:.2f}" for v in os.getloadavg())  # other work on the machine skews figures
    results: dict[str, list[dict]] = {}
    for name in names:
        print(f"{name}: {runs} run(s) at {size} size", file=sys.stderr, flush=True)
        results[name] = [run_once(name, size) for _ in range(runs)]

    table = report.table(names, results)
    print(table)
    output = args.output or (None if args.smoke else REPO / "docs" / "benchmarks.md")
    if output is not None:
        facts = {**report.machine_facts(), "measured": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
                 "load average when the run began": LOAD_AT_START}
        output.write_text(report.document(names, results, runs, size, facts))
        if not args.smoke and args.output is None:
            RAW.write_text(json.dumps({"names": names, "runs": runs, "size": size, "facts": facts,
                                       "results": results}, indent=1))
        print(f"\nwritten to {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Size and start-to-window time of a built bundle, as one Markdown table row for the release notes.

    python packaging/measure.py dist/codatdesk [ARCHIVE ...] --os Linux >> release-notes.md

The start is timed with the app's start-up probe (CODATDESK_STARTUP_PROBE, benchmark B5): the
probe writes time.monotonic() when the main window is first shown; we read the same clock
just before starting the process. An empty data folder, so this is a first start.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def windowed_program(bundle: Path) -> Path:
    return bundle / ("codatdesk.exe" if os.name == "nt" else "codatdesk")


def start_to_window(bundle: Path, runs: int = 3) -> float:
    """The fastest of ``runs`` starts (the first pays for a cold disk cache), in seconds."""
    best = float("inf")
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as home:
            probe = Path(home) / "probe.json"
            env = {**os.environ, "CODATDESK_HOME": str(Path(home) / "data"), "CODATDESK_STARTUP_PROBE": str(probe),
                   "CODATDESK_STARTUP_PROBE_WAIT_MS": "500"}
            if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
                env["QT_QPA_PLATFORM"] = "offscreen"
            started = time.monotonic()
            subprocess.run([str(windowed_program(bundle))], env=env, timeout=120, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            best = min(best, json.loads(probe.read_text())["shown"] - started)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="the onedir folder, e.g. dist/codatdesk")
    parser.add_argument("archives", type=Path, nargs="*", help="the files attached to the release")
    parser.add_argument("--os", required=True, help="the name in the table's first column")
    args = parser.parse_args(argv)
    archives = ", ".join(f"{a.name} {a.stat().st_size / 1e6:.0f} MB" for a in args.archives) or "-"
    print(f"| {args.os} | {folder_size(args.bundle) / 1e6:.0f} MB | {archives} | "
          f"{start_to_window(args.bundle):.2f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

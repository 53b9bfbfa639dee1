"""B5 — start-up: process start to window shown, and to the table filled with rows.

``codatdesk`` (the real entry point, not the demo) starts in a data folder holding
1,000 expenses, with credentials from the environment and Codat's sandbox (its own
process) as the API. The app's start-up probe (``CODATDESK_STARTUP_PROBE``, see
``codatdesk/ui/startup_probe.py``) records when the window was first shown and when
the table first painted rows, then quits. Measured from source (``python -m
codatdesk``) and from the bundle (``dist/codatdesk/codatdesk``, or ``$BENCH_BUNDLE``)
when one exists; the alternative is a bare PySide6 ``QMainWindow``. One more start
from source runs under ``python -X importtime`` for the ten slowest imports. Source starts
use a bytecode cache filled by one unmeasured start (see the comment in ``run``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import REPO, Row, isolated_environment, scratch_dir

ROWS = {"full": 1000, "smoke": 50}

SPEC = [
    Row("B5", "start → window shown (source)", "shown_source_s", "s", "≤ 2 × bare window", None,
        "bare_shown_s", "bare PySide6 window", "fig/alt", lambda r: r <= 2, decimals=2),
    Row("B5", "start → table filled (source)", "filled_source_s", "s", "≤ 1.5 s", lambda v: v <= 1.5, decimals=2),
    Row("B5", "start → window shown (bundle)", "shown_bundle_s", "s", "≤ 2 × bare window", None,
        "bare_shown_s", "bare PySide6 window", "fig/alt", lambda r: r <= 2, decimals=2),
    Row("B5", "start → table filled (bundle)", "filled_bundle_s", "s", "≤ 1.5 s", lambda v: v <= 1.5, decimals=2),
]


def bundle_path() -> Path | None:
    path = Path(os.environ.get("BENCH_BUNDLE") or REPO / "dist" / "codatdesk" / "codatdesk")
    return path if path.is_file() and os.access(path, os.X_OK) else None


def _start(command: list[str], env: dict[str, str], probe: Path, timeout: float = 60) -> tuple[dict, float, str]:
    probe.unlink(missing_ok=True)
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               cwd=str(REPO))
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    if not probe.exists():
        raise RuntimeError(f"{command[0]} wrote no start-up marks; stderr: {stderr[-2000:]}")
    return json.loads(probe.read_text()), started, stderr


def importtime_top(stderr: str, count: int = 10) -> list[list]:
    """``[[module, self ms, cumulative ms], ...]``, the slowest by their own import time."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) == 3:
            rows.append([parts[2].strip(), int(parts[0]) / 1000, int(parts[1]) / 1000])
    return sorted(rows, key=lambda r: -r[1])[:count]


def run(size: str) -> dict[str, float]:
    from benchmarks.sandbox_proc import RemoteSandbox
    from benchmarks.setup import database, make_core, new_secret, seed_expenses

    figures: dict = {}
    sandbox = RemoteSandbox.start({"seed": 5})
    try:
        with scratch_dir("b5") as home:
            db = database(home)
            make_core(home, base_url=sandbox.base_url, api_key=sandbox.api_key, company_id=sandbox.company_id,
                      connection_id=sandbox.connection_id, listen=False, db=db)
            seed_expenses(db, sandbox.company_id, ROWS[size])
            db.dispose()
            probe = home / "startup.json"
            env = isolated_environment(home)
            env.update({"CODATDESK_API_KEY": sandbox.api_key, "CODATDESK_WEBHOOK_SECRETS": new_secret(),
                        "CODATDESK_STARTUP_PROBE": str(probe),
                        "CODATDESK_STARTUP_PROBE_WAIT_MS": "30000"})  # rows are seeded: wait for them
            # Starts read cached bytecode, as an installed package (pip compiles it) or any second run
            # from a checkout does. An environment with PYTHONDONTWRITEBYTECODE would otherwise make
            # every measured start compile codatdesk's modules; the cache lives in the scratch folder
            # and one unmeasured start fills it.
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(home / "pycache")
            _start([sys.executable, "-m", "codatdesk"], env, probe)

            marks, started, _ = _start([sys.executable, "-m", "codatdesk"], env, probe)
            figures["shown_source_s"] = marks["shown"] - started
            if marks["filled"] is None:
                raise AssertionError("the table never painted rows")
            figures["filled_source_s"] = marks["filled"] - started

            bundle = bundle_path() if size == "full" else None
            if bundle is not None:
                try:
                    marks, started, _ = _start([str(bundle)], env, probe, timeout=20)
                    figures["shown_bundle_s"] = marks["shown"] - started
                    figures["filled_bundle_s"] = marks["filled"] - started
                except RuntimeError as exc:  # a bundle built before the probe existed
                    print(f"B5: the bundle at {bundle} cannot be measured: {str(exc)[:200]}", flush=True)

            marks, started, _ = _start([sys.executable, str(REPO / "benchmarks" / "startup_bare.py")], env, probe)
            figures["bare_shown_s"] = marks["shown"] - started

            _, _, stderr = _start([sys.executable, "-X", "importtime", "-m", "codatdesk"], env, probe)
            figures["_importtime"] = importtime_top(stderr)
    finally:
        sandbox.stop()
    return figures

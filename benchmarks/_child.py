"""One run of one benchmark in this process: ``python -m benchmarks._child B2 full``."""

from __future__ import annotations

import importlib
import sys

from benchmarks.common import emit_result

MODULES = {
    "B1": "benchmarks.b1_webhook_latency",
    "B2": "benchmarks.b2_listener_throughput",
    "B3": "benchmarks.b3_push_throughput",
    "B4": "benchmarks.b4_big_tables",
    "B5": "benchmarks.b5_startup",
    "B6": "benchmarks.b6_catch_up",
    "B7": "benchmarks.b7_team_live",
}


def main() -> None:
    name, size = sys.argv[1], sys.argv[2]
    module = importlib.import_module(MODULES[name])
    emit_result(module.run(size))


if __name__ == "__main__":
    main()

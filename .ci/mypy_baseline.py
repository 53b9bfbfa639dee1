"""mypy with a per-file baseline: code written before the type check may keep the errors it
had, never more; a file with none must stay clean.

    python .ci/mypy_baseline.py            # check (pyproject's [tool.mypy] says what and how strictly)
    python .ci/mypy_baseline.py --update   # record the current counts (after fixing some, or a merge)

The baseline is a count per file, not a list of lines, so editing a file moves no entry;
lower it whenever a file gets better (the check says so).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

BASELINE = Path(__file__).with_name("mypy-baseline.txt")
ERROR = re.compile(r"^(?P<path>[^:\s]+\.py):\d+(?::\d+)?: error: ")


def current_counts() -> tuple[Counter[str], str]:
    run = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--no-error-summary"],
                         capture_output=True, text=True, check=False)
    if run.returncode not in (0, 1) or "error: " in run.stderr:  # 2: mypy itself failed (config, crash)
        sys.exit(f"mypy did not run:\n{run.stdout}{run.stderr}")
    counts = Counter(m["path"] for line in run.stdout.splitlines() if (m := ERROR.match(line)))
    return counts, run.stdout


def recorded() -> Counter[str]:
    counts: Counter[str] = Counter()
    if BASELINE.exists():
        for line in BASELINE.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                count, path = line.split(maxsplit=1)
                counts[path] = int(count)
    return counts


def write(counts: Counter[str]) -> None:
    lines = ["# mypy errors allowed per file (written by .ci/mypy_baseline.py --update; lower only)"]
    lines += [f"{counts[path]} {path}" for path in sorted(counts)]
    BASELINE.write_text("\n".join(lines) + "\n")


def main() -> int:
    counts, output = current_counts()
    if "--update" in sys.argv[1:]:
        write(counts)
        print(f"mypy baseline: {sum(counts.values())} errors in {len(counts)} files recorded in {BASELINE}")
        return 0
    allowed = recorded()
    worse = sorted(path for path in counts if counts[path] > allowed[path])
    better = sorted(path for path in allowed if counts[path] < allowed[path])
    for path in worse:
        print(f"{path}: {counts[path]} mypy errors, the baseline allows {allowed[path]}:")
        print("".join(f"  {line}\n" for line in output.splitlines() if line.startswith(path + ":")), end="")
    if better:
        print("mypy: fewer errors than the baseline in " + ", ".join(better)
              + ": record it with `python .ci/mypy_baseline.py --update`")
    print(f"mypy: {sum(counts.values())} errors in {len(counts)} files, baseline {sum(allowed.values())}; "
          + ("FAILED" if worse else "ok"))
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())

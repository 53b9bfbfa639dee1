"""The command line: global options after the command.

The commands run as subprocesses (`python -m codatdesk.cli`), as a user or a script runs them; they
never touch a real keyring.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from codatdesk.cli import build_parser
from tests.engine_harness import HEADER, row

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def run_cli(args: list[str], *, home: Path | None = None, api_key: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODATDESK_")}
    env.update(PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen",
               PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")  # never the machine's keyring
    if home is not None:
        env["CODATDESK_HOME"] = str(home)
    if api_key is not None:
        env["CODATDESK_API_KEY"] = api_key
    return subprocess.run([sys.executable, "-m", "codatdesk.cli", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


# -- --data-dir after the command ----------------------------------------------------------------

def readme_commands() -> list[list[str]]:
    """Every concrete `codatdesk ...` line of the README's shell blocks, placeholders filled in."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            match = re.match(r"(?:\S*/)?codatdesk(?:\.exe)?(\s.*|$)", line)
            if match:
                commands.append(shlex.split(re.sub(r"<[^>]*>", "X", match.group(1))))
    return commands


def test_every_readme_command_parses_with_data_dir_before_or_after_the_command():
    commands = readme_commands()
    assert ["push", "--all-ready"] in commands and ["list", "--json"] in commands
    parser = build_parser()
    for argv in commands:
        assert parser.parse_args(argv).data_dir is None
        assert parser.parse_args(["--data-dir", "/before", *argv]).data_dir == "/before"
        if argv and not argv[0].startswith("-"):  # a command: the option may follow it
            assert parser.parse_args([*argv, "--data-dir", "/after"]).data_dir == "/after", argv
            assert parser.parse_args(["--data-dir", "/before", *argv, "--data-dir", "/after"]).data_dir == "/after"


def test_every_command_takes_data_dir_after_its_name():
    parser = build_parser()
    for command in ("gui", "serve", "sandbox", "push", "list", "reconcile", "register-webhook", "settings"):
        assert parser.parse_args([command, "--data-dir", "D"]).data_dir == "D"
        assert parser.parse_args(["--data-dir", "D", command]).data_dir == "D", "the subcommand reset it"
    assert parser.parse_args(["import", "x.csv", "--data-dir", "D"]).data_dir == "D"


def test_data_dir_after_the_command_keeps_the_files_there(tmp_path):
    home, chosen = tmp_path / "home", tmp_path / "chosen"
    csv = tmp_path / "expenses.csv"
    csv.write_text(HEADER + row(1) + "\n" + row(2) + "\n", encoding="utf-8")

    done = run_cli(["settings", "set", "listener.port", "9123", "--data-dir", str(chosen)], home=home)
    assert done.returncode == 0, done.stderr
    done = run_cli(["import", str(csv), "--data-dir", str(chosen)], home=home)
    assert done.returncode == 0, done.stderr
    listed = run_cli(["list", "--json", "--data-dir", str(chosen)], home=home)
    assert listed.returncode == 0, listed.stderr

    assert [e["supplier"] for e in json.loads(listed.stdout)["expenses"]] == ["Supplier 1", "Supplier 2"]
    assert json.loads((chosen / "settings.json").read_text())["listener.port"] == 9123
    assert (chosen / "codatdesk.sqlite3").exists()
    assert not home.exists() or not any(home.iterdir()), "files landed in CODATDESK_HOME"
    # Without the option, CODATDESK_HOME (empty) is used: the option really chose the folder.
    assert json.loads(run_cli(["list", "--json"], home=home).stdout)["expenses"] == []

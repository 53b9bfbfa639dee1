"""The command line: global options after the command, and what `codatdesk push` reports and returns.

The commands run as subprocesses (`python -m codatdesk.cli`), as a user or a script runs them; they
never touch a real keyring. `push` runs against the Codat sandbox on 127.0.0.1, its API key given as
CODATDESK_API_KEY.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, select

from codatdesk.cli import build_parser
from codatdesk.engine.headless import compact_ids
from codatdesk.importer import LOCAL_COMPANY_ID, import_file
from codatdesk.sandbox import Sandbox, SandboxConfig, SandboxServer
from codatdesk.settings import Settings
from codatdesk.states import ExpenseStatus
from codatdesk.store.db import open_database
from codatdesk.store.models import Expense
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


# -- push: exit codes and one line per reason ------------------------------------------------------

def test_compact_ids():
    assert compact_ids([11, 1, 2, 3, 4, 5, 8]) == "1-5, 8, 11"
    assert compact_ids([7]) == "7"
    assert compact_ids([1, 3, 5, 6, 7], max_ranges=2) == "1, 3, … (3 more)"


@pytest.fixture
def codat(tmp_path):
    """A sandbox on loopback and a data dir whose settings point at it (as `settings set` would)."""
    sandbox = Sandbox(SandboxConfig(push_delay=0.05, seed=11))
    server = SandboxServer(sandbox, port=0).start()
    home = tmp_path / "push-home"
    home.mkdir()
    Settings(home / "settings.json", environ={}).update({
        "codat.base_url": server.base_url, "codat.company_id": sandbox.company_id,
        "codat.connection_id": sandbox.connection_id,
        "listener.port": 0,  # no `codatdesk serve` to find: push checks Codat itself
    })
    try:
        yield sandbox, home
    finally:
        server.stop()
        sandbox.shutdown()


def import_rows(home: Path, company_id: str, rows: list[str]) -> None:
    path = home / f"import-{company_id}-{len(rows)}.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    engine = open_database(f"sqlite:///{home / 'codatdesk.sqlite3'}")
    try:
        report = import_file(engine, path, company_id)
        assert report.ok, report.errors
    finally:
        engine.dispose()


def statuses(home: Path) -> dict[int, ExpenseStatus]:
    engine = open_database(f"sqlite:///{home / 'codatdesk.sqlite3'}")
    try:
        with Session(engine) as session:
            return {e.id: ExpenseStatus(e.status) for e in session.exec(select(Expense)).all()}
    finally:
        engine.dispose()


def not_pushed_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if " not pushed: " in line]


@pytest.mark.parametrize("no_wait", [False, True], ids=["wait", "no-wait"])
def test_push_with_nothing_sendable_exits_1_with_one_line_per_reason(codat, no_wait):
    sandbox, home = codat
    import_rows(home, sandbox.company_id, [row(i, bank="") for i in range(1, 5)])  # ids 1-4
    import_rows(home, LOCAL_COMPANY_ID, [row(i) for i in range(5, 12)])  # ids 5-11: no company chosen

    done = run_cli(["push", "--all-ready", *(["--no-wait"] if no_wait else []), "--data-dir", str(home)],
                   api_key=sandbox.api_key)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "push: 0 sent, 11 not sent" in done.stdout
    assert not_pushed_lines(done.stderr) == [
        "7 expenses not pushed: no Codat company is chosen for this expense yet (Settings > Codat) [ids 5-11]",
        "4 expenses not pushed: the payment account is missing [ids 1-4]",
    ]
    assert "waiting for Codat" not in done.stdout  # nothing was sent, so nothing to wait for
    assert sandbox.push_operations == {}
    assert set(statuses(home).values()) == {ExpenseStatus.NOT_PUSHED}


def test_push_sends_what_it_can_and_exits_1_for_the_rest(codat):
    sandbox, home = codat
    # A supplier the ledger knows: codatdesk does not send an expense whose supplier is not there (#12).
    import_rows(home, sandbox.company_id, [row(i, supplier="Staples") for i in range(1, 4)]
                + [row(i, bank="") for i in range(4, 6)])

    done = run_cli(["push", "1", "2", "3", "4", "5", "99", "--wait-timeout", "60", "--data-dir", str(home)],
                   api_key=sandbox.api_key)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "push: 3 sent, 3 not sent" in done.stdout
    assert not_pushed_lines(done.stderr) == [
        "2 expenses not pushed: the payment account is missing [ids 4-5]",
        "1 expense not pushed: no such expense [id 99]",
    ]
    assert len(sandbox.push_operations) == 3
    assert statuses(home) == {1: ExpenseStatus.COMPLETE, 2: ExpenseStatus.COMPLETE, 3: ExpenseStatus.COMPLETE,
                              4: ExpenseStatus.NOT_PUSHED, 5: ExpenseStatus.NOT_PUSHED}
    table = [line.split() for line in done.stdout.splitlines() if re.match(r"\s+\d+\s", line)]
    assert [cells[0] for cells in table] == ["1", "2", "3"]  # the final states of what was sent


def test_push_of_everything_ready_exits_0(codat):
    sandbox, home = codat
    import_rows(home, sandbox.company_id, [row(i, supplier="Staples") for i in range(1, 3)])
    done = run_cli(["push", "--all-ready", "--wait-timeout", "60", "--data-dir", str(home)], api_key=sandbox.api_key)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not_pushed_lines(done.stderr) == []
    assert set(statuses(home).values()) == {ExpenseStatus.COMPLETE}
    again = run_cli(["push", "--all-ready", "--data-dir", str(home)], api_key=sandbox.api_key)
    assert again.returncode == 0 and "nothing to push" in again.stdout


def test_push_help_documents_the_exit_codes():
    shown = run_cli(["push", "--help"])
    assert shown.returncode == 0
    codes = shown.stdout.split("exit codes:", 1)[1]
    assert [int(c) for c in re.findall(r"^  (\d)  ", codes, re.M)] == [0, 1, 2, 3]


def test_push_without_anything_asked_for_is_a_usage_error(tmp_path):
    done = run_cli(["push", "--data-dir", str(tmp_path / "empty")])
    assert done.returncode == 2
    assert "nothing to push" in done.stderr and "--all-ready" in done.stderr


def test_the_intake_child_is_this_program_with_one_hidden_argument(monkeypatch):
    """A team server starts its intake as `codatdesk _intake` (a bundle has no `-m`); one started with no input,
    its parent gone before saying anything, ends quietly."""
    import io

    from codatdesk.cli import main
    from codatdesk.webhooks import intake_process

    assert intake_process.child_command() == [sys.executable, "-m", "codatdesk", intake_process.CHILD_ARGUMENT]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert intake_process.child_command() == [sys.executable, intake_process.CHILD_ARGUMENT]
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main([intake_process.CHILD_ARGUMENT]) == 0

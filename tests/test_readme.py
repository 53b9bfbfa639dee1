"""The README's promises, checked: its Python snippet runs, and its Quick start has two commands."""

import re
from pathlib import Path

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def test_the_sandbox_snippet_pushes_and_receives_a_verified_webhook(capsys):
    (snippet,) = re.findall(r"```python\n(.*?)```", README, re.S)
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    try:
        assert namespace["received"].is_set()
        out = capsys.readouterr().out
        assert "Pending" in out and "verified msg_" in out
    finally:
        namespace["receiver"].should_exit = True
        namespace["server"].stop()
        namespace["sandbox"].shutdown()


def test_quick_start_has_the_two_commands_and_ci_runs_the_test_one():
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = re.findall(r"^(\.ci/dev \w+)", quick, re.M)
    assert commands == [".ci/dev demo", ".ci/dev test"]
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text()
    assert "exec .ci/dev test" in ci

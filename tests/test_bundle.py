"""The PyInstaller bundle: build it with build.spec, then run its ``--self-test``.

The build (about a minute on two cores) is cached under ``build/bundle-test/<hash>``,
keyed by the sources, the spec and the tool versions, so a second run only runs the
bundle. Where ``dbus-run-session`` and ``gnome-keyring-daemon`` exist (``.ci/run``
installs them) the self-test talks to a real, unlocked Secret Service; elsewhere the
keyring check may only WARN (``CODATDESK_SELFTEST_ALLOW_NO_KEYRING=1``).
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# The first test builds the bundle with PyInstaller (~70 s here, minutes on a cold machine).
pytestmark = [pytest.mark.bundle, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "bundle-test"
# 146 MB on Linux before #11, plus Babel's CLDR locale data (35 MB: every locale's number format, since
# an accountant's file may be written in any) and openpyxl: 199 MB measured. A jump past this means Qt
# parts or a stray dependency got in.
MAX_BUNDLE_MB = 230
LINE = re.compile(r"^(PASS|WARN|FAIL) ([a-z-]+): (\S.*)$")


def _inputs() -> list[Path]:
    files = [ROOT / "build.spec", ROOT / "pyproject.toml"]
    for folder in ("codatdesk", "resources"):
        files += [p for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sorted(files)


def _fingerprint() -> str:
    import PyInstaller

    digest = hashlib.sha256(f"{sys.version}|{PyInstaller.__version__}|{platform.platform()}".encode())
    for path in _inputs():
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _executable(dist: Path, name: str = "codatdesk") -> Path:
    return dist / "codatdesk" / (f"{name}.exe" if os.name == "nt" else name)


@pytest.fixture(scope="session")
def bundle() -> Path:
    """dist/codatdesk of a build of the current sources (built once per change)."""
    pytest.importorskip("PyInstaller", reason="PyInstaller is not installed (pip install -e '.[build]')")
    if sys.platform.startswith("linux") and shutil.which("objdump") is None:
        pytest.skip("PyInstaller needs objdump on Linux: install binutils")
    home = CACHE / _fingerprint()
    done = home / "built"
    if not done.exists():
        for old in CACHE.glob("*"):  # keep one build, not one per edit
            shutil.rmtree(old, ignore_errors=True)
        home.mkdir(parents=True)
        result = subprocess.run(
            [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
             "--distpath", str(home / "dist"), "--workpath", str(home / "work"), str(ROOT / "build.spec")],
            cwd=ROOT, capture_output=True, text=True, timeout=1200)
        assert result.returncode == 0, f"PyInstaller failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
        done.write_text("ok\n")
    executable = _executable(home / "dist")
    assert executable.is_file(), f"no executable at {executable}"
    return home / "dist" / "codatdesk"


def _real_keyring_available() -> bool:
    return sys.platform.startswith("linux") and bool(shutil.which("dbus-run-session")) \
        and bool(shutil.which("gnome-keyring-daemon"))


def test_bundle_self_test_passes(bundle, tmp_path):
    executable = _executable(bundle.parent, "codatdesk-cli")  # the console program: it prints on Windows too
    env = {**os.environ, "CODATDESK_HOME": str(tmp_path / "home"), "QT_QPA_PLATFORM": "offscreen"}
    env.pop("PYTHON_KEYRING_BACKEND", None)
    real_keyring = _real_keyring_available()
    if real_keyring:
        env["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")  # a throwaway login keyring, not the user's
        command = ["dbus-run-session", "--", "sh", "-c",
                   'echo pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec "$0" --self-test',
                   str(executable)]
    else:
        env["CODATDESK_SELFTEST_ALLOW_NO_KEYRING"] = "1"
        command = [str(executable), "--self-test"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    verdicts = {}
    for line in done.stdout.splitlines()[:-1]:
        match = LINE.match(line)
        assert match, f"not a check line: {line!r}\n{report}"
        verdicts[match.group(2)] = match.group(1)
    expected = {"version", "imports", "resources", "files", "tls", "migrations", "keyring", "webhook-port", "sandbox",
                "window", "push"}
    assert set(verdicts) == expected, report
    not_passed = {name: v for name, v in verdicts.items() if v != "PASS"}
    if real_keyring:
        assert not_passed == {}, report
        assert "PASS keyring: keyring.backends.SecretService.Keyring" in done.stdout
    else:
        assert set(not_passed) <= {"keyring"}, report
    assert "(bundle, data folder" in done.stdout.splitlines()[-1]


def test_bundle_is_small_and_holds_no_path_of_this_checkout(bundle):
    needle = str(ROOT).encode()
    size = 0
    leaks = []
    for path in bundle.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            size += len(data)
            if needle in data:
                leaks.append(str(path.relative_to(bundle)))
    # Python modules sit compressed in the PYZ archive: look inside it too.
    from PyInstaller.loader.pyimod01_archive import ZlibArchiveReader

    pyz = ZlibArchiveReader(str(next((bundle.parent.parent / "work").rglob("PYZ-00.pyz"))))
    for name in pyz.toc:
        if needle in (pyz.extract(name, raw=True) or b""):  # raw: decompressed, not unmarshalled
            leaks.append(f"PYZ:{name}")
    assert leaks == [], f"the bundle names {ROOT}: {leaks}"
    assert size < MAX_BUNDLE_MB * 1_000_000, f"the bundle grew to {size / 1e6:.0f} MB"
    for unwanted in ("translations", "qml", "QtWebEngineCore", "libQt6Quick", "libQt6Pdf", "libgtk-3"):
        assert not list(bundle.rglob(f"*{unwanted}*")), f"{unwanted} got into the bundle"
    assert list(bundle.rglob("libQt6DBus*")), "libQt6DBus must stay (QtGui links it)"


def test_bundle_has_the_windowed_and_the_console_program_and_both_say_the_version(bundle):
    from codatdesk import __version__
    from codatdesk.version import pyproject_version

    suffix = ".exe" if os.name == "nt" else ""
    assert (bundle / f"codatdesk{suffix}").is_file()
    cli = bundle / f"codatdesk-cli{suffix}"
    assert cli.is_file(), f"no console program in {bundle}: {sorted(p.name for p in bundle.iterdir())}"
    printed = {}
    # A windowed .exe has no stdout on Windows: there only the console program can print.
    for name in ("codatdesk-cli",) if os.name == "nt" else ("codatdesk", "codatdesk-cli"):
        done = subprocess.run([str(bundle / f"{name}{suffix}"), "--version"], capture_output=True, text=True,
                              timeout=60, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
        assert done.returncode == 0, done.stderr
        printed[name] = done.stdout.strip()
    # One version everywhere: pyproject.toml, the installed metadata, the bundle's copy of it.
    assert __version__ == pyproject_version(ROOT / "pyproject.toml")
    assert set(printed.values()) == {f"codatdesk {__version__}"}
    # A wheel install ships dist-info/METADATA; a setuptools editable one, .egg-info/PKG-INFO.
    metadata = [*bundle.rglob("codatdesk-*.dist-info/METADATA"), *bundle.rglob("codatdesk.egg-info/PKG-INFO")]
    assert len(metadata) == 1 and f"\nVersion: {__version__}\n" in metadata[0].read_text()
    assert [p.name for p in metadata[0].parent.iterdir()] == [metadata[0].name], "direct_url.json names the checkout"

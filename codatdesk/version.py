"""The one version of codatdesk: the package metadata, made from pyproject.toml's ``version``.

An install (``pip install``) and the bundle (build.spec copies the metadata in) read it
with importlib.metadata; a source checkout that was never installed reads pyproject.toml
beside the package. The About box, ``--version``, the self-test, the bundle's file
properties and the release name all come from here.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "codatdesk"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def pyproject_version(pyproject: Path = PYPROJECT) -> str | None:
    """``[project] version`` of a pyproject.toml, or None where there is none (a bundle, a wheel)."""
    try:
        import tomllib

        return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
    except (OSError, KeyError, ValueError):
        return None


def current_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return pyproject_version() or "0+unknown"


def numeric_parts(version: str) -> tuple[int, int, int, int]:
    """Four numbers for a Windows version resource: 0.1.0rc1 -> (0, 1, 0, 0)."""
    numbers = [int(re.match(r"\d*", part).group() or 0) for part in version.split(".")[:4]]
    return tuple(numbers + [0] * (4 - len(numbers)))  # type: ignore[return-value]


__version__ = current_version()


class DataFromNewerVersion(Exception):
    """The database was written by a newer codatdesk: its schema revision is unknown here.

    Raised before anything is changed; the CLI prints it and the window shows it.
    """

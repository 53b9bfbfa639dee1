"""codatdesk: push expenses to accounting software through Codat."""

from codatdesk.version import __version__  # the package metadata (pyproject.toml), see version.py

__all__ = ["__version__"]

"""Public URL helpers shared by the providers, the health check and registration."""

from __future__ import annotations

from urllib.parse import urlsplit


def normalize_public_url(value: str) -> str | None:
    """``expenses.example.com`` -> ``https://expenses.example.com``; None if it is no usable URL."""
    value = (value or "").strip()
    if not value:
        return None
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return value.rstrip("/")


def webhook_url(public_url: str | None, listener_path: str) -> str | None:
    """The address Codat posts to: the tunnel's base URL plus the listener path.

    A manual URL that already ends with the path is taken as it is, since users
    often paste the full webhook address.
    """
    if not public_url:
        return None
    base = public_url.rstrip("/")
    path = "/" + (listener_path or "").strip("/")
    if path != "/" and urlsplit(base).path.rstrip("/") == path.rstrip("/"):
        return base
    return base + (path if path != "/" else "")


def url_path(url: str) -> str:
    return urlsplit(url).path.rstrip("/") or "/"

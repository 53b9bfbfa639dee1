"""Manual provider: the user runs a tunnel elsewhere and enters its public URL."""

from __future__ import annotations

from .state import ERROR, UP, TunnelState
from .urls import normalize_public_url


def manual_state(settings) -> TunnelState:
    raw = str(settings.get("tunnel.public_url") or "").strip()
    url = normalize_public_url(raw)
    if url is None:
        if not raw:
            return TunnelState(ERROR, "Enter the public URL of your tunnel in Settings > Tunnel.")
        return TunnelState(ERROR, f"'{raw}' is not a usable public URL (expected https://host...). "
                                  "Fix it in Settings > Tunnel.")
    # Nothing to supervise: reachability is the health check's job.
    return TunnelState(UP, "tunnel run outside codatdesk", url)

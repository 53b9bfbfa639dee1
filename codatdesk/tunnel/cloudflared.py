"""cloudflared: a quick tunnel (random ``*.trycloudflare.com``, no account) or a named tunnel
with a stable hostname (``tunnel.hostname``; see docs/tunnels.md for the one-time setup).

cloudflared logs to stderr as ``<time> <LEVEL> <message> key=value...``. A quick
tunnel announces its URL inside an ASCII box::

    2024-05-01T10:00:00Z INF +--------------------------------------------------------------------------------------------+
    2024-05-01T10:00:00Z INF |  Your quick Tunnel has been created! Visit it at (it may take some time to be reachable):  |
    2024-05-01T10:00:00Z INF |  https://words-words-words.trycloudflare.com                                              |
    2024-05-01T10:00:00Z INF +--------------------------------------------------------------------------------------------+

and every run logs ``Registered tunnel connection connIndex=0 ...`` once the edge accepts it.
"""

from __future__ import annotations

import re

from .base import ProcessProvider, ProviderRun, RunSink
from .urls import normalize_public_url

_BOX_URL = re.compile(r"\|\s+(https?://[^\s|]+)\s+\|")
# Fallback should the box change; api.trycloudflare.com shows up in request errors.
_QUICK_URL = re.compile(r"https://(?!api\.)[a-z0-9-]+\.trycloudflare\.com")
_LEVEL = re.compile(r"^\S+\s+(ERR|WRN|INF|DBG|FTL)\s+(.*)$")
_REGISTERED = "Registered tunnel connection"
# Named-tunnel set-up mistakes: restarting cannot fix them.
_CONFIG_ERRORS = (
    "cannot determine default origin certificate",
    "origin certificate path",
    "credentials file",
    "tunnel not found",
    "no such tunnel",
    "error parsing tunnel id",
)

DEFAULT_TUNNEL_NAME = "codatdesk"
INSTALL_URL = "https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/downloads/"


class CloudflaredProvider(ProcessProvider):
    name = "cloudflared"
    path_setting = "tunnel.cloudflared_path"
    install_url = INSTALL_URL

    @property
    def hostname(self) -> str:
        return str(self.settings.get("tunnel.hostname") or "").strip()

    @property
    def tunnel_name(self) -> str:
        """The named tunnel to run: ``tunnel.cloudflared_tunnel`` if that setting exists and is set,
        else ``codatdesk`` (the name docs/tunnels.md tells users to create)."""
        from codatdesk.settings import BY_KEY

        if "tunnel.cloudflared_tunnel" in BY_KEY:
            name = str(self.settings.get("tunnel.cloudflared_tunnel") or "").strip()
            if name:
                return name
        return DEFAULT_TUNNEL_NAME

    @property
    def named(self) -> bool:
        return bool(self.hostname)

    def stable_url(self) -> str | None:
        return normalize_public_url(self.hostname) if self.named else None

    def preflight(self) -> str | None:
        if self.named and self.stable_url() is None:
            return f"The tunnel hostname '{self.hostname}' is not a valid host name. Fix it in Settings > Tunnel."
        return None

    def argv(self, binary: str, local_url: str) -> list[str]:
        # --no-autoupdate: an app-managed binary must not replace itself mid-run.
        if self.named:
            return [binary, "tunnel", "--no-autoupdate", "run", "--url", local_url, self.tunnel_name]
        return [binary, "tunnel", "--no-autoupdate", "--url", local_url]

    def new_run(self, sink: RunSink) -> ProviderRun:
        return _CloudflaredRun(self, sink)


class _CloudflaredRun(ProviderRun):
    def __init__(self, provider: CloudflaredProvider, sink: RunSink) -> None:
        self.provider = provider
        self.sink = sink

    def on_line(self, stream: str, line: str) -> None:
        if not self.provider.named:
            box = _BOX_URL.search(line)
            quick = None if box or " ERR " in line else _QUICK_URL.search(line)
            if box or quick:
                url = box.group(1) if box else quick.group(0)
                self.sink.url_found(url.rstrip("/"))
                return
        if _REGISTERED in line:
            self.sink.ready()
            return
        level = _LEVEL.match(line)
        if level and level.group(1) in ("ERR", "FTL"):
            message = level.group(2).strip()
            lowered = message.lower()
            if self.provider.named and any(marker in lowered for marker in _CONFIG_ERRORS):
                self.sink.fatal(
                    f"cloudflared cannot run the named tunnel '{self.provider.tunnel_name}': {message}. "
                    "Set it up once as described in the tunnel help (cloudflared tunnel login, "
                    "cloudflared tunnel create, cloudflared tunnel route dns), or clear the hostname "
                    "in Settings > Tunnel to use a quick tunnel."
                )
            else:
                self.sink.problem(message)

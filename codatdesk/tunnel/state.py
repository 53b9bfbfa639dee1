"""What the status bar needs to know about the tunnel, as plain values."""

from __future__ import annotations

from dataclasses import dataclass

OFF = "off"  # provider "none": nothing to run, Codat cannot reach this computer
STARTING = "starting"
UP = "up"
DOWN = "down"  # died or unreachable; a restart is scheduled
ERROR = "error"  # needs the user (missing binary, bad token, bad URL); no automatic restart


@dataclass(frozen=True)
class TunnelState:
    status: str  # off|starting|up|down|error
    message: str = ""
    public_url: str | None = None

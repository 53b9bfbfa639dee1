"""The team's server (``codatdesk serve`` on a shared PostgreSQL): the core as usual, plus the leader
lock and the push-request loop. Every server listens and stores webhooks (the shared inbox counts a
delivery once); only the active one claims and sends what desktops asked for."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

from codatdesk.engine.core import Core
from codatdesk.team.leader import LeaderLock, leader_lock
from codatdesk.team.requests import RequestServer


def new_server_id() -> str:
    """Names this server's claims: the host and process, unique per start."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class TeamServer:
    leader: LeaderLock
    requests: RequestServer

    def stop(self) -> None:
        """The loop first (a batch in hand finishes), then the lock, so a standby takes over at once."""
        self.requests.stop()
        self.leader.stop()


def start_team_server(core: Core, *, retry_seconds: float = 1.0, interval: float = 0.5) -> TeamServer | None:
    """Start the team parts when the core's store is shared (PostgreSQL); None on one person's SQLite."""
    if core.db.dialect.name != "postgresql":
        return None
    server_id = new_server_id()
    lock = leader_lock(core.db, retry_seconds=retry_seconds)
    assert isinstance(lock, LeaderLock)
    loop = RequestServer(core.db, core.pusher, server_id=server_id, is_leader=lambda: lock.is_leader,
                         interval=interval)
    core.reconciler.active = lambda: lock.is_leader

    def on_change(leader: bool) -> None:
        if leader:  # taking over: the requests at once, and a full reconciliation (the first run's)
            loop.wake()
            core.reconciler.run_soon(everything=True)

    lock.on_change = on_change
    lock.start()
    loop.start()
    return TeamServer(lock, loop)

"""Issue #5 end to end: the app starts a (fake) cloudflared, registers the consumer with the sandbox,
shows the tunnel healthy, and pushes complete through deliveries that travel through the tunnel;
killing the tunnel shows it down, then healthy again after the restart."""

from __future__ import annotations

import os
import signal

import pytest
from sqlmodel import Session, select

from codatdesk.sandbox import SandboxConfig
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.models import Expense
from tests.conftest import wait_until
from tests.engine_harness import Harness, row
from tests.tunnel_support import Recorder, install_fakes

pytestmark = pytest.mark.skipif(os.name != "posix", reason="fake binaries are POSIX scripts")


def test_pushes_complete_through_the_tunnel_and_health_follows_the_tunnel(tmp_path, monkeypatch):
    install_fakes(tmp_path, monkeypatch)
    h = Harness(tmp_path, SandboxConfig(push_delay=0.05, seed=3))
    h.settings_overrides = {"tunnel.provider": "cloudflared", "tunnel.health_interval_seconds": 3600}
    h.start_sandbox()
    try:
        core = h.start_core(register=False)
        events = Recorder()
        core.bus.subscribe(events)

        def health() -> str | None:
            reports = events.health()
            return reports[-1].status if reports else None

        wait_until(lambda: core.tunnel.tunnel.public_url, 15, message="the tunnel's public URL")
        public = core.tunnel.tunnel.public_webhook_url
        assert public != core.listener_url  # Codat is given the tunnel's address, not the loopback one
        consumer = core.register_webhook()
        assert consumer["url"] == public
        h.secrets[:] = [h.sandbox.consumer_secret(consumer["id"])]  # what the user pastes from the Portal
        # The check made before the secret was pasted failed; a few good ones make it healthy.
        wait_until(lambda: core.tunnel.health.check_now() is not None and health() == "healthy", 30,
                   interval=0.05, message="tunnel healthy")

        h.import_rows([row(i) for i in range(3)])
        with Session(core.db) as session:
            ids = list(session.exec(select(Expense.id)))
        core.push(ids).wait(10)

        def statuses():
            with Session(core.db) as session:
                return [e.status for e in session.exec(select(Expense))]

        wait_until(lambda: statuses() == [S.COMPLETE] * 3, 15, message="complete through the tunnel")
        # Codat (the sandbox) knows only the tunnel's URL: every delivery it made went through the tunnel.
        assert [c["url"] for c in core.client().list_webhook_consumers()] == [public]

        pid = core.tunnel.tunnel.pid
        os.kill(pid, signal.SIGKILL)
        core.tunnel.health.check_soon()
        wait_until(lambda: health() == "down", 15, message="tunnel down after the kill")
        core.tunnel.tunnel.retry_now()
        wait_until(lambda: core.tunnel.tunnel.pid not in (None, pid) and core.tunnel.tunnel.public_url, 15,
                   message="tunnel restarted")
        wait_until(lambda: core.tunnel.health.check_now() is not None and health() == "healthy", 30,
                   interval=0.05, message="healthy again after the restart")
    finally:
        h.stop()

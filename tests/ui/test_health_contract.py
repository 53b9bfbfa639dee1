"""The tunnel service (producer) and the status bar (consumer) together, through the real bridge:
a tunnel that is down or broken is drawn bad (it was drawn "ok" while the two spoke different dicts)."""

from __future__ import annotations

import os

import pytest
from PySide6.QtWidgets import QStatusBar

from codatdesk.events import EventBus, HealthSnapshot, TunnelStateChanged
from codatdesk.tunnel import Backoff, TunnelService
from codatdesk.tunnel.state import DOWN, TunnelState
from codatdesk.ui.bridge import CoreBridge
from codatdesk.ui.status_bar import HealthPanel
from tests.tunnel_support import install_fakes, make_settings

pytestmark = pytest.mark.skipif(os.name != "posix", reason="fake binaries are POSIX scripts")


@pytest.fixture
def wired(qtbot):
    bus, bridge, bar = EventBus(), CoreBridge(), QStatusBar()
    qtbot.addWidget(bar)
    panel = HealthPanel(bar)
    bridge.connect_queued("healthChanged", panel.apply)
    bridge.attach(bus)
    yield bus, panel
    bridge.detach()


def test_a_tunnel_that_cannot_start_is_drawn_bad(qtbot, tmp_path, monkeypatch, wired):
    bus, panel = wired
    install_fakes(tmp_path, monkeypatch)
    settings = make_settings(tmp_path, tunnel__provider="cloudflared",
                             tunnel__cloudflared_path=str(tmp_path / "nowhere" / "cloudflared"))
    service = TunnelService(settings, "http://127.0.0.1:9", bus)
    try:
        service.start()
        qtbot.waitUntil(lambda: panel.items["tunnel"].state == "bad", timeout=10_000)
    finally:
        service.stop()
    assert "not found" in panel.items["tunnel"].toolTip()


def glyph_hue(item) -> int:
    """The hue (0-359) of the status glyph's strongest coloured pixels, as painted."""
    from PySide6.QtGui import QColor

    image = item.icon.grab().toImage()
    colours = [QColor(image.pixel(x, y)) for x in range(image.width()) for y in range(image.height())]
    vivid = [c for c in colours if c.saturation() > 80 and c.value() > 60]
    assert vivid, "the glyph is not painted"
    hues = sorted(c.hue() for c in vivid)
    return hues[len(hues) // 2]


def test_a_tunnel_that_goes_down_is_drawn_down_then_up_again(qtbot, tmp_path, monkeypatch, wired):
    import signal

    bus, panel = wired
    install_fakes(tmp_path, monkeypatch)
    # The restart waits 5 s: long enough to see "down" drawn before the tunnel is up again.
    service = TunnelService(make_settings(tmp_path, tunnel__provider="cloudflared"), "http://127.0.0.1:9", bus,
                            backoff=lambda: Backoff(initial=5.0, factor=2.0, cap=5.0, reset_after=5.0))
    try:
        service.start()
        qtbot.waitUntil(lambda: panel.items["tunnel"].state == "ok", timeout=15_000)
        up_hue = glyph_hue(panel.items["tunnel"])
        os.kill(service.pid, signal.SIGKILL)
        qtbot.waitUntil(lambda: panel.items["tunnel"].state == "bad", timeout=5_000)
        # What is painted, not only the state: the glyph of a down tunnel is not green.
        down_hue = glyph_hue(panel.items["tunnel"])
        assert 80 <= up_hue <= 180, up_hue  # green to teal
        assert not 80 <= down_hue <= 180, down_hue
        assert service.state.status == DOWN
        assert panel.items["tunnel"].text.text().startswith("Tunnel: down")
        assert "killed" in panel.items["tunnel"].toolTip()
        qtbot.waitUntil(lambda: panel.items["tunnel"].state == "ok", timeout=15_000)
    finally:
        service.stop()


def test_a_view_that_starts_late_reads_the_current_tunnel_state(qtbot):
    bus, snapshot = EventBus(), HealthSnapshot()
    bus.subscribe(snapshot)
    bus.publish(TunnelStateChanged(TunnelState(DOWN, "cloudflared was killed; restarting")))
    bar = QStatusBar()
    qtbot.addWidget(bar)
    panel = HealthPanel(bar)  # created after the event
    for fact in snapshot.current():
        panel.apply(fact)
    assert panel.items["tunnel"].state == "bad"
    assert "restarting" in panel.items["tunnel"].toolTip()

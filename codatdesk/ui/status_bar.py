"""Status bar pieces: push progress with Cancel, and health (listener, tunnel, Codat, rate limit, last webhook)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStatusBar,
    QWidget,
)

from codatdesk.machines import connection_is_down
from codatdesk.states import ExpenseStatus
from codatdesk.ui.formatting import format_timestamp
from codatdesk.ui.status_style import is_dark_palette, status_pixmap

if TYPE_CHECKING:  # codatdesk.events is imported when the first event arrives, not before the window shows
    from codatdesk.events import HealthEvent, PushProgress
    from codatdesk.tunnel.state import TunnelState

# Health reuses the status glyphs so "good/bad/working" look the same everywhere.
HEALTH_GLYPH = {"ok": ExpenseStatus.COMPLETE, "bad": ExpenseStatus.FAILED, "busy": ExpenseStatus.IN_PROGRESS,
                "unknown": ExpenseStatus.NOT_PUSHED, "warn": ExpenseStatus.OUTCOME_UNKNOWN}
# TunnelState.status -> look. Down or needing the user is bad; off means none is configured (not an error).
# (Plain strings: importing codatdesk.tunnel would load its HTTP stack before the window shows.)
TUNNEL_LOOK = {"up": "ok", "starting": "busy", "down": "bad", "error": "bad", "off": "unknown"}


class PushProgressWidget(QWidget):
    """One batch: "Pushing 3 of 10 · 3 sent" [=====    ] [Cancel]."""

    cancelRequested = Signal(int)

    def __init__(self, batch_id: int, total: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.batch_id = batch_id
        self.batch: Any = None  # the core's PushBatch once known (progress can arrive first)
        self.finished = False
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setFixedWidth(110)
        self.bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop sending the rest of this batch (rows already sent stay sent)")
        self.cancel_button.clicked.connect(self._cancel)
        # Only as wide as needed: the status bar's message area keeps the rest.
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        from codatdesk.events import PushProgress

        self.update_progress(PushProgress(batch_id, 0, total, "starting"))

    def update_progress(self, event: PushProgress) -> None:
        self.bar.setRange(0, max(1, event.total))
        self.bar.setValue(event.done)
        if event.finished:
            self.finished = True
            self.label.setText(f"Push finished: {event.message}" if event.message else "Push finished")
            self.cancel_button.hide()
        else:
            detail = f" · {event.message}" if event.message else ""
            self.label.setText(f"Pushing {event.done} of {event.total}{detail}")
        self.setAccessibleDescription(self.label.text())

    def _cancel(self) -> None:
        if self.batch is not None:
            self.batch.cancel()
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling…")
        self.cancelRequested.emit(self.batch_id)


class PushProgressArea:
    """Keeps one progress widget per running batch in the status bar; removes finished ones after a while."""

    LINGER_MS = 4000

    def __init__(self, status_bar: QStatusBar) -> None:
        self._status_bar = status_bar
        self.widgets: dict[int, PushProgressWidget] = {}

    def track(self, batch: Any) -> PushProgressWidget:
        widget = self._widget(batch.id, batch.total)
        widget.batch = batch
        return widget

    def on_progress(self, event: PushProgress) -> None:
        widget = self._widget(event.batch_id, event.total)
        widget.update_progress(event)
        if event.finished:
            QTimer.singleShot(self.LINGER_MS, widget, lambda: self._remove(event.batch_id))

    def _widget(self, batch_id: int, total: int) -> PushProgressWidget:
        widget = self.widgets.get(batch_id)
        if widget is None:
            widget = PushProgressWidget(batch_id, total)
            self.widgets[batch_id] = widget
            self._status_bar.insertPermanentWidget(0, widget)
            widget.show()
        return widget

    def _remove(self, batch_id: int) -> None:
        widget = self.widgets.pop(batch_id, None)
        if widget is not None:
            self._status_bar.removeWidget(widget)
            widget.deleteLater()

    def running(self) -> list[PushProgressWidget]:
        return [w for w in self.widgets.values() if not w.finished]


class HealthItem(QWidget):
    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.state = "unknown"
        self.icon = QLabel()
        self.text = QLabel(f"{title}: …")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(4)
        layout.addWidget(self.icon)
        layout.addWidget(self.text)
        self.set(f"{title}: …", "unknown")

    def set(self, text: str, state: str, tooltip: str = "") -> None:
        self.state = state
        self.text.setText(text)
        self.icon.setPixmap(status_pixmap(HEALTH_GLYPH[state], is_dark_palette(), 14,
                                          self.devicePixelRatioF()))
        self.setToolTip(tooltip or text)
        self.setAccessibleName(f"{text} ({state})")

    def restyle(self) -> None:
        self.set(self.text.text(), self.state, self.toolTip())


class HealthPanel:
    """The permanent right side of the status bar. Fed by typed health events (``HealthEvent``)."""

    def __init__(self, status_bar: QStatusBar) -> None:
        self.items = {key: HealthItem(title) for key, title in (
            ("listener", "Listener"), ("tunnel", "Tunnel"), ("connection", "Codat"),
            ("ratelimit", "Rate limit"), ("last_webhook", "Last webhook"))}
        for item in self.items.values():
            status_bar.addPermanentWidget(item)
        self.items["tunnel"].set("Tunnel: not set up", "unknown",
                                 "No public URL yet: Codat cannot reach the listener from the internet.")
        # "Codat: …" is the accounting connection of the company the window shows, never of another one:
        # a webhook or check about any company is kept here and drawn when (and if) its company is shown.
        self._connection_of: dict[str, str] = {}
        self._shown_company: str | None = None
        self.show_company(None)
        self.items["ratelimit"].set("Rate limit: –", "unknown", "Codat requests left in this window")
        self.items["last_webhook"].set("Last webhook: none yet", "unknown")

    def set_listener(self, url: str | None) -> None:
        if url:
            short = url.split("://", 1)[-1].split("/", 1)[0]  # host:port; the full URL is in the tooltip
            self.items["listener"].set(f"Listener: {short}", "ok", f"Webhooks are received at {url}")
        else:
            self.items["listener"].set("Listener: off", "bad", "The webhook listener is not running: "
                                                              "statuses only change when reconciliation runs.")

    def apply(self, event: HealthEvent) -> None:
        """Draw one typed health fact (the fields are the producer's own: no string keys to drift)."""
        from codatdesk.events import (
            ConnectionChecked,
            ListenerStateChanged,
            RateLimitChanged,
            TunnelStateChanged,
            WebhookArrived,
        )

        match event:
            case ListenerStateChanged(url=url, error=error):
                if url and not error:
                    self.set_listener(url)
                else:
                    self.items["listener"].set("Listener: down", "bad", error or "The webhook listener stopped: "
                                               "statuses only change when reconciliation runs.")
            case TunnelStateChanged(state=state, provider=provider, webhook_url=hook):
                self._set_tunnel(state, provider, hook)
            case ConnectionChecked(company_id=company, status=status):
                self.set_connection(company, status)
            case RateLimitChanged(remaining=remaining, limit=limit):
                state = "ok" if not limit or remaining > 0.1 * limit else ("warn" if remaining > 0 else "bad")
                shown = f"{remaining:,} left" + (f" of {limit:,}" if limit else "")
                self.items["ratelimit"].set(f"Rate limit: {shown}", state,
                                            "Codat requests left before it asks us to wait")
            case WebhookArrived(at=moment):
                full = format_timestamp(moment)
                today = dt.date.today().isoformat()
                short = full.split(" ", 1)[1] if full.startswith(today) else full
                self.items["last_webhook"].set(f"Last webhook: {short}", "ok", f"The newest delivery arrived at {full}")
            case _:
                pass  # tunnel health, registration, dropped deliveries: shown elsewhere (notices, activity view)

    def _set_tunnel(self, state: TunnelState, provider: str, hook: str | None) -> None:
        look = TUNNEL_LOOK.get(state.status, "unknown")
        url = state.public_url or ""
        short = url.split("://", 1)[-1].rstrip("/")
        if len(short) > 40:
            short = short[:39] + "…"
        shown = short if state.status == "up" else (f"{state.status} ({short})" if short else state.status)
        if state.status == "off":
            shown = "not set up"
        why = state.message or state.status
        tooltip = f"{provider + ': ' if provider and provider != 'none' else ''}{why}" + (f"\n{hook}" if hook else "")
        self.items["tunnel"].set(f"Tunnel: {shown}", look, tooltip)

    def set_connection(self, company_id: str, status: str) -> None:
        """``company_id``'s accounting connection is ``status`` (shown if that company is the one shown)."""
        self._connection_of[company_id] = status
        if company_id == self._shown_company:
            self._draw_connection(company_id, status)

    def show_company(self, company_id: str | None) -> None:
        """The window now shows ``company_id``: draw what is known of its connection."""
        self._shown_company = company_id
        if not company_id:  # never a bare "Codat: …": say what is missing
            self.items["connection"].set("Codat: no company chosen", "unknown",
                                         "Choose a Codat company and connection in Settings > Codat")
            return
        self._draw_connection(company_id, self._connection_of.get(company_id, "not checked yet"))

    def _draw_connection(self, company_id: str, status: str) -> None:
        # Green only for Linked: "not checked yet", "unknown (…)" and the like are not known to be up either.
        state = "bad" if connection_is_down(status) else ("ok" if status == "Linked" else "unknown")
        self.items["connection"].set(f"Codat: {status}", state, f"Accounting connection of {company_id}: {status}")

    def restyle(self) -> None:
        for item in self.items.values():
            item.restyle()


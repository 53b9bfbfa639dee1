"""Views that are tabs re-read the store only while someone can see them.

A hidden tab that reloads on every core event costs the GUI thread for nothing (a
webhook burst made the hidden activity tab the GUI thread's largest cost). A view
mixes in :class:`ReloadOnShow`, implements ``reload()``, and calls
``request_reload()`` where it used to call ``reload()``: visible, it reloads now;
hidden, it only remembers, and catches up in its next ``showEvent``.
"""

from __future__ import annotations

from PySide6.QtGui import QHideEvent, QShowEvent


class ReloadOnShow:
    """Mix in before ``QWidget``: ``class MyView(ReloadOnShow, QWidget)``.

    ``reload_each_time_shown``: also reload whenever the view comes back (another tab
    was chosen in between), for views that are not told about every change they show.
    """

    reload_each_time_shown = False
    _reload_pending = True  # nothing is loaded until the view is first shown

    def reload(self) -> None:  # pragma: no cover - every view implements it
        raise NotImplementedError

    def request_reload(self) -> None:
        if self.isVisible():  # type: ignore[attr-defined]
            self._reload_pending = False
            self.reload()
        else:
            self._reload_pending = True

    @property
    def reload_pending(self) -> bool:
        return self._reload_pending

    def showEvent(self, event: QShowEvent) -> None:
        if self._reload_pending:
            self._reload_pending = False
            self.reload()
        super().showEvent(event)  # type: ignore[misc]

    def hideEvent(self, event: QHideEvent) -> None:
        if self.reload_each_time_shown and not event.spontaneous():  # another tab, not a minimised window
            self._reload_pending = True
        super().hideEvent(event)  # type: ignore[misc]

"""The last push's result, kept above the table until the next push or until closed.

"10 complete, 2 failed, 1 waiting": counted from the table's rows as they change, so it
is right whichever way the results arrive (webhook, reconciliation, a late success).
A button filters the table to the rows that need attention.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from codatdesk.states import ExpenseStatus

S = ExpenseStatus
# How each status is counted in the summary, in the order it is said.
_GROUPS = (("complete", (S.COMPLETE,)), ("failed", (S.FAILED,)), ("outcome unknown", (S.OUTCOME_UNKNOWN,)),
           ("waiting", (S.IN_PROGRESS, S.WAITING, S.QUEUED)), ("not sent", (S.NOT_PUSHED,)))
NEEDS_ATTENTION = (S.FAILED, S.OUTCOME_UNKNOWN)


def summarise(statuses: Iterable[ExpenseStatus], held_back: int = 0) -> tuple[str, bool]:
    """("10 complete, 2 failed, 1 waiting", final): the counts said in plain words, and whether
    no row waits for Codat any more. ``held_back``: rows explain-before-send kept back."""
    counts = Counter(statuses)
    parts = [f"{n} {label}" for label, group in _GROUPS if (n := sum(counts[s] for s in group))]
    if held_back:
        parts.append(f"{held_back} held back before sending")
    waiting = counts[S.IN_PROGRESS] + counts[S.WAITING]
    return ", ".join(parts) or "nothing sent", waiting == 0


class PushSummaryBar(QFrame):
    """One line: "Last push finished: 10 complete, 2 failed." [Show the 2 to look at] [×]."""

    showAttentionRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pushSummary")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.ids: list[int] = []
        self.held_back = 0
        self.batch: Any = None  # the core's PushBatch: final only once it has sent everything
        self.final = False
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setAccessibleName("Last push result")
        self.attention_button = QPushButton()
        self.attention_button.setToolTip("Show only the failed rows and those of unknown outcome")
        self.attention_button.clicked.connect(self.showAttentionRequested)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Hide this summary")
        self.close_button.setAccessibleName("Hide the push summary")
        self.close_button.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 3, 3, 3)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.attention_button)
        layout.addWidget(self.close_button)
        self.hide()

    def track(self, ids: Iterable[int], held_back: int = 0) -> None:
        """A new push: these ids were sent (``held_back`` more were kept back by the check)."""
        self.ids = list(ids)
        self.held_back = held_back
        self.batch = None
        self.final = False

    def attach_batch(self, batch: Any) -> None:
        """The batch sending ``ids`` (until it is done, a row not sent yet is not "not sent")."""
        self.batch = batch

    def tracks_any(self, ids: Iterable[int]) -> bool:
        return bool(self.ids) and not set(self.ids).isdisjoint(ids)

    def update_counts(self, status_of: Callable[[int], ExpenseStatus | None]) -> None:
        """Recount from the rows (``status_of`` an id: its status, None when not in the table)."""
        if not self.ids:
            return
        statuses = [s for s in (status_of(i) for i in self.ids) if s is not None]
        text, answered = summarise(statuses, self.held_back)
        self.final = answered and self.batch is not None and self.batch.done.is_set()
        attention = sum(1 for s in statuses if s in NEEDS_ATTENTION)
        head = "Last push finished" if self.final else f"Pushing {len(self.ids)}"
        self.label.setText(f"{head}: {text}.")
        self.attention_button.setText(f"Show the {attention} to look at" if attention != 1 else "Show it")
        self.attention_button.setVisible(self.final and attention > 0)
        self.setAccessibleDescription(self.label.text())
        self.show()

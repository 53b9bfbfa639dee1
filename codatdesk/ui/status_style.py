"""How each expense status looks: a named colour (light and dark variants), an icon shape, its text.

The colours are anchored on the Okabe–Ito palette, which stays distinct under the
common colour-vision deficiencies (its bluish green and vermillion separate where
pure green and red merge). Colour is never the only cue: every status has its own
icon *shape* and always shows its text. ``tests/ui/test_status_style.py`` checks
WCAG AA contrast of every tint/text pair and simulates deuteranopia/protanopia.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPainterPath, QPalette, QPen, QPixmap

from codatdesk.states import ExpenseStatus


@dataclass(frozen=True)
class Tones:
    """The colours of one status in one colour scheme."""

    background: str  # tint behind the status text (>= 4.5:1 against ``text``)
    text: str
    icon: str  # stroke/fill of the icon (>= 3:1 against ``background``, WCAG non-text contrast)


@dataclass(frozen=True)
class StatusStyle:
    status: ExpenseStatus
    colour_name: str  # the semantic name designers and docs use
    accent: str  # the Okabe–Ito anchor
    light: Tones
    dark: Tones
    shape: str  # icon shape: circle|hourglass|arrows|check|cross|question
    meaning: str  # one line for tooltips

    def tones(self, dark: bool) -> Tones:
        return self.dark if dark else self.light


S = ExpenseStatus
STYLES: dict[ExpenseStatus, StatusStyle] = {
    S.NOT_PUSHED: StatusStyle(
        S.NOT_PUSHED, "neutral grey", "#7A7A7A",
        Tones("#F4F4F4", "#313131", "#585858"), Tones("#2E2E2E", "#DADADA", "#959595"),
        "circle", "Not sent to Codat yet."),
    S.WAITING: StatusStyle(
        S.WAITING, "violet", "#986CD9",
        Tones("#E4D9F5", "#3D2B57", "#6D4E9C"), Tones("#513F6D", "#E2D6F4", "#AD89E1"),
        "hourglass", "Waiting for an account or supplier to be created in Codat first."),
    S.IN_PROGRESS: StatusStyle(
        S.IN_PROGRESS, "amber", "#E69F00",
        Tones("#F8E6BD", "#5C4000", "#A67200"), Tones("#725411", "#F8E4B8", "#EBB233"),
        "arrows", "Sent to Codat; waiting for the result webhook."),
    S.COMPLETE: StatusStyle(
        S.COMPLETE, "bluish green", "#009E73",
        Tones("#BDE6DB", "#003F2E", "#007253"), Tones("#115442", "#B8E4D8", "#33B18F"),
        "check", "Written to the accounting software."),
    S.FAILED: StatusStyle(
        S.FAILED, "vermillion", "#D55E00",
        Tones("#F4C0B4", "#5C1A0B", "#A8340F"), Tones("#6E2418", "#F6D2CA", "#F07A55"),
        "cross", "Codat or the accounting software refused it; see the details."),
    S.OUTCOME_UNKNOWN: StatusStyle(
        S.OUTCOME_UNKNOWN, "blue", "#0072B2",
        Tones("#A8BFF4", "#0A1F5C", "#1D3FA8"), Tones("#183A86", "#DCE6FF", "#9DBBFF"),
        "question", "Codat timed out: it may still have been written. codatdesk keeps checking with Codat; "
                    "pushing again could write it twice."),
    S.QUEUED: StatusStyle(
        S.QUEUED, "sky blue", "#56B4E9",
        Tones("#B6C7D8", "#1B2F45", "#2F4F6F"), Tones("#22404F", "#D3E6F2", "#8CC4E6"),
        "queue", "Asked of the team's server, which has not sent it yet."),
}


def style_for(status: ExpenseStatus | str) -> StatusStyle:
    return STYLES[ExpenseStatus(status)]


def is_dark_palette(palette: QPalette | None = None) -> bool:
    """True when the window background is dark: the palette is the truth on every platform.

    (``QStyleHints.colorScheme`` is Unknown on many Linux desktops and offscreen.)
    """
    if palette is None:
        palette = QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


@lru_cache(maxsize=64)
def status_pixmap(status: ExpenseStatus, dark: bool, size: int = 16, ratio: float = 1.0) -> QPixmap:
    style = STYLES[status]
    pixmap = QPixmap(round(size * ratio), round(size * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    draw_shape(painter, style.shape, QRectF(0, 0, size, size), QColor(style.tones(dark).icon))
    painter.end()
    return pixmap


@lru_cache(maxsize=32)
def status_icon(status: ExpenseStatus, dark: bool) -> QIcon:
    icon = QIcon()
    for size in (16, 24, 32):
        icon.addPixmap(status_pixmap(status, dark, size, 1.0))
        icon.addPixmap(status_pixmap(status, dark, size, 2.0))
    return icon


def draw_shape(painter: QPainter, shape: str, rect: QRectF, colour: QColor) -> None:
    """Draw one status glyph filling ``rect`` (square). Shapes differ so colour is not needed."""
    s = rect.width()
    m = s * 0.08  # margin
    r = rect.adjusted(m, m, -m, -m)
    c = r.center()
    pen = QPen(colour, max(1.2, s * 0.11), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    painter.save()
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    if shape == "circle":  # an empty ring: nothing has happened yet
        painter.drawEllipse(r.adjusted(s * 0.08, s * 0.08, -s * 0.08, -s * 0.08))
    elif shape == "hourglass":
        top, bottom = r.top() + s * 0.04, r.bottom() - s * 0.04
        left, right = r.left() + s * 0.14, r.right() - s * 0.14
        path = QPainterPath(QPointF(left, top))
        path.lineTo(right, top)
        path.lineTo(c.x(), c.y())
        path.lineTo(right, bottom)
        path.lineTo(left, bottom)
        path.lineTo(c.x(), c.y())
        path.closeSubpath()
        painter.drawPath(path)
        painter.setBrush(colour)
        sand = QPainterPath(QPointF(c.x(), c.y() + s * 0.1))
        sand.lineTo(right - s * 0.12, bottom)
        sand.lineTo(left + s * 0.12, bottom)
        sand.closeSubpath()
        painter.drawPath(sand)
    elif shape == "arrows":  # two arcs chasing each other: in flight
        box = r.adjusted(s * 0.06, s * 0.06, -s * 0.06, -s * 0.06)
        painter.drawArc(box, 30 * 16, 120 * 16)
        painter.drawArc(box, 210 * 16, 120 * 16)
        painter.setBrush(colour)
        painter.setPen(Qt.PenStyle.NoPen)
        for angle_deg, direction in ((30, 1), (210, -1)):
            a = math.radians(angle_deg)
            rx, ry = box.width() / 2, box.height() / 2
            tip = QPointF(c.x() + rx * math.cos(a), c.y() - ry * math.sin(a))
            k = s * 0.2
            head = QPainterPath(QPointF(tip.x() - k * 0.9 * direction, tip.y() - k * 0.2 * direction))
            head.lineTo(tip.x() + k * 0.6 * direction, tip.y() - k * 0.7 * direction)
            head.lineTo(tip.x() + k * 0.5 * direction, tip.y() + k * 0.8 * direction)
            head.closeSubpath()
            painter.drawPath(head)
    elif shape == "check":  # filled disc with a knocked-out tick
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawEllipse(r)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
        tick = QPen(Qt.GlobalColor.black, max(1.4, s * 0.13), Qt.PenStyle.SolidLine,
                    Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        painter.setPen(tick)
        path = QPainterPath(QPointF(r.left() + r.width() * 0.27, c.y() + r.height() * 0.02))
        path.lineTo(r.left() + r.width() * 0.44, r.top() + r.height() * 0.69)
        path.lineTo(r.left() + r.width() * 0.74, r.top() + r.height() * 0.32)
        painter.drawPath(path)
    elif shape == "cross":  # filled square-ish octagon with a knocked-out X: a stop sign
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        k = r.width() * 0.29
        octagon = QPainterPath(QPointF(r.left() + k, r.top()))
        for x, y in ((r.right() - k, r.top()), (r.right(), r.top() + k), (r.right(), r.bottom() - k),
                     (r.right() - k, r.bottom()), (r.left() + k, r.bottom()), (r.left(), r.bottom() - k),
                     (r.left(), r.top() + k)):
            octagon.lineTo(x, y)
        octagon.closeSubpath()
        painter.drawPath(octagon)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
        painter.setPen(QPen(Qt.GlobalColor.black, max(1.4, s * 0.13), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        d = r.width() * 0.22
        painter.drawLine(QPointF(c.x() - d, c.y() - d), QPointF(c.x() + d, c.y() + d))
        painter.drawLine(QPointF(c.x() - d, c.y() + d), QPointF(c.x() + d, c.y() - d))
    elif shape == "queue":  # a short list with bullets: waiting in the team server's queue
        painter.setBrush(colour)
        for k in (0.22, 0.5, 0.78):
            y = r.top() + r.height() * k
            painter.drawLine(QPointF(r.left() + r.width() * 0.38, y), QPointF(r.right() - s * 0.04, y))
            painter.drawEllipse(QPointF(r.left() + r.width() * 0.12, y), s * 0.07, s * 0.07)
    elif shape == "question":  # a diamond around a question mark: nobody knows yet
        diamond = QPainterPath(QPointF(c.x(), r.top()))
        for x, y in ((r.right(), c.y()), (c.x(), r.bottom()), (r.left(), c.y())):
            diamond.lineTo(x, y)
        diamond.closeSubpath()
        painter.drawPath(diamond)
        painter.setPen(QPen(colour, max(1.1, s * 0.085), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                            Qt.PenJoinStyle.RoundJoin))
        k = s * 0.13  # radius of the hook
        box = QRectF(c.x() - k, c.y() - s * 0.27, 2 * k, 2 * k)
        hook = QPainterPath()
        hook.arcMoveTo(box, 165)
        hook.arcTo(box, 165, -255)
        hook.lineTo(c.x(), c.y() + s * 0.09)
        painter.drawPath(hook)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawEllipse(QPointF(c.x(), c.y() + s * 0.235), s * 0.06, s * 0.06)
    else:
        raise ValueError(f"unknown status shape {shape!r}")
    painter.restore()

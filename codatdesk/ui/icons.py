"""The application icon, drawn with QPainter (the PNG in resources/icons is rendered from this)."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

from codatdesk import paths

BRAND = "#006B4F"  # a deep Okabe–Ito bluish green: white reads on it at 6.6:1
ACCENT = "#E69F00"


def draw_app_icon(size: int) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = float(size)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(BRAND))
    p.drawRoundedRect(QRectF(s * 0.04, s * 0.04, s * 0.92, s * 0.92), s * 0.2, s * 0.2)
    # A receipt with a zig-zag foot...
    receipt = QPainterPath(QPointF(s * 0.24, s * 0.18))
    receipt.lineTo(s * 0.62, s * 0.18)
    receipt.lineTo(s * 0.62, s * 0.80)
    for i, x in enumerate((0.5533, 0.4867, 0.42, 0.3533, 0.2867, 0.24)):
        receipt.lineTo(s * x, s * (0.74 if i % 2 == 0 else 0.80))
    receipt.closeSubpath()
    p.setBrush(QColor("white"))
    p.drawPath(receipt)
    p.setPen(QPen(QColor(BRAND), max(1.0, s * 0.04), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    for y in (0.32, 0.44, 0.56):
        p.drawLine(QPointF(s * 0.32, s * y), QPointF(s * (0.54 if y < 0.5 else 0.46), s * y))
    # ...being sent up: an amber arrow.
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(ACCENT))
    arrow = QPainterPath(QPointF(s * 0.76, s * 0.30))
    arrow.lineTo(s * 0.90, s * 0.48)
    arrow.lineTo(s * 0.81, s * 0.48)
    arrow.lineTo(s * 0.81, s * 0.72)
    arrow.lineTo(s * 0.71, s * 0.72)
    arrow.lineTo(s * 0.71, s * 0.48)
    arrow.lineTo(s * 0.62, s * 0.48)
    arrow.closeSubpath()
    p.drawPath(arrow)
    p.end()
    return pixmap


@lru_cache(maxsize=1)
def app_icon() -> QIcon:
    icon = QIcon()
    try:
        icon.addFile(str(paths.resource("icons/codatdesk.png")))
    except FileNotFoundError:
        pass
    for size in (16, 24, 32, 48, 64, 128):
        icon.addPixmap(draw_app_icon(size))
    return icon


def draw_action_icon(name: str, colour: str, size: int = 32) -> QPixmap:
    """Simple line glyphs for the toolbar actions Qt's standard icons do not cover."""
    import math

    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = float(size)
    pen = QPen(QColor(colour), s * 0.09, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    if name == "push":  # an arrow leaving a tray
        p.drawLine(QPointF(s * 0.5, s * 0.62), QPointF(s * 0.5, s * 0.12))
        p.drawPolyline([QPointF(s * 0.3, s * 0.32), QPointF(s * 0.5, s * 0.12), QPointF(s * 0.7, s * 0.32)])
        p.drawPolyline([QPointF(s * 0.14, s * 0.6), QPointF(s * 0.14, s * 0.86), QPointF(s * 0.86, s * 0.86),
                        QPointF(s * 0.86, s * 0.6)])
    elif name in ("retry", "sync"):  # a circular arrow (sync: two)
        box = QRectF(s * 0.16, s * 0.16, s * 0.68, s * 0.68)
        arcs = ((40, 280),) if name == "retry" else ((40, 130), (220, 130))
        for start, span in arcs:
            p.drawArc(box, start * 16, span * 16)
            end = math.radians(start)
            tip = QPointF(box.center().x() + box.width() / 2 * math.cos(end),
                          box.center().y() - box.height() / 2 * math.sin(end))
            k = s * 0.16
            p.drawPolyline([QPointF(tip.x() - k * 0.2, tip.y() - k), tip, QPointF(tip.x() + k, tip.y() - k * 0.1)]
                           if start == 40 else
                           [QPointF(tip.x() + k * 0.2, tip.y() + k), tip, QPointF(tip.x() - k, tip.y() + k * 0.1)])
    elif name == "settings":  # a gear
        c = QPointF(s / 2, s / 2)
        for i in range(8):
            a = math.radians(i * 45)
            p.drawLine(QPointF(c.x() + s * 0.26 * math.cos(a), c.y() + s * 0.26 * math.sin(a)),
                       QPointF(c.x() + s * 0.4 * math.cos(a), c.y() + s * 0.4 * math.sin(a)))
        p.drawEllipse(c, s * 0.24, s * 0.24)
        p.drawEllipse(c, s * 0.08, s * 0.08)
    else:
        raise ValueError(name)
    p.end()
    return pixmap


def action_icon(name: str, colour: str) -> QIcon:
    icon = QIcon()
    for size in (16, 24, 32, 48):
        icon.addPixmap(draw_action_icon(name, colour, size))
    return icon

"""Paints a status cell as a tinted "chip": icon, text, colour — also inside a selected row.

With plain BackgroundRole the selection highlight would hide the status colour
of exactly the rows the user is looking at; the chip keeps it, inset so the
selection still shows around it.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPen
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem


class StatusChipDelegate(QStyledItemDelegate):
    MARGIN_X, MARGIN_Y, PAD, ICON = 3, 2, 5, 16

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = str(opt.text)
        icon = index.data(Qt.ItemDataRole.DecorationRole)  # not opt.icon: PySide shares it with opt
        background = index.data(Qt.ItemDataRole.BackgroundRole)
        foreground = index.data(Qt.ItemDataRole.ForegroundRole)
        # The row itself (selection, alternate colour, focus) as the style draws it, without our content.
        opt.text = ""
        opt.icon = QIcon()
        opt.backgroundBrush = QBrush()
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        if not isinstance(background, QBrush) or not isinstance(foreground, QBrush):
            return
        chip = option.rect.adjusted(self.MARGIN_X, self.MARGIN_Y, -self.MARGIN_X, -self.MARGIN_Y)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(foreground.color()).lighter(100), 0) if opt.state & QStyle.StateFlag.State_Selected
                       else Qt.PenStyle.NoPen)
        painter.setBrush(background)
        painter.drawRoundedRect(chip, 4, 4)
        x = chip.left() + self.PAD
        if isinstance(icon, QIcon) and not icon.isNull():
            size = min(self.ICON, chip.height() - 2)
            icon_rect = QRect(x, chip.center().y() - size // 2 + 1, size, size)
            icon.paint(painter, icon_rect)
            x = icon_rect.right() + self.PAD
        text_rect = QRect(x, chip.top(), chip.right() - x - self.PAD + 1, chip.height())
        painter.setPen(foreground.color())
        painter.setFont(opt.font)
        elided = opt.fontMetrics.elidedText(text, Qt.TextElideMode.ElideRight, text_rect.width())
        painter.drawText(text_rect, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), elided)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(hint.width() + 2 * (self.MARGIN_X + self.PAD), hint.height() + 2 * self.MARGIN_Y)

"""Small widgets shared by the screens: tag pills, status badges and a wrapping layout."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QMouseEvent
from PySide6.QtWidgets import QLabel, QLayout, QLayoutItem, QWidget

STATUS_BADGE_COLOURS = {
    "pending": ("#fff8c5", "#7d4e00"),
    "active": ("#dafbe1", "#116329"),
    "suspended": ("#fff1e5", "#953800"),
    "closed": ("#eaeef2", "#424a53"),
    "archived": ("#eaeef2", "#424a53"),
    # cell broadcast messages
    "draft": ("#eaeef2", "#424a53"),
    "pending_approval": ("#fff8c5", "#7d4e00"),
    "approved": ("#ddf4ff", "#0550ae"),
    "rejected": ("#ffebe9", "#a40e26"),
    "expired": ("#eaeef2", "#424a53"),
    "cancelled": ("#eaeef2", "#424a53"),
}


def humane(value: str) -> str:
    """A stored value such as "pending_cancellation" as the user reads it: "Pending cancellation"."""
    return value.replace("_", " ").capitalize()


def set_style_property(widget: QWidget, name: str, value) -> None:
    """Set a property the stylesheet selects on, and re-apply the style when it changed."""
    if widget.property(name) == value:
        return
    widget.setProperty(name, value)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def readable_text_colour(background: QColor) -> str:
    """Black or white, whichever reads better on `background` (relative luminance)."""
    r, g, b = (c / 255 for c in (background.red(), background.green(), background.blue()))
    return "#1f2328" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.55 else "#ffffff"


class TagPill(QLabel):
    """A customer tag drawn in its colour; opens its link when it has one and is clicked."""

    clicked = Signal(str)

    def __init__(self, text: str, colour: str, link: str | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("tagPill")
        self.link = link
        self.set_tag(text, colour, link)

    def set_tag(self, text: str, colour: str, link: str | None = None) -> None:
        self.link = link
        background = QColor(f"#{colour.lstrip('#')}")
        self.setText(text)
        self.setStyleSheet(
            f"QLabel#tagPill {{ background: {background.name()}; color: {readable_text_colour(background)};"
            " border-radius: 9px; padding: 2px 9px; font-weight: 600; }"
        )
        if link:
            self.setCursor(Qt.CursorShape.PointingHandCursor)
            self.setToolTip(f"Open {link}")
        else:
            self.unsetCursor()
            self.setToolTip("")

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self.link and event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.link)
            QDesktopServices.openUrl(QUrl(self.link))
        super().mouseReleaseEvent(event)


class StatusBadge(QLabel):
    def __init__(self, status: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("statusBadge")
        if status:
            self.set_status(status)

    def set_status(self, status: str) -> None:
        background, foreground = STATUS_BADGE_COLOURS.get(status, ("#eaeef2", "#424a53"))
        self.setText(humane(status))
        self.setStyleSheet(
            f"QLabel#statusBadge {{ background: {background}; color: {foreground}; border: 1px solid {foreground}33;"
            " border-radius: 9px; padding: 2px 10px; font-weight: 600; }"
        )


class FlowLayout(QLayout):
    """Lays widgets out left to right and wraps onto the next line (Qt's flow layout example)."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6):
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), apply=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, apply=True)

    def sizeHint(self) -> QSize:
        return self.minimumSize()

    def minimumSize(self) -> QSize:
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def clear(self) -> None:
        while self._items:
            item = self._items.pop()
            if item.widget():
                item.widget().deleteLater()

    def _arrange(self, rect: QRect, *, apply: bool) -> int:
        x, y, line_height = rect.x(), rect.y(), 0
        for item in self._items:
            hint = item.sizeHint()
            if x + hint.width() > rect.right() and line_height > 0:
                x, y = rect.x(), y + line_height + self._spacing
                line_height = 0
            if apply:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._spacing
            line_height = max(line_height, hint.height())
        return y + line_height - rect.y()

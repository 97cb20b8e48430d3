"""Coloured pills for item states and service badges (Active, Auto-Renew, Expiring Soon…)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

# (background, text) per colour name; the names are those catalog.rules gives its badges.
PALETTE = {
    "green": ("#dafbe1", "#116329"),
    "blue": ("#ddf4ff", "#0550ae"),
    "orange": ("#fff1e5", "#953800"),
    "yellow": ("#fff8c5", "#7d4e00"),
    "red": ("#ffebe9", "#a40e26"),
    "purple": ("#fbefff", "#6e40c9"),
    "gray": ("#eaeef2", "#424a53"),
}
ITEM_STATE_COLOURS = {
    "new": "green", "used": "blue", "internal_use": "purple", "assigned": "gray", "damaged": "orange",
    "out_of_service": "yellow", "lost": "red", "stolen": "red",
}


def pill_style(colour: str) -> str:
    background, foreground = PALETTE.get(colour, PALETTE["gray"])
    return (f"QLabel {{ background: {background}; color: {foreground}; border: 1px solid {foreground}33;"
            " border-radius: 9px; padding: 2px 10px; font-weight: 600; }")


class Pill(QLabel):
    """A rounded label in one of PALETTE's colours."""

    def __init__(self, text: str = "", colour: str = "gray", parent: QWidget | None = None):
        super().__init__(text, parent)
        self.setObjectName("pill")
        self.colour = ""
        self.set_pill(text, colour)

    def set_pill(self, text: str, colour: str) -> None:
        self.setText(text)
        if colour != self.colour:
            self.colour = colour
            self.setStyleSheet(pill_style(colour))

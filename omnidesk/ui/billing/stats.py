"""The four stats cards above each billing list: compact sums (k/M/B) with counts, and a trend arrow
comparing this month with last month."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from omnidesk.billing import rules
from omnidesk.billing.service import Stats

CARD_STYLE = """
QFrame#statsCard { background: #ffffff; border: 1px solid #d0d7de; border-radius: 6px; }
QLabel#statsTitle { color: #57606a; font-size: 12px; }
QLabel#statsValue { color: #1f2328; font-size: 20px; font-weight: 600; }
QLabel#statsCount { color: #57606a; font-size: 12px; }
QLabel#statsTrend[trend="up"] { color: #1a7f37; font-size: 12px; }
QLabel#statsTrend[trend="down"] { color: #cf222e; font-size: 12px; }
QLabel#statsTrend[trend="flat"] { color: #6e7781; font-size: 12px; }
"""


def trend(current: Decimal, previous: Decimal) -> tuple[str, str]:
    """('up' | 'down' | 'flat', text): green up = increase, red down = decrease, grey right = no change."""
    if current == previous:
        return "flat", "► no change on last month"
    if previous == 0:
        return ("up", "▲ new this month") if current > previous else ("down", "▼ none this month")
    percent = (current - previous) / abs(previous) * 100
    shown = f"{abs(percent):.0f}%"
    return ("up", f"▲ {shown} on last month") if current > previous else ("down", f"▼ {shown} on last month")


class StatsCard(QFrame):
    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("statsCard")
        self.title = QLabel(title, objectName="statsTitle")
        self.value = QLabel("…", objectName="statsValue")
        self.count = QLabel("", objectName="statsCount")
        self.trend = QLabel("", objectName="statsTrend")
        self.trend.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.value)
        row = QHBoxLayout()
        row.addWidget(self.count)
        row.addStretch(1)
        row.addWidget(self.trend)
        layout.addLayout(row)

    def show_value(self, amount: Decimal, count: int, noun: str, currency: str) -> None:
        self.value.setText(rules.compact_money(amount, currency))
        self.value.setToolTip(rules.money(amount, currency))
        self.count.setText(f"{count:,} {noun}{'' if count == 1 else 's'}")

    def show_trend(self, direction: str, text: str) -> None:
        self.trend.setText(text)
        self.trend.setProperty("trend", direction)
        self.trend.style().unpolish(self.trend)
        self.trend.style().polish(self.trend)
        self.trend.show()


class StatsRow(QWidget):
    """Four cards; `fill(stats, noun, currency)` fills them."""

    def __init__(self, titles: tuple[str, str, str, str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setStyleSheet(CARD_STYLE)
        self.titles = titles
        self.cards = [StatsCard(t) for t in titles]
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for card in self.cards:
            layout.addWidget(card, 1)
        self.setSizePolicy(self.sizePolicy().horizontalPolicy(), self.sizePolicy().verticalPolicy())

    def fill(self, stats: Stats, noun: str, currency: str) -> None:
        for card, (amount, count) in zip(self.cards, (stats.total, stats.open, stats.this_month, stats.last_month)):
            card.show_value(amount, count, noun, currency)
        self.cards[2].show_trend(*trend(stats.this_month[0], stats.last_month[0]))

    def set_note(self, note: str) -> None:
        """E.g. 'AUD accounts' when the customers are billed in several currencies (sums never mix them)."""
        for card, title in zip(self.cards, self.titles):
            card.title.setText(f"{title} · {note}" if note else title)

    def texts(self) -> list[str]:
        """What each card shows, for tests: 'Title: value (count)'."""
        return [f"{c.title.text()}: {c.value.text()} ({c.count.text()})" for c in self.cards]


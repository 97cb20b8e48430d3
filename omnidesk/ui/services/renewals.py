"""The Services tab: "Upcoming auto-renewals" (soonest first, with Remove Auto-Renew) and the
services "Expiring soon" (ending within 7 days)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from omnidesk.catalog import rules
from omnidesk.catalog import services as svc
from omnidesk.catalog.services import RenewalRow, ServiceView
from omnidesk.ui import ops

HORIZONS = ((7, "Next 7 days"), (30, "Next 30 days"), (90, "Next 90 days"), (365, "Next year"))


def when(value: dt.datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "—"


def table(headers: tuple[str, ...], widths: tuple[int, ...], name: str) -> QTableWidget:
    t = QTableWidget(0, len(headers), objectName=name)
    t.setHorizontalHeaderLabels(list(headers))
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.verticalHeader().hide()
    t.setAlternatingRowColors(True)
    t.setWordWrap(False)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    t.horizontalHeader().setStretchLastSection(True)
    for c, w in enumerate(widths):
        t.setColumnWidth(c, w)
    return t


class RenewalsView(QWidget):
    """Live services that renew automatically soon, sorted by when they renew."""

    HEADERS = ("Customer", "Service", "Product", "Cost", "Renews on", "Status")
    loaded = Signal()

    def __init__(self, db, actor, parent: QWidget | None = None):
        super().__init__(parent)
        self.db, self.actor = db, actor
        self.rows: list[RenewalRow] = []
        self.now = lambda: dt.datetime.now(dt.timezone.utc)
        self.horizon = QComboBox(objectName="renewalHorizon")
        for days, text in HORIZONS:
            self.horizon.addItem(text, days)
        self.horizon.setCurrentIndex(1)
        self.count_label = QLabel(objectName="countLabel")
        self.remove_button = QPushButton("Remove auto-renew…", objectName="removeAutoRenew")
        self.remove_button.clicked.connect(self.ask_remove)
        self.remove_button.setVisible(actor.can("update_customer_service"))
        top = QHBoxLayout()
        top.addWidget(QLabel("Renewing in the"))
        top.addSpacing(2)
        top.addWidget(self.horizon)
        top.addWidget(self.count_label)
        top.addStretch(1)
        top.addWidget(self.remove_button)
        self.table = table(self.HEADERS, (220, 220, 200, 80, 260), "renewalTable")
        self.table.itemSelectionChanged.connect(self._update_buttons)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        self.horizon.currentIndexChanged.connect(lambda _i: self.reload())
        self._update_buttons()

    def reload(self) -> None:
        db, actor, days, now = self.db, self.actor, self.horizon.currentData(), self.now()
        ops.query(self, lambda: svc.upcoming_auto_renewals(db, actor, within_days=days, now=now), self._show)

    def _show(self, rows: list[RenewalRow]) -> None:
        self.rows = rows
        now = self.now()
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            values = (f"{row.customer_name} ({row.customer_id})", f"{row.service_name} ({row.service_id})", row.product_name,
                      f"{row.cost:,.2f}" if row.cost is not None else "N/A",
                      f"{when(row.renews_on)} ({row.renews_in(now)})", rules.STATUS_LABELS.get(row.status, row.status))
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                if c == 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.count_label.setText(f"— {len(rows)} service{'s' if len(rows) != 1 else ''}")
        self._update_buttons()
        self.loaded.emit()

    def selected(self) -> RenewalRow | None:
        rows = self.table.selectionModel().selectedRows()
        return self.rows[rows[0].row()] if rows and rows[0].row() < len(self.rows) else None

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.selected() is not None)

    def ask_remove(self) -> None:
        row = self.selected()
        if row is None:
            return
        db, actor = self.db, self.actor
        ops.confirm(
            self, f"This will remove the scheduled auto-renewal for: {row.service_name} ({row.customer_name}).",
            lambda: ops.mutate(self, lambda: svc.remove_auto_renew(db, actor, row.service_id), lambda _r: self.reload(),
                               success_message=f"Service {row.service_name} will not renew automatically."),
            yes_label="Remove Auto-Renewal",
            informative=f"The service will not automatically renew; its status is unchanged and it expires on "
                        f"{when(row.renews_on)}.",
        )


class ExpiringView(QWidget):
    """Live services ending within 7 days (the Expiring Soon badge's list)."""

    HEADERS = ("Customer", "Service", "Product", "Ends", "Auto-renew", "Status")
    loaded = Signal()

    def __init__(self, db, actor, parent: QWidget | None = None):
        super().__init__(parent)
        self.db, self.actor = db, actor
        self.services: list[ServiceView] = []
        self.now = lambda: dt.datetime.now(dt.timezone.utc)
        self.count_label = QLabel(objectName="countLabel")
        self.table = table(self.HEADERS, (220, 220, 200, 260, 90), "expiringTable")
        layout = QVBoxLayout(self)
        layout.addWidget(self.count_label)
        layout.addWidget(self.table, 1)

    def reload(self) -> None:
        db, actor, now = self.db, self.actor, self.now()
        ops.query(self, lambda: svc.expiring_services(db, actor, now=now), self._show)

    def _show(self, services: list[ServiceView]) -> None:
        self.services = services
        now = self.now()
        self.table.setRowCount(len(services))
        for r, s in enumerate(services):
            values = (f"{s.customer_name} ({s.customer_id})", f"{s.name} ({s.id})", s.product_name or "—",
                      f"{when(s.deactivate_date)} ({rules.relative(s.deactivate_date, now)})",
                      "Yes" if s.auto_renew else "No", s.status_label)
            for c, value in enumerate(values):
                self.table.setItem(r, c, QTableWidgetItem(value))
        self.count_label.setText(
            f"{len(services)} live service{'s' if len(services) != 1 else ''} ending within {rules.EXPIRING_SOON_DAYS} days")
        self.loaded.emit()


class ServicesWorkspace(QWidget):
    def __init__(self, db, actor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("servicesWorkspace")
        self.renewals = RenewalsView(db, actor)
        self.expiring = ExpiringView(db, actor)
        self.tabs = QTabWidget(objectName="detailTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.renewals, "Upcoming auto-renewals")
        self.tabs.addTab(self.expiring, "Expiring soon")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)

    def reload(self) -> None:
        self.renewals.reload()
        self.expiring.reload()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.reload()  # renewal times are relative to now: fresh whenever the tab is looked at

"""A service's OCS balances: one row per balance with its name, what remains and a coloured bar.

Read from CGRateS on an ops worker (never the GUI thread) and refreshed every few seconds only
while the view is visible, as the source's usage card does.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHeaderView, QLabel, QProgressBar, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from omnidesk.provisioning import ocs
from omnidesk.ui import ops

COLOURS = {"green": "#1b7f3b", "yellow": "#c9a100", "red": "#b3261e"}
REFRESH_MS = 3000


class ServiceBalancesView(QWidget):
    def __init__(self, db, actor, parent: QWidget | None = None, *, refresh_ms: int = REFRESH_MS, transport=None):
        super().__init__(parent)
        self.db, self.actor, self.transport = db, actor, transport
        self.service_id: int | None = None
        self.balances: list = []
        self.setObjectName("serviceBalances")
        lay = QVBoxLayout(self)
        self.caption = QLabel("Balances", objectName="formSection")
        self.message = QLabel(objectName="emptyNote", wordWrap=True)
        self.table = QTableWidget(0, 5, objectName="balanceTable")
        self.table.setHorizontalHeaderLabels(("Balance", "Type", "Remaining", "", "Expires"))
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        lay.addWidget(self.caption)
        lay.addWidget(self.message)
        lay.addWidget(self.table, 1)
        self.timer = QTimer(self, interval=refresh_ms)
        self.timer.timeout.connect(self.reload)
        self._loading = False

    def show_service(self, service_id: int) -> None:
        self.service_id = service_id
        self.reload()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.timer.start()

    def hideEvent(self, event) -> None:
        self.timer.stop()  # only the visible service's balances are kept fresh
        super().hideEvent(event)

    def reload(self) -> None:
        if self.service_id is None or self._loading:
            return
        self._loading = True
        service_id = self.service_id
        ops.query(self, lambda: ocs.service_balances(self.db, self.actor, service_id, transport=self.transport),
                  lambda balances: self._answered(service_id, balances, None),
                  lambda exc: self._answered(service_id, None, exc))

    def _answered(self, service_id: int, balances, exc: Exception | None) -> None:
        self._loading = False
        if service_id != self.service_id:  # another service was chosen meanwhile: show that one's instead
            self.reload()
        elif exc is not None:
            self._failed(exc)
        else:
            self._show(balances)

    def _failed(self, exc: Exception) -> None:
        self.message.setText(ops.error_text(exc)[0])
        self.message.setVisible(True)

    def _show(self, balances) -> None:
        self.balances = list(balances)
        self.message.setText("" if self.balances else "This service has no balances in the OCS.")
        self.message.setVisible(not self.balances)
        self.table.setRowCount(len(self.balances))
        for row, b in enumerate(self.balances):
            for col, text in ((0, b.label), (1, ocs.TYPE_LABELS.get(b.balance_type, b.balance_type)), (2, b.remaining),
                              (4, b.expires.astimezone().strftime("%Y-%m-%d %H:%M") if b.expires else "never")):
                self.table.setItem(row, col, QTableWidgetItem(text))
            bar = QProgressBar()
            bar.setRange(0, 100)
            share = int(b.value * 100 / b.total) if b.total else 100
            bar.setValue(max(0, min(share, 100)))
            bar.setFormat(f"{share} % left" if b.total else "")
            bar.setAlignment(Qt.AlignmentFlag.AlignCenter)
            if b.colour:
                bar.setStyleSheet(f"QProgressBar::chunk {{ background: {COLOURS[b.colour]}; }}")
                bar.setProperty("colour", b.colour)
            self.table.setCellWidget(row, 3, bar)
        for col in (1, 2, 4):
            self.table.resizeColumnToContents(col)
        self.table.setColumnWidth(3, 170)

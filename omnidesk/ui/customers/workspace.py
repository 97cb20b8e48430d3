"""The Customers tab: search and filters over the paged customer table, with the open customer beside it."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from omnidesk.db.models import CUSTOMER_STATUSES
from omnidesk.ui.customers.detail import CustomerDetailView
from omnidesk.ui.customers.dialogs import CustomerDialog
from omnidesk.ui.customers.table_model import COLUMNS, CUSTOMER_ID_ROLE, CustomerTableModel
from omnidesk.ui.live import LiveUpdates
from omnidesk.ui.widgets import humane

SEARCH_DELAY_MS = 150
ROW_HEIGHT = 26


class CustomersWorkspace(QWidget):
    """Search, filter, sort and open customers; everything reads through background operations."""

    customer_opened = Signal(int)
    first_rows_shown = Signal()  # the first page of the first query is painted

    def __init__(
        self, db, actor, parent: QWidget | None = None, *, live: LiveUpdates | None = None,
        page_size: int = 200, max_pages: int = 6,
    ):
        super().__init__(parent)
        self.setObjectName("customersWorkspace")
        self.db, self.actor = db, actor
        self._shown_first_rows = False
        self._first_paint_pending = False

        self.search = QLineEdit(objectName="customerSearch", clearButtonEnabled=True)
        self.search.setPlaceholderText(
            "Search by name, e-mail, phone or customer ID  (1–2 letters match the start of the name)"
        )
        self.status_filter = QComboBox(objectName="statusFilter")
        self.status_filter.addItem("All statuses", None)
        for status in CUSTOMER_STATUSES:
            self.status_filter.addItem(humane(status), status)
        self.show_archived = QCheckBox("Show archived", objectName="showArchived")
        self.count_label = QLabel("Counting…", objectName="countLabel")
        self.count_label.setMinimumWidth(130)
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.new_button = QPushButton("New customer…", objectName="primaryButton")
        self.new_button.clicked.connect(self.new_customer)
        self.new_button.setToolTip("New customer (Ctrl+N)")
        QShortcut(QKeySequence.StandardKey.New, self, activated=self.new_customer)

        filters = QHBoxLayout()
        filters.addWidget(self.status_filter)
        filters.addWidget(self.show_archived)
        filters.addStretch(1)
        filters.addWidget(self.count_label)
        filters.addSpacing(8)
        filters.addWidget(self.new_button)
        toolbar = QVBoxLayout()
        toolbar.setSpacing(6)
        toolbar.addWidget(self.search)
        toolbar.addLayout(filters)

        self.model = CustomerTableModel(db, actor, self, page_size=page_size, max_pages=max_pages)
        self.table = QTableView(objectName="customerTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setCornerButtonEnabled(False)
        vertical = self.table.verticalHeader()
        vertical.hide()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # a million rows: never measure them
        vertical.setDefaultSectionSize(ROW_HEIGHT)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setHighlightSections(False)
        header.setResizeContentsPrecision(0)  # fitting a column to its contents looks at visible rows only
        header.setStretchLastSection(True)
        for i, column in enumerate(COLUMNS):
            self.table.setColumnWidth(i, column.width)
        header.setSortIndicatorShown(True)
        header.setSectionsClickable(True)
        header.setSortIndicator(self._column_of(self.model.query.sort), Qt.SortOrder.AscendingOrder)
        header.sortIndicatorChanged.connect(self._sort_changed)
        self.table.activated.connect(self._activated)
        self.table.viewport().installEventFilter(self)

        list_side = QWidget()
        list_layout = QVBoxLayout(list_side)
        list_layout.setContentsMargins(0, 0, 0, 0)
        list_layout.addLayout(toolbar)
        list_layout.addWidget(self.table, 1)

        self._detail: CustomerDetailView | None = None  # built when the first customer is opened

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(list_side)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)

        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._apply_filters)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.status_filter.currentIndexChanged.connect(lambda _i: self._apply_filters())
        self.show_archived.toggled.connect(lambda _b: self._apply_filters())
        self.model.count_changed.connect(self._show_count)
        self.model.first_page_loaded.connect(self._first_page_loaded)

        if live is not None:
            live.changes.connect(self.notice_changes)
        self.model.reload()

    @property
    def detail(self) -> CustomerDetailView:
        if self._detail is None:
            self._detail = CustomerDetailView(self.db, self.actor)
            self._detail.hide()
            self._detail.close_requested.connect(self.close_customer)
            self._detail.changed.connect(self._changed_here)
            self.splitter.addWidget(self._detail)
            self.splitter.setStretchFactor(0, 3)
            self.splitter.setStretchFactor(1, 2)
        return self._detail

    def _changed_here(self, _customer_id: int) -> None:
        self.model.schedule_refresh()

    # --- list ---

    @staticmethod
    def _column_of(sort_key: str) -> int:
        return next(i for i, c in enumerate(COLUMNS) if c.sort_key == sort_key)

    def _sort_changed(self, section: int, order: Qt.SortOrder) -> None:
        key = COLUMNS[section].sort_key
        header = self.table.horizontalHeader()
        if key is None:
            # The server cannot sort by this column; put the indicator back where the order really is.
            header.blockSignals(True)
            header.setSortIndicator(
                self._column_of(self.model.query.sort),
                Qt.SortOrder.DescendingOrder if self.model.query.descending else Qt.SortOrder.AscendingOrder,
            )
            header.blockSignals(False)
            return
        self.model.update_query(sort=key, descending=order == Qt.SortOrder.DescendingOrder)

    def _apply_filters(self) -> None:
        self._search_timer.stop()
        self.model.update_query(
            search=self.search.text().strip(),
            status=self.status_filter.currentData(),
            include_archived=self.show_archived.isChecked(),
        )

    def _show_count(self, count: int) -> None:
        if count < 0:
            self.count_label.setText("Counting…")
            return
        q = self.model.query
        if self.model.count_capped:
            self.count_label.setText(f"{self.model.count:,}+ customers found: refine the search to see the rest")
            return
        filtered = bool(q.search or q.status)
        noun = "customer" if count == 1 else "customers"
        self.count_label.setText(f"{count:,} {noun}{' found' if filtered else ''}")

    def _first_page_loaded(self) -> None:
        if self._shown_first_rows:
            return
        if self.table.isVisible():
            self._first_paint_pending = True  # emitted by eventFilter once the rows are painted
            self.table.viewport().update()
        else:
            self._shown_first_rows = True
            self.first_rows_shown.emit()

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Paint and self._first_paint_pending and watched is self.table.viewport():
            self._first_paint_pending = False
            self._shown_first_rows = True
            QTimer.singleShot(0, self.first_rows_shown.emit)  # after this paint has finished
        return False

    def _activated(self, index: QModelIndex) -> None:
        customer_id = index.data(CUSTOMER_ID_ROLE)
        if customer_id is not None:
            self.open_customer(customer_id)

    def notice_changes(self, notices: list[dict]) -> None:
        """Change notices from any workstation: refresh the list and the open customer."""
        if any(n.get("table") != "activity_log" for n in notices):
            self.model.schedule_refresh()
        if self._detail is not None:
            self._detail.notice_changes(notices)

    # --- customers ---

    def open_customer(self, customer_id: int) -> None:
        if not self.detail.isVisible():
            self.detail.show()
            total = max(self.splitter.width(), 800)
            self.splitter.setSizes([int(total * 0.58), total - int(total * 0.58)])
        self.detail.show_customer(customer_id)
        self.customer_opened.emit(customer_id)

    def close_customer(self) -> None:
        if self._detail is not None:
            self._detail.hide()
        self.table.setFocus()

    def new_customer(self) -> CustomerDialog:
        dialog = CustomerDialog(self, self.db, self.actor)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._created)
        dialog.open()
        self.open_dialog = dialog
        return dialog

    def _created(self, detail) -> None:
        self.model.schedule_refresh()
        self.open_customer(detail.id)

"""The Inventory tab: the paged item table with its filters and the open item beside it, and the templates."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from omnidesk.inventory import rules
from omnidesk.inventory.service import TemplateView
from omnidesk.ui.inventory import operations
from omnidesk.ui.inventory.detail import ItemDetailView
from omnidesk.ui.inventory.table_model import COLUMNS, ITEM_ID_ROLE, ItemTableModel
from omnidesk.ui.inventory.templates import TemplatesPage

SEARCH_DELAY_MS = 150
ROW_HEIGHT = 26
ASSIGNED_CHOICES = (("Assigned or not", None), ("Assigned to a customer", True), ("Unassigned", False))


class InventoryWorkspace(QWidget):
    item_opened = Signal(int)
    filters_loaded = Signal()

    def __init__(self, db, actor, parent: QWidget | None = None, *, live=None, page_size: int = 200):
        super().__init__(parent)
        self.setObjectName("inventoryWorkspace")
        self.db, self.actor = db, actor

        self.search = QLineEdit(objectName="inventorySearch", clearButtonEnabled=True)
        self.search.setPlaceholderText("Search by ICCID, IMSI, number, MAC, serial (the start of it) or item ID")
        self.template_filter = QComboBox(objectName="templateFilter")
        self.template_filter.addItem("All types", None)
        self.state_filter = QComboBox(objectName="stateFilter")
        self.state_filter.addItem("All states", None)
        for state in rules.ITEM_STATES:
            self.state_filter.addItem(rules.state_label(state), state)
        self.location_filter = QComboBox(objectName="locationFilter")
        self.location_filter.addItem("All locations", None)
        self.location_filter.setMinimumWidth(150)
        self.assigned_filter = QComboBox(objectName="assignedFilter")
        for text, value in ASSIGNED_CHOICES:
            self.assigned_filter.addItem(text, value)
        self.count_label = QLabel("Counting…", objectName="countLabel")
        self.count_label.setMinimumWidth(130)
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        filters = QHBoxLayout()
        for widget in (self.template_filter, self.state_filter, self.location_filter, self.assigned_filter):
            filters.addWidget(widget)
        filters.addStretch(1)
        filters.addWidget(self.count_label)

        self.model = ItemTableModel(db, actor, self, page_size=page_size)
        self.table = QTableView(objectName="inventoryTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setCornerButtonEnabled(False)
        vertical = self.table.verticalHeader()
        vertical.hide()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(ROW_HEIGHT)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        for i, column in enumerate(COLUMNS):
            self.table.setColumnWidth(i, column.width)
        self.table.activated.connect(self._activated)
        self.table.clicked.connect(self._activated)

        items_side = QWidget()
        items_layout = QVBoxLayout(items_side)
        items_layout.setContentsMargins(0, 6, 0, 0)
        items_layout.setSpacing(6)
        items_layout.addWidget(self.search)
        items_layout.addLayout(filters)
        items_layout.addWidget(self.table, 1)

        self.detail = ItemDetailView(db, actor)
        self.detail.hide()
        self.detail.close_requested.connect(self.close_item)
        self.detail.changed.connect(lambda _id: self._changed_here())
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(items_side)
        self.splitter.addWidget(self.detail)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)

        self.templates = TemplatesPage(db, actor)
        self.templates.changed.connect(self._changed_here)
        self.tabs = QTabWidget(objectName="detailTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.splitter, "Items")
        if actor.can("view_inventory_template"):
            self.tabs.addTab(self.templates, "Templates")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)

        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._apply_filters)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        for combo in (self.template_filter, self.state_filter, self.location_filter, self.assigned_filter):
            combo.currentIndexChanged.connect(lambda _i: self._apply_filters())
        self.model.count_changed.connect(self._show_count)
        if live is not None:
            live.changes.connect(self.notice_changes)
        self.model.reload()
        self.load_filters()
        if actor.can("view_inventory_template"):
            self.templates.reload()

    # --- filters ---

    def load_filters(self) -> None:
        operations.load_filters(self, self.db, self.actor, lambda result: self._fill_filters(*result))

    def _fill_filters(self, templates: list[TemplateView], locations: list[str]) -> None:
        for combo, values in ((self.template_filter, [(t.name, t.name) for t in templates]),
                              (self.location_filter, [(loc, loc) for loc in locations])):
            current = combo.currentData()
            combo.blockSignals(True)
            while combo.count() > 1:
                combo.removeItem(1)
            for text, data in values:
                combo.addItem(text, data)
            index = combo.findData(current) if current is not None else 0
            combo.setCurrentIndex(max(0, index))
            combo.blockSignals(False)
        self.filters_loaded.emit()
        if self.template_filter.currentData() is None and self.model.query.template is not None:
            self._apply_filters()  # the chosen template was removed meanwhile

    def _apply_filters(self) -> None:
        self._search_timer.stop()
        self.model.update_query(
            search=self.search.text().strip(), template=self.template_filter.currentData(),
            state=self.state_filter.currentData(), location=self.location_filter.currentData(),
            assigned=self.assigned_filter.currentData(),
        )

    def _show_count(self, count: int) -> None:
        if count < 0:
            self.count_label.setText("Counting…")
        elif self.model.count_capped:
            self.count_label.setText(f"{self.model.count:,}+ items found: refine the search to see the rest")
        else:
            noun = "item" if count == 1 else "items"
            self.count_label.setText(f"{count:,} {noun}{' found' if self.model.query.filtered else ''}")

    # --- items ---

    def _activated(self, index: QModelIndex) -> None:
        item_id = index.data(ITEM_ID_ROLE)
        if item_id is not None:
            self.open_item(item_id)

    def open_item(self, item_id: int) -> None:
        if not self.detail.isVisible():
            self.detail.show()
            total = max(self.splitter.width(), 800)
            self.splitter.setSizes([int(total * 0.55), total - int(total * 0.55)])
        if item_id != self.detail.item_id:
            self.detail.show_item(item_id)
        else:
            self.detail.reload()
        self.item_opened.emit(item_id)

    def close_item(self) -> None:
        self.detail.hide()
        self.table.setFocus()

    def _changed_here(self) -> None:
        self.model.schedule_refresh()
        self.load_filters()

    def notice_changes(self, notices: list[dict]) -> None:
        """Change notices from other workstations that concern inventory: refresh the list and the open item."""
        tables = {str(n.get("table", "")) for n in notices}
        if "inventory_item" in tables:
            self.model.schedule_refresh()
            if self.detail.item_id is not None:
                self.detail.schedule_reload()
        if "inventory_template" in tables:  # not per item change: counting stock walks every item
            self.load_filters()
            if self.actor.can("view_inventory_template"):
                self.templates.reload()

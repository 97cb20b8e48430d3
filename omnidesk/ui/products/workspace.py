"""The Products tab: every product (disabled and out-of-window ones too), search and category filter,
with New / Edit / Clone / Enable-Disable."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from omnidesk.catalog import service as catalog
from omnidesk.catalog.models import CATEGORIES
from omnidesk.catalog.service import ProductView
from omnidesk.ui import ops
from omnidesk.ui.products.editor import ProductDialog

COLUMNS = ("Name", "Slug", "Category", "Service type", "Retail", "Setup", "Tax %", "Contract", "Auto renew",
           "Inventory items", "Available")
WIDTHS = (210, 170, 95, 110, 75, 70, 60, 80, 100, 190)


def availability(p: ProductView, now: dt.datetime) -> str:
    if not p.enabled:
        return "Disabled"
    if p.available_from and now < p.available_from:
        return f"From {p.available_from.astimezone():%Y-%m-%d}"
    if p.available_until and now >= p.available_until:
        return f"Ended {p.available_until.astimezone():%Y-%m-%d}"
    if p.available_until:
        return f"Until {p.available_until.astimezone():%Y-%m-%d}"
    return "Yes"


class ProductsWorkspace(QWidget):
    loaded = Signal()

    def __init__(self, db, actor, parent: QWidget | None = None, *, playbooks_dir: Path | None = None):
        super().__init__(parent)
        self.setObjectName("productsWorkspace")
        self.db, self.actor, self.playbooks_dir = db, actor, playbooks_dir
        self.products: list[ProductView] = []
        self._select_after_load: int | None = None

        self.search = QLineEdit(objectName="productSearch", clearButtonEnabled=True)
        self.search.setPlaceholderText("Search products by name or slug")
        self.category_filter = QComboBox(objectName="categoryFilter")
        self.category_filter.addItem("All categories", None)
        for c in CATEGORIES:
            self.category_filter.addItem(c.capitalize(), c)
        self.count_label = QLabel(objectName="countLabel")
        self.new_button = QPushButton("New product…", objectName="primaryButton")
        self.edit_button = QPushButton("Edit…")
        self.clone_button = QPushButton("Clone")
        self.enable_button = QPushButton("Disable")
        self.new_button.clicked.connect(self.new_product)
        self.edit_button.clicked.connect(self.edit_product)
        self.clone_button.clicked.connect(self.clone_product)
        self.enable_button.clicked.connect(self.toggle_enabled)
        self.new_button.setVisible(actor.can("create_product"))
        self.clone_button.setVisible(actor.can("create_product"))
        self.edit_button.setVisible(actor.can("update_product"))
        self.enable_button.setVisible(actor.can("update_product"))

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.category_filter)
        actions = QHBoxLayout()
        actions.addWidget(self.count_label)
        actions.addStretch(1)
        for button in (self.edit_button, self.clone_button, self.enable_button, self.new_button):
            actions.addWidget(button)

        self.table = QTableWidget(0, len(COLUMNS), objectName="productTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for c, w in enumerate(WIDTHS):
            self.table.setColumnWidth(c, w)
        self.table.doubleClicked.connect(lambda _i: self.edit_product())
        self.table.itemSelectionChanged.connect(self._update_buttons)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(actions)
        layout.addWidget(self.table, 1)

        self._search_timer = QTimer(self, singleShot=True, interval=150)
        self._search_timer.timeout.connect(self.reload)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.category_filter.currentIndexChanged.connect(lambda _i: self.reload())
        self._update_buttons()
        self.reload()

    def notice_changes(self, notices: list[dict]) -> None:
        """Products changed on another workstation: read the list again (once for a burst)."""
        if any(n.get("table") == "product" for n in notices):
            self._search_timer.start()

    def reload(self) -> None:
        self._search_timer.stop()
        db, actor = self.db, self.actor
        search, category = self.search.text(), self.category_filter.currentData()
        ops.query(self, lambda: catalog.list_products(db, actor, search=search, category=category), self._show)

    def _show(self, products: list[ProductView]) -> None:
        selected = self.selected()
        wanted = self._select_after_load or (selected.id if selected else None)
        self._select_after_load = None
        self.products = products
        now = dt.datetime.now(dt.timezone.utc)
        self.table.setRowCount(len(products))
        for r, p in enumerate(products):
            values = (p.name, p.slug, p.category.capitalize(), p.service_type, f"{p.retail_cost:,.2f}",
                      f"{p.retail_setup_cost:,.2f}", f"{p.tax_percentage.normalize():f}",
                      f"{p.contract_days} days" if p.contract_days else "—", p.auto_renew_label,
                      ", ".join(p.inventory_types) or "—", availability(p, now))
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                if c in (4, 5, 6):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if not p.available(now):
                    item.setForeground(QColor("#8c959f"))
                self.table.setItem(r, c, item)
            if p.id == wanted:
                self.table.selectRow(r)
        self.count_label.setText(f"{len(products)} product{'s' if len(products) != 1 else ''}")
        self._update_buttons()
        self.loaded.emit()

    def selected(self) -> ProductView | None:
        rows = self.table.selectionModel().selectedRows()
        return self.products[rows[0].row()] if rows and rows[0].row() < len(self.products) else None

    def select_product(self, product_id: int) -> None:
        for r, p in enumerate(self.products):
            if p.id == product_id:
                self.table.selectRow(r)

    def _update_buttons(self) -> None:
        p = self.selected()
        for button in (self.edit_button, self.clone_button, self.enable_button):
            button.setEnabled(p is not None)
        self.enable_button.setText("Enable" if p is not None and not p.enabled else "Disable")

    # --- actions ---

    def _open(self, dialog: ProductDialog) -> ProductDialog:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._saved)
        dialog.open()
        self.open_dialog = dialog
        return dialog

    def new_product(self) -> ProductDialog:
        return self._open(ProductDialog(self, self.db, self.actor, playbooks_dir=self.playbooks_dir))

    def edit_product(self) -> ProductDialog | None:
        p = self.selected()
        return self._open(ProductDialog(self, self.db, self.actor, p, playbooks_dir=self.playbooks_dir)) if p else None

    def _saved(self, product: ProductView) -> None:
        self._select_after_load = product.id
        self.reload()

    def clone_product(self) -> None:
        p = self.selected()
        if p is None:
            return
        db, actor = self.db, self.actor
        ops.mutate(self, lambda: catalog.clone_product(db, actor, p.id), self._saved,
                   success_message=lambda c: f"Cloned {p.name} as {c.name}; the copy is disabled until you enable it.")

    def toggle_enabled(self) -> None:
        p = self.selected()
        if p is None:
            return
        db, actor, enable = self.db, self.actor, not p.enabled
        ops.mutate(self, lambda: catalog.update_product(db, actor, p.id, expected_version=p.version, enabled=enable),
                   self._saved, success_message=f"{'Enabled' if enable else 'Disabled'} {p.name}.")

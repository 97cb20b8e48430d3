"""One inventory item: its identifiers and every field, the QR code of its management URL, its state
history, and buttons for the state changes its current state allows."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from omnidesk.errors import NotFound
from omnidesk.inventory import labels, rules
from omnidesk.inventory.service import HistoryView, ItemView
from omnidesk.ui import ops
from omnidesk.ui.badges import ITEM_STATE_COLOURS, Pill
from omnidesk.ui.inventory import operations

STYLE = """
QWidget#itemDetail { background: #ffffff; border: 1px solid #d0d7de; border-radius: 6px; }
QLabel#itemTitle { font-size: 18px; font-weight: 600; color: #1f2328; }
QLabel#itemSubtitle { color: #57606a; }
QLabel#qrCode { background: #ffffff; border: 1px solid #d0d7de; padding: 4px; }
QScrollArea#itemDetails, QWidget#itemDetailsPage { background: #ffffff; }
"""
CAPTION_WIDTH = 120  # identifiers and fields share one caption column
# States an item reaches by a state change; Assigned is reached by picking it for a customer.
NOT_BY_STATE_CHANGE = ("assigned",)
STATE_VERBS = {
    "new": "Back to New", "used": "Mark Used", "internal_use": "Internal use", "damaged": "Mark Damaged",
    "out_of_service": "Out of service", "lost": "Mark Lost", "stolen": "Mark Stolen",
}


def when(value: dt.datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "—"


def money(value) -> str:
    return f"{value:,.2f}"


class ItemDetailView(QWidget):
    loaded = Signal(object)  # ItemView
    changed = Signal(int)  # item id, after a change made here
    close_requested = Signal()

    TABS = ("Details", "History", "Configuration")

    def __init__(self, db, actor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("itemDetail")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(STYLE)
        self.db, self.actor = db, actor
        self.item_id: int | None = None
        self.item: ItemView | None = None
        self.history: list[HistoryView] = []
        self._request = 0
        self._reload_timer = QTimer(self, singleShot=True, interval=150)
        self._reload_timer.timeout.connect(self.reload)

        self.title = QLabel(objectName="itemTitle", wordWrap=True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.subtitle = QLabel(objectName="itemSubtitle")
        self.state_pill = Pill()
        close = QToolButton(text="✕", objectName="closeDetail", toolTip="Close this item")
        close.setAutoRaise(True)
        close.clicked.connect(self.close_requested)
        title_row = QHBoxLayout()
        title_row.addWidget(self.title, 1)
        title_row.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        badge_row = QHBoxLayout()
        badge_row.addWidget(self.subtitle)
        badge_row.addWidget(self.state_pill)
        badge_row.addStretch(1)

        self.state_buttons: dict[str, QPushButton] = {}
        actions = QHBoxLayout()
        actions.addWidget(QLabel("Change state:", objectName="fieldCaption"))
        for state in rules.ITEM_STATES:
            if state in NOT_BY_STATE_CHANGE:
                continue
            button = QPushButton(f"{STATE_VERBS[state]}…", objectName=f"state_{state}")
            if state in ("lost", "stolen", "damaged"):
                button.setObjectName("dangerButton")
            button.clicked.connect(lambda _c=False, s=state: self.ask_state_change(s))
            button.hide()
            self.state_buttons[state] = button
            actions.addWidget(button)
        actions.addStretch(1)
        self.no_moves = QLabel(objectName="fieldHint")
        actions.addWidget(self.no_moves)

        header = QWidget(objectName="detailHeader")
        header_layout = QVBoxLayout(header)
        header_layout.addLayout(title_row)
        header_layout.addLayout(badge_row)
        header_layout.addLayout(actions)

        self.tabs = QTabWidget(objectName="detailTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._build_details(), "Details")
        self.history_table = QTableWidget(0, 5)
        self.history_table.setHorizontalHeaderLabels(["When", "From", "To", "Who", "Reason"])
        self.history_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.history_table.verticalHeader().hide()
        self.history_table.setAlternatingRowColors(True)
        self.history_table.horizontalHeader().setStretchLastSection(True)
        for c, w in enumerate((130, 100, 100, 90)):
            self.history_table.setColumnWidth(c, w)
        history_page = QWidget()
        QVBoxLayout(history_page).addWidget(self.history_table)
        self.tabs.addTab(history_page, "History")
        self.config = QPlainTextEdit(objectName="configContent", readOnly=True)
        self.config.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.config_path = QLabel(objectName="fieldValue")
        self.config_path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        config_page = QWidget()
        config_layout = QVBoxLayout(config_page)
        config_layout.addWidget(self.config_path)
        config_layout.addWidget(self.config, 1)
        self.tabs.addTab(config_page, "Configuration")

        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.addWidget(header)
        body_layout.addWidget(self.tabs, 1)
        self.message = QLabel(objectName="emptyNote", alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.message)
        self.stack.addWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self._show_message("No item open.")

    def _build_details(self) -> QWidget:
        self.fields: dict[str, QLabel] = {}
        self.identifier_grid = QGridLayout()
        self.identifier_grid.setHorizontalSpacing(12)
        self.identifier_grid.setVerticalSpacing(6)
        self.identifier_grid.setColumnStretch(1, 1)
        self.identifier_grid.setColumnMinimumWidth(0, CAPTION_WIDTH)

        self.qr = QLabel(objectName="qrCode", alignment=Qt.AlignmentFlag.AlignCenter)
        self.qr.setFixedSize(labels.DETAIL_SIZE + 10, labels.DETAIL_SIZE + 10)
        self.qr_link = QLabel(objectName="qrLink", wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.qr_link.setOpenExternalLinks(True)
        self.qr_link.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.qr_link.setFixedWidth(labels.DETAIL_SIZE + 60)
        qr_box = QVBoxLayout()
        qr_box.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignHCenter)
        qr_box.addWidget(self.qr_link)
        qr_box.addStretch(1)
        self.qr_area = QWidget()
        self.qr_area.setLayout(qr_box)

        top = QHBoxLayout()
        top.addLayout(self.identifier_grid, 1)
        top.addWidget(self.qr_area, 0, Qt.AlignmentFlag.AlignTop)

        groups = (
            ("Stock", (("item_location", "Location"), ("customer", "Customer"), ("service", "Service"),
                       ("sold_date", "Sold"), ("return_due_at", "Return due"))),
            ("Costs", (("wholesale_cost", "Wholesale cost"), ("retail_cost", "Retail cost"))),
            ("Address", (("address", "Address"), ("country", "Country"), ("coordinates", "Coordinates"),
                         ("plus_code", "Plus code"), ("place_id", "Place ID"))),
            ("Management", (("management_url", "Management URL"), ("management_username", "Username"),
                            ("management_password", "Password"))),
            ("Record", (("notes", "Notes"), ("created_at", "Created"), ("updated_at", "Last changed"))),
        )
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(5)
        grid.setColumnStretch(1, 1)
        grid.setColumnMinimumWidth(0, CAPTION_WIDTH)
        row = 0
        for title, entries in groups:
            heading = QLabel(title, objectName="formSection")
            grid.addWidget(heading, row, 0, 1, 2)
            row += 1
            for key, caption in entries:
                label = QLabel(caption, objectName="fieldCaption")
                label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
                value = QLabel(objectName="fieldValue", wordWrap=True)
                value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                grid.addWidget(label, row, 0)
                if key == "management_password":
                    self.reveal_button = QPushButton("Reveal", objectName="revealPassword")
                    self.reveal_button.clicked.connect(self._reveal)
                    holder = QHBoxLayout()
                    holder.addWidget(value)
                    holder.addWidget(self.reveal_button)
                    holder.addStretch(1)
                    grid.addLayout(holder, row, 1)
                else:
                    grid.addWidget(value, row, 1)
                self.fields[key] = value
                row += 1
            grid.setRowMinimumHeight(row, 8)
            row += 1

        inner = QWidget(objectName="itemDetailsPage")
        layout = QVBoxLayout(inner)
        layout.addLayout(top)
        layout.addSpacing(4)
        layout.addLayout(grid)
        layout.addStretch(1)
        scroll = QScrollArea(objectName="itemDetails")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(inner)
        return scroll

    # --- loading ---

    def show_item(self, item_id: int) -> None:
        if item_id != self.item_id:
            self.item = None
            self.item_id = item_id
            self._show_message("Loading…")
        self.reload()

    def reload(self) -> None:
        self._reload_timer.stop()
        if self.item_id is None:
            return
        self._request += 1
        request = self._request

        def done(result) -> None:
            if request == self._request:
                self._apply(*result)

        def failed(exc: Exception) -> None:
            if request != self._request:
                return
            if isinstance(exc, NotFound):
                self.item = None
                self._show_message(str(exc))
            else:
                ops.show_error(self, exc)

        operations.load_item(self, self.db, self.actor, self.item_id, done, failed)

    def schedule_reload(self) -> None:
        self._reload_timer.start()

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)

    def _apply(self, item: ItemView, history: list[HistoryView], qr_png: bytes | None) -> None:
        self.item, self.history = item, history
        self.title.setText(f"{item.template_name} {item.itemtext1}")
        self.subtitle.setText(f"Item {item.id}")
        self.state_pill.set_pill(item.state_label, ITEM_STATE_COLOURS.get(item.item_state, "gray"))

        legal = [s for s in item.next_states if s not in NOT_BY_STATE_CHANGE]
        for state, button in self.state_buttons.items():
            button.setVisible(state in legal and self.actor.can("update_inventory"))
        self.no_moves.setText("" if legal else "No state change is possible from here.")

        while self.identifier_grid.count():
            taken = self.identifier_grid.takeAt(0)
            if taken.widget():
                taken.widget().deleteLater()
        shown = item.identifiers or ((item.labels[0] or "Item Text 1", item.itemtext1),)
        for r, (caption, value) in enumerate(shown):
            label = QLabel(caption, objectName="fieldCaption")
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            text = QLabel(value, objectName="identifierValue")
            text.setStyleSheet('font-family: "DejaVu Sans Mono", monospace; color: #1f2328;')
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.identifier_grid.addWidget(label, r, 0)
            self.identifier_grid.addWidget(text, r, 1)
        self.identifier_grid.setRowStretch(len(shown), 1)

        if qr_png:
            pixmap = QPixmap()
            pixmap.loadFromData(qr_png, "PNG")
            self.qr.setPixmap(pixmap)
            url = item.management_url or ""
            if item.management_url_is_link:
                self.qr_link.setText(f'<a href="{url}">{url}</a>')
            else:
                self.qr_link.setText(url)
            self.qr_link.setToolTip(url)
            self.qr_area.show()
        else:
            self.qr.clear()
            self.qr_link.clear()
            self.qr_area.hide()

        f = self.fields
        f["item_location"].setText(item.item_location or "—")
        f["customer"].setText(str(item.customer_id) if item.customer_id is not None else "In stock" if item.item_state in rules.STOCK_STATES else "—")
        f["service"].setText(str(item.service_id) if item.service_id is not None else "—")
        f["sold_date"].setText(when(item.sold_date))
        f["return_due_at"].setText(when(item.return_due_at))
        f["wholesale_cost"].setText(money(item.wholesale_cost))
        f["retail_cost"].setText(money(item.retail_cost))
        address = ", ".join(p for p in (item.address_line_1, item.address_line_2, item.city, item.state, item.postcode) if p)
        f["address"].setText(address or "—")
        f["country"].setText(item.country or "—")
        f["coordinates"].setText(f"{item.latitude}, {item.longitude}" if item.latitude is not None else "—")
        f["plus_code"].setText(item.plus_code or "—")
        f["place_id"].setText(item.google_maps_place_id or "—")
        f["management_url"].setText(item.management_url or "—")
        f["management_username"].setText(item.management_username or "—")
        f["management_password"].setText("•••••••• (stored encrypted)" if item.has_management_password else "—")
        self.reveal_button.setVisible(item.has_management_password and self.actor.can("update_inventory"))
        f["notes"].setText(item.notes or "—")
        f["created_at"].setText(when(item.created_at))
        f["updated_at"].setText(when(item.updated_at))

        self.history_table.setRowCount(len(history))
        for r, h in enumerate(reversed(history)):  # newest first
            values = (when(h.changed_at), rules.state_label(h.from_state) if h.from_state else "—",
                      rules.state_label(h.to_state), h.actor_name, h.reason)
            for c, value in enumerate(values):
                self.history_table.setItem(r, c, QTableWidgetItem(value))
        self.tabs.setTabText(1, f"History ({len(history)})")
        self.config_path.setText(f"File: {item.config_file_path}" if item.config_file_path else "No configuration file path.")
        self.config.setPlainText(item.config_content or "")
        self.stack.setCurrentIndex(1)
        self.loaded.emit(item)

    # --- actions ---

    def ask_state_change(self, state: str) -> QInputDialog | None:
        """Ask for an optional reason, then change the state; the service has the last word."""
        item = self.item
        if item is None:
            return None
        dialog = QInputDialog(self)
        dialog.setObjectName("stateChangeDialog")
        dialog.setWindowTitle("Change item state")
        dialog.setLabelText(
            f"{item.template_name} {item.itemtext1}: {item.state_label} → {rules.state_label(state)}\n\n"
            "Reason (optional, kept in the history):"
        )
        dialog.setTextEchoMode(QLineEdit.EchoMode.Normal)
        dialog.setOkButtonText(STATE_VERBS[state])
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.textValueSelected.connect(lambda reason: self.change_state(state, reason))
        dialog.open()
        self.open_dialog = dialog
        return dialog

    def change_state(self, state: str, reason: str = "") -> None:
        item = self.item
        if item is None:
            return

        def refused(exc: Exception) -> None:
            ops.show_error(self, exc)
            self.reload()  # show the state the item is really in

        operations.change_state(self, self.db, self.actor, item, state, reason, self._after_change, refused)

    def _after_change(self, _result=None) -> None:
        if self.item_id is not None:
            self.changed.emit(self.item_id)
        self.reload()

    def _reveal(self) -> None:
        if self.item is not None:
            operations.reveal_password(self, self.db, self.actor, self.item,
                                       lambda password: self.fields["management_password"].setText(password or "—"))

"""One customer: header with status and tags, and the Overview / Contacts / Sites / Attributes /
Tags / Activity sub-tabs with their actions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from omnidesk.customers import rules
from omnidesk.customers.service import ActivityView, CustomerDetail
from omnidesk.errors import NotFound
from omnidesk.ui import ops
from omnidesk.ui.customers import operations
from omnidesk.ui.customers.dialogs import AttributeDialog, ContactDialog, CustomerDialog, SiteDialog, TagDialog
from omnidesk.ui.services.customer_services import CustomerServicesSection
from omnidesk.ui.widgets import FlowLayout, StatusBadge, TagPill, humane, readable_text_colour


def when(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


class RecordSection(QWidget):
    """A customer's records of one kind in a table, with Add / Edit / Delete."""

    add_requested = Signal()
    edit_requested = Signal(object)
    delete_requested = Signal(object)

    def __init__(self, noun: str, headers: Sequence[str], cells: Callable[[Any], Sequence[Any]], parent: QWidget | None = None):
        super().__init__(parent)
        self.noun = noun
        self._cells = cells
        self.records: list[Any] = []
        self.table = QTableWidget(0, len(headers))
        self.table.setHorizontalHeaderLabels(list(headers))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.doubleClicked.connect(lambda _i: self._edit())
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.empty = QLabel(f"No {noun}s yet.", objectName="emptyNote", alignment=Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)

        self.add_button = QPushButton(f"Add {noun}…")
        self.edit_button = QPushButton("Edit…")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setObjectName("dangerButton")
        self.add_button.clicked.connect(self.add_requested)
        self.edit_button.clicked.connect(self._edit)
        self.delete_button.clicked.connect(self._delete)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.edit_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.stack, 1)
        self._editable = True
        self._update_buttons()

    def set_records(self, records: Sequence[Any]) -> None:
        selected = self.selected()
        self.records = list(records)
        self.table.setRowCount(len(self.records))
        for r, record in enumerate(self.records):
            for c, cell in enumerate(self._cells(record)):
                item = cell if isinstance(cell, QTableWidgetItem) else QTableWidgetItem("" if cell is None else str(cell))
                self.table.setItem(r, c, item)
            if selected is not None and getattr(record, "id", None) == getattr(selected, "id", None):
                self.table.selectRow(r)
        self.table.resizeColumnsToContents()
        for c in range(self.table.columnCount() - 1):
            self.table.setColumnWidth(c, min(self.table.columnWidth(c) + 16, 260))
        self.stack.setCurrentWidget(self.table if self.records else self.empty)
        self._update_buttons()

    def set_editable(self, editable: bool) -> None:
        self._editable = editable
        self._update_buttons()

    def selected(self) -> Any | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.records):
            return None
        return self.records[rows[0].row()]

    def select(self, row: int) -> None:
        self.table.selectRow(row)

    def _update_buttons(self) -> None:
        chosen = self.selected() is not None
        self.add_button.setEnabled(self._editable)
        self.edit_button.setEnabled(self._editable and chosen)
        self.delete_button.setEnabled(self._editable and chosen)

    def _edit(self) -> None:
        record = self.selected()
        if record is not None and self._editable:
            self.edit_requested.emit(record)

    def _delete(self) -> None:
        record = self.selected()
        if record is not None and self._editable:
            self.delete_requested.emit(record)


def _colour_item(colour: str) -> QTableWidgetItem:
    item = QTableWidgetItem(f"#{colour}")
    background = QColor(f"#{colour}")
    item.setBackground(background)
    item.setForeground(QColor(readable_text_colour(background)))
    return item


class CustomerDetailView(QWidget):
    """Shows one customer and offers every action on it; reloads itself after each change."""

    changed = Signal(int)  # a change was made here to this customer
    loaded = Signal(object)  # CustomerDetail, each time it is (re)loaded
    close_requested = Signal()

    TABS = ("Overview", "Contacts", "Sites", "Attributes", "Tags", "Services", "Activity")

    def __init__(self, db, actor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("customerDetail")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.db, self.actor = db, actor
        self.customer_id: int | None = None
        self.detail: CustomerDetail | None = None
        self._request = 0
        self._reload_timer = QTimer(self, singleShot=True, interval=150)
        self._reload_timer.timeout.connect(self.reload)
        self._deadline = QTimer(self, singleShot=True, interval=1000)
        self._deadline.timeout.connect(self.reload)

        # header
        self.name_label = QLabel(objectName="customerName", wordWrap=True)
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.id_label = QLabel(objectName="customerId")
        self.status_badge = StatusBadge()
        self.archived_badge = StatusBadge("archived")
        close = QToolButton(text="✕", objectName="closeDetail", toolTip="Close this customer")
        close.setAutoRaise(True)
        close.clicked.connect(self.close_requested)
        title_row = QHBoxLayout()
        title_row.addWidget(self.name_label, 1)
        title_row.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        badge_row = QHBoxLayout()
        badge_row.addWidget(self.id_label)
        badge_row.addWidget(self.status_badge)
        badge_row.addWidget(self.archived_badge)
        badge_row.addStretch(1)
        self.tag_area = QWidget()
        self.tag_flow = FlowLayout(self.tag_area)
        header = QWidget(objectName="detailHeader")
        header_layout = QVBoxLayout(header)
        header_layout.addLayout(title_row)
        header_layout.addLayout(badge_row)
        header_layout.addWidget(self.tag_area)

        # sub-tabs
        self.tabs = QTabWidget(objectName="detailTabs")
        self.tabs.setDocumentMode(True)
        self.overview = self._build_overview()
        self.contacts = RecordSection(
            "contact", ("Type", "Name", "E-mail", "Phone"),
            lambda c: (humane(c.contact_type), c.full_name, c.email or "", c.phone or ""),
        )
        self.sites = RecordSection(
            "site", ("Name", "Address", "Plus code", "Coordinates"),
            lambda s: (
                s.name,
                ", ".join(p for p in (s.address_line_1, s.address_line_2, s.city, s.state, s.postcode, s.country) if p),
                s.plus_code or "", f"{s.latitude}, {s.longitude}" if s.latitude is not None else "",
            ),
        )
        self.attributes = RecordSection(
            "attribute", ("Name", "Value", "Updated"), lambda a: (a.key, a.value, when(a.updated_at))
        )
        self.tag_section = RecordSection(
            "tag", ("Text", "Colour", "State", "Active from", "Deactivate at", "Link"),
            lambda t: (t.label, _colour_item(t.colour), humane(t.state), when(t.active_from), when(t.deactivate_at), t.link or ""),
        )
        self.activity_table = QTableWidget(0, 3)
        self.activity_table.setHorizontalHeaderLabels(["When", "Who", "What"])
        self.activity_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.activity_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.activity_table.verticalHeader().hide()
        self.activity_table.setAlternatingRowColors(True)
        self.activity_table.horizontalHeader().setStretchLastSection(True)
        self.activity_table.setWordWrap(False)
        self.activity_table.setColumnWidth(0, 130)
        self.activity_table.setColumnWidth(1, 90)
        activity_page = QWidget()
        QVBoxLayout(activity_page).addWidget(self.activity_table)
        self.services = CustomerServicesSection(db, actor)
        self.services.changed.connect(self._after_change)
        self.services.loaded.connect(lambda: self.tabs.setTabText(
            self.TABS.index("Services"), f"Services ({len(self.services.services)})" if self.services.services else "Services"))
        for title, page in zip(
            self.TABS,
            (self.overview, self.contacts, self.sites, self.attributes, self.tag_section, self.services, activity_page),
        ):
            self.tabs.addTab(page, title)
        self.billing = None  # issue 5: the customer's transactions and invoices
        if actor.can("view_customer_transaction") or actor.can("view_customer_invoice"):
            from omnidesk.ui.billing.workspace import BillingView

            self.billing = BillingView(db, actor, customer_id=0, load=False)
            self.billing.changed.connect(self._after_change)
            self.tabs.addTab(self.billing, "Billing")

        self._wire_sections()

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
        self._show_message("No customer open.")

    # --- building ---

    def _build_overview(self) -> QWidget:
        page = QWidget()
        self.edit_button = QPushButton("Edit…")
        self.edit_button.clicked.connect(self._edit_customer)
        self.status_buttons: dict[str, QPushButton] = {}
        actions = QHBoxLayout()
        actions.addWidget(self.edit_button)
        for status, verb in rules.STATUS_ACTIONS.items():
            button = QPushButton(f"{verb}…")
            button.setObjectName(f"status_{status}")
            button.clicked.connect(lambda _c=False, s=status: self._change_status(s))
            self.status_buttons[status] = button
            actions.addWidget(button)
        actions.addStretch(1)
        self.archive_button = QPushButton("Archive…")
        self.archive_button.setObjectName("dangerButton")
        self.archive_button.clicked.connect(self._archive)
        self.restore_button = QPushButton("Restore")
        self.restore_button.clicked.connect(self._restore)
        actions.addWidget(self.archive_button)
        actions.addWidget(self.restore_button)

        self.fields: dict[str, QLabel] = {}
        columns = (
            (("account_type", "Account type"), ("payment_type", "Payment"), ("currency", "Currency"),
             ("credit_limit", "Credit limit"), ("tax_identifier", "Tax identifier"), ("contract", "Contract")),
            (("kyc", "KYC approved"), ("created_at", "Created"), ("updated_at", "Last changed"),
             ("services", "Live services"), ("invoices", "Open invoices"), ("transactions", "Uninvoiced transactions")),
        )
        grid = QHBoxLayout()
        grid.setSpacing(28)
        for column in columns:
            form = QFormLayout()
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
            form.setHorizontalSpacing(12)
            form.setVerticalSpacing(7)
            for key, title in column:
                value = QLabel(objectName="fieldValue")
                value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                form.addRow(QLabel(title, objectName="fieldCaption"), value)
                self.fields[key] = value
            grid.addLayout(form)
        grid.addStretch(1)
        notes_caption = QLabel("Notes", objectName="fieldCaption")
        self.notes = QLabel(objectName="notes", wordWrap=True)
        self.notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        layout = QVBoxLayout(page)
        layout.addLayout(actions)
        layout.addSpacing(6)
        layout.addLayout(grid)
        layout.addSpacing(6)
        layout.addWidget(notes_caption)
        layout.addWidget(self.notes)
        layout.addStretch(1)
        return page

    def _wire_sections(self) -> None:
        for section, dialog, question, delete in (
            (self.contacts, ContactDialog, lambda c: f"Remove the {c.contact_type} contact {c.full_name}?",
             operations.delete_contact),
            (self.sites, SiteDialog, lambda s: f"Remove the site {s.name}?", operations.delete_site),
            (self.attributes, AttributeDialog, lambda a: f"Remove the attribute {a.key} ({a.value})?",
             operations.delete_attribute),
            (self.tag_section, TagDialog, lambda t: f"Remove the tag {t.label}?", operations.delete_tag),
        ):
            def open_dialog(record=None, dialog=dialog) -> None:
                self._open_dialog(dialog(self, self.db, self.actor, self.customer_id, record))

            section.add_requested.connect(open_dialog)
            section.edit_requested.connect(open_dialog)
            section.delete_requested.connect(
                lambda record, question=question, delete=delete: self._confirm_delete(question(record), delete, record)
            )

    # --- loading ---

    def show_customer(self, customer_id: int) -> None:
        if customer_id != self.customer_id:
            self.detail = None
            self.customer_id = customer_id
            self._show_message("Loading…")
        self.reload()

    def reload(self) -> None:
        self._reload_timer.stop()
        self._deadline.stop()
        if self.customer_id is None:
            return
        self._request += 1
        request, customer_id = self._request, self.customer_id

        def done(result) -> None:
            if request == self._request:
                self._apply(*result)

        def failed(exc: Exception) -> None:
            if request != self._request:
                return
            if isinstance(exc, NotFound):
                self.detail = None
                self._show_message(str(exc))
            else:
                ops.show_error(self, exc)

        operations.load_customer(self, self.db, self.actor, customer_id, done, failed)

    def schedule_reload(self) -> None:
        """Reload soon; a burst of change notices causes one reload."""
        self._reload_timer.start()
        if not self._deadline.isActive():
            self._deadline.start()

    def notice_changes(self, notices: list[dict]) -> None:
        if self.customer_id is not None and any(n.get("customer_id") == self.customer_id for n in notices):
            self.schedule_reload()

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)

    def _apply(self, detail: CustomerDetail, activity: list[ActivityView]) -> None:
        self.detail = detail
        self.name_label.setText(detail.name)
        self.id_label.setText(f"Customer {detail.id}")
        self.status_badge.set_status(detail.status)
        self.archived_badge.setVisible(detail.archived)
        self.tag_flow.clear()
        for tag in detail.tags:
            if tag.state == "active":
                pill = TagPill(tag.label, tag.colour, tag.link)
                self.tag_flow.addWidget(pill)
        self.tag_area.setVisible(self.tag_flow.count() > 0)
        self.services.show_customer(detail.id)
        if self.billing is not None:
            self.billing.show_customer(detail.id, detail.currency)

        f = self.fields
        f["account_type"].setText(humane(detail.account_type))
        f["payment_type"].setText(humane(detail.payment_type))
        f["currency"].setText(detail.currency)
        f["credit_limit"].setText(f"{detail.credit_limit:,.2f} {detail.currency}")
        f["tax_identifier"].setText(detail.tax_identifier or "—")
        if detail.contract_start_date or detail.contract_end_date:
            f["contract"].setText(f"{when(detail.contract_start_date)} to {when(detail.contract_end_date)}")
        else:
            f["contract"].setText("—")
        f["kyc"].setText(f"{when(detail.kyc_approved_at)} by {detail.kyc_approved_by}" if detail.kyc_approved_at else "Not yet")
        f["created_at"].setText(when(detail.created_at))
        f["updated_at"].setText(when(detail.updated_at))
        f["services"].setText(str(detail.live_services))
        f["invoices"].setText(str(detail.open_invoices))
        f["transactions"].setText(str(detail.uninvoiced_transactions))
        self.notes.setText(detail.notes or "—")

        editable = not detail.archived
        self.edit_button.setEnabled(editable)
        for status, button in self.status_buttons.items():
            button.setVisible(status in detail.next_statuses)
        self.archive_button.setVisible(not detail.archived)
        self.restore_button.setVisible(detail.archived)

        for title, section, records in (
            ("Contacts", self.contacts, detail.contacts), ("Sites", self.sites, detail.sites),
            ("Attributes", self.attributes, detail.attributes), ("Tags", self.tag_section, detail.tags),
        ):
            section.set_records(records)
            section.set_editable(editable)
            self.tabs.setTabText(self.TABS.index(title), f"{title} ({len(records)})" if records else title)

        self.activity_table.setRowCount(len(activity))
        for r, entry in enumerate(activity):
            for c, text in enumerate((when(entry.occurred_at), entry.actor_name, entry.summary)):
                item = QTableWidgetItem(text)
                if c == 2:
                    item.setToolTip(text)
                self.activity_table.setItem(r, c, item)
        self.stack.setCurrentIndex(1)
        self.loaded.emit(detail)

    # --- actions ---

    def _after_change(self, _result=None) -> None:
        if self.customer_id is not None:
            self.changed.emit(self.customer_id)
        self.reload()

    def _open_dialog(self, dialog) -> None:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._after_change)
        dialog.open()
        self.open_dialog = dialog  # for tests and screenshots

    def _edit_customer(self) -> None:
        if self.detail is not None:
            self._open_dialog(CustomerDialog(self, self.db, self.actor, self.detail))

    def _change_status(self, status: str) -> None:
        detail = self.detail
        if detail is None:
            return
        verb = rules.STATUS_ACTIONS[status]
        consequence = {
            "active": "The customer's services can be used and billed.",
            "suspended": "The customer's services stop until the customer is activated again.",
            "closed": "Closing is final: a closed customer cannot be activated again.",
        }[status]
        ops.confirm(
            self, f"{verb} {detail.label}?",
            lambda: operations.change_status(self, self.db, self.actor, detail, status, self._after_change),
            yes_label=verb, informative=consequence, destructive=status == "closed",
        )

    def _archive(self) -> None:
        detail = self.detail
        if detail is None:
            return
        ops.confirm(
            self, f"Archive {detail.label}?",
            lambda: operations.archive_customer(self, self.db, self.actor, detail, self._after_change),
            yes_label="Archive", informative="Archived customers are hidden from the list and can be restored later.",
            destructive=True,
        )

    def _restore(self) -> None:
        if self.detail is not None:
            operations.restore_customer(self, self.db, self.actor, self.detail, self._after_change)

    def _confirm_delete(self, question: str, operation, record) -> None:
        ops.confirm(
            self, question, lambda: operation(self, self.db, self.actor, record, self._after_change),
            yes_label="Delete", destructive=True,
        )

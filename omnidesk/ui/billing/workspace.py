"""The Billing tab and the customer's Billing sub-tab: Transactions and Invoices, each a paged list
with its four stats cards, search, filters (void, invoiced, paid, date range), sort and pages.

`BillingView(db, actor)` is system-wide; `BillingView(db, actor, customer_id=…)` (or `show_customer`)
shows one customer's, with the customer-only actions (add a transaction, generate an invoice).
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from omnidesk.billing import service as billing
from omnidesk.ui import ops
from omnidesk.ui.billing.stats import StatsRow
from omnidesk.ui.billing.table_model import ROW_ROLE, PagedTableModel, invoice_columns, transaction_columns

SEARCH_DELAY_MS = 200
ROW_HEIGHT = 26
VOID_CHOICES = (("Not void", False), ("Void", True), ("Void or not", None))
INVOICED_CHOICES = (("Invoiced or not", None), ("Not invoiced", False), ("Invoiced", True))
INVOICE_STATUS_CHOICES = (("All statuses", None), ("Unpaid or part paid", "open"), ("Unpaid", "unpaid"),
                          ("Partially paid", "partially_paid"), ("Paid", "paid"), ("Void", "void"),
                          ("Refunded", "refunded"))


class DateRange(QWidget):
    """'From' and 'to' dates, each switched on by its checkbox; emits `changed`."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        self.boxes, self.edits = [], []
        today = QDate.currentDate()
        for label, default in (("From", today.addDays(-30)), ("to", today)):
            box = QCheckBox(label)
            edit = QDateEdit(default, calendarPopup=True, displayFormat="yyyy-MM-dd", enabled=False)
            box.toggled.connect(edit.setEnabled)
            box.toggled.connect(self.changed)
            edit.dateChanged.connect(lambda _d, b=box: b.isChecked() and self.changed.emit())
            row.addWidget(box)
            row.addWidget(edit)
            self.boxes.append(box)
            self.edits.append(edit)

    def values(self) -> tuple[dt.date | None, dt.date | None]:
        return tuple(e.date().toPython() if b.isChecked() else None for b, e in zip(self.boxes, self.edits))

    def set_values(self, start: dt.date | None, end: dt.date | None) -> None:
        self.blockSignals(True)
        for box, edit, value in zip(self.boxes, self.edits, (start, end)):
            if value is not None:
                edit.setDate(QDate(value.year, value.month, value.day))
            box.setChecked(value is not None)
        self.blockSignals(False)
        self.changed.emit()


def _table(model: PagedTableModel, name: str) -> QTableView:
    table = QTableView(objectName=name)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.setCornerButtonEnabled(False)
    vertical = table.verticalHeader()
    vertical.hide()
    vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    vertical.setDefaultSectionSize(ROW_HEIGHT)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setHighlightSections(False)
    header.setStretchLastSection(True)
    header.setSortIndicator(model.sort_column(), Qt.SortOrder.DescendingOrder)
    table.setSortingEnabled(True)  # after the indicator: enabling sorts by it
    for i, column in enumerate(model.columns):
        table.setColumnWidth(i, column.width)
    return table


class ListPanel(QWidget):
    """Stats cards, a search and filter bar, the paged table and its pager; subclasses say what to list."""

    noun = "row"
    stats_titles = ("Total", "Open", "This month", "Last month")

    def __init__(self, db, actor, customer_id: int | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.db, self.actor, self.customer_id = db, actor, customer_id
        self.currency = "USD"
        self._stats_request = 0
        self.stats = StatsRow(self.stats_titles)
        self.search = QLineEdit(clearButtonEnabled=True)
        self.dates = DateRange()
        self.reset_button = QPushButton("Reset filters")
        self.reset_button.clicked.connect(self.reset_filters)
        self.filter_bar = QHBoxLayout()  # under the search, which gets a line of its own (narrow customer pane)
        self.actions = QHBoxLayout()
        self.model = self.make_model()
        self.table = _table(self.model, f"{self.noun}Table")
        self.table.doubleClicked.connect(self._activated)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.update_actions())
        self.count_label = QLabel("Counting…", objectName="countLabel")
        self.previous_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next ▶")
        self.page_label = QLabel("", objectName="countLabel")
        self.previous_button.clicked.connect(lambda: self.model.go_to_page(self.model.query.page - 1))
        self.next_button.clicked.connect(lambda: self.model.go_to_page(self.model.query.page + 1))
        pager = QHBoxLayout()
        pager.addWidget(self.count_label)
        pager.addStretch(1)
        pager.addWidget(self.previous_button)
        pager.addWidget(self.page_label)
        pager.addWidget(self.next_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.stats)
        layout.addLayout(self.actions)
        layout.addWidget(self.search)
        layout.addLayout(self.filter_bar)
        layout.addWidget(self.table, 1)
        layout.addLayout(pager)

        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.dates.changed.connect(self.apply_filters)
        self.model.count_changed.connect(lambda _c: self._show_pages())
        self.model.page_loaded.connect(self._show_pages)
        self.model.page_loaded.connect(self.update_actions)

    # --- subclasses ---

    def make_model(self) -> PagedTableModel:
        raise NotImplementedError

    def filters(self) -> dict:
        start, end = self.dates.values()
        return dict(customer_id=self.customer_id, search=self.search.text().strip(), start=start, end=end)

    def stats_function(self):
        """The service function behind the cards: (db, actor, customer_id, currency=…) -> Stats."""
        raise NotImplementedError

    def load_stats(self) -> None:
        """Fill the cards; system-wide, the sums keep to one currency (the most used) and say which."""
        db, actor, customer_id, fn, currency = self.db, self.actor, self.customer_id, self.stats_function(), self.currency
        self._stats_request += 1
        request = self._stats_request

        def work():
            if customer_id is not None:
                return fn(db, actor, customer_id), currency, False
            currencies = billing.stats_currencies(db, actor) or ["USD"]
            several = len(currencies) > 1
            return fn(db, actor, None, currency=currencies[0] if several else None), currencies[0], several

        def done(result) -> None:
            if request != self._stats_request:
                return  # an older answer (another customer, or before a change)
            stats, shown_currency, several = result
            self.stats.fill(stats, self.noun, shown_currency)
            self.stats.set_note(f"{shown_currency} accounts" if several else "")

        ops.query(self, work, done, lambda exc: None)

    def open_row(self, row) -> None:
        pass

    def update_actions(self) -> None:
        pass

    def reset_filters(self) -> None:
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self.dates.blockSignals(True)
        self.dates.set_values(None, None)
        self.dates.blockSignals(False)

    # --- shared ---

    def combo(self, choices, name: str) -> QComboBox:
        box = QComboBox(objectName=name)
        for text, value in choices:
            box.addItem(text, value)
        box.currentIndexChanged.connect(lambda _i: self.apply_filters())
        self.filter_bar.addWidget(box)
        return box

    def finish_filter_bar(self) -> None:
        self.filter_bar.addWidget(self.dates)
        self.filter_bar.addStretch(1)
        self.filter_bar.addWidget(self.reset_button)

    def apply_filters(self) -> None:
        self._search_timer.stop()
        self.model.set_filters(**self.filters())

    def reload(self) -> None:
        """Everything again: after a change made here or reported from elsewhere."""
        self.model.reload()
        self.load_stats()

    def selected(self):
        rows = self.table.selectionModel().selectedRows()
        return self.model.row(rows[0].row()) if rows else None

    def _activated(self, index: QModelIndex) -> None:
        row = index.data(ROW_ROLE)
        if row is not None:
            self.open_row(row)

    def _show_pages(self) -> None:
        count, page = self.model.count, self.model.query.page
        if count is None:
            self.count_label.setText("Counting…")
        else:
            noun = self.noun if count == 1 else self.noun + "s"
            self.count_label.setText(f"{count:,} {noun}")
        self.page_label.setText(f"Page {page + 1} of {self.model.pages}")
        self.previous_button.setEnabled(page > 0)
        self.next_button.setEnabled(count is not None and page + 1 < self.model.pages)


class TransactionsPanel(ListPanel):
    noun = "transaction"
    stats_titles = ("Total", "Uninvoiced", "This month", "Last month")
    changed = Signal()

    def __init__(self, db, actor, customer_id: int | None, parent: QWidget | None = None):
        super().__init__(db, actor, customer_id, parent)
        self.search.setPlaceholderText("Search by transaction ID, title, description or invoice number")
        self.void_filter = self.combo(VOID_CHOICES, "voidFilter")
        self.invoiced_filter = self.combo(INVOICED_CHOICES, "invoicedFilter")
        self.finish_filter_bar()
        self.add_button = QPushButton("+ Add transaction…", objectName="primaryButton")
        self.void_button = QPushButton("Void transaction…", objectName="dangerButton")
        self.add_button.clicked.connect(self.add_transaction)
        self.void_button.clicked.connect(self.void_selected)
        self.actions.addWidget(self.add_button)
        self.actions.addWidget(self.void_button)
        self.actions.addStretch(1)
        self.add_button.setVisible(actor.can("create_customer_transaction"))
        self.void_button.setVisible(actor.can("delete_customer_transaction"))
        self.update_actions()

    def make_model(self) -> PagedTableModel:
        db, actor = self.db, self.actor

        def fetch(*, descending: bool, **kwargs):
            return billing.list_transactions(db, actor, newest_first=descending, **kwargs)

        return PagedTableModel(transaction_columns(with_customer=self.customer_id is None), fetch,
                               lambda **kw: billing.count_transactions(db, actor, **kw), self, sort="date")

    def filters(self) -> dict:
        return dict(super().filters(), void=self.void_filter.currentData(), invoiced=self.invoiced_filter.currentData())

    def reset_filters(self) -> None:
        for box in (self.void_filter, self.invoiced_filter):
            box.blockSignals(True)
            box.setCurrentIndex(0)
            box.blockSignals(False)
        super().reset_filters()
        self.apply_filters()

    def stats_function(self):
        return billing.transaction_stats

    def update_actions(self) -> None:
        chosen = self.selected()
        self.void_button.setEnabled(chosen is not None and not chosen.void and not chosen.invoiced
                                    and chosen.kind in billing.LINE_KINDS)

    def add_transaction(self) -> None:
        from omnidesk.ui.billing.dialogs import AddTransactionDialog

        dialog = AddTransactionDialog(self, self.db, self.actor, self.customer_id,
                                      self.currency if self.customer_id else "")
        dialog.saved.connect(lambda _t: self.changed.emit())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def void_selected(self) -> None:
        t = self.selected()
        if t is None:
            return
        db, actor = self.db, self.actor
        ops.confirm(self, f"Void transaction {t.id} '{t.title}'?",
                    lambda: ops.mutate(self, lambda: billing.void_transaction(db, actor, t.id),
                                       lambda _v: self.changed.emit(), success_message=f"Transaction {t.id} voided."),
                    yes_label="Void", informative="A void transaction is not invoiced and leaves the totals.",
                    destructive=True)

    def open_row(self, row) -> None:
        if row.invoice_id is not None:
            self.invoice_requested.emit(row.invoice_id)

    invoice_requested = Signal(int)


class InvoicesPanel(ListPanel):
    noun = "invoice"
    stats_titles = ("Total invoices", "Unpaid", "This month", "Last month")
    changed = Signal()

    def __init__(self, db, actor, customer_id: int | None, parent: QWidget | None = None):
        super().__init__(db, actor, customer_id, parent)
        self.search.setPlaceholderText("Search by invoice number, title or customer name")
        self.status_filter = self.combo(INVOICE_STATUS_CHOICES, "statusFilter")
        self.finish_filter_bar()
        self.generate_button = QPushButton("Generate invoice…", objectName="primaryButton")
        self.open_button = QPushButton("Open invoice…")
        self.generate_button.clicked.connect(self.generate)
        self.open_button.clicked.connect(lambda: self.selected() and self.open_row(self.selected()))
        self.actions.addWidget(self.generate_button)
        self.actions.addWidget(self.open_button)
        self.actions.addStretch(1)
        self.generate_button.setVisible(actor.can("create_customer_invoice"))
        self.update_actions()

    def make_model(self) -> PagedTableModel:
        db, actor = self.db, self.actor
        return PagedTableModel(invoice_columns(with_customer=self.customer_id is None),
                               lambda **kw: billing.list_invoices(db, actor, **kw),
                               lambda **kw: billing.count_invoices(db, actor, **kw), self, sort="number")

    def filters(self) -> dict:
        return dict(super().filters(), status=self.status_filter.currentData())

    def reset_filters(self) -> None:
        self.status_filter.blockSignals(True)
        self.status_filter.setCurrentIndex(0)
        self.status_filter.blockSignals(False)
        super().reset_filters()
        self.apply_filters()

    def stats_function(self):
        return billing.invoice_stats

    def update_actions(self) -> None:
        self.open_button.setEnabled(self.selected() is not None)

    def generate(self) -> None:
        from omnidesk.ui.billing.generate import GenerateInvoiceDialog

        dialog = GenerateInvoiceDialog(self, self.db, self.actor, self.customer_id)
        dialog.generated.connect(self._generated)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def _generated(self, invoice) -> None:
        self.changed.emit()
        self.open_invoice(invoice.id)

    def open_row(self, row) -> None:
        self.open_invoice(row.id)

    def open_invoice(self, invoice_id: int) -> None:
        from omnidesk.ui.billing.invoice_detail import InvoiceDialog

        dialog = InvoiceDialog(self, self.db, self.actor, invoice_id)
        dialog.changed.connect(self.changed)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.invoice_opened.emit(dialog)

    invoice_opened = Signal(object)


class BillingView(QWidget):
    """Transactions and Invoices as sub-tabs; system-wide (customer_id None) or for one customer
    (customer_id 0 = a customer not chosen yet: `show_customer` chooses and loads)."""

    changed = Signal()  # a change was made here (a transaction, an invoice, a payment…)

    def __init__(self, db, actor, parent: QWidget | None = None, *, customer_id: int | None = None,
                 live=None, load: bool = True):
        super().__init__(parent)
        self.setObjectName("billingView")
        self.db, self.actor = db, actor
        self.customer_id = customer_id
        self.tabs = QTabWidget(objectName="detailTabs")
        self.tabs.setDocumentMode(True)
        self.transactions = self.invoices = None
        self.outbox = None  # the e-mail sender, in the main window's view
        self._stale = False  # a customer was chosen while the view was hidden: read when it shows
        if actor.can("view_customer_transaction"):
            self.transactions = TransactionsPanel(db, actor, customer_id)
            self.tabs.addTab(self.transactions, "Transactions")
        if actor.can("view_customer_invoice"):
            self.invoices = InvoicesPanel(db, actor, customer_id)
            self.tabs.addTab(self.invoices, "Invoices")
        for panel in self.panels():
            panel.changed.connect(self.reload)
            panel.changed.connect(self.changed)
        if self.transactions is not None and self.invoices is not None:
            self.transactions.invoice_requested.connect(self.invoices.open_invoice)
        layout = QVBoxLayout(self)
        if customer_id is not None:
            layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self._reload_timer = QTimer(self, singleShot=True, interval=1000)
        self._reload_timer.timeout.connect(self.reload)
        if live is not None:
            live.changes.connect(self.notice_changes)
        if load and customer_id is None:
            self.start()

    def start_outbox_sender(self) -> None:
        """Send queued invoice e-mail from this process while it runs (where Mailjet is configured)."""
        from omnidesk.ui.billing.outbox import OutboxSender

        if self.outbox is None and OutboxSender.wanted(self.actor):
            self.outbox = OutboxSender(self.db, self.actor, self)
            self.outbox.start()

    def panels(self) -> list[ListPanel]:
        return [p for p in (self.transactions, self.invoices) if p is not None]

    def start(self) -> None:
        self._stale = False
        for panel in self.panels():
            panel.apply_filters()
            panel.load_stats()

    def show_customer(self, customer_id: int, currency: str = "USD") -> None:
        """Show this customer's billing (the customer detail's sub-tab). Read when the sub-tab is on
        screen, not each time a customer is opened on another sub-tab."""
        self.customer_id = customer_id
        for panel in self.panels():
            panel.customer_id, panel.currency = customer_id, currency
            panel.update_actions()
        self._stale = True
        if self.isVisible():
            self.start()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._stale and self.customer_id:
            self.start()

    def reload(self) -> None:
        self._reload_timer.stop()
        for panel in self.panels():
            panel.reload()

    def notice_changes(self, notices: list[dict]) -> None:
        """Every billing change writes the activity log, whose rows are announced with their customer:
        reload (once per burst) when one concerns what this view shows."""
        relevant = [n for n in notices if n.get("table") == "activity_log"]
        if relevant and (self.customer_id is None or any(n.get("customer_id") == self.customer_id for n in relevant)):
            self._reload_timer.start()

"""The Generate invoice dialog: a period (default the last 14 days, due today), a live preview of the
customer's uninvoiced transactions in it with a tick per row, running totals, and a button that says
how many transactions it will invoice. A refusal (credits above charges, nothing to invoice, rows
invoiced meanwhile) is shown in the dialog and nothing is written."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from omnidesk.billing import rules
from omnidesk.billing import service as billing
from omnidesk.billing.service import InvoicePreview
from omnidesk.errors import ServiceError
from omnidesk.ui import ops

PREVIEW_DELAY_MS = 250
HEADERS = ("Include", "ID", "Date", "Title", "Amount", "Tax", "Total")


def _qdate(value: dt.date) -> QDate:
    return QDate(value.year, value.month, value.day)


class GenerateInvoiceDialog(QDialog):
    generated = Signal(object)  # InvoiceView
    preview_loaded = Signal()

    def __init__(self, parent: QWidget | None, db, actor, customer_id: int | None, *, today: dt.date | None = None):
        super().__init__(parent)
        self.setWindowTitle("Generate invoice")
        self.setObjectName("generateInvoiceDialog")
        self.setMinimumSize(760, 520)
        self.db, self.actor = db, actor
        self.preview: InvoicePreview | None = None
        self._request = 0
        self._saving = False
        today = today or dt.date.today()
        start, end, due = rules.default_period(today)

        self.customer = QSpinBox(objectName="customerId", minimum=0, maximum=2**31 - 1, specialValueText="—")
        self.customer.setValue(customer_id or 0)
        self.customer.setEnabled(customer_id is None)  # pre-selected on a customer's page
        self.customer_name = QLabel(objectName="fieldValue")
        self.start = QDateEdit(_qdate(start), calendarPopup=True, displayFormat="yyyy-MM-dd", objectName="startDate")
        self.end = QDateEdit(_qdate(end), calendarPopup=True, displayFormat="yyyy-MM-dd", objectName="endDate")
        self.due = QDateEdit(_qdate(due), calendarPopup=True, displayFormat="yyyy-MM-dd", objectName="dueDate")
        self.title_edit = QLineEdit(objectName="invoiceTitle", maxLength=200)
        self.title_edit.setPlaceholderText(rules.default_title(start, end))

        customer_row = QHBoxLayout()
        customer_row.addWidget(self.customer)
        customer_row.addWidget(self.customer_name, 1)
        form = QHBoxLayout()
        for label, widget in (("Start", self.start), ("End", self.end), ("Due", self.due)):
            form.addWidget(QLabel(label, objectName="formLabel"))
            form.addWidget(widget)
            form.addSpacing(14)
        form.addStretch(1)
        top = QFormLayout()
        top.addRow(QLabel("Customer", objectName="formLabel"), customer_row)
        top.addRow(QLabel("Title", objectName="formLabel"), self.title_edit)

        self.table = QTableWidget(0, len(HEADERS), objectName="previewTable")
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        for col, width in enumerate((72, 60, 92, 200, 100, 110, 100)):
            self.table.setColumnWidth(col, width)
        self.table.itemChanged.connect(self._ticked)
        self.empty = QLabel("", objectName="emptyNote", alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)

        self.select_all = QPushButton("Include all")
        self.select_none = QPushButton("Exclude all")
        self.select_all.clicked.connect(lambda: self._tick_all(True))
        self.select_none.clicked.connect(lambda: self._tick_all(False))
        self.subtotal = QLabel("—", objectName="subtotal")
        self.tax = QLabel("—", objectName="taxTotal")
        self.total = QLabel("—", objectName="grandTotal")
        self.total.setStyleSheet("font-weight: 600; font-size: 15px;")
        totals = QFormLayout()
        totals.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        for label, value in (("Subtotal", self.subtotal), ("Tax", self.tax), ("Total", self.total)):
            value.setAlignment(Qt.AlignmentFlag.AlignRight)
            value.setMinimumWidth(110)
            totals.addRow(QLabel(label, objectName="fieldCaption"), value)
        under = QHBoxLayout()
        under.addWidget(self.select_all)
        under.addWidget(self.select_none)
        under.addStretch(1)
        under.addLayout(totals)

        self.message = QLabel(objectName="formError", wordWrap=True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.generate_button = self.buttons.addButton("Nothing to invoice", QDialogButtonBox.ButtonRole.AcceptRole)
        self.generate_button.setObjectName("saveButton")
        self.generate_button.setEnabled(False)
        self.buttons.accepted.connect(self.generate)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)
        layout.addLayout(under)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

        self._preview_timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self.load_preview)
        for edit in (self.start, self.end):
            edit.dateChanged.connect(lambda _d: self._inputs_changed())
        self.customer.valueChanged.connect(lambda _v: self._inputs_changed())
        self.load_preview()

    # --- preview ---

    def period(self) -> tuple[dt.date, dt.date, dt.date]:
        return self.start.date().toPython(), self.end.date().toPython(), self.due.date().toPython()

    def _inputs_changed(self) -> None:
        # What is on screen no longer matches the preview: nothing may be invoiced until the new one is in.
        self.generate_button.setEnabled(False)
        self._preview_timer.start()

    def load_preview(self) -> None:
        self._preview_timer.stop()
        self._request += 1
        request = self._request
        customer_id = self.customer.value()
        start, end, _due = self.period()
        self.title_edit.setPlaceholderText(rules.default_title(start, end) if start <= end else "")
        if not customer_id:
            self._show_preview(None, "Choose the customer to invoice (their ID).")
            return
        db, actor = self.db, self.actor

        def load():
            preview = billing.preview_invoice(db, actor, customer_id, start, end)
            from omnidesk.customers import service as customers
            return preview, customers.get_customer(db, actor, customer_id).name

        def done(result) -> None:
            if request == self._request:
                preview, name = result
                self.customer_name.setText(name)
                self._show_preview(preview, "" if preview.rows else
                                   f"No uninvoiced transactions for {name} between {start} and {end}.")

        def failed(exc: Exception) -> None:
            if request == self._request:
                self.customer_name.setText("")
                self._show_preview(None, ops.error_text(exc)[0] if isinstance(exc, ServiceError) else "")
                if not isinstance(exc, ServiceError):
                    ops.show_error(self, exc)

        ops.query(self, load, done, failed)

    def _show_preview(self, preview: InvoicePreview | None, note: str) -> None:
        self.preview = preview
        rows = preview.rows if preview else ()
        currency = preview.currency if preview else "USD"
        self.table.blockSignals(True)
        self.table.setRowCount(len(rows))
        for r, t in enumerate(rows):
            tick = QTableWidgetItem()
            tick.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            tick.setCheckState(Qt.CheckState.Checked if t.id in preview.included else Qt.CheckState.Unchecked)
            tick.setData(Qt.ItemDataRole.UserRole, t.id)
            self.table.setItem(r, 0, tick)
            cells = (str(t.id), t.transaction_date.isoformat(), t.title, rules.money(t.retail_cost, currency),
                     rules.tax_display(t.tax_amount, t.tax_percentage, currency), rules.money(t.total, currency))
            for c, text in enumerate(cells, start=1):
                item = QTableWidgetItem(text)
                if c in (1, 4, 5, 6):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.blockSignals(False)
        self.table.setVisible(bool(rows))
        self.empty.setText(note)
        self.empty.setVisible(not rows)
        self.select_all.setEnabled(bool(rows))
        self.select_none.setEnabled(bool(rows))
        self._show_totals()
        self.preview_loaded.emit()

    def _ticked(self, item: QTableWidgetItem) -> None:
        if item.column() != 0 or self.preview is None:
            return
        ids = {self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in range(self.table.rowCount())
               if self.table.item(r, 0).checkState() == Qt.CheckState.Checked}
        self.preview = self.preview.with_included(ids)
        self._show_totals()

    def _tick_all(self, on: bool) -> None:
        for r in range(self.table.rowCount()):
            self.table.item(r, 0).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def set_included(self, transaction_id: int, included: bool) -> None:
        """Tick or untick one row (what a click on its box does)."""
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 0)
            if item.data(Qt.ItemDataRole.UserRole) == transaction_id:
                item.setCheckState(Qt.CheckState.Checked if included else Qt.CheckState.Unchecked)

    def _show_totals(self) -> None:
        p = self.preview
        if p is None:
            for label in (self.subtotal, self.tax, self.total):
                label.setText("—")
            self._label_button("Nothing to invoice")
            self.generate_button.setEnabled(False)
            return
        self.subtotal.setText(rules.money(p.subtotal, p.currency))
        self.tax.setText(rules.money(p.tax, p.currency))
        self.total.setText(rules.money(p.total, p.currency))
        self.total.setStyleSheet("font-weight: 600; font-size: 15px;" + (" color: #cf222e;" if p.total < 0 else ""))
        self._label_button(p.button_label)
        self.generate_button.setEnabled(p.count > 0 and not self._saving)
        if p.count and p.total < 0:  # said before the click; the service refuses it the same way
            self.message.setText(f"The invoice total would be {rules.money(p.total, p.currency)}: credits exceed "
                                 "charges. Include more charges, or leave the credits for a later invoice.")
            self.message.show()
        elif not self._saving:
            self.message.hide()

    def _label_button(self, text: str) -> None:
        self.generate_button.setText(text)
        bold = self.generate_button.font()
        bold.setBold(True)
        from PySide6.QtGui import QFontMetrics

        self.generate_button.setMinimumWidth(QFontMetrics(bold).horizontalAdvance(text) + 36)

    # --- generating ---

    def generate(self) -> None:
        p = self.preview
        if p is None or p.count == 0 or self._saving:
            return
        start, end, due = self.period()
        if (p.customer_id, p.start, p.end) != (self.customer.value(), start, end):
            self.load_preview()  # Enter pressed before the preview of what was just typed came back
            return
        included, customer_id, title = sorted(p.included), p.customer_id, self.title_edit.text().strip() or None
        db, actor = self.db, self.actor
        self._saving = True
        self.generate_button.setEnabled(False)
        self.message.hide()
        ops.mutate(self, lambda: billing.generate_invoice(db, actor, customer_id, start=p.start, end=p.end, due=due,
                                                          title=title, include=included),
                   self._generated, success_message=lambda v: f"Invoice {v.number} generated.",
                   on_error=self._refused)

    def _generated(self, invoice) -> None:
        self._saving = False
        self.generated.emit(invoice)
        self.accept()

    def _refused(self, exc: Exception) -> None:
        self._saving = False
        self._show_totals()  # first: the refusal's message must stay
        if isinstance(exc, ServiceError):
            text = str(exc)
            if hasattr(exc, "errors"):
                text = " ".join(exc.errors.values()) or text
            self.message.setText(text)
            self.message.show()
        else:
            ops.show_error(self, exc)

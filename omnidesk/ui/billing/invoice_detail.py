"""One invoice: its lines, payments and state, with the actions its state allows — record a payment,
void, refund, open or save the PDF (rendered on a worker) and e-mail it (queued in the outbox)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from omnidesk.billing import documents, mail, rules
from omnidesk.billing import service as billing
from omnidesk.billing.service import InvoiceView
from omnidesk.errors import ServiceError
from omnidesk.ui import ops
from omnidesk.ui.badges import Pill
from omnidesk.ui.billing.table_model import status_label

_pdf_folder: Path | None = None


def _pdf_folder_path() -> Path:
    """One private folder per process for PDFs opened in the system viewer, removed when OmniDesk exits."""
    global _pdf_folder
    if _pdf_folder is None:
        import atexit
        import shutil

        _pdf_folder = Path(tempfile.mkdtemp(prefix="omnidesk-pdf-"))
        atexit.register(shutil.rmtree, _pdf_folder, True)
    return _pdf_folder


STATUS_PILL = {"unpaid": "yellow", "partially_paid": "orange", "paid": "green", "void": "gray", "refunded": "purple"}
METHODS = dict(rules.MANUAL_METHODS, stripe="Card (Stripe)", wallet="Wallet", card="Card")


def _table(headers: tuple[str, ...], name: str, stretch: int) -> QTableWidget:
    table = QTableWidget(0, len(headers), objectName=name)
    table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().hide()
    table.setAlternatingRowColors(True)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.horizontalHeader().setStretchLastSection(False)
    table.horizontalHeader().setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


def _fill(table: QTableWidget, rows: list[tuple[str, ...]], right: set[int]) -> None:
    table.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if c in right:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)


class InvoiceDialog(QDialog):
    changed = Signal()  # something was done to the invoice here
    loaded = Signal(object)  # InvoiceView, each time it is (re)loaded
    pdf_ready = Signal(str)  # the file written for Open PDF / Save PDF as…

    def __init__(self, parent: QWidget | None, db, actor, invoice_id: int):
        super().__init__(parent)
        self.setObjectName("invoiceDialog")
        self.setWindowTitle("Invoice")
        self.setMinimumSize(780, 580)
        self.db, self.actor, self.invoice_id = db, actor, invoice_id
        self.invoice: InvoiceView | None = None
        self._request = 0

        self.number = QLabel("Loading…", objectName="customerName")
        self.status = Pill("", "gray")
        self.customer = QLabel(objectName="customerId")
        self.invoice_title = QLabel(objectName="fieldValue", wordWrap=True)
        heading = QHBoxLayout()
        heading.addWidget(self.number)
        heading.addWidget(self.status)
        heading.addStretch(1)
        self.fields: dict[str, QLabel] = {}
        columns = QHBoxLayout()
        for group in ((("issue_date", "Issued"), ("period", "Period"), ("due_date", "Due")),
                      (("subtotal", "Subtotal"), ("tax_total", "Tax"), ("total", "Total")),
                      (("paid_amount", "Paid"), ("outstanding", "Outstanding"), ("payment", "Last payment"))):
            form = QFormLayout()
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
            for key, caption in group:
                value = QLabel(objectName="fieldValue")
                value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                form.addRow(QLabel(caption, objectName="fieldCaption"), value)
                self.fields[key] = value
            columns.addLayout(form)
            columns.addSpacing(24)
        columns.addStretch(1)

        self.lines = _table(("ID", "Date", "Title", "Amount", "Tax", "Total"), "invoiceLines", 2)
        self.payments = _table(("ID", "Date", "Kind", "Method", "Reference", "Amount"), "invoicePayments", 4)
        for table, widths in ((self.lines, (60, 92, 280, 100, 110, 100)), (self.payments, (60, 92, 80, 120, 220, 100))):
            for c, w in enumerate(widths):
                table.setColumnWidth(c, w)
        self.payments.setMaximumHeight(140)

        self.pay_button = QPushButton("Record payment…", objectName="primaryButton")
        self.void_button = QPushButton("Void…", objectName="dangerButton")
        self.refund_button = QPushButton("Refund…")
        self.open_pdf_button = QPushButton("Open PDF")
        self.save_pdf_button = QPushButton("Save PDF as…")
        self.email_button = QPushButton("E-mail")
        self.close_button = QPushButton("Close")
        self.pay_button.clicked.connect(self.record_payment)
        self.void_button.clicked.connect(self.void)
        self.refund_button.clicked.connect(self.refund)
        self.open_pdf_button.clicked.connect(lambda: self.fetch_pdf(None))
        self.save_pdf_button.clicked.connect(self.save_pdf_as)
        self.email_button.clicked.connect(self.email)
        self.close_button.clicked.connect(self.accept)
        actions = QHBoxLayout()
        for button in (self.pay_button, self.void_button, self.refund_button):
            actions.addWidget(button)
        actions.addStretch(1)
        for button in (self.open_pdf_button, self.save_pdf_button, self.email_button, self.close_button):
            actions.addWidget(button)
        self.message = QLabel(objectName="formError", wordWrap=True)
        self.message.hide()

        layout = QVBoxLayout(self)
        layout.addLayout(heading)
        layout.addWidget(self.customer)
        layout.addWidget(self.invoice_title)
        layout.addLayout(columns)
        layout.addWidget(QLabel("Lines", objectName="formSection"))
        layout.addWidget(self.lines, 1)
        layout.addWidget(QLabel("Payments and refunds", objectName="formSection"))
        layout.addWidget(self.payments)
        layout.addWidget(self.message)
        layout.addLayout(actions)
        self._update_actions()
        self.reload()

    # --- loading ---

    def reload(self) -> None:
        self._request += 1
        request, db, actor, invoice_id = self._request, self.db, self.actor, self.invoice_id
        ops.query(self, lambda: billing.get_invoice(db, actor, invoice_id),
                  lambda view: request == self._request and self._apply(view))

    def _apply(self, v: InvoiceView) -> None:
        self.invoice = v
        money = lambda amount: rules.money(amount, v.currency)  # noqa: E731
        self.setWindowTitle(f"Invoice {v.number}")
        self.number.setText(v.number)
        self.status.set_pill(status_label(v.status), STATUS_PILL.get(v.status, "gray"))
        self.customer.setText(f"{v.customer_name} (customer {v.customer_id}) · {v.currency}")
        self.invoice_title.setText(v.title)
        f = self.fields
        f["issue_date"].setText(v.issue_date.isoformat())
        f["period"].setText(f"{v.start_date} to {v.end_date}")
        f["due_date"].setText(v.due_date.isoformat())
        f["subtotal"].setText(money(v.subtotal))
        f["tax_total"].setText(money(v.tax_total))
        f["total"].setText(money(v.total))
        f["paid_amount"].setText(money(v.paid_amount))
        f["outstanding"].setText(money(v.outstanding))
        f["payment"].setText(" ".join(x for x in (METHODS.get(v.payment_method or "", v.payment_method or "—"),
                                                  v.payment_reference or "") if x))
        _fill(self.lines, [(str(t.id), t.transaction_date.isoformat(), t.title, money(t.retail_cost),
                            rules.tax_display(t.tax_amount, t.tax_percentage, v.currency), money(t.total))
                           for t in v.lines], {0, 3, 4, 5})
        _fill(self.payments, [(str(t.id), t.transaction_date.isoformat(), t.kind.capitalize(),
                               METHODS.get(t.method or "", t.method or ""), t.reference or "", money(t.total))
                              for t in v.payments], {0, 5})
        self._update_actions()
        self.loaded.emit(v)

    def _update_actions(self) -> None:
        v, can = self.invoice, self.actor.can
        status = v.status if v else ""
        self.pay_button.setEnabled(status in ("unpaid", "partially_paid") and can("update_customer_invoice"))
        self.void_button.setEnabled(status == "unpaid" and can("delete_customer_invoice"))
        self.refund_button.setEnabled(status == "paid" and can("update_customer_invoice"))
        for button in (self.open_pdf_button, self.save_pdf_button):
            button.setEnabled(v is not None)
        self.email_button.setEnabled(v is not None and status != "void" and can("update_customer_invoice"))

    def _done(self, _result=None) -> None:
        self.message.hide()
        self.changed.emit()
        self.reload()

    def _refused(self, exc: Exception) -> None:
        self.message.setText(ops.error_text(exc)[0])
        self.message.show()
        if not isinstance(exc, ServiceError):
            ops.show_error(self, exc)
        self.reload()

    # --- actions ---

    def record_payment(self) -> None:
        from omnidesk.ui.billing.dialogs import RecordPaymentDialog

        if self.invoice is None:
            return
        dialog = RecordPaymentDialog(self, self.db, self.actor, self.invoice)
        dialog.saved.connect(self._done)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def refund(self):
        from omnidesk.ui.billing.dialogs import RefundDialog

        if self.invoice is None:
            return
        dialog = RefundDialog(self, self.db, self.actor, self.invoice)
        dialog.saved.connect(self._done)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def void(self) -> None:
        v = self.invoice
        if v is None:
            return
        db, actor = self.db, self.actor
        ops.confirm(self, f"Void invoice {v.number}?",
                    lambda: ops.mutate(self, lambda: billing.void_invoice(db, actor, v.id), self._done,
                                       success_message=f"Invoice {v.number} voided.", on_error=self._refused),
                    yes_label="Void invoice", destructive=True,
                    informative="Its transactions become uninvoiced again; the invoice keeps its number, marked void.")

    def email(self) -> None:
        v = self.invoice
        if v is None:
            return
        db, actor = self.db, self.actor
        ops.mutate(self, lambda: mail.queue_invoice_email(db, actor, v.id), self._done,
                   success_message=f"Invoice {v.number} queued for e-mail; it is sent in the background.",
                   on_error=self._refused)

    def fetch_pdf(self, target: Path | None) -> None:
        """Render (or take from the cache) on a worker, write it to `target` (a temporary file when None)
        and open it with the system's PDF viewer when no target was chosen."""
        v = self.invoice
        if v is None:
            return
        db, actor, invoice_id, open_it = self.db, self.actor, v.id, target is None

        def work() -> str:
            doc = documents.invoice_pdf(db, actor, invoice_id)
            path = target or _pdf_folder_path() / doc.filename
            path.write_bytes(doc.pdf)
            return str(path)

        def done(path: str) -> None:
            self.pdf_ready.emit(path)
            if open_it:
                QDesktopServices.openUrl(QUrl.fromLocalFile(path))

        ops.mutate(self, work, done, success_message=lambda p: f"PDF written to {p}.", on_error=self._refused)

    def save_pdf_as(self) -> None:
        v = self.invoice
        if v is None:
            return
        name, _ = QFileDialog.getSaveFileName(self, "Save invoice PDF", str(Path.home() / f"{v.number}.pdf"),
                                              "PDF files (*.pdf)")
        if name:
            self.fetch_pdf(Path(name))

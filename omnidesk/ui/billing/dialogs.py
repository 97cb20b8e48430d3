"""Add a transaction, record a payment, refund an invoice: forms checked per keystroke by the billing
rules, saved by the billing service on a worker; a refusal is shown in the dialog and nothing is written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from PySide6.QtCore import QDate
from PySide6.QtWidgets import QComboBox, QDateEdit, QLabel, QLineEdit, QPlainTextEdit, QWidget

from omnidesk.billing import payments, rules
from omnidesk.billing import service as billing
from omnidesk.billing.service import InvoiceView
from omnidesk.customers.rules import FieldError
from omnidesk.ui.forms import FormDialog


def _combo(options: dict[str, str], name: str = "") -> QComboBox:
    box = QComboBox(objectName=name)
    for key, label in options.items():
        box.addItem(label, key)
    return box


def _date_edit(value: dt.date | None = None) -> QDateEdit:
    value = value or dt.date.today()
    return QDateEdit(QDate(value.year, value.month, value.day), calendarPopup=True, displayFormat="yyyy-MM-dd")


class AddTransactionDialog(FormDialog):
    """A charge (with tax, typed or the product's) or a credit (with its type, never taxed)."""

    def __init__(self, parent: QWidget | None, db, actor, customer_id: int | None, currency: str = "USD"):
        super().__init__(parent, "Add transaction", save_label="Add")
        self.db, self.actor, self.customer_id, self.currency = db, actor, customer_id, currency
        self.customer = None
        if customer_id is None:  # the system-wide list: say whose account (on a customer's page it is fixed)
            self.customer = self.add_field("customer_id", "Customer ID", QLineEdit(placeholderText="e.g. 1042"),
                                           self._customer_id)
        self.kind = self.add_field("kind", "Kind", _combo({"charge": "Charge (debit)", "credit": "Credit"}),
                                   lambda: self.kind.currentData())
        self.credit_type = self.add_field("credit_type", "Credit type", _combo(rules.CREDIT_TYPES),
                                          lambda: self.credit_type.currentData())
        self.title_edit = self.add_field("title", "Title", QLineEdit(maxLength=200),
                                         lambda: rules.title(self.title_edit.text()))
        self.description = self.add_field("description", "Description", QPlainTextEdit(), None)
        self.description.setFixedHeight(60)
        self.amount = self.add_field("retail_cost", f"Amount ({currency})" if customer_id else "Amount",
                                     QLineEdit(placeholderText="45.00"),
                                     lambda: rules.positive_amount(self.amount.text(), "Amount"))
        self.tax = self.add_field("tax_percentage", "Tax %", QLineEdit(placeholderText="0"), self._tax,
                                  hint="Leave empty for 0 %. Credits carry no tax.")
        self.wholesale = self.add_field("wholesale_cost", "Wholesale cost", QLineEdit(placeholderText="0.00"),
                                        self._wholesale)
        self.when = self.add_field("transaction_date", "Date", _date_edit(), lambda: self.when.date().toPython())
        self.total = QLabel(objectName="fieldValue")
        self.add_row("Total", self.total)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        for edit in (self.amount, self.tax):
            edit.textChanged.connect(self._show_total)
        self.finish_layout()
        self._kind_changed()

    def _customer_id(self) -> int:
        text = self.customer.text().strip()
        if not text.isdigit() or int(text) <= 0:
            raise FieldError("Give the customer's ID (a number; it is on the customer's page).")
        return int(text)

    def _tax(self):
        if self.kind.currentData() == "credit" or not self.tax.text().strip():
            return None
        return rules.tax_percentage(self.tax.text())

    def _wholesale(self):
        text = self.wholesale.text().strip()
        return rules.positive_amount(text, "Wholesale cost") if text not in ("", "0", "0.00") else None

    def _kind_changed(self) -> None:
        credit = self.kind.currentData() == "credit"
        for widget in (self.tax, self.credit_type):
            visible = credit if widget is self.credit_type else not credit
            widget.setVisible(visible)
            label = self.form.itemAtPosition(self.form.getItemPosition(self.form.indexOf(widget))[0], 0)
            if label is not None:
                label.widget().setVisible(visible)
        self._show_total()
        self.validate()

    def _show_total(self) -> None:
        try:
            amount = rules.positive_amount(self.amount.text(), "Amount")
        except FieldError:
            self.total.setText("—")
            return
        if self.kind.currentData() == "credit":
            self.total.setText(rules.money(-amount, self.currency))
            return
        try:
            pct = self._tax() or Decimal("0")
        except FieldError:
            pct = Decimal("0")
        tax = rules.tax_amount(amount, pct)
        self.total.setText(f"{rules.money(amount + tax, self.currency)}  (tax {rules.money(tax, self.currency)})")

    def operation(self):
        db, actor = self.db, self.actor
        customer_id = self.customer_id if self.customer is None else self.value("customer_id")
        kind = self.value("kind")
        values = dict(kind=kind, title=self.value("title"), retail_cost=self.value("retail_cost"),
                      description=self.description.toPlainText(), wholesale_cost=self.value("wholesale_cost") or 0,
                      transaction_date=self.value("transaction_date"))
        if kind == "credit":
            values["credit_type"] = self.value("credit_type")
        else:
            values["tax_percentage"] = self.value("tax_percentage")
        return (lambda: billing.add_transaction(db, actor, customer_id, **values),
                lambda t: f"{kind.capitalize()} {t.id} '{t.title}' added.")


class RecordPaymentDialog(FormDialog):
    """A manual payment: Cash, POS or Bank Transfer, with a reference and the date it was paid."""

    def __init__(self, parent: QWidget | None, db, actor, invoice: InvoiceView):
        super().__init__(parent, f"Record payment on {invoice.number}", save_label="Record payment")
        self.db, self.actor, self.invoice = db, actor, invoice
        self.add_row("Outstanding", QLabel(rules.money(invoice.outstanding, invoice.currency), objectName="fieldValue"))
        self.method = self.add_field("method", "Method", _combo(rules.MANUAL_METHODS, "paymentMethod"),
                                     lambda: self.method.currentData())
        self.amount = self.add_field("amount", "Amount", QLineEdit(f"{invoice.outstanding:.2f}"), self._amount)
        self.currency = self.add_field("currency", "Currency", QLineEdit(invoice.currency, maxLength=3),
                                       lambda: rules.currency_code(self.currency.text()),
                                       hint=f"The invoice is in {invoice.currency}.")
        self.reference = self.add_field("reference", "Reference", QLineEdit(maxLength=100,
                                        placeholderText="bank reference, POS receipt…"), None)
        self.paid_on = self.add_field("payment_date", "Paid on", _date_edit(), self._date)
        self.finish_layout()

    def _amount(self) -> Decimal:
        amount = rules.positive_amount(self.amount.text(), "Amount")
        if amount > self.invoice.outstanding:
            raise FieldError(f"Only {rules.money(self.invoice.outstanding, self.invoice.currency)} is outstanding.")
        return amount

    def _date(self) -> dt.date:
        value = self.paid_on.date().toPython()
        if value > dt.date.today():
            raise FieldError("The payment date cannot be in the future.")
        return value

    def operation(self):
        db, actor, invoice_id = self.db, self.actor, self.invoice.id
        values = dict(method=self.value("method"), amount=self.value("amount"), currency=self.value("currency"),
                      reference=self.reference.text(), payment_date=self.value("payment_date"))
        return (lambda: billing.record_payment(db, actor, invoice_id, **values),
                lambda v: f"Payment recorded on {v.number}: it is now {v.status.replace('_', ' ')}.")


class RefundDialog(FormDialog):
    """A refund of a vendor-paid invoice; the amount may not exceed what was paid."""

    def __init__(self, parent: QWidget | None, db, actor, invoice: InvoiceView):
        super().__init__(parent, f"Refund {invoice.number}", save_label="Refund")
        self.db, self.actor, self.invoice = db, actor, invoice
        self.add_row("Paid", QLabel(rules.money(invoice.paid_amount, invoice.currency), objectName="fieldValue"))
        self.amount = self.add_field("amount", "Refund amount", QLineEdit(f"{invoice.paid_amount:.2f}"), self._amount,
                                     hint="Card and wallet payments go back where they came from.")
        self.finish_layout()

    def _amount(self) -> Decimal:
        amount = rules.positive_amount(self.amount.text(), "Refund amount")
        if amount > self.invoice.paid_amount:
            raise FieldError(f"At most the {rules.money(self.invoice.paid_amount, self.invoice.currency)} paid.")
        return amount

    def operation(self):
        db, actor, invoice_id, amount = self.db, self.actor, self.invoice.id, self.value("amount")
        return (lambda: payments.refund_invoice(db, actor, invoice_id, amount=amount),
                lambda v: f"Invoice {v.number} refunded ({v.refund_reference}).")

"""Billing use cases: transactions, invoices, manual payments, voids and statements.

One function per use case, one transaction each, each written to the activity log. Every refusal is a
ServiceError whose message says what to do instead, raised before anything is written (or inside the
transaction, which then rolls back). Card and wallet payments are in omnidesk/billing/payments.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Iterable

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from omnidesk import activity
from omnidesk.auth import Actor
from omnidesk.billing import rules
from omnidesk.catalog.models import Product
from omnidesk.customers.rules import FieldError, validate_all
from omnidesk.db.integrity import flush_or_refuse
from omnidesk.db.models import BillingTransaction, Customer, Invoice, Service, Site
from omnidesk.errors import ConcurrentChange, NotFound, ServiceError, ValidationError

ZERO = rules.ZERO
LINE_KINDS = ("charge", "credit")  # what an invoice bills; payments and refunds settle it


class InvoiceRefused(ServiceError):
    """An invoice operation was refused; nothing was written."""


# --- results ---


@dataclass(frozen=True)
class TransactionView:
    id: int
    customer_id: int
    kind: str
    title: str
    description: str
    retail_cost: Decimal
    wholesale_cost: Decimal
    tax_percentage: Decimal
    tax_amount: Decimal
    transaction_date: dt.date
    service_id: int | None
    site_id: int | None
    invoice_id: int | None
    invoice_number: str | None
    method: str | None
    reference: str | None
    void: bool
    created_at: dt.datetime
    currency: str = ""  # the customer's; filled by the lists that show amounts
    customer_name: str = ""  # filled by list_transactions

    @property
    def total(self) -> Decimal:
        return self.retail_cost + self.tax_amount

    @property
    def invoiced(self) -> bool:
        return self.invoice_id is not None


@dataclass(frozen=True)
class InvoicePreview:
    """The uninvoiced transactions a Generate Invoice dialog lists, with totals of the included ones."""

    customer_id: int
    currency: str
    start: dt.date
    end: dt.date
    rows: tuple[TransactionView, ...]
    included: frozenset[int]

    def _sum(self, attr: str) -> Decimal:
        return sum((getattr(r, attr) for r in self.rows if r.id in self.included), ZERO)

    @property
    def subtotal(self) -> Decimal:
        return self._sum("retail_cost")

    @property
    def tax(self) -> Decimal:
        return self._sum("tax_amount")

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax

    @property
    def count(self) -> int:
        return len(self.included)

    @property
    def button_label(self) -> str:
        """What the dialog's button says: how many transactions it will invoice."""
        if self.count == 0:
            return "Nothing to invoice"
        return f"Invoice {self.count} transaction{'' if self.count == 1 else 's'}"

    def with_included(self, ids: Iterable[int]) -> InvoicePreview:
        known = {r.id for r in self.rows}
        return InvoicePreview(self.customer_id, self.currency, self.start, self.end, self.rows,
                              frozenset(i for i in ids if i in known))


@dataclass(frozen=True)
class InvoiceView:
    id: int
    number: str
    customer_id: int
    customer_name: str
    title: str
    status: str
    currency: str
    issue_date: dt.date
    start_date: dt.date
    end_date: dt.date
    due_date: dt.date
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    paid_amount: Decimal
    payment_method: str | None
    payment_reference: str | None
    refund_reference: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    lines: tuple[TransactionView, ...] = ()
    payments: tuple[TransactionView, ...] = ()

    @property
    def outstanding(self) -> Decimal:
        return ZERO if self.status in ("void", "refunded") else max(ZERO, self.total - self.paid_amount)

    @property
    def filename(self) -> str:
        return f"Invoice_{self.id:05d}.pdf"


@dataclass(frozen=True)
class StatementLine:
    date: dt.date
    transaction_id: int
    kind: str
    title: str
    reference: str
    debit: Decimal
    credit: Decimal
    balance: Decimal


@dataclass(frozen=True)
class Statement:
    customer_id: int
    customer_name: str
    currency: str
    start: dt.date
    end: dt.date
    opening_balance: Decimal
    lines: tuple[StatementLine, ...]
    closing_balance: Decimal
    total_debits: Decimal
    total_credits: Decimal


@dataclass(frozen=True)
class Stats:
    """The four stats widgets: (sum, count) all time, open/uninvoiced, this month and last month."""

    total: tuple[Decimal, int]
    open: tuple[Decimal, int]
    this_month: tuple[Decimal, int]
    last_month: tuple[Decimal, int]


# --- helpers ---


def _customer(session: Session, customer_id: int, *, for_update: bool = False) -> Customer:
    stmt = select(Customer).where(Customer.id == customer_id)
    if for_update:
        stmt = stmt.with_for_update()
    customer = session.scalar(stmt)
    if customer is None:
        raise NotFound(f"There is no customer {customer_id}.")
    return customer


def _transaction_view(t: BillingTransaction, numbers: dict[int, str] | None = None) -> TransactionView:
    return TransactionView(
        t.id, t.customer_id, t.kind, t.title, t.description, t.retail_cost, t.wholesale_cost, t.tax_percentage,
        t.tax_amount, t.transaction_date, t.service_id, t.site_id, t.invoice_id,
        (numbers or {}).get(t.invoice_id) if t.invoice_id else None, t.method, t.reference, t.void, t.created_at,
    )


def _invoice_numbers(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Invoice.id, Invoice.number).where(Invoice.id.in_(ids))).all())


def _invoice(session: Session, invoice_id: int, *, for_update: bool = False) -> Invoice:
    stmt = select(Invoice).where(Invoice.id == invoice_id)
    if for_update:
        stmt = stmt.with_for_update()
    invoice = session.scalar(stmt)
    if invoice is None:
        raise NotFound(f"There is no invoice {invoice_id}.")
    return invoice


def split_linked(refund_reference: str | None, linked: Iterable[TransactionView]
                 ) -> tuple[tuple[TransactionView, ...], tuple[TransactionView, ...]]:
    """(billed lines, settlements) of an invoice's linked transactions. A refund's credit note carries the
    refund's reference: it settles the invoice, it is not a billed line."""
    lines, settlements = [], []
    for t in linked:
        note = t.kind == "credit" and bool(refund_reference) and t.reference == refund_reference
        (lines if t.kind in LINE_KINDS and not note else settlements).append(t)
    return tuple(lines), tuple(settlements)


def invoice_view(session: Session, invoice: Invoice) -> InvoiceView:
    """The invoice with its lines (charges and credits billed) and its payments and refunds."""
    linked = session.scalars(
        select(BillingTransaction).where(BillingTransaction.invoice_id == invoice.id)
        .order_by(BillingTransaction.transaction_date, BillingTransaction.id)
    ).all()
    lines, payments = split_linked(invoice.refund_reference,
                                   (_transaction_view(t, {invoice.id: invoice.number}) for t in linked))
    name = session.scalar(select(Customer.name).where(Customer.id == invoice.customer_id))
    return InvoiceView(
        invoice.id, invoice.number, invoice.customer_id, name, invoice.title, invoice.status, invoice.currency,
        invoice.issue_date, invoice.start_date, invoice.end_date, invoice.due_date, invoice.subtotal,
        invoice.tax_total, invoice.total, invoice.paid_amount, invoice.payment_method, invoice.payment_reference,
        invoice.refund_reference, invoice.created_at, invoice.updated_at, lines, payments,
    )


def _tax_default(session: Session, service_id: int | None, product_id: int | None) -> Decimal:
    """The product's tax percentage (via the service when one is given), else 0."""
    if product_id is None and service_id is not None:
        product_id = session.scalar(select(Service.product_id).where(Service.id == service_id))
    if product_id is None:
        return Decimal("0")
    pct = session.scalar(select(Product.tax_percentage).where(Product.id == product_id))
    return Decimal(pct) if pct is not None else Decimal("0")


def _optional_date(value, label: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise FieldError(f"{label} must be a date such as 2026-10-31.") from None


# --- transactions ---


def add_transaction(
    db, actor: Actor, customer_id: int, *, kind: str = "charge", title: str, retail_cost, description: str = "",
    wholesale_cost=0, tax_percentage=None, service_id: int | None = None, site_id: int | None = None,
    product_id: int | None = None, transaction_date=None, credit_type: str | None = None,
) -> TransactionView:
    """A charge (positive) or a credit (stored negative, never taxed). Amounts are typed positive.

    A charge's tax defaults to its product's (directly or through the service), else 0 %."""
    actor.require("create_customer_transaction", "add transactions")
    if kind not in ("charge", "credit"):
        raise ValidationError({"kind": "A transaction is a charge or a credit."})
    checks = {
        "title": lambda: rules.title(title),
        "retail_cost": lambda: rules.positive_amount(retail_cost, "Amount"),
        "wholesale_cost": lambda: (rules.positive_amount(wholesale_cost, "Wholesale cost")
                                   if wholesale_cost not in (None, "", 0, "0") else ZERO),
        "transaction_date": lambda: _optional_date(transaction_date, "Date"),
    }
    if kind == "charge" and tax_percentage not in (None, ""):
        checks["tax_percentage"] = lambda: rules.tax_percentage(tax_percentage)
    if kind == "credit":
        checks["credit_type"] = lambda: rules.choice(credit_type, rules.CREDIT_TYPES, "Credit type")
    clean = validate_all(checks)
    with db.transaction() as s:
        customer = _customer(s, customer_id)
        if customer.archived_at is not None:
            raise ServiceError(f"Customer {customer.id} ({customer.name}) is archived; restore it before billing it.")
        if service_id is not None:
            owner = s.scalar(select(Service.customer_id).where(Service.id == service_id))
            if owner != customer.id:
                raise ValidationError({"service_id": f"Service {service_id} is not one of {customer.name}'s services."})
        if site_id is not None:
            owner = s.scalar(select(Site.customer_id).where(Site.id == site_id))
            if owner != customer.id:
                raise ValidationError({"site_id": f"Site {site_id} is not one of {customer.name}'s sites."})
        if kind == "charge":
            pct = clean.get("tax_percentage")
            if pct is None:
                pct = _tax_default(s, service_id, product_id)
            amount = clean["retail_cost"]
            tax = rules.tax_amount(amount, pct)
        else:
            pct, amount, tax = Decimal("0"), -clean["retail_cost"], ZERO
        t = BillingTransaction(
            customer_id=customer.id, kind=kind, title=clean["title"], description=(description or "").strip(),
            retail_cost=amount, wholesale_cost=clean["wholesale_cost"], tax_percentage=pct, tax_amount=tax,
            service_id=service_id, site_id=site_id, method=clean.get("credit_type"),
        )
        if clean["transaction_date"]:
            t.transaction_date = clean["transaction_date"]
        s.add(t)
        flush_or_refuse(s)
        s.refresh(t)
        activity.record(
            s, actor, action=f"add_{kind}", entity_type="transaction", entity_id=t.id, customer_id=customer.id,
            summary=f"{'Charge' if kind == 'charge' else 'Credit'} {t.id} '{t.title}' "
                    f"{rules.money(t.retail_cost + t.tax_amount, customer.currency)} added",
            changes={"retail_cost": t.retail_cost, "tax_percentage": t.tax_percentage, "tax_amount": t.tax_amount,
                     "service_id": service_id, "site_id": site_id},
        )
        return _transaction_view(t)


def void_transaction(db, actor: Actor, transaction_id: int) -> TransactionView:
    """Void an uninvoiced charge or credit; an invoiced one is corrected with a credit instead."""
    actor.require("delete_customer_transaction", "void transactions")
    with db.transaction() as s:
        t = s.scalar(select(BillingTransaction).where(BillingTransaction.id == transaction_id).with_for_update())
        if t is None:
            raise NotFound(f"There is no transaction {transaction_id}.")
        if t.void:
            raise ServiceError(f"Transaction {t.id} '{t.title}' is already void.")
        if t.invoice_id is not None:
            number = s.scalar(select(Invoice.number).where(Invoice.id == t.invoice_id))
            raise ServiceError(
                f"Cannot void transaction {t.id} '{t.title}': it is on invoice {number}. "
                "Add a credit to correct it instead."
            )
        if t.kind not in LINE_KINDS:
            raise ServiceError(f"Transaction {t.id} is a {t.kind}; it cannot be voided.")
        t.void = True
        t.voided_at = func.now()
        flush_or_refuse(s)
        activity.record(s, actor, action="void", entity_type="transaction", entity_id=t.id, customer_id=t.customer_id,
                        summary=f"Transaction {t.id} '{t.title}' voided", changes={"void": [False, True]})
        s.refresh(t)
        return _transaction_view(t)


def get_transaction(db, actor: Actor, transaction_id: int) -> TransactionView:
    actor.require("view_customer_transaction", "view transactions")
    with db.read() as s:
        t = s.get(BillingTransaction, transaction_id)
        if t is None:
            raise NotFound(f"There is no transaction {transaction_id}.")
        return _transaction_view(t, _invoice_numbers(s, {t.invoice_id} if t.invoice_id else set()))


TRANSACTION_SORTS = {
    "id": (BillingTransaction.id,),
    "date": (BillingTransaction.transaction_date, BillingTransaction.id),
    "title": (func.lower(BillingTransaction.title), BillingTransaction.id),
    "amount": (BillingTransaction.retail_cost + BillingTransaction.tax_amount, BillingTransaction.id),
    "invoice": (BillingTransaction.invoice_id, BillingTransaction.id),
}


def _transaction_filters(
    customer_id: int | None, void: bool | None, invoiced: bool | None, start, end, search: str,
) -> list:
    t = BillingTransaction
    where = []
    if customer_id is not None:
        where.append(t.customer_id == customer_id)
    if void is not None:
        where.append(t.void.is_(void))
    if invoiced is not None:
        where.append(t.invoice_id.is_not(None) if invoiced else t.invoice_id.is_(None))
    if start:
        where.append(t.transaction_date >= start)
    if end:
        where.append(t.transaction_date <= end)
    if search.strip():
        term = f"%{search.strip()}%"
        conditions = [t.title.ilike(term), t.description.ilike(term),
                      t.invoice_id.in_(select(Invoice.id).where(Invoice.number.ilike(term)))]
        if search.strip().isdigit():
            conditions.append(t.id == int(search.strip()))
        where.append(or_(*conditions))
    return where


def list_transactions(
    db, actor: Actor, customer_id: int | None = None, *, void: bool | None = False, invoiced: bool | None = None,
    start: dt.date | None = None, end: dt.date | None = None, search: str = "", limit: int = 100, offset: int = 0,
    newest_first: bool = True, sort: str = "date",
) -> list[TransactionView]:
    """One page of transactions (one customer's, or system-wide); voided rows are hidden unless asked for.
    `sort` is one of TRANSACTION_SORTS (the column a user clicked); `newest_first` = descending."""
    actor.require("view_customer_transaction", "view transactions")
    if sort not in TRANSACTION_SORTS:
        raise ValidationError({"sort": f"Transactions sort by {', '.join(TRANSACTION_SORTS)}."})
    order = [c.desc() if newest_first else c.asc() for c in TRANSACTION_SORTS[sort]]
    if sort == "invoice":
        order[0] = order[0].nulls_last()
    stmt = (select(BillingTransaction).where(*_transaction_filters(customer_id, void, invoiced, start, end, search))
            .order_by(*order).limit(min(limit, 1000)).offset(offset))
    with db.read() as s:
        rows = s.scalars(stmt).all()
        numbers = _invoice_numbers(s, {t.invoice_id for t in rows if t.invoice_id})
        customers = {i: (currency, name) for i, currency, name in s.execute(
            select(Customer.id, Customer.currency, Customer.name)
            .where(Customer.id.in_({t.customer_id for t in rows})))} if rows else {}
        return [replace(_transaction_view(t, numbers), currency=customers[t.customer_id][0],
                        customer_name=customers[t.customer_id][1]) for t in rows]


def count_transactions(
    db, actor: Actor, customer_id: int | None = None, *, void: bool | None = False, invoiced: bool | None = None,
    start: dt.date | None = None, end: dt.date | None = None, search: str = "",
) -> int:
    """How many rows list_transactions pages through with the same filters."""
    actor.require("view_customer_transaction", "view transactions")
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(BillingTransaction)
                        .where(*_transaction_filters(customer_id, void, invoiced, start, end, search)))


def _stats(session: Session, amount, where: list, open_condition, day, today: dt.date) -> Stats:
    """The four cards in one scan: (sum, count) of everything, of the open rows, of this and last month."""
    month = today.replace(day=1)
    last_month = (month - dt.timedelta(days=1)).replace(day=1)
    parts = (None, open_condition, day >= month, (day >= last_month) & (day < month))
    columns = []
    for condition in parts:
        total, count = (func.sum(amount), func.count()) if condition is None else (
            func.sum(amount).filter(condition), func.count().filter(condition))
        columns += [func.coalesce(total, 0), count]
    row = session.execute(select(*columns).where(*where)).one()
    return Stats(*((Decimal(row[i]), row[i + 1]) for i in range(0, 8, 2)))


def stats_currencies(db, actor: Actor) -> list[str]:
    """The customers' billing currencies, the most used first: the system-wide cards add up one of them."""
    if not actor.can("view_customer_invoice"):
        actor.require("view_customer_transaction", "view billing totals")
    with db.read() as s:
        return list(s.scalars(select(Customer.currency).group_by(Customer.currency)
                              .order_by(func.count().desc(), Customer.currency)))


def transaction_stats(db, actor: Actor, customer_id: int | None = None, *, today: dt.date | None = None,
                      currency: str | None = None) -> Stats:
    """Total (all time), Uninvoiced, This Month and Last Month of charges and credits, voids excluded;
    system-wide, `currency` keeps to the customers billed in it (amounts in different currencies never add)."""
    actor.require("view_customer_transaction", "view transactions")
    t = BillingTransaction
    where = [t.void.is_(False), t.kind.in_(LINE_KINDS)]
    if customer_id is not None:
        where.append(t.customer_id == customer_id)
    if currency:
        where.append(t.customer_id.in_(select(Customer.id).where(Customer.currency == currency)))
    with db.read() as s:
        return _stats(s, t.retail_cost, where, t.invoice_id.is_(None), t.transaction_date, today or dt.date.today())


# --- invoices ---


def _uninvoiced(session: Session, customer_id: int, start: dt.date, end: dt.date, *, lock: bool = False):
    stmt = (select(BillingTransaction)
            .where(BillingTransaction.customer_id == customer_id, BillingTransaction.invoice_id.is_(None),
                   BillingTransaction.void.is_(False), BillingTransaction.kind.in_(LINE_KINDS),
                   BillingTransaction.transaction_date >= start, BillingTransaction.transaction_date <= end)
            .order_by(BillingTransaction.transaction_date, BillingTransaction.id))
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).all()


def _period_checks(start, end, due) -> dict:
    clean = validate_all({
        "start": lambda: _optional_date(start, "Start date"),
        "end": lambda: _optional_date(end, "End date"),
        "due": lambda: _optional_date(due, "Due date"),
    })
    if clean["start"] is None or clean["end"] is None:
        raise ValidationError({"start": "Give the start and end of the period."})
    if clean["end"] < clean["start"]:
        raise ValidationError({"end": "The period ends before it starts."})
    return clean


def preview_invoice(db, actor: Actor, customer_id: int, start, end) -> InvoicePreview:
    """The customer's uninvoiced, non-void charges and credits dated within [start, end], all included."""
    actor.require("view_customer_transaction", "preview invoices")
    clean = _period_checks(start, end, None)
    with db.read() as s:
        customer = _customer(s, customer_id)
        rows = tuple(replace(_transaction_view(t), currency=customer.currency)
                     for t in _uninvoiced(s, customer.id, clean["start"], clean["end"]))
        return InvoicePreview(customer.id, customer.currency, clean["start"], clean["end"], rows,
                              frozenset(r.id for r in rows))


def generate_invoice(
    db, actor: Actor, customer_id: int, *, start, end, due=None, title: str | None = None,
    exclude: Iterable[int] = (), include: Iterable[int] | None = None, issue_date: dt.date | None = None,
) -> InvoiceView:
    """Invoice the customer's uninvoiced transactions in [start, end] (all of them, or `include`, minus
    `exclude`). The database assigns the INV-YYYY-NNNNNN number."""
    actor.require("create_customer_invoice", "generate invoices")
    clean = _period_checks(start, end, due)
    due_date = clean["due"] or dt.date.today()
    excluded = set(exclude)
    with db.transaction() as s:
        customer = _customer(s, customer_id)
        rows = _uninvoiced(s, customer.id, clean["start"], clean["end"], lock=True)
        wanted = set(include) if include is not None else None
        if wanted is not None and not wanted <= {t.id for t in rows}:
            missing = sorted(wanted - {t.id for t in rows})
            raise ConcurrentChange(
                f"Transactions {', '.join(map(str, missing))} are no longer uninvoiced in this period "
                "(invoiced or voided meanwhile); refresh the preview."
            )
        chosen = [t for t in rows if t.id not in excluded and (wanted is None or t.id in wanted)]
        if not chosen:
            raise InvoiceRefused(
                f"Cannot generate invoice - No transactions found for {customer.name} between "
                f"{clean['start']:%Y-%m-%d} and {clean['end']:%Y-%m-%d}."
            )
        subtotal = sum((t.retail_cost for t in chosen), ZERO)
        tax = sum((t.tax_amount for t in chosen), ZERO)
        total = subtotal + tax
        if total < 0:
            raise InvoiceRefused(
                f"The invoice total would be {rules.money(total, customer.currency)}: credits exceed charges. "
                "Include more charges, or leave the credits for a later invoice."
            )
        invoice = Invoice(
            customer_id=customer.id, currency=customer.currency, start_date=clean["start"], end_date=clean["end"],
            due_date=due_date, title=(title or "").strip() or rules.default_title(clean["start"], clean["end"]),
            subtotal=subtotal, tax_total=tax, total=total, status="paid" if total == 0 else "unpaid",
        )
        if issue_date:
            invoice.issue_date = issue_date
        s.add(invoice)
        flush_or_refuse(s)
        ids = [t.id for t in chosen]
        taken = s.execute(
            update(BillingTransaction)
            .where(BillingTransaction.id.in_(ids), BillingTransaction.invoice_id.is_(None), BillingTransaction.void.is_(False))
            .values(invoice_id=invoice.id)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken != len(ids):
            raise ConcurrentChange("Some of these transactions were invoiced or voided meanwhile; refresh the preview.")
        s.refresh(invoice)
        activity.record(
            s, actor, action="generate", entity_type="invoice", entity_id=invoice.id, customer_id=customer.id,
            summary=f"Invoice {invoice.number} generated: {len(ids)} transactions, "
                    f"{rules.money(total, customer.currency)}",
            changes={"transactions": ids, "subtotal": subtotal, "tax_total": tax, "total": total},
        )
        return invoice_view(s, invoice)


def get_invoice(db, actor: Actor, invoice_id: int) -> InvoiceView:
    actor.require("view_customer_invoice", "view invoices")
    with db.read() as s:
        return invoice_view(s, _invoice(s, invoice_id))


def find_invoice(db, actor: Actor, number_or_id: str | int) -> InvoiceView:
    """By id or by number (INV-2026-000031)."""
    actor.require("view_customer_invoice", "view invoices")
    with db.read() as s:
        text = str(number_or_id).strip()
        if text.isdigit():
            return invoice_view(s, _invoice(s, int(text)))
        invoice = s.scalar(select(Invoice).where(Invoice.number == text.upper()))
        if invoice is None:
            raise NotFound(f"There is no invoice {text}.")
        return invoice_view(s, invoice)


INVOICE_SORTS = {
    "id": (Invoice.id,),
    "number": (Invoice.id,),
    "date": (Invoice.issue_date, Invoice.id),
    "due": (Invoice.due_date, Invoice.id),
    "customer": (func.lower(Customer.name), Invoice.id),
    "total": (Invoice.total, Invoice.id),
    "status": (Invoice.status, Invoice.id),
}
# The invoice list's paid filter: "open" = unpaid or partially paid.
INVOICE_STATUS_FILTERS = {"open": ("unpaid", "partially_paid"), "unpaid": ("unpaid",),
                          "partially_paid": ("partially_paid",), "paid": ("paid",), "void": ("void",),
                          "refunded": ("refunded",)}


def _invoice_filters(customer_id: int | None, status: str | None, start, end, search: str) -> list:
    where = []
    if customer_id is not None:
        where.append(Invoice.customer_id == customer_id)
    if status:
        if status not in INVOICE_STATUS_FILTERS:
            raise ValidationError({"status": f"Invoice status is one of {', '.join(INVOICE_STATUS_FILTERS)}."})
        where.append(Invoice.status.in_(INVOICE_STATUS_FILTERS[status]))
    if start:
        where.append(Invoice.issue_date >= start)
    if end:
        where.append(Invoice.issue_date <= end)
    if search.strip():
        term = f"%{search.strip()}%"
        conditions = [Invoice.number.ilike(term), Invoice.title.ilike(term), Customer.name.ilike(term)]
        if search.strip().isdigit():
            conditions.append(Invoice.id == int(search.strip()))
        where.append(or_(*conditions))
    return where


def list_invoices(
    db, actor: Actor, customer_id: int | None = None, *, status: str | None = None, search: str = "",
    start: dt.date | None = None, end: dt.date | None = None, limit: int = 100, offset: int = 0,
    sort: str = "id", descending: bool = True,
) -> list[InvoiceView]:
    """One page of invoices, newest first unless sorted otherwise (without their lines). `status` is one
    of INVOICE_STATUS_FILTERS; start/end bound the issue date."""
    actor.require("view_customer_invoice", "view invoices")
    if sort not in INVOICE_SORTS:
        raise ValidationError({"sort": f"Invoices sort by {', '.join(INVOICE_SORTS)}."})
    order = [c.desc() if descending else c.asc() for c in INVOICE_SORTS[sort]]
    stmt = (select(Invoice, Customer.name).join(Customer, Customer.id == Invoice.customer_id)
            .where(*_invoice_filters(customer_id, status, start, end, search)))
    with db.read() as s:
        rows = s.execute(stmt.order_by(*order).limit(min(limit, 1000)).offset(offset)).all()
        return [InvoiceView(i.id, i.number, i.customer_id, name, i.title, i.status, i.currency, i.issue_date,
                            i.start_date, i.end_date, i.due_date, i.subtotal, i.tax_total, i.total, i.paid_amount,
                            i.payment_method, i.payment_reference, i.refund_reference, i.created_at, i.updated_at)
                for i, name in rows]


def count_invoices(
    db, actor: Actor, customer_id: int | None = None, *, status: str | None = None, search: str = "",
    start: dt.date | None = None, end: dt.date | None = None,
) -> int:
    actor.require("view_customer_invoice", "view invoices")
    stmt = (select(func.count()).select_from(Invoice).join(Customer, Customer.id == Invoice.customer_id)
            .where(*_invoice_filters(customer_id, status, start, end, search)))
    with db.read() as s:
        return s.scalar(stmt)


def void_invoice(db, actor: Actor, invoice_id: int) -> InvoiceView:
    """Void an unpaid invoice: its transactions go back to uninvoiced and its title gets "Void: "."""
    actor.require("delete_customer_invoice", "void invoices")
    with db.transaction() as s:
        invoice = _invoice(s, invoice_id, for_update=True)
        if invoice.status in ("paid", "refunded"):
            raise InvoiceRefused(
                f"Invoice {invoice.number} is {invoice.status}; "
                + ("refund it (card payments) or add a credit instead of voiding it." if invoice.status == "paid"
                   else "a refunded invoice stays as it is.")
            )
        if invoice.status == "partially_paid":
            raise InvoiceRefused(
                f"Invoice {invoice.number} has {rules.money(invoice.paid_amount, invoice.currency)} of payments "
                "recorded; it cannot be voided. Add a credit for what should not be charged instead."
            )
        if invoice.status == "void":
            raise InvoiceRefused(f"Invoice {invoice.number} is already void.")
        released = s.execute(
            update(BillingTransaction)
            .where(BillingTransaction.invoice_id == invoice.id, BillingTransaction.kind.in_(LINE_KINDS))
            .values(invoice_id=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        invoice.status = "void"
        invoice.voided_at = func.now()
        if not invoice.title.startswith("Void: "):
            invoice.title = ("Void: " + invoice.title)[:200]
        flush_or_refuse(s)
        activity.record(s, actor, action="void", entity_type="invoice", entity_id=invoice.id,
                        customer_id=invoice.customer_id,
                        summary=f"Invoice {invoice.number} voided; {released} transactions released",
                        changes={"status": ["unpaid", "void"]})
        s.refresh(invoice)
        return invoice_view(s, invoice)


def apply_payment(
    session: Session, actor: Actor, invoice: Invoice, *, amount: Decimal, currency: str, method: str,
    reference: str | None, payment_date: dt.date | None, title: str | None = None,
) -> BillingTransaction:
    """Record a payment (a negative transaction linked to the invoice) and move the invoice's status.
    The invoice row must be locked by the caller; refusals raise before anything is written."""
    if invoice.status not in ("unpaid", "partially_paid"):
        raise InvoiceRefused(f"Invoice {invoice.number} is {invoice.status.replace('_', ' ')}; it takes no payments.")
    if currency != invoice.currency:
        raise InvoiceRefused(
            f"Invoice {invoice.number} is in {invoice.currency}; a payment in {currency} cannot be recorded against it."
        )
    outstanding = invoice.total - invoice.paid_amount
    if amount > outstanding:
        raise InvoiceRefused(
            f"{rules.money(amount, currency)} is more than the {rules.money(outstanding, currency)} outstanding "
            f"on invoice {invoice.number}."
        )
    payment = BillingTransaction(
        customer_id=invoice.customer_id, kind="payment", invoice_id=invoice.id, retail_cost=-amount,
        title=(title or f"Payment for Invoice {invoice.number}")[:200], method=method,
        reference=(reference or "").strip() or None,
    )
    if payment_date:
        payment.transaction_date = payment_date
    session.add(payment)
    before = invoice.status
    invoice.paid_amount = invoice.paid_amount + amount
    invoice.status = rules.invoice_status(invoice.total, invoice.paid_amount)
    invoice.payment_method = method
    invoice.payment_reference = payment.reference
    invoice.paid_at = func.now()
    flush_or_refuse(session)
    activity.record(
        session, actor, action="payment", entity_type="invoice", entity_id=invoice.id, customer_id=invoice.customer_id,
        summary=f"{rules.money(amount, currency)} {rules.MANUAL_METHODS.get(method, method)} payment recorded on "
                f"invoice {invoice.number}" + (f" (ref {payment.reference})" if payment.reference else ""),
        changes={"status": [before, invoice.status], "paid_amount": invoice.paid_amount, "transaction": payment.id},
    )
    return payment


def record_payment(
    db, actor: Actor, invoice_id: int, *, method: str, amount=None, currency: str | None = None,
    reference: str | None = None, payment_date=None,
) -> InvoiceView:
    """A manual payment (Cash, POS, Bank Transfer) with an optional reference and payment date; the full
    outstanding amount unless `amount` is given."""
    actor.require("update_customer_invoice", "record payments")
    checks = {"method": lambda: rules.choice(method, rules.MANUAL_METHODS, "Payment method"),
              "payment_date": lambda: _optional_date(payment_date, "Payment date")}
    if amount not in (None, ""):
        checks["amount"] = lambda: rules.positive_amount(amount, "Amount")
    if currency not in (None, ""):
        checks["currency"] = lambda: rules.currency_code(currency)
    clean = validate_all(checks)
    if clean["payment_date"] and clean["payment_date"] > dt.date.today():
        raise ValidationError({"payment_date": "The payment date cannot be in the future."})
    with db.transaction() as s:
        invoice = _invoice(s, invoice_id, for_update=True)
        pay = clean.get("amount") or (invoice.total - invoice.paid_amount)
        if pay <= 0 and invoice.status in ("unpaid", "partially_paid"):
            raise InvoiceRefused(f"Invoice {invoice.number} has nothing outstanding.")
        apply_payment(s, actor, invoice, amount=pay, currency=clean.get("currency") or invoice.currency,
                      method=clean["method"], reference=reference, payment_date=clean["payment_date"])
        s.refresh(invoice)
        return invoice_view(s, invoice)


def invoice_stats(db, actor: Actor, customer_id: int | None = None, *, today: dt.date | None = None,
                  currency: str | None = None) -> Stats:
    """Total Invoices, Unpaid (unpaid and partially paid), This Month and Last Month; voids excluded;
    `currency` keeps to the invoices in it."""
    actor.require("view_customer_invoice", "view invoices")
    where = [Invoice.status != "void"]
    if customer_id is not None:
        where.append(Invoice.customer_id == customer_id)
    if currency:
        where.append(Invoice.currency == currency)
    with db.read() as s:
        return _stats(s, Invoice.total, where, Invoice.status.in_(("unpaid", "partially_paid")), Invoice.issue_date,
                      today or dt.date.today())


# --- statements ---


def statement(db, actor: Actor, customer_id: int, start, end) -> Statement:
    """Every non-void charge, credit, payment and refund of the customer in [start, end] with a running
    balance (positive = the customer owes), opening from everything before `start`."""
    actor.require("view_customer_transaction", "view statements")
    clean = _period_checks(start, end, None)
    t = BillingTransaction
    amount = t.retail_cost + t.tax_amount
    with db.read() as s:
        customer = _customer(s, customer_id)
        opening = Decimal(s.scalar(select(func.coalesce(func.sum(amount), 0)).where(
            t.customer_id == customer.id, t.void.is_(False), t.transaction_date < clean["start"])))
        rows = s.execute(
            select(t, Invoice.number).outerjoin(Invoice, Invoice.id == t.invoice_id)
            .where(t.customer_id == customer.id, t.void.is_(False),
                   t.transaction_date >= clean["start"], t.transaction_date <= clean["end"])
            .order_by(t.transaction_date, t.id)
        ).all()
        balance, lines, debits, credits = opening, [], ZERO, ZERO
        for row, number in rows:
            value = row.retail_cost + row.tax_amount
            balance += value
            debit, credit = (value, ZERO) if value >= 0 else (ZERO, -value)
            debits += debit
            credits += credit
            reference = " ".join(x for x in (number or "", row.reference or "") if x)
            lines.append(StatementLine(row.transaction_date, row.id, row.kind, row.title, reference, debit, credit, balance))
        return Statement(customer.id, customer.name, customer.currency, clean["start"], clean["end"], opening,
                         tuple(lines), balance, debits, credits)

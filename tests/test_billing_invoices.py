"""Transactions, invoices, manual payments, voids and statements on the real database."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from omnidesk.billing import rules
from omnidesk.billing import service as bs
from omnidesk.catalog import service as catalog
from omnidesk.customers import service as cs
from omnidesk.db.models import ActivityEntry, BillingTransaction, Invoice
from omnidesk.errors import ServiceError, ValidationError

TODAY = dt.date.today()
D = Decimal


def customer(db, admin, name="Acme Pty", currency="USD"):
    return cs.create_customer(db, admin, name=name, currency=currency, account_type="business")


def charge(db, admin, c, title, amount, **kw):
    return bs.add_transaction(db, admin, c.id, title=title, retail_cost=amount, **kw)


def counts(db):
    with db.read() as s:
        return (s.scalar(select(func.count()).select_from(Invoice)),
                s.scalar(select(func.count()).select_from(BillingTransaction)),
                s.scalar(select(func.count()).select_from(ActivityEntry)))


# --- money rules ---


def test_tax_is_rounded_half_up_to_cents():
    assert rules.tax_amount(D("50.00"), D("10")) == D("5.00")
    assert rules.tax_amount(D("0.05"), D("10")) == D("0.01")  # 0.005 rounds up, not to even
    assert rules.tax_amount(D("19.99"), D("15")) == D("3.00")  # 2.9985


def test_pro_rata_counts_days_inclusively():
    # 30-day month, joining on the 21st: 10 days remain (21..30) → 30.00 × 10 / 30
    assert rules.pro_rata(D("30.00"), dt.date(2026, 11, 21)) == D("10.00")
    assert rules.pro_rata(D("45.00"), dt.date(2026, 2, 1)) == D("45.00")
    assert rules.pro_rata(D("99.99"), dt.date(2026, 1, 31)) == D("3.23")  # 99.99 / 31


def test_compact_money_and_tax_display_follow_the_seed():
    assert rules.compact_money(D("1500")) == "$1.5k"
    assert rules.compact_money(D("2300000")) == "$2.3M"
    assert rules.compact_money(D("1100000000")) == "$1.1B"
    assert rules.tax_display(D("5.00"), D("10"), "USD") == "$5.00 (10%)"
    assert rules.tax_display(D("0"), D("0"), "USD") == "-"


def test_the_generate_dialog_defaults_to_the_last_two_weeks_due_today():
    assert rules.default_period(dt.date(2025, 1, 31)) == (dt.date(2025, 1, 17), dt.date(2025, 1, 31), dt.date(2025, 1, 31))


# --- transactions ---


def test_a_charge_takes_its_tax_from_the_product_of_its_service(db, admin):
    c = customer(db, admin)
    product = catalog.create_product(db, admin, name="Fibre 100", slug="fibre-100", category="standalone",
                                     service_type="internet", retail_cost="50.00", tax_percentage="10")
    with db.engine.begin() as conn:
        service_id = conn.execute(text("INSERT INTO service (customer_id, name, product_id) VALUES (:c, 'Fibre', :p) RETURNING id"),
                                  {"c": c.id, "p": product.id}).scalar()
    t = charge(db, admin, c, "Monthly fee", "50.00", service_id=service_id)
    assert (t.tax_percentage, t.tax_amount, t.total) == (D("10"), D("5.00"), D("55.00"))
    typed = charge(db, admin, c, "Override", "50.00", service_id=service_id, tax_percentage="0")
    assert typed.tax_amount == D("0.00")


def test_a_credit_is_stored_negative_and_carries_no_tax(db, admin):
    c = customer(db, admin, currency="GBP")
    t = bs.add_transaction(db, admin, c.id, kind="credit", title="Service Outage Credit", retail_cost="10.00",
                           tax_percentage="20", credit_type="Cash", description="Compensation for 2-day outage")
    assert (t.retail_cost, t.tax_percentage, t.tax_amount, t.invoiced) == (D("-10.00"), 0, D("0.00"), False)


def test_bad_transactions_are_refused_with_every_reason(db, admin):
    c = customer(db, admin)
    with pytest.raises(ValidationError) as refused:
        bs.add_transaction(db, admin, c.id, kind="credit", title=" ", retail_cost="-5")
    assert set(refused.value.errors) == {"title", "retail_cost", "credit_type"}
    assert "more than zero" in refused.value.errors["retail_cost"]
    assert counts(db)[1] == 0


def test_an_uninvoiced_transaction_is_voided_and_leaves_the_uninvoiced_total(db, admin):
    c = customer(db, admin)
    keep = charge(db, admin, c, "Installation Fee", "75.00", wholesale_cost="45.00")
    dup = charge(db, admin, c, "Installation Fee (duplicate)", "75.00")
    assert bs.transaction_stats(db, admin, c.id).open == (D("150.00"), 2)
    bs.void_transaction(db, admin, dup.id)
    assert bs.transaction_stats(db, admin, c.id).open == (D("75.00"), 1)
    assert [t.id for t in bs.list_transactions(db, admin, c.id)] == [keep.id]
    assert [t.id for t in bs.list_transactions(db, admin, c.id, void=True)] == [dup.id]


def test_voiding_an_invoiced_transaction_is_refused_and_points_to_a_credit(db, admin):
    c = customer(db, admin)
    t = charge(db, admin, c, "Router", "99.00")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    with pytest.raises(ServiceError, match=f"on invoice {inv.number}. Add a credit"):
        bs.void_transaction(db, admin, t.id)
    assert bs.get_transaction(db, admin, t.id).void is False


# --- invoices ---


def test_an_invoice_bills_the_included_rows_and_leaves_the_excluded_uninvoiced(db, admin):
    c = customer(db, admin)
    setup = charge(db, admin, c, "Setup", "50.00", tax_percentage="10")
    month = charge(db, admin, c, "Monthly service", "45.00", tax_percentage="10")
    disputed = charge(db, admin, c, "Disputed call", "12.00")
    preview = bs.preview_invoice(db, admin, c.id, TODAY - dt.timedelta(days=14), TODAY)
    preview = preview.with_included(preview.included - {disputed.id})
    assert preview.button_label == "Invoice 2 transactions"
    assert (preview.subtotal, preview.tax, preview.total) == (D("95.00"), D("9.50"), D("104.50"))

    inv = bs.generate_invoice(db, admin, c.id, start=TODAY - dt.timedelta(days=14), end=TODAY, exclude=[disputed.id])
    assert inv.number == f"INV-{TODAY.year}-000001"
    assert (inv.subtotal, inv.tax_total, inv.total, inv.status) == (D("95.00"), D("9.50"), D("104.50"), "unpaid")
    assert [line.id for line in inv.lines] == [setup.id, month.id]
    assert [r.id for r in bs.preview_invoice(db, admin, c.id, TODAY, TODAY).rows] == [disputed.id]


def test_a_credit_reduces_the_next_invoice(db, admin):
    c = customer(db, admin)
    bs.add_transaction(db, admin, c.id, kind="credit", title="Outage credit", retail_cost="10", credit_type="cash")
    charge(db, admin, c, "Monthly service", "45.00")
    assert bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY).total == D("35.00")


def test_an_invoice_with_nothing_to_bill_is_refused(db, admin):
    c = customer(db, admin)
    with pytest.raises(ServiceError, match="Cannot generate invoice - No transactions found"):
        bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)


def test_a_negative_invoice_total_is_refused_and_nothing_is_written(db, admin):
    c = customer(db, admin)
    charge(db, admin, c, "Small fee", "5.00")
    bs.add_transaction(db, admin, c.id, kind="credit", title="Goodwill", retail_cost="20.00", credit_type="cash")
    before = counts(db)
    with pytest.raises(ServiceError, match=r"total would be -\$15.00: credits exceed charges"):
        bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    assert counts(db) == before
    assert bs.transaction_stats(db, admin, c.id).open[1] == 2
    # The refused attempt took no number: the next invoice is still 000001.
    charge(db, admin, c, "Monthly", "30.00")
    assert bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY).number.endswith("-000001")


def test_cash_payment_creates_a_negative_linked_transaction_and_marks_the_invoice_paid(db, admin):
    c = customer(db, admin)
    charge(db, admin, c, "Monthly service", "45.00")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    paid = bs.record_payment(db, admin, inv.id, method="Cash", reference="Cash paid - Receipt #001")
    assert paid.status == "paid" and paid.outstanding == D("0.00")
    [payment] = paid.payments
    assert (payment.title, payment.retail_cost, payment.invoice_id, payment.method, payment.reference) == (
        f"Payment for Invoice {inv.number}", D("-45.00"), inv.id, "cash", "Cash paid - Receipt #001")


def test_a_part_payment_makes_the_invoice_partially_paid_and_a_bank_transfer_keeps_its_date(db, admin):
    c = customer(db, admin)
    charge(db, admin, c, "Service charge", "100.00")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    part = bs.record_payment(db, admin, inv.id, method="bank transfer", amount="40.00", reference="BT-7781",
                             payment_date=TODAY - dt.timedelta(days=3))
    assert (part.status, part.outstanding) == ("partially_paid", D("60.00"))
    assert part.payments[0].transaction_date == TODAY - dt.timedelta(days=3)
    assert bs.record_payment(db, admin, inv.id, method="pos").status == "paid"


def test_a_payment_in_the_wrong_currency_is_refused_and_nothing_is_written(db, admin):
    c = customer(db, admin, currency="AUD")
    charge(db, admin, c, "Service", "45.00")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    before = counts(db)
    with pytest.raises(ServiceError, match=f"Invoice {inv.number} is in AUD; a payment in USD cannot be recorded"):
        bs.record_payment(db, admin, inv.id, method="cash", currency="USD")
    assert counts(db) == before
    assert bs.get_invoice(db, admin, inv.id).status == "unpaid"


def test_paying_more_than_is_outstanding_is_refused(db, admin):
    c = customer(db, admin)
    charge(db, admin, c, "Service", "45.00")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    with pytest.raises(ServiceError, match=r"\$50.00 is more than the \$45.00 outstanding"):
        bs.record_payment(db, admin, inv.id, method="cash", amount="50")


def test_voiding_an_unpaid_invoice_releases_its_transactions(db, admin):
    c = customer(db, admin)
    t = charge(db, admin, c, "Service", "45.00")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY, title="October")
    void = bs.void_invoice(db, admin, inv.id)
    assert (void.status, void.title, void.lines) == ("void", "Void: October", ())
    assert bs.get_transaction(db, admin, t.id).invoice_id is None
    again = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    assert again.number.endswith("-000002")  # a voided invoice keeps its number


def test_voiding_a_paid_invoice_is_refused_and_nothing_is_written(db, admin):
    c = customer(db, admin)
    charge(db, admin, c, "Service", "45.00")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    bs.record_payment(db, admin, inv.id, method="cash")
    before = counts(db)
    with pytest.raises(ServiceError, match=f"Invoice {inv.number} is paid; refund it .* or add a credit instead of voiding it"):
        bs.void_invoice(db, admin, inv.id)
    assert counts(db) == before and bs.get_invoice(db, admin, inv.id).status == "paid"


def test_the_database_refuses_an_invoice_status_jump_and_a_client_chosen_number(db, admin):
    c = customer(db, admin)
    charge(db, admin, c, "Service", "45.00")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    with pytest.raises(Exception, match="cannot go from unpaid to refunded"):
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE invoice SET status = 'refunded' WHERE id = :i"), {"i": inv.id})
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO invoice (customer_id, number, start_date, end_date, due_date) "
                          "VALUES (:c, 'INV-2026-999999', '2026-01-01', '2026-01-31', '2026-01-31')"), {"c": c.id})
        numbers = conn.execute(text("SELECT number FROM invoice ORDER BY id")).scalars().all()
    assert numbers == [f"INV-{TODAY.year}-000001", f"INV-{TODAY.year}-000002"]


def test_numbers_restart_each_calendar_year(db, admin):
    c = customer(db, admin)
    for year in (2025, 2025, 2026):
        charge(db, admin, c, f"Service {year}", "10.00")
        inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY, issue_date=dt.date(year, 6, 1))
    assert inv.number == "INV-2026-000001"
    with db.read() as s:
        assert s.scalars(select(Invoice.number).order_by(Invoice.id)).all() == [
            "INV-2025-000001", "INV-2025-000002", "INV-2026-000001"]


def test_two_workstations_generating_invoices_at_once_never_share_or_skip_a_number(db, admin):
    customers = [customer(db, admin, name=f"Customer {i}") for i in range(2)]
    per_thread = 12
    for c in customers:
        for n in range(per_thread):
            charge(db, admin, c, f"Charge {n}", "10.00", transaction_date=TODAY - dt.timedelta(days=n))
    barrier = threading.Barrier(2)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def workstation(c):
        try:
            barrier.wait()
            for n in range(per_thread):
                day = TODAY - dt.timedelta(days=n)
                numbers.append(bs.generate_invoice(db, admin, c.id, start=day, end=day).number)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=workstation, args=(c,)) for c in customers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(numbers) == [f"INV-{TODAY.year}-{n:06d}" for n in range(1, 2 * per_thread + 1)]


def test_two_workstations_invoicing_the_same_customer_never_bill_a_transaction_twice(db, admin):
    c = customer(db, admin)
    for n in range(5):
        charge(db, admin, c, f"Charge {n}", "10.00")
    barrier = threading.Barrier(2)
    results: list = []

    def workstation():
        barrier.wait()
        try:
            results.append(bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY).number)
        except ServiceError as exc:
            results.append(exc)

    threads = [threading.Thread(target=workstation) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    made = [r for r in results if isinstance(r, str)]
    assert made == [f"INV-{TODAY.year}-000001"]
    assert "No transactions found" in str(next(r for r in results if not isinstance(r, str)))


def test_a_statement_lists_charges_and_payments_with_a_running_balance(db, admin):
    c = customer(db, admin)
    charge(db, admin, c, "Old charge", "20.00", transaction_date=TODAY - dt.timedelta(days=40))
    charge(db, admin, c, "Monthly service", "45.00", tax_percentage="10")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY - dt.timedelta(days=60), end=TODAY)
    bs.record_payment(db, admin, inv.id, method="cash", amount="30.00")
    st = bs.statement(db, admin, c.id, TODAY - dt.timedelta(days=30), TODAY)
    assert st.opening_balance == D("20.00")
    assert [(line.title, line.debit, line.credit, line.balance) for line in st.lines] == [
        ("Monthly service", D("49.50"), D("0"), D("69.50")),
        (f"Payment for Invoice {inv.number}", D("0"), D("30.00"), D("39.50")),
    ]
    assert st.closing_balance == D("39.50")


def test_every_billing_change_is_in_the_activity_log(db, admin):
    c = customer(db, admin)
    t = charge(db, admin, c, "Service", "45.00")
    dup = charge(db, admin, c, "Dup", "1.00")
    bs.void_transaction(db, admin, dup.id)
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    bs.record_payment(db, admin, inv.id, method="cash")
    with db.read() as s:
        actions = s.execute(select(ActivityEntry.entity_type, ActivityEntry.action)
                            .where(ActivityEntry.entity_type.in_(("transaction", "invoice")))
                            .order_by(ActivityEntry.id)).all()
    assert actions == [("transaction", "add_charge"), ("transaction", "add_charge"), ("transaction", "void"),
                       ("invoice", "generate"), ("invoice", "payment")]
    assert t.id

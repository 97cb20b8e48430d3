"""Rated calls posted as charges: one charge per customer and month, never twice, voided charges
postable again, refusals for a currency mismatch; and the CLI flag."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from sqlalchemy import func, select, text

from omnidesk.billing import service as bs
from omnidesk.customers import service as customers
from omnidesk.db.models import BillingTransaction
from omnidesk.rating import importer, service
from tests.cli_helpers import run

UTC = dt.timezone.utc
PLAN = "prefix,rate,description\n44,0.60,UK\n1,0.30,USA\n"


def _customer(db, admin, name="Acme Telecom", currency="USD"):
    c = customers.create_customer(db, admin, name=name, account_type="business", currency=currency)
    return customers.change_status(db, admin, c.id, "active").id


def _calls(db, admin, calls: list[tuple], first=1, **kwargs):
    lines = ["call_id,call_start,caller,called_number,duration,customer_id,disposition"]
    for n, (customer_id, start, number, seconds) in enumerate(calls, first):
        lines.append(f"c{n},{start},+15550100,{number},{seconds},{customer_id},answered")
    return importer.import_cdrs(db, admin, ("\n".join(lines) + "\n").encode(), **kwargs)


def setup(db, admin):
    service.create_rate_plan(db, admin, name="Standard", currency="USD", billing_increment=60, minimum_duration=60)
    importer.import_rates(db, admin, "Standard", PLAN.encode())
    a, b = _customer(db, admin), _customer(db, admin, "Blue Fern")
    for c in (a, b):
        service.assign_rate_plan(db, admin, c, "Standard")
    return a, b


def test_rated_calls_become_one_charge_per_customer_and_month_and_are_never_charged_twice(db, admin):
    a, b = setup(db, admin)
    _calls(db, admin, [
        (a, "2026-09-30 23:59:00", "447700900123", 61),   # 2 min × 0.60 = 1.20, September
        (a, "2026-10-01 08:00:00", "447700900123", 30),   # 1 min × 0.60 = 0.60, October
        (a, "2026-10-14 09:00:00", "12125550100", 150),   # 3 min × 0.30 = 0.90
        (b, "2026-10-02 10:00:00", "12125550100", 60),    # 0.30
    ])
    report = service.post_rated_calls(db, admin, tax_percentage="10")
    assert (report.calls, report.amount, len(report.transactions), report.skipped) == (4, D("3.00"), 3, ())
    rows = bs.list_transactions(db, admin, a, newest_first=False)
    assert [(t.title, t.retail_cost, t.tax_amount, t.transaction_date) for t in rows] == [
        ("Calls 30 Sep – 30 Sep 2026", D("1.20"), D("0.12"), dt.date(2026, 9, 30)),
        ("Calls 01 Oct – 14 Oct 2026", D("1.50"), D("0.15"), dt.date(2026, 10, 14)),
    ]
    assert rows[1].description == "2 rated calls, 4.0 billable minutes"

    again = service.post_rated_calls(db, admin)
    assert (again.transactions, again.calls) == ((), 0), "posting again charges nothing twice"

    _calls(db, admin, [(a, "2026-10-20 09:00:00", "447700900123", 60)], first=5)
    later = service.post_rated_calls(db, admin)
    assert (later.calls, later.amount) == (1, D("0.60"))

    bs.void_transaction(db, admin, rows[1].id)  # a wrong charge is voided: its calls may be posted again
    redo = service.post_rated_calls(db, admin, customer_id=a)
    assert (redo.calls, redo.amount) == (2, D("1.50"))


def test_calls_priced_in_another_currency_are_skipped_with_the_reason_and_nothing_is_charged(db, admin):
    a, _b = setup(db, admin)
    _calls(db, admin, [(a, "2026-10-02 10:00:00", "447700900123", 60)])
    with db.transaction() as s:  # the customer's billing currency changed after the calls were rated
        s.execute(text("UPDATE customer SET currency = 'GBP' WHERE id = :id"), {"id": a})
    report = service.post_rated_calls(db, admin)
    assert report.transactions == () and len(report.skipped) == 1
    assert "priced in USD but the customer is billed in GBP" in report.skipped[0]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(BillingTransaction)) == 0
        assert s.scalar(text("SELECT count(*) FROM cdr_charge")) == 0


def test_cdr_rate_post_charges_from_the_command_line(env, admin, capsys):
    a, _b = setup(env, admin)
    _calls(env, admin, [(a, "2026-10-01 08:00:00", "447700900123", 30)])
    code, out, _err = run(capsys, "cdr", "rate", "--post", "--tax", "10")
    assert code == 0 and "1 rated calls posted as 1 charges, 0.60 in all." in out
    [t] = bs.list_transactions(env, admin, a)
    assert (t.retail_cost, t.tax_amount) == (D("0.60"), D("0.06"))

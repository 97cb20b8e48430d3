"""Usage reports: usage per UTC day, ASR by prefix, active customers by lowest balance with last-24h usage."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from omnidesk.customers import service as customers
from omnidesk.db.models import BillingTransaction
from omnidesk.errors import ValidationError
from omnidesk.rating import importer, reports, service

UTC = dt.timezone.utc


def _customer(db, admin, name, *, active=True):
    c = customers.create_customer(db, admin, name=name, account_type="business", currency="USD")
    return customers.change_status(db, admin, c.id, "active").id if active else c.id


@pytest.fixture
def rated(db, admin):
    """Two customers on seed 000's plan with a day and a half of calls to the UK, the USA and France (unrated)."""
    service.create_rate_plan(db, admin, name="Standard", currency="USD", billing_increment=6, minimum_duration=6)
    importer.import_rates(db, admin, "Standard", b"prefix,rate,description\n1,0.015,USA\n44,0.02,UK\n")
    alpha, beta = _customer(db, admin, "Alpha Ltd"), _customer(db, admin, "Beta Ltd")
    for c in (alpha, beta):
        service.assign_rate_plan(db, admin, c, "Standard")
    calls = [
        # day 1 (UTC)
        ("2026-05-01 09:00:00", "447700900001", 60, alpha, "answered"),    # 0.0200
        ("2026-05-01 09:05:00", "447700900002", 7, alpha, "answered"),     # 12 s: 0.0040
        ("2026-05-01 09:10:00", "447700900003", 0, alpha, "no_answer"),
        ("2026-05-01 09:15:00", "447700900004", 0, beta, "busy"),
        ("2026-05-01 23:59:59", "12125550100", 120, beta, "answered"),     # 0.0300
        # day 2
        ("2026-05-02T01:00:00+02:00", "12125550101", 30, beta, "answered"),  # 1 May 23:00 UTC: 0.0075
        ("2026-05-02 10:00:00", "33612345678", 45, alpha, "answered"),     # France: unrated
        ("2026-05-02 10:30:00", "12125550102", 0, alpha, "no_answer"),
    ]
    body = "call_start,called_number,duration,customer_id,disposition\n" + "".join(
        f"{start},{number},{seconds},{customer},{disposition}\n" for start, number, seconds, customer, disposition in calls)
    importer.import_cdrs(db, admin, body.encode())
    return alpha, beta


def test_usage_per_day_counts_calls_minutes_and_cost_per_utc_day_and_flags_unrated_calls(db, admin, rated):
    alpha, _ = rated
    days = reports.usage_per_day(db, admin, since=dt.date(2026, 5, 1), until=dt.date(2026, 5, 2))
    assert [(d.day, d.calls, d.answered, d.minutes, d.billable_minutes, d.cost, d.unrated) for d in days] == [
        (dt.date(2026, 5, 1), 6, 4, Decimal("3.62"), Decimal("3.70"), Decimal("0.0615"), 0),
        (dt.date(2026, 5, 2), 2, 1, Decimal("0.75"), Decimal("0.00"), Decimal("0.0000"), 1),
    ]
    only_alpha = reports.usage_per_day(db, admin, since=dt.date(2026, 5, 1), until=dt.date(2026, 5, 1), customer_id=alpha)
    assert [(d.calls, d.cost) for d in only_alpha] == [(3, Decimal("0.0240"))]
    with pytest.raises(ValidationError, match="ends .* before it starts"):
        reports.usage_per_day(db, admin, since=dt.date(2026, 5, 2), until=dt.date(2026, 5, 1))


def test_asr_by_prefix_is_answered_over_all_calls_busiest_destination_first(db, admin, rated):
    rows = reports.asr_by_prefix(db, admin, since=dt.datetime(2026, 5, 1, tzinfo=UTC))
    assert [(r.prefix, r.description, r.calls, r.answered, r.asr) for r in rows] == [
        ("44", "UK", 4, 2, Decimal("50.0")),
        ("1", "USA", 3, 2, Decimal("66.7")),
        (None, "", 1, 1, Decimal("100.0")),   # calls no prefix matched
    ]
    low = reports.asr_by_prefix(db, admin, since=dt.datetime(2026, 5, 1, tzinfo=UTC), below=60)
    assert [r.prefix for r in low] == ["44"]
    by_digits = reports.asr_by_prefix(db, admin, since=dt.datetime(2026, 5, 1, tzinfo=UTC), digits=5)
    assert [(r.prefix, r.calls) for r in by_digits][:2] == [("44770", 4), ("12125", 3)]


def test_low_balance_lists_active_customers_lowest_first_with_their_last_24_hours_of_usage(db, admin, rated):
    alpha, beta = rated
    gamma = _customer(db, admin, "Gamma Ltd")
    _customer(db, admin, "Pending Ltd", active=False)  # not active: not listed
    with db.transaction() as s:
        s.add_all([
            BillingTransaction(customer_id=alpha, title="Top-up", kind="credit", retail_cost=Decimal("-50.00")),
            BillingTransaction(customer_id=alpha, title="Monthly", retail_cost=Decimal("20.00"),
                               tax_percentage=Decimal("10"), tax_amount=Decimal("2.00")),
            BillingTransaction(customer_id=beta, title="Monthly", retail_cost=Decimal("40.00"),
                               tax_percentage=Decimal("10"), tax_amount=Decimal("4.00")),
            BillingTransaction(customer_id=beta, title="Voided", retail_cost=Decimal("100.00"), void=True),
        ])
    rows = reports.low_balance_customers(db, admin, now=dt.datetime(2026, 5, 2, 12, 0, tzinfo=UTC))
    # Balance: credits minus charges with tax, void ones left out. The 24 hours to 2 May 12:00 UTC
    # hold Beta's two evening calls to the USA and Alpha's unanswered and unrated calls of 2 May.
    assert [(r.name, r.balance, r.calls_last_24h, r.usage_last_24h) for r in rows] == [
        ("Beta Ltd", Decimal("-44.00"), 2, Decimal("0.0375")),
        ("Gamma Ltd", Decimal("0.00"), 0, Decimal("0.0000")),
        ("Alpha Ltd", Decimal("28.00"), 2, Decimal("0.0000")),
    ]
    assert [r.name for r in reports.low_balance_customers(db, admin, limit=1)] == ["Beta Ltd"]

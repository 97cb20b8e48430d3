"""The month-end bill run: parallel worker processes, gapless numbers, nothing invoiced twice."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select

from omnidesk.billing import billrun
from omnidesk.billing import service as bs
from omnidesk.billing.models import DocumentCache
from omnidesk.customers import service as cs


def test_a_bill_run_invoices_every_customer_once_with_pdfs_and_a_rerun_invoices_nothing(db, admin):
    october = dt.date(2026, 10, 5)
    for n in range(6):
        c = cs.create_customer(db, admin, name=f"Run Customer {n}", currency="USD")
        for title, amount in (("Plan", "30.00"), ("Data add-on", "10.00"), ("Late fee", "5.00")):
            bs.add_transaction(db, admin, c.id, title=title, retail_cost=amount, transaction_date=october)
    november = cs.create_customer(db, admin, name="November only", currency="USD")
    bs.add_transaction(db, admin, november.id, title="Plan", retail_cost="30.00", transaction_date=dt.date(2026, 11, 2))

    report = billrun.run_billing(db, admin, "2026-10", workers=2, issue_date=dt.date(2026, 11, 1))
    assert report.invoices == [f"INV-2026-{n:06d}" for n in range(1, 7)]
    assert report.render_seconds > 0 and report.sql_seconds > 0
    invoices = bs.list_invoices(db, admin)
    assert {i.total for i in invoices} == {Decimal("45.00")}
    assert november.id not in {i.customer_id for i in invoices}
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(DocumentCache)) == 6

    again = billrun.run_billing(db, admin, "2026-10", workers=2)
    assert again.invoices == [] and len(bs.list_invoices(db, admin)) == 6

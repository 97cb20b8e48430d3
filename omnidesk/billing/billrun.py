"""The month-end bill run: invoice every customer with uninvoiced charges in the period and render
their PDFs, in parallel worker processes. Re-running it invoices nothing twice (only uninvoiced
transactions are billed, and each invoice takes its rows under lock).
"""

from __future__ import annotations

import calendar
import datetime as dt
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import select

from omnidesk.auth import Actor, load_actor
from omnidesk.billing import documents
from omnidesk.billing import service as billing
from omnidesk.db.models import BillingTransaction
from omnidesk.errors import ServiceError, ValidationError


@dataclass
class BillRunReport:
    period: str
    invoices: list[str] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)  # customer id → why no invoice
    sql_seconds: float = 0.0  # summed over workers: generating invoices (and the PDF cache's reads/writes)
    render_seconds: float = 0.0  # summed over workers: Jinja2 + WeasyPrint
    worker_cpu_seconds: float = 0.0  # CPU the worker processes used (not PostgreSQL's): the cost on an idle machine
    wall_seconds: float = 0.0

    def as_dict(self) -> dict:
        n = max(len(self.invoices), 1)
        return {"period": self.period, "invoices": len(self.invoices), "skipped": len(self.skipped),
                "first": min(self.invoices, default=None), "last": max(self.invoices, default=None),
                "wall_seconds": round(self.wall_seconds, 2), "sql_ms_per_invoice": round(1000 * self.sql_seconds / n, 1),
                "render_ms_per_invoice": round(1000 * self.render_seconds / n, 1),
                "worker_cpu_ms_per_invoice": round(1000 * self.worker_cpu_seconds / n, 1)}


def period_bounds(period: str) -> tuple[dt.date, dt.date]:
    try:
        year, month = (int(x) for x in period.split("-"))
        start = dt.date(year, month, 1)
    except ValueError:
        raise ValidationError({"period": "The period is a month such as 2026-10."}) from None
    return start, start.replace(day=calendar.monthrange(year, month)[1])


def customers_to_bill(db, start: dt.date, end: dt.date) -> list[int]:
    t = BillingTransaction
    with db.read() as s:
        return list(s.scalars(select(t.customer_id).where(
            t.invoice_id.is_(None), t.void.is_(False), t.kind.in_(billing.LINE_KINDS),
            t.transaction_date >= start, t.transaction_date <= end).distinct().order_by(t.customer_id)))


def _bill(db, actor: Actor, customer_ids: list[int], start: dt.date, end: dt.date, due: dt.date,
          issue_date: dt.date | None, render: bool) -> tuple[list[str], dict[int, str], float, float, float]:
    numbers, skipped, sql, rendering = [], {}, 0.0, 0.0
    cpu = time.process_time()
    for customer_id in customer_ids:
        began = time.perf_counter()
        try:
            invoice = billing.generate_invoice(db, actor, customer_id, start=start, end=end, due=due,
                                               title=f"Invoice for {start:%B %Y}", issue_date=issue_date)
        except ServiceError as exc:
            skipped[customer_id] = str(exc)
            continue
        finally:
            sql += time.perf_counter() - began
        numbers.append(invoice.number)
        if render:
            began = time.perf_counter()
            doc = documents.invoice_pdf(db, actor, invoice.id)
            total = time.perf_counter() - began
            rendering += doc.render_ms / 1000
            sql += total - doc.render_ms / 1000
    return numbers, skipped, sql, rendering, time.process_time() - cpu


def _worker(url: str, username: str, customer_ids: list[int], start, end, due, issue_date, render: bool):
    from omnidesk.db.engine import Database

    db = Database(url, application_name="omnidesk-billrun", pool_size=1)
    try:
        return _bill(db, load_actor(db, username), customer_ids, start, end, due, issue_date, render)
    finally:
        db.dispose()


def run_billing(db, actor: Actor, period: str, *, workers: int = 2, render: bool = True,
                due: dt.date | None = None, issue_date: dt.date | None = None) -> BillRunReport:
    """Invoice (and render) every customer with uninvoiced charges or credits dated in `period` (YYYY-MM)."""
    actor.require("create_customer_invoice", "run billing")
    start, end = period_bounds(period)
    issue = issue_date or dt.date.today()
    due = due or issue + dt.timedelta(days=14)
    report = BillRunReport(period)
    began = time.perf_counter()
    ids = customers_to_bill(db, start, end)
    if workers <= 1 or len(ids) < 2 * workers:
        results = [_bill(db, actor, ids, start, end, due, issue_date, render)]
    else:
        chunks = [ids[i::workers] for i in range(workers)]
        # spawn, not fork: a forked child would share the parent's pooled database sockets.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_worker, db.url, actor.username, chunk, start, end, due, issue_date, render)
                       for chunk in chunks]
            results = [f.result() for f in futures]
    for numbers, skipped, sql, rendering, cpu in results:
        report.worker_cpu_seconds += cpu
        report.invoices.extend(numbers)
        report.skipped.update(skipped)
        report.sql_seconds += sql
        report.render_seconds += rendering
    report.invoices.sort()
    report.wall_seconds = time.perf_counter() - began
    return report

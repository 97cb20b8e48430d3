"""Usage reports over rated calls (seed 000 §5-6): usage per day, ASR by prefix, customers by lowest balance.

Each returns plain rows; all need the `view_report` permission. Days and "the last 24 hours" are
UTC. Costs are in the currency of the plan that rated each call; usage_per_day over customers
paying in different currencies adds unlike amounts, so ask for one customer when that matters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text

from omnidesk.auth import Actor
from omnidesk.errors import ValidationError

REPORT_PERMISSION = "view_report"


@dataclass(frozen=True)
class UsageDay:
    day: dt.date
    calls: int
    answered: int
    minutes: Decimal  # talk time, 2 decimals
    billable_minutes: Decimal  # after increments and minimums, 2 decimals
    cost: Decimal  # sum of rated calls' costs, 4 decimals
    unrated: int  # calls of the day not (yet) priced: the cost leaves them out


@dataclass(frozen=True)
class AsrRow:
    prefix: str | None  # None: calls no rate plan prefix matched
    description: str
    calls: int
    answered: int
    asr: Decimal  # answered / calls × 100, 1 decimal


@dataclass(frozen=True)
class LowBalanceRow:
    customer_id: int
    name: str
    currency: str
    balance: Decimal
    credit_limit: Decimal
    calls_last_24h: int
    usage_last_24h: Decimal  # cost of the calls rated in the last 24 hours, 4 decimals


def _aware(label: str, moment: dt.datetime | None) -> None:
    if moment is not None and moment.tzinfo is None:
        raise ValidationError({label: f"'{label}' needs a time zone (times are UTC)."})


def usage_per_day(
    db, actor: Actor, *, since: dt.date, until: dt.date, customer_id: int | None = None,
) -> list[UsageDay]:
    """One row per UTC day from `since` to `until` inclusive that had calls."""
    actor.require(REPORT_PERMISSION, "view usage reports")
    if until < since:
        raise ValidationError({"until": f"The report ends ({until}) before it starts ({since})."})
    with db.read() as s:
        rows = s.execute(text("""
            SELECT (c.call_start AT TIME ZONE 'UTC')::date AS day,
                   count(*) AS calls,
                   count(*) FILTER (WHERE c.disposition = 'answered') AS answered,
                   round(sum(c.duration_seconds) FILTER (WHERE c.disposition = 'answered') / 60.0, 2) AS minutes,
                   round(sum(r.billable_seconds) / 60.0, 2) AS billable_minutes,
                   coalesce(sum(r.cost), 0) AS cost,
                   count(*) FILTER (WHERE r.cdr_id IS NULL) AS unrated
              FROM cdr c
              LEFT JOIN cdr_rating r ON r.cdr_id = c.id
             WHERE c.call_start >= CAST(:since AS date)::timestamp AT TIME ZONE 'UTC'
               AND c.call_start < (CAST(:until AS date) + 1)::timestamp AT TIME ZONE 'UTC'
               AND (CAST(:customer AS bigint) IS NULL OR c.customer_id = :customer)
             GROUP BY 1 ORDER BY 1
        """), {"since": since, "until": until, "customer": customer_id}).all()
        return [UsageDay(r.day, r.calls, r.answered, r.minutes or Decimal("0.00"),
                         r.billable_minutes or Decimal("0.00"), Decimal(r.cost).quantize(Decimal("0.0001")), r.unrated)
                for r in rows]


def asr_by_prefix(
    db, actor: Actor, *, since: dt.datetime, until: dt.datetime | None = None, customer_id: int | None = None,
    digits: int | None = None, below: Decimal | float | int | None = None, minimum_calls: int = 1, limit: int = 100,
) -> list[AsrRow]:
    """Answer-seizure ratio per destination, busiest first: by the rate plan prefix each call matched, or
    (digits=N) by the first N digits of the called number as seed 000's troubleshooting query does.
    `below` keeps only destinations whose ASR is under that percentage (the seed looks under 40)."""
    actor.require(REPORT_PERMISSION, "view ASR reports")
    _aware("since", since)
    _aware("until", until)
    if digits is not None and not 1 <= digits <= 16:
        raise ValidationError({"digits": "Group by 1 to 16 leading digits."})
    group = "left(c.called_number, :digits)" if digits else "r.matched_prefix"
    description = ("''" if digits else
                   "coalesce((SELECT pr.description FROM rate_plan_rate pr WHERE pr.rate_plan_id = min(r.rate_plan_id) "
                   "AND pr.prefix = r.matched_prefix ORDER BY pr.effective_date DESC LIMIT 1), '')")
    with db.read() as s:
        rows = s.execute(text(f"""
            SELECT {group} AS prefix, {description} AS description, count(*) AS calls,
                   count(*) FILTER (WHERE c.disposition = 'answered') AS answered
              FROM cdr c
              LEFT JOIN cdr_rating r ON r.cdr_id = c.id
             WHERE c.call_start >= :since
               AND (CAST(:until AS timestamptz) IS NULL OR c.call_start < :until)
               AND (CAST(:customer AS bigint) IS NULL OR c.customer_id = :customer)
             GROUP BY {group}
            HAVING count(*) >= :minimum
               AND (CAST(:below AS numeric) IS NULL
                    OR count(*) FILTER (WHERE c.disposition = 'answered') * 100.0 / count(*) < :below)
             ORDER BY calls DESC, prefix
             LIMIT :limit
        """), {"since": since, "until": until, "customer": customer_id, "digits": digits, "minimum": minimum_calls,
               "below": None if below is None else Decimal(str(below)), "limit": limit}).all()
        return [AsrRow(r.prefix, r.description, r.calls, r.answered,
                       (Decimal(r.answered * 100) / r.calls).quantize(Decimal("0.1"))) for r in rows]


def balances_sql() -> str:
    """(customer_id, balance) for every customer, balance in the customer's currency.

    Until the wallet lands (being built in parallel), the balance is what the customer's billing
    transactions leave: credits and payments (negative) minus charges with their tax (positive),
    over every transaction that is not void. Rated calls are not in it: nothing posts them as
    charges yet; the report shows them beside the balance as last-24h usage. Point this at the
    wallet table when it exists; the report needs nothing else changed.
    """
    return """
        SELECT customer_id, -sum(retail_cost + tax_amount) AS balance
          FROM billing_transaction
         WHERE NOT void
         GROUP BY customer_id
    """


def low_balance_customers(db, actor: Actor, *, limit: int = 20, now: dt.datetime | None = None) -> list[LowBalanceRow]:
    """Active customers by lowest balance first, with their calls and usage of the last 24 hours (seed 000 §6.2)."""
    actor.require(REPORT_PERMISSION, "view balance reports")
    _aware("now", now)
    with db.read() as s:
        rows = s.execute(text(f"""
            SELECT top.*, coalesce(u.calls, 0) AS calls, coalesce(u.cost, 0) AS cost
              FROM (SELECT cu.id, cu.name, cu.currency, coalesce(b.balance, 0) AS balance, cu.credit_limit
                      FROM customer cu
                      LEFT JOIN ({balances_sql()}) b ON b.customer_id = cu.id
                     WHERE cu.status = 'active' AND cu.archived_at IS NULL
                     ORDER BY balance, cu.id
                     LIMIT :limit) top
              LEFT JOIN LATERAL (
                   SELECT count(*) AS calls, sum(r.cost) AS cost
                     FROM cdr c LEFT JOIN cdr_rating r ON r.cdr_id = c.id
                    WHERE c.customer_id = top.id
                      AND c.call_start > coalesce(CAST(:now AS timestamptz), now()) - interval '24 hours'
                      AND c.call_start <= coalesce(CAST(:now AS timestamptz), now())
              ) u ON true
             ORDER BY top.balance, top.id
        """), {"now": now, "limit": limit}).all()
        return [LowBalanceRow(r.id, r.name, r.currency, Decimal(r.balance).quantize(Decimal("0.01")), r.credit_limit,
                              r.calls, Decimal(r.cost).quantize(Decimal("0.0001"))) for r in rows]

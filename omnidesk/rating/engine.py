"""Rating in the database: every call of a batch priced by one set-based INSERT.

For each call the candidate prefixes are the called number's first n digits for every prefix length
n the plans use; they are hash-joined to the plan's rates in force on the call's day (UTC), and the
longest (then the latest effective date) wins. Billable seconds and cost follow DECISIONS, in
NUMERIC, rounded half-up to 4 decimals (PostgreSQL's round() rounds halves away from zero, which
for costs, never negative, is half-up). omnidesk/rating/rules.py states the same rules in Python and
tests hold this SQL to a straightforward Python reference.

Which plan rates a call: the customer's own (customer_rate_plan), else the default plan named for
the run if the customer's currency is that plan's currency; otherwise the call stays unrated.
Rating runs are serialised by an advisory lock, so two workstations never price a call twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

RATING_LOCK = 0x72617465  # "rate"
MISSING_SHOWN = 10


@dataclass(frozen=True)
class RatingOutcome:
    rated: int
    no_plan: int  # unrated: the customer has no plan and the default plan does not apply
    no_prefix: int  # unrated: no prefix of the plan, in force on the call's day, matches the number
    # First four digits of the numbers no prefix matched, with their calls, most first.
    missing_destinations: tuple[tuple[str, int], ...] = ()

    @property
    def unrated(self) -> int:
        return self.no_plan + self.no_prefix


def _customer_plans() -> str:
    """Each customer's plan with its increment and minimum (customers without one drop out)."""
    return """
        SELECT cu.id AS customer_id, p.id AS rate_plan_id, p.billing_increment, p.minimum_duration
          FROM customer cu
          LEFT JOIN customer_rate_plan crp ON crp.customer_id = cu.id
          JOIN rate_plan p ON p.id = coalesce(
               crp.rate_plan_id,
               CASE WHEN cu.currency = CAST(:default_currency AS text) THEN CAST(:default_plan AS integer) END)
    """


def match_sql(calls: str) -> str:
    """SELECT cdr_id, rate_plan_id, matched_prefix, rate, billable_seconds, cost for each call of
    `calls` (a FROM item with id, customer_id, called_number, call_start, duration_seconds,
    disposition) that its plan rates."""
    return f"""
        SELECT m.id AS cdr_id, m.rate_plan_id, m.matched_prefix, m.rate, m.billable_seconds,
               round(m.billable_seconds * m.rate / 60, 4) AS cost
          FROM (
            SELECT DISTINCT ON (s.id)
                   s.id, cp.rate_plan_id, r.prefix AS matched_prefix, r.rate,
                   CASE WHEN s.disposition = 'answered' AND s.duration_seconds > 0
                        THEN greatest(cp.minimum_duration,
                                      ((s.duration_seconds + cp.billing_increment - 1) / cp.billing_increment)
                                      * cp.billing_increment)
                        ELSE 0 END AS billable_seconds
              FROM {calls} s
              JOIN ({_customer_plans()}) cp ON cp.customer_id = s.customer_id
              CROSS JOIN unnest(CAST(:lengths AS integer[])) AS n(len)
              JOIN rate_plan_rate r
                ON r.rate_plan_id = cp.rate_plan_id
               AND r.prefix = left(s.called_number, n.len)
               AND r.effective_date <= (s.call_start AT TIME ZONE 'UTC')::date
             WHERE n.len <= length(s.called_number)
             ORDER BY s.id, n.len DESC, r.effective_date DESC
          ) m
    """


def rate_calls(session: Session, where: str, params: dict, *, default_plan: int | None, rerate: bool) -> RatingOutcome:
    """Rate the CDRs `c` matching `where` (SQL over cdr c): unrated ones, or all of them when `rerate`
    (their old price is dropped first, so a call no prefix matches any more becomes unrated)."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": RATING_LOCK})
    # A batch is one big join; nested loops over a batch the planner has no statistics for are quadratic.
    session.execute(text("SELECT set_config('enable_nestloop', 'off', true), set_config('work_mem', '256MB', true)"))
    default_currency = None
    if default_plan is not None:
        default_currency = session.scalar(text("SELECT currency FROM rate_plan WHERE id = :p"), {"p": default_plan})
    values = {**params, "default_plan": default_plan, "default_currency": default_currency}
    if rerate:
        session.execute(text(f"DELETE FROM cdr_rating r USING cdr c WHERE r.cdr_id = c.id AND ({where})"), values)
    values["lengths"] = list(session.scalars(text("""
        SELECT DISTINCT length(prefix) FROM rate_plan_rate
         WHERE rate_plan_id = CAST(:default_plan AS integer)
            OR rate_plan_id IN (SELECT rate_plan_id FROM customer_rate_plan)
    """), values))
    calls = "(SELECT c.id, c.customer_id, c.called_number, c.call_start, c.duration_seconds, c.disposition FROM cdr c"
    unrated = f"{calls} WHERE ({where}) AND NOT EXISTS (SELECT 1 FROM cdr_rating x WHERE x.cdr_id = c.id))"
    # Re-rating has just dropped every price in the window: no need to look for the rated ones (and
    # the planner, whose statistics still count them, would place that look badly).
    rated = session.execute(text(f"""
        INSERT INTO cdr_rating (cdr_id, rate_plan_id, matched_prefix, rate, billable_seconds, cost)
        {match_sql(f"{calls} WHERE ({where}))" if rerate else unrated)}
    """), values).rowcount
    rows = session.execute(text(f"""
        SELECT cp.customer_id IS NULL AS no_plan, left(s.called_number, 4) AS digits, count(*) AS calls
          FROM {unrated} s
          LEFT JOIN ({_customer_plans()}) cp ON cp.customer_id = s.customer_id
         GROUP BY 1, 2
    """), values).all()
    missing = sorted(((r.digits, r.calls) for r in rows if not r.no_plan), key=lambda x: (-x[1], x[0]))
    return RatingOutcome(
        rated=rated,
        no_plan=sum(r.calls for r in rows if r.no_plan),
        no_prefix=sum(c for _, c in missing),
        missing_destinations=tuple(missing[:MISSING_SHOWN]),
    )

"""Rate plan and rating use cases: one function each, one transaction each, each in the activity log.

Permissions (from the catalog of migration 0001):
- rate plans are priced offerings like products: `view_product` to list and read them,
  `update_product` to create them, change them and import rate sheets;
- which plan a customer is on is part of the customer: `update_customer`;
- importing and rating calls produces what customers are charged: `create_customer_transaction`.
Reports (omnidesk/rating/reports.py) need `view_report`.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from omnidesk import activity
from omnidesk.auth import Actor
from omnidesk.customers import rules as customer_rules
from omnidesk.customers.rules import validate_all
from omnidesk.db.integrity import flush_or_refuse
from omnidesk.db.models import Customer
from omnidesk.errors import NotFound, ServiceError, ValidationError
from omnidesk.rating import engine, rules
from omnidesk.rating.engine import RatingOutcome
from omnidesk.rating.models import CustomerRatePlan, PrefixRate, RatePlan

PLAN_PERMISSION_VIEW = "view_product"
PLAN_PERMISSION_CHANGE = "update_product"
RATING_PERMISSION = "create_customer_transaction"


@dataclass(frozen=True)
class RatePlanView:
    id: int
    name: str
    currency: str
    billing_increment: int
    minimum_duration: int
    prefixes: int  # distinct prefixes
    rates: int  # prefix rates, counting each effective date
    customers: int  # customers on this plan
    created_at: dt.datetime


@dataclass(frozen=True)
class PrefixRateView:
    prefix: str
    rate: Decimal
    description: str
    effective_date: dt.date


@dataclass(frozen=True)
class RatingReport:
    rated: int
    unrated: int
    no_plan: int
    no_prefix: int
    missing_destinations: tuple[tuple[str, int], ...]
    seconds: float

    @classmethod
    def of(cls, outcome: RatingOutcome, seconds: float) -> "RatingReport":
        return cls(outcome.rated, outcome.unrated, outcome.no_plan, outcome.no_prefix,
                   outcome.missing_destinations, seconds)

    def describe(self) -> str:
        """What an operator reads after a run: how many were priced and why the others were not."""
        text = f"Rated {self.rated:,} call{'s' if self.rated != 1 else ''}"
        if not self.unrated:
            return text + "."
        reasons = []
        if self.no_prefix:
            top = ", ".join(f"{d}… ({n:,})" for d, n in self.missing_destinations[:5])
            reasons.append(f"{self.no_prefix:,} matched no prefix of their plan (numbers starting {top})")
        if self.no_plan:
            reasons.append(f"{self.no_plan:,} belong to customers with no rate plan")
        return f"{text}; {self.unrated:,} left unrated: {'; '.join(reasons)}."


def plan_by_reference(session: Session, plan: int | str, *, lock: bool = False) -> RatePlan:
    """A plan by id or exact name."""
    if isinstance(plan, int) or (isinstance(plan, str) and plan.strip().isdigit()):
        stmt = select(RatePlan).where(RatePlan.id == int(plan))
    else:
        stmt = select(RatePlan).where(RatePlan.name == str(plan).strip())
    if lock:
        stmt = stmt.with_for_update()
    found = session.scalar(stmt)
    if found is None:
        near = None
        if isinstance(plan, str):
            near = session.scalar(select(RatePlan.name).where(func.lower(RatePlan.name) == plan.strip().lower()))
        hint = f"; names are case-sensitive — did you mean {near!r}?" if near else "."
        raise NotFound(f"There is no rate plan {plan!r}{hint}")
    return found


def _view(session: Session, plan: RatePlan) -> RatePlanView:
    prefixes, rates = session.execute(
        select(func.count(func.distinct(PrefixRate.prefix)), func.count()).where(PrefixRate.rate_plan_id == plan.id)
    ).one()
    customers = session.scalar(
        select(func.count()).select_from(CustomerRatePlan).where(CustomerRatePlan.rate_plan_id == plan.id))
    return RatePlanView(plan.id, plan.name, plan.currency, plan.billing_increment, plan.minimum_duration,
                        prefixes, rates, customers or 0, plan.created_at)


def _plan_checks(values: dict) -> dict:
    checks = {}
    if "name" in values:
        checks["name"] = lambda: rules.plan_name(values["name"])
    if "currency" in values:
        checks["currency"] = lambda: customer_rules.currency(values["currency"])
    if "billing_increment" in values:
        checks["billing_increment"] = lambda: rules.seconds(values["billing_increment"], "Billing increment", 1, 3600)
    if "minimum_duration" in values:
        checks["minimum_duration"] = lambda: rules.seconds(values["minimum_duration"], "Minimum duration", 0, 3600)
    return checks


def _name_taken(session: Session, name: str, other_than: int | None = None) -> bool:
    stmt = select(RatePlan.id).where(RatePlan.name == name)
    if other_than is not None:
        stmt = stmt.where(RatePlan.id != other_than)
    return session.scalar(stmt) is not None


def create_rate_plan(
    db, actor: Actor, *, name: str, currency: str, billing_increment: int = 60, minimum_duration: int = 0,
) -> RatePlanView:
    """A new, empty plan: rates come from a rate sheet (import_rates). Seed 000's example is 6 / 6 seconds."""
    actor.require(PLAN_PERMISSION_CHANGE, "create rate plans")
    values = validate_all(_plan_checks(dict(name=name, currency=currency, billing_increment=billing_increment,
                                            minimum_duration=minimum_duration)))
    with db.transaction() as s:
        if _name_taken(s, values["name"]):
            raise ValidationError({"name": f"There is already a rate plan named {values['name']!r}."})
        plan = RatePlan(**values)
        s.add(plan)
        flush_or_refuse(s)
        activity.record(s, actor, action="create", entity_type="rate_plan", entity_id=plan.id,
                        summary=f"Created rate plan {plan.name} ({plan.currency}, {plan.billing_increment} s increments, "
                                f"{plan.minimum_duration} s minimum)",
                        changes={k: [None, v] for k, v in values.items()})
        flush_or_refuse(s)
        s.refresh(plan)
        return _view(s, plan)


def update_rate_plan(db, actor: Actor, plan: int | str, **changes) -> RatePlanView:
    """Rename a plan or change its increment or minimum (calls already rated keep their price until re-rated)."""
    actor.require(PLAN_PERMISSION_CHANGE, "change rate plans")
    unknown = set(changes) - {"name", "billing_increment", "minimum_duration", "currency"}
    if unknown:
        raise ValidationError({k: f"{k} is not a field of a rate plan." for k in sorted(unknown)})
    values = validate_all(_plan_checks(changes))
    with db.transaction() as s:
        record = plan_by_reference(s, plan, lock=True)
        if "name" in values and _name_taken(s, values["name"], record.id):
            raise ValidationError({"name": f"There is already a rate plan named {values['name']!r}."})
        if "currency" in values and values["currency"] != record.currency:
            on_plan = s.scalar(select(func.count()).select_from(CustomerRatePlan)
                               .where(CustomerRatePlan.rate_plan_id == record.id))
            if on_plan:
                raise ServiceError(f"Rate plan {record.name} has {on_plan} customer(s) paying in {record.currency}; "
                                   "its currency cannot change while they are on it.")
        changed = activity.diff({k: getattr(record, k) for k in values}, values)
        for key, value in values.items():
            setattr(record, key, value)
        flush_or_refuse(s)
        if changed:
            activity.record(s, actor, action="update", entity_type="rate_plan", entity_id=record.id,
                            summary=f"Changed rate plan {record.name}", changes=changed)
        s.refresh(record)
        return _view(s, record)


def list_rate_plans(db, actor: Actor) -> list[RatePlanView]:
    actor.require(PLAN_PERMISSION_VIEW, "view rate plans")
    with db.read() as s:
        return [_view(s, p) for p in s.scalars(select(RatePlan).order_by(RatePlan.name))]


def get_rate_plan(db, actor: Actor, plan: int | str) -> RatePlanView:
    actor.require(PLAN_PERMISSION_VIEW, "view rate plans")
    with db.read() as s:
        return _view(s, plan_by_reference(s, plan))


def list_rates(
    db, actor: Actor, plan: int | str, *, in_force_on: dt.date | None = None, prefix: str | None = None,
    limit: int = 1000, offset: int = 0,
) -> list[PrefixRateView]:
    """A plan's rates by prefix: every dated rate, or only the one in force on a day per prefix."""
    actor.require(PLAN_PERMISSION_VIEW, "view rate plans")
    with db.read() as s:
        record = plan_by_reference(s, plan)
        stmt = select(PrefixRate).where(PrefixRate.rate_plan_id == record.id)
        if prefix:
            stmt = stmt.where(PrefixRate.prefix.startswith(rules.prefix(prefix), autoescape=True))
        if in_force_on is not None:
            stmt = (stmt.where(PrefixRate.effective_date <= in_force_on)
                    .ext(distinct_on(PrefixRate.prefix))
                    .order_by(PrefixRate.prefix, PrefixRate.effective_date.desc()))
        else:
            stmt = stmt.order_by(PrefixRate.prefix, PrefixRate.effective_date)
        rows = s.scalars(stmt.limit(limit).offset(offset))
        return [PrefixRateView(r.prefix, r.rate, r.description, r.effective_date) for r in rows]


def assign_rate_plan(db, actor: Actor, customer_id: int, plan: int | str | None) -> RatePlanView | None:
    """Put a customer on a plan (in the customer's currency), or take them off one with plan=None."""
    actor.require("update_customer", "change customers' rate plans")
    with db.transaction() as s:
        customer = s.get(Customer, customer_id)
        if customer is None:
            raise NotFound(f"There is no customer {customer_id}.")
        current = s.get(CustomerRatePlan, customer_id, with_for_update=True)
        old = s.get(RatePlan, current.rate_plan_id) if current else None
        label = f"Customer {customer.id} ({customer.name})"
        if plan is None:
            if current is None:
                return None
            s.delete(current)
            activity.record(s, actor, action="update", entity_type="customer_rate_plan", entity_id=customer.id,
                            customer_id=customer.id, summary=f"Took {label} off rate plan {old.name}",
                            changes={"rate_plan": [old.name, None]})
            return None
        record = plan_by_reference(s, plan)
        if record.currency != customer.currency:
            raise ServiceError(f"{label} pays in {customer.currency}; rate plan {record.name} is priced in "
                               f"{record.currency}. Choose a {customer.currency} plan.")
        if current is None:
            s.add(CustomerRatePlan(customer_id=customer.id, rate_plan_id=record.id))
        elif current.rate_plan_id == record.id:
            return _view(s, record)
        else:
            current.rate_plan_id = record.id
        flush_or_refuse(s)
        activity.record(s, actor, action="update", entity_type="customer_rate_plan", entity_id=customer.id,
                        customer_id=customer.id, summary=f"Put {label} on rate plan {record.name}",
                        changes={"rate_plan": [old.name if old else None, record.name]})
        return _view(s, record)


def customer_rate_plan(db, actor: Actor, customer_id: int) -> RatePlanView | None:
    actor.require(PLAN_PERMISSION_VIEW, "view rate plans")
    with db.read() as s:
        current = s.get(CustomerRatePlan, customer_id)
        return _view(s, s.get(RatePlan, current.rate_plan_id)) if current else None


def rate_cdrs(
    db, actor: Actor, *, default_plan: int | str | None = None, rerate: bool = False,
    since: dt.datetime | None = None, until: dt.datetime | None = None, customer_id: int | None = None,
) -> RatingReport:
    """Price the calls not yet rated (or, with rerate, every call in the window again, e.g. after a
    rate sheet was corrected). Calls no plan or prefix covers stay unrated and are reported."""
    actor.require(RATING_PERMISSION, "rate calls")
    for label, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise ValidationError({label: f"'{label}' needs a time zone (times are UTC)."})
    started = time.perf_counter()
    conditions, params = ["true"], {}
    if since is not None:
        conditions.append("c.call_start >= :since")
        params["since"] = since
    if until is not None:
        conditions.append("c.call_start < :until")
        params["until"] = until
    if customer_id is not None:
        conditions.append("c.customer_id = :customer_id")
        params["customer_id"] = customer_id
    with db.transaction() as s:
        plan = plan_by_reference(s, default_plan) if default_plan is not None else None
        outcome = engine.rate_calls(s, " AND ".join(conditions), params,
                                    default_plan=plan.id if plan else None, rerate=rerate)
        report = RatingReport.of(outcome, time.perf_counter() - started)
        activity.record(
            s, actor, action="rerate" if rerate else "rate", entity_type="cdr", entity_id=None, customer_id=customer_id,
            summary=report.describe(),
            changes={"rated": outcome.rated, "no_plan": outcome.no_plan, "no_prefix": outcome.no_prefix,
                     "default_plan": plan.name if plan else None,
                     "since": since, "until": until},
        )
        return report


# --- rated calls as charges ---


@dataclass(frozen=True)
class PostingReport:
    """What post_rated_calls charged: one transaction per customer and calendar month of calls."""

    transactions: tuple[int, ...]
    calls: int
    amount: Decimal
    skipped: tuple[str, ...]  # one reason per customer and month not charged

    def describe(self) -> str:
        text = (f"{self.calls:,} rated calls posted as {len(self.transactions)} charges"
                if self.transactions else "No rated calls to post")
        return text + (f"; {len(self.skipped)} skipped" if self.skipped else "")


# Rated calls not yet charged (a charge that was voided does not count), by customer, month and the
# currency of the plan that priced them.
_UNPOSTED_GROUPS = """
SELECT c.customer_id, date_trunc('month', c.call_start AT TIME ZONE 'UTC')::date AS month, p.currency,
       count(*) AS calls, sum(r.cost) AS cost, sum(r.billable_seconds) AS seconds,
       min(c.call_start AT TIME ZONE 'UTC')::date AS first_day, max(c.call_start AT TIME ZONE 'UTC')::date AS last_day
  FROM cdr c
  JOIN cdr_rating r ON r.cdr_id = c.id
  JOIN rate_plan p ON p.id = r.rate_plan_id
 WHERE {where}
   AND NOT EXISTS (SELECT 1 FROM cdr_charge cc JOIN billing_transaction t ON t.id = cc.transaction_id
                    WHERE cc.cdr_id = c.id AND NOT t.void)
 GROUP BY 1, 2, 3
 ORDER BY 1, 2, 3
"""
_LINK_GROUP = """
INSERT INTO cdr_charge (cdr_id, transaction_id)
SELECT c.id, :transaction_id
  FROM cdr c
  JOIN cdr_rating r ON r.cdr_id = c.id
  JOIN rate_plan p ON p.id = r.rate_plan_id
 WHERE {where} AND c.customer_id = :group_customer AND p.currency = :group_currency
   AND date_trunc('month', c.call_start AT TIME ZONE 'UTC')::date = :group_month
   AND NOT EXISTS (SELECT 1 FROM cdr_charge cc JOIN billing_transaction t ON t.id = cc.transaction_id
                    WHERE cc.cdr_id = c.id AND NOT t.void)
ON CONFLICT (cdr_id) DO UPDATE SET transaction_id = EXCLUDED.transaction_id, posted_at = now()
"""


def post_rated_calls(
    db, actor: Actor, *, until: dt.datetime | None = None, customer_id: int | None = None,
    tax_percentage=None,
) -> PostingReport:
    """Charge customers for their rated calls not yet charged (before `until`, when given): one charge
    per customer and calendar month (UTC), the sum of the calls' costs rounded half-up to cents, dated
    the month's last call, linked call by call so nothing is charged twice. A customer whose currency
    differs from the plan's, or who is archived, is skipped with the reason; calls costing under half a
    cent in total stay unposted until more calls join them."""
    from omnidesk.billing import rules as billing_rules
    from omnidesk.db.models import BillingTransaction

    actor.require(RATING_PERMISSION, "post rated calls as charges")
    clean = validate_all({"tax_percentage": lambda: billing_rules.tax_percentage(tax_percentage)}) \
        if tax_percentage not in (None, "") else {"tax_percentage": Decimal("0")}
    if until is not None and until.tzinfo is None:
        raise ValidationError({"until": "'until' needs a time zone (times are UTC)."})
    pct = clean["tax_percentage"]
    conditions, params = ["true"], {}
    if until is not None:
        conditions.append("c.call_start < :until")
        params["until"] = until
    if customer_id is not None:
        conditions.append("c.customer_id = :customer_id")
        params["customer_id"] = customer_id
    where = " AND ".join(conditions)
    posted, calls, total, skipped = [], 0, Decimal("0.00"), []
    with db.transaction() as s:
        # One posting at a time: two at once would both see the same calls as not yet charged.
        s.execute(text("SELECT pg_advisory_xact_lock(hashtext('omnidesk_post_rated_calls'))"))
        groups = s.execute(text(_UNPOSTED_GROUPS.format(where=where)), params).all()
        customers = {c.id: c for c in s.scalars(select(Customer).where(Customer.id.in_({g.customer_id for g in groups})))}
        for g in groups:
            customer = customers[g.customer_id]
            label = f"{customer.name} ({customer.id}), {g.month:%Y-%m}"
            if customer.archived_at is not None:
                skipped.append(f"{label}: the customer is archived.")
                continue
            if g.currency != customer.currency:
                skipped.append(f"{label}: the calls are priced in {g.currency} but the customer is billed in "
                               f"{customer.currency}; put the customer on a {customer.currency} rate plan and re-rate.")
                continue
            amount = billing_rules.round_half_up(Decimal(g.cost))
            if amount <= 0:
                skipped.append(f"{label}: {g.calls} calls cost less than a cent so far.")
                continue
            minutes = Decimal(g.seconds) / 60
            t = BillingTransaction(
                customer_id=customer.id, kind="charge",
                title=f"Calls {g.first_day:%d %b} – {g.last_day:%d %b %Y}"[:200],
                description=f"{g.calls:,} rated calls, {minutes:,.1f} billable minutes",
                retail_cost=amount, tax_percentage=pct, tax_amount=billing_rules.tax_amount(amount, pct),
                transaction_date=g.last_day,
            )
            s.add(t)
            flush_or_refuse(s)
            linked = s.execute(text(_LINK_GROUP.format(where=where)),
                               dict(params, transaction_id=t.id, group_customer=customer.id,
                                    group_currency=g.currency, group_month=g.month)).rowcount
            if linked != g.calls:  # the advisory lock makes this impossible short of a bug; never bill unlinked calls
                raise ServiceError(f"Posting calls for {label} linked {linked} of {g.calls} calls; nothing was posted.")
            activity.record(s, actor, action="post_calls", entity_type="transaction", entity_id=t.id,
                            customer_id=customer.id,
                            summary=f"Charge {t.id}: {g.calls:,} rated calls {g.first_day} to {g.last_day}, "
                                    f"{billing_rules.money(amount, customer.currency)}",
                            changes={"calls": g.calls, "retail_cost": amount, "tax_percentage": pct})
            posted.append(t.id)
            calls += g.calls
            total += amount
    return PostingReport(tuple(posted), calls, total, tuple(skipped))

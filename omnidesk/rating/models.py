"""Rate plan, prefix rate, customer's plan and call detail record (CDR) tables; migration 0006 creates them.

A CDR's price lives in `cdr_rating` (plan, matched prefix, rate, billable seconds, cost, when); a
call without a rating row is unrated, so it can never pass for a free one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.db.models import Base, _created, _in, _modified
from omnidesk.rating.rules import DISPOSITIONS, NUMBER_MAX, PREFIX_MAX

# Digits compare byte-wise whatever the server's collation, so prefix matching and sorting agree.
DIGITS_PREFIX = String(PREFIX_MAX, collation="C")
DIGITS_NUMBER = String(NUMBER_MAX, collation="C")
RATE = Numeric(12, 6)  # per minute, in the plan's currency
COST = Numeric(14, 4)  # DECISIONS: cost rounded half-up to 4 decimals


class RatePlan(Base):
    """A price list: per-minute rates by destination prefix, with its billing increment and minimum."""

    __tablename__ = "rate_plan"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    billing_increment: Mapped[int] = mapped_column(Integer)  # seconds; 6 = six-second increments
    minimum_duration: Mapped[int] = mapped_column(Integer, server_default="0")  # seconds
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _modified()
    __table_args__ = (
        CheckConstraint("length(name) BETWEEN 1 AND 100 AND name = btrim(name)", name="name_trimmed"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_code"),
        CheckConstraint("billing_increment BETWEEN 1 AND 3600", name="billing_increment_range"),
        CheckConstraint("minimum_duration BETWEEN 0 AND 3600", name="minimum_duration_range"),
    )


class PrefixRate(Base):
    """One destination prefix's per-minute rate from a date on; a later date replaces it from then."""

    __tablename__ = "rate_plan_rate"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    rate_plan_id: Mapped[int] = mapped_column(ForeignKey("rate_plan.id", ondelete="CASCADE"))
    prefix: Mapped[str] = mapped_column(DIGITS_PREFIX)
    # In force from 00:00 UTC of this day; 1970-01-01 when the rate sheet gave no date.
    effective_date: Mapped[dt.date] = mapped_column(Date)
    rate: Mapped[Decimal] = mapped_column(RATE)
    description: Mapped[str] = mapped_column(String(200), server_default="")
    created_at: Mapped[dt.datetime] = _created()
    __table_args__ = (
        # Also the index rating probes: (plan, prefix) equality, then the latest date in force.
        UniqueConstraint("rate_plan_id", "prefix", "effective_date"),
        CheckConstraint(f"prefix ~ '^[0-9]{{1,{PREFIX_MAX}}}$'", name="prefix_digits"),
        CheckConstraint("rate >= 0", name="rate_not_negative"),
    )


class CustomerRatePlan(Base):
    """Which plan rates a customer's calls (customers without one use the plan named when rating)."""

    __tablename__ = "customer_rate_plan"
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    rate_plan_id: Mapped[int] = mapped_column(ForeignKey("rate_plan.id"), index=True)
    assigned_at: Mapped[dt.datetime] = _created()


class CallDetailRecord(Base):
    """One call as the switch reported it. Once rated, a CallRating row says what it costs."""

    __tablename__ = "cdr"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # The switch's own identifier where the file has one: importing the same file twice is refused.
    call_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    call_start: Mapped[dt.datetime]
    caller: Mapped[str] = mapped_column(String(64), server_default="")
    called_number: Mapped[str] = mapped_column(DIGITS_NUMBER)  # digits only, no + or 00
    duration_seconds: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    disposition: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(200), server_default="")
    imported_at: Mapped[dt.datetime] = _created()
    __table_args__ = (
        CheckConstraint(f"called_number ~ '^[0-9]{{1,{NUMBER_MAX}}}$'", name="called_number_digits"),
        CheckConstraint("duration_seconds BETWEEN 0 AND 864000", name="duration_range"),
        CheckConstraint(_in("disposition", DISPOSITIONS), name="disposition"),
        Index("ix_cdr_call_start", "call_start"),
        Index("ix_cdr_customer_id_call_start", "customer_id", "call_start"),
    )


class CallRating(Base):
    """What a call costs under the plan that rated it. A call without one is unrated — never free.

    A table of its own rather than columns of `cdr`: rating a million calls is then an INSERT of
    narrow rows (and re-rating a DELETE and INSERT) instead of rewriting every CDR and its indexes,
    which measured twice as slow.
    """

    __tablename__ = "cdr_rating"
    cdr_id: Mapped[int] = mapped_column(ForeignKey("cdr.id", ondelete="CASCADE"), primary_key=True)
    # References rate_plan through migration 0006's statement triggers rather than a FOREIGN KEY: the
    # same refusals (no such plan; a plan with priced calls cannot be deleted) and the same lock, taken
    # once per plan a statement names instead of once per call (1M calls: 4-5 s saved).
    rate_plan_id: Mapped[int] = mapped_column(Integer)
    matched_prefix: Mapped[str] = mapped_column(DIGITS_PREFIX)
    rate: Mapped[Decimal] = mapped_column(RATE)
    billable_seconds: Mapped[int] = mapped_column(Integer)
    cost: Mapped[Decimal] = mapped_column(COST)
    rated_at: Mapped[dt.datetime] = _created()
    __table_args__ = (
        CheckConstraint("billable_seconds >= 0", name="billable_not_negative"),
        CheckConstraint("cost >= 0", name="cost_not_negative"),
    )


class CallCharge(Base):
    """Which billing transaction charged a rated call (migration 0011): posting rated calls twice never
    bills them twice. A call whose charge was voided counts as not posted and may be posted again."""

    __tablename__ = "cdr_charge"
    cdr_id: Mapped[int] = mapped_column(ForeignKey("cdr.id", ondelete="CASCADE"), primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("billing_transaction.id"), index=True)
    posted_at: Mapped[dt.datetime] = _created()

"""Rating rules in plain Python: field checks for rate sheets and CDRs, and the price of one call.

DECISIONS ("Money and billing"): the longest matching prefix wins; billable = max(minimum_duration,
ceil(duration / increment) × increment); cost = billable / 60 × rate per minute, rounded half-up to
4 decimals; a rate applies from its effective_date. The database does the same arithmetic in bulk
(omnidesk/rating/engine.py); tests hold the two to each other.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from omnidesk.customers.rules import FieldError

PREFIX_MAX = 16
NUMBER_MAX = 32
RATE_DECIMALS = 6
COST_QUANTUM = Decimal("0.0001")
# A rate sheet without dates applies from the beginning (stored as this day).
ALWAYS = dt.date(1970, 1, 1)
# What a switch reports about a call; only answered calls are charged.
DISPOSITIONS = (
    "answered", "no_answer", "busy", "failed", "congestion", "cancelled",
    "no_credit", "no_route", "carrier_reject", "invalid_number",
)
# Spellings switches use → the disposition; the values are the tuple's own strings, so a million
# imported calls share ten strings instead of holding one each.
_DISPOSITION_SPELLINGS = {d: d for d in DISPOSITIONS} | {
    "noanswer": "no_answer", "canceled": "cancelled", "congested": "congestion"}
_TRUE = ("1", "true", "yes", "y", "t")
_FALSE = ("0", "false", "no", "n", "f")
_NUMBER_SEPARATORS = re.compile(r"[\s\-().]")
_DIGITS = re.compile(r"[0-9]+")


def prefix(value: str | None) -> str:
    """A destination prefix: digits only (a leading + is dropped), 1 to 16 of them."""
    text = (value or "").strip()
    if not text:
        raise FieldError("prefix is missing")
    digits = text[1:] if text.startswith("+") else text
    if not _DIGITS.fullmatch(digits):
        raise FieldError(f"prefix {text!r} must be digits only, such as 44 or 2348")
    if len(digits) > PREFIX_MAX:
        raise FieldError(f"prefix {text!r} has {len(digits)} digits, at most {PREFIX_MAX}")
    return digits


def rate(value: str | None) -> Decimal:
    """A per-minute rate: a number, not negative, at most 6 decimals."""
    text = (value or "").strip()
    if not text:
        raise FieldError("rate is missing")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise FieldError(f"rate {text!r} is not a number; write it like 0.015") from None
    if not amount.is_finite():
        raise FieldError(f"rate {text!r} is not a number; write it like 0.015")
    if amount < 0:
        raise FieldError(f"rate {text} is negative")
    if amount >= 1_000_000:
        raise FieldError(f"rate {text} is too large (at most 999999.999999 per minute)")
    if amount != amount.quantize(Decimal(1).scaleb(-RATE_DECIMALS)):
        raise FieldError(f"rate {text} has more than {RATE_DECIMALS} decimal places")
    return amount


def description(value: str | None) -> str:
    text = (value or "").strip()
    if len(text) > 200:
        raise FieldError(f"description is {len(text)} characters, at most 200")
    return text


def effective_date(value: str | None, default: dt.date) -> dt.date:
    text = (value or "").strip()
    if not text:
        return default
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise FieldError(f"effective date {text!r} is not a date in the form 2026-01-31") from None


def plan_name(value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        raise FieldError("Rate plan name is required.")
    if len(text) > 100:
        raise FieldError(f"Rate plan name is too long: {len(text)} characters, at most 100.")
    return text


def seconds(value, label: str, minimum: int, maximum: int) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise FieldError(f"{label} must be a whole number of seconds; got {value!r}.") from None
    if not minimum <= number <= maximum:
        raise FieldError(f"{label} must be between {minimum} and {maximum} seconds; got {number}.")
    return number


def called_number(value: str | None) -> str:
    """The dialled number as digits: spaces and dashes dropped, a leading + or 00 (international) removed."""
    text = (value or "").strip()
    if not text:
        raise FieldError("called number is missing")
    compact = _NUMBER_SEPARATORS.sub("", text)
    if compact.startswith("+"):
        compact = compact[1:]
    elif compact.startswith("00"):
        compact = compact[2:]
    if not _DIGITS.fullmatch(compact):
        raise FieldError(f"called number {text!r} must be digits (optionally starting with + or 00)")
    if len(compact) > NUMBER_MAX:
        raise FieldError(f"called number {text!r} has {len(compact)} digits, at most {NUMBER_MAX}")
    return compact


def call_start(value: str | None) -> dt.datetime:
    """ISO 8601 date and time; without a UTC offset it is taken as UTC."""
    text = (value or "").strip()
    if not text:
        raise FieldError("call start is missing")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise FieldError(f"call start {text!r} is not a date and time such as 2026-01-31 14:05:00") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def duration(value: str | None) -> int:
    text = (value or "").strip()
    if not text:
        raise FieldError("duration is missing")
    try:
        number = int(text)
    except ValueError:
        try:
            exact = Decimal(text)
        except InvalidOperation:
            exact = None
        if exact is None or not exact.is_finite() or exact != exact.to_integral_value():
            raise FieldError(f"duration {text!r} must be a whole number of seconds") from None
        number = int(exact)
    if number < 0:
        raise FieldError(f"duration {text} is negative")
    if number > 864000:
        raise FieldError(f"duration {text} is over ten days")
    return number


def disposition(value: str | None) -> str:
    found = _DISPOSITION_SPELLINGS.get(re.sub(r"[\s-]+", "_", (value or "").strip().lower()))
    if found is None:
        raise FieldError(f"disposition {value!r} is not one of {', '.join(DISPOSITIONS)}")
    return found


def answered(value: str | None) -> str:
    """An `answered` yes/no column as a disposition."""
    text = (value or "").strip().lower()
    if text in _TRUE:
        return "answered"
    if text in _FALSE:
        return "no_answer"
    raise FieldError(f"answered {value!r} must be yes or no (or true/false, 1/0)")


def is_charged(disposition_: str, duration_seconds: int) -> bool:
    """Only an answered call that lasted is charged; an unanswered one costs nothing, not the minimum."""
    return disposition_ == "answered" and duration_seconds > 0


def billable_seconds(duration_seconds: int, increment: int, minimum: int) -> int:
    """max(minimum_duration, ceil(duration / increment) × increment)."""
    return max(minimum, -(-duration_seconds // increment) * increment)


def call_cost(billable: int, rate_per_minute: Decimal) -> Decimal:
    """billable / 60 × rate, rounded half-up to 4 decimals (exact: the product is divided once)."""
    return (Decimal(billable) * rate_per_minute / 60).quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)

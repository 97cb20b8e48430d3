"""Customer rules in plain Python: field validation, status transitions, tag windows.

Dialogs call these on every keystroke for inline messages; the service calls them again before
writing, and the database constraints repeat the essentials for scripts that skip both.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

import email_validator
from openlocationcode import openlocationcode as olc

from omnidesk.errors import ValidationError
from omnidesk.db.models import ACCOUNT_TYPES, CONTACT_TYPES, PAYMENT_TYPES

NAME_MAX = 200
CONTACT_NAME_MAX = 100
SITE_NAME_MAX = 120
ATTRIBUTE_KEY_MAX = 64
ATTRIBUTE_VALUE_MAX = 150
TAG_TEXT_MAX = 60
DEFAULT_TAG_END = dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc)

# pending (awaiting KYC approval) -> active <-> suspended -> closed; closed is final.
ALLOWED_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "pending": ("active",),
    "active": ("suspended", "closed"),
    "suspended": ("active", "closed"),
    "closed": (),
}
STATUS_ACTIONS = {"active": "Activate", "suspended": "Suspend", "closed": "Close"}

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_HEX = re.compile(r"^[0-9A-F]{6}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class FieldError(ValueError):
    """One field's value is unusable; str(error) is the message shown beside the field."""


def validate_all(checks: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run every field check, collecting all messages before refusing, so a form shows them all.
    Returns {field: clean value}; raises ValidationError({field: message}) if any check failed."""
    values, errors = {}, {}
    for name, check in checks.items():
        try:
            values[name] = check()
        except FieldError as exc:
            errors[name] = str(exc)
    if errors:
        raise ValidationError(errors)
    return values


def required_text(value: str | None, label: str, maximum: int) -> str:
    text = (value or "").strip()
    if not text:
        raise FieldError(f"{label} is required.")
    if len(text) > maximum:
        raise FieldError(f"{label} is too long: {len(text)} characters, at most {maximum}.")
    return text


def optional_text(value: str | None, label: str, maximum: int) -> str:
    text = (value or "").strip()
    if len(text) > maximum:
        raise FieldError(f"{label} is too long: {len(text)} characters, at most {maximum}.")
    return text


def customer_name(value: str | None) -> str:
    return required_text(value, "Customer name", NAME_MAX)


def choice(value: str | None, label: str, options: tuple[str, ...]) -> str:
    v = (value or "").strip().lower()
    if v not in options:
        raise FieldError(f"{label} must be one of {', '.join(options)}; got {value!r}.")
    return v


def account_type(value: str | None) -> str:
    return choice(value, "Account type", ACCOUNT_TYPES)


def payment_type(value: str | None) -> str:
    return choice(value, "Payment type", PAYMENT_TYPES)


def contact_type(value: str | None) -> str:
    return choice(value, "Contact type", CONTACT_TYPES)


def currency(value: str | None) -> str:
    v = (value or "").strip().upper()
    if not _CURRENCY.match(v):
        raise FieldError(f"Currency must be a three-letter ISO 4217 code such as GBP or USD; got {value!r}.")
    return v


def money(value, label: str, *, minimum: Decimal | None = Decimal("0")) -> Decimal:
    try:
        amount = Decimal(str(value).strip().replace(",", "")) if value not in (None, "") else Decimal("0")
    except InvalidOperation:
        raise FieldError(f"{label} must be an amount such as 1500.00; got {value!r}.") from None
    if not amount.is_finite():
        raise FieldError(f"{label} must be a finite amount.")
    if amount != amount.quantize(Decimal("0.01")):
        raise FieldError(f"{label} has more than two decimal places: {value}.")
    if minimum is not None and amount < minimum:
        raise FieldError(f"{label} cannot be negative.")
    if abs(amount) >= Decimal("1e12"):
        raise FieldError(f"{label} is too large.")
    return amount.quantize(Decimal("0.01"))


def email(value: str | None, *, required: bool = False) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise FieldError("E-mail is required.")
        return None
    try:
        result = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise FieldError(f"{text!r} is not a valid e-mail address: {exc}") from None
    return result.normalized


def phone(value: str | None, *, required: bool = False) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise FieldError("Phone is required.")
        return None
    compact = _PHONE_SEPARATORS.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _E164.match(compact):
        raise FieldError(
            f"{text!r} is not an international phone number; write it in E.164 form with the country code, "
            "e.g. +447700900123."
        )
    return compact


def date_range(start: dt.date | None, end: dt.date | None, label: str) -> None:
    if start and end and end < start:
        raise FieldError(f"{label} ends ({end.isoformat()}) before it starts ({start.isoformat()}).")


def attribute_key(value: str | None) -> str:
    key = (value or "").strip()
    if not key:
        raise FieldError("Attribute name is required.")
    if len(key) > ATTRIBUTE_KEY_MAX:
        raise FieldError(f"Attribute name is too long: {len(key)} characters, at most {ATTRIBUTE_KEY_MAX}.")
    if not _SNAKE.match(key):
        suggestion = re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")
        hint = f" such as {suggestion!r}" if suggestion and _SNAKE.match(suggestion) else ""
        raise FieldError(
            f"Attribute name {key!r} must be lowercase snake_case (letters, digits and single underscores, "
            f"starting with a letter){hint}."
        )
    return key


def attribute_value(value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        raise FieldError("Attribute value is required.")
    if len(text) > ATTRIBUTE_VALUE_MAX:
        raise FieldError(
            f"Attribute value is {len(text)} characters; at most {ATTRIBUTE_VALUE_MAX}. Put longer text in the notes."
        )
    if text in ("True", "TRUE", "False", "FALSE"):
        return text.lower()  # booleans are stored as lowercase "true"/"false"
    return text


def tag_colour(value: str | None) -> str:
    v = (value or "").strip().lstrip("#").upper()
    if not v:
        raise FieldError("Tag colour is required.")
    if not _HEX.match(v):
        raise FieldError(f"Tag colour must be six hexadecimal digits such as FFD700; got {value!r}.")
    return v


def tag_link(value: str | None) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    if not re.match(r"^https?://[^\s/$.?#][^\s]*$", text, re.IGNORECASE):
        raise FieldError(f"Tag link must be a web address starting with http:// or https://; got {text!r}.")
    if len(text) > 500:
        raise FieldError("Tag link is too long: at most 500 characters.")
    return text


def tag_window(active_from: dt.datetime | None, deactivate_at: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    start = active_from or dt.datetime.now(dt.timezone.utc)
    end = deactivate_at or DEFAULT_TAG_END
    if start.tzinfo is None or end.tzinfo is None:
        raise FieldError("Tag dates need a time zone.")
    if end <= start:
        raise FieldError("A tag must be deactivated after it becomes active.")
    return start, end


def tag_state(active_from: dt.datetime, deactivate_at: dt.datetime, now: dt.datetime | None = None) -> str:
    """scheduled (not yet shown), active (shown as a pill) or expired (hidden)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if now < active_from:
        return "scheduled"
    return "active" if now < deactivate_at else "expired"


def coordinate(value, label: str, limit: int) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise FieldError(f"{label} must be a number of degrees such as 51.5074; got {value!r}.") from None
    if not number.is_finite() or not -limit <= number <= limit:
        raise FieldError(f"{label} must be between -{limit} and {limit} degrees; got {value}.")
    return number.quantize(Decimal("0.000001"))


def coordinates(latitude, longitude) -> tuple[Decimal | None, Decimal | None]:
    lat = coordinate(latitude, "Latitude", 90)
    lng = coordinate(longitude, "Longitude", 180)
    if (lat is None) != (lng is None):
        raise FieldError("Give both latitude and longitude, or neither.")
    return lat, lng


def plus_code(latitude: Decimal | None, longitude: Decimal | None) -> str | None:
    """The 10-digit Open Location Code (11 characters with the '+') of a point, e.g. 9C3XGPHC+3Q."""
    if latitude is None or longitude is None:
        return None
    return olc.encode(float(latitude), float(longitude))


def country(value: str | None, default: str) -> str:
    v = (value or "").strip().upper() or default
    if not _COUNTRY.match(v):
        raise FieldError(f"Country must be a two-letter ISO 3166 code such as GB; got {value!r}.")
    return v


def transition_error(current: str, target: str) -> str | None:
    """None when `current` may become `target`, else the refusal message."""
    if target not in ALLOWED_TRANSITIONS:
        return f"{target!r} is not a customer status."
    if target == current:
        return f"The customer is already {current}."
    if target not in ALLOWED_TRANSITIONS[current]:
        allowed = ALLOWED_TRANSITIONS[current]
        then = f"; from {current} it can only become {' or '.join(allowed)}" if allowed else f"; {current} is final"
        article = "An" if current[0] in "aeiou" else "A"
        return f"{article} {current} customer cannot become {target}{then}."
    return None

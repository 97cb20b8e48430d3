"""Catalog rules in plain Python: product fields, eligibility, service statuses and badges.

The product editor calls these for inline messages; the service functions call them again before
writing, and the database CHECKs and triggers repeat the essentials.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from omnidesk.catalog.models import AUTO_RENEW, CATEGORIES
from omnidesk.customers.rules import FieldError

NAME_MAX = 200
SLUG_MAX = 100
FEATURE_MAX = 200
FEATURE_ADVICE = 50  # the source's best practice: each feature under 50 characters
EXPIRING_SOON_DAYS = 7
# Categories a new service is created from; addons and promotions attach to an existing service.
SERVICE_CATEGORIES = ("standalone", "bundle")

_SLUG = re.compile(r"^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$")
_SERVICE_TYPE = re.compile(r"^[a-z][a-z0-9-]*$")
_PLAY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")

# Service statuses: active ⇄ suspended; a cancellation waits in pending_cancellation (reversible)
# before deactivated, which is final; inactive (cancelled or expired) may be brought back.
SERVICE_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "active": ("suspended", "inactive", "pending_cancellation", "deactivated"),
    "suspended": ("active", "pending_cancellation", "deactivated"),
    "inactive": ("active", "deactivated"),
    "pending_cancellation": ("active", "deactivated"),
    "deactivated": (),
}
STATUS_LABELS = {
    "active": "Active", "inactive": "Inactive", "suspended": "Suspended",
    "pending_cancellation": "Pending Cancellation", "deactivated": "Deactivated",
}
STATUS_COLOURS = {
    "active": "green", "inactive": "gray", "suspended": "orange", "pending_cancellation": "orange", "deactivated": "gray",
}
LIVE_STATUSES = ("active", "suspended", "pending_cancellation")


def default_playbooks_dir() -> Path:
    """Where product playbooks live: OMNIDESK_PLAYBOOKS_DIR, else playbooks/ beside the package."""
    configured = os.environ.get("OMNIDESK_PLAYBOOKS_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "playbooks"


def product_name(value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        raise FieldError("Product name is required.")
    if len(text) > NAME_MAX:
        raise FieldError(f"Product name is too long: {len(text)} characters, at most {NAME_MAX}.")
    return text


def slug(value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        raise FieldError("Slug is required.")
    if len(text) > SLUG_MAX:
        raise FieldError(f"Slug is too long: {len(text)} characters, at most {SLUG_MAX}.")
    if not _SLUG.match(text):
        suggestion = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")
        hint = f", such as {suggestion!r}" if suggestion and _SLUG.match(suggestion) else ""
        raise FieldError(f"Slug {text!r} may hold only letters, digits and single hyphens (no spaces){hint}.")
    return text


def slug_from(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:SLUG_MAX] or "product"


def category(value: str | None) -> str:
    v = (value or "").strip().lower()
    if v not in CATEGORIES:
        raise FieldError(f"Category must be one of {', '.join(CATEGORIES)}; got {value!r}.")
    return v


def service_type(value: str | None) -> str:
    v = (value or "").strip().lower()
    if not v:
        raise FieldError("Service type is required (e.g. mobile, fixed, internet, voip).")
    if len(v) > 40 or not _SERVICE_TYPE.match(v):
        raise FieldError(f"Service type {value!r} must be a lowercase word such as mobile or fixed-voice.")
    return v


def tax_percentage(value) -> Decimal:
    try:
        rate = Decimal(str(value).strip().rstrip("%")) if value not in (None, "") else Decimal("0")
    except InvalidOperation:
        raise FieldError(f"Tax must be a percentage such as 10 or 12.5; got {value!r}.") from None
    if not rate.is_finite() or not 0 <= rate <= 100:
        raise FieldError(f"Tax must be between 0 and 100 percent; got {value}.")
    if rate != rate.quantize(Decimal("0.001")):
        raise FieldError(f"Tax has more than three decimal places: {value}.")
    return rate.quantize(Decimal("0.001"))


def contract_days(value) -> int:
    try:
        days = int(str(value).strip()) if value not in (None, "") else 0
    except ValueError:
        raise FieldError(f"Contract days must be a whole number of days (30, 365, 0 for none); got {value!r}.") from None
    if not 0 <= days <= 3660:
        raise FieldError(f"Contract days must be between 0 and 3660; got {days}.")
    return days


def auto_renew(value) -> str:
    """'prompt', 'true' or 'false' (the editor shows Prompt / Yes / No)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    v = str(value or "").strip().lower()
    v = {"yes": "true", "no": "false", "ask": "prompt"}.get(v, v)
    if v not in AUTO_RENEW:
        raise FieldError(f"Auto renew must be Prompt, Yes or No; got {value!r}.")
    return v


def renews_automatically(value) -> bool:
    """The playbooks' reading of auto_renew: only 'true', '1' and 'yes' (any case) renew."""
    return str(value).strip().lower() in ("true", "1", "yes")


def features(value) -> list[str]:
    """A list, a Python-list string "['5GB data', 'Valid 7 days']", or sentences "5GB data. Valid 7 days"."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise FieldError(
                    "Features look like a list but are not valid: write them as ['First feature', 'Second feature'] "
                    "or as sentences separated by '. '."
                ) from None
            if not isinstance(parsed, list) or not all(isinstance(f, str) for f in parsed):
                raise FieldError("Features must be a list of texts.")
            items = parsed
        else:
            items = re.split(r"\.\s+", text.rstrip("."))
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise FieldError("Features must be a list of texts.")
    cleaned = [str(f).strip() for f in items if str(f).strip()]
    for f in cleaned:
        if len(f) > FEATURE_MAX:
            raise FieldError(f"Feature {f[:30]!r}… is {len(f)} characters; keep each under {FEATURE_ADVICE}.")
    return cleaned


def json_vars(value) -> dict:
    """Playbook variables: a JSON object (text or dict); empty means {}. Refused with the parser's position."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise FieldError(f"Provisioning variables are not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from None
    else:
        parsed = value
        try:
            json.dumps(parsed)
        except (TypeError, ValueError) as exc:
            raise FieldError(f"Provisioning variables cannot be stored as JSON: {exc}.") from None
    if not isinstance(parsed, dict):
        raise FieldError('Provisioning variables must be a JSON object such as {"days": 30, "data_gb": 20}.')
    return parsed


def playbook(value: str | None, playbooks_dir: Path) -> str | None:
    """A playbook name without .yaml that exists in playbooks_dir; None when the product has none."""
    name = (value or "").strip()
    if not name:
        return None
    for suffix in (".yaml", ".yml"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if len(name) > 100 or not _PLAY.match(name):
        raise FieldError(f"Playbook {value!r} must be a file name without folder or .yaml, such as play_local_mobile_sim.")
    if not any((playbooks_dir / f"{name}{suffix}").is_file() for suffix in (".yaml", ".yml")):
        raise FieldError(f"There is no playbook {name} in {playbooks_dir} (looked for {name}.yaml and {name}.yml).")
    return name


def name_list(value, label: str) -> list[str]:
    """A list of names, or the source's list string "['SIM Card', 'Mobile Number']"; "[]" is empty."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise FieldError(f"{label} must be a list such as ['SIM Card', 'Mobile Number']; {text!r} is not one "
                             "(check the quotes).") from None
        if isinstance(parsed, str):
            parsed = [parsed]
        if not isinstance(parsed, (list, tuple)):
            raise FieldError(f"{label} must be a list such as ['SIM Card', 'Mobile Number'].")
        value = parsed
    items = [str(v).strip() if not isinstance(v, int) else str(v) for v in value]
    if any(not v for v in items):
        raise FieldError(f"{label} has an empty entry.")
    return items


def inventory_types(value) -> list[str]:
    names = name_list(value, "Inventory items")
    seen = set()
    for n in names:
        if n in seen:
            raise FieldError(f"Inventory items names {n!r} twice; use distinct templates (e.g. 'Primary SIM Card' "
                             "and 'Secondary SIM Card') or one template for the kit.")
        seen.add(n)
    return names


def relies_on(value) -> list[str]:
    """Product ids or service types an addon needs on the service it is added to."""
    entries = name_list(value, "Relies on")
    for e in entries:
        if not e.isdigit() and not _SERVICE_TYPE.match(e):
            raise FieldError(f"Relies on entries are product ids or service types; {e!r} is neither.")
    return list(dict.fromkeys(entries))


def availability(start: dt.datetime | None, end: dt.datetime | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    for value, label in ((start, "Available from"), (end, "Available until")):
        if value is not None and (not isinstance(value, dt.datetime) or value.tzinfo is None):
            raise FieldError(f"{label} needs a date and time with a time zone.")
    if start and end and end <= start:
        raise FieldError(f"The product stops being available ({end:%Y-%m-%d %H:%M}) before it starts ({start:%Y-%m-%d %H:%M}).")
    return start, end


# --- eligibility ---


def available_at(enabled: bool, start: dt.datetime | None, end: dt.datetime | None, at: dt.datetime) -> bool:
    """Orderable: enabled, and `at` inside the window (empty from = immediately, empty until = indefinitely)."""
    return enabled and (start is None or start <= at) and (end is None or at < end)


def fits_customer_type(residential: bool, business: bool, account_type: str) -> bool:
    """Individuals see products that are residential or not business (the source's filter, so a product
    with both flags off still shows to individuals); businesses see business products."""
    if account_type == "business":
        return business
    return residential or not business


def addon_fits(category_: str, addon_service_type: str, relies: list[str], service_type_: str, service_product_id: int | None) -> bool:
    """An addon fits a service of the same type whose product or type it relies on (nothing listed = any)."""
    if category_ != "addon" or addon_service_type != service_type_:
        return False
    if not relies:
        return True
    return service_type_ in relies or (service_product_id is not None and str(service_product_id) in relies)


@dataclass(frozen=True)
class Margin:
    profit: Decimal
    markup_percent: Decimal | None  # (retail − wholesale) / wholesale
    margin_percent: Decimal | None  # (retail − wholesale) / retail


def margin(retail: Decimal, wholesale: Decimal) -> Margin:
    """Retail 15.00 / wholesale 5.00 → profit 10.00, markup 200 %, margin 67 %."""
    profit = retail - wholesale

    def pct(x: Decimal) -> Decimal:
        return (x * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP)

    return Margin(profit, pct(profit / wholesale) if wholesale else None, pct(profit / retail) if retail else None)


# --- services ---


def service_transition_error(current: str, target: str) -> str | None:
    if target not in SERVICE_TRANSITIONS:
        return f"{target!r} is not a service status."
    if target == current:
        return f"The service is already {STATUS_LABELS[current]}."
    if target not in SERVICE_TRANSITIONS[current]:
        allowed = SERVICE_TRANSITIONS[current]
        then = (f"; from {STATUS_LABELS[current]} it can only become {' or '.join(STATUS_LABELS[s] for s in allowed)}"
                if allowed else f"; {STATUS_LABELS[current]} is final")
        return f"A {STATUS_LABELS[current]} service cannot become {STATUS_LABELS[target]}{then}."
    return None


def service_status(value: str | None) -> str:
    v = re.sub(r"[\s-]+", "_", (value or "").strip().lower())
    if v not in SERVICE_TRANSITIONS:
        raise FieldError(f"Service status must be one of {', '.join(STATUS_LABELS.values())}; got {value!r}.")
    return v


@dataclass(frozen=True)
class Badge:
    text: str
    colour: str


def service_badges(
    status: str, deactivate_date: dt.datetime | None, auto_renew: bool, now: dt.datetime,
    outstanding: Decimal | None = None,
) -> tuple[Badge, ...]:
    """Status, Auto-Renew, Expiring Soon (ends within 7 days) and Overdue (an outstanding balance)."""
    badges = [Badge(STATUS_LABELS.get(status, status), STATUS_COLOURS.get(status, "gray"))]
    if auto_renew and status in LIVE_STATUSES:
        badges.append(Badge("Auto-Renew", "blue"))
    if is_expiring_soon(status, deactivate_date, now):
        badges.append(Badge("Expiring Soon", "orange"))
    if outstanding is not None and outstanding > 0:
        badges.append(Badge("Overdue", "red"))
    return tuple(badges)


def is_expiring_soon(status: str, deactivate_date: dt.datetime | None, now: dt.datetime) -> bool:
    return (
        status in LIVE_STATUSES and deactivate_date is not None
        and now <= deactivate_date <= now + dt.timedelta(days=EXPIRING_SOON_DAYS)
    )


def relative(when: dt.datetime, now: dt.datetime) -> str:
    """'3 hours from now', '2 days ago': the Renews On column's relative half."""
    seconds = (when - now).total_seconds()
    future = seconds >= 0
    seconds = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"{text} from now" if future else f"{text} ago"
    return "now"

"""Inventory rules in plain Python: item states and their transitions, identifier formats, templates.

The service functions call these before writing; the migration repeats the transition table and
the essential constraints in the database (a trigger and CHECKs) for anything that skips Python.

States (DECISIONS "Inventory", seed 003 L2628-2636) are stored in snake_case and shown with the
seed's words ("Out Of Service"). The transitions are the seed's list (L2889-2895) plus what
DECISIONS adds and what the seed leaves open, each marked below:

- new → assigned, used → assigned  picking for a sale or provisioning (DECISIONS: New or Used stock)
- assigned → used                   service ended and the item came back, reusable
- assigned → new                    a release straight after picking (provisioning rolled back): the
                                    item was never in use, so it goes back to the state it came from
- new → internal_use                testing, demos, staff
- internal_use → used               [decided] back from internal use into stock as used
- assigned → damaged                failed in the field (RMA or disposal)
- damaged → new, used → new         refurbished or repaired
- any → lost, any → stolen          audit / security report
- lost → used, stolen → used        [decided] found or recovered (a rental returned after its 14-day
                                    grace, DECISIONS: "cancellation sends hardware to Used or, when
                                    not returned in 14 days, Lost")
- new, used, internal_use, assigned → out_of_service
                                    [decided; the seed defines the state, "temporarily unavailable",
                                    but no transitions] e.g. a number in its porting quarantine
- out_of_service → used, out_of_service → damaged
                                    [decided] back in stock after the pause, or found faulty
"""

from __future__ import annotations

import re
from decimal import Decimal

from omnidesk.customers.rules import FieldError, money

ITEM_STATES = ("new", "used", "internal_use", "assigned", "damaged", "out_of_service", "lost", "stolen")
STATE_LABELS = {
    "new": "New",
    "used": "Used",
    "internal_use": "Internal Use",
    "assigned": "Assigned",
    "damaged": "Damaged",
    "out_of_service": "Out Of Service",
    "lost": "Lost",
    "stolen": "Stolen",
}
# In stock and free to pick for a sale or a provisioning job.
STOCK_STATES = ("new", "used")

_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("assigned", "internal_use", "out_of_service"),
    "used": ("assigned", "new", "out_of_service"),
    "internal_use": ("used", "out_of_service"),
    "assigned": ("used", "new", "damaged", "out_of_service"),
    "damaged": ("new",),
    "out_of_service": ("used", "damaged"),
    "lost": ("used",),
    "stolen": ("used",),
}
ALLOWED_TRANSITIONS: dict[str, tuple[str, ...]] = {
    state: targets + tuple(t for t in ("lost", "stolen") if t != state and t not in targets)
    for state, targets in _TRANSITIONS.items()
}
ALLOWED_PAIRS = frozenset((a, b) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets)

ITEMTEXT_COUNT = 20
ITEMTEXT_MAX = 200
LABEL_MAX = 60
TEMPLATE_NAME_MAX = 100
DEFAULT_LABELS = {1: "Model Number", 2: "Serial Number"}
# A rental not returned this many days after its service ended is marked lost (DECISIONS).
RETURN_GRACE_DAYS = 14


def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state)


def item_state(value: str | None) -> str:
    """Accept 'Out Of Service', 'out of service' or 'out_of_service'."""
    v = re.sub(r"[\s-]+", "_", (value or "").strip().lower())
    if v not in ITEM_STATES:
        raise FieldError(
            f"Item state must be one of {', '.join(STATE_LABELS[s] for s in ITEM_STATES)}; got {value!r}."
        )
    return v


def transition_error(current: str, target: str) -> str | None:
    """None when an item in `current` may become `target`, else the refusal naming both states."""
    if target not in ITEM_STATES:
        return f"{target!r} is not an item state."
    if target == current:
        return f"The item is already {state_label(current)}."
    if (current, target) not in ALLOWED_PAIRS:
        allowed = " or ".join(state_label(s) for s in ALLOWED_TRANSITIONS[current])
        return (
            f"An item in state {state_label(current)} cannot become {state_label(target)}; "
            f"from {state_label(current)} it can only become {allowed}."
        )
    return None


# --- templates ---


def template_name(value: str | None) -> str:
    """Case is kept and matters: products reference templates by exact name ('SIM Card' ≠ 'sim card')."""
    text = (value or "").strip()
    if not text:
        raise FieldError("Template name is required.")
    if len(text) > TEMPLATE_NAME_MAX:
        raise FieldError(f"Template name is too long: {len(text)} characters, at most {TEMPLATE_NAME_MAX}.")
    return text


def label(value: str | None, number: int) -> str | None:
    text = (value or "").strip()
    if not text:
        if number in DEFAULT_LABELS:
            return DEFAULT_LABELS[number]
        return None
    if len(text) > LABEL_MAX:
        raise FieldError(f"Item Text {number} label is too long: {len(text)} characters, at most {LABEL_MAX}.")
    return text


def unique_fields(value, labels: dict[int, str | None]) -> list[int]:
    """The item text numbers whose values identify an item (unique within the template)."""
    numbers = sorted({int(v) for v in (value or [])})
    for n in numbers:
        if not 1 <= n <= ITEMTEXT_COUNT:
            raise FieldError(f"Identifier fields are item text numbers 1 to {ITEMTEXT_COUNT}; got {n}.")
        if not labels.get(n):
            raise FieldError(f"Item Text {n} has no label, so it cannot be an identifier field.")
    return numbers


def cost(value, label_text: str, default: Decimal | None = None) -> Decimal:
    if value in (None, "") and default is not None:
        return default
    if value in (None, ""):
        raise FieldError(f"{label_text} is required.")
    return money(value, label_text)


# --- identifiers: checked by the label of the field they are in ---


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_DIGITS = re.compile(r"^[0-9]+$")
_MAC = re.compile(r"^[0-9A-Fa-f]{2}([:-]?)[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}$")
_MSISDN = re.compile(r"^\+?[1-9][0-9]{6,14}$")


def iccid(value: str) -> str:
    """ITU-T E.118: 18-22 digits starting 89 (telecom), the last one a Luhn check digit."""
    v = value.replace(" ", "")
    if not _DIGITS.match(v) or not 18 <= len(v) <= 22:
        raise FieldError(f"ICCID {value!r} must be 18 to 22 digits.")
    if not v.startswith("89"):
        raise FieldError(f"ICCID {value!r} must start with 89 (the telecom industry prefix).")
    if not luhn_ok(v):
        raise FieldError(f"ICCID {value!r} fails its Luhn check digit (mistyped or truncated?).")
    return v


def imsi(value: str) -> str:
    v = value.replace(" ", "")
    if not _DIGITS.match(v) or not 14 <= len(v) <= 15:
        raise FieldError(f"IMSI {value!r} must be 14 or 15 digits (MCC, MNC and MSIN).")
    return v


def msisdn(value: str) -> str:
    v = re.sub(r"[\s\-()]", "", value)
    if v.startswith("00"):
        v = "+" + v[2:]
    if not _MSISDN.match(v):
        raise FieldError(f"Phone number {value!r} must be an international number such as +61412345678.")
    return v


def mac_address(value: str) -> str:
    v = value.strip()
    if not _MAC.match(v):
        raise FieldError(f"MAC address {value!r} must be six hexadecimal pairs such as AA:BB:CC:DD:EE:FF.")
    raw = re.sub(r"[:-]", "", v).upper()
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2))


# Label (case-insensitive) → check and normaliser. A template whose field is labelled "ICCID" gets
# the ICCID check whatever number the field has.
IDENTIFIER_CHECKS = {
    "iccid": iccid,
    "imsi": imsi,
    "msisdn": msisdn,
    "phone number": msisdn,
    "mac address": mac_address,
}


def itemtext(value, number: int, field_label: str | None) -> str | None:
    """Clean one item text value: trimmed, bounded, and format-checked when its label names an identifier."""
    text = ("" if value is None else str(value)).strip()
    if not text:
        if number == 1:
            raise FieldError(f"{field_label or 'Item Text 1'} is required.")
        return None
    if len(text) > ITEMTEXT_MAX:
        raise FieldError(f"{field_label or f'Item Text {number}'} is too long: {len(text)} characters, at most {ITEMTEXT_MAX}.")
    check = IDENTIFIER_CHECKS.get((field_label or "").strip().lower())
    return check(text) if check else text


def management_url(value: str | None) -> str | None:
    """A web address for the device, or an eSIM activation string (LPA:1$smdp.example.com$CODE)."""
    text = (value or "").strip()
    if not text:
        return None
    if len(text) > 2000:
        raise FieldError("Management URL is too long: at most 2000 characters.")
    if re.match(r"^https?://\S+$", text, re.IGNORECASE) or re.match(r"^LPA:1\$[^$\s]+\$\S*$", text):
        return text
    raise FieldError(
        f"Management URL must be a web address (https://192.168.1.1) or an eSIM LPA string "
        f"(LPA:1$smdp.example.com$ACTIVATION-CODE); got {text!r}."
    )


def is_web_url(value: str | None) -> bool:
    """Shown as a clickable link as well as a QR code (an LPA string is only a QR code)."""
    return bool(value) and re.match(r"^https?://", value, re.IGNORECASE) is not None

"""Money rules in plain Python: tax, pro-rata, invoice status, wallet-first split, display formats.

DECISIONS.md "Money and billing" is the authority; every amount is a Decimal with 2 places.
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from omnidesk.customers.rules import FieldError

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HOLD_DAYS = 7
MANUAL_METHODS = {"cash": "Cash", "pos": "POS", "bank_transfer": "Bank Transfer"}
CREDIT_TYPES = {"cash": "Cash", "card": "Card", "bank_transfer": "Bank Transfer"}
SYMBOLS = {"USD": "$", "AUD": "$", "NZD": "$", "CAD": "$", "GBP": "£", "EUR": "€", "JPY": "¥", "INR": "₹"}


def round_half_up(value: Decimal, places: int = 2) -> Decimal:
    return Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def tax_amount(retail_cost: Decimal, tax_percentage: Decimal) -> Decimal:
    """round_half_up(retail × pct / 100, 2): tax 10 % of 50.00 is 5.00."""
    return round_half_up(Decimal(retail_cost) * Decimal(tax_percentage) / 100)


def pro_rata(monthly: Decimal, on: dt.date) -> Decimal:
    """monthly × days_remaining / days_in_month, days counted inclusively from `on` to the month's end."""
    days_in_month = calendar.monthrange(on.year, on.month)[1]
    days_remaining = days_in_month - on.day + 1
    return round_half_up(Decimal(monthly) * days_remaining / days_in_month)


def invoice_status(total: Decimal, paid: Decimal) -> str:
    """unpaid (nothing paid), partially_paid, or paid (payments ≥ charges)."""
    if paid >= total:
        return "paid"
    return "partially_paid" if paid > 0 else "unpaid"


def wallet_first(amount: Decimal, wallet_balance: Decimal) -> tuple[Decimal, Decimal]:
    """(wallet portion, card portion): the wallet pays what it holds, the card the shortfall.
    $500 with $150 in the wallet → (150.00, 350.00)."""
    wallet = max(ZERO, min(Decimal(wallet_balance), Decimal(amount)))
    return round_half_up(wallet), round_half_up(Decimal(amount) - wallet)


def default_period(today: dt.date) -> tuple[dt.date, dt.date, dt.date]:
    """The Generate Invoice dialog's defaults: (start = today − 14 days, end = today, due = today)."""
    return today - dt.timedelta(days=14), today, today


def default_title(start: dt.date, end: dt.date) -> str:
    if start == end:
        return f"Invoice for {start:%d %b %Y}"
    return f"Invoice for {start:%d %b %Y} – {end:%d %b %Y}"


def symbol(currency: str) -> str:
    return SYMBOLS.get(currency, currency + " ")


def money(amount: Decimal, currency: str = "USD") -> str:
    """-10.00 GBP → '-£10.00'; thousands separated."""
    amount = round_half_up(Decimal(amount))
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol(currency)}{abs(amount):,.2f}"


def compact_money(amount: Decimal, currency: str = "USD") -> str:
    """The stats widgets' form: 1500 → '$1.5k', 2,300,000 → '$2.3M', 1,100,000,000 → '$1.1B'."""
    value = Decimal(amount)
    sign = "-" if value < 0 else ""
    value = abs(value)
    for size, suffix in ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "k")):
        if value >= size:
            shown = (value / size).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP).normalize()
            return f"{sign}{symbol(currency)}{shown:f}{suffix}"
    return f"{sign}{symbol(currency)}{value:,.2f}"


def tax_display(tax: Decimal, percentage: Decimal, currency: str = "USD") -> str:
    """'$5.00 (10%)', or '-' for no tax."""
    if not tax or tax <= 0:
        return "-"
    return f"{money(tax, currency)} ({Decimal(percentage).normalize():f}%)"


# --- field checks (the dialogs call these per keystroke; the services again before writing) ---


def positive_amount(value, label: str) -> Decimal:
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, AttributeError, TypeError):
        raise FieldError(f"{label} must be an amount such as 45.00.") from None
    if not amount.is_finite():
        raise FieldError(f"{label} must be an amount such as 45.00.")
    if amount <= 0:
        raise FieldError(f"{label} must be more than zero.")
    if amount != amount.quantize(CENT):
        raise FieldError(f"{label} has more than two decimals.")
    if amount >= Decimal("1e12"):
        raise FieldError(f"{label} is too large.")
    return amount.quantize(CENT)


def tax_percentage(value) -> Decimal:
    try:
        pct = Decimal(str(value).strip().rstrip("%"))
    except (InvalidOperation, AttributeError, TypeError):
        raise FieldError("Tax must be a percentage such as 10.") from None
    if not pct.is_finite() or pct < 0 or pct > 100:
        raise FieldError("Tax must be between 0 and 100 %.")
    if pct != pct.quantize(Decimal("0.001")):
        raise FieldError("Tax has more than three decimals.")
    return pct


def title(value) -> str:
    text = (value or "").strip()
    if not text:
        raise FieldError("A title is required.")
    if len(text) > 200:
        raise FieldError("Titles are at most 200 characters.")
    return text


def choice(value, options: dict[str, str], label: str) -> str:
    key = (value or "").strip().lower().replace(" ", "_")
    if key not in options:
        raise FieldError(f"{label} must be one of {', '.join(options.values())}.")
    return key


def currency_code(value) -> str:
    code = (value or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise FieldError("Currency must be a three-letter ISO code.")
    return code

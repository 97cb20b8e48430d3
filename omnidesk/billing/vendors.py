"""Payment vendors behind one interface: authorize, capture, release, charge, refund.

A vendor moves money; it knows nothing of invoices or wallets (omnidesk/billing/payments.py does).
Every call carries an idempotency key, so a retried call after a timeout returns the first call's
result instead of moving money twice. Card numbers never pass through here: a payment method is the
vendor's token (`pm_…`) from its hosted page.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Protocol

import httpx

from omnidesk.errors import ServiceError

# Currencies whose smallest unit is the unit itself (Stripe's list, the ones an operator may meet).
ZERO_DECIMAL = {"JPY", "KRW", "VND", "CLP", "XOF", "XAF"}


class VendorError(ServiceError):
    """The vendor refused or failed; no money moved (the caller writes nothing)."""


class PaymentDeclined(VendorError):
    """The card was declined (funds, fraud, expiry); the message is the vendor's, for the operator."""


class VendorUnavailable(VendorError):
    """The vendor could not be reached; retrying with the same idempotency key is safe."""


@dataclass(frozen=True)
class VendorResult:
    reference: str  # the vendor's id of the hold, charge or refund (pi_…, re_…)
    status: str
    amount: Decimal
    raw: dict = field(default_factory=dict)


class PaymentVendor(Protocol):
    name: str

    def authorize(self, *, amount: Decimal, currency: str, payment_method: str, customer: str | None,
                  idempotency_key: str, metadata: dict[str, str]) -> VendorResult: ...

    def capture(self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str) -> VendorResult: ...

    def release(self, *, reference: str, idempotency_key: str) -> VendorResult: ...

    def charge(self, *, amount: Decimal, currency: str, payment_method: str, customer: str | None,
               idempotency_key: str, metadata: dict[str, str]) -> VendorResult: ...

    def refund(self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str,
               reason: str = "requested_by_customer") -> VendorResult: ...


def minor_units(amount: Decimal, currency: str) -> int:
    return int(amount) if currency.upper() in ZERO_DECIMAL else int((amount * 100).to_integral_value())


def major_units(value: int, currency: str) -> Decimal:
    return Decimal(value) if currency.upper() in ZERO_DECIMAL else (Decimal(value) / 100).quantize(Decimal("0.01"))


class ManualVendor:
    """Staff-recorded card terminal payments: succeeds at once, remembers its answers per idempotency key."""

    name = "manual"

    def __init__(self) -> None:
        self._answers: dict[str, VendorResult] = {}

    def _once(self, key: str, make: Callable[[], VendorResult]) -> VendorResult:
        if key not in self._answers:
            self._answers[key] = make()
        return self._answers[key]

    def authorize(self, *, amount, currency, payment_method, customer, idempotency_key, metadata):
        return self._once(idempotency_key, lambda: VendorResult(f"man_auth_{uuid.uuid4().hex[:16]}", "authorized", amount))

    def capture(self, *, reference, amount, currency, idempotency_key):
        return self._once(idempotency_key, lambda: VendorResult(reference, "succeeded", amount))

    def release(self, *, reference, idempotency_key):
        return self._once(idempotency_key, lambda: VendorResult(reference, "released", Decimal("0")))

    def charge(self, *, amount, currency, payment_method, customer, idempotency_key, metadata):
        return self._once(idempotency_key, lambda: VendorResult(f"man_{uuid.uuid4().hex[:16]}", "succeeded", amount))

    def refund(self, *, reference, amount, currency, idempotency_key, reason="requested_by_customer"):
        return self._once(idempotency_key, lambda: VendorResult(f"man_re_{uuid.uuid4().hex[:16]}", "succeeded", amount))


class StripeVendor:
    """Stripe's REST API over httpx: PaymentIntents (capture_method=manual for holds), Refunds.

    Requests are form-encoded with `Authorization: Bearer sk_…` and an `Idempotency-Key` header, as
    Stripe documents; Stripe replays the first response for a repeated key."""

    name = "stripe"

    def __init__(self, api_key: str, *, base_url: str = "https://api.stripe.com",
                 transport: httpx.BaseTransport | None = None, timeout: float = 30.0):
        if not api_key.startswith(("sk_", "rk_")):
            raise VendorError("The Stripe secret key must start with sk_ (or rk_ for a restricted key).")
        self._client = httpx.Client(base_url=base_url, transport=transport, timeout=timeout,
                                    headers={"Authorization": f"Bearer {api_key}",
                                             "Stripe-Version": "2024-06-20"})

    def close(self) -> None:
        self._client.close()

    def _post(self, path: str, data: dict[str, Any], idempotency_key: str) -> dict:
        try:
            response = self._client.post(path, data=data, headers={"Idempotency-Key": idempotency_key})
        except httpx.TransportError as exc:
            raise VendorUnavailable(f"Stripe could not be reached ({exc.__class__.__name__}); nothing was charged. "
                                    "Try again.") from exc
        body = response.json() if response.content else {}
        if response.status_code >= 400:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            message = error.get("message") or f"Stripe answered HTTP {response.status_code}."
            if error.get("type") == "card_error":
                raise PaymentDeclined(f"Payment declined: {message}")
            if response.status_code >= 500:
                raise VendorUnavailable(f"Stripe failed ({message}); nothing was charged. Try again.")
            raise VendorError(f"Stripe refused the request: {message}")
        return body

    @staticmethod
    def _metadata(metadata: dict[str, str]) -> dict[str, str]:
        return {f"metadata[{k}]": str(v) for k, v in metadata.items()}

    def _intent(self, *, amount, currency, payment_method, customer, idempotency_key, metadata, manual: bool) -> dict:
        data = {"amount": minor_units(amount, currency), "currency": currency.lower(), "payment_method": payment_method,
                "confirm": "true", "off_session": "true", "capture_method": "manual" if manual else "automatic",
                **self._metadata(metadata)}
        if customer:
            data["customer"] = customer
        return self._post("/v1/payment_intents", data, idempotency_key)

    def authorize(self, *, amount, currency, payment_method, customer, idempotency_key, metadata):
        intent = self._intent(amount=amount, currency=currency, payment_method=payment_method, customer=customer,
                              idempotency_key=idempotency_key, metadata=metadata, manual=True)
        if intent.get("status") != "requires_capture":
            raise PaymentDeclined(f"Stripe did not hold the amount (PaymentIntent {intent.get('id')} is {intent.get('status')}).")
        return VendorResult(intent["id"], "authorized", major_units(intent["amount_capturable"], currency), intent)

    def capture(self, *, reference, amount, currency, idempotency_key):
        intent = self._post(f"/v1/payment_intents/{reference}/capture",
                            {"amount_to_capture": minor_units(amount, currency)}, idempotency_key)
        return VendorResult(intent["id"], intent["status"], major_units(intent["amount_received"], currency), intent)

    def release(self, *, reference, idempotency_key):
        intent = self._post(f"/v1/payment_intents/{reference}/cancel", {"cancellation_reason": "abandoned"},
                            idempotency_key)
        return VendorResult(intent["id"], "released", Decimal("0"), intent)

    def charge(self, *, amount, currency, payment_method, customer, idempotency_key, metadata):
        intent = self._intent(amount=amount, currency=currency, payment_method=payment_method, customer=customer,
                              idempotency_key=idempotency_key, metadata=metadata, manual=False)
        if intent.get("status") != "succeeded":
            raise PaymentDeclined(f"Payment not completed (PaymentIntent {intent.get('id')} is {intent.get('status')}).")
        return VendorResult(intent["id"], "succeeded", major_units(intent["amount_received"], currency), intent)

    def refund(self, *, reference, amount, currency, idempotency_key, reason="requested_by_customer"):
        refund = self._post("/v1/refunds", {"payment_intent": reference, "amount": minor_units(amount, currency),
                                            "reason": reason}, idempotency_key)
        if refund.get("status") not in ("succeeded", "pending"):
            raise VendorError(f"Stripe refund {refund.get('id')} is {refund.get('status')}.")
        return VendorResult(refund["id"], refund["status"], major_units(refund["amount"], currency), refund)


_factories: dict[str, Callable[[], PaymentVendor]] = {
    "manual": ManualVendor,
    # The secret key comes from the environment (the seed's STRIPE_SECRET_KEY) or the OS keyring, never the database.
    "stripe": lambda: StripeVendor(os.environ.get("STRIPE_SECRET_KEY", "")),
}


def register_vendor(name: str, factory: Callable[[], PaymentVendor]) -> None:
    """Add or replace a vendor (PayPal, Adyen… or a test double) without touching the payment code."""
    _factories[name] = factory


def vendor_named(name: str) -> PaymentVendor:
    if name not in _factories:
        raise VendorError(f"No payment vendor {name!r} is configured (known: {', '.join(sorted(_factories))}).")
    return _factories[name]()

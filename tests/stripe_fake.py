"""An HTTP-level fake of the Stripe API for tests, plugged into httpx as a MockTransport.

It speaks the wire format Stripe documents (https://docs.stripe.com/api): form-encoded POST bodies,
`Authorization: Bearer sk_test_…`, amounts in the currency's minor unit, lower-case currency codes,
PaymentIntent objects (`status` requires_capture / succeeded / canceled, `amount_capturable`,
`amount_received`, `latest_charge`), Refund objects, card errors as HTTP 402 with an `error` object,
and idempotency: a repeated `Idempotency-Key` gets the first response again with the header
`Idempotent-Replayed: true`. Test payment methods follow Stripe's test tokens: `pm_card_visa` succeeds,
`pm_card_chargeDeclined` is declined.
"""

from __future__ import annotations

import itertools
import json
import urllib.parse

import httpx

_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}_3Test{next(_ids):010d}"


class FakeStripe:
    def __init__(self, api_key: str = "sk_test_fake"):
        self.api_key = api_key
        self.intents: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.requests: list[httpx.Request] = []
        self.replies: dict[str, tuple[int, dict]] = {}
        self.money_moved = 0  # minor units actually captured/charged (refunds subtract)
        self.fail_next_with: int | None = None

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._error(401, "invalid_request_error", "Invalid API Key provided.")
        if self.fail_next_with:
            status, self.fail_next_with = self.fail_next_with, None
            return self._error(status, "api_error", "An unknown error occurred.")
        key = request.headers.get("idempotency-key")
        if key and key in self.replies:
            status, body = self.replies[key]
            return httpx.Response(status, json=body, headers={"Idempotent-Replayed": "true", "Idempotency-Key": key})
        form = dict(urllib.parse.parse_qsl(request.content.decode()))
        status, body = self._route(request.method, request.url.path, form)
        if key:
            self.replies[key] = (status, body)
        return httpx.Response(status, json=body, headers={"Idempotency-Key": key or "", "Request-Id": _id("req")})

    @staticmethod
    def _error(status: int, kind: str, message: str, **extra) -> httpx.Response:
        return httpx.Response(status, json={"error": {"type": kind, "message": message, **extra}})

    def _route(self, method: str, path: str, form: dict) -> tuple[int, dict]:
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["v1", "payment_intents"]:
            return self._create_intent(form)
        if method == "POST" and len(parts) == 4 and parts[:2] == ["v1", "payment_intents"]:
            intent = self.intents.get(parts[2])
            if intent is None:
                return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                       "message": f"No such payment_intent: '{parts[2]}'"}}
            return {"capture": self._capture, "cancel": self._cancel}[parts[3]](intent, form)
        if method == "POST" and parts == ["v1", "refunds"]:
            return self._refund(form)
        return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL ({method}: {path})"}}

    def _create_intent(self, form: dict) -> tuple[int, dict]:
        for field in ("amount", "currency"):
            if field not in form:
                return 400, {"error": {"type": "invalid_request_error", "code": "parameter_missing",
                                       "message": f"Missing required param: {field}.", "param": field}}
        amount = int(form["amount"])
        manual = form.get("capture_method") == "manual"
        intent = {
            "id": _id("pi"), "object": "payment_intent", "amount": amount, "currency": form["currency"],
            "capture_method": form.get("capture_method", "automatic"), "payment_method": form.get("payment_method"),
            "customer": form.get("customer"), "amount_capturable": 0, "amount_received": 0, "latest_charge": None,
            "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
            "status": "requires_confirmation",
        }
        self.intents[intent["id"]] = intent
        if form.get("confirm") == "true":
            if form.get("payment_method") == "pm_card_chargeDeclined":
                intent["status"] = "requires_payment_method"
                return 402, {"error": {"type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
                                       "message": "Your card was declined.", "payment_intent": intent}}
            if manual:
                intent.update(status="requires_capture", amount_capturable=amount)
            else:
                intent.update(status="succeeded", amount_received=amount, latest_charge=_id("ch"))
                self.money_moved += amount
        return 200, intent

    def _capture(self, intent: dict, form: dict) -> tuple[int, dict]:
        if intent["status"] != "requires_capture":
            return 400, {"error": {"type": "invalid_request_error", "code": "payment_intent_unexpected_state",
                                   "message": f"This PaymentIntent could not be captured because it has a status of "
                                              f"{intent['status']}."}}
        amount = int(form.get("amount_to_capture", intent["amount_capturable"]))
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0, latest_charge=_id("ch"))
        self.money_moved += amount
        return 200, intent

    def _cancel(self, intent: dict, form: dict) -> tuple[int, dict]:
        if intent["status"] in ("succeeded", "canceled"):
            return 400, {"error": {"type": "invalid_request_error", "code": "payment_intent_unexpected_state",
                                   "message": f"You cannot cancel this PaymentIntent because it has a status of "
                                              f"{intent['status']}."}}
        intent.update(status="canceled", amount_capturable=0, cancellation_reason=form.get("cancellation_reason"))
        return 200, intent

    def _refund(self, form: dict) -> tuple[int, dict]:
        intent = self.intents.get(form.get("payment_intent", ""))
        if intent is None or intent["status"] != "succeeded":
            return 400, {"error": {"type": "invalid_request_error", "code": "charge_not_refundable",
                                   "message": "This PaymentIntent has no successful charge to refund."}}
        amount = int(form.get("amount", intent["amount_received"]))
        already = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent["id"])
        if amount + already > intent["amount_received"]:
            return 400, {"error": {"type": "invalid_request_error", "code": "amount_too_large",
                                   "message": f"Refund amount ({amount}) is greater than unrefunded amount on charge."}}
        refund = {"id": _id("re"), "object": "refund", "amount": amount, "currency": intent["currency"],
                  "payment_intent": intent["id"], "charge": intent["latest_charge"], "status": "succeeded",
                  "reason": form.get("reason")}
        self.refunds[refund["id"]] = refund
        self.money_moved -= amount
        return 200, refund

    def bodies(self, path_end: str) -> list[dict]:
        return [dict(urllib.parse.parse_qsl(r.content.decode())) for r in self.requests if r.url.path.endswith(path_end)]

    def dump(self) -> str:  # for failure messages
        return json.dumps({"intents": self.intents, "refunds": self.refunds}, indent=1, default=str)

"""A service's OCS balances from CGRateS, named, measured and coloured as DECISIONS.md says.

CGRateS units: data in bytes, voice in nanoseconds, SMS in count, money in currency units. A balance
ID `Name__Size` shows as "Name - size" (`AU_Data_Domestic__107374182400` → "AU Data Domestic -
100 GB"); the size is also the balance's total, so what remains is coloured green above 50 %,
yellow from 20 to 50 %, red below 20 %. Read over HTTP with httpx (JSON-RPC `ApierV2.GetAccount`);
never on the GUI thread.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import httpx

from omnidesk.auth import Actor
from omnidesk.errors import NotFound, ServiceError

GIB = 1024 ** 3
NS_PER_MINUTE = 60 * 10 ** 9
TYPE_LABELS = {"*data": "Data", "*voice": "Voice", "*sms": "SMS", "*monetary": "Credit"}


class OcsError(ServiceError):
    """CGRateS could not be reached or refused; the message says which."""


@dataclass(frozen=True)
class BalanceView:
    balance_type: str  # *data, *voice, *sms, *monetary
    id: str
    label: str  # "AU Data Domestic - 100 GB"
    value: Decimal  # what remains, in CGRateS units
    total: Decimal | None  # from the ID's size, when it has one
    remaining: str  # "5 GB remaining", "60 minutes remaining", "50 SMS remaining", "25.50 credit"
    colour: str | None  # green / yellow / red, when the total is known
    expires: dt.datetime | None
    weight: int


def amount_text(balance_type: str, value: Decimal) -> str:
    """A CGRateS amount in the unit people read: GB, minutes, SMS, currency."""
    if balance_type == "*data":
        gb = value / GIB
        return f"{gb.quantize(Decimal('1')) if gb == gb.to_integral() else gb.quantize(Decimal('0.01'))} GB"
    if balance_type == "*voice":
        return f"{(value / NS_PER_MINUTE).quantize(Decimal('1')):,} minutes"
    if balance_type == "*sms":
        return f"{value.quantize(Decimal('1')):,} SMS"
    return f"{value.quantize(Decimal('0.01')):,}"


def balance_label(balance_id: str, balance_type: str) -> tuple[str, Decimal | None]:
    """("Name - size", size) for `Name__Size`; (the ID with spaces, None) otherwise."""
    name, sep, size = balance_id.rpartition("__")
    if sep and size.isdigit() and name:
        total = Decimal(size)
        return f"{name.replace('_', ' ')} - {amount_text(balance_type, total)}", total
    return balance_id.replace("_", " "), None


def remaining_colour(value: Decimal, total: Decimal | None) -> str | None:
    if not total:
        return None
    share = value / total
    return "green" if share > Decimal("0.5") else "yellow" if share >= Decimal("0.2") else "red"


def _when(text: str | None) -> dt.datetime | None:
    if not text or text.startswith("0001-01-01"):
        return None  # CGRateS's zero time: no expiry
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class OcsClient:
    """CGRateS JSON-RPC over HTTP (POST /jsonrpc)."""

    def __init__(self, url: str, tenant: str, *, transport: httpx.BaseTransport | None = None, timeout: float = 5.0):
        self.url, self.tenant = url, tenant
        self._client = httpx.Client(transport=transport, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def call(self, method: str, params: dict) -> object:
        try:
            response = self._client.post(self.url, json={"method": method, "params": [params], "id": 1})
        except httpx.TransportError as exc:
            raise OcsError(f"The OCS at {self.url} could not be reached ({exc.__class__.__name__}).") from exc
        if response.status_code != 200:
            raise OcsError(f"The OCS answered HTTP {response.status_code} to {method}.")
        body = response.json()
        if body.get("error"):
            raise OcsError(f"The OCS refused {method}: {body['error']}.")
        return body.get("result")

    def balances(self, account: str) -> list[BalanceView]:
        result = self.call("ApierV2.GetAccount", {"Tenant": self.tenant, "Account": account})
        out: list[BalanceView] = []
        for balance_type, items in sorted(((result or {}).get("BalanceMap") or {}).items()):
            for b in items or []:
                value = Decimal(str(b.get("Value", 0)))
                label, total = balance_label(str(b.get("ID", "")), balance_type)
                remaining = amount_text(balance_type, value)
                remaining = f"{remaining} credit" if balance_type == "*monetary" else f"{remaining} remaining"
                out.append(BalanceView(balance_type, str(b.get("ID", "")), label, value, total, remaining,
                                       remaining_colour(value, total), _when(b.get("ExpirationDate")),
                                       int(b.get("Weight") or 0)))
        out.sort(key=lambda v: (v.balance_type, -v.weight, v.id))  # higher weight is used first
        return out


def service_balances(db, actor: Actor, service_id: int, *, transport: httpx.BaseTransport | None = None) -> list[BalanceView]:
    """The service's balances from its OCS account (its service_uuid)."""
    from omnidesk.catalog import services as catalog_services
    from omnidesk.provisioning.service import get_settings

    service = catalog_services.get_service(db, actor, service_id)
    if not service.service_uuid:
        raise NotFound(f"Service {service.id} ({service.name}) has no OCS account yet.")
    settings = get_settings(db)
    client = OcsClient(settings["ocs.cgrates"], settings["ocs.tenant"], transport=transport)
    try:
        return client.balances(service.service_uuid)
    finally:
        client.close()

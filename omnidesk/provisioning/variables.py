"""What a playbook is given: product < request < system < inventory, and what is recorded of it.

The merge order is the source's (seed 003 L13472-13479): a later source overrides an earlier one,
so a request may change a product default (monthly_cost 50 -> 45) but not the customer id the
system sets, and an inventory choice is always the item picked. What is stored with the job and
its events has every secret-looking value replaced by "********".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "********"
# Keys whose values are never written down: passwords, keys, tokens, SIM secrets.
_SECRET = re.compile(r"(pass(word|wd)?|secret|token|api_?key|private|credential|(^|_)ki$|(^|_)opc$|(^|_)psk$|auth)",
                     re.IGNORECASE)
# Keys the system sets; a request may not override them.
SYSTEM_KEYS = frozenset({
    "product_id", "customer_id", "service_id", "site_id", "action", "initiating_user", "job_id", "service_uuid",
    "omnidesk", "product_name", "product_slug", "retail_cost", "wholesale_cost", "retail_setup_cost",
    "wholesale_setup_cost", "tax_percentage", "auto_renew",
})


def is_secret(key: str) -> bool:
    return bool(_SECRET.search(str(key)))


def merge(product_vars: Mapping[str, Any], request_vars: Mapping[str, Any], system_vars: Mapping[str, Any],
          inventory_vars: Mapping[str, Any]) -> dict[str, Any]:
    """{**product, **request, **system, **inventory}."""
    merged: dict[str, Any] = {}
    for layer in (product_vars, request_vars, system_vars, inventory_vars):
        merged.update(layer)
    return merged


def redact(value: Any) -> Any:
    """A copy with every value under a secret-looking key replaced, at any depth."""
    if isinstance(value, Mapping):
        return {k: (REDACTED if is_secret(k) and v not in (None, "") else redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def redact_text(text: str, secrets: list[str]) -> str:
    """Task output with the secret values the job was given blanked out."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


def secret_values(variables: Mapping[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(v: Any, secret: bool) -> None:
        if isinstance(v, Mapping):
            for k, x in v.items():
                walk(x, secret or is_secret(k))
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x, secret)
        elif secret and v not in (None, ""):
            found.append(str(v))

    walk(variables, False)
    return sorted(set(found), key=len, reverse=True)

"""The append-only activity log: every service function that changes something writes one entry."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from sqlalchemy.orm import Session

from omnidesk.auth import Actor
from omnidesk.db.models import ActivityEntry


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields whose value changed."""
    return {k: [_plain(before.get(k)), _plain(v)] for k, v in after.items() if before.get(k) != v}


def record(
    session: Session,
    actor: Actor,
    *,
    action: str,
    summary: str,
    entity_type: str,
    entity_id: int | None,
    customer_id: int | None = None,
    changes: dict | None = None,
) -> None:
    session.add(
        ActivityEntry(
            actor_user_id=actor.user_id,
            actor_name=actor.username,
            customer_id=customer_id,
            entity_type=entity_type,
            entity_id=entity_id,
            action=action,
            summary=summary,
            changes={k: [_plain(x) for x in v] if isinstance(v, list) else _plain(v) for k, v in (changes or {}).items()},
        )
    )

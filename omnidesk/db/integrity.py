"""Turn the database's refusals (constraint and trigger errors) into messages a user can act on."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from omnidesk.errors import ServiceError

CONSTRAINT_MESSAGES = {
    "uq_contact_one_primary": "This customer already has a primary contact; make the new one a billing or technical contact, or change the existing one first.",
    "uq_customer_attribute_customer_id_key": "This customer already has an attribute with that name.",
    "ck_customer_name_length": "Customer name must be 1 to 200 characters.",
    "ck_customer_currency_code": "Currency must be a three-letter ISO code.",
    "ck_customer_credit_limit_not_negative": "Credit limit cannot be negative.",
    "ck_contact_phone_e164": "Phone numbers must be in E.164 form, e.g. +447700900123.",
    "ck_contact_email_shape": "That is not a valid e-mail address.",
    "ck_site_latitude_range": "Latitude must be between -90 and 90 degrees.",
    "ck_site_longitude_range": "Longitude must be between -180 and 180 degrees.",
    "ck_site_coordinates_together": "Give both latitude and longitude, or neither.",
    "ck_customer_attribute_key_snake_case": "Attribute names must be lowercase snake_case.",
    "ck_customer_attribute_value_length": "Attribute values are at most 150 characters.",
    "ck_customer_tag_colour_hex": "Tag colour must be six hexadecimal digits.",
    "ck_customer_tag_window": "A tag must be deactivated after it becomes active.",
}


def explain_integrity_error(exc: IntegrityError) -> str:
    diag = getattr(exc.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name in CONSTRAINT_MESSAGES:
        return CONSTRAINT_MESSAGES[name]
    primary = getattr(diag, "message_primary", None)
    return primary or str(exc.orig).splitlines()[0]


def flush_or_refuse(session: Session) -> None:
    """Flush; a constraint or trigger refusal becomes a ServiceError saying why. A lost connection is
    left alone, so Database.transaction() reports it as DatabaseUnavailable."""
    try:
        session.flush()
    except OperationalError:
        raise
    except DBAPIError as exc:
        raise ServiceError(explain_integrity_error(exc)) from exc


def execute_or_refuse(session: Session, statement, params=None) -> Any:
    """session.execute with the refusals of flush_or_refuse."""
    try:
        return session.execute(statement, params)
    except OperationalError:
        raise
    except DBAPIError as exc:
        raise ServiceError(explain_integrity_error(exc)) from exc

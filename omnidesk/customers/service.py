"""Customer use cases: one function each, one transaction each, each written to the activity log.

The GUI, the CLI and the tests call these and nothing below them. Every function takes the
database, the acting staff user, then plain values, and returns plain frozen dataclasses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.orm import Session

from omnidesk import activity
from omnidesk.auth import Actor
from omnidesk.customers import rules
from omnidesk.customers.rules import FieldError, validate_all
from omnidesk.db.integrity import flush_or_refuse
from omnidesk.db.models import (
    ActivityEntry,
    BillingTransaction,
    Contact,
    Customer,
    CustomerAttribute,
    CustomerTag,
    Invoice,
    Service,
    Site,
)
from omnidesk.errors import ConcurrentChange, NotFound, ServiceError, ValidationError

DEFAULT_COUNTRY = "GB"
LIVE_SERVICE_STATUSES = ("active", "suspended", "pending_cancellation")
OPEN_INVOICE_STATUSES = ("unpaid", "partially_paid")
SORT_COLUMNS = ("id", "name", "status", "account_type", "payment_type", "created_at")
MAX_PAGE = 1000
# A search lists at most this many customers; past it the GUI says "10,000+" and asks to refine.
SEARCH_COUNT_CAP = 10_000


class ArchiveBlocked(ServiceError):
    """Archiving was refused; `blockers` names each reason."""

    def __init__(self, customer: str, blockers: list[str]):
        self.blockers = blockers
        super().__init__(f"{customer} cannot be archived: {'; '.join(blockers)}.")


# --- results ---


@dataclass(frozen=True)
class CustomerRow:
    id: int
    name: str
    account_type: str
    status: str
    payment_type: str
    currency: str
    credit_limit: Decimal
    email: str | None
    phone: str | None
    created_at: dt.datetime
    archived: bool


@dataclass(frozen=True)
class ContactView:
    id: int
    customer_id: int
    contact_type: str
    first_name: str
    last_name: str
    email: str | None
    phone: str | None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class SiteView:
    id: int
    customer_id: int
    name: str
    address_line_1: str
    address_line_2: str
    city: str
    state: str
    postcode: str
    country: str
    latitude: Decimal | None
    longitude: Decimal | None
    plus_code: str | None
    address_note: str


@dataclass(frozen=True)
class AttributeView:
    id: int
    customer_id: int
    key: str
    value: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class TagView:
    id: int
    customer_id: int
    label: str
    colour: str
    link: str | None
    active_from: dt.datetime
    deactivate_at: dt.datetime

    @property
    def state(self) -> str:
        return rules.tag_state(self.active_from, self.deactivate_at)


@dataclass(frozen=True)
class ActivityView:
    id: int
    occurred_at: dt.datetime
    actor_name: str
    entity_type: str
    action: str
    summary: str
    changes: dict


@dataclass(frozen=True)
class CustomerDetail:
    id: int
    name: str
    account_type: str
    status: str
    payment_type: str
    currency: str
    credit_limit: Decimal
    tax_identifier: str | None
    contract_start_date: dt.date | None
    contract_end_date: dt.date | None
    notes: str
    kyc_approved_at: dt.datetime | None
    kyc_approved_by: str | None
    archived_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    contacts: tuple[ContactView, ...] = ()
    sites: tuple[SiteView, ...] = ()
    attributes: tuple[AttributeView, ...] = ()
    tags: tuple[TagView, ...] = ()
    live_services: int = 0
    open_invoices: int = 0
    uninvoiced_transactions: int = 0
    next_statuses: tuple[str, ...] = field(default=())

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    @property
    def label(self) -> str:
        return f"Customer {self.id} ({self.name})"


# --- helpers ---


def _customer(session: Session, customer_id: int, *, for_update: bool = False, writable: bool = False) -> Customer:
    stmt = select(Customer).where(Customer.id == customer_id)
    if for_update:
        stmt = stmt.with_for_update()
    customer = session.scalar(stmt)
    if customer is None:
        raise NotFound(f"There is no customer {customer_id}.")
    if writable and customer.archived_at is not None:
        raise ServiceError(f"Customer {customer.id} ({customer.name}) is archived; restore it before changing it.")
    return customer


def _label(customer: Customer) -> str:
    return f"Customer {customer.id} ({customer.name})"


def _fields(obj: Any, names: list[str] | tuple[str, ...]) -> dict[str, Any]:
    return {n: getattr(obj, n) for n in names}


def _contact_view(c: Contact) -> ContactView:
    return ContactView(c.id, c.customer_id, c.contact_type, c.first_name, c.last_name, c.email, c.phone)


def _site_view(s: Site) -> SiteView:
    return SiteView(
        s.id, s.customer_id, s.name, s.address_line_1, s.address_line_2, s.city, s.state, s.postcode,
        s.country, s.latitude, s.longitude, s.plus_code, s.address_note,
    )


def _attribute_view(a: CustomerAttribute) -> AttributeView:
    return AttributeView(a.id, a.customer_id, a.key, a.value, a.created_at, a.updated_at)


def _tag_view(t: CustomerTag) -> TagView:
    return TagView(t.id, t.customer_id, t.label, t.colour, t.link, t.active_from, t.deactivate_at)


def _blocker_counts(session: Session, customer_id: int) -> tuple[int, int, int]:
    services = session.scalar(
        select(func.count()).select_from(Service).where(
            Service.customer_id == customer_id, Service.status.in_(LIVE_SERVICE_STATUSES)
        )
    )
    invoices = session.scalar(
        select(func.count()).select_from(Invoice).where(
            Invoice.customer_id == customer_id, Invoice.status.in_(OPEN_INVOICE_STATUSES)
        )
    )
    transactions = session.scalar(
        select(func.count()).select_from(BillingTransaction).where(
            BillingTransaction.customer_id == customer_id,
            BillingTransaction.invoice_id.is_(None),
            BillingTransaction.void.is_(False),
        )
    )
    return services or 0, invoices or 0, transactions or 0


def _owned(session: Session, model, record_id: int, noun: str):
    """Lock a contact, site, attribute or tag and check that its customer may be changed."""
    record = session.get(model, record_id, with_for_update=True)
    if record is None:
        raise NotFound(f"There is no {noun} {record_id}.")
    _customer(session, record.customer_id, writable=True)
    return record


def _attribute_key_taken(session: Session, customer_id: int, key: str) -> bool:
    return session.scalar(
        select(CustomerAttribute.id).where(CustomerAttribute.customer_id == customer_id, CustomerAttribute.key == key)
    ) is not None


def _insert(
    session: Session, actor: Actor, record, clean: dict[str, Any], entity_type: str, summary: Callable[[], str]
) -> None:
    """Add a contact, site or tag and log the values it was created with."""
    session.add(record)
    flush_or_refuse(session)
    activity.record(
        session, actor, action="create", entity_type=entity_type, entity_id=record.id,
        customer_id=record.customer_id, summary=summary(),
        changes={k: [None, v] for k, v in clean.items() if v not in (None, "")},
    )


def _apply(
    session: Session, actor: Actor, record, clean: dict[str, Any], entity_type: str, summary: Callable[[], str]
) -> None:
    """Write the cleaned fields and log what changed from and to (nothing when nothing changed)."""
    changed = activity.diff(_fields(record, list(clean)), clean)
    for key, value in clean.items():
        setattr(record, key, value)
    flush_or_refuse(session)
    if changed:
        activity.record(
            session, actor, action="update", entity_type=entity_type, entity_id=record.id,
            customer_id=record.customer_id, summary=summary(), changes=changed,
        )


def _detail(session: Session, customer: Customer) -> CustomerDetail:
    cid = customer.id
    contacts = session.scalars(select(Contact).where(Contact.customer_id == cid).order_by(Contact.id)).all()
    sites = session.scalars(select(Site).where(Site.customer_id == cid).order_by(Site.id)).all()
    attributes = session.scalars(
        select(CustomerAttribute).where(CustomerAttribute.customer_id == cid).order_by(CustomerAttribute.key)
    ).all()
    tags = session.scalars(
        select(CustomerTag).where(CustomerTag.customer_id == cid).order_by(CustomerTag.active_from, CustomerTag.id)
    ).all()
    services, invoices, transactions = _blocker_counts(session, cid)
    return CustomerDetail(
        id=cid,
        name=customer.name,
        account_type=customer.account_type,
        status=customer.status,
        payment_type=customer.payment_type,
        currency=customer.currency,
        credit_limit=customer.credit_limit,
        tax_identifier=customer.tax_identifier,
        contract_start_date=customer.contract_start_date,
        contract_end_date=customer.contract_end_date,
        notes=customer.notes,
        kyc_approved_at=customer.kyc_approved_at,
        kyc_approved_by=customer.kyc_approved_by,
        archived_at=customer.archived_at,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
        version=customer.version,
        contacts=tuple(_contact_view(c) for c in contacts),
        sites=tuple(_site_view(s) for s in sites),
        attributes=tuple(_attribute_view(a) for a in attributes),
        tags=tuple(_tag_view(t) for t in tags),
        live_services=services,
        open_invoices=invoices,
        uninvoiced_transactions=transactions,
        next_statuses=() if customer.archived_at else rules.ALLOWED_TRANSITIONS[customer.status],
    )


def _reloaded(session: Session, customer: Customer) -> CustomerDetail:
    flush_or_refuse(session)
    session.refresh(customer)
    return _detail(session, customer)


CUSTOMER_FIELDS = (
    "name", "account_type", "payment_type", "currency", "credit_limit", "tax_identifier",
    "contract_start_date", "contract_end_date", "notes",
)


def _customer_checks(values: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    checks: dict[str, Callable[[], Any]] = {}
    if "name" in values:
        checks["name"] = lambda: rules.customer_name(values["name"])
    if "account_type" in values:
        checks["account_type"] = lambda: rules.account_type(values["account_type"])
    if "payment_type" in values:
        checks["payment_type"] = lambda: rules.payment_type(values["payment_type"])
    if "currency" in values:
        checks["currency"] = lambda: rules.currency(values["currency"])
    if "credit_limit" in values:
        checks["credit_limit"] = lambda: rules.money(values["credit_limit"], "Credit limit")
    if "tax_identifier" in values:
        checks["tax_identifier"] = lambda: rules.optional_text(values["tax_identifier"], "Tax identifier", 64) or None
    if "notes" in values:
        checks["notes"] = lambda: rules.optional_text(values["notes"], "Notes", 10_000)
    for key in ("contract_start_date", "contract_end_date"):
        if key in values:
            checks[key] = (lambda k: lambda: values[k])(key)
    return checks


def _contact_checks(values: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    checks: dict[str, Callable[[], Any]] = {}
    if "contact_type" in values:
        checks["contact_type"] = lambda: rules.contact_type(values["contact_type"])
    if "first_name" in values:
        checks["first_name"] = lambda: rules.required_text(values["first_name"], "First name", rules.CONTACT_NAME_MAX)
    if "last_name" in values:
        checks["last_name"] = lambda: rules.optional_text(values["last_name"], "Last name", rules.CONTACT_NAME_MAX)
    if "email" in values:
        checks["email"] = lambda: rules.email(values["email"])
    if "phone" in values:
        checks["phone"] = lambda: rules.phone(values["phone"])
    return checks


# --- customers ---


def create_customer(
    db,
    actor: Actor,
    *,
    name: str,
    account_type: str = "individual",
    payment_type: str = "prepaid",
    currency: str = "GBP",
    credit_limit: Decimal | str | int = 0,
    tax_identifier: str | None = None,
    contract_start_date: dt.date | None = None,
    contract_end_date: dt.date | None = None,
    notes: str = "",
    primary_contact: dict[str, Any] | None = None,
) -> CustomerDetail:
    """A new customer starts as pending (awaiting KYC approval), optionally with its primary contact."""
    actor.require("create_customer", "create customers")
    raw = dict(
        name=name, account_type=account_type, payment_type=payment_type, currency=currency,
        credit_limit=credit_limit, tax_identifier=tax_identifier, contract_start_date=contract_start_date,
        contract_end_date=contract_end_date, notes=notes,
    )
    checks = _customer_checks(raw)
    contact_values: dict[str, Any] = {}
    if primary_contact:
        contact_raw = {"contact_type": "primary", **primary_contact}
        for key, check in _contact_checks(contact_raw).items():
            checks[f"contact_{key}"] = check
    values = validate_all(checks)
    try:
        rules.date_range(values["contract_start_date"], values["contract_end_date"], "The contract")
    except FieldError as exc:
        raise ValidationError({"contract_end_date": str(exc)}) from None
    contact_values = {k.removeprefix("contact_"): v for k, v in values.items() if k.startswith("contact_")}
    customer_values = {k: v for k, v in values.items() if not k.startswith("contact_")}
    with db.transaction() as s:
        customer = Customer(status="pending", **customer_values)
        s.add(customer)
        flush_or_refuse(s)
        if contact_values:
            s.add(Contact(customer_id=customer.id, **contact_values))
        activity.record(
            s, actor, action="create", entity_type="customer", entity_id=customer.id, customer_id=customer.id,
            summary=f"Created {customer.account_type} customer {customer.name}",
            changes={k: [None, v] for k, v in customer_values.items() if v not in (None, "")},
        )
        return _reloaded(s, customer)


def update_customer(db, actor: Actor, customer_id: int, *, expected_version: int | None = None, **changes: Any) -> CustomerDetail:
    """Edit a customer's fields; refused if someone else saved it since `expected_version` was read."""
    actor.require("update_customer", "edit customers")
    unknown = set(changes) - set(CUSTOMER_FIELDS)
    if unknown:
        raise ServiceError(f"Unknown customer field(s): {', '.join(sorted(unknown))}.")
    values = validate_all(_customer_checks(changes))
    with db.transaction() as s:
        customer = _customer(s, customer_id, for_update=True, writable=True)
        if expected_version is not None and customer.version != expected_version:
            raise ConcurrentChange(
                f"{_label(customer)} was changed by someone else since you opened it; reload it and make your change again."
            )
        try:
            rules.date_range(
                values.get("contract_start_date", customer.contract_start_date),
                values.get("contract_end_date", customer.contract_end_date),
                "The contract",
            )
        except FieldError as exc:
            raise ValidationError({"contract_end_date": str(exc)}) from None
        before = _fields(customer, list(values))
        changed = activity.diff(before, values)
        if not changed:
            return _detail(s, customer)
        for key, value in values.items():
            setattr(customer, key, value)
        activity.record(
            s, actor, action="update", entity_type="customer", entity_id=customer.id, customer_id=customer.id,
            summary=f"Edited {', '.join(k.replace('_', ' ') for k in changed)}", changes=changed,
        )
        return _reloaded(s, customer)


def change_status(db, actor: Actor, customer_id: int, new_status: str, *, reason: str = "") -> CustomerDetail:
    """Move a customer along pending → active ⇄ suspended → closed; anything else is refused."""
    actor.require("update_customer", "change customer status")
    with db.transaction() as s:
        customer = _customer(s, customer_id, for_update=True, writable=True)
        problem = rules.transition_error(customer.status, new_status)
        if problem:
            raise ServiceError(f"{_label(customer)}: {problem}")
        old = customer.status
        customer.status = new_status
        if old == "pending" and new_status == "active":
            customer.kyc_approved_at = func.now()
            customer.kyc_approved_by = actor.username
        why = f": {reason.strip()}" if reason.strip() else ""
        activity.record(
            s, actor, action="status", entity_type="customer", entity_id=customer.id, customer_id=customer.id,
            summary=f"Status {old} → {new_status}{why}", changes={"status": [old, new_status]},
        )
        return _reloaded(s, customer)


def archive_customer(db, actor: Actor, customer_id: int) -> CustomerDetail:
    """Soft-delete a customer; refused while it has live services, open invoices or uninvoiced transactions."""
    actor.require("delete_customer", "archive customers")
    with db.transaction() as s:
        customer = _customer(s, customer_id, for_update=True)
        if customer.archived_at is not None:
            raise ServiceError(f"{_label(customer)} is already archived.")
        services, invoices, transactions = _blocker_counts(s, customer.id)
        blockers = []
        if services:
            blockers.append(f"{services} active service{'s' if services != 1 else ''} (close them first)")
        if invoices:
            blockers.append(f"{invoices} unpaid invoice{'s' if invoices != 1 else ''} (collect payment first)")
        if transactions:
            blockers.append(
                f"{transactions} uninvoiced transaction{'s' if transactions != 1 else ''} (invoice or void them first)"
            )
        if blockers:
            raise ArchiveBlocked(_label(customer), blockers)
        customer.archived_at = func.now()
        activity.record(
            s, actor, action="archive", entity_type="customer", entity_id=customer.id, customer_id=customer.id,
            summary="Archived the customer (restorable)",
        )
        return _reloaded(s, customer)


def restore_customer(db, actor: Actor, customer_id: int) -> CustomerDetail:
    actor.require("delete_customer", "restore archived customers")
    with db.transaction() as s:
        customer = _customer(s, customer_id, for_update=True)
        if customer.archived_at is None:
            raise ServiceError(f"{_label(customer)} is not archived.")
        customer.archived_at = None
        activity.record(
            s, actor, action="restore", entity_type="customer", entity_id=customer.id, customer_id=customer.id,
            summary="Restored the customer from the archive",
        )
        return _reloaded(s, customer)


def get_customer(db, actor: Actor, customer_id: int) -> CustomerDetail:
    actor.require("view_customer", "view customers")
    with db.read() as s:
        return _detail(s, _customer(s, customer_id))


def _name_sort_key():
    """Names sort case-insensitively in byte order, matching the ix_customer_name_sort index."""
    return func.lower(Customer.name).collate("C")


def _list_filter(search: str, include_archived: bool, status: str | None):
    conditions = []
    if not include_archived:
        conditions.append(Customer.archived_at.is_(None))
    if status:
        conditions.append(Customer.status == status)
    query = (search or "").strip()
    if query:
        digits = query.lstrip("#")
        by_id = Customer.id == int(digits) if digits.isdigit() and len(digits) <= 18 else None
        if len(query) >= 3:
            # The trigram containment finds candidates through the GIN index; the LIKE drops false
            # positives. With an id alternative each half carries it, so PostgreSQL can still use the
            # index (an OR around the whole AND would re-run the trigram function on every row).
            contains = Customer.search_text.contains(query.lower(), autoescape=True)
            trigrams = func.omnidesk_trigrams(Customer.search_text).op("@>")(func.omnidesk_trigrams(func.lower(literal(query))))
            if by_id is None:
                conditions.append(and_(contains, trigrams))
            else:
                conditions.append(and_(or_(trigrams, by_id), or_(contains, by_id)))
        else:
            # One or two characters: the start of the name, as a range over the name-sort index
            # (a LIKE prefix would walk the whole index in name order).
            prefix = query.lower()
            after = prefix[:-1] + chr(ord(prefix[-1]) + 1)
            key = _name_sort_key()
            starts = and_(key >= prefix, key < after)
            conditions.append(starts if by_id is None else or_(starts, by_id))
    return and_(*conditions) if conditions else literal(True)


def list_customers(
    db,
    actor: Actor,
    *,
    search: str = "",
    sort: str = "name",
    descending: bool = False,
    offset: int = 0,
    limit: int = 100,
    include_archived: bool = False,
    status: str | None = None,
) -> list[CustomerRow]:
    """One page of customers; search is case-insensitive substring over name, e-mail, phone and id."""
    actor.require("view_customer", "view customers")
    if sort not in SORT_COLUMNS:
        raise ServiceError(f"Customers cannot be sorted by {sort!r}; choose one of {', '.join(SORT_COLUMNS)}.")
    limit = max(1, min(limit, MAX_PAGE))
    key = _name_sort_key() if sort == "name" else getattr(Customer, sort)
    direction = (lambda column: column.desc()) if descending else (lambda column: column.asc())
    # Choose the page first, then fetch the primary contacts of just those rows.
    page = (
        select(
            Customer.id, Customer.name, Customer.account_type, Customer.status, Customer.payment_type,
            Customer.currency, Customer.credit_limit, Customer.created_at,
            Customer.archived_at.is_not(None).label("archived"), key.label("sort_key"),
        )
        .where(_list_filter(search, include_archived, status))
        .order_by(direction(key), direction(Customer.id))
        .offset(max(0, offset))
        .limit(limit)
        .subquery()
    )
    primary = Contact.__table__.alias("primary_contact")
    stmt = (
        select(
            page.c.id, page.c.name, page.c.account_type, page.c.status, page.c.payment_type, page.c.currency,
            page.c.credit_limit, primary.c.email, primary.c.phone, page.c.created_at, page.c.archived,
        )
        .outerjoin(primary, and_(primary.c.customer_id == page.c.id, primary.c.contact_type == "primary"))
        .order_by(direction(page.c.sort_key), direction(page.c.id))
    )
    with db.read() as s:
        return [CustomerRow(*row) for row in s.execute(stmt)]


def count_customers(
    db, actor: Actor, *, search: str = "", include_archived: bool = False, status: str | None = None,
    cap: int | None = None,
) -> int:
    """How many customers match; with `cap`, counting stops at cap + 1 (shown as "more than cap").

    A broad search ("example", "7700") can match most of a million customers, and counting those
    exactly costs seconds; a capped count costs a few milliseconds.
    """
    actor.require("view_customer", "view customers")
    matching = select(literal(1)).select_from(Customer).where(_list_filter(search, include_archived, status))
    if cap is not None:
        matching = matching.limit(cap + 1)
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(matching.subquery()))


def list_activity(db, actor: Actor, customer_id: int, *, limit: int = 500) -> list[ActivityView]:
    actor.require("view_customer_activity", "view customer activity")
    with db.read() as s:
        rows = s.scalars(
            select(ActivityEntry)
            .where(ActivityEntry.customer_id == customer_id)
            .order_by(ActivityEntry.occurred_at.desc(), ActivityEntry.id.desc())
            .limit(limit)
        ).all()
        return [ActivityView(r.id, r.occurred_at, r.actor_name, r.entity_type, r.action, r.summary, r.changes) for r in rows]


# --- contacts ---


def add_contact(db, actor: Actor, customer_id: int, **values: Any) -> ContactView:
    actor.require("create_customer_contact", "add contacts")
    values.setdefault("contact_type", "primary")
    values.setdefault("last_name", "")
    clean = validate_all(_contact_checks(values))
    with db.transaction() as s:
        customer = _customer(s, customer_id, writable=True)
        contact = Contact(customer_id=customer.id, **clean)
        _insert(s, actor, contact, clean, "contact",
                lambda: f"Added {contact.contact_type} contact {contact.first_name} {contact.last_name}".strip())
        return _contact_view(contact)


def update_contact(db, actor: Actor, contact_id: int, **changes: Any) -> ContactView:
    actor.require("update_customer_contact", "edit contacts")
    clean = validate_all(_contact_checks(changes))
    with db.transaction() as s:
        contact = _owned(s, Contact, contact_id, "contact")
        _apply(s, actor, contact, clean, "contact", lambda: f"Edited contact {contact.first_name} {contact.last_name}".strip())
        return _contact_view(contact)


def delete_contact(db, actor: Actor, contact_id: int) -> None:
    actor.require("delete_customer_contact", "remove contacts")
    with db.transaction() as s:
        contact = _owned(s, Contact, contact_id, "contact")
        s.delete(contact)
        activity.record(
            s, actor, action="delete", entity_type="contact", entity_id=contact_id, customer_id=contact.customer_id,
            summary=f"Removed {contact.contact_type} contact {contact.first_name} {contact.last_name}".strip(),
        )


# --- sites ---

SITE_TEXT_FIELDS = {
    "address_line_1": ("Address line 1", 200),
    "address_line_2": ("Address line 2", 200),
    "city": ("City", 100),
    "state": ("State / region", 100),
    "postcode": ("Post code", 20),
    "address_note": ("Address note", 2000),
}


def _site_values(values: dict[str, Any], current: Site | None) -> dict[str, Any]:
    checks: dict[str, Callable[[], Any]] = {}
    if "name" in values or current is None:
        checks["name"] = lambda: rules.required_text(values.get("name"), "Site name", rules.SITE_NAME_MAX)
    for key, (label, maximum) in SITE_TEXT_FIELDS.items():
        if key in values:
            checks[key] = (lambda k, lb, mx: lambda: rules.optional_text(values[k], lb, mx))(key, label, maximum)
    if "country" in values or current is None:
        checks["country"] = lambda: rules.country(values.get("country"), DEFAULT_COUNTRY)
    if "latitude" in values or "longitude" in values:
        lat = values.get("latitude", current.latitude if current else None)
        lng = values.get("longitude", current.longitude if current else None)
        checks["latitude"] = lambda: rules.coordinate(lat, "Latitude", 90)
        checks["longitude"] = lambda: rules.coordinate(lng, "Longitude", 180)
    clean = validate_all(checks)
    if "latitude" in clean:
        try:
            rules.coordinates(clean["latitude"], clean["longitude"])
        except FieldError as exc:
            raise ValidationError({"latitude": str(exc)}) from None
        clean["plus_code"] = rules.plus_code(clean["latitude"], clean["longitude"])
    return clean


def add_site(db, actor: Actor, customer_id: int, **values: Any) -> SiteView:
    actor.require("create_customer_site", "add sites")
    clean = _site_values(values, None)
    with db.transaction() as s:
        customer = _customer(s, customer_id, writable=True)
        site = Site(customer_id=customer.id, **clean)
        _insert(s, actor, site, clean, "site", lambda: f"Added site {site.name}")
        s.refresh(site)
        return _site_view(site)


def update_site(db, actor: Actor, site_id: int, **changes: Any) -> SiteView:
    actor.require("update_customer_site", "edit sites")
    with db.transaction() as s:
        site = _owned(s, Site, site_id, "site")
        _apply(s, actor, site, _site_values(changes, site), "site", lambda: f"Edited site {site.name}")
        s.refresh(site)
        return _site_view(site)


def delete_site(db, actor: Actor, site_id: int) -> None:
    actor.require("delete_customer_site", "remove sites")
    with db.transaction() as s:
        site = _owned(s, Site, site_id, "site")
        services = s.scalar(select(func.count()).select_from(Service).where(Service.site_id == site.id))
        if services:
            raise ServiceError(
                f"Site {site.name} has {services} service{'s' if services != 1 else ''} delivered to it; "
                "move or close them before removing the site."
            )
        s.delete(site)
        activity.record(
            s, actor, action="delete", entity_type="site", entity_id=site_id, customer_id=site.customer_id,
            summary=f"Removed site {site.name}",
        )


# --- attributes ---


def add_attribute(db, actor: Actor, customer_id: int, key: str, value: str) -> AttributeView:
    actor.require("create_customer_attribute", "add attributes")
    clean = validate_all({"key": lambda: rules.attribute_key(key), "value": lambda: rules.attribute_value(value)})
    with db.transaction() as s:
        customer = _customer(s, customer_id, writable=True)
        if _attribute_key_taken(s, customer.id, clean["key"]):
            raise ValidationError({"key": f"{_label(customer)} already has an attribute {clean['key']}; edit that one instead."})
        attribute = CustomerAttribute(customer_id=customer.id, **clean)
        s.add(attribute)
        flush_or_refuse(s)
        activity.record(
            s, actor, action="create", entity_type="attribute", entity_id=attribute.id, customer_id=customer.id,
            summary=f"Set attribute {attribute.key} = {attribute.value}", changes={attribute.key: [None, attribute.value]},
        )
        s.refresh(attribute)
        return _attribute_view(attribute)


def update_attribute(
    db, actor: Actor, attribute_id: int, *, key: str | None = None, value: str | None = None, customer_id: int | None = None
) -> AttributeView:
    """Change an attribute's value (or rename it); `customer_id`, when given, must be its owner."""
    actor.require("update_customer_attribute", "edit attributes")
    checks: dict[str, Callable[[], Any]] = {}
    if key is not None:
        checks["key"] = lambda: rules.attribute_key(key)
    if value is not None:
        checks["value"] = lambda: rules.attribute_value(value)
    clean = validate_all(checks)
    with db.transaction() as s:
        attribute = s.get(CustomerAttribute, attribute_id, with_for_update=True)
        if attribute is None or (customer_id is not None and attribute.customer_id != customer_id):
            raise NotFound(f"Attribute {attribute_id} does not belong to customer {customer_id}." if attribute else
                           f"There is no attribute {attribute_id}.")
        customer = _customer(s, attribute.customer_id, writable=True)
        if "key" in clean and clean["key"] != attribute.key and _attribute_key_taken(s, customer.id, clean["key"]):
            raise ValidationError({"key": f"{_label(customer)} already has an attribute {clean['key']}."})
        _apply(s, actor, attribute, clean, "attribute", lambda: f"Changed attribute {attribute.key}")
        s.refresh(attribute)
        return _attribute_view(attribute)


def delete_attribute(db, actor: Actor, attribute_id: int) -> None:
    actor.require("delete_customer_attribute", "remove attributes")
    with db.transaction() as s:
        attribute = _owned(s, CustomerAttribute, attribute_id, "attribute")
        s.delete(attribute)
        activity.record(
            s, actor, action="delete", entity_type="attribute", entity_id=attribute_id,
            customer_id=attribute.customer_id, summary=f"Removed attribute {attribute.key}",
            changes={attribute.key: [attribute.value, None]},
        )


# --- tags ---


def _tag_values(values: dict[str, Any], current: CustomerTag | None) -> dict[str, Any]:
    checks: dict[str, Callable[[], Any]] = {}
    if "label" in values or current is None:
        checks["label"] = lambda: rules.required_text(values.get("label"), "Tag text", rules.TAG_TEXT_MAX)
    if "colour" in values or current is None:
        checks["colour"] = lambda: rules.tag_colour(values.get("colour"))
    if "link" in values:
        checks["link"] = lambda: rules.tag_link(values["link"])
    if "active_from" in values or "deactivate_at" in values or current is None:
        start = values.get("active_from", current.active_from if current else None)
        end = values.get("deactivate_at", current.deactivate_at if current else None)
        checks["deactivate_at"] = lambda: rules.tag_window(start, end)
    clean = validate_all(checks)
    if "deactivate_at" in clean:
        clean["active_from"], clean["deactivate_at"] = clean["deactivate_at"]
    return clean


def add_tag(db, actor: Actor, customer_id: int, **values: Any) -> TagView:
    actor.require("create_customer_tag", "add tags")
    clean = _tag_values(values, None)
    with db.transaction() as s:
        customer = _customer(s, customer_id, writable=True)
        tag = CustomerTag(customer_id=customer.id, **clean)
        _insert(s, actor, tag, clean, "tag", lambda: f"Added tag {tag.label}")
        return _tag_view(tag)


def update_tag(db, actor: Actor, tag_id: int, **changes: Any) -> TagView:
    actor.require("update_customer_tag", "edit tags")
    with db.transaction() as s:
        tag = _owned(s, CustomerTag, tag_id, "tag")
        _apply(s, actor, tag, _tag_values(changes, tag), "tag", lambda: f"Edited tag {tag.label}")
        return _tag_view(tag)


def delete_tag(db, actor: Actor, tag_id: int) -> None:
    actor.require("delete_customer_tag", "remove tags")
    with db.transaction() as s:
        tag = _owned(s, CustomerTag, tag_id, "tag")
        s.delete(tag)
        activity.record(
            s, actor, action="delete", entity_type="tag", entity_id=tag_id, customer_id=tag.customer_id,
            summary=f"Removed tag {tag.label}",
        )

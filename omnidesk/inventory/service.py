"""Inventory use cases: templates, items, state changes, picking stock safely, returns.

Each function takes the database, the acting staff user, then plain values, runs one transaction
and returns frozen dataclasses. The functions a provisioning job or a sale combines with other
work (`allocate`, `assign_item`, `release`) also accept `session=`: they then run inside the
caller's transaction, and a rollback there undoes the pick — the item is simply still in stock.

Picking is safe between workstations: `allocate` takes stock rows with `FOR UPDATE SKIP LOCKED`,
so concurrent pickers never wait on each other and never get the same row; when stock runs short
it waits for the other pickers to finish before saying "out of stock", so a request is refused
only when the stock really is not there.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from sqlalchemy import and_, func, insert, select, text, union_all
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from omnidesk import activity
from omnidesk.auth import Actor
from omnidesk.customers import rules as crules
from omnidesk.customers.rules import FieldError, validate_all
from omnidesk.db.integrity import execute_or_refuse, explain_integrity_error, flush_or_refuse
from omnidesk.db.models import ActivityEntry, Customer, Service
from omnidesk.errors import ConcurrentChange, DatabaseUnavailable, NotFound, ServiceError, ValidationError, first_line
from omnidesk.inventory import rules, secrets
from omnidesk.inventory.models import ITEMTEXTS, LABELS, InventoryItem, InventoryItemHistory, InventoryTemplate

MAX_PAGE = 1000
LIVE_SERVICE_STATUSES = ("active", "suspended", "pending_cancellation", "inactive")
# Customers who may receive stock: a store sells the SIM while the sign-up awaits KYC approval.
CUSTOMER_STATUSES_FOR_STOCK = ("pending", "active")


class OutOfStock(ServiceError):
    """Fewer items of the asked type are in stock than were asked for; nothing was taken."""

    def __init__(self, template: str, wanted: int, available: int, location: str | None):
        self.template, self.wanted, self.available = template, wanted, available
        where = f" at {location}" if location else ""
        have = "none" if available == 0 else f"only {available}"
        super().__init__(f"Out of stock: {have} {template} in stock{where}, {wanted} asked for; nothing was taken.")


# --- results ---


@dataclass(frozen=True)
class TemplateView:
    id: int
    name: str
    icon: str
    wholesale_cost: Decimal
    retail_cost: Decimal
    labels: tuple[str | None, ...]  # labels[0] is itemtext1's
    unique_fields: tuple[int, ...]
    returnable: bool
    allow_dropdown_staff: bool
    allow_dropdown_customer: bool
    version: int
    in_stock: int = 0
    total: int = 0

    def label(self, number: int) -> str:
        return self.labels[number - 1] or f"Item Text {number}"


@dataclass(frozen=True)
class ItemView:
    id: int
    template_id: int
    template_name: str
    item_state: str
    item_location: str
    customer_id: int | None
    service_id: int | None
    itemtexts: tuple[str | None, ...]  # itemtexts[0] is itemtext1
    labels: tuple[str | None, ...]
    wholesale_cost: Decimal
    retail_cost: Decimal
    sold_date: dt.datetime | None
    return_due_at: dt.datetime | None
    address_line_1: str
    address_line_2: str
    city: str
    state: str
    postcode: str
    country: str | None
    google_maps_place_id: str | None
    plus_code: str | None
    latitude: Decimal | None
    longitude: Decimal | None
    management_url: str | None
    management_username: str | None
    has_management_password: bool
    config_content: str | None
    config_file_path: str | None
    notes: str
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int

    @property
    def itemtext1(self) -> str:
        return self.itemtexts[0]

    @property
    def state_label(self) -> str:
        return rules.state_label(self.item_state)

    @property
    def identifiers(self) -> tuple[tuple[str, str], ...]:
        """(label, value) of every filled item text, in field order."""
        return tuple(
            (self.labels[i] or f"Item Text {i + 1}", v) for i, v in enumerate(self.itemtexts) if v not in (None, "")
        )

    @property
    def management_url_is_link(self) -> bool:
        return rules.is_web_url(self.management_url)

    @property
    def next_states(self) -> tuple[str, ...]:
        return rules.ALLOWED_TRANSITIONS[self.item_state]


@dataclass(frozen=True)
class HistoryView:
    id: int
    item_id: int
    from_state: str | None
    to_state: str
    changed_at: dt.datetime
    actor_name: str
    reason: str
    customer_id: int | None
    service_id: int | None


@dataclass(frozen=True)
class ItemRow:
    """One line of the inventory table."""

    id: int
    template_name: str
    itemtext1: str
    itemtext2: str | None
    item_state: str
    item_location: str
    customer_id: int | None
    customer_name: str | None
    service_id: int | None
    sold_date: dt.datetime | None
    updated_at: dt.datetime


@dataclass(frozen=True)
class Picked:
    """An item taken from stock: its id and primary identifier."""

    id: int
    itemtext1: str


# --- helpers ---


@contextlib.contextmanager
def _unit(db, session: Session | None) -> Iterator[Session]:
    """The caller's transaction when one is given, else a new one."""
    if session is not None:
        yield session
        return
    with db.transaction() as s:
        yield s


def _as(session: Session, actor: Actor, reason: str = "") -> None:
    """Name the actor (and reason) for the history rows the database writes in this transaction."""
    session.execute(
        text("SELECT set_config('omnidesk.actor', :actor, true), set_config('omnidesk.reason', :reason, true)"),
        {"actor": actor.username, "reason": reason},
    )


def _template_view(t: InventoryTemplate, in_stock: int = 0, total: int = 0) -> TemplateView:
    return TemplateView(
        t.id, t.name, t.icon, t.wholesale_cost, t.retail_cost, tuple(getattr(t, c) for c in LABELS),
        tuple(t.unique_fields or ()), t.returnable, t.allow_dropdown_staff, t.allow_dropdown_customer, t.version,
        in_stock, total,
    )


def _item_view(item: InventoryItem, template: InventoryTemplate) -> ItemView:
    return ItemView(
        id=item.id, template_id=item.template_id, template_name=template.name, item_state=item.item_state,
        item_location=item.item_location, customer_id=item.customer_id, service_id=item.service_id,
        itemtexts=tuple(getattr(item, c) for c in ITEMTEXTS), labels=tuple(getattr(template, c) for c in LABELS),
        wholesale_cost=item.wholesale_cost, retail_cost=item.retail_cost, sold_date=item.sold_date,
        return_due_at=item.return_due_at, address_line_1=item.address_line_1, address_line_2=item.address_line_2,
        city=item.city, state=item.state, postcode=item.postcode, country=item.country,
        google_maps_place_id=item.google_maps_place_id, plus_code=item.plus_code, latitude=item.latitude,
        longitude=item.longitude, management_url=item.management_url, management_username=item.management_username,
        has_management_password=item.management_password_enc is not None, config_content=item.config_content,
        config_file_path=item.config_file_path, notes=item.notes, created_at=item.created_at,
        updated_at=item.updated_at, version=item.version,
    )


def _history_view(h: InventoryItemHistory) -> HistoryView:
    return HistoryView(h.id, h.item_id, h.from_state, h.to_state, h.changed_at, h.actor_name, h.reason,
                       h.customer_id, h.service_id)


def template_by_name(session: Session, name: str, *, lock: bool = False) -> InventoryTemplate:
    """The template named exactly `name`; a near miss in case is named in the refusal."""
    stmt = select(InventoryTemplate).where(InventoryTemplate.name == name)
    if lock:
        stmt = stmt.with_for_update(key_share=False, of=InventoryTemplate)
    template = session.scalar(stmt)
    if template is None:
        near = session.scalar(
            select(InventoryTemplate.name).where(func.lower(InventoryTemplate.name) == (name or "").strip().lower())
        )
        hint = f"; template names are case-sensitive — did you mean {near!r}?" if near else "."
        raise NotFound(f"There is no inventory template named {name!r}{hint}")
    return template


def _template(session: Session, template: int | str, *, lock: bool = False) -> InventoryTemplate:
    if isinstance(template, int):
        stmt = select(InventoryTemplate).where(InventoryTemplate.id == template)
        if lock:
            stmt = stmt.with_for_update()
        found = session.scalar(stmt)
        if found is None:
            raise NotFound(f"There is no inventory template {template}.")
        return found
    return template_by_name(session, template, lock=lock)


def _item(session: Session, item_id: int, *, lock: bool = False) -> InventoryItem:
    stmt = select(InventoryItem).where(InventoryItem.id == item_id)
    if lock:
        stmt = stmt.with_for_update()
    item = session.scalar(stmt)
    if item is None:
        raise NotFound(f"There is no inventory item {item_id}.")
    return item


def _describe(item: InventoryItem, template: InventoryTemplate) -> str:
    return f"{template.name} {item.itemtext1} (item {item.id})"


def receiving_customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"There is no customer {customer_id}.")
    if customer.archived_at is not None:
        raise ServiceError(f"Customer {customer.id} ({customer.name}) is archived; restore it before giving it stock.")
    if customer.status not in CUSTOMER_STATUSES_FOR_STOCK:
        raise ServiceError(f"Customer {customer.id} ({customer.name}) is {customer.status}; only pending or active "
                           "customers can receive stock or services.")
    return customer


def _receiving_service(session: Session, service_id: int | None, customer_id: int) -> Service | None:
    if service_id is None:
        return None
    service = session.get(Service, service_id)
    if service is None:
        raise NotFound(f"There is no service {service_id}.")
    if service.customer_id != customer_id:
        raise ServiceError(f"Service {service_id} belongs to customer {service.customer_id}, not customer {customer_id}.")
    if service.status == "deactivated":
        raise ServiceError(f"Service {service_id} ({service.name}) is deactivated; items cannot be linked to it.")
    return service


def _location(value: str | None) -> str:
    return crules.optional_text(value, "Location", 200)


# --- templates ---

TEMPLATE_FIELDS = ("name", "icon", "wholesale_cost", "retail_cost", "labels", "unique_fields", "returnable",
                   "allow_dropdown_staff", "allow_dropdown_customer")


def _labels_in(value) -> dict[int, str | None]:
    """Labels given as {number: label} or as a list (first = itemtext1)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {int(k): v for k, v in value.items()}
    return {i + 1: v for i, v in enumerate(value)}


def _template_values(values: dict[str, Any], current: InventoryTemplate | None) -> dict[str, Any]:
    checks: dict[str, Callable[[], Any]] = {}
    if "name" in values or current is None:
        checks["name"] = lambda: rules.template_name(values.get("name"))
    if "icon" in values:
        checks["icon"] = lambda: crules.optional_text(values["icon"], "Icon", 100)
    for key, label in (("wholesale_cost", "Wholesale cost"), ("retail_cost", "Retail cost")):
        if key in values or current is None:
            checks[key] = (lambda k, lb: lambda: rules.cost(values.get(k), lb))(key, label)
    given = _labels_in(values.get("labels"))
    bad = [n for n in given if not 1 <= n <= rules.ITEMTEXT_COUNT]
    if bad:
        raise ValidationError({"labels": f"Templates have item texts 1 to {rules.ITEMTEXT_COUNT}; got {bad[0]}."})
    labels: dict[int, str | None] = {}
    if "labels" in values or current is None:
        for n in range(1, rules.ITEMTEXT_COUNT + 1):
            checks[LABELS[n - 1]] = (lambda k: lambda: rules.label(given.get(k), k))(n)
    for key in ("returnable", "allow_dropdown_staff", "allow_dropdown_customer"):
        if key in values:
            checks[key] = (lambda k: lambda: bool(values[k]))(key)
    clean = validate_all(checks)
    if "labels" in values or current is None:
        labels = {n: clean[LABELS[n - 1]] for n in range(1, rules.ITEMTEXT_COUNT + 1)}
    elif current is not None:
        labels = current.labels()
    if "unique_fields" in values or "labels" in values:
        try:
            clean["unique_fields"] = rules.unique_fields(
                values.get("unique_fields", current.unique_fields if current else ()), labels
            )
        except FieldError as exc:
            raise ValidationError({"unique_fields": str(exc)}) from None
    return clean


def list_templates(db, actor: Actor) -> list[TemplateView]:
    """Every template with how many of its items are in stock (New or Used, unassigned) and in all."""
    actor.require("view_inventory_template", "view inventory templates")
    counts = (
        select(
            InventoryItem.template_id,
            func.count().filter(InventoryItem.item_state.in_(rules.STOCK_STATES)).label("in_stock"),
            func.count().label("total"),
        )
        .group_by(InventoryItem.template_id)
        .subquery()
    )
    with db.read() as s:
        rows = s.execute(
            select(InventoryTemplate, counts.c.in_stock, counts.c.total)
            .outerjoin(counts, counts.c.template_id == InventoryTemplate.id)
            .order_by(InventoryTemplate.name)
        ).all()
        return [_template_view(t, in_stock or 0, total or 0) for t, in_stock, total in rows]


def get_template(db, actor: Actor, template: int | str) -> TemplateView:
    actor.require("view_inventory_template", "view inventory templates")
    with db.read() as s:
        return _template_view(_template(s, template))


def create_template(db, actor: Actor, **values: Any) -> TemplateView:
    """A new item type; labels default to "Model Number" and "Serial Number" for item texts 1 and 2."""
    actor.require("create_inventory_template", "create inventory templates")
    unknown = set(values) - set(TEMPLATE_FIELDS)
    if unknown:
        raise ServiceError(f"Unknown template field(s): {', '.join(sorted(unknown))}.")
    clean = _template_values(values, None)
    with db.transaction() as s:
        if s.scalar(select(InventoryTemplate.id).where(InventoryTemplate.name == clean["name"])) is not None:
            raise ValidationError({"name": f"There is already an inventory template named {clean['name']!r}."})
        template = InventoryTemplate(**clean)
        s.add(template)
        flush_or_refuse(s)
        activity.record(
            s, actor, action="create", entity_type="inventory_template", entity_id=template.id,
            summary=f"Created inventory template {template.name}",
            changes={k: [None, v] for k, v in clean.items() if v not in (None, "", [])},
        )
        s.refresh(template)
        return _template_view(template)


def update_template(db, actor: Actor, template_id: int, *, expected_version: int | None = None, **changes: Any) -> TemplateView:
    """Edit a template. Renaming keeps products linked (they hold the template, not the old name).

    Changed labels apply to existing items too (their values stay, shown under the new labels).
    """
    actor.require("update_inventory_template", "edit inventory templates")
    unknown = set(changes) - set(TEMPLATE_FIELDS)
    if unknown:
        raise ServiceError(f"Unknown template field(s): {', '.join(sorted(unknown))}.")
    with db.transaction() as s:
        template = _template(s, template_id, lock=True)
        if expected_version is not None and template.version != expected_version:
            raise ConcurrentChange(f"Inventory template {template.name} was changed by someone else; reload it and try again.")
        clean = _template_values(changes, template)
        if "name" in clean and clean["name"] != template.name and s.scalar(
            select(InventoryTemplate.id).where(InventoryTemplate.name == clean["name"])
        ) is not None:
            raise ValidationError({"name": f"There is already an inventory template named {clean['name']!r}."})
        added = sorted(set(clean.get("unique_fields", template.unique_fields)) - set(template.unique_fields))
        if added:
            view = _template_view(template)
            for n in added:
                column = getattr(InventoryItem, f"itemtext{n}")
                value = s.scalar(
                    select(column).where(InventoryItem.template_id == template.id, column.is_not(None))
                    .group_by(column).having(func.count() > 1).limit(1)
                )
                if value is not None:
                    raise ValidationError({"unique_fields": (
                        f"{view.label(n)} cannot become an identifier: several {template.name} items share {value}.")})
        before = {k: getattr(template, k) for k in clean}
        changed = activity.diff(before, clean)
        for key, value in clean.items():
            setattr(template, key, value)
        flush_or_refuse(s)
        if changed:
            activity.record(
                s, actor, action="update", entity_type="inventory_template", entity_id=template.id,
                summary=f"Edited inventory template {template.name}", changes=changed,
            )
        s.refresh(template)
        return _template_view(template)


def delete_template(db, actor: Actor, template_id: int) -> None:
    """Remove a template that has no items and that no product needs."""
    from omnidesk.catalog.models import Product, ProductInventoryType

    actor.require("delete_inventory_template", "remove inventory templates")
    with db.transaction() as s:
        template = _template(s, template_id, lock=True)
        items = s.scalar(select(func.count()).select_from(InventoryItem).where(InventoryItem.template_id == template.id))
        products = s.scalars(
            select(Product.name).join(ProductInventoryType, ProductInventoryType.product_id == Product.id)
            .where(ProductInventoryType.template_id == template.id).order_by(Product.name)
        ).all()
        blockers = []
        if items:
            blockers.append(f"{items} item{'s' if items != 1 else ''} use it")
        if products:
            blockers.append(f"product{'s' if len(products) != 1 else ''} {', '.join(products)} need{'s' if len(products) == 1 else ''} it")
        if blockers:
            raise ServiceError(f"Inventory template {template.name} cannot be removed: {'; '.join(blockers)}.")
        s.delete(template)
        activity.record(s, actor, action="delete", entity_type="inventory_template", entity_id=template_id,
                        summary=f"Removed inventory template {template.name}")


# --- items ---

ADDRESS_FIELDS = {
    "address_line_1": ("Address line 1", 200),
    "address_line_2": ("Address line 2", 200),
    "city": ("City", 100),
    "state": ("State / region", 100),
    "postcode": ("Post code", 20),
}
ITEM_FIELDS = (
    *ITEMTEXTS, "item_location", "wholesale_cost", "retail_cost", *ADDRESS_FIELDS, "country",
    "google_maps_place_id", "latitude", "longitude", "management_url", "management_username",
    "management_password", "config_content", "config_file_path", "notes",
)


def _item_checks(values: dict[str, Any], template: InventoryTemplate, creating: bool) -> dict[str, Callable[[], Any]]:
    labels = template.labels()
    checks: dict[str, Callable[[], Any]] = {}
    for n in range(1, rules.ITEMTEXT_COUNT + 1):
        key = f"itemtext{n}"
        if key in values or (creating and n == 1):
            checks[key] = (lambda k, num: lambda: rules.itemtext(values.get(k), num, labels[num]))(key, n)
    if "item_location" in values:
        checks["item_location"] = lambda: _location(values["item_location"])
    for key, label, default in (("wholesale_cost", "Wholesale cost", template.wholesale_cost),
                                ("retail_cost", "Retail cost", template.retail_cost)):
        if key in values or creating:
            checks[key] = (lambda k, lb, d: lambda: rules.cost(values.get(k), lb, d if creating else None))(key, label, default)
    for key, (label, maximum) in ADDRESS_FIELDS.items():
        if key in values:
            checks[key] = (lambda k, lb, mx: lambda: crules.optional_text(values[k], lb, mx))(key, label, maximum)
    if "country" in values:
        checks["country"] = lambda: crules.country(values["country"], "") if (values["country"] or "").strip() else None
    if "google_maps_place_id" in values:
        checks["google_maps_place_id"] = lambda: crules.optional_text(values["google_maps_place_id"], "Place ID", 200) or None
    if "management_url" in values:
        checks["management_url"] = lambda: rules.management_url(values["management_url"])
    if "management_username" in values:
        checks["management_username"] = lambda: crules.optional_text(values["management_username"], "Management username", 200) or None
    if "management_password" in values:
        checks["management_password"] = lambda: (values["management_password"] or None)
    if "config_content" in values:
        checks["config_content"] = lambda: crules.optional_text(values["config_content"], "Configuration", 1_000_000) or None
    if "config_file_path" in values:
        checks["config_file_path"] = lambda: crules.optional_text(values["config_file_path"], "Configuration file path", 500) or None
    if "notes" in values:
        checks["notes"] = lambda: crules.optional_text(values["notes"], "Notes", 10_000)
    return checks


def _item_values(values: dict[str, Any], template: InventoryTemplate, current: InventoryItem | None) -> dict[str, Any]:
    unknown = set(values) - set(ITEM_FIELDS)
    if unknown:
        raise ServiceError(f"Unknown item field(s): {', '.join(sorted(unknown))}.")
    clean = validate_all(_item_checks(values, template, current is None))
    if "latitude" in values or "longitude" in values:
        try:
            lat, lng = crules.coordinates(
                values.get("latitude", current.latitude if current else None),
                values.get("longitude", current.longitude if current else None),
            )
        except FieldError as exc:
            raise ValidationError({"latitude": str(exc)}) from None
        clean["latitude"], clean["longitude"] = lat, lng
        clean["plus_code"] = crules.plus_code(lat, lng)
    return clean


def _check_identifiers_free(session: Session, template: InventoryTemplate, clean: dict[str, Any], item_id: int | None) -> None:
    """Refuse, by field, an identifier another item of the template already has (the database checks again)."""
    errors = {}
    for n in template.unique_fields or ():
        key = f"itemtext{n}"
        if clean.get(key) is None:
            continue
        column = getattr(InventoryItem, key)
        stmt = select(InventoryItem.id).where(InventoryItem.template_id == template.id, column == clean[key])
        if item_id is not None:
            stmt = stmt.where(InventoryItem.id != item_id)
        other = session.scalar(stmt.limit(1))
        if other is not None:
            errors[key] = f"{template.name} {template.labels()[n]} {clean[key]} is already used by item {other}."
    if errors:
        raise ValidationError(errors)


def _apply_password(session: Session, item: InventoryItem, clean: dict[str, Any]) -> None:
    if "management_password" not in clean:
        return
    password = clean.pop("management_password")
    item.management_password_enc = secrets.encrypt_password(session, item.id, password) if password else None


def create_item(db, actor: Actor, template: int | str, *, item_state: str = "new", **values: Any) -> ItemView:
    """One item of a template; costs default to the template's. Stock starts New unless told otherwise."""
    actor.require("create_inventory", "add inventory items")
    try:
        state = rules.item_state(item_state)
    except FieldError as exc:
        raise ValidationError({"item_state": str(exc)}) from None
    if state == "assigned":
        raise ValidationError({"item_state": "A new item cannot start as Assigned; add it to stock, then assign it."})
    with db.transaction() as s:
        _as(s, actor, "created")
        tpl = _template(s, template, lock=True)
        clean = _item_values(values, tpl, None)
        _check_identifiers_free(s, tpl, clean, None)
        password = {"management_password": clean.pop("management_password")} if "management_password" in clean else {}
        item = InventoryItem(template_id=tpl.id, item_state=state, **clean)
        s.add(item)
        flush_or_refuse(s)
        _apply_password(s, item, password)
        flush_or_refuse(s)
        s.refresh(item)
        return _item_view(item, tpl)


def update_item(db, actor: Actor, item_id: int, *, expected_version: int | None = None, **changes: Any) -> ItemView:
    """Edit an item's fields. State, customer and service change through their own use cases."""
    actor.require("update_inventory", "edit inventory items")
    for field_name, how in (("item_state", "change_state"), ("customer_id", "assign_item or release"),
                            ("service_id", "assign_item or release"), ("template_id", "nothing: an item keeps its template")):
        if field_name in changes:
            raise ValidationError({field_name: f"{field_name} is not edited here; use {how}."})
    with db.transaction() as s:
        item = _item(s, item_id, lock=True)
        if expected_version is not None and item.version != expected_version:
            raise ConcurrentChange(f"Inventory item {item_id} was changed by someone else; reload it and try again.")
        tpl = _template(s, item.template_id)
        clean = _item_values(changes, tpl, item)
        _check_identifiers_free(s, tpl, clean, item.id)
        shown = {k: v for k, v in clean.items() if k != "management_password"}
        changed = activity.diff({k: getattr(item, k) for k in shown}, shown)
        if "management_password" in clean:
            changed["management_password"] = ["(hidden)", "(changed)" if clean["management_password"] else "(removed)"]
        _apply_password(s, item, clean)
        for key, value in clean.items():
            setattr(item, key, value)
        flush_or_refuse(s)
        if changed and item.customer_id is not None:
            activity.record(s, actor, action="update", entity_type="inventory_item", entity_id=item.id,
                            customer_id=item.customer_id, summary=f"Edited {_describe(item, tpl)}", changes=changed)
        s.refresh(item)
        return _item_view(item, tpl)


def get_item(db, actor: Actor, item_id: int) -> ItemView:
    actor.require("view_inventory", "view inventory")
    with db.read() as s:
        item = _item(s, item_id)
        return _item_view(item, _template(s, item.template_id))


def item_history(db, actor: Actor, item_id: int) -> list[HistoryView]:
    """Every state the item has been in, oldest first."""
    actor.require("view_inventory", "view inventory")
    with db.read() as s:
        _item(s, item_id)
        rows = s.scalars(
            select(InventoryItemHistory).where(InventoryItemHistory.item_id == item_id).order_by(InventoryItemHistory.id)
        ).all()
        return [_history_view(h) for h in rows]


def reveal_management_password(db, actor: Actor, item_id: int) -> str | None:
    """The device password in clear, for the technician at the desk; each reveal is logged."""
    actor.require("update_inventory", "see device passwords")
    with db.transaction() as s:
        item = _item(s, item_id)
        if item.management_password_enc is None:
            return None
        password = secrets.decrypt_password(s, item.id, item.management_password_enc)
        tpl = _template(s, item.template_id)
        activity.record(s, actor, action="reveal", entity_type="inventory_item", entity_id=item.id,
                        customer_id=item.customer_id, summary=f"Revealed the management password of {_describe(item, tpl)}")
        return password


def change_state(db, actor: Actor, item_id: int, new_state: str, *, reason: str = "", session: Session | None = None) -> ItemView:
    """Move an item along its lifecycle; refused with both states named when the move is not allowed.

    Entering stock (New, Used) unlinks the item from its customer and service. Assigned is reached
    only by picking the item for a customer (`assign_item`, `allocate`).
    """
    actor.require("update_inventory", "change inventory item states")
    try:
        target = rules.item_state(new_state)
    except FieldError as exc:
        raise ValidationError({"item_state": str(exc)}) from None
    why = crules.optional_text(reason, "Reason", 500)
    with _unit(db, session) as s:
        item = _item(s, item_id, lock=True)
        tpl = _template(s, item.template_id)
        problem = rules.transition_error(item.item_state, target)
        if problem:
            raise ServiceError(f"{_describe(item, tpl)}: {problem}")
        if target == "assigned":
            raise ServiceError(
                f"{_describe(item, tpl)} is {rules.state_label(item.item_state)}: it becomes Assigned by picking it "
                "for a customer (assign or allocate), not by a state change."
            )
        _as(s, actor, why)
        old, customer_id = item.item_state, item.customer_id
        item.item_state = target
        if target in rules.STOCK_STATES:
            item.customer_id = item.service_id = None
        flush_or_refuse(s)
        if customer_id is not None:
            activity.record(
                s, actor, action="state", entity_type="inventory_item", entity_id=item.id, customer_id=customer_id,
                summary=f"{_describe(item, tpl)}: {rules.state_label(old)} → {rules.state_label(target)}"
                        + (f": {why}" if why else ""),
                changes={"item_state": [old, target]},
            )
        s.refresh(item)
        return _item_view(item, tpl)


def assign_item(
    db, actor: Actor, item_id: int, customer_id: int, *, service_id: int | None = None, reason: str = "",
    session: Session | None = None,
) -> ItemView:
    """Give one chosen item (the inventory picker's choice) to a customer and optionally a service."""
    actor.require("update_inventory", "assign inventory items")
    with _unit(db, session) as s:
        item = _item(s, item_id, lock=True)
        tpl = _template(s, item.template_id)
        customer = receiving_customer(s, customer_id)
        service = _receiving_service(s, service_id, customer.id)
        if item.item_state not in rules.STOCK_STATES:
            who = f" to customer {item.customer_id}" if item.customer_id else ""
            raise ServiceError(
                f"{_describe(item, tpl)} is not in stock (it is {rules.state_label(item.item_state)}{who}); choose another."
            )
        _as(s, actor, reason or "assigned")
        old = item.item_state
        item.item_state, item.customer_id, item.service_id = "assigned", customer.id, service.id if service else None
        flush_or_refuse(s)
        to = f" for service {service.id} ({service.name})" if service else ""
        activity.record(
            s, actor, action="assign", entity_type="inventory_item", entity_id=item.id, customer_id=customer.id,
            summary=f"Assigned {_describe(item, tpl)}{to}", changes={"item_state": [old, "assigned"]},
        )
        s.refresh(item)
        return _item_view(item, tpl)


# The fast path, one statement and (outside a caller's transaction) one round trip, committed by
# itself in autocommit mode: name the actor for the history, check the template and the receiving
# customer (and service), take the asked number of stock rows nobody else is holding, and write
# the activity entry. It changes nothing unless it found all of them (`took` is guarded by the
# count), so a short pick needs no rollback: its row locks end with the statement. The slow path
# below then finds out why (and waits if others hold stock).
# The CTEs are MATERIALIZED so the pick runs exactly once (a re-scanned subquery would skip the
# rows this statement already updated and take more). The template is matched as a range
# (>= and <=, not =) and the rows ordered by (template_id, id): only ix_inventory_item_stock
# (stock rows only) yields that order, so the planner cannot walk the primary key over every item
# already given out — which it does with `=` whenever its statistics still say most items are in
# stock (right after an import: 0.3 ms per 2,000 assigned items, growing all day).
# The count is written into the statement (it is a checked int), not bound: with LIMIT bound the
# server re-plans this statement on every call (a generic plan must guess the limit), which cost
# a third of a single-SIM pick; with it written in, the prepared statement keeps its generic plan.
_PICK = """
WITH named AS MATERIALIZED (
    SELECT set_config('omnidesk.actor', %(actor)s, true), set_config('omnidesk.reason', %(reason)s, true)
), tpl AS MATERIALIZED (
    SELECT t.id FROM inventory_template t WHERE t.name = %(template)s
), pick AS MATERIALIZED (
    SELECT it.id FROM inventory_item it
     WHERE it.template_id >= (SELECT id FROM tpl) AND it.template_id <= (SELECT id FROM tpl)
       AND it.item_state IN ('new', 'used') {location}
       AND EXISTS (SELECT 1 FROM customer c WHERE c.id = %(customer)s AND c.archived_at IS NULL
                                              AND c.status IN ('pending', 'active'))
       AND (CAST(%(service)s AS bigint) IS NULL
            OR EXISTS (SELECT 1 FROM service v WHERE v.id = %(service)s AND v.customer_id = %(customer)s
                                                 AND v.status <> 'deactivated'))
     ORDER BY it.template_id, it.id LIMIT {count}
       FOR UPDATE OF it SKIP LOCKED
), took AS (
    UPDATE inventory_item i
       SET item_state = 'assigned', customer_id = %(customer)s, service_id = %(service)s,
           version = i.version + 1, updated_at = now()
      FROM pick, named
     WHERE i.id = pick.id AND (SELECT count(*) FROM pick) = {count}
    RETURNING i.id, i.itemtext1
), logged AS (
    -- The row activity.record writes (summary and changes as _log_allocation words them).
    INSERT INTO activity_log (actor_user_id, actor_name, customer_id, entity_type, entity_id, action, summary, changes)
    SELECT CAST(%(actor_id)s AS bigint), CAST(%(actor)s AS text), CAST(%(customer)s AS bigint), 'inventory_item',
           CASE WHEN count(*) = 1 THEN min(took.id) END, 'allocate',
           CAST(%(summary)s AS text) || array_to_string((array_agg(took.itemtext1 ORDER BY took.id))[1:5], ', ')
               || CASE WHEN count(*) > 5 THEN format(' and %%s more', count(*) - 5) ELSE '' END,
           jsonb_build_object('items', jsonb_agg(took.id ORDER BY took.id))
      FROM took HAVING count(*) > 0
)
SELECT id, itemtext1 FROM took ORDER BY id
"""


@functools.lru_cache(maxsize=64)
def _pick_sql(count: int, at_location: bool) -> str:
    """The fast path's statement in the driver's own parameter style (it is run on the driver's connection)."""
    return _PICK.format(count=int(count), location="AND it.item_location = %(location)s" if at_location else "")


# The slow path: wait for the other pickers (in id order, so two waiting pickers cannot deadlock)
# and see which rows are really still in stock.
_WAIT_FOR_STOCK = """
SELECT id FROM inventory_item
 WHERE template_id = :template_id AND item_state IN ('new', 'used') {location} AND NOT (id = ANY (:taken))
 ORDER BY template_id, id LIMIT :count
   FOR UPDATE
"""

_ASSIGN_LOCKED = """
UPDATE inventory_item SET item_state = 'assigned', customer_id = :customer, service_id = :service,
       version = version + 1, updated_at = now()
 WHERE id = ANY (:ids)
RETURNING id, itemtext1
"""


def _pick_fast(run: Callable[[str, dict[str, Any]], Sequence[tuple]], params: dict[str, Any]) -> list[Picked]:
    """All the asked rows picked, assigned and logged, or [] with nothing changed."""
    return [Picked(*r) for r in run(_pick_sql(params["count"], params["location"] is not None), params)]


def _in_session(session: Session) -> Callable[[str, dict[str, Any]], Sequence[tuple]]:
    """Run the statement inside the caller's transaction."""

    def run(sql: str, params: dict[str, Any]) -> Sequence[tuple]:
        try:
            return session.connection().exec_driver_sql(sql, params).all()
        except OperationalError:
            raise
        except DBAPIError as exc:
            raise ServiceError(explain_integrity_error(exc)) from exc

    return run


def _autocommit(db) -> Callable[[str, dict[str, Any]], Sequence[tuple]]:
    """Run one statement as its own transaction, on a pooled connection's driver connection.

    Autocommit saves the BEGIN and COMMIT round trips; going to the driver directly saves what an
    SQLAlchemy Connection with an isolation-level option costs per use (a quarter of a single-SIM
    pick's time on two cores). The pool still checks the connection out, pings and takes it back.
    """

    def unreachable(exc: BaseException) -> DatabaseUnavailable:
        return DatabaseUnavailable(f"The database is not reachable ({first_line(exc, 'connection lost')}); nothing was saved.")

    def run(sql: str, params: dict[str, Any]) -> Sequence[tuple]:
        try:
            pooled = db.engine.raw_connection()
        except OperationalError as exc:
            raise unreachable(exc.orig) from exc
        conn = pooled.driver_connection
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        except psycopg.Error as exc:
            error = DBAPIError.instance(None, None, exc, psycopg.Error)
            if isinstance(error, OperationalError) or conn.closed:
                raise unreachable(exc) from exc
            raise ServiceError(explain_integrity_error(error)) from exc
        finally:
            # Never hand the pool a connection left in autocommit: the next user expects transactions.
            try:
                if not conn.closed:
                    conn.autocommit = False
            except psycopg.Error:
                pooled.invalidate()
            if conn.closed:
                pooled.invalidate()
            pooled.close()

    return run


def _pick_waiting(s: Session, actor: Actor, params: dict[str, Any], where_location: str, place: str | None) -> list[Picked]:
    """Check what the fast path folded into one statement, then wait for stock held by others."""
    tpl = template_by_name(s, params["template"])
    customer = receiving_customer(s, params["customer"])
    _receiving_service(s, params["service"], customer.id)
    _as(s, actor, params["reason"])
    count, taken = params["count"], []
    while len(taken) < count:
        more = s.scalars(
            text(_WAIT_FOR_STOCK.format(location=where_location)),
            {**params, "template_id": tpl.id, "taken": taken, "count": count - len(taken)},
        ).all()
        if not more:
            break
        taken.extend(more)
    if len(taken) < count:
        raise OutOfStock(tpl.name, count, len(taken), place)
    return [Picked(*r) for r in execute_or_refuse(s, text(_ASSIGN_LOCKED), {**params, "ids": taken})]


def _log_allocation(s: Session, actor: Actor, params: dict[str, Any], picked: list[Picked]) -> list[Picked]:
    """The slow path's activity entry: the fast path's statement writes the same row itself."""
    picked.sort(key=lambda p: p.id)
    count = len(picked)
    shown = ", ".join(p.itemtext1 for p in picked[:5]) + (f" and {count - 5} more" if count > 5 else "")
    s.execute(insert(ActivityEntry).values(
        actor_user_id=actor.user_id, actor_name=actor.username, customer_id=params["customer"],
        entity_type="inventory_item", entity_id=picked[0].id if count == 1 else None, action="allocate",
        summary=params["summary"] + shown, changes={"items": [p.id for p in picked]},
    ))
    return picked


def allocate(
    db, actor: Actor, template_name: str, count: int = 1, *, customer_id: int, service_id: int | None = None,
    location: str | None = None, reason: str = "", session: Session | None = None,
) -> list[Picked]:
    """Take `count` items of a template from stock for a customer (and service): all of them or none.

    Two workstations picking at once never get the same item and never wait for each other
    (FOR UPDATE SKIP LOCKED). When too few free rows are found, the picker waits for the others to
    finish and looks again, so OutOfStock means the stock really is not there; nothing is taken.
    Inside a caller's transaction (`session=`), a rollback there returns the items to stock.
    """
    actor.require("update_inventory", "allocate inventory")
    if not isinstance(count, int) or count < 1:
        raise ValidationError({"count": f"Count must be a whole number of at least 1; got {count!r}."})
    if count > 10_000:
        raise ValidationError({"count": "At most 10,000 items can be allocated at once."})
    place = _location(location) or None
    where_location = "AND item_location = :location" if place else ""
    to = f" for service {service_id}" if service_id else ""
    params = {"template": template_name, "customer": customer_id, "service": service_id, "count": count,
              "location": place, "actor": actor.username, "actor_id": actor.user_id, "reason": reason or "allocated",
              "summary": f"Allocated {count} {template_name}{to}: "}
    if session is not None:
        # A savepoint, so that a short pick gives back the row locks it did get before waiting for others.
        fast = session.begin_nested()
        picked = _pick_fast(_in_session(session), params)
        fast.commit() if picked else fast.rollback()
        if picked:
            return picked
        slow = session.begin_nested()
        try:
            picked = _pick_waiting(session, actor, params, where_location, place)
        except BaseException:
            slow.rollback()
            raise
        slow.commit()
        return _log_allocation(session, actor, params, picked)
    picked = _pick_fast(_autocommit(db), params)
    if picked:
        return picked
    with db.transaction() as s:
        return _log_allocation(s, actor, params, _pick_waiting(s, actor, params, where_location, place))


def release(db, actor: Actor, item_ids: Sequence[int], *, reason: str = "released", session: Session | None = None) -> list[ItemView]:
    """Return assigned items to stock in the state they had before they were picked (New or Used).

    For work that committed a pick and then failed (a provisioning job's rollback). Items that were
    really used by the customer go back through `return_item` instead.
    """
    actor.require("update_inventory", "release inventory")
    ids = sorted(set(item_ids))
    with _unit(db, session) as s:
        items = s.scalars(select(InventoryItem).where(InventoryItem.id.in_(ids)).order_by(InventoryItem.id).with_for_update()).all()
        missing = sorted(set(ids) - {i.id for i in items})
        if missing:
            raise NotFound(f"There is no inventory item {missing[0]}.")
        _as(s, actor, reason)
        views = []
        for item in items:
            tpl = _template(s, item.template_id)
            if item.item_state != "assigned":
                raise ServiceError(f"{_describe(item, tpl)} is {rules.state_label(item.item_state)}, not Assigned; there is nothing to release.")
            before = s.scalar(
                select(InventoryItemHistory.from_state).where(
                    InventoryItemHistory.item_id == item.id, InventoryItemHistory.to_state == "assigned"
                ).order_by(InventoryItemHistory.id.desc()).limit(1)
            )
            back = before if before in rules.STOCK_STATES else "used"
            customer_id = item.customer_id
            item.item_state, item.customer_id, item.service_id = back, None, None
            flush_or_refuse(s)
            activity.record(
                s, actor, action="release", entity_type="inventory_item", entity_id=item.id, customer_id=customer_id,
                summary=f"Released {_describe(item, tpl)} back to stock as {rules.state_label(back)}: {reason}",
                changes={"item_state": ["assigned", back]},
            )
            s.refresh(item)
            views.append(_item_view(item, tpl))
        return views


def return_item(db, actor: Actor, item_id: int, *, condition: str = "used", reason: str = "") -> ItemView:
    """The customer sent a device back: it goes to stock as Used, or to Damaged for repair."""
    actor.require("update_inventory", "receive returned items")
    target = condition if condition in ("used", "damaged") else None
    if target is None:
        raise ValidationError({"condition": f"A returned item is 'used' (back to stock) or 'damaged'; got {condition!r}."})
    with db.transaction() as s:
        item = _item(s, item_id, lock=True)
        tpl = _template(s, item.template_id)
        if item.item_state not in ("assigned", "lost", "stolen"):
            raise ServiceError(f"{_describe(item, tpl)} is {rules.state_label(item.item_state)}; only an item out with a "
                               "customer (or marked lost or stolen) can be returned.")
        problem = rules.transition_error(item.item_state, target)
        if problem:
            raise ServiceError(f"{_describe(item, tpl)}: {problem}")
        _as(s, actor, reason or "returned by customer")
        old, customer_id = item.item_state, item.customer_id
        item.item_state = target
        item.customer_id = item.service_id = None
        flush_or_refuse(s)
        if customer_id is not None:
            activity.record(
                s, actor, action="return", entity_type="inventory_item", entity_id=item.id, customer_id=customer_id,
                summary=f"Received {_describe(item, tpl)} back as {rules.state_label(target)}",
                changes={"item_state": [old, target]},
            )
        s.refresh(item)
        return _item_view(item, tpl)


def end_of_service(session: Session, actor: Actor, service: Service, *, now: dt.datetime | None = None) -> tuple[list[int], list[int]]:
    """What happens to a service's items when it ends: (back to stock as Used, awaiting return).

    Non-returnable items (SIMs, numbers) go back to stock as Used. Returnable hardware stays with
    the customer, Assigned, with a return due date RETURN_GRACE_DAYS away; `mark_overdue_returns_lost`
    marks it Lost after that. Runs inside the caller's transaction (the service status change).
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    rows = session.execute(
        select(InventoryItem, InventoryTemplate.returnable)
        .join(InventoryTemplate, InventoryTemplate.id == InventoryItem.template_id)
        .where(InventoryItem.service_id == service.id, InventoryItem.item_state == "assigned")
        .order_by(InventoryItem.id)
        .with_for_update(of=InventoryItem)
    ).all()
    _as(session, actor, f"service {service.id} ended")
    restocked, awaiting = [], []
    for item, returnable in rows:
        if returnable:
            if item.return_due_at is None:
                item.return_due_at = now + dt.timedelta(days=rules.RETURN_GRACE_DAYS)
            awaiting.append(item.id)
        else:
            item.item_state, item.customer_id, item.service_id = "used", None, None
            restocked.append(item.id)
    flush_or_refuse(session)
    return restocked, awaiting


def mark_overdue_returns_lost(db, actor: Actor, *, now: dt.datetime | None = None) -> list[int]:
    """Hardware not returned by its due date becomes Lost (the customer link is kept for the audit)."""
    actor.require("update_inventory", "mark unreturned items lost")
    now = now or dt.datetime.now(dt.timezone.utc)
    with db.transaction() as s:
        items = s.scalars(
            select(InventoryItem).where(InventoryItem.item_state == "assigned", InventoryItem.return_due_at < now)
            .order_by(InventoryItem.id).with_for_update(skip_locked=True)
        ).all()
        _as(s, actor, f"not returned within {rules.RETURN_GRACE_DAYS} days")
        for item in items:
            tpl = _template(s, item.template_id)
            item.item_state = "lost"
            flush_or_refuse(s)
            activity.record(
                s, actor, action="state", entity_type="inventory_item", entity_id=item.id, customer_id=item.customer_id,
                summary=f"{_describe(item, tpl)} not returned within {rules.RETURN_GRACE_DAYS} days: marked Lost",
                changes={"item_state": ["assigned", "lost"]},
            )
        return [i.id for i in items]


# --- lists and search ---


def _prefix_range(column, prefix: str):
    """column starts with prefix, as a range the (C-collated) index answers even in a generic plan."""
    after = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(column >= prefix, column < after)


def _item_filter(session: Session, *, template: str | None = None, state: str | None = None, location: str | None = None,
                 assigned: bool | None = None, customer_id: int | None = None, service_id: int | None = None):
    conditions = []
    if template:
        conditions.append(InventoryItem.template_id == template_by_name(session, template).id)
    if state:
        try:
            conditions.append(InventoryItem.item_state == rules.item_state(state))
        except FieldError as exc:
            raise ValidationError({"state": str(exc)}) from None
    if location:
        conditions.append(InventoryItem.item_location == location)
    if assigned is True:
        conditions.append(InventoryItem.customer_id.is_not(None))
    elif assigned is False:
        conditions.append(InventoryItem.customer_id.is_(None))
    if customer_id is not None:
        conditions.append(InventoryItem.customer_id == customer_id)
    if service_id is not None:
        conditions.append(InventoryItem.service_id == service_id)
    return and_(True, *conditions)


def _matches(where, search: str, enough: int | None):
    """(item id, matched identifier) of the items whose identifier starts with `search` (or whose id it is).

    One range scan per identifier column, each in identifier order and stopped after `enough` rows,
    so a broad prefix ("8944…") costs no more than a narrow one. Items are often numbered in the
    order of their identifiers (a box imported in ICCID order), which is why the newest-first order
    of the plain list would walk most of the table before finding a mid-range prefix.
    """
    query = search.strip()
    terms = [query] + ([query.replace(" ", "")] if " " in query else [])
    branches = []
    for term in terms:
        for column in (InventoryItem.itemtext1, InventoryItem.itemtext2):
            branch = select(InventoryItem.id, column.label("key")).where(where, _prefix_range(column, term)).order_by(column, InventoryItem.id)
            branches.append(branch.limit(enough) if enough else branch)
    digits = query.lstrip("#")
    if digits.isdigit() and len(digits) <= 18:
        branches.append(select(InventoryItem.id, InventoryItem.itemtext1.label("key")).where(where, InventoryItem.id == int(digits)))
    parts = [b.subquery() for b in branches]
    found = union_all(*(select(p.c.id, p.c.key) for p in parts)).subquery()
    return select(found.c.id, func.min(found.c.key).label("key")).group_by(found.c.id)


def list_items(
    db, actor: Actor, *, template: str | None = None, state: str | None = None, location: str | None = None,
    assigned: bool | None = None, customer_id: int | None = None, service_id: int | None = None, search: str = "",
    offset: int = 0, limit: int = 100,
) -> list[ItemRow]:
    """One page of items, newest first; with `search`, the items whose identifier (item text 1 or 2:
    ICCID, IMSI, number, MAC, serial) starts with it, or whose id it is, in identifier order."""
    actor.require("view_inventory", "view inventory")
    limit, offset = max(1, min(limit, MAX_PAGE)), max(0, offset)
    with db.read() as s:
        where = _item_filter(s, template=template, state=state, location=location, assigned=assigned,
                             customer_id=customer_id, service_id=service_id)
        if (search or "").strip():
            hits = _matches(where, search, offset + limit).subquery()
            page = select(hits.c.id, hits.c.key).order_by(hits.c.key, hits.c.id).offset(offset).limit(limit).subquery()
            order = (page.c.key, page.c.id)
        else:
            page = select(InventoryItem.id).where(where).order_by(InventoryItem.id.desc()).offset(offset).limit(limit).subquery()
            order = (page.c.id.desc(),)
        rows = s.execute(
            select(InventoryItem.id, InventoryTemplate.name, InventoryItem.itemtext1, InventoryItem.itemtext2,
                   InventoryItem.item_state, InventoryItem.item_location, InventoryItem.customer_id, Customer.name,
                   InventoryItem.service_id, InventoryItem.sold_date, InventoryItem.updated_at)
            .select_from(page)
            .join(InventoryItem, InventoryItem.id == page.c.id)
            .join(InventoryTemplate, InventoryTemplate.id == InventoryItem.template_id)
            .outerjoin(Customer, Customer.id == InventoryItem.customer_id)
            .order_by(*order)
        ).all()
        return [ItemRow(*r) for r in rows]


def count_items(
    db, actor: Actor, *, template: str | None = None, state: str | None = None, location: str | None = None,
    assigned: bool | None = None, customer_id: int | None = None, service_id: int | None = None, search: str = "",
    cap: int | None = None,
) -> int:
    """How many items list_items would page through; with `cap`, counting stops at cap + 1 (shown as
    "more than cap"), which keeps a broad search over a million items fast."""
    actor.require("view_inventory", "view inventory")
    with db.read() as s:
        where = _item_filter(s, template=template, state=state, location=location, assigned=assigned,
                             customer_id=customer_id, service_id=service_id)
        if (search or "").strip():
            matching = _matches(where, search, cap + 1 if cap is not None else None)
        else:
            matching = select(InventoryItem.id).where(where)
        if cap is not None:
            matching = matching.limit(cap + 1)
        return s.scalar(select(func.count()).select_from(matching.subquery()))


def available_items(db, actor: Actor, template_name: str, *, location: str | None = None, limit: int = 200) -> list[ItemRow]:
    """What the inventory picker offers for one required type: New or Used, unassigned, of exactly that template."""
    actor.require("view_inventory", "view inventory")
    with db.read() as s:
        tpl = template_by_name(s, template_name)
        stmt = (
            select(InventoryItem.id, InventoryItem.itemtext1, InventoryItem.itemtext2, InventoryItem.item_state,
                   InventoryItem.item_location, InventoryItem.sold_date, InventoryItem.updated_at)
            .where(InventoryItem.template_id == tpl.id, InventoryItem.item_state.in_(rules.STOCK_STATES))
            .order_by(InventoryItem.id).limit(max(1, min(limit, MAX_PAGE)))
        )
        if location:
            stmt = stmt.where(InventoryItem.item_location == location)
        return [
            ItemRow(r.id, tpl.name, r.itemtext1, r.itemtext2, r.item_state, r.item_location, None, None, None,
                    r.sold_date, r.updated_at)
            for r in s.execute(stmt)
        ]


def items_of_service(db, actor: Actor, service_id: int) -> list[ItemView]:
    """The inventory linked to a service (the service's Inventory tab, with QR codes of management URLs)."""
    actor.require("view_inventory", "view inventory")
    with db.read() as s:
        rows = s.execute(
            select(InventoryItem, InventoryTemplate).join(InventoryTemplate, InventoryTemplate.id == InventoryItem.template_id)
            .where(InventoryItem.service_id == service_id).order_by(InventoryItem.id)
        ).all()
        return [_item_view(i, t) for i, t in rows]


def items_by_id(session: Session, ids: Sequence[int]) -> list[ItemView]:
    rows = session.execute(
        select(InventoryItem, InventoryTemplate).join(InventoryTemplate, InventoryTemplate.id == InventoryItem.template_id)
        .where(InventoryItem.id.in_(list(ids))).order_by(InventoryItem.id)
    ).all()
    return [_item_view(i, t) for i, t in rows]


def stock_count(session: Session, template_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(InventoryItem)
        .where(InventoryItem.template_id == template_id, InventoryItem.item_state.in_(rules.STOCK_STATES))
    )

"""Service use cases: a product delivered to a customer (and site), its status, dates, auto-renew, inventory.

A service is created from a standalone or bundle product the customer may order, with one stock
item picked for each inventory type the product needs, all in one transaction (a refusal anywhere
leaves no service and every item in stock). Afterwards only the source's editable fields can be
changed (seed 003 L13665-13744): an edit of a read-only one is refused with the field named.

Status moves follow rules.SERVICE_TRANSITIONS (the database trigger repeats them). When a service
ends (inactive or deactivated) its SIMs and numbers go back to stock as Used and its returnable
hardware waits 14 days for the customer to send it back (inventory.end_of_service); cancelling
(pending cancellation, inactive, deactivated) also stops auto-renewal.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from omnidesk import activity
from omnidesk.auth import Actor
from omnidesk.catalog import rules
from omnidesk.catalog.models import Product, ProductInventoryType
from omnidesk.customers import rules as crules
from omnidesk.customers.rules import FieldError, validate_all
from omnidesk.db.integrity import flush_or_refuse
from omnidesk.db.models import Customer, Service, Site
from omnidesk.errors import ConcurrentChange, NotFound, ServiceError, ValidationError
from omnidesk.inventory import service as inventory
from omnidesk.inventory.models import InventoryItem, InventoryTemplate

MAX_PAGE = 1000

# What an edit may change (the source's editable list) and why the rest may not.
EDITABLE = (
    "name", "service_type", "icon", "status", "active_date", "deactivate_date", "contract_end_date",
    "retail_cost", "wholesale_cost", "billed", "taxable", "promo_code", "visible_to_customer",
    "usage_visible_to_customer", "site_id", "notes", "auto_renew",
)
READ_ONLY = {
    "id": "it identifies the service",
    "customer_id": "a service stays with the customer it was created for",
    "product_id": "a service stays an instance of its product; add a new service to change plan",
    "service_uuid": "it is set by provisioning (the service's OCS account)",
    "provisioned_at": "it is recorded when the service is provisioned",
    "invoiced": "billing sets it when the service is invoiced",
    "provisioning_play": "it is copied from the product when the service is created",
    "provisioning_json_vars": "they are copied from the product when the service is created",
    "deprovisioning_play": "it is fixed when the service is created",
    "deprovisioning_json_vars": "they are fixed when the service is created",
    "bundled_parent_id": "it is set when the bundle is provisioned",
    "created_at": "it is recorded automatically",
    "updated_at": "it is recorded automatically",
    "version": "it is kept by the database",
}
FIELD_LABELS = {
    "service_uuid": "Service UUID", "customer_id": "Customer", "product_id": "Product", "provisioned_at": "Provisioned date",
    "invoiced": "Invoiced", "provisioning_play": "Provisioning play", "provisioning_json_vars": "Provisioning variables",
    "deprovisioning_play": "Deprovisioning play", "deprovisioning_json_vars": "Deprovisioning variables",
    "bundled_parent_id": "Bundled parent", "created_at": "Created", "updated_at": "Last modified", "id": "Service id",
    "version": "Version",
}
# The source's field names, accepted as aliases.
ALIASES = {
    "service_name": "name", "service_status": "status", "service_active_date": "active_date",
    "service_deactivate_date": "deactivate_date", "service_billed": "billed", "service_taxable": "taxable",
    "service_visible_to_customer": "visible_to_customer",
    "service_usage_visible_to_customer": "usage_visible_to_customer", "service_notes": "notes",
    "service_provisioned_date": "provisioned_at", "bundled_parent": "bundled_parent_id",
}
ENDING_STATUSES = ("inactive", "deactivated")
STOPS_RENEWAL = ("pending_cancellation", "inactive", "deactivated")


@dataclass(frozen=True)
class ServiceView:
    id: int
    customer_id: int
    customer_name: str
    product_id: int | None
    product_name: str | None
    site_id: int | None
    name: str
    service_type: str
    service_uuid: str | None
    icon: str
    status: str
    provisioned_at: dt.datetime
    active_date: dt.datetime | None
    deactivate_date: dt.datetime | None
    contract_end_date: dt.datetime | None
    retail_cost: Decimal
    wholesale_cost: Decimal
    billed: bool
    taxable: bool
    invoiced: bool
    promo_code: str | None
    visible_to_customer: bool
    usage_visible_to_customer: bool
    auto_renew: bool
    provisioning_play: str | None
    provisioning_json_vars: dict
    deprovisioning_play: str | None
    deprovisioning_json_vars: dict
    bundled_parent_id: int | None
    notes: str
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    inventory: tuple[inventory.Picked, ...] = ()

    @property
    def status_label(self) -> str:
        return rules.STATUS_LABELS[self.status]

    @property
    def next_statuses(self) -> tuple[str, ...]:
        return rules.SERVICE_TRANSITIONS[self.status]

    def badges(self, now: dt.datetime | None = None, outstanding: Decimal | None = None) -> tuple[rules.Badge, ...]:
        return rules.service_badges(self.status, self.deactivate_date, self.auto_renew,
                                    now or dt.datetime.now(dt.timezone.utc), outstanding)

    def expiring_soon(self, now: dt.datetime | None = None) -> bool:
        return rules.is_expiring_soon(self.status, self.deactivate_date, now or dt.datetime.now(dt.timezone.utc))


@dataclass(frozen=True)
class RenewalRow:
    """One line of "Upcoming auto-renewals": sorted by when it renews."""

    service_id: int
    service_name: str
    service_uuid: str | None
    customer_id: int
    customer_name: str
    product_id: int | None
    product_name: str  # "N/A" when the service has no product
    cost: Decimal | None  # the product's retail cost; None shows as "N/A"
    renews_on: dt.datetime
    status: str

    def renews_in(self, now: dt.datetime | None = None) -> str:
        return rules.relative(self.renews_on, now or dt.datetime.now(dt.timezone.utc))


# --- helpers ---


@contextlib.contextmanager
def _unit(db, session: Session | None) -> Iterator[Session]:
    if session is not None:
        yield session
        return
    with db.transaction() as s:
        yield s


def _moment(value, label: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(), dt.timezone.utc)
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise FieldError(f"{label} needs a date and time with a time zone.")
    return value


def _service(session: Session, service_id: int, *, lock: bool = False) -> Service:
    stmt = select(Service).where(Service.id == service_id)
    if lock:
        stmt = stmt.with_for_update()
    service = session.scalar(stmt)
    if service is None:
        raise NotFound(f"There is no service {service_id}.")
    return service


def _label(service: Service) -> str:
    return f"Service {service.id} ({service.name})"


def _view(session: Session, service: Service) -> ServiceView:
    customer_name = session.scalar(select(Customer.name).where(Customer.id == service.customer_id))
    product_name = session.scalar(select(Product.name).where(Product.id == service.product_id)) if service.product_id else None
    items = session.execute(
        select(InventoryItem.id, InventoryItem.itemtext1).where(InventoryItem.service_id == service.id).order_by(InventoryItem.id)
    ).all()
    return ServiceView(
        id=service.id, customer_id=service.customer_id, customer_name=customer_name, product_id=service.product_id,
        product_name=product_name, site_id=service.site_id, name=service.name, service_type=service.service_type,
        service_uuid=service.service_uuid, icon=service.icon, status=service.status,
        provisioned_at=service.provisioned_at, active_date=service.active_date,
        deactivate_date=service.deactivate_date, contract_end_date=service.contract_end_date,
        retail_cost=service.retail_cost, wholesale_cost=service.wholesale_cost, billed=service.billed,
        taxable=service.taxable, invoiced=service.invoiced, promo_code=service.promo_code,
        visible_to_customer=service.visible_to_customer, usage_visible_to_customer=service.usage_visible_to_customer,
        auto_renew=service.auto_renew, provisioning_play=service.provisioning_play,
        provisioning_json_vars=dict(service.provisioning_json_vars or {}), deprovisioning_play=service.deprovisioning_play,
        deprovisioning_json_vars=dict(service.deprovisioning_json_vars or {}), bundled_parent_id=service.bundled_parent_id,
        notes=service.notes, created_at=service.created_at, updated_at=service.updated_at, version=service.version,
        inventory=tuple(inventory.Picked(i, t) for i, t in items),
    )


def _site(session: Session, site_id: int | None, customer_id: int) -> int | None:
    if site_id is None:
        return None
    site = session.get(Site, site_id)
    if site is None:
        raise ValidationError({"site_id": f"There is no site {site_id}."})
    if site.customer_id != customer_id:
        raise ValidationError({"site_id": f"Site {site_id} ({site.name}) belongs to another customer."})
    return site.id


def _auto_renew_choice(product: Product, wanted: bool | None) -> bool:
    """The product's auto-renew setting applied to the order's answer."""
    label = f"Product {product.name}"
    if product.auto_renew == "prompt":
        if wanted is None:
            raise ValidationError({"auto_renew": f"{label} asks whether to renew automatically: answer yes or no."})
        return bool(wanted)
    default = product.auto_renew == "true"
    if wanted is None or bool(wanted) == default:
        return default
    if not product.allow_auto_renew:
        raise ValidationError({"auto_renew": f"{label} {'always' if default else 'never'} renews automatically; "
                                             "it does not allow a different choice."})
    return bool(wanted)


# --- creating ---


def create_service(
    db, actor: Actor, customer_id: int, product_id: int, *, site_id: int | None = None, name: str | None = None,
    inventory_items: Mapping[str, int] | None = None, pick_missing: bool = False, auto_renew: bool | None = None,
    active_date: dt.datetime | None = None, status: str = "active", promo_code: str | None = None, notes: str = "",
    self_purchase: bool = False, session: Session | None = None,
) -> ServiceView:
    """A new service for a customer from a standalone or bundle product, with its inventory picked.

    `inventory_items` maps each required template name (exactly) to the chosen item id (the picker);
    with `pick_missing` the types not chosen are taken from stock (the oldest first). Status is
    active, or inactive for a record whose provisioning has not completed yet.
    """
    actor.require("create_customer_service", "add services")
    if status not in ("active", "inactive"):
        raise ValidationError({"status": f"A new service is active or inactive (not yet provisioned); got {status!r}."})
    checks: dict[str, Callable[[], Any]] = {
        "active_date": lambda: _moment(active_date, "Active date"),
        "promo_code": lambda: crules.optional_text(promo_code, "Promo code", 40) or None,
        "notes": lambda: crules.optional_text(notes, "Notes", 10_000),
    }
    if name is not None:
        checks["name"] = lambda: crules.required_text(name, "Service name", 200)
    clean = validate_all(checks)
    chosen = dict(inventory_items or {})
    with _unit(db, session) as s:
        customer = inventory.receiving_customer(s, customer_id)
        product = s.get(Product, product_id)
        if product is None:
            raise NotFound(f"There is no product {product_id}.")
        now = dt.datetime.now(dt.timezone.utc)
        if product.category not in rules.SERVICE_CATEGORIES:
            raise ServiceError(f"{product.name} is an {product.category} product: add it to an existing service "
                               "rather than creating a service from it.")
        if not rules.available_at(product.enabled, product.available_from, product.available_until, now):
            raise ServiceError(f"{product.name} is not available to order now (disabled or outside its availability window).")
        if not rules.fits_customer_type(product.residential, product.business, customer.account_type):
            raise ServiceError(f"{product.name} is not offered to {customer.account_type} customers.")
        if self_purchase and not product.customer_can_purchase:
            raise ServiceError(f"{product.name} can only be ordered by staff.")
        site = _site(s, site_id, customer.id)
        renew = _auto_renew_choice(product, auto_renew)
        required = s.execute(
            select(InventoryTemplate.name).join(ProductInventoryType, ProductInventoryType.template_id == InventoryTemplate.id)
            .where(ProductInventoryType.product_id == product.id).order_by(ProductInventoryType.position)
        ).scalars().all()
        extra = sorted(set(chosen) - set(required))
        if extra:
            raise ValidationError({"inventory": f"{product.name} does not need {', '.join(repr(e) for e in extra)}"
                                                f"{'; it needs ' + ', '.join(required) if required else '; it needs no inventory'}."})
        missing = [t for t in required if t not in chosen]
        if missing and not pick_missing:
            raise ValidationError({"inventory": f"Choose {' and '.join('a ' + m for m in missing)} for {product.name}."})
        start = clean["active_date"] or now
        end = start + dt.timedelta(days=product.contract_days) if product.contract_days else None
        service = Service(
            customer_id=customer.id, site_id=site, product_id=product.id, name=clean.get("name") or product.name,
            service_type=product.service_type, icon=product.icon, status=status, active_date=start,
            deactivate_date=end, contract_end_date=end, retail_cost=product.retail_cost,
            wholesale_cost=product.wholesale_cost, promo_code=clean["promo_code"], auto_renew=renew,
            provisioning_play=product.provisioning_play, provisioning_json_vars=dict(product.provisioning_json_vars or {}),
            deprovisioning_play=product.provisioning_play,
            deprovisioning_json_vars=dict(product.provisioning_json_vars or {}), notes=clean["notes"],
        )
        s.add(service)
        flush_or_refuse(s)
        picked: dict[str, int] = {}
        for template_name in required:
            if template_name in chosen:
                kind = s.scalar(select(InventoryTemplate.name).join(InventoryItem, InventoryItem.template_id == InventoryTemplate.id)
                                .where(InventoryItem.id == chosen[template_name]))
                if kind is None:
                    raise ValidationError({"inventory": f"There is no inventory item {chosen[template_name]}."})
                if kind != template_name:
                    raise ValidationError({"inventory": f"Item {chosen[template_name]} is a {kind}, not a {template_name}."})
                picked[template_name] = inventory.assign_item(db, actor, chosen[template_name], customer.id,
                                                              service_id=service.id, reason=f"for service {service.id}",
                                                              session=s).id
            else:
                picked[template_name] = inventory.allocate(db, actor, template_name, 1, customer_id=customer.id,
                                                           service_id=service.id, reason=f"for service {service.id}",
                                                           session=s)[0].id
        activity.record(
            s, actor, action="create", entity_type="service", entity_id=service.id, customer_id=customer.id,
            summary=f"Added service {service.name} ({product.name})" + (", renewing automatically" if renew else ""),
            changes={"product_id": [None, product.id], "status": [None, status], "inventory": [None, picked]},
        )
        s.refresh(service)
        return _view(s, service)


def record_service_uuid(db, actor: Actor, service_id: int, service_uuid: str, *, session: Session | None = None) -> ServiceView:
    """Provisioning records the OCS account the service is (once; it never changes afterwards)."""
    actor.require("update_customer_service", "record provisioning results")
    uuid = crules.required_text(service_uuid, "Service UUID", 64)
    with _unit(db, session) as s:
        service = _service(s, service_id, lock=True)
        if service.service_uuid is not None and service.service_uuid != uuid:
            raise ServiceError(f"{_label(service)} already has the OCS account {service.service_uuid}; it cannot change.")
        service.service_uuid = uuid
        flush_or_refuse(s)
        s.refresh(service)
        return _view(s, service)


# --- reading ---


def get_service(db, actor: Actor, service_id: int) -> ServiceView:
    actor.require("view_customer_service", "view services")
    with db.read() as s:
        return _view(s, _service(s, service_id))


def list_services(
    db, actor: Actor, *, customer_id: int | None = None, status: str | None = None, service_type: str | None = None,
    search: str = "", offset: int = 0, limit: int = 100,
) -> list[ServiceView]:
    """Services newest first; search matches the service name, id, UUID or customer name."""
    actor.require("view_customer_service", "view services")
    stmt = select(Service).join(Customer, Customer.id == Service.customer_id).order_by(Service.id.desc())
    if customer_id is not None:
        stmt = stmt.where(Service.customer_id == customer_id)
    if status:
        try:
            stmt = stmt.where(Service.status == rules.service_status(status))
        except FieldError as exc:
            raise ValidationError({"status": str(exc)}) from None
    if service_type:
        stmt = stmt.where(Service.service_type == service_type)
    q = search.strip()
    if q:
        like = f"%{q.lower()}%"
        alternatives = [func.lower(Service.name).like(like), func.lower(Customer.name).like(like),
                        func.lower(Service.service_uuid).like(like)]
        if q.isdigit() and len(q) <= 18:
            alternatives.append(Service.id == int(q))
        stmt = stmt.where(or_(*alternatives))
    with db.read() as s:
        services = s.scalars(stmt.offset(max(0, offset)).limit(max(1, min(limit, MAX_PAGE)))).all()
        return [_view(s, x) for x in services]


# --- editing ---


def update_service(db, actor: Actor, service_id: int, *, expected_version: int | None = None, **changes: Any) -> ServiceView:
    """Change the editable fields; a read-only field in `changes` is refused with its name and why."""
    actor.require("update_customer_service", "edit services")
    changes = {ALIASES.get(k, k): v for k, v in changes.items()}
    locked = {k: f"{FIELD_LABELS.get(k, k)} is read-only: {READ_ONLY[k]}." for k in changes if k in READ_ONLY}
    if locked:
        raise ValidationError(locked)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ServiceError(f"Unknown service field(s): {', '.join(unknown)}.")
    checks: dict[str, Callable[[], Any]] = {}
    if "name" in changes:
        checks["name"] = lambda: crules.required_text(changes["name"], "Service name", 200)
    if "service_type" in changes:
        checks["service_type"] = lambda: rules.service_type(changes["service_type"])
    if "icon" in changes:
        checks["icon"] = lambda: crules.optional_text(changes["icon"], "Icon", 100)
    if "status" in changes:
        checks["status"] = lambda: rules.service_status(changes["status"])
    for key, label in (("active_date", "Active date"), ("deactivate_date", "Deactivate date"), ("contract_end_date", "Contract end date")):
        if key in changes:
            checks[key] = (lambda k, lb: lambda: _moment(changes[k], lb))(key, label)
    for key, label in (("retail_cost", "Retail cost"), ("wholesale_cost", "Wholesale cost")):
        if key in changes:
            checks[key] = (lambda k, lb: lambda: crules.money(changes[k], lb))(key, label)
    for key in ("billed", "taxable", "visible_to_customer", "usage_visible_to_customer", "auto_renew"):
        if key in changes:
            checks[key] = (lambda k: lambda: bool(changes[k]))(key)
    if "promo_code" in changes:
        checks["promo_code"] = lambda: crules.optional_text(changes["promo_code"], "Promo code", 40) or None
    if "notes" in changes:
        checks["notes"] = lambda: crules.optional_text(changes["notes"], "Notes", 10_000)
    clean = validate_all(checks)
    with db.transaction() as s:
        service = _service(s, service_id, lock=True)
        if expected_version is not None and service.version != expected_version:
            raise ConcurrentChange(f"{_label(service)} was changed by someone else since you opened it; reload it and try again.")
        if "site_id" in changes:
            clean["site_id"] = _site(s, changes["site_id"], service.customer_id)
        start = clean.get("active_date", service.active_date)
        end = clean.get("deactivate_date", service.deactivate_date)
        if start and end and end < start:
            raise ValidationError({"deactivate_date": f"The service would end ({end:%Y-%m-%d}) before it starts ({start:%Y-%m-%d})."})
        if clean.get("auto_renew") and not service.auto_renew:
            _check_can_renew(s, service)
        new_status = clean.pop("status", service.status)
        changed = activity.diff({k: getattr(service, k) for k in clean}, clean)
        for key, value in clean.items():
            setattr(service, key, value)
        flush_or_refuse(s)
        if changed:
            activity.record(s, actor, action="update", entity_type="service", entity_id=service.id,
                            customer_id=service.customer_id, summary=f"Edited service {service.name}", changes=changed)
        if new_status != service.status:
            _move(s, actor, service, new_status, "")
        s.refresh(service)
        return _view(s, service)


def _check_can_renew(session: Session, service: Service) -> None:
    if service.status not in rules.LIVE_STATUSES or service.status == "pending_cancellation":
        raise ValidationError({"auto_renew": f"{_label(service)} is {rules.STATUS_LABELS[service.status]}; only an "
                                             "active or suspended service can renew automatically."})
    if service.product_id is not None:
        product = session.get(Product, service.product_id)
        if product.auto_renew == "false" and not product.allow_auto_renew:
            raise ValidationError({"auto_renew": f"Product {product.name} does not renew automatically."})


def _move(session: Session, actor: Actor, service: Service, target: str, reason: str, now: dt.datetime | None = None) -> None:
    problem = rules.service_transition_error(service.status, target)
    if problem:
        raise ServiceError(f"{_label(service)}: {problem}")
    now = now or dt.datetime.now(dt.timezone.utc)
    old = service.status
    changes: dict[str, list] = {"status": [old, target]}
    service.status = target
    if target in STOPS_RENEWAL and service.auto_renew:
        service.auto_renew = False
        changes["auto_renew"] = [True, False]
    if target == "deactivated":
        if service.deactivate_date is None or service.deactivate_date > now:
            changes["deactivate_date"] = [service.deactivate_date, now]
            service.deactivate_date = now
    flush_or_refuse(session)
    summary = f"Status {rules.STATUS_LABELS[old]} → {rules.STATUS_LABELS[target]}"
    if target in ENDING_STATUSES:
        restocked, awaiting = inventory.end_of_service(session, actor, service, now=now)
        if restocked:
            changes["restocked_items"] = restocked
            summary += f"; {len(restocked)} item{'s' if len(restocked) != 1 else ''} back to stock"
        if awaiting:
            changes["items_to_return"] = awaiting
            summary += f"; {len(awaiting)} device{'s' if len(awaiting) != 1 else ''} to be returned within 14 days"
    if old in ENDING_STATUSES and target == "active":
        # Brought back: the devices still with the customer are no longer due back.
        kept = session.execute(
            update(InventoryItem).where(InventoryItem.service_id == service.id, InventoryItem.item_state == "assigned",
                                        InventoryItem.return_due_at.is_not(None))
            .values(return_due_at=None, version=InventoryItem.version + 1).returning(InventoryItem.id)
        ).scalars().all()
        if kept:
            changes["items_kept"] = list(kept)
    if reason:
        summary += f": {reason}"
    activity.record(session, actor, action="status", entity_type="service", entity_id=service.id,
                    customer_id=service.customer_id, summary=summary, changes=changes)


def change_service_status(
    db, actor: Actor, service_id: int, new_status: str, *, reason: str = "", now: dt.datetime | None = None,
    session: Session | None = None,
) -> ServiceView:
    """Suspend, resume, cancel (pending cancellation), end (inactive) or deactivate a service."""
    actor.require("update_customer_service", "change service status")
    try:
        target = rules.service_status(new_status)
    except FieldError as exc:
        raise ValidationError({"status": str(exc)}) from None
    why = crules.optional_text(reason, "Reason", 500)
    with _unit(db, session) as s:
        service = _service(s, service_id, lock=True)
        _move(s, actor, service, target, why, now)
        s.refresh(service)
        return _view(s, service)


def remove_auto_renew(db, actor: Actor, service_id: int) -> ServiceView:
    """Stop a service renewing; its status is unchanged and it expires at its current end date."""
    actor.require("update_customer_service", "change auto-renewal")
    with db.transaction() as s:
        service = _service(s, service_id, lock=True)
        if not service.auto_renew:
            raise ServiceError(f"{_label(service)} does not renew automatically.")
        service.auto_renew = False
        flush_or_refuse(s)
        ends = f"; it ends {service.deactivate_date:%Y-%m-%d %H:%M %Z}" if service.deactivate_date else ""
        activity.record(s, actor, action="update", entity_type="service", entity_id=service.id,
                        customer_id=service.customer_id, summary=f"Removed auto-renew from service {service.name}{ends}",
                        changes={"auto_renew": [True, False]})
        s.refresh(service)
        return _view(s, service)


def link_inventory(db, actor: Actor, service_id: int, item_id: int) -> ServiceView:
    """Link a stock item to a service (and its customer): the service edit's linked inventory."""
    actor.require("update_customer_service", "edit services")
    with db.transaction() as s:
        service = _service(s, service_id, lock=True)
        if service.status not in rules.LIVE_STATUSES:
            raise ServiceError(f"{_label(service)} is {rules.STATUS_LABELS[service.status]}; link inventory to a live service.")
        inventory.assign_item(db, actor, item_id, service.customer_id, service_id=service.id,
                              reason=f"linked to service {service.id}", session=s)
        s.refresh(service)
        return _view(s, service)


def unlink_inventory(db, actor: Actor, service_id: int, item_id: int, *, to_state: str = "used", reason: str = "") -> ServiceView:
    """Take an item off a service: back to stock (Used, or New if never used) or Damaged."""
    actor.require("update_customer_service", "edit services")
    if to_state not in ("new", "used", "damaged"):
        raise ValidationError({"to_state": f"An unlinked item goes to New, Used or Damaged; got {to_state!r}."})
    with db.transaction() as s:
        service = _service(s, service_id, lock=True)
        item = s.get(InventoryItem, item_id)
        if item is None or item.service_id != service.id:
            raise NotFound(f"Inventory item {item_id} is not linked to {_label(service)}.")
        inventory.change_state(db, actor, item_id, to_state, reason=reason or f"unlinked from service {service.id}", session=s)
        s.refresh(service)
        return _view(s, service)


# --- renewals and expiry ---


def upcoming_auto_renewals(db, actor: Actor, *, within_days: int = 30, now: dt.datetime | None = None) -> list[RenewalRow]:
    """Live services that renew automatically by `within_days` from now (overdue ones first), soonest first."""
    actor.require("view_customer_service", "view services")
    now = now or dt.datetime.now(dt.timezone.utc)
    horizon = now + dt.timedelta(days=within_days)
    with db.read() as s:
        rows = s.execute(
            select(Service, Customer.name, Product.name, Product.retail_cost)
            .join(Customer, Customer.id == Service.customer_id)
            .outerjoin(Product, Product.id == Service.product_id)
            .where(Service.auto_renew, Service.status.in_(("active", "suspended")),
                   Service.deactivate_date.is_not(None), Service.deactivate_date <= horizon)
            .order_by(Service.deactivate_date, Service.id)
        ).all()
        return [
            RenewalRow(x.id, x.name, x.service_uuid, x.customer_id, customer_name, x.product_id, product_name or "N/A",
                       cost, x.deactivate_date, x.status)
            for x, customer_name, product_name, cost in rows
        ]


def expiring_services(db, actor: Actor, *, within_days: int = rules.EXPIRING_SOON_DAYS, now: dt.datetime | None = None) -> list[ServiceView]:
    """Live services whose end date falls within `within_days` (the Expiring Soon badge's list), soonest first."""
    actor.require("view_customer_service", "view services")
    now = now or dt.datetime.now(dt.timezone.utc)
    with db.read() as s:
        services = s.scalars(
            select(Service).where(Service.status.in_(rules.LIVE_STATUSES), Service.deactivate_date >= now,
                                  Service.deactivate_date <= now + dt.timedelta(days=within_days))
            .order_by(Service.deactivate_date, Service.id)
        ).all()
        return [_view(s, x) for x in services]

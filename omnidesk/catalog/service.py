"""Product use cases: the catalog the product editor manages, clones, and what a customer may order.

Every product field of the source is here (seed 003 L13278-13348, L21015-21744). A product names
the inventory templates it needs by their exact, case-sensitive names; they are stored as links to
the templates, so renaming a template keeps its products working (the source warns that a rename
breaks them) and a template a product needs cannot be removed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from omnidesk import activity
from omnidesk.auth import Actor
from omnidesk.catalog import rules
from omnidesk.catalog.models import Product, ProductInventoryType
from omnidesk.customers import rules as crules
from omnidesk.customers.rules import FieldError, validate_all
from omnidesk.db.integrity import flush_or_refuse
from omnidesk.db.models import Customer, Service
from omnidesk.errors import ConcurrentChange, NotFound, ServiceError, ValidationError
from omnidesk.inventory.models import InventoryTemplate

PRODUCT_FIELDS = (
    "name", "slug", "category", "service_type", "comment", "icon", "retail_cost", "wholesale_cost",
    "retail_setup_cost", "wholesale_setup_cost", "tax_percentage", "enabled", "residential", "business",
    "customer_can_purchase", "available_from", "available_until", "contract_days", "auto_renew",
    "allow_auto_renew", "terms", "features", "provisioning_play", "provisioning_json_vars", "inventory_types",
    "relies_on",
)
# The source's field names, accepted as aliases (CLI --json input, imports from OmniCRM).
ALIASES = {
    "product_name": "name", "product_slug": "slug", "features_list": "features", "inventory_items_list": "inventory_types",
    "relies_on_list": "relies_on",
}
MONEY_FIELDS = {
    "retail_cost": "Retail cost", "wholesale_cost": "Wholesale cost",
    "retail_setup_cost": "Retail setup cost", "wholesale_setup_cost": "Wholesale setup cost",
}
FLAGS = ("enabled", "residential", "business", "customer_can_purchase", "allow_auto_renew")
# The product editor's five tabs and the fields on each (the source's modal, L13177-13266).
EDITOR_TABS = {
    "Basic Info": ("name", "slug", "category", "service_type", "icon", "features", "terms", "comment"),
    "Pricing": ("retail_cost", "wholesale_cost", "retail_setup_cost", "wholesale_setup_cost", "tax_percentage"),
    "Configuration": ("auto_renew", "allow_auto_renew", "contract_days", "residential", "business",
                      "customer_can_purchase", "relies_on"),
    "Provisioning": ("provisioning_play", "provisioning_json_vars", "inventory_types"),
    "Availability": ("enabled", "available_from", "available_until"),
}


@dataclass(frozen=True)
class ProductView:
    id: int
    name: str
    slug: str
    category: str
    service_type: str
    comment: str
    icon: str
    retail_cost: Decimal
    wholesale_cost: Decimal
    retail_setup_cost: Decimal
    wholesale_setup_cost: Decimal
    tax_percentage: Decimal
    enabled: bool
    residential: bool
    business: bool
    customer_can_purchase: bool
    available_from: dt.datetime | None
    available_until: dt.datetime | None
    contract_days: int
    auto_renew: str
    allow_auto_renew: bool
    terms: str
    features: tuple[str, ...]
    provisioning_play: str | None
    provisioning_json_vars: dict
    inventory_types: tuple[str, ...]  # template names, in the order the picker asks for them
    relies_on: tuple[str, ...]
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int

    @property
    def margin(self) -> rules.Margin:
        return rules.margin(self.retail_cost, self.wholesale_cost)

    @property
    def setup_margin(self) -> rules.Margin:
        return rules.margin(self.retail_setup_cost, self.wholesale_setup_cost)

    @property
    def auto_renew_label(self) -> str:
        return {"prompt": "Prompt", "true": "Yes", "false": "No"}[self.auto_renew]

    @property
    def action_name(self) -> str:
        """The OCS action a renewal runs: Action_<slug>."""
        return f"Action_{self.slug}"

    def available(self, at: dt.datetime) -> bool:
        return rules.available_at(self.enabled, self.available_from, self.available_until, at)


# --- helpers ---


def _inventory_names(session: Session, product_ids: list[int]) -> dict[int, tuple[str, ...]]:
    rows = session.execute(
        select(ProductInventoryType.product_id, InventoryTemplate.name)
        .join(InventoryTemplate, InventoryTemplate.id == ProductInventoryType.template_id)
        .where(ProductInventoryType.product_id.in_(product_ids))
        .order_by(ProductInventoryType.product_id, ProductInventoryType.position)
    ).all()
    names: dict[int, list[str]] = {}
    for pid, name in rows:
        names.setdefault(pid, []).append(name)
    return {pid: tuple(v) for pid, v in names.items()}


def _view(p: Product, inventory: tuple[str, ...]) -> ProductView:
    return ProductView(
        p.id, p.name, p.slug, p.category, p.service_type, p.comment, p.icon, p.retail_cost, p.wholesale_cost,
        p.retail_setup_cost, p.wholesale_setup_cost, p.tax_percentage, p.enabled, p.residential, p.business,
        p.customer_can_purchase, p.available_from, p.available_until, p.contract_days, p.auto_renew,
        p.allow_auto_renew, p.terms, tuple(p.features or ()), p.provisioning_play, dict(p.provisioning_json_vars or {}),
        inventory, tuple(p.relies_on or ()), p.created_at, p.updated_at, p.version,
    )


def product_view(session: Session, p: Product) -> ProductView:
    return _view(p, _inventory_names(session, [p.id]).get(p.id, ()))


def _product(session: Session, product: int | str, *, lock: bool = False) -> Product:
    if isinstance(product, int) or (isinstance(product, str) and product.isdigit()):
        stmt = select(Product).where(Product.id == int(product))
    else:
        stmt = select(Product).where(func.lower(Product.slug) == product.strip().lower())
    if lock:
        stmt = stmt.with_for_update()
    found = session.scalar(stmt)
    if found is None:
        raise NotFound(f"There is no product {product}.")
    return found


def _canonical(values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        key = ALIASES.get(key, key)
        if key not in PRODUCT_FIELDS:
            raise ServiceError(f"Unknown product field: {key}.")
        out[key] = value
    return out


def _checks(values: dict[str, Any], creating: bool, playbooks_dir: Path) -> dict[str, Callable[[], Any]]:
    checks: dict[str, Callable[[], Any]] = {}

    def need(key: str) -> bool:
        return key in values or (creating and key in ("name", "category", "service_type"))

    if need("name"):
        checks["name"] = lambda: rules.product_name(values.get("name"))
    if "slug" in values or creating:
        checks["slug"] = lambda: rules.slug(values.get("slug") or (rules.slug_from(values.get("name") or "") if creating else ""))
    if need("category"):
        checks["category"] = lambda: rules.category(values.get("category"))
    if need("service_type"):
        checks["service_type"] = lambda: rules.service_type(values.get("service_type"))
    if "comment" in values:
        checks["comment"] = lambda: crules.optional_text(values["comment"], "Comment", 10_000)
    if "icon" in values:
        checks["icon"] = lambda: crules.optional_text(values["icon"], "Icon", 100)
    for key, label in MONEY_FIELDS.items():
        if key in values:
            checks[key] = (lambda k, lb: lambda: crules.money(values[k], lb))(key, label)
    if "tax_percentage" in values:
        checks["tax_percentage"] = lambda: rules.tax_percentage(values["tax_percentage"])
    for key in FLAGS:
        if key in values:
            checks[key] = (lambda k: lambda: bool(values[k]))(key)
    if "contract_days" in values:
        checks["contract_days"] = lambda: rules.contract_days(values["contract_days"])
    if "auto_renew" in values:
        checks["auto_renew"] = lambda: rules.auto_renew(values["auto_renew"])
    if "terms" in values:
        checks["terms"] = lambda: crules.optional_text(values["terms"], "Terms", 20_000)
    if "features" in values:
        checks["features"] = lambda: rules.features(values["features"])
    if "provisioning_play" in values:
        checks["provisioning_play"] = lambda: rules.playbook(values["provisioning_play"], playbooks_dir)
    if "provisioning_json_vars" in values:
        checks["provisioning_json_vars"] = lambda: rules.json_vars(values["provisioning_json_vars"])
    if "inventory_types" in values:
        checks["inventory_types"] = lambda: rules.inventory_types(values["inventory_types"])
    if "relies_on" in values:
        checks["relies_on"] = lambda: rules.relies_on(values["relies_on"])
    return checks


def _clean(values: dict[str, Any], current: Product | None, playbooks_dir: Path) -> dict[str, Any]:
    clean = validate_all(_checks(values, current is None, playbooks_dir))
    if "available_from" in values or "available_until" in values:
        try:
            clean["available_from"], clean["available_until"] = rules.availability(
                values.get("available_from", current.available_from if current else None),
                values.get("available_until", current.available_until if current else None),
            )
        except FieldError as exc:
            raise ValidationError({"available_until": str(exc)}) from None
    category = clean.get("category", current.category if current else None)
    relies = clean.get("relies_on", list(current.relies_on) if current else [])
    if category == "standalone" and relies:
        raise ValidationError({"relies_on": "A standalone product creates its own service and relies on no other; "
                                            "make it an addon or clear Relies on."})
    return clean


def _resolve_templates(session: Session, names: list[str]) -> list[int]:
    """Template ids for names, exactly as written; a refusal names each missing one."""
    found = dict(session.execute(select(InventoryTemplate.name, InventoryTemplate.id).where(InventoryTemplate.name.in_(names))).all())
    missing = [n for n in names if n not in found]
    if missing:
        all_names = session.scalars(select(InventoryTemplate.name)).all()
        parts = []
        for n in missing:
            near = next((a for a in all_names if a.lower() == n.lower()), None)
            parts.append(f"{n!r} (names are case-sensitive — did you mean {near!r}?)" if near else repr(n))
        raise ValidationError({"inventory_types": f"There is no inventory template named {', '.join(parts)}."})
    return [found[n] for n in names]


def _check_relies_on(session: Session, relies: list[str], own_id: int | None) -> None:
    ids = [int(r) for r in relies if r.isdigit()]
    if own_id is not None and own_id in ids:
        raise ValidationError({"relies_on": "A product cannot rely on itself."})
    if ids:
        existing = set(session.scalars(select(Product.id).where(Product.id.in_(ids))))
        missing = [i for i in ids if i not in existing]
        if missing:
            raise ValidationError({"relies_on": f"There is no product {missing[0]} to rely on."})


def _slug_taken(session: Session, slug: str, own_id: int | None) -> bool:
    stmt = select(Product.id).where(func.lower(Product.slug) == slug.lower())
    if own_id is not None:
        stmt = stmt.where(Product.id != own_id)
    return session.scalar(stmt) is not None


def _set_inventory(session: Session, product: Product, template_ids: list[int]) -> None:
    session.query(ProductInventoryType).filter(ProductInventoryType.product_id == product.id).delete()
    session.flush()
    for position, tid in enumerate(template_ids, start=1):
        session.add(ProductInventoryType(product_id=product.id, position=position, template_id=tid))


# --- use cases ---


def list_products(
    db, actor: Actor, *, search: str = "", category: str | None = None, service_type: str | None = None,
    include_disabled: bool = True,
) -> list[ProductView]:
    """The management list: every product, disabled and out-of-window ones too unless told otherwise."""
    actor.require("view_product", "view products")
    with db.read() as s:
        stmt = select(Product).order_by(Product.name, Product.id)
        if search.strip():
            q = f"%{search.strip().lower()}%"
            stmt = stmt.where(or_(func.lower(Product.name).like(q), func.lower(Product.slug).like(q)))
        if category:
            stmt = stmt.where(Product.category == category)
        if service_type:
            stmt = stmt.where(Product.service_type == service_type)
        if not include_disabled:
            now = func.now()
            stmt = stmt.where(Product.enabled, or_(Product.available_from.is_(None), Product.available_from <= now),
                              or_(Product.available_until.is_(None), Product.available_until > now))
        products = s.scalars(stmt).all()
        names = _inventory_names(s, [p.id for p in products])
        return [_view(p, names.get(p.id, ())) for p in products]


def get_product(db, actor: Actor, product: int | str) -> ProductView:
    actor.require("view_product", "view products")
    with db.read() as s:
        return product_view(s, _product(s, product))


def create_product(db, actor: Actor, *, playbooks_dir: Path | None = None, **values: Any) -> ProductView:
    """A new product; every field is checked (playbook exists, variables are a JSON object, each
    inventory type names a template exactly) and the first problem of each field is reported."""
    actor.require("create_product", "create products")
    values = _canonical(values)
    clean = _clean(values, None, playbooks_dir or rules.default_playbooks_dir())
    inventory = clean.pop("inventory_types", [])
    with db.transaction() as s:
        template_ids = _resolve_templates(s, inventory) if inventory else []
        _check_relies_on(s, clean.get("relies_on", []), None)
        if _slug_taken(s, clean["slug"], None):
            raise ValidationError({"slug": f"Slug {clean['slug']!r} is already used by another product."})
        product = Product(**clean)
        s.add(product)
        flush_or_refuse(s)
        _set_inventory(s, product, template_ids)
        flush_or_refuse(s)
        activity.record(
            s, actor, action="create", entity_type="product", entity_id=product.id,
            summary=f"Created {product.category} product {product.name}",
            changes={k: [None, v] for k, v in {**clean, "inventory_types": inventory}.items() if v not in (None, "", [], {})},
        )
        s.refresh(product)
        return product_view(s, product)


def update_product(
    db, actor: Actor, product_id: int, *, expected_version: int | None = None, playbooks_dir: Path | None = None,
    **changes: Any,
) -> ProductView:
    """Edit a product. Existing services keep the prices and variables they were created with."""
    actor.require("update_product", "edit products")
    changes = _canonical(changes)
    with db.transaction() as s:
        product = _product(s, product_id, lock=True)
        if expected_version is not None and product.version != expected_version:
            raise ConcurrentChange(f"Product {product.name} was changed by someone else since you opened it; reload it and try again.")
        clean = _clean(changes, product, playbooks_dir or rules.default_playbooks_dir())
        inventory = clean.pop("inventory_types", None)
        template_ids = _resolve_templates(s, inventory) if inventory else []
        if "relies_on" in clean:
            _check_relies_on(s, clean["relies_on"], product.id)
        if "slug" in clean and _slug_taken(s, clean["slug"], product.id):
            raise ValidationError({"slug": f"Slug {clean['slug']!r} is already used by another product."})
        before = {k: getattr(product, k) for k in clean}
        changed = activity.diff(before, clean)
        if inventory is not None:
            old = list(_inventory_names(s, [product.id]).get(product.id, ()))
            if old != inventory:
                changed["inventory_types"] = [old, inventory]
                _set_inventory(s, product, template_ids)
        for key, value in clean.items():
            setattr(product, key, value)
        flush_or_refuse(s)
        if changed:
            activity.record(s, actor, action="update", entity_type="product", entity_id=product.id,
                            summary=f"Edited product {product.name}", changes=changed)
        s.refresh(product)
        return product_view(s, product)


def clone_product(db, actor: Actor, product_id: int) -> ProductView:
    """A copy named "<name>_clone" (slug "<slug>-clone"), disabled until someone has checked and enabled it."""
    actor.require("create_product", "clone products")
    with db.transaction() as s:
        original = _product(s, product_id)
        name = f"{original.name}_clone"[: rules.NAME_MAX]
        base = f"{original.slug}-clone"[: rules.SLUG_MAX - 4]
        slug, n = base, 1
        while _slug_taken(s, slug, None):
            n += 1
            slug = f"{base}-{n}"
        copied = {k: getattr(original, k) for k in PRODUCT_FIELDS if k not in ("name", "slug", "inventory_types", "enabled")}
        copied.update(features=list(original.features or ()), relies_on=list(original.relies_on or ()),
                      provisioning_json_vars=dict(original.provisioning_json_vars or {}))
        copy = Product(**copied, name=name, slug=slug, enabled=False)
        s.add(copy)
        flush_or_refuse(s)
        template_ids = [tid for (tid,) in s.execute(
            select(ProductInventoryType.template_id).where(ProductInventoryType.product_id == original.id)
            .order_by(ProductInventoryType.position))]
        _set_inventory(s, copy, template_ids)
        flush_or_refuse(s)
        activity.record(s, actor, action="clone", entity_type="product", entity_id=copy.id,
                        summary=f"Cloned product {original.name} as {name}", changes={"cloned_from": [None, original.id]})
        s.refresh(copy)
        return product_view(s, copy)


def catalog_for_customer(
    db, actor: Actor, customer_id: int, *, categories: tuple[str, ...] = rules.SERVICE_CATEGORIES,
    self_purchase: bool = False, at: dt.datetime | None = None,
) -> list[ProductView]:
    """What a customer may order now: enabled, inside the window, of their customer type, and (when
    the customer orders themselves) open to self-purchase. Staff see staff-only products too."""
    actor.require("view_product", "view products")
    at = at or dt.datetime.now(dt.timezone.utc)
    with db.read() as s:
        customer = s.get(Customer, customer_id)
        if customer is None:
            raise NotFound(f"There is no customer {customer_id}.")
        products = s.scalars(select(Product).where(Product.category.in_(categories)).order_by(Product.name)).all()
        eligible = [
            p for p in products
            if rules.available_at(p.enabled, p.available_from, p.available_until, at)
            and rules.fits_customer_type(p.residential, p.business, customer.account_type)
            and (p.customer_can_purchase or not self_purchase)
        ]
        names = _inventory_names(s, [p.id for p in eligible])
        return [_view(p, names.get(p.id, ())) for p in eligible]


def addons_for_service(db, actor: Actor, service_id: int, *, self_purchase: bool = False, at: dt.datetime | None = None) -> list[ProductView]:
    """Addons that can be added to a service: same service type, their dependency satisfied, the
    customer's type, enabled and inside their window."""
    actor.require("view_product", "view products")
    at = at or dt.datetime.now(dt.timezone.utc)
    with db.read() as s:
        service = s.get(Service, service_id)
        if service is None:
            raise NotFound(f"There is no service {service_id}.")
        customer = s.get(Customer, service.customer_id)
        products = s.scalars(select(Product).where(Product.category == "addon").order_by(Product.name)).all()
        eligible = [
            p for p in products
            if rules.addon_fits(p.category, p.service_type, list(p.relies_on or ()), service.service_type, service.product_id)
            and rules.available_at(p.enabled, p.available_from, p.available_until, at)
            and rules.fits_customer_type(p.residential, p.business, customer.account_type)
            and (p.customer_can_purchase or not self_purchase)
        ]
        names = _inventory_names(s, [p.id for p in eligible])
        return [_view(p, names.get(p.id, ())) for p in eligible]

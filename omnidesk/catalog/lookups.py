"""Small read-only queries the inventory, product and service screens need beside the use cases.

Plain SQLAlchemy, no Qt: each takes the database and the acting user like the service functions.
"""

from __future__ import annotations

from sqlalchemy import select

from omnidesk.auth import Actor
from omnidesk.db.models import Site
from omnidesk.inventory.models import InventoryItem

MAX_LOCATIONS = 500


def item_locations(db, actor: Actor, *, limit: int = MAX_LOCATIONS) -> list[str]:
    """The distinct non-empty item locations (stores, warehouses), alphabetically, for the location filter."""
    actor.require("view_inventory", "view inventory")
    with db.read() as s:
        return list(s.scalars(
            select(InventoryItem.item_location).where(InventoryItem.item_location != "")
            .group_by(InventoryItem.item_location).order_by(InventoryItem.item_location).limit(limit)
        ))


def customer_site_names(db, actor: Actor, customer_id: int) -> list[tuple[int, str]]:
    """(site id, name) of a customer's sites, for the service editor's Site choice."""
    actor.require("view_customer_service", "view services")
    with db.read() as s:
        return [(i, n) for i, n in s.execute(
            select(Site.id, Site.name).where(Site.customer_id == customer_id).order_by(Site.name, Site.id))]

"""Inventory tables: templates (item types), items, the history of every state change, the shared key.

Migration 0003 creates them together with the triggers that enforce what a CHECK cannot: the
allowed state transitions, one history row per state change (written by the database, so raw SQL
is recorded too), identifier uniqueness per template, and the sold date.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.db.models import Base, Money, _created, _in, _modified
from omnidesk.inventory.rules import ITEM_STATES, ITEMTEXT_COUNT

ITEMTEXTS = tuple(f"itemtext{n}" for n in range(1, ITEMTEXT_COUNT + 1))
LABELS = tuple(f"itemtext{n}_label" for n in range(1, ITEMTEXT_COUNT + 1))
# Identifiers (ICCID, IMSI, numbers, MACs) compare and sort byte-wise whatever the server's collation,
# so the prefix-search indexes work on a shared server too.
IDENTIFIER = String(200, collation="C")


class InventoryTemplate(Base):
    """An item type ("SIM Card"): its name is what products reference, exactly (case-sensitive)."""

    __tablename__ = "inventory_template"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    icon: Mapped[str] = mapped_column(String(100), server_default="")
    wholesale_cost: Mapped[Decimal] = mapped_column(Money)
    retail_cost: Mapped[Decimal] = mapped_column(Money)
    itemtext1_label: Mapped[str] = mapped_column(String(60), server_default="Model Number")
    itemtext2_label: Mapped[str] = mapped_column(String(60), server_default="Serial Number")
    for _n in range(3, ITEMTEXT_COUNT + 1):
        locals()[f"itemtext{_n}_label"] = mapped_column(String(60), nullable=True)
    del _n
    # Item text numbers whose values identify an item: unique among the template's items.
    unique_fields: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger), server_default=text("'{}'"))
    # Hardware the customer must send back when the service ends (14 days, then Lost).
    returnable: Mapped[bool] = mapped_column(Boolean, server_default="false")
    allow_dropdown_staff: Mapped[bool] = mapped_column(Boolean, server_default="true")
    allow_dropdown_customer: Mapped[bool] = mapped_column(Boolean, server_default="false")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _modified()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("length(name) BETWEEN 1 AND 100 AND name = btrim(name)", name="name_trimmed"),
        CheckConstraint("wholesale_cost >= 0 AND retail_cost >= 0", name="costs_not_negative"),
        CheckConstraint("length(btrim(itemtext1_label)) > 0 AND length(btrim(itemtext2_label)) > 0", name="labels_required"),
        CheckConstraint("unique_fields <@ ARRAY[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]::smallint[]",
                        name="unique_fields_range"),
    )

    def labels(self) -> dict[int, str | None]:
        return {n: getattr(self, f"itemtext{n}_label") for n in range(1, ITEMTEXT_COUNT + 1)}


class InventoryItem(Base):
    __tablename__ = "inventory_item"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("inventory_template.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    service_id: Mapped[int | None] = mapped_column(BigInteger)
    item_location: Mapped[str] = mapped_column(String(200), server_default="")
    item_state: Mapped[str] = mapped_column(String(16), server_default="new")
    itemtext1: Mapped[str] = mapped_column(IDENTIFIER)
    for _n in range(2, ITEMTEXT_COUNT + 1):
        locals()[f"itemtext{_n}"] = mapped_column(IDENTIFIER, nullable=True)
    del _n
    wholesale_cost: Mapped[Decimal] = mapped_column(Money)
    retail_cost: Mapped[Decimal] = mapped_column(Money)
    sold_date: Mapped[dt.datetime | None]
    # Set when the service of a returnable item ends; past it the item is marked lost.
    return_due_at: Mapped[dt.datetime | None]
    address_line_1: Mapped[str] = mapped_column(String(200), server_default="")
    address_line_2: Mapped[str] = mapped_column(String(200), server_default="")
    city: Mapped[str] = mapped_column(String(100), server_default="")
    state: Mapped[str] = mapped_column(String(100), server_default="")  # of the address; the item's is item_state
    postcode: Mapped[str] = mapped_column(String(20), server_default="")
    country: Mapped[str | None] = mapped_column(String(2))
    google_maps_place_id: Mapped[str | None] = mapped_column(String(200))
    plus_code: Mapped[str | None] = mapped_column(String(40))
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    management_url: Mapped[str | None] = mapped_column(Text)
    management_username: Mapped[str | None] = mapped_column(String(200))
    # AES-256-GCM ciphertext (see omnidesk/inventory/secrets.py); the plain password is never stored.
    management_password_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    config_content: Mapped[str | None] = mapped_column(Text)
    config_file_path: Mapped[str | None] = mapped_column(String(500))
    notes: Mapped[str] = mapped_column(Text, server_default="")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _modified()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # An item linked to a service belongs to that service's customer.
        ForeignKeyConstraint(["service_id", "customer_id"], ["service.id", "service.customer_id"],
                             name="fk_inventory_item_service_customer"),
        CheckConstraint(_in("item_state", ITEM_STATES), name="item_state"),
        CheckConstraint("length(btrim(itemtext1)) > 0", name="itemtext1_required"),
        CheckConstraint("wholesale_cost >= 0 AND retail_cost >= 0", name="costs_not_negative"),
        CheckConstraint("item_state NOT IN ('new', 'used') OR (customer_id IS NULL AND service_id IS NULL)",
                        name="stock_is_unassigned"),
        CheckConstraint("item_state <> 'assigned' OR customer_id IS NOT NULL", name="assigned_has_customer"),
        CheckConstraint("service_id IS NULL OR customer_id IS NOT NULL", name="service_needs_customer"),
        CheckConstraint("return_due_at IS NULL OR item_state = 'assigned'", name="return_due_only_assigned"),
        CheckConstraint("country IS NULL OR country ~ '^[A-Z]{2}$'", name="country_code"),
        CheckConstraint("latitude IS NULL OR latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude IS NULL OR longitude BETWEEN -180 AND 180", name="longitude_range"),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="coordinates_together"),
        CheckConstraint(
            "management_password_enc IS NULL OR (octet_length(management_password_enc) >= 29 "
            "AND get_byte(management_password_enc, 0) = 1)",
            name="password_ciphertext",
        ),
        # Picking stock walks this small index in id order (FOR UPDATE SKIP LOCKED).
        Index("ix_inventory_item_stock", "template_id", "id", postgresql_where=text("item_state IN ('new', 'used')")),
        Index("ix_inventory_item_template_itemtext1", "template_id", "itemtext1"),
        Index("ix_inventory_item_template_itemtext2", "template_id", "itemtext2"),
        Index("ix_inventory_item_itemtext1", "itemtext1"),
        Index("ix_inventory_item_itemtext2", "itemtext2"),
        Index("ix_inventory_item_customer_id", "customer_id", postgresql_where=text("customer_id IS NOT NULL")),
        Index("ix_inventory_item_service_id", "service_id", postgresql_where=text("service_id IS NOT NULL")),
        Index("ix_inventory_item_return_due_at", "return_due_at", postgresql_where=text("return_due_at IS NOT NULL")),
    )


class InventoryItemHistory(Base):
    """One row per state an item entered, written by a database trigger; append-only."""

    __tablename__ = "inventory_item_history"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("inventory_item.id"))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[dt.datetime] = _created()
    actor_name: Mapped[str] = mapped_column(String(63))
    reason: Mapped[str] = mapped_column(Text, server_default="")
    customer_id: Mapped[int | None] = mapped_column(BigInteger)
    service_id: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_inventory_item_history_item_id_id", "item_id", "id"),)


class SecretKey(Base):
    """Data keys shared by every workstation through the database (see omnidesk/inventory/secrets.py)."""

    __tablename__ = "secret_key"
    purpose: Mapped[str] = mapped_column(String(60), primary_key=True)
    key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = _created()
    __table_args__ = (CheckConstraint("octet_length(key) = 32", name="key_length"),)

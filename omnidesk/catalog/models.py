"""Product catalog tables: products and the inventory types a product needs.

A service (the customer's instance of a product) is the `Service` class in omnidesk/db/models.py,
extended by migration 0003, because the customer archive rule already counts live services.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Identity, Index, Integer, Numeric, SmallInteger, String, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.db.models import Base, Money, _created, _in, _modified

CATEGORIES = ("standalone", "bundle", "addon", "promo")
AUTO_RENEW = ("prompt", "true", "false")


class Product(Base):
    __tablename__ = "product"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(12))
    service_type: Mapped[str] = mapped_column(String(40))
    comment: Mapped[str] = mapped_column(Text, server_default="")  # internal, staff only
    icon: Mapped[str] = mapped_column(String(100), server_default="")
    retail_cost: Mapped[Decimal] = mapped_column(Money, server_default="0")
    wholesale_cost: Mapped[Decimal] = mapped_column(Money, server_default="0")
    retail_setup_cost: Mapped[Decimal] = mapped_column(Money, server_default="0")
    wholesale_setup_cost: Mapped[Decimal] = mapped_column(Money, server_default="0")
    tax_percentage: Mapped[Decimal] = mapped_column(Numeric(6, 3), server_default="0")
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    residential: Mapped[bool] = mapped_column(Boolean, server_default="true")
    business: Mapped[bool] = mapped_column(Boolean, server_default="true")
    customer_can_purchase: Mapped[bool] = mapped_column(Boolean, server_default="false")
    available_from: Mapped[dt.datetime | None]
    available_until: Mapped[dt.datetime | None]
    contract_days: Mapped[int] = mapped_column(Integer, server_default="0")
    auto_renew: Mapped[str] = mapped_column(String(6), server_default="prompt")
    allow_auto_renew: Mapped[bool] = mapped_column(Boolean, server_default="true")
    terms: Mapped[str] = mapped_column(Text, server_default="")
    features: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    provisioning_play: Mapped[str | None] = mapped_column(String(100))
    provisioning_json_vars: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # Product ids (as text) or service types an addon needs on the service it is added to.
    relies_on: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default=text("'{}'"))
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _modified()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("uq_product_slug_lower", func.lower(text("slug")), unique=True),
        CheckConstraint("length(btrim(name)) BETWEEN 1 AND 200", name="name_length"),
        CheckConstraint("slug ~ '^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$'", name="slug_format"),
        CheckConstraint(_in("category", CATEGORIES), name="category"),
        CheckConstraint("service_type ~ '^[a-z][a-z0-9-]*$'", name="service_type_format"),
        CheckConstraint(
            "retail_cost >= 0 AND wholesale_cost >= 0 AND retail_setup_cost >= 0 AND wholesale_setup_cost >= 0",
            name="costs_not_negative",
        ),
        CheckConstraint("tax_percentage BETWEEN 0 AND 100", name="tax_percentage_range"),
        CheckConstraint("contract_days BETWEEN 0 AND 3660", name="contract_days_range"),
        CheckConstraint(_in("auto_renew", AUTO_RENEW), name="auto_renew"),
        CheckConstraint("available_until IS NULL OR available_from IS NULL OR available_until > available_from",
                        name="availability_window"),
        CheckConstraint("provisioning_play IS NULL OR provisioning_play ~ '^[A-Za-z0-9_][A-Za-z0-9_-]*$'",
                        name="provisioning_play_name"),
        CheckConstraint("jsonb_typeof(provisioning_json_vars) = 'object'", name="json_vars_object"),
        CheckConstraint("category <> 'standalone' OR cardinality(relies_on) = 0", name="standalone_relies_on_nothing"),
    )


class ProductInventoryType(Base):
    """One inventory type a product needs at provisioning, by template (shown and matched by exact name)."""

    __tablename__ = "product_inventory_type"
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("inventory_template.id"), index=True)
    __table_args__ = (UniqueConstraint("product_id", "template_id"),)

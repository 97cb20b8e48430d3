"""Typed SQLAlchemy models of the core schema; the database itself enforces every rule it can."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Numeric(14, 2)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: DateTime(timezone=True)}


def _created() -> Mapped[dt.datetime]:
    return mapped_column(server_default=func.now(), nullable=False)


def _modified() -> Mapped[dt.datetime]:
    return mapped_column(server_default=func.now(), onupdate=func.now(), nullable=False)


# --- staff, roles and the permission catalog (login and enforcement come with the security work) ---


class Permission(Base):
    __tablename__ = "permission"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    scope: Mapped[str] = mapped_column(String(16))
    __table_args__ = (
        CheckConstraint("scope IN ('global', 'entity', 'own')", name="scope"),
        CheckConstraint("name ~ '^[a-z][a-z0-9_]*$'", name="name_format"),
    )


class Role(Base):
    __tablename__ = "role"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    is_builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = _created()
    permissions: Mapped[list[Permission]] = relationship(secondary="role_permission")


class RolePermission(Base):
    __tablename__ = "role_permission"
    role_id: Mapped[int] = mapped_column(ForeignKey("role.id", ondelete="CASCADE"), primary_key=True)
    permission_id: Mapped[int] = mapped_column(ForeignKey("permission.id", ondelete="CASCADE"), primary_key=True)


class StaffUser(Base):
    __tablename__ = "staff_user"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(String(63))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = _created()
    deleted_at: Mapped[dt.datetime | None]
    # The PostgreSQL login role this user signs in as ("<username>@<role suffix>"); None until a
    # password is set (the built-in administrator before `omnidesk admin init`).
    login_role: Mapped[str | None] = mapped_column(String(63), unique=True)
    roles: Mapped[list[Role]] = relationship(secondary="user_role")
    __table_args__ = (
        Index("uq_staff_user_username_lower", func.lower(text("username")), unique=True),
        CheckConstraint("username ~ '^[a-z][a-z0-9_.-]{1,62}$'", name="username_format"),
    )


class UserRole(Base):
    __tablename__ = "user_role"
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("role.id", ondelete="CASCADE"), primary_key=True)


# --- customers ---

CUSTOMER_STATUSES = ("pending", "active", "suspended", "closed")
ACCOUNT_TYPES = ("individual", "business")
PAYMENT_TYPES = ("prepaid", "postpaid")
CONTACT_TYPES = ("primary", "billing", "technical")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Customer(Base):
    __tablename__ = "customer"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    account_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    payment_type: Mapped[str] = mapped_column(String(16))
    credit_limit: Mapped[Decimal] = mapped_column(Money, server_default="0")
    currency: Mapped[str] = mapped_column(String(3))
    tax_identifier: Mapped[str | None] = mapped_column(String(64))
    contract_start_date: Mapped[dt.date | None] = mapped_column(Date)
    contract_end_date: Mapped[dt.date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, server_default="")
    kyc_approved_at: Mapped[dt.datetime | None]
    kyc_approved_by: Mapped[str | None] = mapped_column(String(63))
    archived_at: Mapped[dt.datetime | None]
    # The staff member who looks after this customer: what the "view own" permissions show.
    account_manager_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), index=True
    )
    # Lower-cased name, e-mails and phones of the customer, kept by triggers, indexed by trigram.
    search_text: Mapped[str] = mapped_column(Text, server_default="")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _modified()

    contacts: Mapped[list[Contact]] = relationship(back_populates="customer", order_by="Contact.id")
    sites: Mapped[list[Site]] = relationship(back_populates="customer", order_by="Site.id")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("length(btrim(name)) BETWEEN 1 AND 200", name="name_length"),
        CheckConstraint(_in("account_type", ACCOUNT_TYPES), name="account_type"),
        CheckConstraint(_in("status", CUSTOMER_STATUSES), name="status"),
        CheckConstraint(_in("payment_type", PAYMENT_TYPES), name="payment_type"),
        CheckConstraint("credit_limit >= 0", name="credit_limit_not_negative"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_code"),
        CheckConstraint(
            "contract_end_date IS NULL OR contract_start_date IS NULL OR contract_end_date >= contract_start_date",
            name="contract_dates",
        ),
        Index("ix_customer_status_id", "status", "id"),
        Index("ix_customer_account_type_id", "account_type", "id"),
        Index("ix_customer_payment_type_id", "payment_type", "id"),
        Index("ix_customer_created_at_id", "created_at", "id"),
        # The search and name-sort indexes (trigram GIN over search_text, lower(name) in C order)
        # are expression indexes created in SQL by the migration, next to the functions they use.
    )


class Contact(Base):
    __tablename__ = "contact"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    contact_type: Mapped[str] = mapped_column(String(16))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100), server_default="")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _modified()
    customer: Mapped[Customer] = relationship(back_populates="contacts")
    __table_args__ = (
        CheckConstraint(_in("contact_type", CONTACT_TYPES), name="contact_type"),
        CheckConstraint("length(btrim(first_name)) BETWEEN 1 AND 100", name="first_name_length"),
        CheckConstraint("phone IS NULL OR phone ~ '^\\+[1-9][0-9]{6,14}$'", name="phone_e164"),
        CheckConstraint("email IS NULL OR email ~ '^[^@\\s]+@[^@\\s]+$'", name="email_shape"),
        # One primary contact per customer: invoices fall back to it when there is no billing contact.
        Index("uq_contact_one_primary", "customer_id", unique=True, postgresql_where=text("contact_type = 'primary'")),
    )


class Site(Base):
    __tablename__ = "site"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    address_line_1: Mapped[str] = mapped_column(String(200), server_default="")
    address_line_2: Mapped[str] = mapped_column(String(200), server_default="")
    city: Mapped[str] = mapped_column(String(100), server_default="")
    state: Mapped[str] = mapped_column(String(100), server_default="")
    postcode: Mapped[str] = mapped_column(String(20), server_default="")
    country: Mapped[str] = mapped_column(String(2))
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    plus_code: Mapped[str | None] = mapped_column(String(16))
    address_note: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _modified()
    customer: Mapped[Customer] = relationship(back_populates="sites")
    __table_args__ = (
        CheckConstraint("length(btrim(name)) BETWEEN 1 AND 120", name="name_length"),
        CheckConstraint("country ~ '^[A-Z]{2}$'", name="country_code"),
        CheckConstraint("latitude IS NULL OR latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude IS NULL OR longitude BETWEEN -180 AND 180", name="longitude_range"),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="coordinates_together"),
    )


class CustomerAttribute(Base):
    __tablename__ = "customer_attribute"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _modified()
    __table_args__ = (
        UniqueConstraint("customer_id", "key"),
        CheckConstraint("key ~ '^[a-z][a-z0-9]*(_[a-z0-9]+)*$'", name="key_snake_case"),
        CheckConstraint("length(value) <= 150", name="value_length"),
    )


class CustomerTag(Base):
    __tablename__ = "customer_tag"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    label: Mapped[str] = mapped_column(String(60))
    colour: Mapped[str] = mapped_column(String(6))
    link: Mapped[str | None] = mapped_column(String(500))
    active_from: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    deactivate_at: Mapped[dt.datetime] = mapped_column(server_default=text("'2099-01-01 00:00:00+00'"))
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _modified()
    __table_args__ = (
        CheckConstraint("length(btrim(label)) BETWEEN 1 AND 60", name="label_length"),
        CheckConstraint("colour ~ '^[0-9A-F]{6}$'", name="colour_hex"),
        CheckConstraint("link IS NULL OR link ~ '^https?://'", name="link_scheme"),
        CheckConstraint("deactivate_at > active_from", name="window"),
    )


class ActivityEntry(Base):
    """Who changed what and when; the database refuses UPDATE and DELETE on this table."""

    __tablename__ = "activity_log"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    actor_name: Mapped[str] = mapped_column(String(63))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text)
    changes: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    __table_args__ = (Index("ix_activity_log_customer_id_occurred_at", "customer_id", "occurred_at"),)


# --- the minimum of services and billing the archive rule needs; extended by later migrations ---

SERVICE_STATUSES = ("active", "inactive", "suspended", "pending_cancellation", "deactivated")
INVOICE_STATUSES = ("unpaid", "partially_paid", "paid", "void", "refunded")
TRANSACTION_KINDS = ("charge", "credit", "payment", "refund")
# Manual methods (staff record them), the seed's credit types, and the payment layer's.
PAYMENT_METHODS = ("cash", "pos", "bank_transfer", "card", "stripe", "wallet", "manual")


class Service(Base):
    """A product delivered to a customer (and site); fields and read-only split in omnidesk/catalog/services.py.

    Migration 0003 added everything after `created_at` and the database's status-transition trigger.
    """

    __tablename__ = "service"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(24), server_default="active")
    created_at: Mapped[dt.datetime] = _created()
    # NULL only for services recorded before the catalog existed (and the archive-rule tests).
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"), index=True)
    service_type: Mapped[str] = mapped_column(String(40), server_default="generic")
    service_uuid: Mapped[str | None] = mapped_column(String(64), unique=True)
    icon: Mapped[str] = mapped_column(String(100), server_default="")
    provisioned_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    active_date: Mapped[dt.datetime | None]
    deactivate_date: Mapped[dt.datetime | None]
    contract_end_date: Mapped[dt.datetime | None]
    retail_cost: Mapped[Decimal] = mapped_column(Money, server_default="0")
    wholesale_cost: Mapped[Decimal] = mapped_column(Money, server_default="0")
    billed: Mapped[bool] = mapped_column(Boolean, server_default="true")
    taxable: Mapped[bool] = mapped_column(Boolean, server_default="true")
    invoiced: Mapped[bool] = mapped_column(Boolean, server_default="false")
    promo_code: Mapped[str | None] = mapped_column(String(40))
    visible_to_customer: Mapped[bool] = mapped_column(Boolean, server_default="true")
    usage_visible_to_customer: Mapped[bool] = mapped_column(Boolean, server_default="true")
    auto_renew: Mapped[bool] = mapped_column(Boolean, server_default="false")
    provisioning_play: Mapped[str | None] = mapped_column(String(100))
    provisioning_json_vars: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    deprovisioning_play: Mapped[str | None] = mapped_column(String(100))
    deprovisioning_json_vars: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    bundled_parent_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"))
    notes: Mapped[str] = mapped_column(Text, server_default="")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_at: Mapped[dt.datetime] = _modified()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(_in("status", SERVICE_STATUSES), name="status"),
        # Inventory items point at (service, customer) so an item can only follow its service's customer.
        UniqueConstraint("id", "customer_id"),
        CheckConstraint("length(btrim(name)) BETWEEN 1 AND 200", name="name_length"),
        CheckConstraint("retail_cost >= 0 AND wholesale_cost >= 0", name="costs_not_negative"),
        CheckConstraint("deactivate_date IS NULL OR active_date IS NULL OR deactivate_date >= active_date",
                        name="dates_in_order"),
        CheckConstraint("jsonb_typeof(provisioning_json_vars) = 'object' AND jsonb_typeof(deprovisioning_json_vars) = 'object'",
                        name="json_vars_objects"),
        CheckConstraint("bundled_parent_id IS NULL OR bundled_parent_id <> id", name="not_own_parent"),
        Index("ix_service_auto_renew_deactivate_date", "deactivate_date", postgresql_where=text("auto_renew")),
        Index("ix_service_deactivate_date", "deactivate_date", postgresql_where=text("deactivate_date IS NOT NULL")),
    )


class Invoice(Base):
    """An invoice over a customer's transactions; migration 0005 added everything after `created_at`.

    The number is assigned by the database on insert (a locked counter row per year, see 0005), never
    by the client; `total` = `subtotal` + `tax_total`; `paid_amount` is the sum of the payments linked to it.
    """

    __tablename__ = "invoice"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(16), server_default="unpaid")
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    total: Mapped[Decimal] = mapped_column(Money, server_default="0")
    created_at: Mapped[dt.datetime] = _created()
    title: Mapped[str] = mapped_column(String(200), server_default="")
    # Filled from the customer by the database when not given; payments must be in this currency.
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[dt.date] = mapped_column(Date, server_default=func.current_date())
    subtotal: Mapped[Decimal] = mapped_column(Money, server_default="0")
    tax_total: Mapped[Decimal] = mapped_column(Money, server_default="0")
    paid_amount: Mapped[Decimal] = mapped_column(Money, server_default="0")
    payment_method: Mapped[str | None] = mapped_column(String(16))
    payment_reference: Mapped[str | None] = mapped_column(String(100))
    paid_at: Mapped[dt.datetime | None]
    refund_reference: Mapped[str | None] = mapped_column(String(100))
    refunded_at: Mapped[dt.datetime | None]
    voided_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = _modified()
    __table_args__ = (
        CheckConstraint(_in("status", INVOICE_STATUSES), name="status"),
        CheckConstraint("end_date >= start_date", name="period"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint("paid_amount >= 0", name="paid_amount_not_negative"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_code"),
        CheckConstraint("number IS NULL OR number ~ '^INV-[0-9]{4}-[0-9]{6}$'", name="number_format"),
        CheckConstraint("payment_method IS NULL OR " + _in("payment_method", PAYMENT_METHODS), name="payment_method"),
        Index("ix_invoice_status_id", "status", "id"),
    )


class InvoiceNumberCounter(Base):
    """The last invoice number issued in a calendar year; its row is locked while a number is taken."""

    __tablename__ = "invoice_number_counter"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer)
    __table_args__ = (CheckConstraint("last_number BETWEEN 1 AND 999999", name="last_number_range"),)


class BillingTransaction(Base):
    """A charge (+), credit (−), payment (−, linked to the invoice it pays) or refund (+).

    Migration 0005 added everything after `created_at`; the database checks the signs and the tax.
    """

    __tablename__ = "billing_transaction"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    retail_cost: Mapped[Decimal] = mapped_column(Money)
    tax_percentage: Mapped[Decimal] = mapped_column(Numeric(6, 3), server_default="0")
    tax_amount: Mapped[Decimal] = mapped_column(Money, server_default="0")
    void: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_at: Mapped[dt.datetime] = _created()
    kind: Mapped[str] = mapped_column(String(8), server_default="charge")
    description: Mapped[str] = mapped_column(Text, server_default="")
    wholesale_cost: Mapped[Decimal] = mapped_column(Money, server_default="0")
    transaction_date: Mapped[dt.date] = mapped_column(Date, server_default=func.current_date())
    # Credit type of a credit, or how a payment or refund was made.
    method: Mapped[str | None] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(200))
    voided_at: Mapped[dt.datetime | None]
    __table_args__ = (
        CheckConstraint("tax_percentage >= 0", name="tax_percentage_not_negative"),
        CheckConstraint("tax_percentage <= 100", name="tax_percentage_at_most_100"),
        CheckConstraint(_in("kind", TRANSACTION_KINDS), name="kind"),
        CheckConstraint("length(btrim(title)) BETWEEN 1 AND 200", name="title_length"),
        CheckConstraint(
            "(kind IN ('charge', 'refund') AND retail_cost >= 0) OR (kind IN ('credit', 'payment') AND retail_cost <= 0)",
            name="sign_of_kind",
        ),
        CheckConstraint("kind = 'charge' OR (tax_percentage = 0 AND tax_amount = 0)", name="tax_on_charges_only"),
        CheckConstraint("tax_amount = round(retail_cost * tax_percentage / 100, 2)", name="tax_amount_rounded"),
        CheckConstraint("wholesale_cost >= 0", name="wholesale_cost_not_negative"),
        CheckConstraint("NOT (void AND invoice_id IS NOT NULL)", name="void_only_uninvoiced"),
        CheckConstraint("kind <> 'payment' OR invoice_id IS NOT NULL", name="payment_pays_an_invoice"),
        CheckConstraint("method IS NULL OR " + _in("method", PAYMENT_METHODS), name="method"),
        Index("ix_billing_transaction_uninvoiced", "customer_id", "transaction_date",
              postgresql_where=text("invoice_id IS NULL AND NOT void")),
    )

"""Billing tables beyond invoices and transactions: shared settings, the PDF cache, stored payment
methods, card holds, vendor payments, the wallet and its ledger, and the e-mail outbox.

`Invoice` and `BillingTransaction` live in omnidesk/db/models.py (the customer archive rule needed
them first); migration 0005 extends them and creates everything here.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.db.models import Base, Money, _created, _in

AUTHORIZATION_STATUSES = ("authorized", "captured", "released", "expired")
PAYMENT_STATUSES = ("succeeded", "failed", "refunded")
LEDGER_TYPES = ("credit", "debit", "refund", "adjustment")
DOCUMENT_KINDS = ("invoice", "statement")
OUTBOX_STATUSES = ("pending", "sent", "failed")


class BillingSetting(Base):
    """Billing settings every workstation shares: company branding, template names, payment QR, vendors.

    Keys keep the seed's names where one exists (`invoice.template_filename`)."""

    __tablename__ = "billing_setting"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONB)
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    __table_args__ = (CheckConstraint("key ~ '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$'", name="key_format"),)


class DocumentCache(Base):
    """A rendered PDF, found by the SHA-256 of everything that shaped it (data, template, branding).

    Any change to the invoice or the template gives a new key, so a stale PDF is never served; rows
    are purged by age and disuse."""

    __tablename__ = "invoice_pdf_cache"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    content_key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(12))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(120))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    render_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = _created()
    last_accessed: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    __table_args__ = (
        CheckConstraint(_in("kind", DOCUMENT_KINDS), name="kind"),
        CheckConstraint("content_key ~ '^[0-9a-f]{64}$' AND pdf_sha256 ~ '^[0-9a-f]{64}$'", name="hex_digests"),
        CheckConstraint("kind <> 'invoice' OR invoice_id IS NOT NULL", name="invoice_has_invoice_id"),
        Index("ix_invoice_pdf_cache_last_accessed", "last_accessed"),
    )


class PaymentMethod(Base):
    """A card (or other instrument) held by a payment vendor; OmniDesk keeps its token and display fields only."""

    __tablename__ = "payment_method"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    vendor: Mapped[str] = mapped_column(String(32))
    vendor_payment_method_id: Mapped[str] = mapped_column(String(100))
    vendor_customer_id: Mapped[str | None] = mapped_column(String(100))
    payment_type: Mapped[str] = mapped_column(String(16), server_default="card")
    card_brand: Mapped[str] = mapped_column(String(20), server_default="")
    card_last4: Mapped[str] = mapped_column(String(4), server_default="")
    card_exp_month: Mapped[int | None] = mapped_column(SmallInteger)
    card_exp_year: Mapped[int | None] = mapped_column(SmallInteger)
    card_nickname: Mapped[str] = mapped_column(String(60), server_default="")
    is_default: Mapped[bool] = mapped_column(Boolean, server_default="false")
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    created_at: Mapped[dt.datetime] = _created()
    __table_args__ = (
        CheckConstraint("vendor ~ '^[a-z][a-z0-9_]*$'", name="vendor_name"),
        CheckConstraint("card_last4 ~ '^([0-9]{4})?$'", name="last4_digits"),
        CheckConstraint("card_exp_month IS NULL OR card_exp_month BETWEEN 1 AND 12", name="exp_month_range"),
        CheckConstraint(_in("status", ("active", "removed")), name="status"),
        Index("uq_payment_method_one_default", "customer_id", unique=True,
              postgresql_where=text("is_default AND status = 'active'")),
    )


class PaymentAuthorization(Base):
    """A two-phase hold: the card is authorised for the shortfall over the wallet, captured or released later.

    The database lets a hold leave `authorized` once only, so two captures can never both succeed."""

    __tablename__ = "payment_authorization"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    payment_method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_method.id"))
    vendor: Mapped[str] = mapped_column(String(32))
    vendor_authorization_id: Mapped[str | None] = mapped_column(String(100))
    amount: Mapped[Decimal] = mapped_column(Money)
    wallet_amount: Mapped[Decimal] = mapped_column(Money)
    card_amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(12), server_default="authorized")
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    authorized_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[dt.datetime] = mapped_column(server_default=text("now() + interval '7 days'"))
    captured_at: Mapped[dt.datetime | None]
    released_at: Mapped[dt.datetime | None]
    meta: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    __table_args__ = (
        CheckConstraint(_in("status", AUTHORIZATION_STATUSES), name="status"),
        CheckConstraint("amount > 0 AND wallet_amount >= 0 AND card_amount >= 0 AND wallet_amount + card_amount = amount",
                        name="amounts_add_up"),
        CheckConstraint("expires_at > authorized_at", name="expires_after_authorized"),
        Index("ix_payment_authorization_open", "expires_at", postgresql_where=text("status = 'authorized'")),
    )


class Payment(Base):
    """Money taken (or attempted) through a payment vendor: a capture of a hold or a one-step charge."""

    __tablename__ = "payment"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    authorization_id: Mapped[int | None] = mapped_column(ForeignKey("payment_authorization.id"), unique=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"), index=True)
    payment_method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_method.id"))
    vendor: Mapped[str] = mapped_column(String(32))
    vendor_transaction_id: Mapped[str | None] = mapped_column(String(100))
    amount: Mapped[Decimal] = mapped_column(Money)
    wallet_amount: Mapped[Decimal] = mapped_column(Money, server_default="0")
    card_amount: Mapped[Decimal] = mapped_column(Money, server_default="0")
    currency: Mapped[str] = mapped_column(String(3))
    routing_mode: Mapped[str] = mapped_column(String(8), server_default="hybrid")
    status: Mapped[str] = mapped_column(String(12))
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    refunded_amount: Mapped[Decimal] = mapped_column(Money, server_default="0")
    refund_reference: Mapped[str | None] = mapped_column(String(100))
    vendor_response: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[dt.datetime] = _created()
    __table_args__ = (
        CheckConstraint(_in("status", PAYMENT_STATUSES), name="status"),
        CheckConstraint(_in("routing_mode", ("hybrid", "bypass")), name="routing_mode"),
        CheckConstraint("amount > 0 AND wallet_amount >= 0 AND card_amount >= 0", name="amounts_not_negative"),
        CheckConstraint("refunded_amount BETWEEN 0 AND card_amount + wallet_amount", name="refund_at_most_paid"),
    )


class WalletAccount(Base):
    """A customer's prepaid balance (one per customer, in the customer's currency)."""

    __tablename__ = "wallet_account"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), unique=True)
    balance: Mapped[Decimal] = mapped_column(Money, server_default="0")
    currency: Mapped[str] = mapped_column(String(3))
    low_balance_warning_threshold: Mapped[Decimal] = mapped_column(Money, server_default="10")
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    __table_args__ = (CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_code"),)


class WalletLedgerEntry(Base):
    """One change of a wallet balance, with the balance before and after; append-only."""

    __tablename__ = "wallet_ledger"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    wallet_account_id: Mapped[int] = mapped_column(ForeignKey("wallet_account.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    transaction_type: Mapped[str] = mapped_column(String(12))
    amount: Mapped[Decimal] = mapped_column(Money)
    balance_before: Mapped[Decimal] = mapped_column(Money)
    balance_after: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(Text, server_default="")
    reference_type: Mapped[str | None] = mapped_column(String(32))
    reference_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = _created()
    __table_args__ = (
        CheckConstraint(_in("transaction_type", LEDGER_TYPES), name="transaction_type"),
        CheckConstraint(
            "(transaction_type = 'debit' AND amount > 0 AND balance_after = balance_before - amount) OR "
            "(transaction_type IN ('credit', 'refund') AND amount > 0 AND balance_after = balance_before + amount) OR "
            "(transaction_type = 'adjustment' AND amount <> 0 AND balance_after = balance_before + amount)",
            name="balance_arithmetic",
        ),
        Index("ix_wallet_ledger_customer_id_id", "customer_id", "id"),
    )


class EmailOutbox(Base):
    """An e-mail waiting to be sent (or sent): written in the same transaction as its cause, sent after
    commit, retried with back-off until it goes, never lost when the mail service is down."""

    __tablename__ = "email_outbox"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))
    template: Mapped[str] = mapped_column(String(80))
    recipients: Mapped[list] = mapped_column(JSONB)
    variables: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    status: Mapped[str] = mapped_column(String(8), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    last_error: Mapped[str] = mapped_column(Text, server_default="")
    provider_message_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = _created()
    sent_at: Mapped[dt.datetime | None]
    __table_args__ = (
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        CheckConstraint("jsonb_typeof(recipients) = 'array' AND jsonb_array_length(recipients) > 0", name="has_recipients"),
        Index("ix_email_outbox_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    )

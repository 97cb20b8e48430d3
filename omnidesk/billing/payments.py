"""The payment layer: stored payment methods, the wallet and its ledger, wallet-first charges, card
holds (authorize → capture | release, expiring after 7 days), invoice payments and refunds through a vendor.

Money rules (DECISIONS "Money and billing", seed003-p5 O-Q):
- wallet first: the wallet pays what it holds, the card the shortfall; the card's amount is credited to
  the wallet and the full amount debited, so the ledger tells the whole story ($500 with $150 in the
  wallet → $350 on the card, wallet 0);
- the balance never goes below −credit_limit;
- every call takes an idempotency key: a retry returns the first result and never charges twice
  (the key is unique in the database and passed to the vendor as Stripe's Idempotency-Key).

The wallet row (and the invoice or hold) stays locked while the vendor is called, so two workstations
cannot spend the same balance or capture the same hold twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from omnidesk import activity
from omnidesk.auth import Actor
from omnidesk.billing import rules
from omnidesk.billing import service as billing
from omnidesk.billing.models import Payment, PaymentAuthorization, PaymentMethod, WalletAccount, WalletLedgerEntry
from omnidesk.billing.vendors import PaymentVendor, VendorError, vendor_named
from omnidesk.customers.rules import FieldError, validate_all
from omnidesk.db.integrity import flush_or_refuse
from omnidesk.db.models import BillingTransaction, Customer, Invoice
from omnidesk.errors import NotFound, ServiceError, ValidationError

ZERO = rules.ZERO


class PaymentRefused(ServiceError):
    """A payment, hold or refund was refused; nothing was charged or written."""


@dataclass(frozen=True)
class ChargeResult:
    payment_id: int
    customer_id: int
    amount: Decimal
    currency: str
    routing_mode: str
    initial_balance: Decimal
    wallet_portion: Decimal
    card_portion: Decimal
    final_balance: Decimal
    vendor_reference: str | None
    replayed: bool = False  # True when this is the answer to an earlier call with the same key


@dataclass(frozen=True)
class HoldView:
    id: int
    customer_id: int
    amount: Decimal
    currency: str
    wallet_amount: Decimal
    card_amount: Decimal
    status: str
    vendor: str
    vendor_authorization_id: str | None
    authorized_at: dt.datetime
    expires_at: dt.datetime
    message: str = ""


@dataclass(frozen=True)
class LedgerRow:
    id: int
    transaction_type: str
    amount: Decimal
    balance_before: Decimal
    balance_after: Decimal
    description: str
    reference_type: str | None
    reference_id: str | None
    created_at: dt.datetime


# --- helpers ---


def _key(idempotency_key: str) -> str:
    key = (idempotency_key or "").strip()
    if not 8 <= len(key) <= 100:
        raise ValidationError({"idempotency_key": "An idempotency key of 8 to 100 characters is required, "
                                                  "the same for every retry of one payment."})
    return key


def _customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"There is no customer {customer_id}.")
    return customer


def _wallet(session: Session, customer: Customer) -> WalletAccount:
    """The customer's wallet, locked; created empty on first use."""
    session.execute(
        insert(WalletAccount)
        .values(customer_id=customer.id, currency=customer.currency)
        .on_conflict_do_nothing(index_elements=["customer_id"])
    )
    return session.scalar(select(WalletAccount).where(WalletAccount.customer_id == customer.id).with_for_update())


def _ledger(session: Session, wallet: WalletAccount, customer: Customer, kind: str, amount: Decimal, description: str,
            reference_type: str | None = None, reference_id: str | None = None) -> WalletLedgerEntry:
    before = wallet.balance
    after = before - amount if kind == "debit" else before + amount
    if after < -customer.credit_limit and after < before:
        raise PaymentRefused(
            f"Insufficient wallet balance. Available: {before + customer.credit_limit:.2f}, Required: {amount:.2f}"
        )
    wallet.balance = after
    entry = WalletLedgerEntry(wallet_account_id=wallet.id, customer_id=customer.id, transaction_type=kind,
                              amount=amount, balance_before=before, balance_after=after, currency=wallet.currency,
                              description=description, reference_type=reference_type,
                              reference_id=str(reference_id) if reference_id is not None else None)
    session.add(entry)
    return entry


def _method(session: Session, customer: Customer, payment_method_id: int | None) -> PaymentMethod | None:
    if payment_method_id is None:
        return session.scalar(select(PaymentMethod).where(PaymentMethod.customer_id == customer.id,
                                                          PaymentMethod.is_default, PaymentMethod.status == "active"))
    method = session.get(PaymentMethod, payment_method_id)
    if method is None or method.customer_id != customer.id or method.status != "active":
        raise PaymentRefused(f"Payment method {payment_method_id} is not an active card of {customer.name}.")
    return method


def _vendor_for(method: PaymentMethod | None, vendor: PaymentVendor | None) -> PaymentVendor:
    if vendor is not None:
        return vendor
    return vendor_named(method.vendor if method else "manual")


def _charge_result(p: Payment, initial: Decimal, final: Decimal, replayed: bool) -> ChargeResult:
    return ChargeResult(p.id, p.customer_id, p.amount, p.currency, p.routing_mode, initial, p.wallet_amount,
                        p.card_amount, final, p.vendor_transaction_id, replayed)


def _replay(session: Session, key: str) -> ChargeResult | None:
    p = session.scalar(select(Payment).where(Payment.idempotency_key == key))
    if p is None:
        return None
    balance = session.scalar(select(WalletAccount.balance).where(WalletAccount.customer_id == p.customer_id))
    return _charge_result(p, balance, balance, True)


def _hold_view(h: PaymentAuthorization, message: str = "") -> HoldView:
    return HoldView(h.id, h.customer_id, h.amount, h.currency, h.wallet_amount, h.card_amount, h.status, h.vendor,
                    h.vendor_authorization_id, h.authorized_at, h.expires_at, message)


# --- payment methods (tokens from the vendor's hosted page) ---


def add_payment_method(db, actor: Actor, customer_id: int, *, vendor: str, vendor_payment_method_id: str,
                       card_brand: str = "", card_last4: str = "", card_exp_month: int | None = None,
                       card_exp_year: int | None = None, card_nickname: str = "",
                       vendor_customer_id: str | None = None) -> int:
    """Store a card the vendor tokenised; the customer's first card becomes the default."""
    actor.require("create_customer_stripe_card", "add payment methods")
    with db.transaction() as s:
        customer = _customer(s, customer_id)
        first = s.scalar(select(func.count()).select_from(PaymentMethod).where(
            PaymentMethod.customer_id == customer.id, PaymentMethod.status == "active")) == 0
        method = PaymentMethod(customer_id=customer.id, vendor=vendor, vendor_payment_method_id=vendor_payment_method_id,
                               vendor_customer_id=vendor_customer_id, card_brand=card_brand, card_last4=card_last4,
                               card_exp_month=card_exp_month, card_exp_year=card_exp_year, card_nickname=card_nickname,
                               is_default=first)
        s.add(method)
        flush_or_refuse(s)
        activity.record(s, actor, action="add_payment_method", entity_type="payment_method", entity_id=method.id,
                        customer_id=customer.id,
                        summary=f"Your {card_brand.title() or 'card'} ending in {card_last4} has been added"
                                + (" (default)" if first else ""))
        return method.id


# --- wallet ---


def wallet_balance(db, actor: Actor, customer_id: int) -> Decimal:
    actor.require("view_customer_transaction", "view wallets")
    with db.read() as s:
        return s.scalar(select(WalletAccount.balance).where(WalletAccount.customer_id == customer_id)) or ZERO


def wallet_ledger(db, actor: Actor, customer_id: int, *, limit: int = 50, offset: int = 0,
                  transaction_type: str | None = None) -> list[LedgerRow]:
    actor.require("view_customer_transaction", "view wallets")
    stmt = select(WalletLedgerEntry).where(WalletLedgerEntry.customer_id == customer_id)
    if transaction_type:
        stmt = stmt.where(WalletLedgerEntry.transaction_type == transaction_type)
    with db.read() as s:
        return [LedgerRow(e.id, e.transaction_type, e.amount, e.balance_before, e.balance_after, e.description,
                          e.reference_type, e.reference_id, e.created_at)
                for e in s.scalars(stmt.order_by(WalletLedgerEntry.id.desc()).limit(limit).offset(offset))]


def adjust_wallet(db, actor: Actor, customer_id: int, amount, *, description: str, kind: str = "credit") -> Decimal:
    """A staff credit (downtime compensation, goodwill) or debit of the wallet; returns the new balance."""
    actor.require("create_customer_transaction", "adjust wallets")
    clean = validate_all({"amount": lambda: rules.positive_amount(amount, "Amount"),
                          "description": lambda: rules.title(description)})
    if kind not in ("credit", "debit"):
        raise ValidationError({"kind": "A wallet adjustment is a credit or a debit."})
    with db.transaction() as s:
        customer = _customer(s, customer_id)
        wallet = _wallet(s, customer)
        entry = _ledger(s, wallet, customer, kind, clean["amount"], clean["description"], "adjustment")
        flush_or_refuse(s)
        activity.record(s, actor, action=f"wallet_{kind}", entity_type="wallet", entity_id=wallet.id,
                        customer_id=customer.id,
                        summary=f"Wallet {kind} {rules.money(clean['amount'], wallet.currency)}: {clean['description']} "
                                f"(balance {rules.money(entry.balance_after, wallet.currency)})")
        return wallet.balance


# --- wallet-first charges ---


def _take(session: Session, actor: Actor, customer: Customer, amount: Decimal, *, key: str, method: PaymentMethod | None,
          vendor: PaymentVendor | None, routing_mode: str, description: str, reference_type: str,
          reference_id: str | None, invoice_id: int | None, metadata: dict[str, str]) -> ChargeResult:
    """The wallet-first charge inside the caller's transaction (wallet locked; vendor called last)."""
    wallet = _wallet(session, customer)
    replay = _replay(session, key)  # after the lock: a concurrent retry with this key has committed by now
    if replay is not None:
        if replay.amount != amount or replay.customer_id != customer.id:
            raise PaymentRefused(f"The idempotency key {key} was used for payment {replay.payment_id} of "
                                 f"{rules.money(replay.amount, replay.currency)}; use a new key for a different payment.")
        return replay
    initial = wallet.balance
    if routing_mode == "bypass":
        wallet_part, card_part = ZERO, amount
    else:
        wallet_part, card_part = rules.wallet_first(amount, initial)
    if card_part > 0 and method is None:
        if initial - amount >= -customer.credit_limit:  # the credit limit covers it: no card needed
            wallet_part, card_part = amount, ZERO
        else:
            raise PaymentRefused(
                f"Insufficient wallet balance. Available: {max(initial, ZERO) + customer.credit_limit:.2f}, "
                f"Required: {amount:.2f} (no card on file for the rest)"
            )
    reference = None
    used_vendor = _vendor_for(method, vendor) if card_part > 0 else None
    payment = Payment(customer_id=customer.id, invoice_id=invoice_id, payment_method_id=method.id if method else None,
                      vendor=used_vendor.name if used_vendor else "wallet", amount=amount, wallet_amount=wallet_part,
                      card_amount=card_part, currency=customer.currency, routing_mode=routing_mode,
                      status="succeeded", idempotency_key=key)
    if card_part > 0:
        result = used_vendor.charge(amount=card_part, currency=customer.currency,
                                    payment_method=method.vendor_payment_method_id,
                                    customer=method.vendor_customer_id, idempotency_key=key, metadata=metadata)
        reference = result.reference
        payment.vendor_transaction_id = reference
        payment.vendor_response = result.raw
    session.add(payment)
    flush_or_refuse(session)
    if card_part > 0:
        _ledger(session, wallet, customer, "credit", card_part, f"Card payment {reference}", "payment_capture", payment.id)
    _ledger(session, wallet, customer, "debit", amount, description, reference_type, reference_id)
    flush_or_refuse(session)
    activity.record(session, actor, action="charge", entity_type="payment", entity_id=payment.id, customer_id=customer.id,
                    summary=f"{rules.money(amount, customer.currency)} charged: "
                            f"{rules.money(wallet_part, customer.currency)} from the wallet, "
                            f"{rules.money(card_part, customer.currency)} on the card"
                            + (f" ({reference})" if reference else ""))
    return _charge_result(payment, initial, wallet.balance, False)


def charge(db, actor: Actor, customer_id: int, amount, *, idempotency_key: str, payment_method_id: int | None = None,
           vendor: PaymentVendor | None = None, routing_mode: str = "hybrid", currency: str | None = None,
           description: str = "Charge", reference_type: str = "service_charge", reference_id: str | None = None,
           metadata: dict[str, str] | None = None) -> ChargeResult:
    """Charge the customer wallet-first (card for the shortfall; `bypass` puts it all on the card)."""
    actor.require("create_customer_transaction", "charge customers")
    clean = validate_all({"amount": lambda: rules.positive_amount(amount, "Amount")})
    key = _key(idempotency_key)
    if routing_mode not in ("hybrid", "bypass"):
        raise ValidationError({"routing_mode": "Routing is hybrid (wallet first) or bypass (card only)."})
    with db.transaction() as s:
        customer = _customer(s, customer_id)
        if currency and currency.upper() != customer.currency:
            raise PaymentRefused(f"{customer.name} is billed in {customer.currency}; a charge in {currency.upper()} "
                                 "cannot be taken.")
        return _take(s, actor, customer, clean["amount"], key=key, method=_method(s, customer, payment_method_id),
                     vendor=vendor, routing_mode=routing_mode, description=description,
                     reference_type=reference_type, reference_id=reference_id, invoice_id=None,
                     metadata=metadata or {})


def pay_invoice(db, actor: Actor, invoice_id: int, *, idempotency_key: str, payment_method_id: int | None = None,
                vendor: PaymentVendor | None = None, currency: str | None = None) -> billing.InvoiceView:
    """Pay the invoice's outstanding amount wallet-first through the payment layer; a retry with the same
    key returns the invoice without charging again."""
    actor.require("update_customer_invoice", "take invoice payments")
    key = _key(idempotency_key)
    with db.transaction() as s:
        invoice = s.scalar(select(Invoice).where(Invoice.id == invoice_id).with_for_update())
        if invoice is None:
            raise NotFound(f"There is no invoice {invoice_id}.")
        if s.scalar(select(Payment.id).where(Payment.idempotency_key == key)) is not None:
            return billing.invoice_view(s, invoice)
        if currency and currency.upper() != invoice.currency:
            raise PaymentRefused(f"Invoice {invoice.number} is in {invoice.currency}; a payment in {currency.upper()} "
                                 "cannot be taken for it.")
        if invoice.status not in ("unpaid", "partially_paid"):
            raise PaymentRefused(f"Invoice {invoice.number} is {invoice.status.replace('_', ' ')}; it takes no payments.")
        customer = _customer(s, invoice.customer_id)
        outstanding = invoice.total - invoice.paid_amount
        result = _take(s, actor, customer, outstanding, key=key, method=_method(s, customer, payment_method_id),
                       vendor=vendor, routing_mode="hybrid", description=f"Payment of invoice {invoice.number}",
                       reference_type="invoice", reference_id=invoice.number, invoice_id=invoice.id,
                       metadata={"invoice_id": str(invoice.id), "invoice_number": invoice.number})
        method = "stripe" if result.card_portion > 0 and result.vendor_reference else "wallet"
        billing.apply_payment(s, actor, invoice, amount=outstanding, currency=invoice.currency, method=method,
                              reference=result.vendor_reference or f"wallet-payment-{result.payment_id}",
                              payment_date=None)
        s.refresh(invoice)
        return billing.invoice_view(s, invoice)


def refund_invoice(db, actor: Actor, invoice_id: int, *, amount=None, vendor: PaymentVendor | None = None,
                   reason: str = "requested_by_customer") -> billing.InvoiceView:
    """Refund a paid invoice that was paid through the payment layer, in full and once: the card part back
    to the card through the vendor, the wallet part back to the wallet. The ledger gets the refund (+)
    and a credit note (−) so the customer's balance ends where it was before the invoice."""
    actor.require("update_customer_invoice", "refund invoices")
    clean = validate_all({"amount": lambda: rules.positive_amount(amount, "Refund amount")}) if amount not in (None, "") else {}
    with db.transaction() as s:
        invoice = s.scalar(select(Invoice).where(Invoice.id == invoice_id).with_for_update())
        if invoice is None:
            raise NotFound(f"There is no invoice {invoice_id}.")
        if invoice.status == "refunded":
            raise PaymentRefused(f"Invoice {invoice.number} was already refunded ({invoice.refund_reference}).")
        if invoice.status != "paid":
            raise PaymentRefused(f"Invoice {invoice.number} is {invoice.status.replace('_', ' ')}; only paid invoices "
                                 "are refunded.")
        refund_amount = clean.get("amount", invoice.paid_amount)
        if refund_amount > invoice.paid_amount:
            raise PaymentRefused(f"A refund of {rules.money(refund_amount, invoice.currency)} is above the "
                                 f"{rules.money(invoice.paid_amount, invoice.currency)} paid on invoice {invoice.number}.")
        if refund_amount < invoice.paid_amount:
            raise PaymentRefused(f"Invoices are refunded in full ({rules.money(invoice.paid_amount, invoice.currency)}); "
                                 "for part of it, add a credit instead.")
        manual = s.scalars(select(BillingTransaction.method).where(
            BillingTransaction.invoice_id == invoice.id, BillingTransaction.kind == "payment",
            BillingTransaction.method.in_(tuple(rules.MANUAL_METHODS)))).first()
        if manual:
            raise PaymentRefused(f"Invoice {invoice.number} was paid by {rules.MANUAL_METHODS[manual]}; cash, POS and "
                                 "bank-transfer payments are not refunded here. Add a credit instead.")
        payments = s.scalars(select(Payment).where(Payment.invoice_id == invoice.id, Payment.status == "succeeded")
                             .with_for_update()).all()
        if not payments:
            raise PaymentRefused(f"Invoice {invoice.number} has no vendor payment to refund; add a credit instead.")
        customer = _customer(s, invoice.customer_id)
        wallet = _wallet(s, customer)
        references = []
        for p in payments:
            if p.card_amount > 0:
                result = _vendor_for(None, vendor) if vendor else vendor_named(p.vendor)
                done = result.refund(reference=p.vendor_transaction_id, amount=p.card_amount, currency=p.currency,
                                     idempotency_key=f"refund-{p.idempotency_key}", reason=reason)
                references.append(done.reference)
                p.refund_reference = done.reference
            if p.wallet_amount > 0:
                _ledger(s, wallet, customer, "refund", p.wallet_amount, f"Refund of invoice {invoice.number}",
                        "invoice_refund", invoice.number)
            p.refunded_amount = p.card_amount + p.wallet_amount
            p.status = "refunded"
        reference = ", ".join(references) or f"wallet-refund-{invoice.id}"
        s.add(BillingTransaction(customer_id=customer.id, kind="refund", invoice_id=invoice.id, retail_cost=refund_amount,
                                 title=f"Refund of invoice {invoice.number}", method="stripe" if references else "wallet",
                                 reference=reference[:200]))
        s.add(BillingTransaction(customer_id=customer.id, kind="credit", invoice_id=invoice.id, retail_cost=-refund_amount,
                                 title=f"Credit note for refunded invoice {invoice.number}",
                                 method="card" if references else None, reference=reference[:200]))
        invoice.status = "refunded"
        invoice.refund_reference = reference[:100]
        invoice.refunded_at = func.now()
        flush_or_refuse(s)
        activity.record(s, actor, action="refund", entity_type="invoice", entity_id=invoice.id, customer_id=customer.id,
                        summary=f"Invoice {invoice.number} refunded: {rules.money(refund_amount, invoice.currency)} "
                                f"({reference})", changes={"status": ["paid", "refunded"]})
        s.refresh(invoice)
        return billing.invoice_view(s, invoice)


# --- two-phase holds ---


def authorize_hold(db, actor: Actor, customer_id: int, amount, *, idempotency_key: str,
                   payment_method_id: int | None = None, vendor: PaymentVendor | None = None, use_wallet: bool = True,
                   metadata: dict | None = None) -> HoldView:
    """Hold the card for the shortfall over the wallet (the wallet is checked now, debited at capture)."""
    actor.require("create_customer_transaction", "authorize payments")
    clean = validate_all({"amount": lambda: rules.positive_amount(amount, "Amount")})
    key = _key(idempotency_key)
    with db.transaction() as s:
        customer = _customer(s, customer_id)
        wallet = _wallet(s, customer)
        existing = s.scalar(select(PaymentAuthorization).where(PaymentAuthorization.idempotency_key == key))
        if existing is not None:
            return _hold_view(existing, "Already authorized (same idempotency key).")
        wallet_part, card_part = rules.wallet_first(clean["amount"], wallet.balance) if use_wallet else (ZERO, clean["amount"])
        method = _method(s, customer, payment_method_id)
        if card_part > 0 and method is None:
            raise PaymentRefused(f"No default payment method found for customer {customer.id}.")
        used = _vendor_for(method, vendor) if card_part > 0 else None
        hold = PaymentAuthorization(customer_id=customer.id, payment_method_id=method.id if method else None,
                                    vendor=used.name if used else "wallet", amount=clean["amount"],
                                    wallet_amount=wallet_part, card_amount=card_part, currency=customer.currency,
                                    idempotency_key=key, meta=metadata or {})
        if card_part > 0:
            result = used.authorize(amount=card_part, currency=customer.currency,
                                    payment_method=method.vendor_payment_method_id, customer=method.vendor_customer_id,
                                    idempotency_key=key, metadata={k: str(v) for k, v in (metadata or {}).items()})
            hold.vendor_authorization_id = result.reference
        s.add(hold)
        flush_or_refuse(s)
        s.refresh(hold)
        money = lambda x: rules.money(x, customer.currency)  # noqa: E731
        message = (f"Card authorized for {money(card_part)}" + (" (wallet top-up)" if wallet_part > 0 else "")
                   + f". Wallet debit of {money(clean['amount'])} will occur at capture.")
        activity.record(s, actor, action="authorize", entity_type="payment_authorization", entity_id=hold.id,
                        customer_id=customer.id, summary=message)
        return _hold_view(hold, message)


def _locked_hold(s: Session, authorization_id: int) -> PaymentAuthorization:
    hold = s.scalar(select(PaymentAuthorization).where(PaymentAuthorization.id == authorization_id).with_for_update())
    if hold is None:
        raise NotFound(f"Authorization {authorization_id} not found")
    return hold


def capture_hold(db, actor: Actor, authorization_id: int, *, vendor: PaymentVendor | None = None,
                 now: dt.datetime | None = None, invoice_title: str | None = None) -> HoldView:
    """Capture a hold: the card's part is taken and credited to the wallet, then the full amount is
    debited. With `invoice_title`, a charge, its invoice and the payment are written too (paid at once).
    A second capture of the same hold is refused (the row is locked and can leave 'authorized' once)."""
    actor.require("create_customer_transaction", "capture payments")
    with db.transaction() as s:
        hold = _locked_hold(s, authorization_id)
        now = now or s.scalar(select(func.now()))
        if hold.status != "authorized":
            raise PaymentRefused(f"Authorization {hold.id} is already {hold.status}; it cannot be captured.")
        if hold.expires_at <= now:
            raise PaymentRefused(f"Authorization {hold.id} expired on {hold.expires_at:%Y-%m-%d %H:%M} UTC "
                                 "(holds last 7 days); authorize again.")
        customer = _customer(s, hold.customer_id)
        wallet = _wallet(s, customer)
        if wallet.balance + hold.card_amount - hold.amount < -customer.credit_limit:
            raise PaymentRefused(f"The wallet no longer holds the {rules.money(hold.wallet_amount, hold.currency)} this "
                                 "hold counted on; release it and authorize again.")
        method = s.get(PaymentMethod, hold.payment_method_id) if hold.payment_method_id else None
        payment = Payment(customer_id=customer.id, authorization_id=hold.id, payment_method_id=hold.payment_method_id,
                          vendor=hold.vendor, amount=hold.amount, wallet_amount=hold.wallet_amount,
                          card_amount=hold.card_amount, currency=hold.currency, status="succeeded",
                          idempotency_key=f"capture-{hold.idempotency_key}")
        if hold.card_amount > 0:
            result = _vendor_for(method, vendor).capture(reference=hold.vendor_authorization_id, amount=hold.card_amount,
                                                         currency=hold.currency,
                                                         idempotency_key=f"capture-{hold.idempotency_key}")
            payment.vendor_transaction_id = result.reference
            payment.vendor_response = result.raw
        hold.status = "captured"
        hold.captured_at = func.now()
        s.add(payment)
        flush_or_refuse(s)
        if hold.card_amount > 0:
            _ledger(s, wallet, customer, "credit", hold.card_amount, f"Card capture {payment.vendor_transaction_id}",
                    "payment_capture", payment.id)
        _ledger(s, wallet, customer, "debit", hold.amount, invoice_title or "Captured hold", "payment_authorization", hold.id)
        if invoice_title:
            today = s.scalar(select(func.current_date()))
            line = BillingTransaction(customer_id=customer.id, kind="charge", title=invoice_title[:200],
                                      retail_cost=hold.amount)
            s.add(line)
            invoice = Invoice(customer_id=customer.id, currency=hold.currency, start_date=today, end_date=today,
                              due_date=today, title=invoice_title[:200], subtotal=hold.amount, total=hold.amount)
            s.add(invoice)
            flush_or_refuse(s)
            s.refresh(invoice)  # the database gave it its number
            line.invoice_id = invoice.id
            payment.invoice_id = invoice.id
            billing.apply_payment(s, actor, invoice, amount=hold.amount, currency=hold.currency,
                                  method="stripe" if hold.card_amount > 0 else "wallet",
                                  reference=payment.vendor_transaction_id or f"wallet-payment-{payment.id}",
                                  payment_date=None, title=f"Payment for Invoice {invoice.number}")
        flush_or_refuse(s)
        activity.record(s, actor, action="capture", entity_type="payment_authorization", entity_id=hold.id,
                        customer_id=customer.id,
                        summary=f"Authorization {hold.id} captured: {rules.money(hold.amount, hold.currency)}")
        s.refresh(hold)
        return _hold_view(hold)


def release_hold(db, actor: Actor, authorization_id: int, *, vendor: PaymentVendor | None = None,
                 reason: str = "") -> HoldView:
    """Release a hold (provisioning failed, order cancelled): the card is freed, the wallet untouched."""
    actor.require("create_customer_transaction", "release payments")
    with db.transaction() as s:
        hold = _locked_hold(s, authorization_id)
        if hold.status != "authorized":
            raise PaymentRefused(f"Authorization {hold.id} is already {hold.status}; it cannot be released.")
        if hold.card_amount > 0:
            method = s.get(PaymentMethod, hold.payment_method_id) if hold.payment_method_id else None
            _vendor_for(method, vendor).release(reference=hold.vendor_authorization_id,
                                                idempotency_key=f"release-{hold.idempotency_key}")
        hold.status = "released"
        hold.released_at = func.now()
        flush_or_refuse(s)
        activity.record(s, actor, action="release", entity_type="payment_authorization", entity_id=hold.id,
                        customer_id=hold.customer_id,
                        summary=f"Authorization {hold.id} released" + (f": {reason}" if reason else ""))
        s.refresh(hold)
        return _hold_view(hold)


def expire_holds(db, actor: Actor, *, now: dt.datetime | None = None, vendor: PaymentVendor | None = None) -> int:
    """Mark holds past their 7 days as expired (the card issuer drops them; the vendor is told when it can be)."""
    actor.require("create_customer_transaction", "expire payment holds")
    with db.transaction() as s:
        now = now or s.scalar(select(func.now()))
        holds = s.scalars(select(PaymentAuthorization).where(PaymentAuthorization.status == "authorized",
                                                             PaymentAuthorization.expires_at <= now)
                          .with_for_update(skip_locked=True)).all()
        for hold in holds:
            if hold.card_amount > 0 and vendor is not None:
                try:
                    vendor.release(reference=hold.vendor_authorization_id, idempotency_key=f"release-{hold.idempotency_key}")
                except VendorError:
                    pass  # the issuer lets an uncaptured hold lapse anyway
            hold.status = "expired"
        if holds:
            activity.record(s, actor, action="expire", entity_type="payment_authorization", entity_id=None,
                            summary=f"{len(holds)} payment holds expired")
        return len(holds)

"""The payment layer against an HTTP-level Stripe fake: wallet-first charges, holds, idempotency, refunds."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from omnidesk.billing import payments as pay
from omnidesk.billing import service as bs
from omnidesk.billing.models import Payment, WalletLedgerEntry
from omnidesk.billing.vendors import PaymentDeclined, StripeVendor, VendorUnavailable
from omnidesk.customers import service as cs
from omnidesk.errors import ServiceError
from stripe_fake import FakeStripe

D = Decimal
TODAY = dt.date.today()


@pytest.fixture
def stripe():
    fake = FakeStripe()
    vendor = StripeVendor(fake.api_key, transport=fake.transport)
    yield fake, vendor
    vendor.close()


def customer_with_card(db, admin, *, wallet=None, credit_limit=0, card="pm_card_visa", currency="USD"):
    c = cs.create_customer(db, admin, name="Dana Whitfield", currency=currency, credit_limit=credit_limit)
    pay.add_payment_method(db, admin, c.id, vendor="stripe", vendor_payment_method_id=card, vendor_customer_id="cus_Test1",
                           card_brand="visa", card_last4="4242", card_exp_month=12, card_exp_year=2030)
    if wallet:
        pay.adjust_wallet(db, admin, c.id, wallet, description="Opening balance")
    return c


def ledger(db, admin, c):
    return [(r.transaction_type, r.amount, r.balance_before, r.balance_after)
            for r in reversed(pay.wallet_ledger(db, admin, c.id))]


def test_500_with_150_in_the_wallet_puts_350_on_the_card(db, admin, stripe):
    fake, vendor = stripe
    c = customer_with_card(db, admin, wallet="150.00")
    result = pay.charge(db, admin, c.id, "500.00", idempotency_key="order-500-a", vendor=vendor)
    assert (result.wallet_portion, result.card_portion, result.final_balance) == (D("150.00"), D("350.00"), D("0.00"))
    [sent] = fake.bodies("/v1/payment_intents")
    assert (sent["amount"], sent["currency"], sent["payment_method"], sent["confirm"]) == ("35000", "usd", "pm_card_visa", "true")
    assert fake.requests[0].headers["Idempotency-Key"] == "order-500-a"
    assert fake.money_moved == 35000
    assert ledger(db, admin, c) == [("credit", D("150.00"), D("0.00"), D("150.00")),
                                    ("credit", D("350.00"), D("150.00"), D("500.00")),
                                    ("debit", D("500.00"), D("500.00"), D("0.00"))]


def test_a_charge_the_wallet_covers_never_reaches_the_card(db, admin, stripe):
    fake, vendor = stripe
    c = customer_with_card(db, admin, wallet="50.00")
    result = pay.charge(db, admin, c.id, "30.00", idempotency_key="small-charge-1", vendor=vendor)
    assert (result.card_portion, result.final_balance) == (D("0.00"), D("20.00"))
    assert fake.requests == []


def test_bypass_puts_everything_on_the_card_and_nets_the_wallet_to_zero(db, admin, stripe):
    fake, vendor = stripe
    c = customer_with_card(db, admin, wallet="40.00")
    result = pay.charge(db, admin, c.id, "100.00", idempotency_key="bypass-1", vendor=vendor, routing_mode="bypass")
    assert (result.card_portion, result.final_balance) == (D("100.00"), D("40.00"))
    assert fake.money_moved == 10000


def test_retrying_a_payment_with_the_same_key_never_charges_twice(db, admin, stripe):
    fake, vendor = stripe
    c = customer_with_card(db, admin)
    first = pay.charge(db, admin, c.id, "99.99", idempotency_key="retry-me-123", vendor=vendor)
    again = pay.charge(db, admin, c.id, "99.99", idempotency_key="retry-me-123", vendor=vendor)
    assert again.replayed and again.payment_id == first.payment_id
    assert fake.money_moved == 9999 and len(fake.requests) == 1
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Payment)) == 1
    with pytest.raises(ServiceError, match="was used for payment .* use a new key for a different payment"):
        pay.charge(db, admin, c.id, "10.00", idempotency_key="retry-me-123", vendor=vendor)


def test_a_retry_after_the_database_lost_the_first_answer_is_replayed_by_stripe(db, admin, stripe):
    """The card was charged but the commit failed: the retry reuses the key, Stripe replays, no second charge."""
    fake, vendor = stripe
    c = customer_with_card(db, admin)
    original = pay._ledger
    pay._ledger = lambda *a, **k: (_ for _ in ()).throw(ServiceError("connection lost mid-write"))
    try:
        with pytest.raises(ServiceError):
            pay.charge(db, admin, c.id, "25.00", idempotency_key="lost-commit-1", vendor=vendor)
    finally:
        pay._ledger = original
    result = pay.charge(db, admin, c.id, "25.00", idempotency_key="lost-commit-1", vendor=vendor)
    assert result.card_portion == D("25.00")
    assert fake.money_moved == 2500 and fake.requests[-1].headers["Idempotency-Key"] == "lost-commit-1"


def test_a_declined_card_writes_nothing(db, admin, stripe):
    fake, vendor = stripe
    c = customer_with_card(db, admin, wallet="10.00", card="pm_card_chargeDeclined")
    with pytest.raises(PaymentDeclined, match="Your card was declined"):
        pay.charge(db, admin, c.id, "60.00", idempotency_key="declined-1", vendor=vendor)
    assert pay.wallet_balance(db, admin, c.id) == D("10.00")
    assert len(ledger(db, admin, c)) == 1


def test_stripe_being_down_is_reported_and_nothing_is_written(db, admin, stripe):
    fake, vendor = stripe
    c = customer_with_card(db, admin)
    fake.fail_next_with = 500
    with pytest.raises(VendorUnavailable, match="nothing was charged"):
        pay.charge(db, admin, c.id, "60.00", idempotency_key="stripe-down-1", vendor=vendor)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Payment)) == 0


def test_without_a_card_the_wallet_may_only_go_as_low_as_the_credit_limit(db, admin):
    c = cs.create_customer(db, admin, name="Postpaid Co", currency="USD", credit_limit="100.00", payment_type="postpaid")
    pay.adjust_wallet(db, admin, c.id, "50.00", description="Top-up")
    assert pay.charge(db, admin, c.id, "120.00", idempotency_key="no-card-1").final_balance == D("-70.00")
    with pytest.raises(ServiceError, match=r"Insufficient wallet balance. Available: 100.00, Required: 40.00"):
        pay.charge(db, admin, c.id, "40.00", idempotency_key="no-card-2")
    assert pay.wallet_balance(db, admin, c.id) == D("-70.00")


def test_the_ledger_is_append_only(db, admin):
    c = cs.create_customer(db, admin, name="Ledger Ltd", currency="USD")
    pay.adjust_wallet(db, admin, c.id, "5.00", description="Goodwill")
    with pytest.raises(Exception, match="append-only"):
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE wallet_ledger SET amount = 500"))


def test_paying_an_invoice_by_card_marks_it_paid_and_a_refund_reverses_it_once(db, admin, stripe):
    fake, vendor = stripe
    c = customer_with_card(db, admin, wallet="20.00")
    bs.add_transaction(db, admin, c.id, title="Monthly plan", retail_cost="45.00", tax_percentage="10")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    paid = pay.pay_invoice(db, admin, inv.id, idempotency_key=f"pay-{inv.number}", vendor=vendor)
    assert (paid.status, paid.payment_method, paid.outstanding) == ("paid", "stripe", D("0.00"))
    assert fake.money_moved == 2950  # 49.50 - 20.00 from the wallet
    assert pay.pay_invoice(db, admin, inv.id, idempotency_key=f"pay-{inv.number}", vendor=vendor).status == "paid"
    assert fake.money_moved == 2950

    with pytest.raises(ServiceError, match=r"refund of \$60.00 is above the \$49.50 paid"):
        pay.refund_invoice(db, admin, inv.id, amount="60.00", vendor=vendor)
    refunded = pay.refund_invoice(db, admin, inv.id, vendor=vendor)
    assert refunded.status == "refunded" and refunded.refund_reference.startswith("re_")
    assert fake.money_moved == 0 and pay.wallet_balance(db, admin, c.id) == D("20.00")
    assert [line.title for line in refunded.lines] == ["Monthly plan"]  # lines stay linked
    with pytest.raises(ServiceError, match="already refunded"):
        pay.refund_invoice(db, admin, inv.id, vendor=vendor)
    st = bs.statement(db, admin, c.id, TODAY, TODAY)
    assert st.closing_balance == D("0.00")


def test_a_cash_paid_invoice_is_not_refunded_through_the_vendor(db, admin, stripe):
    fake, vendor = stripe
    c = customer_with_card(db, admin)
    bs.add_transaction(db, admin, c.id, title="Router", retail_cost="80.00")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    bs.record_payment(db, admin, inv.id, method="cash")
    with pytest.raises(ServiceError, match="paid by Cash; .* Add a credit instead"):
        pay.refund_invoice(db, admin, inv.id, vendor=vendor)
    assert fake.requests == []


def test_paying_an_invoice_in_another_currency_is_refused(db, admin, stripe):
    fake, vendor = stripe
    c = customer_with_card(db, admin, currency="EUR")
    bs.add_transaction(db, admin, c.id, title="Plan", retail_cost="10.00")
    inv = bs.generate_invoice(db, admin, c.id, start=TODAY, end=TODAY)
    with pytest.raises(ServiceError, match=f"Invoice {inv.number} is in EUR; a payment in USD"):
        pay.pay_invoice(db, admin, inv.id, idempotency_key="eur-usd-1", vendor=vendor, currency="USD")
    assert fake.requests == [] and bs.get_invoice(db, admin, inv.id).status == "unpaid"


# --- holds ---


def test_a_hold_authorizes_the_shortfall_and_capture_debits_the_wallet_in_full(db, admin, stripe):
    fake, vendor = stripe
    c = customer_with_card(db, admin, wallet="150.00")
    hold = pay.authorize_hold(db, admin, c.id, "500.00", idempotency_key="hold-500-1", vendor=vendor)
    assert (hold.wallet_amount, hold.card_amount, hold.status) == (D("150.00"), D("350.00"), "authorized")
    assert hold.message == "Card authorized for $350.00 (wallet top-up). Wallet debit of $500.00 will occur at capture."
    assert hold.expires_at - hold.authorized_at == dt.timedelta(days=7)
    assert fake.bodies("/v1/payment_intents")[0]["capture_method"] == "manual"
    assert pay.wallet_balance(db, admin, c.id) == D("150.00")  # nothing debited before capture

    captured = pay.capture_hold(db, admin, hold.id, vendor=vendor, invoice_title="Top-up 30 days")
    assert captured.status == "captured" and fake.money_moved == 35000
    assert pay.wallet_balance(db, admin, c.id) == D("0.00")
    [inv] = bs.list_invoices(db, admin, c.id)
    assert (inv.status, inv.total, inv.number) == ("paid", D("500.00"), f"INV-{TODAY.year}-000001")


def test_two_captures_of_one_hold_never_both_succeed(db, admin, stripe):
    fake, vendor = stripe
    c = customer_with_card(db, admin)
    hold = pay.authorize_hold(db, admin, c.id, "80.00", idempotency_key="hold-race-1", vendor=vendor)
    barrier = threading.Barrier(2)
    outcomes: list = []

    def workstation():
        barrier.wait()
        try:
            outcomes.append(pay.capture_hold(db, admin, hold.id, vendor=vendor).status)
        except ServiceError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=workstation) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == [f"Authorization {hold.id} is already captured; it cannot be captured.", "captured"]
    assert fake.money_moved == 8000 and len(fake.bodies("/capture")) == 1
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(WalletLedgerEntry).where(WalletLedgerEntry.transaction_type == "debit")) == 1


def test_a_released_hold_charges_nothing_and_cannot_be_captured(db, admin, stripe):
    fake, vendor = stripe
    c = customer_with_card(db, admin, wallet="10.00")
    hold = pay.authorize_hold(db, admin, c.id, "30.00", idempotency_key="hold-release-1", vendor=vendor)
    assert pay.release_hold(db, admin, hold.id, vendor=vendor, reason="provisioning_failed").status == "released"
    assert fake.intents[hold.vendor_authorization_id]["status"] == "canceled"
    with pytest.raises(ServiceError, match="already released"):
        pay.capture_hold(db, admin, hold.id, vendor=vendor)
    assert fake.money_moved == 0 and pay.wallet_balance(db, admin, c.id) == D("10.00")


def test_a_hold_expires_after_seven_days(db, admin, stripe):
    fake, vendor = stripe
    c = customer_with_card(db, admin)
    hold = pay.authorize_hold(db, admin, c.id, "30.00", idempotency_key="hold-expire-1", vendor=vendor)
    later = hold.authorized_at + dt.timedelta(days=7, seconds=1)
    with pytest.raises(ServiceError, match=r"expired on .*\(holds last 7 days\)"):
        pay.capture_hold(db, admin, hold.id, vendor=vendor, now=later)
    assert pay.expire_holds(db, admin, now=hold.authorized_at + dt.timedelta(days=6)) == 0
    assert pay.expire_holds(db, admin, now=later, vendor=vendor) == 1
    assert fake.money_moved == 0


def test_capturing_an_unknown_hold_says_so(db, admin):
    with pytest.raises(ServiceError, match="Authorization 999 not found"):
        pay.capture_hold(db, admin, 999)

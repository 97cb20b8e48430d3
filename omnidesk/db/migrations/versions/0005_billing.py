"""Billing: transactions and invoices in full, the invoice number counter, the PDF cache, payment
methods, card holds, vendor payments, the wallet ledger, shared billing settings, the e-mail outbox.

The database enforces, besides the CHECKs and keys of the tables:
- invoice numbers INV-YYYY-NNNNNN taken from a counter row per year that stays locked until the
  invoice's transaction commits, so concurrent workstations never share a number and a rolled-back
  invoice leaves no gap; a client-supplied number is ignored;
- an invoice's currency is its customer's, its number, customer and currency never change, and its
  status moves only along unpaid -> partially_paid | paid | void, partially_paid -> paid, paid -> refunded;
- an invoiced transaction keeps its amounts (it is corrected with a credit, not edited);
- a card hold leaves `authorized` once only (two captures cannot both succeed);
- the wallet ledger is append-only.

Depends only on the tables of 0001-0003 (customer, service, site, invoice, billing_transaction).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 15:01:11.690674
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

TRIGGERS = r"""
CREATE FUNCTION omnidesk_take_invoice_number(for_year integer) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    taken integer;
BEGIN
    -- The row stays locked until the caller's transaction ends: a second workstation waits here,
    -- and a rollback returns the number, so numbers are gapless and never shared.
    INSERT INTO invoice_number_counter AS c (year, last_number) VALUES (for_year, 1)
    ON CONFLICT (year) DO UPDATE SET last_number = c.last_number + 1
    RETURNING last_number INTO taken;
    RETURN format('INV-%s-%s', for_year, lpad(taken::text, 6, '0'));
END $$;

CREATE FUNCTION omnidesk_invoice_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.currency IS NULL THEN
            SELECT currency INTO NEW.currency FROM customer WHERE id = NEW.customer_id;
        END IF;
        NEW.number := omnidesk_take_invoice_number(extract(year FROM NEW.issue_date)::integer);
        RETURN NEW;
    END IF;
    IF NEW.number IS DISTINCT FROM OLD.number OR NEW.customer_id <> OLD.customer_id
       OR NEW.currency <> OLD.currency THEN
        RAISE EXCEPTION 'Invoice % keeps its number, customer and currency.', OLD.number
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status <> OLD.status AND NOT (
        (OLD.status = 'unpaid' AND NEW.status IN ('partially_paid', 'paid', 'void')) OR
        (OLD.status = 'partially_paid' AND NEW.status = 'paid') OR
        (OLD.status = 'paid' AND NEW.status = 'refunded')) THEN
        RAISE EXCEPTION 'Invoice % cannot go from % to %.', OLD.number,
            replace(OLD.status, '_', ' '), replace(NEW.status, '_', ' ')
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER invoice_before_write BEFORE INSERT OR UPDATE ON invoice
FOR EACH ROW EXECUTE FUNCTION omnidesk_invoice_before_write();

CREATE FUNCTION omnidesk_billing_transaction_before_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.invoice_id IS NOT NULL AND (NEW.retail_cost, NEW.tax_percentage, NEW.tax_amount, NEW.kind, NEW.customer_id)
       IS DISTINCT FROM (OLD.retail_cost, OLD.tax_percentage, OLD.tax_amount, OLD.kind, OLD.customer_id) THEN
        RAISE EXCEPTION 'Transaction % is invoiced; correct it with a credit instead of editing it.', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER billing_transaction_before_update BEFORE UPDATE ON billing_transaction
FOR EACH ROW EXECUTE FUNCTION omnidesk_billing_transaction_before_update();

CREATE FUNCTION omnidesk_payment_authorization_before_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status <> OLD.status AND OLD.status <> 'authorized' THEN
        RAISE EXCEPTION 'Authorization % is already %.', OLD.id, OLD.status USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER payment_authorization_before_update BEFORE UPDATE ON payment_authorization
FOR EACH ROW EXECUTE FUNCTION omnidesk_payment_authorization_before_update();

CREATE FUNCTION omnidesk_wallet_ledger_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'The wallet ledger is append-only.' USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER wallet_ledger_append_only BEFORE UPDATE OR DELETE ON wallet_ledger
FOR EACH ROW EXECUTE FUNCTION omnidesk_wallet_ledger_append_only();
"""

DROP_TRIGGERS = r"""
DROP TRIGGER wallet_ledger_append_only ON wallet_ledger;
DROP FUNCTION omnidesk_wallet_ledger_append_only();
DROP TRIGGER payment_authorization_before_update ON payment_authorization;
DROP FUNCTION omnidesk_payment_authorization_before_update();
DROP TRIGGER billing_transaction_before_update ON billing_transaction;
DROP FUNCTION omnidesk_billing_transaction_before_update();
DROP TRIGGER invoice_before_write ON invoice;
DROP FUNCTION omnidesk_invoice_before_write();
DROP FUNCTION omnidesk_take_invoice_number(integer);
"""

# CHECKs on the tables of 0001 (autogenerate does not compare CHECK constraints; the models list them too).
TRANSACTION_CHECKS = {
    "tax_percentage_at_most_100": "tax_percentage <= 100",
    "kind": "kind IN ('charge', 'credit', 'payment', 'refund')",
    "title_length": "length(btrim(title)) BETWEEN 1 AND 200",
    "sign_of_kind": "(kind IN ('charge', 'refund') AND retail_cost >= 0) OR (kind IN ('credit', 'payment') AND retail_cost <= 0)",
    "tax_on_charges_only": "kind = 'charge' OR (tax_percentage = 0 AND tax_amount = 0)",
    "tax_amount_rounded": "tax_amount = round(retail_cost * tax_percentage / 100, 2)",
    "wholesale_cost_not_negative": "wholesale_cost >= 0",
    "void_only_uninvoiced": "NOT (void AND invoice_id IS NOT NULL)",
    "payment_pays_an_invoice": "kind <> 'payment' OR invoice_id IS NOT NULL",
    "method": "method IS NULL OR method IN ('cash', 'pos', 'bank_transfer', 'card', 'stripe', 'wallet', 'manual')",
}
INVOICE_CHECKS = {
    "total_not_negative": "total >= 0",
    "paid_amount_not_negative": "paid_amount >= 0",
    "currency_code": "currency ~ '^[A-Z]{3}$'",
    "number_format": "number IS NULL OR number ~ '^INV-[0-9]{4}-[0-9]{6}$'",
    "payment_method": "payment_method IS NULL OR payment_method IN ('cash', 'pos', 'bank_transfer', 'card', 'stripe', 'wallet', 'manual')",
}


def upgrade() -> None:
    op.create_table('billing_setting',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("key ~ '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$'", name=op.f('ck_billing_setting_key_format')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_billing_setting'))
    )
    op.create_table('invoice_number_counter',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.CheckConstraint('last_number BETWEEN 1 AND 999999', name=op.f('ck_invoice_number_counter_last_number_range')),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_invoice_number_counter'))
    )
    op.create_table('payment_method',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('vendor', sa.String(length=32), nullable=False),
    sa.Column('vendor_payment_method_id', sa.String(length=100), nullable=False),
    sa.Column('vendor_customer_id', sa.String(length=100), nullable=True),
    sa.Column('payment_type', sa.String(length=16), server_default='card', nullable=False),
    sa.Column('card_brand', sa.String(length=20), server_default='', nullable=False),
    sa.Column('card_last4', sa.String(length=4), server_default='', nullable=False),
    sa.Column('card_exp_month', sa.SmallInteger(), nullable=True),
    sa.Column('card_exp_year', sa.SmallInteger(), nullable=True),
    sa.Column('card_nickname', sa.String(length=60), server_default='', nullable=False),
    sa.Column('is_default', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('status', sa.String(length=16), server_default='active', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("card_last4 ~ '^([0-9]{4})?$'", name=op.f('ck_payment_method_last4_digits')),
    sa.CheckConstraint("status IN ('active', 'removed')", name=op.f('ck_payment_method_status')),
    sa.CheckConstraint("vendor ~ '^[a-z][a-z0-9_]*$'", name=op.f('ck_payment_method_vendor_name')),
    sa.CheckConstraint('card_exp_month IS NULL OR card_exp_month BETWEEN 1 AND 12', name=op.f('ck_payment_method_exp_month_range')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_payment_method_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_method'))
    )
    op.create_index(op.f('ix_payment_method_customer_id'), 'payment_method', ['customer_id'], unique=False)
    op.create_index('uq_payment_method_one_default', 'payment_method', ['customer_id'], unique=True, postgresql_where=sa.text("is_default AND status = 'active'"))
    op.create_table('wallet_account',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('balance', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('low_balance_warning_threshold', sa.Numeric(precision=14, scale=2), server_default='10', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f('ck_wallet_account_currency_code')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_wallet_account_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wallet_account')),
    sa.UniqueConstraint('customer_id', name=op.f('uq_wallet_account_customer_id'))
    )
    op.create_table('email_outbox',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=True),
    sa.Column('invoice_id', sa.BigInteger(), nullable=True),
    sa.Column('template', sa.String(length=80), nullable=False),
    sa.Column('recipients', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('variables', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('status', sa.String(length=8), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_error', sa.Text(), server_default='', nullable=False),
    sa.Column('provider_message_id', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("jsonb_typeof(recipients) = 'array' AND jsonb_array_length(recipients) > 0", name=op.f('ck_email_outbox_has_recipients')),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name=op.f('ck_email_outbox_status')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_email_outbox_customer_id_customer')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], name=op.f('fk_email_outbox_invoice_id_invoice')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_outbox'))
    )
    op.create_index(op.f('ix_email_outbox_customer_id'), 'email_outbox', ['customer_id'], unique=False)
    op.create_index('ix_email_outbox_due', 'email_outbox', ['next_attempt_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_table('invoice_pdf_cache',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('content_key', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('invoice_id', sa.BigInteger(), nullable=True),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('filename', sa.String(length=120), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('render_ms', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_accessed', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("content_key ~ '^[0-9a-f]{64}$' AND pdf_sha256 ~ '^[0-9a-f]{64}$'", name=op.f('ck_invoice_pdf_cache_hex_digests')),
    sa.CheckConstraint("kind <> 'invoice' OR invoice_id IS NOT NULL", name=op.f('ck_invoice_pdf_cache_invoice_has_invoice_id')),
    sa.CheckConstraint("kind IN ('invoice', 'statement')", name=op.f('ck_invoice_pdf_cache_kind')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_invoice_pdf_cache_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], name=op.f('fk_invoice_pdf_cache_invoice_id_invoice'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_pdf_cache')),
    sa.UniqueConstraint('content_key', name=op.f('uq_invoice_pdf_cache_content_key'))
    )
    op.create_index(op.f('ix_invoice_pdf_cache_customer_id'), 'invoice_pdf_cache', ['customer_id'], unique=False)
    op.create_index(op.f('ix_invoice_pdf_cache_invoice_id'), 'invoice_pdf_cache', ['invoice_id'], unique=False)
    op.create_index('ix_invoice_pdf_cache_last_accessed', 'invoice_pdf_cache', ['last_accessed'], unique=False)
    op.create_table('payment_authorization',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('payment_method_id', sa.BigInteger(), nullable=True),
    sa.Column('vendor', sa.String(length=32), nullable=False),
    sa.Column('vendor_authorization_id', sa.String(length=100), nullable=True),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('wallet_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('card_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=12), server_default='authorized', nullable=False),
    sa.Column('idempotency_key', sa.String(length=100), nullable=False),
    sa.Column('authorized_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), server_default=sa.text("now() + interval '7 days'"), nullable=False),
    sa.Column('captured_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('meta', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.CheckConstraint("status IN ('authorized', 'captured', 'released', 'expired')", name=op.f('ck_payment_authorization_status')),
    sa.CheckConstraint('amount > 0 AND wallet_amount >= 0 AND card_amount >= 0 AND wallet_amount + card_amount = amount', name=op.f('ck_payment_authorization_amounts_add_up')),
    sa.CheckConstraint('expires_at > authorized_at', name=op.f('ck_payment_authorization_expires_after_authorized')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_payment_authorization_customer_id_customer')),
    sa.ForeignKeyConstraint(['payment_method_id'], ['payment_method.id'], name=op.f('fk_payment_authorization_payment_method_id_payment_method')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_authorization')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_payment_authorization_idempotency_key'))
    )
    op.create_index(op.f('ix_payment_authorization_customer_id'), 'payment_authorization', ['customer_id'], unique=False)
    op.create_index('ix_payment_authorization_open', 'payment_authorization', ['expires_at'], unique=False, postgresql_where=sa.text("status = 'authorized'"))
    op.create_table('wallet_ledger',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('wallet_account_id', sa.BigInteger(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('transaction_type', sa.String(length=12), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('balance_before', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('balance_after', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('reference_type', sa.String(length=32), nullable=True),
    sa.Column('reference_id', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(transaction_type = 'debit' AND amount > 0 AND balance_after = balance_before - amount) OR (transaction_type IN ('credit', 'refund') AND amount > 0 AND balance_after = balance_before + amount) OR (transaction_type = 'adjustment' AND amount <> 0 AND balance_after = balance_before + amount)", name=op.f('ck_wallet_ledger_balance_arithmetic')),
    sa.CheckConstraint("transaction_type IN ('credit', 'debit', 'refund', 'adjustment')", name=op.f('ck_wallet_ledger_transaction_type')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_wallet_ledger_customer_id_customer')),
    sa.ForeignKeyConstraint(['wallet_account_id'], ['wallet_account.id'], name=op.f('fk_wallet_ledger_wallet_account_id_wallet_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wallet_ledger'))
    )
    op.create_index('ix_wallet_ledger_customer_id_id', 'wallet_ledger', ['customer_id', 'id'], unique=False)
    op.create_table('payment',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('authorization_id', sa.BigInteger(), nullable=True),
    sa.Column('invoice_id', sa.BigInteger(), nullable=True),
    sa.Column('payment_method_id', sa.BigInteger(), nullable=True),
    sa.Column('vendor', sa.String(length=32), nullable=False),
    sa.Column('vendor_transaction_id', sa.String(length=100), nullable=True),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('wallet_amount', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('card_amount', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('routing_mode', sa.String(length=8), server_default='hybrid', nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('idempotency_key', sa.String(length=100), nullable=False),
    sa.Column('refunded_amount', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('refund_reference', sa.String(length=100), nullable=True),
    sa.Column('vendor_response', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("routing_mode IN ('hybrid', 'bypass')", name=op.f('ck_payment_routing_mode')),
    sa.CheckConstraint("status IN ('succeeded', 'failed', 'refunded')", name=op.f('ck_payment_status')),
    sa.CheckConstraint('amount > 0 AND wallet_amount >= 0 AND card_amount >= 0', name=op.f('ck_payment_amounts_not_negative')),
    sa.CheckConstraint('refunded_amount BETWEEN 0 AND card_amount + wallet_amount', name=op.f('ck_payment_refund_at_most_paid')),
    sa.ForeignKeyConstraint(['authorization_id'], ['payment_authorization.id'], name=op.f('fk_payment_authorization_id_payment_authorization')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_payment_customer_id_customer')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], name=op.f('fk_payment_invoice_id_invoice')),
    sa.ForeignKeyConstraint(['payment_method_id'], ['payment_method.id'], name=op.f('fk_payment_payment_method_id_payment_method')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment')),
    sa.UniqueConstraint('authorization_id', name=op.f('uq_payment_authorization_id')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_payment_idempotency_key'))
    )
    op.create_index(op.f('ix_payment_customer_id'), 'payment', ['customer_id'], unique=False)
    op.create_index(op.f('ix_payment_invoice_id'), 'payment', ['invoice_id'], unique=False)
    op.add_column('billing_transaction', sa.Column('kind', sa.String(length=8), server_default='charge', nullable=False))
    op.add_column('billing_transaction', sa.Column('description', sa.Text(), server_default='', nullable=False))
    op.add_column('billing_transaction', sa.Column('wholesale_cost', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False))
    op.add_column('billing_transaction', sa.Column('transaction_date', sa.Date(), server_default=sa.text('CURRENT_DATE'), nullable=False))
    op.add_column('billing_transaction', sa.Column('method', sa.String(length=16), nullable=True))
    op.add_column('billing_transaction', sa.Column('reference', sa.String(length=200), nullable=True))
    op.add_column('billing_transaction', sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f('ix_billing_transaction_invoice_id'), 'billing_transaction', ['invoice_id'], unique=False)
    op.create_index('ix_billing_transaction_uninvoiced', 'billing_transaction', ['customer_id', 'transaction_date'], unique=False, postgresql_where=sa.text('invoice_id IS NULL AND NOT void'))
    op.add_column('invoice', sa.Column('title', sa.String(length=200), server_default='', nullable=False))
    op.add_column('invoice', sa.Column('currency', sa.String(length=3), nullable=True))
    op.execute("UPDATE invoice SET currency = customer.currency FROM customer WHERE customer.id = invoice.customer_id")
    op.alter_column('invoice', 'currency', nullable=False)
    op.add_column('invoice', sa.Column('issue_date', sa.Date(), server_default=sa.text('CURRENT_DATE'), nullable=False))
    op.add_column('invoice', sa.Column('subtotal', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False))
    op.add_column('invoice', sa.Column('tax_total', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False))
    op.add_column('invoice', sa.Column('paid_amount', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False))
    op.add_column('invoice', sa.Column('payment_method', sa.String(length=16), nullable=True))
    op.add_column('invoice', sa.Column('payment_reference', sa.String(length=100), nullable=True))
    op.add_column('invoice', sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('invoice', sa.Column('refund_reference', sa.String(length=100), nullable=True))
    op.add_column('invoice', sa.Column('refunded_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('invoice', sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('invoice', sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False))
    op.create_index('ix_invoice_status_id', 'invoice', ['status', 'id'], unique=False)
    # Invoices written before this revision may carry any number: keep them, start the counters after them.
    op.execute("UPDATE invoice SET number = NULL WHERE number !~ '^INV-[0-9]{4}-[0-9]{6}$'")
    op.execute("INSERT INTO invoice_number_counter (year, last_number) "
               "SELECT substr(number, 5, 4)::int, max(substr(number, 10)::int) FROM invoice "
               "WHERE number IS NOT NULL GROUP BY 1")
    for name, condition in TRANSACTION_CHECKS.items():
        op.create_check_constraint(op.f(f"ck_billing_transaction_{name}"), "billing_transaction", condition)
    for name, condition in INVOICE_CHECKS.items():
        op.create_check_constraint(op.f(f"ck_invoice_{name}"), "invoice", condition)
    op.execute(TRIGGERS)


def downgrade() -> None:
    op.execute(DROP_TRIGGERS)
    for name in INVOICE_CHECKS:
        op.drop_constraint(op.f(f"ck_invoice_{name}"), "invoice", type_="check")
    for name in TRANSACTION_CHECKS:
        op.drop_constraint(op.f(f"ck_billing_transaction_{name}"), "billing_transaction", type_="check")
    op.drop_index('ix_invoice_status_id', table_name='invoice')
    op.drop_column('invoice', 'updated_at')
    op.drop_column('invoice', 'voided_at')
    op.drop_column('invoice', 'refunded_at')
    op.drop_column('invoice', 'refund_reference')
    op.drop_column('invoice', 'paid_at')
    op.drop_column('invoice', 'payment_reference')
    op.drop_column('invoice', 'payment_method')
    op.drop_column('invoice', 'paid_amount')
    op.drop_column('invoice', 'tax_total')
    op.drop_column('invoice', 'subtotal')
    op.drop_column('invoice', 'issue_date')
    op.drop_column('invoice', 'currency')
    op.drop_column('invoice', 'title')
    op.drop_index('ix_billing_transaction_uninvoiced', table_name='billing_transaction', postgresql_where=sa.text('invoice_id IS NULL AND NOT void'))
    op.drop_index(op.f('ix_billing_transaction_invoice_id'), table_name='billing_transaction')
    op.drop_column('billing_transaction', 'voided_at')
    op.drop_column('billing_transaction', 'reference')
    op.drop_column('billing_transaction', 'method')
    op.drop_column('billing_transaction', 'transaction_date')
    op.drop_column('billing_transaction', 'wholesale_cost')
    op.drop_column('billing_transaction', 'description')
    op.drop_column('billing_transaction', 'kind')
    op.drop_index(op.f('ix_payment_invoice_id'), table_name='payment')
    op.drop_index(op.f('ix_payment_customer_id'), table_name='payment')
    op.drop_table('payment')
    op.drop_index('ix_wallet_ledger_customer_id_id', table_name='wallet_ledger')
    op.drop_table('wallet_ledger')
    op.drop_index('ix_payment_authorization_open', table_name='payment_authorization', postgresql_where=sa.text("status = 'authorized'"))
    op.drop_index(op.f('ix_payment_authorization_customer_id'), table_name='payment_authorization')
    op.drop_table('payment_authorization')
    op.drop_index('ix_invoice_pdf_cache_last_accessed', table_name='invoice_pdf_cache')
    op.drop_index(op.f('ix_invoice_pdf_cache_invoice_id'), table_name='invoice_pdf_cache')
    op.drop_index(op.f('ix_invoice_pdf_cache_customer_id'), table_name='invoice_pdf_cache')
    op.drop_table('invoice_pdf_cache')
    op.drop_index('ix_email_outbox_due', table_name='email_outbox', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index(op.f('ix_email_outbox_customer_id'), table_name='email_outbox')
    op.drop_table('email_outbox')
    op.drop_table('wallet_account')
    op.drop_index('uq_payment_method_one_default', table_name='payment_method', postgresql_where=sa.text("is_default AND status = 'active'"))
    op.drop_index(op.f('ix_payment_method_customer_id'), table_name='payment_method')
    op.drop_table('payment_method')
    op.drop_table('invoice_number_counter')
    op.drop_table('billing_setting')

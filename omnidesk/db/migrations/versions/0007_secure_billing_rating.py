"""Billing and rating tables under the security of 0004: row-level security, and table grants
generated from the permissions that use them.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ALL = ("SELECT", "INSERT", "UPDATE", "DELETE")
_WALLET = [("SELECT", "wallet_account"), ("INSERT", "wallet_account"), ("UPDATE", "wallet_account"),
           ("SELECT", "wallet_ledger"), ("INSERT", "wallet_ledger")]
_CARD_PAYMENT = [("SELECT", "payment_method"), ("SELECT", "payment_authorization"), ("INSERT", "payment_authorization"),
                 ("UPDATE", "payment_authorization"), ("SELECT", "payment"), ("INSERT", "payment"), ("UPDATE", "payment")]
GRANTS = {
    "view_customer_invoice": [("SELECT", "invoice_pdf_cache"), ("INSERT", "invoice_pdf_cache"),
                              ("UPDATE", "invoice_pdf_cache"), ("SELECT", "billing_setting"), ("SELECT", "payment"),
                              ("SELECT", "billing_transaction")],
    "create_customer_invoice": [("SELECT", "invoice_number_counter"), ("INSERT", "invoice_number_counter"),
                                ("UPDATE", "invoice_number_counter"), ("SELECT", "billing_transaction"),
                                ("UPDATE", "billing_transaction"), ("SELECT", "billing_setting")],
    "update_customer_invoice": _WALLET + _CARD_PAYMENT + [("SELECT", "billing_transaction"),
                                                          ("INSERT", "billing_transaction"), ("SELECT", "email_outbox"),
                                                          ("INSERT", "email_outbox")],
    "delete_customer_invoice": [("SELECT", "billing_transaction"), ("UPDATE", "billing_transaction")],
    "view_customer_transaction": [("SELECT", "wallet_account"), ("SELECT", "wallet_ledger"), ("SELECT", "payment")],
    "create_customer_transaction": _WALLET + _CARD_PAYMENT + [
        ("SELECT", "billing_setting"), ("SELECT", "cdr"), ("INSERT", "cdr"), ("SELECT", "cdr_rating"),
        ("INSERT", "cdr_rating"), ("DELETE", "cdr_rating"), ("SELECT", "rate_plan"), ("SELECT", "rate_plan_rate"),
        ("SELECT", "customer_rate_plan")],
    "view_customer_stripe_card": [("SELECT", "payment_method")],
    "create_customer_stripe_card": [("SELECT", "payment_method"), ("INSERT", "payment_method")],
    "update_customer_stripe_card": [("SELECT", "payment_method"), ("UPDATE", "payment_method")],
    "delete_customer_stripe_card": [("SELECT", "payment_method"), ("DELETE", "payment_method")],
    "view_product": [("SELECT", "rate_plan"), ("SELECT", "rate_plan_rate")],
    "update_product": [(p, t) for t in ("rate_plan", "rate_plan_rate") for p in ALL],
    "update_customer": [(p, "customer_rate_plan") for p in ALL] + [("SELECT", "rate_plan")],
    "view_report": [("SELECT", t) for t in ("cdr", "cdr_rating", "rate_plan", "rate_plan_rate", "wallet_account",
                                             "billing_transaction", "customer")],
    "manage_settings": [(p, "billing_setting") for p in ALL] + [("SELECT", "invoice_pdf_cache"),
                                                                ("DELETE", "invoice_pdf_cache")],
}


def _rows() -> list[dict]:
    return [{"permission": perm, "privilege": priv, "table_name": table}
            for perm, grants in GRANTS.items() for priv, table in sorted(set(grants))]


def upgrade() -> None:
    op.get_bind().execute(
        sa.text("INSERT INTO permission_grant (permission_id, privilege, table_name) "
                "SELECT id, :privilege, :table_name FROM permission WHERE name = :permission "
                "ON CONFLICT DO NOTHING"),
        _rows(),
    )
    op.execute("SELECT omnidesk_secure_tables()")
    op.execute("SELECT omnidesk_apply_all_grants()")


def downgrade() -> None:
    op.get_bind().execute(
        sa.text("DELETE FROM permission_grant g USING permission p WHERE p.id = g.permission_id "
                "AND p.name = :permission AND g.privilege = :privilege AND g.table_name = :table_name"),
        _rows(),
    )
    op.execute("SELECT omnidesk_apply_all_grants()")

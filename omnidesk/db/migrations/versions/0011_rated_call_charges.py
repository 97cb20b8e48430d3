"""Rated calls posted as charges, the outbox sender's right to mark mail sent, and staff's right to
drop superseded cached PDFs.

`cdr_charge` links each rated call to the billing transaction that charged it, so posting calls
twice never bills them twice (a call whose charge was voided may be posted again). Staff who
record invoice payments may also run the e-mail outbox sender, which marks rows sent or retried.

Revision ID: 0011
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

GRANTS = {
    "create_customer_transaction": [("SELECT", "cdr_charge"), ("INSERT", "cdr_charge"), ("UPDATE", "cdr_charge")],
    "view_customer_transaction": [("SELECT", "cdr_charge")],
    "update_customer_invoice": [("UPDATE", "email_outbox")],
    # documents._store drops an invoice's superseded PDFs when it caches a new one; without DELETE every
    # staff member's first download of an invoice failed with "permission denied for table invoice_pdf_cache".
    "view_customer_invoice": [("DELETE", "invoice_pdf_cache")],
}


def _rows() -> list[dict]:
    return [{"permission": perm, "privilege": priv, "table_name": table}
            for perm, grants in GRANTS.items() for priv, table in grants]


def upgrade() -> None:
    op.create_table(
        "cdr_charge",
        sa.Column("cdr_id", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["cdr_id"], ["cdr.id"], name=op.f("fk_cdr_charge_cdr_id_cdr"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["transaction_id"], ["billing_transaction.id"],
                                name=op.f("fk_cdr_charge_transaction_id_billing_transaction")),
        sa.PrimaryKeyConstraint("cdr_id", name=op.f("pk_cdr_charge")),
    )
    op.create_index(op.f("ix_cdr_charge_transaction_id"), "cdr_charge", ["transaction_id"])
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
    op.drop_index(op.f("ix_cdr_charge_transaction_id"), table_name="cdr_charge")
    op.drop_table("cdr_charge")
    op.execute("SELECT omnidesk_apply_all_grants()")

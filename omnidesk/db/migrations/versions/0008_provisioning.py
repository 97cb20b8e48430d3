"""Provisioning: the job queue, one event per playbook task, shared settings, NOTIFY for other
workstations, and the grants of the provision permissions.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ALL = ("SELECT", "INSERT", "UPDATE", "DELETE")
_RUN_JOB = [("SELECT", "provisioning_job"), ("UPDATE", "provisioning_job"), ("SELECT", "provisioning_event"),
            ("INSERT", "provisioning_event"), ("UPDATE", "provisioning_event"), ("SELECT", "provisioning_setting"),
            # a job's effects: the service, its inventory, its charges, the failure e-mail
            ("SELECT", "service"), ("INSERT", "service"), ("UPDATE", "service"), ("SELECT", "inventory_item"),
            ("UPDATE", "inventory_item"), ("INSERT", "inventory_item_history"), ("SELECT", "inventory_template"),
            ("SELECT", "billing_transaction"), ("INSERT", "billing_transaction"), ("SELECT", "email_outbox"),
            ("INSERT", "email_outbox"),
            ("SELECT", "product"), ("SELECT", "product_inventory_type"), ("SELECT", "customer"), ("SELECT", "site")]
GRANTS = {
    "view_provision": [("SELECT", "provisioning_job"), ("SELECT", "provisioning_event"), ("SELECT", "provisioning_setting")],
    "view_own_provision": [("SELECT", "provisioning_job"), ("SELECT", "provisioning_event")],
    "view_provision_event": [("SELECT", "provisioning_event"), ("SELECT", "provisioning_job")],
    "create_provision": [("SELECT", "provisioning_job"), ("INSERT", "provisioning_job"),
                         ("SELECT", "provisioning_setting"), ("SELECT", "product"), ("SELECT", "product_inventory_type"),
                         ("SELECT", "inventory_template"), ("SELECT", "customer"), ("SELECT", "site"),
                         ("SELECT", "service"), ("SELECT", "inventory_item"), ("UPDATE", "inventory_item"),
                         ("INSERT", "inventory_item_history")],
    "update_provision": _RUN_JOB,
    "create_provision_event": [("SELECT", "provisioning_event"), ("INSERT", "provisioning_event")],
    "update_provision_event": [("SELECT", "provisioning_event"), ("UPDATE", "provisioning_event")],
    "delete_provision": [("SELECT", "provisioning_job"), ("DELETE", "provisioning_job")],
    "manage_settings": [(p, "provisioning_setting") for p in ALL],
}

NOTIFY = r"""
CREATE FUNCTION omnidesk_notify_provisioning() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('omnidesk_provisioning', json_build_object(
        'table', TG_TABLE_NAME,
        'op', lower(TG_OP),
        'id', NEW.id,
        'job_id', CASE WHEN TG_TABLE_NAME = 'provisioning_job' THEN NEW.id ELSE (to_jsonb(NEW) ->> 'job_id')::bigint END,
        'status', to_jsonb(NEW) ->> 'status'
    )::text);
    RETURN NULL;
END $$;

CREATE TRIGGER provisioning_job_notify AFTER INSERT OR UPDATE ON provisioning_job
    FOR EACH ROW EXECUTE FUNCTION omnidesk_notify_provisioning();
CREATE TRIGGER provisioning_event_notify AFTER INSERT OR UPDATE ON provisioning_event
    FOR EACH ROW EXECUTE FUNCTION omnidesk_notify_provisioning();
"""


def _rows() -> list[dict]:
    return [{"permission": perm, "privilege": priv, "table_name": table}
            for perm, grants in GRANTS.items() for priv, table in sorted(set(grants))]


def upgrade() -> None:
    op.create_table(
        "provisioning_job",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("action", sa.String(length=12), server_default="provision", nullable=False),
        sa.Column("status", sa.String(length=10), server_default="queued", nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("site_id", sa.BigInteger(), nullable=True),
        sa.Column("service_id", sa.BigInteger(), nullable=True),
        sa.Column("playbook", sa.String(length=100), nullable=False),
        sa.Column("playbook_description", sa.String(length=200), server_default="", nullable=False),
        sa.Column("task_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("inventory", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("overrides", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("variables", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("service_uuid", sa.String(length=64), nullable=False),
        sa.Column("auto_renew", sa.Boolean(), nullable=True),
        sa.Column("effects", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), server_default="300", nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.Column("initiated_by", sa.String(length=100), nullable=False),
        sa.Column("retry_of", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'success', 'failed', 'cancelled')",
                           name=op.f("ck_provisioning_job_status")),
        sa.CheckConstraint("action IN ('provision', 'deprovision')", name=op.f("ck_provisioning_job_action")),
        sa.CheckConstraint("timeout_seconds BETWEEN 1 AND 86400", name=op.f("ck_provisioning_job_timeout_range")),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("fk_provisioning_job_customer_id_customer")),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"], name=op.f("fk_provisioning_job_product_id_product")),
        sa.ForeignKeyConstraint(["retry_of"], ["provisioning_job.id"], name=op.f("fk_provisioning_job_retry_of_provisioning_job")),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], name=op.f("fk_provisioning_job_service_id_service")),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_provisioning_job_site_id_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioning_job")),
    )
    op.create_index(op.f("ix_provisioning_job_customer_id"), "provisioning_job", ["customer_id"])
    op.create_index(op.f("ix_provisioning_job_product_id"), "provisioning_job", ["product_id"])
    op.create_index(op.f("ix_provisioning_job_service_id"), "provisioning_job", ["service_id"])
    op.create_index("ix_provisioning_job_queued", "provisioning_job", ["id"], postgresql_where=sa.text("status = 'queued'"))
    op.create_table(
        "provisioning_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("event_number", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(length=8), server_default="run", nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("output", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status BETWEEN 0 AND 3", name=op.f("ck_provisioning_event_status")),
        sa.CheckConstraint("phase IN ('run', 'rollback')", name=op.f("ck_provisioning_event_phase")),
        sa.ForeignKeyConstraint(["job_id"], ["provisioning_job.id"], ondelete="CASCADE",
                                name=op.f("fk_provisioning_event_job_id_provisioning_job")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioning_event")),
    )
    op.create_index("ux_provisioning_event_number", "provisioning_event", ["job_id", "event_number"], unique=True)
    op.create_table(
        "provisioning_setting",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_provisioning_setting")),
    )
    op.execute(NOTIFY)
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
    op.drop_table("provisioning_setting")
    op.drop_table("provisioning_event")
    op.drop_table("provisioning_job")
    op.execute("DROP FUNCTION omnidesk_notify_provisioning()")
    op.execute("SELECT omnidesk_apply_all_grants()")

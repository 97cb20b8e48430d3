"""Core schema: staff, roles, permission catalog, customers and what hangs off them, activity log.

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 11:40:16.750382
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

# Trigram search without the pg_trgm extension (the embedded server ships without contrib):
# an IMMUTABLE function that lists the 3-character substrings, indexed with GIN. No DISTINCT:
# GIN drops duplicate keys itself, and sorting them here doubled the cost of indexing a row.
FUNCTIONS_AND_TRIGGERS = r"""
CREATE FUNCTION omnidesk_trigrams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ARRAY(SELECT substr(t, i, 3) FROM generate_series(1, length(t) - 2) AS i)
$$;

CREATE INDEX ix_customer_search_trigrams ON customer USING gin (omnidesk_trigrams(search_text));
-- The list sorts names case-insensitively in byte order whatever the server's collation, and
-- the same index answers 1-2 letter prefix searches as a range scan.
CREATE INDEX ix_customer_name_sort ON customer ((lower(name) COLLATE "C"), id);

CREATE FUNCTION omnidesk_contact_search_text(p_customer_id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(string_agg(concat_ws(' ', lower(email), phone), ' ' ORDER BY id), '')
    FROM contact WHERE customer_id = p_customer_id
$$;

CREATE FUNCTION omnidesk_customer_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status
       AND (OLD.status, NEW.status) NOT IN (
           ('pending', 'active'), ('active', 'suspended'), ('suspended', 'active'),
           ('active', 'closed'), ('suspended', 'closed')) THEN
        RAISE EXCEPTION 'A % customer cannot become %', OLD.status, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_customer_status_transition';
    END IF;
    IF TG_OP = 'INSERT' OR NEW.name IS DISTINCT FROM OLD.name THEN
        NEW.search_text := btrim(lower(NEW.name) || ' ' || omnidesk_contact_search_text(NEW.id));
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER customer_before_write BEFORE INSERT OR UPDATE ON customer
    FOR EACH ROW EXECUTE FUNCTION omnidesk_customer_before_write();

CREATE FUNCTION omnidesk_contact_after_write() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    affected bigint[] := ARRAY[]::bigint[];
BEGIN
    IF TG_OP <> 'DELETE' THEN affected := affected || NEW.customer_id; END IF;
    IF TG_OP <> 'INSERT' THEN affected := affected || OLD.customer_id; END IF;
    UPDATE customer c
       SET search_text = btrim(lower(c.name) || ' ' || omnidesk_contact_search_text(c.id))
     WHERE c.id = ANY (affected);
    RETURN NULL;
END $$;

CREATE TRIGGER contact_after_write AFTER INSERT OR UPDATE OR DELETE ON contact
    FOR EACH ROW EXECUTE FUNCTION omnidesk_contact_after_write();

-- Every workstation with a customer window open LISTENs on this channel.
CREATE FUNCTION omnidesk_notify_customer_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    rec record;
BEGIN
    IF TG_OP = 'DELETE' THEN rec := OLD; ELSE rec := NEW; END IF;
    PERFORM pg_notify('omnidesk_customers', json_build_object(
        'table', TG_TABLE_NAME,
        'op', lower(TG_OP),
        'id', rec.id,
        'customer_id', CASE WHEN TG_TABLE_NAME = 'customer' THEN rec.id ELSE (to_jsonb(rec) ->> 'customer_id')::bigint END
    )::text);
    RETURN NULL;
END $$;

CREATE TRIGGER customer_notify AFTER INSERT OR UPDATE OR DELETE ON customer
    FOR EACH ROW EXECUTE FUNCTION omnidesk_notify_customer_change();
CREATE TRIGGER contact_notify AFTER INSERT OR UPDATE OR DELETE ON contact
    FOR EACH ROW EXECUTE FUNCTION omnidesk_notify_customer_change();
CREATE TRIGGER site_notify AFTER INSERT OR UPDATE OR DELETE ON site
    FOR EACH ROW EXECUTE FUNCTION omnidesk_notify_customer_change();
CREATE TRIGGER customer_attribute_notify AFTER INSERT OR UPDATE OR DELETE ON customer_attribute
    FOR EACH ROW EXECUTE FUNCTION omnidesk_notify_customer_change();
CREATE TRIGGER customer_tag_notify AFTER INSERT OR UPDATE OR DELETE ON customer_tag
    FOR EACH ROW EXECUTE FUNCTION omnidesk_notify_customer_change();
CREATE TRIGGER activity_log_notify AFTER INSERT ON activity_log
    FOR EACH ROW EXECUTE FUNCTION omnidesk_notify_customer_change();

CREATE FUNCTION omnidesk_activity_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'The activity log is append-only; entries cannot be changed or removed'
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER activity_log_append_only BEFORE UPDATE OR DELETE ON activity_log
    FOR EACH ROW EXECUTE FUNCTION omnidesk_activity_log_append_only();
CREATE TRIGGER activity_log_no_truncate BEFORE TRUNCATE ON activity_log
    FOR EACH STATEMENT EXECUTE FUNCTION omnidesk_activity_log_append_only();
"""

DROP_FUNCTIONS = r"""
DROP TRIGGER IF EXISTS activity_log_no_truncate ON activity_log;
DROP TRIGGER IF EXISTS activity_log_append_only ON activity_log;
DROP FUNCTION IF EXISTS omnidesk_activity_log_append_only() CASCADE;
DROP FUNCTION IF EXISTS omnidesk_notify_customer_change() CASCADE;
DROP FUNCTION IF EXISTS omnidesk_contact_after_write() CASCADE;
DROP FUNCTION IF EXISTS omnidesk_customer_before_write() CASCADE;
DROP INDEX IF EXISTS ix_customer_search_trigrams;
DROP INDEX IF EXISTS ix_customer_name_sort;
DROP FUNCTION IF EXISTS omnidesk_contact_search_text(bigint);
DROP FUNCTION IF EXISTS omnidesk_trigrams(text);
"""

# The permission catalog of seed 003 (L29826-29897) verbatim, "view own X" as view_own_X, plus
# the additions settled in DECISIONS.md.
GLOBAL_PERMISSIONS = {
    "admin": "Full administrative access",
    "can_impersonate": "Open the self-care view as another user",
    "grafana_access": "Open the analytics dashboards",
    "approve_cbc_message": "Approve or reject a cell broadcast message (two-person rule)",
    "view_report": "View reports",
    "manage_settings": "Change settings shared by all workstations",
    "manage_users": "Manage staff users and roles",
}
ENTITY_GROUPS = {
    # group: (label, has a "view own" variant)
    "customer": ("customers", True),
    "customer_site": ("customer sites", True),
    "customer_contact": ("customer contacts", True),
    "customer_attribute": ("customer attributes", True),
    "customer_tag": ("customer tags", True),
    "customer_service": ("customer services", True),
    "customer_activity": ("customer activity", True),
    "customer_stripe_card": ("stored payment cards", True),
    "customer_transaction": ("transactions", True),
    "customer_invoice": ("invoices", True),
    "communication": ("communications", True),
    "inventory": ("inventory items", True),
    "inventory_template": ("inventory templates", True),
    "product": ("products", False),
    "cbc_message": ("cell broadcast messages", False),
    "provision": ("provisioning jobs", True),
    "provision_event": ("provisioning events", False),
}


def _seed_catalog() -> None:
    rows = [{"name": n, "description": d, "scope": "global"} for n, d in GLOBAL_PERMISSIONS.items()]
    for group, (label, own) in ENTITY_GROUPS.items():
        for verb in ("view", "create", "update", "delete"):
            rows.append({"name": f"{verb}_{group}", "description": f"{verb.capitalize()} {label}", "scope": "entity"})
        if own:
            rows.append({"name": f"view_own_{group}", "description": f"View own {label}", "scope": "own"})
    permission = sa.table("permission", sa.column("name"), sa.column("description"), sa.column("scope"))
    op.bulk_insert(permission, rows)
    op.execute(
        "INSERT INTO role (name, description, is_builtin) VALUES "
        "('Admin', 'Every permission of the catalog', true)"
    )
    op.execute(
        "INSERT INTO role_permission (role_id, permission_id) "
        "SELECT r.id, p.id FROM role r CROSS JOIN permission p WHERE r.name = 'Admin'"
    )
    op.execute(
        "INSERT INTO staff_user (username, full_name, is_active, is_builtin) "
        "VALUES ('admin', 'Built-in administrator', true, true)"
    )
    op.execute(
        "INSERT INTO user_role (user_id, role_id) "
        "SELECT u.id, r.id FROM staff_user u, role r WHERE u.username = 'admin' AND r.name = 'Admin'"
    )


def upgrade() -> None:
    op.create_table('customer',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('account_type', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('payment_type', sa.String(length=16), nullable=False),
    sa.Column('credit_limit', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('tax_identifier', sa.String(length=64), nullable=True),
    sa.Column('contract_start_date', sa.Date(), nullable=True),
    sa.Column('contract_end_date', sa.Date(), nullable=True),
    sa.Column('notes', sa.Text(), server_default='', nullable=False),
    sa.Column('kyc_approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('kyc_approved_by', sa.String(length=63), nullable=True),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('search_text', sa.Text(), server_default='', nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("account_type IN ('individual', 'business')", name=op.f('ck_customer_account_type')),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f('ck_customer_currency_code')),
    sa.CheckConstraint("payment_type IN ('prepaid', 'postpaid')", name=op.f('ck_customer_payment_type')),
    sa.CheckConstraint("status IN ('pending', 'active', 'suspended', 'closed')", name=op.f('ck_customer_status')),
    sa.CheckConstraint('contract_end_date IS NULL OR contract_start_date IS NULL OR contract_end_date >= contract_start_date', name=op.f('ck_customer_contract_dates')),
    sa.CheckConstraint('credit_limit >= 0', name=op.f('ck_customer_credit_limit_not_negative')),
    sa.CheckConstraint('length(btrim(name)) BETWEEN 1 AND 200', name=op.f('ck_customer_name_length')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer'))
    )
    op.create_index('ix_customer_account_type_id', 'customer', ['account_type', 'id'], unique=False)
    op.create_index('ix_customer_created_at_id', 'customer', ['created_at', 'id'], unique=False)
    op.create_index('ix_customer_payment_type_id', 'customer', ['payment_type', 'id'], unique=False)
    op.create_index('ix_customer_status_id', 'customer', ['status', 'id'], unique=False)
    op.create_table('permission',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.CheckConstraint("name ~ '^[a-z][a-z0-9_]*$'", name=op.f('ck_permission_name_format')),
    sa.CheckConstraint("scope IN ('global', 'entity', 'own')", name=op.f('ck_permission_scope')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_permission')),
    sa.UniqueConstraint('name', name=op.f('uq_permission_name'))
    )
    op.create_table('role',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('is_builtin', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role')),
    sa.UniqueConstraint('name', name=op.f('uq_role_name'))
    )
    op.create_table('staff_user',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('username', sa.String(length=63), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('is_builtin', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("username ~ '^[a-z][a-z0-9_.-]{1,62}$'", name=op.f('ck_staff_user_username_format')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_user'))
    )
    op.create_index('uq_staff_user_username_lower', 'staff_user', [sa.literal_column('lower(username)')], unique=True)
    op.create_table('activity_log',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=63), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=True),
    sa.Column('entity_type', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.BigInteger(), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('changes', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['staff_user.id'], name=op.f('fk_activity_log_actor_user_id_staff_user')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_activity_log_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_log'))
    )
    op.create_index('ix_activity_log_customer_id_occurred_at', 'activity_log', ['customer_id', 'occurred_at'], unique=False)
    op.create_table('contact',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('contact_type', sa.String(length=16), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), server_default='', nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("contact_type IN ('primary', 'billing', 'technical')", name=op.f('ck_contact_contact_type')),
    sa.CheckConstraint("email IS NULL OR email ~ '^[^@\\s]+@[^@\\s]+$'", name=op.f('ck_contact_email_shape')),
    sa.CheckConstraint("phone IS NULL OR phone ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f('ck_contact_phone_e164')),
    sa.CheckConstraint('length(btrim(first_name)) BETWEEN 1 AND 100', name=op.f('ck_contact_first_name_length')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_contact_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact'))
    )
    op.create_index(op.f('ix_contact_customer_id'), 'contact', ['customer_id'], unique=False)
    op.create_index('uq_contact_one_primary', 'contact', ['customer_id'], unique=True, postgresql_where=sa.text("contact_type = 'primary'"))
    op.create_table('customer_attribute',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=150), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("key ~ '^[a-z][a-z0-9]*(_[a-z0-9]+)*$'", name=op.f('ck_customer_attribute_key_snake_case')),
    sa.CheckConstraint('length(value) <= 150', name=op.f('ck_customer_attribute_value_length')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_attribute_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_attribute')),
    sa.UniqueConstraint('customer_id', 'key', name=op.f('uq_customer_attribute_customer_id_key'))
    )
    op.create_table('customer_tag',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('label', sa.String(length=60), nullable=False),
    sa.Column('colour', sa.String(length=6), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('active_from', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deactivate_at', sa.DateTime(timezone=True), server_default=sa.text("'2099-01-01 00:00:00+00'"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("colour ~ '^[0-9A-F]{6}$'", name=op.f('ck_customer_tag_colour_hex')),
    sa.CheckConstraint("link IS NULL OR link ~ '^https?://'", name=op.f('ck_customer_tag_link_scheme')),
    sa.CheckConstraint('deactivate_at > active_from', name=op.f('ck_customer_tag_window')),
    sa.CheckConstraint('length(btrim(label)) BETWEEN 1 AND 60', name=op.f('ck_customer_tag_label_length')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_tag_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_tag'))
    )
    op.create_index(op.f('ix_customer_tag_customer_id'), 'customer_tag', ['customer_id'], unique=False)
    op.create_table('invoice',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='unpaid', nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('total', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('unpaid', 'partially_paid', 'paid', 'void', 'refunded')", name=op.f('ck_invoice_status')),
    sa.CheckConstraint('end_date >= start_date', name=op.f('ck_invoice_period')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_invoice_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice')),
    sa.UniqueConstraint('number', name=op.f('uq_invoice_number'))
    )
    op.create_index(op.f('ix_invoice_customer_id'), 'invoice', ['customer_id'], unique=False)
    op.create_table('role_permission',
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.Column('permission_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['permission_id'], ['permission.id'], name=op.f('fk_role_permission_permission_id_permission'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['role_id'], ['role.id'], name=op.f('fk_role_permission_role_id_role'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('role_id', 'permission_id', name=op.f('pk_role_permission'))
    )
    op.create_table('site',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('address_line_1', sa.String(length=200), server_default='', nullable=False),
    sa.Column('address_line_2', sa.String(length=200), server_default='', nullable=False),
    sa.Column('city', sa.String(length=100), server_default='', nullable=False),
    sa.Column('state', sa.String(length=100), server_default='', nullable=False),
    sa.Column('postcode', sa.String(length=20), server_default='', nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('latitude', sa.Numeric(precision=9, scale=6), nullable=True),
    sa.Column('longitude', sa.Numeric(precision=9, scale=6), nullable=True),
    sa.Column('plus_code', sa.String(length=16), nullable=True),
    sa.Column('address_note', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name=op.f('ck_site_country_code')),
    sa.CheckConstraint('(latitude IS NULL) = (longitude IS NULL)', name=op.f('ck_site_coordinates_together')),
    sa.CheckConstraint('latitude IS NULL OR latitude BETWEEN -90 AND 90', name=op.f('ck_site_latitude_range')),
    sa.CheckConstraint('length(btrim(name)) BETWEEN 1 AND 120', name=op.f('ck_site_name_length')),
    sa.CheckConstraint('longitude IS NULL OR longitude BETWEEN -180 AND 180', name=op.f('ck_site_longitude_range')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_site_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site'))
    )
    op.create_index(op.f('ix_site_customer_id'), 'site', ['customer_id'], unique=False)
    op.create_table('user_role',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['role_id'], ['role.id'], name=op.f('fk_user_role_role_id_role'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['staff_user.id'], name=op.f('fk_user_role_user_id_staff_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'role_id', name=op.f('pk_user_role'))
    )
    op.create_table('service',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('site_id', sa.BigInteger(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=24), server_default='active', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('active', 'inactive', 'suspended', 'pending_cancellation', 'deactivated')", name=op.f('ck_service_status')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_service_customer_id_customer')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_service_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service'))
    )
    op.create_index(op.f('ix_service_customer_id'), 'service', ['customer_id'], unique=False)
    op.create_table('billing_transaction',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('service_id', sa.BigInteger(), nullable=True),
    sa.Column('site_id', sa.BigInteger(), nullable=True),
    sa.Column('invoice_id', sa.BigInteger(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('retail_cost', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('tax_percentage', sa.Numeric(precision=6, scale=3), server_default='0', nullable=False),
    sa.Column('tax_amount', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('void', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('tax_percentage >= 0', name=op.f('ck_billing_transaction_tax_percentage_not_negative')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_billing_transaction_customer_id_customer')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], name=op.f('fk_billing_transaction_invoice_id_invoice')),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_billing_transaction_service_id_service')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_billing_transaction_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_transaction'))
    )
    op.create_index(op.f('ix_billing_transaction_customer_id'), 'billing_transaction', ['customer_id'], unique=False)
    op.execute(FUNCTIONS_AND_TRIGGERS)
    _seed_catalog()


def downgrade() -> None:
    op.execute(DROP_FUNCTIONS)
    op.drop_index(op.f('ix_billing_transaction_customer_id'), table_name='billing_transaction')
    op.drop_table('billing_transaction')
    op.drop_index(op.f('ix_service_customer_id'), table_name='service')
    op.drop_table('service')
    op.drop_table('user_role')
    op.drop_index(op.f('ix_site_customer_id'), table_name='site')
    op.drop_table('site')
    op.drop_table('role_permission')
    op.drop_index(op.f('ix_invoice_customer_id'), table_name='invoice')
    op.drop_table('invoice')
    op.drop_index(op.f('ix_customer_tag_customer_id'), table_name='customer_tag')
    op.drop_table('customer_tag')
    op.drop_table('customer_attribute')
    op.drop_index('uq_contact_one_primary', table_name='contact', postgresql_where=sa.text("contact_type = 'primary'"))
    op.drop_index(op.f('ix_contact_customer_id'), table_name='contact')
    op.drop_table('contact')
    op.drop_index('ix_activity_log_customer_id_occurred_at', table_name='activity_log')
    op.drop_table('activity_log')
    op.drop_index('uq_staff_user_username_lower', table_name='staff_user')
    op.drop_table('staff_user')
    op.drop_table('role')
    op.drop_table('permission')
    op.drop_index('ix_customer_status_id', table_name='customer')
    op.drop_index('ix_customer_payment_type_id', table_name='customer')
    op.drop_index('ix_customer_created_at_id', table_name='customer')
    op.drop_index('ix_customer_account_type_id', table_name='customer')
    op.drop_table('customer')

"""Catalog and inventory: templates, items and their history, products, and the full service record.

The database enforces, besides the CHECKs and keys of the tables:
- the item state machine (the same pairs as omnidesk/inventory/rules.py) and the sold date;
- one history row per state an item enters, written here so raw SQL is recorded too;
- identifier uniqueness per template (template.unique_fields), checked per statement with the
  template row locked so two workstations importing the same ICCID cannot both succeed;
- the service status machine, and that a service keeps its customer, product and UUID;
- an item linked to a service belongs to that service's customer (composite foreign key).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 13:50:59.282059
"""

import os

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

ITEMTEXTS = ", ".join(f"{{p}}.itemtext{n}" for n in range(1, 21))  # {p} is NEW or OLD

TRIGGERS = r"""
CREATE FUNCTION omnidesk_state_label(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT initcap(replace(s, '_', ' ')) $$;

-- Who the history names: the application sets omnidesk.actor (and omnidesk.reason) per transaction.
CREATE FUNCTION omnidesk_current_actor() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT left(coalesce(nullif(current_setting('omnidesk.actor', true), ''), current_user), 63) $$;

CREATE FUNCTION omnidesk_inventory_item_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.template_id <> OLD.template_id THEN
            RAISE EXCEPTION 'Inventory item % cannot change its template', OLD.id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_inventory_item_template_fixed';
        END IF;
        IF NEW.item_state IS DISTINCT FROM OLD.item_state AND (OLD.item_state, NEW.item_state) NOT IN (
            ('assigned', 'damaged'), ('assigned', 'lost'), ('assigned', 'new'), ('assigned', 'out_of_service'),
            ('assigned', 'stolen'), ('assigned', 'used'), ('damaged', 'lost'), ('damaged', 'new'),
            ('damaged', 'stolen'), ('internal_use', 'lost'), ('internal_use', 'out_of_service'), ('internal_use', 'stolen'),
            ('internal_use', 'used'), ('lost', 'stolen'), ('lost', 'used'), ('new', 'assigned'),
            ('new', 'internal_use'), ('new', 'lost'), ('new', 'out_of_service'), ('new', 'stolen'),
            ('out_of_service', 'damaged'), ('out_of_service', 'lost'), ('out_of_service', 'stolen'), ('out_of_service', 'used'),
            ('stolen', 'lost'), ('stolen', 'used'), ('used', 'assigned'), ('used', 'lost'),
            ('used', 'new'), ('used', 'out_of_service'), ('used', 'stolen')) THEN
            RAISE EXCEPTION 'An item in state % cannot become %',
                omnidesk_state_label(OLD.item_state), omnidesk_state_label(NEW.item_state)
                USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_inventory_item_state_transition';
        END IF;
    END IF;
    IF NEW.item_state = 'assigned' THEN
        IF TG_OP = 'INSERT' THEN
            NEW.sold_date := coalesce(NEW.sold_date, now());
        ELSIF OLD.item_state <> 'assigned' AND NEW.sold_date IS NOT DISTINCT FROM OLD.sold_date THEN
            NEW.sold_date := now();
        END IF;
    ELSE
        NEW.return_due_at := NULL;
        IF NEW.item_state IN ('new', 'used') THEN
            NEW.sold_date := NULL;  -- back in stock: no longer sold
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER inventory_item_before_write BEFORE INSERT OR UPDATE ON inventory_item
    FOR EACH ROW EXECUTE FUNCTION omnidesk_inventory_item_before_write();

-- Set-based per statement, so a 100,000-row import writes its history in one INSERT.
CREATE FUNCTION omnidesk_inventory_item_history_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO inventory_item_history (item_id, from_state, to_state, actor_name, reason, customer_id, service_id)
    SELECT n.id, NULL, n.item_state, omnidesk_current_actor(), coalesce(current_setting('omnidesk.reason', true), ''),
           n.customer_id, n.service_id
      FROM new_rows n ORDER BY n.id;
    RETURN NULL;
END $$;

-- Updates are one or a few rows (a pick, a state change): row-level, and only when the state
-- changes, so no transition table is captured for every update.
CREATE FUNCTION omnidesk_inventory_item_history_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO inventory_item_history (item_id, from_state, to_state, actor_name, reason, customer_id, service_id)
    VALUES (NEW.id, OLD.item_state, NEW.item_state, omnidesk_current_actor(),
            coalesce(current_setting('omnidesk.reason', true), ''),
            coalesce(NEW.customer_id, OLD.customer_id), coalesce(NEW.service_id, OLD.service_id));
    RETURN NULL;
END $$;

CREATE TRIGGER inventory_item_history_insert AFTER INSERT ON inventory_item
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION omnidesk_inventory_item_history_insert();
CREATE TRIGGER inventory_item_history_update AFTER UPDATE ON inventory_item
    FOR EACH ROW WHEN (OLD.item_state IS DISTINCT FROM NEW.item_state)
    EXECUTE FUNCTION omnidesk_inventory_item_history_update();

-- Identifier uniqueness per template. The template row is locked first (FOR NO KEY UPDATE, which
-- does not block foreign-key checks), so a concurrent writer of the same template waits and then
-- sees the committed rows; the queries use the (template_id, itemtextN) indexes. Inserts (an
-- import of 100,000 SIMs) are checked set-wise per statement; updates row by row, and only when
-- an item text changed, so picking and state changes skip the check and the lock.
CREATE FUNCTION omnidesk_inventory_item_identifiers() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    n smallint;
    dup record;
    label text;
    nestloop text := current_setting('enable_nestloop');
BEGIN
    FOR t IN SELECT id, name, unique_fields FROM inventory_template
              WHERE id IN (SELECT DISTINCT template_id FROM new_rows) AND cardinality(unique_fields) > 0
              ORDER BY id FOR NO KEY UPDATE LOOP
        FOREACH n IN ARRAY t.unique_fields LOOP
            -- A transition table has no statistics and a freshly filled table has none yet, so the
            -- planner may take a nested loop over both: quadratic (100,000 rows: minutes). Hash or
            -- merge joins are linear whatever it believes, so nested loops are off for this query.
            PERFORM set_config('enable_nestloop', 'off', true);
            EXECUTE format(
                'SELECT i.itemtext%1$s AS value, min(i.id) AS item_id
                   FROM inventory_item i
                  WHERE i.template_id = $1
                    AND i.itemtext%1$s IN (SELECT r.itemtext%1$s FROM new_rows r WHERE r.template_id = $1)
                  GROUP BY i.itemtext%1$s HAVING count(*) > 1 LIMIT 1', n)
                INTO dup USING t.id;
            PERFORM set_config('enable_nestloop', nestloop, true);
            IF dup.item_id IS NOT NULL THEN
                EXECUTE format('SELECT itemtext%1$s_label FROM inventory_template WHERE id = $1', n) INTO label USING t.id;
                RAISE EXCEPTION '% % % is already used by inventory item %', t.name, label, dup.value, dup.item_id
                    USING ERRCODE = 'unique_violation', CONSTRAINT = 'uq_inventory_item_identifier';
            END IF;
        END LOOP;
    END LOOP;
    RETURN NULL;
END $$;

CREATE FUNCTION omnidesk_inventory_item_identifiers_row() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    n smallint;
    value text;
    label text;
    other bigint;
BEGIN
    SELECT id, name, unique_fields INTO t FROM inventory_template WHERE id = NEW.template_id FOR NO KEY UPDATE;
    FOREACH n IN ARRAY t.unique_fields LOOP
        value := to_jsonb(NEW) ->> ('itemtext' || n);
        CONTINUE WHEN value IS NULL;
        EXECUTE format('SELECT id FROM inventory_item WHERE template_id = $1 AND itemtext%1$s = $2 AND id <> $3 LIMIT 1', n)
            INTO other USING NEW.template_id, value, NEW.id;
        IF other IS NOT NULL THEN
            EXECUTE format('SELECT itemtext%1$s_label FROM inventory_template WHERE id = $1', n) INTO label USING t.id;
            RAISE EXCEPTION '% % % is already used by inventory item %', t.name, label, value, other
                USING ERRCODE = 'unique_violation', CONSTRAINT = 'uq_inventory_item_identifier';
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER inventory_item_identifiers_insert AFTER INSERT ON inventory_item
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION omnidesk_inventory_item_identifiers();
CREATE TRIGGER inventory_item_identifiers_update AFTER UPDATE ON inventory_item
    FOR EACH ROW WHEN ((@NEW_ITEMTEXTS@) IS DISTINCT FROM (@OLD_ITEMTEXTS@))
    EXECUTE FUNCTION omnidesk_inventory_item_identifiers_row();

CREATE FUNCTION omnidesk_inventory_history_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'Inventory item history is append-only; entries cannot be changed or removed'
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER inventory_item_history_append_only BEFORE UPDATE OR DELETE ON inventory_item_history
    FOR EACH ROW EXECUTE FUNCTION omnidesk_inventory_history_append_only();
CREATE TRIGGER inventory_item_history_no_truncate BEFORE TRUNCATE ON inventory_item_history
    FOR EACH STATEMENT EXECUTE FUNCTION omnidesk_inventory_history_append_only();

-- Service status machine (omnidesk/catalog/rules.py SERVICE_TRANSITIONS) and the fields a service keeps.
CREATE FUNCTION omnidesk_service_before_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND (OLD.status, NEW.status) NOT IN (
        ('active', 'suspended'), ('active', 'inactive'), ('active', 'pending_cancellation'), ('active', 'deactivated'),
        ('suspended', 'active'), ('suspended', 'pending_cancellation'), ('suspended', 'deactivated'),
        ('inactive', 'active'), ('inactive', 'deactivated'),
        ('pending_cancellation', 'active'), ('pending_cancellation', 'deactivated')) THEN
        RAISE EXCEPTION 'A % service cannot become %', replace(OLD.status, '_', ' '), replace(NEW.status, '_', ' ')
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_service_status_transition';
    END IF;
    IF NEW.customer_id <> OLD.customer_id THEN
        RAISE EXCEPTION 'Service % cannot move to another customer', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_service_customer_fixed';
    END IF;
    IF OLD.product_id IS NOT NULL AND NEW.product_id IS DISTINCT FROM OLD.product_id THEN
        RAISE EXCEPTION 'Service % cannot change its product', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_service_product_fixed';
    END IF;
    IF OLD.service_uuid IS NOT NULL AND NEW.service_uuid IS DISTINCT FROM OLD.service_uuid THEN
        RAISE EXCEPTION 'Service % keeps its OCS account id %', OLD.id, OLD.service_uuid
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_service_uuid_fixed';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER service_before_update BEFORE UPDATE ON service
    FOR EACH ROW EXECUTE FUNCTION omnidesk_service_before_update();

-- Open customer windows follow their services; inventory and catalog windows refresh per statement
-- (an import notifies once, not 10,000 times).
CREATE TRIGGER service_notify AFTER INSERT OR UPDATE OR DELETE ON service
    FOR EACH ROW EXECUTE FUNCTION omnidesk_notify_customer_change();

CREATE FUNCTION omnidesk_notify_table_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], json_build_object('table', TG_TABLE_NAME, 'op', lower(TG_OP))::text);
    RETURN NULL;
END $$;

CREATE TRIGGER inventory_item_notify AFTER INSERT OR UPDATE OR DELETE ON inventory_item
    FOR EACH STATEMENT EXECUTE FUNCTION omnidesk_notify_table_change('omnidesk_inventory');
CREATE TRIGGER inventory_template_notify AFTER INSERT OR UPDATE OR DELETE ON inventory_template
    FOR EACH STATEMENT EXECUTE FUNCTION omnidesk_notify_table_change('omnidesk_inventory');
CREATE TRIGGER product_notify AFTER INSERT OR UPDATE OR DELETE ON product
    FOR EACH STATEMENT EXECUTE FUNCTION omnidesk_notify_table_change('omnidesk_catalog');
""".replace("@NEW_ITEMTEXTS@", ITEMTEXTS.format(p="NEW")).replace("@OLD_ITEMTEXTS@", ITEMTEXTS.format(p="OLD"))

DROP_TRIGGERS = r"""
DROP TRIGGER IF EXISTS product_notify ON product;
DROP TRIGGER IF EXISTS inventory_template_notify ON inventory_template;
DROP TRIGGER IF EXISTS inventory_item_notify ON inventory_item;
DROP FUNCTION IF EXISTS omnidesk_notify_table_change() CASCADE;
DROP TRIGGER IF EXISTS service_notify ON service;
DROP FUNCTION IF EXISTS omnidesk_service_before_update() CASCADE;
DROP FUNCTION IF EXISTS omnidesk_inventory_history_append_only() CASCADE;
DROP FUNCTION IF EXISTS omnidesk_inventory_item_identifiers_row() CASCADE;
DROP FUNCTION IF EXISTS omnidesk_inventory_item_identifiers() CASCADE;
DROP FUNCTION IF EXISTS omnidesk_inventory_item_history_update() CASCADE;
DROP FUNCTION IF EXISTS omnidesk_inventory_item_history_insert() CASCADE;
DROP FUNCTION IF EXISTS omnidesk_inventory_item_before_write() CASCADE;
DROP FUNCTION IF EXISTS omnidesk_current_actor();
DROP FUNCTION IF EXISTS omnidesk_state_label(text);
"""

LABELS = [f"itemtext{n}_label" for n in range(1, 21)]

# The four examples of seed 003 (L2556-2594). unique_fields: the identifiers no two items share.
TEMPLATES = [
    dict(name="SIM Card", icon="fa-solid fa-sim-card", wholesale_cost="2.50", retail_cost="10.00",
         labels=["ICCID", "IMSI", "SIM Type"], unique_fields=[1, 2], returnable=False),
    dict(name="Mobile Number", icon="fa-solid fa-phone", wholesale_cost="1.00", retail_cost="0.00",
         labels=["Phone Number", "Geographic Region", "Number Type"], unique_fields=[1], returnable=False),
    dict(name="Fixed Wireless CPE", icon="fa-solid fa-tower-broadcast", wholesale_cost="250.00", retail_cost="450.00",
         labels=["MAC Address", "Serial Number", "Firmware Version", "Manufacturer", "Model"], unique_fields=[1, 2],
         returnable=True),
    dict(name="GPON ONT", icon="fa-solid fa-network-wired", wholesale_cost="45.00", retail_cost="0.00",
         labels=["Serial Number", "MAC Address", "PON Location", "Model"], unique_fields=[1, 2], returnable=True),
]


def _seed() -> None:
    bind = op.get_bind()
    for t in TEMPLATES:
        labels = dict(zip(LABELS, t["labels"]))
        columns = ["name", "icon", "wholesale_cost", "retail_cost", "unique_fields", "returnable", *labels]
        bind.execute(
            sa.text(f"INSERT INTO inventory_template ({', '.join(columns)}) "
                    f"VALUES ({', '.join(':' + c for c in columns)})"),
            {**{k: t[k] for k in columns[:6]}, **labels},
        )
    # The key that encrypts device management passwords; every workstation reads it from here.
    bind.execute(
        sa.text("INSERT INTO secret_key (purpose, key) VALUES ('inventory.management_password', :key)"),
        {"key": os.urandom(32)},
    )
    op.execute("REVOKE ALL ON secret_key FROM PUBLIC")


def upgrade() -> None:
    op.create_table('inventory_template',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('icon', sa.String(length=100), server_default='', nullable=False),
    sa.Column('wholesale_cost', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('retail_cost', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('itemtext1_label', sa.String(length=60), server_default='Model Number', nullable=False),
    sa.Column('itemtext2_label', sa.String(length=60), server_default='Serial Number', nullable=False),
    sa.Column('itemtext3_label', sa.String(length=60), nullable=True),
    sa.Column('itemtext4_label', sa.String(length=60), nullable=True),
    sa.Column('itemtext5_label', sa.String(length=60), nullable=True),
    sa.Column('itemtext6_label', sa.String(length=60), nullable=True),
    sa.Column('itemtext7_label', sa.String(length=60), nullable=True),
    sa.Column('itemtext8_label', sa.String(length=60), nullable=True),
    sa.Column('itemtext9_label', sa.String(length=60), nullable=True),
    sa.Column('itemtext10_label', sa.String(length=60), nullable=True),
    sa.Column('itemtext11_label', sa.String(length=60), nullable=True),
    sa.Column('itemtext12_label', sa.String(length=60), nullable=True),
    sa.Column('itemtext13_label', sa.String(length=60), nullable=True),
    sa.Column('itemtext14_label', sa.String(length=60), nullable=True),
    sa.Column('itemtext15_label', sa.String(length=60), nullable=True),
    sa.Column('itemtext16_label', sa.String(length=60), nullable=True),
    sa.Column('itemtext17_label', sa.String(length=60), nullable=True),
    sa.Column('itemtext18_label', sa.String(length=60), nullable=True),
    sa.Column('itemtext19_label', sa.String(length=60), nullable=True),
    sa.Column('itemtext20_label', sa.String(length=60), nullable=True),
    sa.Column('unique_fields', postgresql.ARRAY(sa.SmallInteger()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('returnable', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('allow_dropdown_staff', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('allow_dropdown_customer', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('length(btrim(itemtext1_label)) > 0 AND length(btrim(itemtext2_label)) > 0', name=op.f('ck_inventory_template_labels_required')),
    sa.CheckConstraint('length(name) BETWEEN 1 AND 100 AND name = btrim(name)', name=op.f('ck_inventory_template_name_trimmed')),
    sa.CheckConstraint('unique_fields <@ ARRAY[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]::smallint[]', name=op.f('ck_inventory_template_unique_fields_range')),
    sa.CheckConstraint('wholesale_cost >= 0 AND retail_cost >= 0', name=op.f('ck_inventory_template_costs_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_template')),
    sa.UniqueConstraint('name', name=op.f('uq_inventory_template_name'))
    )
    op.create_table('product',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('category', sa.String(length=12), nullable=False),
    sa.Column('service_type', sa.String(length=40), nullable=False),
    sa.Column('comment', sa.Text(), server_default='', nullable=False),
    sa.Column('icon', sa.String(length=100), server_default='', nullable=False),
    sa.Column('retail_cost', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('wholesale_cost', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('retail_setup_cost', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('wholesale_setup_cost', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('tax_percentage', sa.Numeric(precision=6, scale=3), server_default='0', nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('residential', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('business', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('customer_can_purchase', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('available_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('available_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('contract_days', sa.Integer(), server_default='0', nullable=False),
    sa.Column('auto_renew', sa.String(length=6), server_default='prompt', nullable=False),
    sa.Column('allow_auto_renew', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('terms', sa.Text(), server_default='', nullable=False),
    sa.Column('features', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('provisioning_play', sa.String(length=100), nullable=True),
    sa.Column('provisioning_json_vars', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('relies_on', postgresql.ARRAY(sa.String(length=40)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("auto_renew IN ('prompt', 'true', 'false')", name=op.f('ck_product_auto_renew')),
    sa.CheckConstraint("category <> 'standalone' OR cardinality(relies_on) = 0", name=op.f('ck_product_standalone_relies_on_nothing')),
    sa.CheckConstraint("category IN ('standalone', 'bundle', 'addon', 'promo')", name=op.f('ck_product_category')),
    sa.CheckConstraint("jsonb_typeof(provisioning_json_vars) = 'object'", name=op.f('ck_product_json_vars_object')),
    sa.CheckConstraint("provisioning_play IS NULL OR provisioning_play ~ '^[A-Za-z0-9_][A-Za-z0-9_-]*$'", name=op.f('ck_product_provisioning_play_name')),
    sa.CheckConstraint("service_type ~ '^[a-z][a-z0-9-]*$'", name=op.f('ck_product_service_type_format')),
    sa.CheckConstraint("slug ~ '^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$'", name=op.f('ck_product_slug_format')),
    sa.CheckConstraint('available_until IS NULL OR available_from IS NULL OR available_until > available_from', name=op.f('ck_product_availability_window')),
    sa.CheckConstraint('contract_days BETWEEN 0 AND 3660', name=op.f('ck_product_contract_days_range')),
    sa.CheckConstraint('length(btrim(name)) BETWEEN 1 AND 200', name=op.f('ck_product_name_length')),
    sa.CheckConstraint('retail_cost >= 0 AND wholesale_cost >= 0 AND retail_setup_cost >= 0 AND wholesale_setup_cost >= 0', name=op.f('ck_product_costs_not_negative')),
    sa.CheckConstraint('tax_percentage BETWEEN 0 AND 100', name=op.f('ck_product_tax_percentage_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product'))
    )
    op.create_index('uq_product_slug_lower', 'product', [sa.literal_column('lower(slug)')], unique=True)
    op.create_table('secret_key',
    sa.Column('purpose', sa.String(length=60), nullable=False),
    sa.Column('key', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('octet_length(key) = 32', name=op.f('ck_secret_key_key_length')),
    sa.PrimaryKeyConstraint('purpose', name=op.f('pk_secret_key'))
    )
    op.create_table('product_inventory_type',
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_product_inventory_type_product_id_product'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['template_id'], ['inventory_template.id'], name=op.f('fk_product_inventory_type_template_id_inventory_template')),
    sa.PrimaryKeyConstraint('product_id', 'position', name=op.f('pk_product_inventory_type')),
    sa.UniqueConstraint('product_id', 'template_id', name=op.f('uq_product_inventory_type_product_id_template_id'))
    )
    op.create_index(op.f('ix_product_inventory_type_template_id'), 'product_inventory_type', ['template_id'], unique=False)
    op.add_column('service', sa.Column('product_id', sa.Integer(), nullable=True))
    op.add_column('service', sa.Column('service_type', sa.String(length=40), server_default='generic', nullable=False))
    op.add_column('service', sa.Column('service_uuid', sa.String(length=64), nullable=True))
    op.add_column('service', sa.Column('icon', sa.String(length=100), server_default='', nullable=False))
    op.add_column('service', sa.Column('provisioned_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False))
    op.add_column('service', sa.Column('active_date', sa.DateTime(timezone=True), nullable=True))
    op.add_column('service', sa.Column('deactivate_date', sa.DateTime(timezone=True), nullable=True))
    op.add_column('service', sa.Column('contract_end_date', sa.DateTime(timezone=True), nullable=True))
    op.add_column('service', sa.Column('retail_cost', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False))
    op.add_column('service', sa.Column('wholesale_cost', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False))
    op.add_column('service', sa.Column('billed', sa.Boolean(), server_default='true', nullable=False))
    op.add_column('service', sa.Column('taxable', sa.Boolean(), server_default='true', nullable=False))
    op.add_column('service', sa.Column('invoiced', sa.Boolean(), server_default='false', nullable=False))
    op.add_column('service', sa.Column('promo_code', sa.String(length=40), nullable=True))
    op.add_column('service', sa.Column('visible_to_customer', sa.Boolean(), server_default='true', nullable=False))
    op.add_column('service', sa.Column('usage_visible_to_customer', sa.Boolean(), server_default='true', nullable=False))
    op.add_column('service', sa.Column('auto_renew', sa.Boolean(), server_default='false', nullable=False))
    op.add_column('service', sa.Column('provisioning_play', sa.String(length=100), nullable=True))
    op.add_column('service', sa.Column('provisioning_json_vars', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False))
    op.add_column('service', sa.Column('deprovisioning_play', sa.String(length=100), nullable=True))
    op.add_column('service', sa.Column('deprovisioning_json_vars', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False))
    op.add_column('service', sa.Column('bundled_parent_id', sa.BigInteger(), nullable=True))
    op.add_column('service', sa.Column('notes', sa.Text(), server_default='', nullable=False))
    op.add_column('service', sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    op.add_column('service', sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False))
    op.create_index('ix_service_auto_renew_deactivate_date', 'service', ['deactivate_date'], unique=False, postgresql_where=sa.text('auto_renew'))
    op.create_index('ix_service_deactivate_date', 'service', ['deactivate_date'], unique=False, postgresql_where=sa.text('deactivate_date IS NOT NULL'))
    op.create_index(op.f('ix_service_product_id'), 'service', ['product_id'], unique=False)
    op.create_unique_constraint(op.f('uq_service_id_customer_id'), 'service', ['id', 'customer_id'])
    op.create_unique_constraint(op.f('uq_service_service_uuid'), 'service', ['service_uuid'])
    op.create_foreign_key(op.f('fk_service_bundled_parent_id_service'), 'service', 'service', ['bundled_parent_id'], ['id'])
    op.create_foreign_key(op.f('fk_service_product_id_product'), 'service', 'product', ['product_id'], ['id'])
    op.create_table('inventory_item',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=True),
    sa.Column('service_id', sa.BigInteger(), nullable=True),
    sa.Column('item_location', sa.String(length=200), server_default='', nullable=False),
    sa.Column('item_state', sa.String(length=16), server_default='new', nullable=False),
    sa.Column('itemtext1', sa.String(length=200, collation='C'), nullable=False),
    sa.Column('itemtext2', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('itemtext3', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('itemtext4', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('itemtext5', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('itemtext6', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('itemtext7', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('itemtext8', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('itemtext9', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('itemtext10', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('itemtext11', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('itemtext12', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('itemtext13', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('itemtext14', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('itemtext15', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('itemtext16', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('itemtext17', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('itemtext18', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('itemtext19', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('itemtext20', sa.String(length=200, collation='C'), nullable=True),
    sa.Column('wholesale_cost', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('retail_cost', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('sold_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('return_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('address_line_1', sa.String(length=200), server_default='', nullable=False),
    sa.Column('address_line_2', sa.String(length=200), server_default='', nullable=False),
    sa.Column('city', sa.String(length=100), server_default='', nullable=False),
    sa.Column('state', sa.String(length=100), server_default='', nullable=False),
    sa.Column('postcode', sa.String(length=20), server_default='', nullable=False),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('google_maps_place_id', sa.String(length=200), nullable=True),
    sa.Column('plus_code', sa.String(length=40), nullable=True),
    sa.Column('latitude', sa.Numeric(precision=9, scale=6), nullable=True),
    sa.Column('longitude', sa.Numeric(precision=9, scale=6), nullable=True),
    sa.Column('management_url', sa.Text(), nullable=True),
    sa.Column('management_username', sa.String(length=200), nullable=True),
    sa.Column('management_password_enc', sa.LargeBinary(), nullable=True),
    sa.Column('config_content', sa.Text(), nullable=True),
    sa.Column('config_file_path', sa.String(length=500), nullable=True),
    sa.Column('notes', sa.Text(), server_default='', nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("country IS NULL OR country ~ '^[A-Z]{2}$'", name=op.f('ck_inventory_item_country_code')),
    sa.CheckConstraint("item_state <> 'assigned' OR customer_id IS NOT NULL", name=op.f('ck_inventory_item_assigned_has_customer')),
    sa.CheckConstraint("item_state IN ('new', 'used', 'internal_use', 'assigned', 'damaged', 'out_of_service', 'lost', 'stolen')", name=op.f('ck_inventory_item_item_state')),
    sa.CheckConstraint("item_state NOT IN ('new', 'used') OR (customer_id IS NULL AND service_id IS NULL)", name=op.f('ck_inventory_item_stock_is_unassigned')),
    sa.CheckConstraint("return_due_at IS NULL OR item_state = 'assigned'", name=op.f('ck_inventory_item_return_due_only_assigned')),
    sa.CheckConstraint('(latitude IS NULL) = (longitude IS NULL)', name=op.f('ck_inventory_item_coordinates_together')),
    sa.CheckConstraint('latitude IS NULL OR latitude BETWEEN -90 AND 90', name=op.f('ck_inventory_item_latitude_range')),
    sa.CheckConstraint('length(btrim(itemtext1)) > 0', name=op.f('ck_inventory_item_itemtext1_required')),
    sa.CheckConstraint('longitude IS NULL OR longitude BETWEEN -180 AND 180', name=op.f('ck_inventory_item_longitude_range')),
    sa.CheckConstraint('management_password_enc IS NULL OR (octet_length(management_password_enc) >= 29 AND get_byte(management_password_enc, 0) = 1)', name=op.f('ck_inventory_item_password_ciphertext')),
    sa.CheckConstraint('service_id IS NULL OR customer_id IS NOT NULL', name=op.f('ck_inventory_item_service_needs_customer')),
    sa.CheckConstraint('wholesale_cost >= 0 AND retail_cost >= 0', name=op.f('ck_inventory_item_costs_not_negative')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_inventory_item_customer_id_customer')),
    sa.ForeignKeyConstraint(['service_id', 'customer_id'], ['service.id', 'service.customer_id'], name='fk_inventory_item_service_customer'),
    sa.ForeignKeyConstraint(['template_id'], ['inventory_template.id'], name=op.f('fk_inventory_item_template_id_inventory_template')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_item'))
    )
    op.create_index('ix_inventory_item_customer_id', 'inventory_item', ['customer_id'], unique=False, postgresql_where=sa.text('customer_id IS NOT NULL'))
    op.create_index('ix_inventory_item_itemtext1', 'inventory_item', ['itemtext1'], unique=False)
    op.create_index('ix_inventory_item_itemtext2', 'inventory_item', ['itemtext2'], unique=False)
    op.create_index('ix_inventory_item_return_due_at', 'inventory_item', ['return_due_at'], unique=False, postgresql_where=sa.text('return_due_at IS NOT NULL'))
    op.create_index('ix_inventory_item_service_id', 'inventory_item', ['service_id'], unique=False, postgresql_where=sa.text('service_id IS NOT NULL'))
    op.create_index('ix_inventory_item_stock', 'inventory_item', ['template_id', 'id'], unique=False, postgresql_where=sa.text("item_state IN ('new', 'used')"))
    op.create_index('ix_inventory_item_template_itemtext1', 'inventory_item', ['template_id', 'itemtext1'], unique=False)
    op.create_index('ix_inventory_item_template_itemtext2', 'inventory_item', ['template_id', 'itemtext2'], unique=False)
    op.create_table('inventory_item_history',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor_name', sa.String(length=63), nullable=False),
    sa.Column('reason', sa.Text(), server_default='', nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=True),
    sa.Column('service_id', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['inventory_item.id'], name=op.f('fk_inventory_item_history_item_id_inventory_item')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_item_history'))
    )
    op.create_index('ix_inventory_item_history_item_id_id', 'inventory_item_history', ['item_id', 'id'], unique=False)
    op.execute(TRIGGERS)
    _seed()


def downgrade() -> None:
    op.execute(DROP_TRIGGERS)
    op.drop_index('ix_inventory_item_history_item_id_id', table_name='inventory_item_history')
    op.drop_table('inventory_item_history')
    op.drop_index('ix_inventory_item_template_itemtext2', table_name='inventory_item')
    op.drop_index('ix_inventory_item_template_itemtext1', table_name='inventory_item')
    op.drop_index('ix_inventory_item_stock', table_name='inventory_item', postgresql_where=sa.text("item_state IN ('new', 'used')"))
    op.drop_index('ix_inventory_item_service_id', table_name='inventory_item', postgresql_where=sa.text('service_id IS NOT NULL'))
    op.drop_index('ix_inventory_item_return_due_at', table_name='inventory_item', postgresql_where=sa.text('return_due_at IS NOT NULL'))
    op.drop_index('ix_inventory_item_itemtext2', table_name='inventory_item')
    op.drop_index('ix_inventory_item_itemtext1', table_name='inventory_item')
    op.drop_index('ix_inventory_item_customer_id', table_name='inventory_item', postgresql_where=sa.text('customer_id IS NOT NULL'))
    op.drop_table('inventory_item')
    op.drop_constraint(op.f('fk_service_product_id_product'), 'service', type_='foreignkey')
    op.drop_constraint(op.f('fk_service_bundled_parent_id_service'), 'service', type_='foreignkey')
    op.drop_constraint(op.f('uq_service_service_uuid'), 'service', type_='unique')
    op.drop_constraint(op.f('uq_service_id_customer_id'), 'service', type_='unique')
    op.drop_index(op.f('ix_service_product_id'), table_name='service')
    op.drop_index('ix_service_deactivate_date', table_name='service', postgresql_where=sa.text('deactivate_date IS NOT NULL'))
    op.drop_index('ix_service_auto_renew_deactivate_date', table_name='service', postgresql_where=sa.text('auto_renew'))
    op.drop_column('service', 'updated_at')
    op.drop_column('service', 'version')
    op.drop_column('service', 'notes')
    op.drop_column('service', 'bundled_parent_id')
    op.drop_column('service', 'deprovisioning_json_vars')
    op.drop_column('service', 'deprovisioning_play')
    op.drop_column('service', 'provisioning_json_vars')
    op.drop_column('service', 'provisioning_play')
    op.drop_column('service', 'auto_renew')
    op.drop_column('service', 'usage_visible_to_customer')
    op.drop_column('service', 'visible_to_customer')
    op.drop_column('service', 'promo_code')
    op.drop_column('service', 'invoiced')
    op.drop_column('service', 'taxable')
    op.drop_column('service', 'billed')
    op.drop_column('service', 'wholesale_cost')
    op.drop_column('service', 'retail_cost')
    op.drop_column('service', 'contract_end_date')
    op.drop_column('service', 'deactivate_date')
    op.drop_column('service', 'active_date')
    op.drop_column('service', 'provisioned_at')
    op.drop_column('service', 'icon')
    op.drop_column('service', 'service_uuid')
    op.drop_column('service', 'service_type')
    op.drop_column('service', 'product_id')
    op.drop_index(op.f('ix_product_inventory_type_template_id'), table_name='product_inventory_type')
    op.drop_table('product_inventory_type')
    op.drop_table('secret_key')
    op.drop_index('uq_product_slug_lower', table_name='product')
    op.drop_table('product')
    op.drop_table('inventory_template')

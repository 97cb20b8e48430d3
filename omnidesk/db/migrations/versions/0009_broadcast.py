"""Broadcast workstation: templates, messages with their approval and history, cell sites and sectors,
saved zones, and the two-person-rule setting; the approval rules live in broadcast_0009.sql.

Revision ID: 0009
Revises: 0008
"""

import json
from importlib import resources

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

READ = [("SELECT", t) for t in ("broadcast_template", "broadcast_message", "broadcast_event", "cell_site",
                                "cell_sector", "broadcast_zone", "broadcast_setting")]
# No DELETE on broadcast_message / broadcast_event for anyone (a trigger refuses it too); status changes
# of submit / approve / reject go through the SECURITY DEFINER functions only.
GRANTS = {
    "view_cbc_message": READ,
    "create_cbc_message": READ + [("INSERT", "broadcast_message"), ("UPDATE", "broadcast_message"),
                                  ("INSERT", "broadcast_event"), ("INSERT", "broadcast_zone")],
    "update_cbc_message": READ + [("UPDATE", "broadcast_message"), ("INSERT", "broadcast_event"),
                                  ("SELECT", "cbc_warning"), ("SELECT", "cbc_warning_peer"),
                                  ("SELECT", "cbc_warning_cell"), ("SELECT", "cbc_command")],
    "delete_cbc_message": READ + [("UPDATE", "broadcast_message"), ("INSERT", "broadcast_event"),
                                  ("SELECT", "cbc_warning"), ("SELECT", "cbc_command")],
    "approve_cbc_message": READ,
    "manage_settings": READ + [("INSERT", "broadcast_template"), ("UPDATE", "broadcast_template"),
                               ("UPDATE", "broadcast_setting"), ("DELETE", "broadcast_zone"),
                               ("UPDATE", "broadcast_zone")]
                       + [(p, t) for t in ("cell_site", "cell_sector") for p in ("INSERT", "UPDATE", "DELETE")],
}
STAFF_FUNCTIONS = ["omnidesk_broadcast_submit(bigint, text)",
                   "omnidesk_broadcast_decide(bigint, text, text, text, text)",
                   "omnidesk_broadcast_trusted()"]
INTERNAL_FUNCTIONS = ["omnidesk_broadcast_user_has(integer, text)", "omnidesk_broadcast_acting_user(text, boolean)",
                      "omnidesk_broadcast_check_code(integer, text)",
                      "omnidesk_broadcast_event(bigint, staff_user, text, jsonb)",
                      "omnidesk_broadcast_locked(bigint)", "omnidesk_broadcast_follow_warning()"]
ALL_FUNCTIONS = STAFF_FUNCTIONS + INTERNAL_FUNCTIONS + ["omnidesk_broadcast_message_guard()",
                                                      "omnidesk_broadcast_keep_history()",
                                                      "omnidesk_broadcast_event_stamp()",
                                                      "omnidesk_notify_broadcast_change()",
                                                      "omnidesk_broadcast_setting_audit()"]

# Scenario templates with their 3GPP TS 23.041 identifiers (DECISIONS.md, Cell broadcast); NDMO reviews them.
_DAY = 24 * 3600
TEMPLATES = [
    ("Earthquake", "earthquake", 4352, "high-priority", 30, 0, 3600,
     [{"language": "en", "text": "EARTHQUAKE WARNING. Drop, cover and hold on. Stay away from windows."}]),
    ("Tsunami", "tsunami", 4353, "high-priority", 30, 0, 7200,
     [{"language": "en", "text": "TSUNAMI WARNING. Leave the coast now and move to high ground."}]),
    ("Flood", "flood", 4371, "high-priority", 60, 0, 21600,
     [{"language": "en", "text": "FLOOD WARNING. Move to higher ground now. Do not cross flooded roads."}]),
    ("Wildfire", "fire", 4373, "high-priority", 60, 0, 21600,
     [{"language": "en", "text": "FIRE WARNING. Leave the area now by the route the authorities give."}]),
    ("AMBER alert", "amber", 4379, "normal", 120, 0, _DAY,
     [{"language": "en", "text": "AMBER ALERT. A child is missing. Call 112 with any information."}]),
    ("Monthly test", "monthly_test", 4380, "background", 300, 1, 3600,
     [{"language": "en", "text": "This is a monthly test of the public warning system. No action is needed."}]),
    ("Exercise", "exercise", 4381, "background", 300, 1, 3600,
     [{"language": "en", "text": "EXERCISE. This is an exercise of the public warning system. No action is needed."}]),
]


MANAGES_CUSTOMER = """
CREATE FUNCTION omnidesk_manages_customer(cid bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM customer WHERE id = cid AND account_manager_user_id = omnidesk_current_staff_id())
$$"""
ACTIVITY_POLICY = (
    "DO $$ BEGIN DROP POLICY IF EXISTS staff_view_own ON activity_log; "
    "EXECUTE format('CREATE POLICY staff_view_own ON activity_log AS RESTRICTIVE FOR SELECT TO %I "
    "USING ((SELECT omnidesk_has(''view_customer_activity'')) "
    "OR actor_user_id = (SELECT omnidesk_current_staff_id()) "
    "OR {customers})', omnidesk_staff_group()); END $$"
)
_0004_CUSTOMERS = ("customer_id IN (SELECT id FROM customer "
                   "WHERE account_manager_user_id = (SELECT omnidesk_current_staff_id()))")


def _sql(name: str) -> str:
    return resources.files("omnidesk.db").joinpath(f"sql/{name}").read_text(encoding="utf-8")


def _rows() -> list[dict]:
    return [{"permission": perm, "privilege": priv, "table_name": table}
            for perm, grants in GRANTS.items() for priv, table in sorted(set(grants))]


def upgrade() -> None:
    op.create_table('broadcast_setting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('two_person_rule', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('text_limit', sa.Integer(), server_default='500', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_broadcast_setting_single_row')),
    sa.CheckConstraint('text_limit BETWEEN 1 AND 1395', name=op.f('ck_broadcast_setting_text_limit_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcast_setting'))
    )
    op.create_table('cell_site',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lng', sa.Float(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('lat BETWEEN -90 AND 90', name=op.f('ck_cell_site_lat_range')),
    sa.CheckConstraint('lng BETWEEN -180 AND 180', name=op.f('ck_cell_site_lng_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cell_site')),
    sa.UniqueConstraint('name', name=op.f('uq_cell_site_name'))
    )
    op.create_table('broadcast_template',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('scenario', sa.String(length=40), nullable=False),
    sa.Column('message_identifier', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=16), server_default='normal', nullable=False),
    sa.Column('repetition_period', sa.Integer(), nullable=False),
    sa.Column('number_of_broadcasts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('warning_period', sa.Integer(), nullable=True),
    sa.Column('texts', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("category IN ('high-priority', 'background', 'normal')", name=op.f('ck_broadcast_template_category')),
    sa.CheckConstraint("jsonb_typeof(texts) = 'array'", name=op.f('ck_broadcast_template_texts_array')),
    sa.CheckConstraint('length(btrim(name)) > 0', name=op.f('ck_broadcast_template_name_present')),
    sa.CheckConstraint('message_identifier BETWEEN 0 AND 65535', name=op.f('ck_broadcast_template_message_identifier_range')),
    sa.CheckConstraint('number_of_broadcasts BETWEEN 0 AND 65535', name=op.f('ck_broadcast_template_broadcasts_range')),
    sa.CheckConstraint('repetition_period BETWEEN 1 AND 4095', name=op.f('ck_broadcast_template_repetition_period_range')),
    sa.CheckConstraint('warning_period IS NULL OR warning_period > 0', name=op.f('ck_broadcast_template_warning_period_positive')),
    sa.ForeignKeyConstraint(['created_by'], ['staff_user.id'], name=op.f('fk_broadcast_template_created_by_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcast_template')),
    sa.UniqueConstraint('name', name=op.f('uq_broadcast_template_name'))
    )
    op.create_table('broadcast_zone',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('shape', sa.String(length=16), nullable=False),
    sa.Column('geojson', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("shape IN ('polygon', 'circle', 'rectangle')", name=op.f('ck_broadcast_zone_shape')),
    sa.ForeignKeyConstraint(['created_by'], ['staff_user.id'], name=op.f('fk_broadcast_zone_created_by_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcast_zone')),
    sa.UniqueConstraint('name', name=op.f('uq_broadcast_zone_name'))
    )
    op.create_table('cell_sector',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('sector', sa.SmallInteger(), nullable=False),
    sa.Column('azimuth', sa.Float(), nullable=False),
    sa.Column('peer', sa.String(length=64), nullable=True),
    sa.Column('mcc', sa.String(length=3), nullable=True),
    sa.Column('mnc', sa.String(length=3), nullable=True),
    sa.Column('lac_tac', sa.Integer(), nullable=True),
    sa.Column('ci', sa.Integer(), nullable=True),
    sa.CheckConstraint('azimuth >= 0 AND azimuth < 360', name=op.f('ck_cell_sector_azimuth_range')),
    sa.CheckConstraint('sector BETWEEN 1 AND 3', name=op.f('ck_cell_sector_sector_range')),
    sa.ForeignKeyConstraint(['site_id'], ['cell_site.id'], name=op.f('fk_cell_sector_site_id_cell_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cell_sector')),
    sa.UniqueConstraint('site_id', 'sector', name=op.f('uq_cell_sector_site_id_sector'))
    )
    op.create_index(op.f('ix_cell_sector_site_id'), 'cell_sector', ['site_id'], unique=False)
    op.create_table('broadcast_message',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=True),
    sa.Column('message_identifier', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=16), server_default='normal', nullable=False),
    sa.Column('repetition_period', sa.Integer(), nullable=False),
    sa.Column('number_of_broadcasts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('warning_period', sa.Integer(), nullable=True),
    sa.Column('texts', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('target', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('target_cells', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('target_summary', sa.Text(), server_default='', nullable=False),
    sa.Column('status', sa.String(length=20), server_default='draft', nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_by', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rejected_by', sa.Integer(), nullable=True),
    sa.Column('rejected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reject_reason', sa.Text(), nullable=True),
    sa.Column('transmit_claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('transmitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('warning_id', sa.BigInteger(), nullable=True),
    sa.Column('update_count', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('result_summary', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("category IN ('high-priority', 'background', 'normal')", name=op.f('ck_broadcast_message_category')),
    sa.CheckConstraint("jsonb_typeof(texts) = 'array' AND jsonb_array_length(texts) > 0", name=op.f('ck_broadcast_message_texts_present')),
    sa.CheckConstraint("status <> 'rejected' OR (rejected_by IS NOT NULL AND length(btrim(reject_reason)) > 0)", name=op.f('ck_broadcast_message_rejection_has_reason')),
    sa.CheckConstraint("status IN ('draft', 'pending_approval', 'approved', 'rejected', 'active', 'expired', 'cancelled')", name=op.f('ck_broadcast_message_status')),
    sa.CheckConstraint("status NOT IN ('approved', 'active', 'expired') OR approved_by IS NOT NULL", name=op.f('ck_broadcast_message_sent_only_approved')),
    sa.CheckConstraint('message_identifier BETWEEN 0 AND 65535', name=op.f('ck_broadcast_message_message_identifier_range')),
    sa.CheckConstraint('number_of_broadcasts BETWEEN 0 AND 65535', name=op.f('ck_broadcast_message_broadcasts_range')),
    sa.CheckConstraint('repetition_period BETWEEN 1 AND 4095', name=op.f('ck_broadcast_message_repetition_period_range')),
    sa.CheckConstraint('warning_period IS NULL OR warning_period > 0', name=op.f('ck_broadcast_message_warning_period_positive')),
    sa.ForeignKeyConstraint(['approved_by'], ['staff_user.id'], name=op.f('fk_broadcast_message_approved_by_staff_user')),
    sa.ForeignKeyConstraint(['created_by'], ['staff_user.id'], name=op.f('fk_broadcast_message_created_by_staff_user')),
    sa.ForeignKeyConstraint(['rejected_by'], ['staff_user.id'], name=op.f('fk_broadcast_message_rejected_by_staff_user')),
    sa.ForeignKeyConstraint(['template_id'], ['broadcast_template.id'], name=op.f('fk_broadcast_message_template_id_broadcast_template')),
    sa.ForeignKeyConstraint(['warning_id'], ['cbc_warning.id'], name=op.f('fk_broadcast_message_warning_id_cbc_warning')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcast_message'))
    )
    op.create_index('ix_broadcast_message_status_created', 'broadcast_message', ['status', 'created_at'], unique=False)
    op.create_table('broadcast_event',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('message_id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=63), server_default='', nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['staff_user.id'], name=op.f('fk_broadcast_event_actor_user_id_staff_user')),
    sa.ForeignKeyConstraint(['message_id'], ['broadcast_message.id'], name=op.f('fk_broadcast_event_message_id_broadcast_message')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcast_event'))
    )
    op.create_index(op.f('ix_broadcast_event_message_id'), 'broadcast_event', ['message_id'], unique=False)
    op.execute("INSERT INTO broadcast_setting (id) VALUES (1)")
    conn = op.get_bind()
    conn.execute(
        sa.text("INSERT INTO broadcast_template (name, scenario, message_identifier, category, repetition_period, "
                "number_of_broadcasts, warning_period, texts) VALUES (:n, :s, :mi, :c, :rp, :nb, :wp, CAST(:t AS jsonb))"),
        [{"n": n, "s": s, "mi": mi, "c": c, "rp": rp, "nb": nb, "wp": wp, "t": json.dumps(t)}
         for n, s, mi, c, rp, nb, wp, t in TEMPLATES],
    )
    op.execute(sa.text(_sql("broadcast_0009.sql")))
    for fn in INTERNAL_FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
    for fn in STAFF_FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
        op.execute(
            f"DO $$ BEGIN EXECUTE format('GRANT EXECUTE ON FUNCTION {fn} TO %I', omnidesk_staff_group()); END $$"
        )
    conn.execute(
        sa.text("INSERT INTO permission_grant (permission_id, privilege, table_name) "
                "SELECT id, :privilege, :table_name FROM permission WHERE name = :permission "
                "ON CONFLICT DO NOTHING"),
        _rows(),
    )
    op.execute("SELECT omnidesk_secure_tables()")
    op.execute("SELECT omnidesk_apply_all_grants()")
    # activity.record() inserts RETURNING id and occurred_at (a server default); 0004 let staff read back
    # only id, so a staff member without view_customer_activity (a broadcast creator sending through
    # cbc.store.submit_warning) was refused. occurred_at of their own insert is no secret.
    op.execute("DO $$ BEGIN EXECUTE format('GRANT SELECT (id, occurred_at) ON activity_log TO %I', "
               "omnidesk_staff_group()); END $$")
    # ... and the returned row passes the activity log's "view own" policy, whose customer subquery needs
    # SELECT on customer: a staff member without it (a broadcast creator) could not log anything. The
    # same rule, with the customer check in a SECURITY DEFINER function.
    op.execute(MANAGES_CUSTOMER)
    op.execute(ACTIVITY_POLICY.format(customers="(customer_id IS NOT NULL AND omnidesk_manages_customer(customer_id))"))


def downgrade() -> None:
    op.execute("DO $$ BEGIN EXECUTE format('REVOKE SELECT (occurred_at) ON activity_log FROM %I', "
               "omnidesk_staff_group()); END $$")
    op.execute(ACTIVITY_POLICY.format(customers=_0004_CUSTOMERS))
    op.execute("DROP FUNCTION IF EXISTS omnidesk_manages_customer(bigint)")
    op.execute("DROP TRIGGER IF EXISTS broadcast_follow_warning ON cbc_warning")
    op.get_bind().execute(
        sa.text("DELETE FROM permission_grant WHERE table_name IN ('broadcast_template', 'broadcast_message', "
                "'broadcast_event', 'cell_site', 'cell_sector', 'broadcast_zone', 'broadcast_setting')"))
    op.get_bind().execute(
        sa.text("DELETE FROM permission_grant g USING permission p WHERE p.id = g.permission_id "
                "AND p.name = :permission AND g.privilege = :privilege AND g.table_name = :table_name"),
        _rows(),
    )
    for fn in ALL_FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {fn} CASCADE")
    op.drop_table("broadcast_event")
    op.drop_table("broadcast_message")
    op.drop_table("cell_sector")
    op.drop_table("broadcast_zone")
    op.drop_table("broadcast_template")
    op.drop_table("cell_site")
    op.drop_table("broadcast_setting")
    op.execute("SELECT omnidesk_apply_all_grants()")

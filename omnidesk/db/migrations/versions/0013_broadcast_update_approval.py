"""An update of an active cell-broadcast warning goes through the same approval as the warning itself:
update requests (broadcast_update), asked for with the requester's TOTP code and, under the two-person
rule, approved by another user with theirs; the guard of broadcast_message no longer lets staff change an
active message's content. The rules live in omnidesk/db/sql/broadcast_update_0013.sql.

Revision ID: 0013
Revises: 0012
"""

import re
from importlib import resources

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# Everyone who sees broadcast messages sees their update requests; nobody writes them but the functions.
GRANTS = {perm: [("SELECT", "broadcast_update")]
          for perm in ("view_cbc_message", "create_cbc_message", "update_cbc_message", "delete_cbc_message",
                       "approve_cbc_message")}
STAFF_FUNCTIONS = ["omnidesk_broadcast_request_update(bigint, text, jsonb, integer, integer, text)",
                   "omnidesk_broadcast_decide_update(bigint, text, text, text, text)",
                   "omnidesk_broadcast_claim_update(bigint, text)",
                   "omnidesk_broadcast_update_failed(bigint, text, text)"]
INTERNAL_FUNCTIONS = ["omnidesk_broadcast_update_locked(bigint)",
                      "omnidesk_broadcast_update_changes(broadcast_update)",
                      "omnidesk_broadcast_apply_update(broadcast_update, bigint)",
                      "omnidesk_broadcast_command_guard()", "omnidesk_broadcast_warning_guard()",
                      "omnidesk_broadcast_close_updates()"]
# The two 0009 functions replaced here, restored from broadcast_0009.sql on downgrade.
REPLACED = ("omnidesk_broadcast_message_guard", "omnidesk_broadcast_event_stamp")


def _sql(name: str) -> str:
    return resources.files("omnidesk.db").joinpath(f"sql/{name}").read_text(encoding="utf-8")


def _rows() -> list[dict]:
    return [{"permission": perm, "privilege": priv, "table_name": table}
            for perm, grants in GRANTS.items() for priv, table in grants]


def upgrade() -> None:
    op.create_table('broadcast_update',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('message_id', sa.BigInteger(), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('texts', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('number_of_broadcasts', sa.Integer(), nullable=True),
    sa.Column('repetition_period', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='pending_approval', nullable=False),
    sa.Column('approved_by', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rejected_by', sa.Integer(), nullable=True),
    sa.Column('rejected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reject_reason', sa.Text(), nullable=True),
    sa.Column('claimed_by', sa.Integer(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('command_id', sa.BigInteger(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('update_number', sa.SmallInteger(), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('pending_approval', 'approved', 'rejected', 'sent', 'failed')", name=op.f('ck_broadcast_update_status')),
    sa.CheckConstraint("texts IS NOT NULL OR number_of_broadcasts IS NOT NULL OR repetition_period IS NOT NULL", name=op.f('ck_broadcast_update_changes_something')),
    sa.CheckConstraint("texts IS NULL OR (jsonb_typeof(texts) = 'array' AND jsonb_array_length(texts) > 0)", name=op.f('ck_broadcast_update_texts_present')),
    sa.CheckConstraint('number_of_broadcasts IS NULL OR number_of_broadcasts BETWEEN 0 AND 65535', name=op.f('ck_broadcast_update_broadcasts_range')),
    sa.CheckConstraint('repetition_period IS NULL OR repetition_period BETWEEN 1 AND 4095', name=op.f('ck_broadcast_update_repetition_period_range')),
    sa.CheckConstraint("status <> 'rejected' OR (rejected_by IS NOT NULL AND length(btrim(reject_reason)) > 0)", name=op.f('ck_broadcast_update_rejection_has_reason')),
    sa.CheckConstraint("status NOT IN ('approved', 'sent') OR approved_by IS NOT NULL", name=op.f('ck_broadcast_update_sent_only_approved')),
    sa.ForeignKeyConstraint(['message_id'], ['broadcast_message.id'], name=op.f('fk_broadcast_update_message_id_broadcast_message')),
    sa.ForeignKeyConstraint(['requested_by'], ['staff_user.id'], name=op.f('fk_broadcast_update_requested_by_staff_user')),
    sa.ForeignKeyConstraint(['approved_by'], ['staff_user.id'], name=op.f('fk_broadcast_update_approved_by_staff_user')),
    sa.ForeignKeyConstraint(['rejected_by'], ['staff_user.id'], name=op.f('fk_broadcast_update_rejected_by_staff_user')),
    sa.ForeignKeyConstraint(['claimed_by'], ['staff_user.id'], name=op.f('fk_broadcast_update_claimed_by_staff_user')),
    sa.ForeignKeyConstraint(['command_id'], ['cbc_command.id'], name=op.f('fk_broadcast_update_command_id_cbc_command')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcast_update')),
    sa.UniqueConstraint('command_id', name=op.f('uq_broadcast_update_command_id'))
    )
    op.create_index(op.f('ix_broadcast_update_message_id'), 'broadcast_update', ['message_id'], unique=False)
    # one open request per message: a second waits until the first is sent or rejected
    op.create_index('uq_broadcast_update_one_open', 'broadcast_update', ['message_id'], unique=True,
                    postgresql_where=sa.text("status IN ('pending_approval', 'approved')"))
    op.execute(sa.text(_sql("broadcast_update_0013.sql")))
    for fn in INTERNAL_FUNCTIONS + STAFF_FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
    for fn in STAFF_FUNCTIONS:
        op.execute(
            f"DO $$ BEGIN EXECUTE format('GRANT EXECUTE ON FUNCTION {fn} TO %I', omnidesk_staff_group()); END $$"
        )
    op.get_bind().execute(
        sa.text("INSERT INTO permission_grant (permission_id, privilege, table_name) "
                "SELECT id, :privilege, :table_name FROM permission WHERE name = :permission "
                "ON CONFLICT DO NOTHING"),
        _rows(),
    )
    op.execute("SELECT omnidesk_secure_tables(); SELECT omnidesk_apply_all_grants();")


def downgrade() -> None:
    original = _sql("broadcast_0009.sql")
    for name in REPLACED:
        definition = re.search(rf"CREATE FUNCTION {name}\(.*?END \$\$;", original, re.S).group(0)
        op.execute(definition.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute("DROP TRIGGER IF EXISTS broadcast_command_guard ON cbc_command")
    op.execute("DROP TRIGGER IF EXISTS broadcast_warning_guard ON cbc_warning")
    op.execute("DROP TRIGGER IF EXISTS broadcast_message_close_updates ON broadcast_message")
    op.get_bind().execute(sa.text("DELETE FROM permission_grant WHERE table_name = 'broadcast_update'"))
    for fn in STAFF_FUNCTIONS + INTERNAL_FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {fn} CASCADE")
    op.drop_index('uq_broadcast_update_one_open', table_name='broadcast_update',
                  postgresql_where=sa.text("status IN ('pending_approval', 'approved')"))
    op.drop_index(op.f('ix_broadcast_update_message_id'), table_name='broadcast_update')
    op.drop_table('broadcast_update')
    op.execute("SELECT omnidesk_apply_all_grants()")

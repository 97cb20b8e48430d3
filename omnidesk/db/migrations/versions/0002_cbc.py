"""Cell broadcast: peers, warnings, per-peer and per-cell results, and the command queue of the running centre.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 13:46:48.887807
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# Other workstations and the running centre follow changes on one channel: a command to act on,
# a warning or peer whose state moved. Per-cell rows do not notify (their peer row does).
NOTIFY = r"""
CREATE FUNCTION omnidesk_notify_cbc_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r jsonb := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
BEGIN
    PERFORM pg_notify('omnidesk_cbc', json_build_object(
        'table', TG_TABLE_NAME, 'op', TG_OP, 'id', r->'id',
        'warning_id', CASE TG_TABLE_NAME WHEN 'cbc_warning' THEN r->'id' ELSE r->'warning_id' END)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER cbc_peer_notify AFTER INSERT OR UPDATE OR DELETE ON cbc_peer
    FOR EACH ROW EXECUTE FUNCTION omnidesk_notify_cbc_change();
CREATE TRIGGER cbc_warning_notify AFTER INSERT OR UPDATE OR DELETE ON cbc_warning
    FOR EACH ROW EXECUTE FUNCTION omnidesk_notify_cbc_change();
CREATE TRIGGER cbc_warning_peer_notify AFTER INSERT OR UPDATE OR DELETE ON cbc_warning_peer
    FOR EACH ROW EXECUTE FUNCTION omnidesk_notify_cbc_change();
CREATE TRIGGER cbc_command_notify AFTER INSERT ON cbc_command
    FOR EACH ROW EXECUTE FUNCTION omnidesk_notify_cbc_change();
"""


def upgrade() -> None:
    op.create_table('cbc_peer',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('protocol', sa.String(length=8), nullable=False),
    sa.Column('role', sa.String(length=8), server_default='client', nullable=False),
    sa.Column('host', sa.String(length=255), server_default='127.0.0.1', nullable=False),
    sa.Column('port', sa.Integer(), nullable=True),
    sa.Column('transport', sa.String(length=8), nullable=True),
    sa.Column('repetition_period_layout', sa.String(length=16), server_default='osmocom', nullable=False),
    sa.Column('remote_host', sa.String(length=255), nullable=True),
    sa.Column('enabled', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('simulated', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('link_state', sa.String(length=20), server_default='disabled', nullable=False),
    sa.Column('link_reason', sa.Text(), server_default='', nullable=False),
    sa.Column('link_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(protocol = 'cbsp' AND transport IN ('tcp', 'memory')) OR (protocol = 'sbcap' AND transport IN ('sctp', 'memory')) OR transport IS NULL", name=op.f('ck_cbc_peer_transport_fits_protocol')),
    sa.CheckConstraint("link_state IN ('disabled', 'connecting', 'listening', 'resetting', 'up', 'keepalive-pending', 'backing-off')", name=op.f('ck_cbc_peer_link_state')),
    sa.CheckConstraint("name ~ '^[A-Za-z0-9][A-Za-z0-9._-]*$'", name=op.f('ck_cbc_peer_name_format')),
    sa.CheckConstraint("protocol IN ('cbsp', 'sbcap')", name=op.f('ck_cbc_peer_protocol')),
    sa.CheckConstraint("repetition_period_layout IN ('osmocom', 'spec-figure')", name=op.f('ck_cbc_peer_layout')),
    sa.CheckConstraint("role IN ('client', 'server')", name=op.f('ck_cbc_peer_role')),
    sa.CheckConstraint("transport IN ('tcp', 'sctp', 'memory')", name=op.f('ck_cbc_peer_transport')),
    sa.CheckConstraint('port BETWEEN 0 AND 65535', name=op.f('ck_cbc_peer_port_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cbc_peer')),
    sa.UniqueConstraint('name', name=op.f('uq_cbc_peer_name'))
    )
    op.create_table('cbc_warning',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('message_identifier', sa.Integer(), nullable=False),
    sa.Column('message_code', sa.Integer(), nullable=False),
    sa.Column('geographical_scope', sa.SmallInteger(), server_default='1', nullable=False),
    sa.Column('update_number', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('category', sa.String(length=16), server_default='normal', nullable=False),
    sa.Column('repetition_period', sa.Integer(), nullable=False),
    sa.Column('number_of_broadcasts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('warning_period', sa.Integer(), nullable=True),
    sa.Column('texts', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('targets', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('state', sa.String(length=20), server_default='queued', nullable=False),
    sa.Column('reason', sa.Text(), server_default='', nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("category IN ('high-priority', 'background', 'normal')", name=op.f('ck_cbc_warning_category')),
    sa.CheckConstraint("jsonb_typeof(texts) = 'array' AND jsonb_array_length(texts) > 0", name=op.f('ck_cbc_warning_texts_present')),
    sa.CheckConstraint("state IN ('queued', 'init', 'wait-write-ack', 'active', 'wait-replace-ack', 'wait-stop-ack', 'stopped', 'expired', 'failed')", name=op.f('ck_cbc_warning_state')),
    sa.CheckConstraint('geographical_scope BETWEEN 0 AND 3', name=op.f('ck_cbc_warning_scope_range')),
    sa.CheckConstraint('message_code BETWEEN 0 AND 1023', name=op.f('ck_cbc_warning_message_code_range')),
    sa.CheckConstraint('message_identifier BETWEEN 0 AND 65535', name=op.f('ck_cbc_warning_message_identifier_range')),
    sa.CheckConstraint('number_of_broadcasts BETWEEN 0 AND 65535', name=op.f('ck_cbc_warning_broadcasts_range')),
    sa.CheckConstraint('repetition_period BETWEEN 1 AND 4095', name=op.f('ck_cbc_warning_repetition_period_range')),
    sa.CheckConstraint('update_number BETWEEN 0 AND 15', name=op.f('ck_cbc_warning_update_number_range')),
    sa.CheckConstraint('warning_period IS NULL OR warning_period > 0', name=op.f('ck_cbc_warning_warning_period_positive')),
    sa.ForeignKeyConstraint(['created_by'], ['staff_user.id'], name=op.f('fk_cbc_warning_created_by_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cbc_warning'))
    )
    op.create_index('ix_cbc_warning_state_created', 'cbc_warning', ['state', 'created_at'], unique=False)
    op.create_table('cbc_command',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('warning_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('send', 'update', 'stop')", name=op.f('ck_cbc_command_kind')),
    sa.ForeignKeyConstraint(['requested_by'], ['staff_user.id'], name=op.f('fk_cbc_command_requested_by_staff_user')),
    sa.ForeignKeyConstraint(['warning_id'], ['cbc_warning.id'], name=op.f('fk_cbc_command_warning_id_cbc_warning'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cbc_command'))
    )
    op.create_index('ix_cbc_command_pending', 'cbc_command', ['id'], unique=False, postgresql_where='done_at IS NULL')
    op.create_index(op.f('ix_cbc_command_warning_id'), 'cbc_command', ['warning_id'], unique=False)
    op.create_table('cbc_warning_peer',
    sa.Column('warning_id', sa.BigInteger(), nullable=False),
    sa.Column('peer', sa.String(length=64), nullable=False),
    sa.Column('protocol', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), server_default='', nullable=False),
    sa.Column('writes_sent', sa.Integer(), server_default='0', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("state IN ('init', 'wait-write-ack', 'active', 'wait-replace-ack', 'wait-stop-ack', 'stopped', 'failed', 'timed-out')", name=op.f('ck_cbc_warning_peer_state')),
    sa.ForeignKeyConstraint(['warning_id'], ['cbc_warning.id'], name=op.f('fk_cbc_warning_peer_warning_id_cbc_warning'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('warning_id', 'peer', name=op.f('pk_cbc_warning_peer'))
    )
    op.create_table('cbc_warning_cell',
    sa.Column('warning_id', sa.BigInteger(), nullable=False),
    sa.Column('peer', sa.String(length=64), nullable=False),
    sa.Column('cell', sa.String(length=80), nullable=False),
    sa.Column('language', sa.String(length=8), server_default='', nullable=False),
    sa.Column('outcome', sa.String(length=8), nullable=False),
    sa.Column('cause', sa.Text(), nullable=True),
    sa.Column('broadcasts_completed', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("outcome IN ('success', 'failure', 'stopped')", name=op.f('ck_cbc_warning_cell_outcome')),
    sa.ForeignKeyConstraint(['warning_id', 'peer'], ['cbc_warning_peer.warning_id', 'cbc_warning_peer.peer'], name=op.f('fk_cbc_warning_cell_warning_id_cbc_warning_peer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('warning_id', 'peer', 'cell', 'language', name=op.f('pk_cbc_warning_cell'))
    )
    op.execute(NOTIFY)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS omnidesk_notify_cbc_change() CASCADE")
    op.drop_table('cbc_warning_cell')
    op.drop_table('cbc_warning_peer')
    op.drop_index(op.f('ix_cbc_command_warning_id'), table_name='cbc_command')
    op.drop_index('ix_cbc_command_pending', table_name='cbc_command', postgresql_where='done_at IS NULL')
    op.drop_table('cbc_command')
    op.drop_index('ix_cbc_warning_state_created', table_name='cbc_warning')
    op.drop_table('cbc_warning')
    op.drop_table('cbc_peer')

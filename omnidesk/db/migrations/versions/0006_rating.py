"""Rating: rate plans, prefix rates with effective dates, customers' plans, call detail records.

Self-contained: it needs only `customer` (0001). A call's price is a row of `cdr_rating`; a call
without one is unrated, never free.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 15:10:00
"""

from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_DISPOSITIONS = ("answered", "no_answer", "busy", "failed", "congestion", "cancelled",
                 "no_credit", "no_route", "carrier_reject", "invalid_number")

# cdr_rating.rate_plan_id → rate_plan.id, enforced per statement rather than per row: a foreign key
# checks and locks the plan once for each of a million rated calls (4-5 s); this checks and locks
# each plan a statement names once. A plan being deleted waits for a rating run that locked it and
# then sees its ratings (each plpgsql query takes a fresh snapshot), so no rating is left orphaned.
PLAN_REFERENCE = r"""
CREATE FUNCTION omnidesk_cdr_rating_plans_exist() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    missing integer;
BEGIN
    PERFORM 1 FROM rate_plan WHERE id IN (SELECT DISTINCT rate_plan_id FROM new_rows) FOR KEY SHARE;
    SELECT n.rate_plan_id INTO missing
      FROM (SELECT DISTINCT rate_plan_id FROM new_rows) n
     WHERE NOT EXISTS (SELECT 1 FROM rate_plan p WHERE p.id = n.rate_plan_id)
     LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'There is no rate plan %', missing
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'fk_cdr_rating_rate_plan_id_rate_plan';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER cdr_rating_plans_exist_insert AFTER INSERT ON cdr_rating
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION omnidesk_cdr_rating_plans_exist();
CREATE TRIGGER cdr_rating_plans_exist_update AFTER UPDATE ON cdr_rating
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION omnidesk_cdr_rating_plans_exist();

CREATE FUNCTION omnidesk_rate_plan_in_use() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM cdr_rating WHERE rate_plan_id = OLD.id) THEN
        RAISE EXCEPTION 'Rate plan % has priced calls; it cannot be deleted or renumbered', OLD.name
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'fk_cdr_rating_rate_plan_id_rate_plan';
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE TRIGGER rate_plan_in_use BEFORE DELETE OR UPDATE OF id ON rate_plan
    FOR EACH ROW EXECUTE FUNCTION omnidesk_rate_plan_in_use();
"""

DROP_PLAN_REFERENCE = r"""
DROP TRIGGER IF EXISTS rate_plan_in_use ON rate_plan;
DROP FUNCTION IF EXISTS omnidesk_rate_plan_in_use();
DROP TRIGGER IF EXISTS cdr_rating_plans_exist_update ON cdr_rating;
DROP TRIGGER IF EXISTS cdr_rating_plans_exist_insert ON cdr_rating;
DROP FUNCTION IF EXISTS omnidesk_cdr_rating_plans_exist();
"""


def upgrade() -> None:
    op.create_table('rate_plan',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('billing_increment', sa.Integer(), nullable=False),
    sa.Column('minimum_duration', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f('ck_rate_plan_currency_code')),
    sa.CheckConstraint('billing_increment BETWEEN 1 AND 3600', name=op.f('ck_rate_plan_billing_increment_range')),
    sa.CheckConstraint('length(name) BETWEEN 1 AND 100 AND name = btrim(name)', name=op.f('ck_rate_plan_name_trimmed')),
    sa.CheckConstraint('minimum_duration BETWEEN 0 AND 3600', name=op.f('ck_rate_plan_minimum_duration_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_plan')),
    sa.UniqueConstraint('name', name=op.f('uq_rate_plan_name'))
    )
    op.create_table('rate_plan_rate',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('rate_plan_id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=16, collation='C'), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('rate', sa.Numeric(precision=12, scale=6), nullable=False),
    sa.Column('description', sa.String(length=200), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("prefix ~ '^[0-9]{1,16}$'", name=op.f('ck_rate_plan_rate_prefix_digits')),
    sa.CheckConstraint('rate >= 0', name=op.f('ck_rate_plan_rate_rate_not_negative')),
    sa.ForeignKeyConstraint(['rate_plan_id'], ['rate_plan.id'], name=op.f('fk_rate_plan_rate_rate_plan_id_rate_plan'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_plan_rate')),
    sa.UniqueConstraint('rate_plan_id', 'prefix', 'effective_date', name=op.f('uq_rate_plan_rate_rate_plan_id_prefix_effective_date'))
    )
    op.create_table('customer_rate_plan',
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('rate_plan_id', sa.Integer(), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_rate_plan_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rate_plan_id'], ['rate_plan.id'], name=op.f('fk_customer_rate_plan_rate_plan_id_rate_plan')),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_rate_plan'))
    )
    op.create_index(op.f('ix_customer_rate_plan_rate_plan_id'), 'customer_rate_plan', ['rate_plan_id'], unique=False)
    op.create_table('cdr',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=True),
    sa.Column('call_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('caller', sa.String(length=64), server_default='', nullable=False),
    sa.Column('called_number', sa.String(length=32, collation='C'), nullable=False),
    sa.Column('duration_seconds', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('disposition', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=200), server_default='', nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("called_number ~ '^[0-9]{1,32}$'", name=op.f('ck_cdr_called_number_digits')),
    sa.CheckConstraint('duration_seconds BETWEEN 0 AND 864000', name=op.f('ck_cdr_duration_range')),
    sa.CheckConstraint("disposition IN (" + ", ".join(f"'{d}'" for d in _DISPOSITIONS) + ")", name=op.f('ck_cdr_disposition')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_cdr_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cdr')),
    sa.UniqueConstraint('call_id', name=op.f('uq_cdr_call_id'))
    )
    op.create_index('ix_cdr_call_start', 'cdr', ['call_start'], unique=False)
    op.create_index('ix_cdr_customer_id_call_start', 'cdr', ['customer_id', 'call_start'], unique=False)
    op.create_table('cdr_rating',
    sa.Column('cdr_id', sa.BigInteger(), nullable=False),
    sa.Column('rate_plan_id', sa.Integer(), nullable=False),
    sa.Column('matched_prefix', sa.String(length=16, collation='C'), nullable=False),
    sa.Column('rate', sa.Numeric(precision=12, scale=6), nullable=False),
    sa.Column('billable_seconds', sa.Integer(), nullable=False),
    sa.Column('cost', sa.Numeric(precision=14, scale=4), nullable=False),
    sa.Column('rated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('billable_seconds >= 0', name=op.f('ck_cdr_rating_billable_not_negative')),
    sa.CheckConstraint('cost >= 0', name=op.f('ck_cdr_rating_cost_not_negative')),
    sa.ForeignKeyConstraint(['cdr_id'], ['cdr.id'], name=op.f('fk_cdr_rating_cdr_id_cdr'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('cdr_id', name=op.f('pk_cdr_rating'))
    )
    op.execute(PLAN_REFERENCE)


def downgrade() -> None:
    op.execute(DROP_PLAN_REFERENCE)
    op.drop_table('cdr_rating')
    op.drop_index('ix_cdr_customer_id_call_start', table_name='cdr')
    op.drop_index('ix_cdr_call_start', table_name='cdr')
    op.drop_table('cdr')
    op.drop_index(op.f('ix_customer_rate_plan_rate_plan_id'), table_name='customer_rate_plan')
    op.drop_table('customer_rate_plan')
    op.drop_table('rate_plan_rate')
    op.drop_table('rate_plan')

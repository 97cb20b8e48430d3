"""Three hardenings: turning two-factor off checks its code like signing in; broadcast messages are
looked up by warning through an index; approvers lose UPDATE on cbc_warning.

1. omnidesk_disable_two_factor(text) of 0004 accepted a code without recording its step (replayable
   within its 30 s window) and never counted wrong codes (unlimited guessing). It now checks the code
   with 0015's omnidesk_check_own_code and returns jsonb, so a wrong code is answered and counted rather
   than raised and rolled back. See omnidesk/db/sql/hardening_0017.sql.
2. broadcast_message.warning_id gets an index: the guards of 0009/0013/0014/0016 find a warning's
   message by it on every change of a warning or command.
3. approve_cbc_message no longer grants UPDATE on cbc_warning: approving goes through the broadcast
   functions and the centre runs as the system role, so the privilege only let an approver edit
   warnings directly.

Revision ID: 0017
Revises: 0016
"""

import re
from importlib import resources

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

DISABLE = "omnidesk_disable_two_factor(text)"
INDEX = "ix_broadcast_message_warning_id"
GRANT = {"permission": "approve_cbc_message", "privilege": "UPDATE", "table_name": "cbc_warning"}


def _sql(name: str) -> str:
    return resources.files("omnidesk.db").joinpath(f"sql/{name}").read_text(encoding="utf-8")


def _staff_function(fn: str) -> None:
    op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
    op.execute(f"DO $$ BEGIN EXECUTE format('GRANT EXECUTE ON FUNCTION {fn} TO %I', omnidesk_staff_group()); END $$")


def upgrade() -> None:
    # the return type changes (void -> jsonb), which CREATE OR REPLACE cannot do
    op.execute(f"DROP FUNCTION {DISABLE}")
    op.execute(_sql("hardening_0017.sql"))
    _staff_function(DISABLE)

    op.create_index(INDEX, "broadcast_message", ["warning_id"], unique=False)

    op.get_bind().execute(
        sa.text("DELETE FROM permission_grant g USING permission p WHERE p.id = g.permission_id "
                "AND p.name = :permission AND g.privilege = :privilege AND g.table_name = :table_name"),
        GRANT,
    )
    op.execute("SELECT omnidesk_secure_tables(); SELECT omnidesk_apply_all_grants();")


def downgrade() -> None:
    op.get_bind().execute(
        sa.text("INSERT INTO permission_grant (permission_id, privilege, table_name) "
                "SELECT id, :privilege, :table_name FROM permission WHERE name = :permission "
                "ON CONFLICT DO NOTHING"),
        GRANT,
    )
    op.execute("SELECT omnidesk_secure_tables(); SELECT omnidesk_apply_all_grants();")

    op.drop_index(INDEX, table_name="broadcast_message")

    op.execute(f"DROP FUNCTION {DISABLE}")
    original = _sql("security_0004.sql")
    op.execute(re.search(r"CREATE FUNCTION omnidesk_disable_two_factor\(.*?END \$\$;", original, re.S).group(0))
    _staff_function(DISABLE)

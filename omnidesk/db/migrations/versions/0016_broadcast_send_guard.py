"""A public warning reaches the cell broadcast centre from a staff login only as an approved broadcast message:
a staff login's cbc_warning and 'send' command are checked at commit against an approved, claimed message that
becomes active with exactly that content in the same transaction; staff 'update' / 'stop' commands are for
broadcast messages' warnings only; staff never rewrite a queued command nor revive a warning. The rules live
in omnidesk/db/sql/broadcast_send_0016.sql.

Revision ID: 0016
Revises: 0015
"""

import re
from importlib import resources

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# The 0013 function replaced here, restored from broadcast_update_0013.sql on downgrade.
REPLACED = ("omnidesk_broadcast_command_guard",)
TRIGGERS = (("broadcast_send_check_warning", "cbc_warning"), ("broadcast_send_check_command", "cbc_command"),
            ("broadcast_command_change_guard", "cbc_command"), ("broadcast_warning_state_guard", "cbc_warning"))
FUNCTIONS = ("omnidesk_broadcast_send_check()", "omnidesk_broadcast_command_change_guard()",
             "omnidesk_broadcast_warning_state_guard()")


def _sql(name: str) -> str:
    return resources.files("omnidesk.db").joinpath(f"sql/{name}").read_text(encoding="utf-8")


def upgrade() -> None:
    op.execute(_sql("broadcast_send_0016.sql"))
    for fn in FUNCTIONS:  # trigger functions only: nobody calls them
        op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
    # no new table: nothing to add to permission_grant; re-apply so the grants stay as the table says
    op.execute("SELECT omnidesk_secure_tables(); SELECT omnidesk_apply_all_grants();")


def downgrade() -> None:
    for trigger, table in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
    for fn in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {fn}")
    original = _sql("broadcast_update_0013.sql")
    for name in REPLACED:
        definition = re.search(rf"CREATE FUNCTION {name}\(.*?END \$\$;", original, re.S).group(0)
        op.execute(definition.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))

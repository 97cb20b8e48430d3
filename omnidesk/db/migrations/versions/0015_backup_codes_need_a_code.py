"""New backup codes need a current authenticator code, checked by the database.

omnidesk_regenerate_backup_codes(text[]) of 0004 needed only a live session: anyone at an unlocked
desk could mint a permanent second factor. It is replaced by omnidesk_regenerate_backup_codes(text,
text[]), which first checks a TOTP code the way signing in does (replay-safe, counted towards the
lock). The old signature is dropped so that psql cannot call it. See omnidesk/db/sql/backup_codes_0015.sql.

Revision ID: 0015
Revises: 0014
"""

import re
from importlib import resources

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

OLD = "omnidesk_regenerate_backup_codes(text[])"
STAFF_FUNCTIONS = ["omnidesk_regenerate_backup_codes(text, text[])"]
INTERNAL_FUNCTIONS = ["omnidesk_check_own_code(integer, text)"]


def _sql(name: str) -> str:
    return resources.files("omnidesk.db").joinpath(f"sql/{name}").read_text(encoding="utf-8")


def _grant_to_staff(fn: str) -> None:
    op.execute(f"DO $$ BEGIN EXECUTE format('GRANT EXECUTE ON FUNCTION {fn} TO %I', omnidesk_staff_group()); END $$")


def upgrade() -> None:
    op.execute(f"DROP FUNCTION {OLD}")
    op.execute(_sql("backup_codes_0015.sql"))
    for fn in INTERNAL_FUNCTIONS + STAFF_FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
    for fn in STAFF_FUNCTIONS:
        _grant_to_staff(fn)


def downgrade() -> None:
    for fn in STAFF_FUNCTIONS + INTERNAL_FUNCTIONS:
        op.execute(f"DROP FUNCTION {fn}")
    original = _sql("security_0004.sql")
    op.execute(re.search(r"CREATE FUNCTION omnidesk_regenerate_backup_codes\(.*?END \$\$;", original, re.S).group(0))
    op.execute(f"REVOKE ALL ON FUNCTION {OLD} FROM PUBLIC")
    _grant_to_staff(OLD)

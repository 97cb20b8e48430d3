"""What a cell-broadcast warning says changes only through the running centre: since a centre that restarts
sends each live warning's recorded content (texts, parameters, update number) again, no staff login may
rewrite it, for any warning (0013 covered only the warnings of broadcast messages). The rule lives in
omnidesk/db/sql/cbc_warning_content_0014.sql.

Revision ID: 0014
Revises: 0013
"""

import re
from importlib import resources

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# The 0013 function replaced here, restored from broadcast_update_0013.sql on downgrade.
REPLACED = ("omnidesk_broadcast_warning_guard",)


def _sql(name: str) -> str:
    return resources.files("omnidesk.db").joinpath(f"sql/{name}").read_text(encoding="utf-8")


def upgrade() -> None:
    op.execute(_sql("cbc_warning_content_0014.sql"))


def downgrade() -> None:
    original = _sql("broadcast_update_0013.sql")
    for name in REPLACED:
        definition = re.search(rf"CREATE FUNCTION {name}\(.*?END \$\$;", original, re.S).group(0)
        op.execute(definition.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))

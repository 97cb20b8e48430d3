"""Security enforced by PostgreSQL: staff login roles, role groups with generated grants,
row-level security gated by a second-factor session, lockout, and the seeded app roles.

The SQL lives in omnidesk/db/sql/security_0004.sql (and totp.sql for the TOTP arithmetic); this
file adds the tables, the permission -> table-privilege map and the roles. Later migrations that
add tables insert their permission_grant rows and call omnidesk_secure_tables() and
omnidesk_apply_all_grants().

Revision ID: 0004
Revises: 0003
"""

import re
from importlib import resources

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Table privileges each verb of an entity permission gives ("view own" is view, narrowed by a policy).
VERBS = {
    "view": ("SELECT",),
    "view_own": ("SELECT",),
    "create": ("SELECT", "INSERT"),
    "update": ("SELECT", "UPDATE"),
    "delete": ("SELECT", "DELETE"),
}
ENTITY_TABLES = {
    "customer": ("customer",),
    "customer_site": ("site",),
    "customer_contact": ("contact",),
    "customer_attribute": ("customer_attribute",),
    "customer_tag": ("customer_tag",),
    "customer_service": ("service",),
    "customer_activity": ("activity_log",),
    "customer_transaction": ("billing_transaction",),
    "customer_invoice": ("invoice",),
    "inventory": ("inventory_item", "inventory_item_history"),
    "inventory_template": ("inventory_template",),
    "product": ("product", "product_inventory_type"),
    "cbc_message": ("cbc_warning", "cbc_warning_peer", "cbc_warning_cell", "cbc_command"),
}
# What a use case needs beyond its own tables (reading what it refers to, writing its side effects).
EXTRA_GRANTS = {
    "view_customer_site": [("SELECT", "customer")],
    "view_customer_contact": [("SELECT", "customer")],
    "view_customer_service": [("SELECT", "product"), ("SELECT", "site"), ("SELECT", "inventory_item")],
    "create_customer": [("INSERT", "contact"), ("SELECT", "contact")],
    # archiving checks the blockers: live services, unpaid invoices, uninvoiced transactions
    "delete_customer": [("UPDATE", "customer"), ("SELECT", "service"), ("SELECT", "invoice"),
                        ("SELECT", "billing_transaction")],
    "create_customer_service": [("SELECT", "product"), ("SELECT", "product_inventory_type"),
                                ("SELECT", "customer"), ("SELECT", "site"), ("SELECT", "inventory_template")],
    "update_customer_service": [("SELECT", "product"), ("SELECT", "customer")],
    "view_inventory": [("SELECT", "inventory_template"), ("SELECT", "secret_key")],
    "view_own_inventory": [("SELECT", "inventory_template")],
    "create_inventory": [("INSERT", "inventory_item_history"), ("SELECT", "inventory_template"),
                         ("SELECT", "secret_key"), ("INSERT", "secret_key")],
    "update_inventory": [("INSERT", "inventory_item_history"), ("SELECT", "inventory_template"),
                         ("SELECT", "secret_key"), ("INSERT", "secret_key"), ("SELECT", "customer"),
                         ("SELECT", "service")],
    "view_product": [("SELECT", "inventory_template")],
    "create_product": [("SELECT", "inventory_template")],
    "update_product": [("SELECT", "inventory_template"), ("INSERT", "product_inventory_type"),
                       ("DELETE", "product_inventory_type")],
    "view_cbc_message": [("SELECT", "cbc_peer")],
    "create_cbc_message": [("SELECT", "cbc_peer")],
    "update_cbc_message": [("INSERT", "cbc_command"), ("SELECT", "cbc_peer")],
    "delete_cbc_message": [("UPDATE", "cbc_warning"), ("INSERT", "cbc_command"), ("SELECT", "cbc_peer")],
    "approve_cbc_message": [("SELECT", "cbc_warning"), ("UPDATE", "cbc_warning"), ("SELECT", "cbc_peer")],
    "manage_settings": [(p, "cbc_peer") for p in ("SELECT", "INSERT", "UPDATE", "DELETE")],
    "manage_users": [("INSERT", "user_role"), ("DELETE", "user_role"), ("INSERT", "role"), ("UPDATE", "role"),
                     ("DELETE", "role"), ("INSERT", "role_permission"), ("DELETE", "role_permission"),
                     ("SELECT", "activity_log")],
}
# Tables whose rows belong to a customer, and the permission that shows all of them ("view own"
# shows those of customers the user manages).
OWN_SCOPED = {
    "customer": "view_customer",
    "contact": "view_customer_contact",
    "site": "view_customer_site",
    "customer_attribute": "view_customer_attribute",
    "customer_tag": "view_customer_tag",
    "service": "view_customer_service",
    "billing_transaction": "view_customer_transaction",
    "invoice": "view_customer_invoice",
    "inventory_item": "view_inventory",
}

_CUSTOMER_VIEW = [f"view_{g}" for g in ("customer", "customer_site", "customer_contact", "customer_attribute",
                                         "customer_tag", "customer_activity")]
_CUSTOMER_EDIT = [f"{v}_{g}" for v in ("create", "update") for g in (
    "customer", "customer_site", "customer_contact", "customer_attribute", "customer_tag")]
SEEDED_ROLES = {
    "Support": ("Front-line customer care: customers and their details, services and bills to look at",
                _CUSTOMER_VIEW + _CUSTOMER_EDIT + ["delete_customer_tag", "delete_customer_attribute",
                 "view_customer_service", "update_customer_service", "view_customer_transaction",
                 "view_customer_invoice", "view_inventory", "view_product", "view_provision",
                 "view_communication", "create_communication"]),
    "Finance": ("Transactions, invoices, payments and reports",
                _CUSTOMER_VIEW + ["update_customer", "view_customer_service", "view_product",
                 "view_customer_transaction", "create_customer_transaction", "update_customer_transaction",
                 "delete_customer_transaction", "view_customer_invoice", "create_customer_invoice",
                 "update_customer_invoice", "delete_customer_invoice", "view_customer_stripe_card",
                 "view_report"]),
    "Provisioning Specialist": ("Services, inventory, products and provisioning jobs",
                _CUSTOMER_VIEW + ["view_customer_service", "create_customer_service", "update_customer_service",
                 "delete_customer_service", "view_inventory", "create_inventory", "update_inventory",
                 "delete_inventory", "view_inventory_template", "create_inventory_template",
                 "update_inventory_template", "view_product", "view_provision", "create_provision",
                 "update_provision", "view_provision_event"]),
    "Broadcast Creator": ("Drafts, sends, updates and stops public warnings",
                ["view_cbc_message", "create_cbc_message", "update_cbc_message", "delete_cbc_message"]),
    "Broadcast Approver": ("Approves or rejects public warnings (two-person rule)",
                ["view_cbc_message", "approve_cbc_message"]),
    "Read-only Auditor": ("Sees everything, changes nothing",
                None),  # every view_* and view_report, filled in below
    "Store Clerk": ("Retail counter: new customers, SIM sales and payments",
                ["view_customer", "create_customer", "update_customer", "view_customer_contact",
                 "create_customer_contact", "update_customer_contact", "view_customer_site", "create_customer_site",
                 "view_customer_service", "create_customer_service", "view_product", "view_inventory",
                 "update_inventory", "view_inventory_template", "view_customer_transaction",
                 "create_customer_transaction", "view_customer_invoice", "update_customer_invoice"]),
}

# Functions signed-in (or signing-in) staff may call; every other SECURITY DEFINER function is
# internal and revoked from PUBLIC.
STAFF_FUNCTIONS = [
    "omnidesk_login_state()", "omnidesk_verify_code(text)", "omnidesk_open_session_without_2fa()",
    "omnidesk_resume_session(text)", "omnidesk_end_session()", "omnidesk_enrol_begin(text)",
    "omnidesk_enrol_confirm(text, text[])", "omnidesk_regenerate_backup_codes(text[])",
    "omnidesk_disable_two_factor(text)", "omnidesk_change_password(text)",
    "omnidesk_create_user(text, text, text, text, text[])", "omnidesk_reset_password(text, text)",
    "omnidesk_reset_two_factor(text)", "omnidesk_set_user_locked(text, boolean)",
    "omnidesk_set_user_deleted(text, boolean)", "omnidesk_update_user(text, text, text)",
    "omnidesk_require_session()", "omnidesk_has(text)", "omnidesk_current_staff_id()",
    "omnidesk_two_factor_required(integer)", "omnidesk_now()", "omnidesk_user_security()",
]

# Trigger functions of earlier migrations that write or lock rows of other tables: they run as
# the owner, so the writer needs privileges only on the table they write.
DEFINER_TRIGGERS = [
    "omnidesk_customer_before_write()", "omnidesk_contact_after_write()",
    "omnidesk_inventory_item_history_insert()", "omnidesk_inventory_item_history_update()",
    "omnidesk_inventory_item_identifiers()", "omnidesk_inventory_item_identifiers_row()",
]

CURRENT_ACTOR_0004 = r"""
CREATE OR REPLACE FUNCTION omnidesk_current_actor() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    -- A staff login is named by the database; only the owner's connections (CLI, centre) say who.
    SELECT left(coalesce((SELECT username FROM staff_user WHERE login_role = session_user),
                         nullif(current_setting('omnidesk.actor', true), ''), session_user::text), 63)
$$;
"""
CURRENT_ACTOR_0003 = r"""
CREATE OR REPLACE FUNCTION omnidesk_current_actor() RETURNS text
LANGUAGE sql STABLE SECURITY INVOKER AS $$ SELECT left(coalesce(nullif(current_setting('omnidesk.actor', true), ''), current_user), 63) $$;
ALTER FUNCTION omnidesk_current_actor() RESET search_path;
"""

# Row-level security lets an index answer a search only when the operator and functions of its
# condition are LEAKPROOF (else they would run before the policy). These are: the trigram
# function only splits text; array containment, lower() and LIKE raise no error that depends on
# the row (LIKE only on a malformed pattern, which is the searcher's own input). LIKE also needs it for
# the planner to use column statistics under RLS (else it guesses a few rows and scans). Marking
# them takes a superuser (the embedded server's owner is one); elsewhere a DBA can run the same
# statements, and until then searches work, only slower.
LEAKPROOF = ("omnidesk_trigrams(text)", "pg_catalog.arraycontains(anyarray, anyarray)", "pg_catalog.lower(text)",
             "pg_catalog.textlike(text, text)")
SUPERUSER_ONLY = """DO $$ BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN {statements}
    ELSE RAISE NOTICE 'not a superuser: searches under row-level security cannot use their indexes until a DBA runs: {statements}';
    END IF;
END $$"""

TRIGGERS = """
CREATE TRIGGER user_role_changed AFTER INSERT OR DELETE ON user_role
    FOR EACH ROW EXECUTE FUNCTION omnidesk_user_role_changed();
CREATE TRIGGER role_permission_added AFTER INSERT ON role_permission
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION omnidesk_role_permissions_changed();
CREATE TRIGGER role_permission_removed AFTER DELETE ON role_permission
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION omnidesk_role_permissions_changed();
CREATE TRIGGER role_created AFTER INSERT ON role FOR EACH ROW EXECUTE FUNCTION omnidesk_role_changed();
CREATE TRIGGER role_deleted BEFORE DELETE ON role FOR EACH ROW EXECUTE FUNCTION omnidesk_role_changed();
CREATE TRIGGER activity_log_stamp_actor BEFORE INSERT ON activity_log
    FOR EACH ROW EXECUTE FUNCTION omnidesk_activity_log_stamp_actor();
"""


def _sql(name: str) -> str:
    return resources.files("omnidesk.db").joinpath(f"sql/{name}").read_text(encoding="utf-8")


def _functions_in(sql: str) -> list[str]:
    return sorted(set(re.findall(r"CREATE (?:OR REPLACE )?FUNCTION (\w+)\(", sql)))


def _permission_grants(names: set[str]) -> list[dict]:
    rows = set()
    for group, tables in ENTITY_TABLES.items():
        for verb, privileges in VERBS.items():
            permission = f"{verb}_{group}"
            if permission in names:
                rows.update((permission, p, t) for t in tables for p in privileges)
    for permission, extra in EXTRA_GRANTS.items():
        rows.update((permission, p, t) for p, t in extra)
    return [{"permission": p, "privilege": priv, "table_name": t} for p, priv, t in sorted(rows)]


def upgrade() -> None:
    op.create_table(
        "security_config",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role_suffix", sa.String(length=32), nullable=False),
        sa.Column("clock_offset", sa.Interval(), server_default=sa.text("'0'::interval"), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_security_config_single_row")),
        sa.CheckConstraint("role_suffix ~ '^[a-z0-9_]{1,32}$'", name=op.f("ck_security_config_role_suffix_format")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_config")),
    )
    op.create_table(
        "permission_grant",
        sa.Column("permission_id", sa.Integer(), nullable=False),
        sa.Column("privilege", sa.String(length=8), nullable=False),
        sa.Column("table_name", sa.String(length=63), nullable=False),
        sa.CheckConstraint("privilege IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')", name=op.f("ck_permission_grant_privilege")),
        sa.ForeignKeyConstraint(["permission_id"], ["permission.id"], name=op.f("fk_permission_grant_permission_id_permission"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("permission_id", "privilege", "table_name", name=op.f("pk_permission_grant")),
    )
    op.create_table(
        "staff_auth",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("totp_secret", sa.Text(), nullable=True),
        sa.Column("totp_pending_secret", sa.Text(), nullable=True),
        sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("totp_last_counter", sa.BigInteger(), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("must_change_password", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("failed_attempts >= 0", name=op.f("ck_staff_auth_failed_attempts")),
        sa.ForeignKeyConstraint(["user_id"], ["staff_user.id"], name=op.f("fk_staff_auth_user_id_staff_user"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_staff_auth")),
    )
    op.create_table(
        "staff_backup_code",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["staff_user.id"], name=op.f("fk_staff_backup_code_user_id_staff_user"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_backup_code")),
    )
    op.create_index(op.f("ix_staff_backup_code_user_id"), "staff_backup_code", ["user_id"], unique=False)
    op.create_table(
        "staff_session",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("method IN ('totp', 'backup_code', 'password_only')", name=op.f("ck_staff_session_method")),
        sa.ForeignKeyConstraint(["user_id"], ["staff_user.id"], name=op.f("fk_staff_session_user_id_staff_user"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_session_token_hash")),
    )
    op.create_index("ix_staff_session_live", "staff_session", ["user_id"], unique=False,
                    postgresql_where=sa.text("ended_at IS NULL"))
    op.add_column("staff_user", sa.Column("login_role", sa.String(length=63), nullable=True))
    op.create_unique_constraint(op.f("uq_staff_user_login_role"), "staff_user", ["login_role"])
    op.add_column("customer", sa.Column("account_manager_user_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_customer_account_manager_user_id"), "customer", ["account_manager_user_id"], unique=False)
    op.create_foreign_key(op.f("fk_customer_account_manager_user_id_staff_user"), "customer", "staff_user",
                          ["account_manager_user_id"], ["id"], ondelete="SET NULL")

    # This database's role names: "<username>@<suffix>", the suffix taken from the database name.
    op.execute(
        "INSERT INTO security_config (id, role_suffix) "
        "VALUES (1, left(regexp_replace(lower(current_database()), '[^a-z0-9_]', '_', 'g'), 32))"
    )
    op.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
        "(SELECT 'omnidesk_staff@' || role_suffix FROM security_config)) THEN "
        "EXECUTE format('CREATE ROLE %I NOLOGIN', (SELECT 'omnidesk_staff@' || role_suffix FROM security_config)); "
        "END IF; END $$"
    )
    op.execute(sa.text(_sql("totp.sql")))
    op.execute(sa.text(_sql("security_0004.sql")))
    op.execute(CURRENT_ACTOR_0004)
    for fn in DEFINER_TRIGGERS:
        op.execute(f"ALTER FUNCTION {fn} SECURITY DEFINER SET search_path = public, pg_temp")

    conn = op.get_bind()
    names = set(conn.scalars(sa.text("SELECT name FROM permission")).all())
    grants = _permission_grants(names)
    conn.execute(
        sa.text("INSERT INTO permission_grant (permission_id, privilege, table_name) "
                "SELECT id, :privilege, :table_name FROM permission WHERE name = :permission"),
        grants,
    )
    op.execute(TRIGGERS)
    SEEDED_ROLES["Read-only Auditor"] = (SEEDED_ROLES["Read-only Auditor"][0],
                                         sorted(n for n in names if n.startswith("view_") or n == "grafana_access"))
    for name, (description, permissions) in SEEDED_ROLES.items():
        missing = set(permissions) - names
        assert not missing, f"role {name} names unknown permissions {sorted(missing)}"
        conn.execute(sa.text("INSERT INTO role (name, description, is_builtin) VALUES (:n, :d, true)"),
                     {"n": name, "d": description})
        conn.execute(
            sa.text("INSERT INTO role_permission (role_id, permission_id) "
                    "SELECT r.id, p.id FROM role r, permission p WHERE r.name = :n AND p.name = ANY(:ps)"),
            {"n": name, "ps": list(permissions)},
        )

    conn.execute(sa.text("SELECT omnidesk_secure_tables()"))
    for table, permission in OWN_SCOPED.items():
        conn.execute(sa.text("SELECT omnidesk_add_own_policy(:t, :p)"), {"t": table, "p": permission})
    # The activity log: everyone sees what they did themselves, besides what their permissions show.
    op.execute(
        "DO $$ BEGIN EXECUTE format('CREATE POLICY staff_view_own ON activity_log AS RESTRICTIVE FOR SELECT TO %I "
        "USING ((SELECT omnidesk_has(''view_customer_activity'')) "
        "OR actor_user_id = (SELECT omnidesk_current_staff_id()) "
        "OR customer_id IN (SELECT id FROM customer "
        "WHERE account_manager_user_id = (SELECT omnidesk_current_staff_id())))', omnidesk_staff_group()); END $$"
    )
    conn.execute(sa.text("SELECT omnidesk_apply_all_grants()"))
    # activity_log: inserts return the new id, so every staff member may read that one column.
    op.execute("DO $$ BEGIN EXECUTE format('GRANT SELECT (id) ON activity_log TO %I', omnidesk_staff_group()); END $$")

    op.execute(SUPERUSER_ONLY.format(statements=" ".join(f"ALTER FUNCTION {f} LEAKPROOF;" for f in LEAKPROOF)))

    security_functions = _functions_in(_sql("security_0004.sql"))
    for fn in security_functions:
        op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
    for fn in STAFF_FUNCTIONS:
        op.execute(
            f"DO $$ BEGIN EXECUTE format('GRANT EXECUTE ON FUNCTION {fn} TO %I', omnidesk_staff_group()); END $$"
        )


def downgrade() -> None:
    conn = op.get_bind()
    suffix = conn.scalar(sa.text("SELECT role_suffix FROM security_config"))
    logins = conn.scalars(sa.text("SELECT login_role FROM staff_user WHERE login_role IS NOT NULL")).all()
    groups = [f"omnidesk_role_{rid}@{suffix}" for rid in conn.scalars(sa.text("SELECT id FROM role")).all()]
    groups.append(f"omnidesk_staff@{suffix}")

    tables = conn.scalars(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).all()
    for table in tables:
        for policy in conn.scalars(sa.text("SELECT policyname FROM pg_policies WHERE tablename = :t"), {"t": table}).all():
            op.execute(f'DROP POLICY "{policy}" ON "{table}"')
        op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')
    for trigger, table in [("user_role_changed", "user_role"), ("role_permission_added", "role_permission"),
                           ("role_permission_removed", "role_permission"), ("role_created", "role"),
                           ("role_deleted", "role"), ("activity_log_stamp_actor", "activity_log")]:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
    # The roles seeded here go (their users lose them); the Admin role of 0001 stays.
    op.execute("DELETE FROM role WHERE name IN (%s)" % ", ".join(f"'{n}'" for n in SEEDED_ROLES))
    for role in [*logins, *groups]:
        op.execute(
            f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN "
            f"EXECUTE format('DROP OWNED BY %I', '{role}'); "
            f"BEGIN EXECUTE format('DROP ROLE %I', '{role}'); "
            "EXCEPTION WHEN dependent_objects_still_exist THEN NULL; END; END IF; END $$"
        )
    op.execute(SUPERUSER_ONLY.format(statements=" ".join(f"ALTER FUNCTION {f} NOT LEAKPROOF;" for f in LEAKPROOF)))
    for fn in DEFINER_TRIGGERS:
        op.execute(f"ALTER FUNCTION {fn} SECURITY INVOKER RESET search_path")
    op.execute(CURRENT_ACTOR_0003)
    for fn in _functions_in(_sql("security_0004.sql")) + _functions_in(_sql("totp.sql")):
        op.execute(f"DROP FUNCTION IF EXISTS {fn} CASCADE")
    op.drop_constraint(op.f("fk_customer_account_manager_user_id_staff_user"), "customer", type_="foreignkey")
    op.drop_index(op.f("ix_customer_account_manager_user_id"), table_name="customer")
    op.drop_column("customer", "account_manager_user_id")
    op.drop_constraint(op.f("uq_staff_user_login_role"), "staff_user", type_="unique")
    op.drop_column("staff_user", "login_role")
    op.drop_index("ix_staff_session_live", table_name="staff_session", postgresql_where=sa.text("ended_at IS NULL"))
    op.drop_table("staff_session")
    op.drop_index(op.f("ix_staff_backup_code_user_id"), table_name="staff_backup_code")
    op.drop_table("staff_backup_code")
    op.drop_table("staff_auth")
    op.drop_table("permission_grant")
    op.drop_table("security_config")

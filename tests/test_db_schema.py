"""Opening databases: migrate the old, refuse the newer, say so when the server is gone."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from omnidesk.auth import builtin_admin
from omnidesk.config import Settings
from omnidesk.customers import service as cs
from omnidesk.db.engine import Database, SchemaOutdated, SchemaTooNew, open_database
from omnidesk.errors import DatabaseUnavailable


def _settings(url, tmp_path) -> Settings:
    return Settings(database_url=url, data_dir=tmp_path, config_file=tmp_path / "none.toml")


@pytest.fixture
def empty_url(pg_root):
    admin_conninfo, _ = pg_root
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "empty_schema" WITH (FORCE)')
        conn.execute('CREATE DATABASE "empty_schema"')
    yield admin_conninfo.replace("/postgres?", "/empty_schema?")
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "empty_schema" WITH (FORCE)')


def test_an_empty_database_is_migrated_to_this_versions_schema_on_open(empty_url, tmp_path):
    db = open_database(_settings(empty_url, tmp_path))
    current, head, state = db.schema_state()
    assert state == "current" and current == head
    assert cs.count_customers(db, builtin_admin(db)) == 0
    db.dispose()


def test_an_unmigrated_database_is_refused_when_upgrading_is_not_allowed(empty_url, tmp_path):
    with pytest.raises(SchemaOutdated, match="omnidesk db upgrade"):
        open_database(_settings(empty_url, tmp_path), upgrade=False)


def test_a_database_from_a_newer_omnidesk_is_refused_untouched(db, tmp_path):
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(SchemaTooNew, match="9999_from_the_future, which is newer than this OmniDesk"):
        open_database(_settings(db.url, tmp_path))
    assert db.schema_revision() == "9999_from_the_future"


def test_a_database_that_cannot_be_reached_gives_a_clear_message_and_saves_nothing(db, tmp_path):
    nowhere = db.engine.url.update_query_dict({"host": str(tmp_path / "no-server-here")})
    gone = Database(nowhere.render_as_string(hide_password=False))
    admin = builtin_admin(db)
    with pytest.raises(DatabaseUnavailable, match="not reachable .*nothing was saved"):
        cs.create_customer(gone, admin, name="Lost Ltd")
    assert cs.count_customers(db, admin) == 0


def test_a_connection_killed_mid_operation_is_reported_and_leaves_no_trace(db, admin, pg_root):
    admin_conninfo, _ = pg_root
    c = cs.create_customer(db, admin, name="Before")
    original = cs._detail

    def kill_then_continue(session, customer):
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with psycopg.connect(admin_conninfo, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        return original(session, customer)

    cs._detail = kill_then_continue
    try:
        with pytest.raises(DatabaseUnavailable, match="nothing was saved"):
            cs.update_customer(db, admin, c.id, name="After")
    finally:
        cs._detail = original
    assert cs.get_customer(db, admin, c.id).name == "Before"


# Indexes on expressions written in SQL (0001) that the models cannot describe.
_SQL_ONLY_INDEXES = {"ix_customer_name_sort", "ix_customer_search_trigrams"}


def test_the_models_and_the_migrations_describe_the_same_schema(db):
    """A column added to a model without a migration (or the reverse) would fail at run time."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    import omnidesk.db.all_models  # noqa: F401
    from omnidesk.db.models import Base

    with db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    differences = [d for d in differences
                   if not (isinstance(d, tuple) and d[0] == "remove_index" and d[1].name in _SQL_ONLY_INDEXES)]
    assert differences == []


def test_downgrading_every_migration_and_upgrading_again_leaves_the_same_schema(empty_url):
    from alembic import command

    from omnidesk.db.engine import alembic_config

    database = Database(empty_url)
    database.upgrade()
    cfg = alembic_config()
    with database.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    with database.engine.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                                 "AND tablename <> 'alembic_version'")).scalar()
    assert left == 0
    database.upgrade()
    assert database.schema_state()[2] == "current"
    database.dispose()

"""Migration 0003 goes down to 0002 and up again cleanly, and its seeds are there after."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from omnidesk.db.engine import alembic_config


def _run(db, fn, target):
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        fn(cfg, target)


def test_0003_downgrades_to_0002_and_upgrades_again_with_its_seeds(db):
    _run(db, command.downgrade, "0002")
    with db.engine.connect() as conn:
        tables = set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
        service_columns = set(conn.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'service'")).scalars())
    assert not tables & {"inventory_template", "inventory_item", "inventory_item_history", "product", "secret_key"}
    assert service_columns == {"id", "customer_id", "site_id", "name", "status", "created_at"}
    _run(db, command.upgrade, "head")
    with db.engine.connect() as conn:
        templates = conn.execute(text("SELECT name FROM inventory_template ORDER BY id")).scalars().all()
        keys = conn.execute(text("SELECT count(*) FROM secret_key WHERE octet_length(key) = 32")).scalar_one()
    assert templates == ["SIM Card", "Mobile Number", "Fixed Wireless CPE", "GPON ONT"] and keys == 1

"""The one-statement, autocommitted pick: what it writes, what it leaves on the pooled connection, which index it walks."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from omnidesk.customers import service as cs
from omnidesk.db.engine import Database
from omnidesk.errors import ServiceError
from omnidesk.inventory import service as inv

from test_inventory_allocation import customer, stock


def test_the_activity_entry_names_five_identifiers_and_counts_the_rest(db, admin):
    ids = stock(db, 8)
    c = customer(db, admin)
    picked = inv.allocate(db, admin, "SIM Card", 7, customer_id=c.id)
    assert [p.id for p in picked] == ids[:7]
    entry = cs.list_activity(db, admin, c.id)[0]
    shown = ", ".join(p.itemtext1 for p in picked[:5])
    assert entry.summary == f"Allocated 7 SIM Card: {shown} and 2 more"
    assert entry.changes == {"items": ids[:7]} and entry.actor_name == admin.username
    one = inv.allocate(db, admin, "SIM Card", 1, customer_id=c.id, reason="sale 42")
    entry = cs.list_activity(db, admin, c.id)[0]
    assert entry.summary == f"Allocated 1 SIM Card: {one[0].itemtext1}"
    history = inv.item_history(db, admin, one[0].id)[-1]
    assert (history.from_state, history.to_state, history.reason, history.actor_name) == ("new", "assigned", "sale 42", admin.username)


def test_the_pooled_connection_is_transactional_again_after_a_pick(db, admin):
    """The pick runs in autocommit; the next unit of work on the same connection must still roll back."""
    single = Database(db.url, pool_size=1)
    try:
        stock(single, 2)
        c = customer(single, admin)
        with single.engine.connect() as conn:
            backend = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        inv.allocate(single, admin, "SIM Card", 1, customer_id=c.id)
        with pytest.raises(RuntimeError):
            with single.transaction() as s:
                assert s.execute(text("SELECT pg_backend_pid()")).scalar_one() == backend
                s.execute(text("UPDATE customer SET name = 'Changed' WHERE id = :id"), {"id": c.id})
                raise RuntimeError("the caller's work failed")
        assert cs.get_customer(single, admin, c.id).name == "Acme Ltd"
    finally:
        single.dispose()


def test_a_refusal_inside_the_pick_leaves_stock_and_log_untouched(db, admin):
    ids = stock(db, 3)
    c = customer(db, admin)
    before = len(cs.list_activity(db, admin, c.id))
    with pytest.raises(ServiceError, match="Out of stock: only 3 SIM Card in stock, 4 asked for"):
        inv.allocate(db, admin, "SIM Card", 4, customer_id=c.id)
    assert [inv.get_item(db, admin, i).item_state for i in ids] == ["new"] * 3
    assert len(cs.list_activity(db, admin, c.id)) == before


def test_the_pick_walks_the_stock_index_even_when_statistics_say_everything_is_in_stock(db, admin):
    """Right after an import the planner believes every item is stock; the pick must still not scan
    the items already given out (the primary key walk grew by 0.3 ms per 2,000 sold SIMs)."""
    stock(db, 5000)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE inventory_item"))
    c = customer(db, admin)
    inv.allocate(db, admin, "SIM Card", 2000, customer_id=c.id)
    sql = inv._pick_sql(1, False)
    with db.engine.connect() as conn:
        plan = "\n".join(conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, COSTS OFF) " + sql,
            {"actor": "t", "reason": "t", "template": "SIM Card", "customer": c.id, "service": None,
             "actor_id": None, "summary": "x"},
        ).scalars())
        conn.rollback()
    assert "ix_inventory_item_stock" in plan, plan
    assert "Rows Removed by Filter" not in plan.split("ix_inventory_item_stock")[1].split("->")[0], plan

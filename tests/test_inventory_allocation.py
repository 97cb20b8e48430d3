"""Picking stock: all-or-nothing, never the same item twice across workstations, rollback returns it."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from sqlalchemy import text

from omnidesk.customers import service as cs
from omnidesk.db.engine import Database
from omnidesk.errors import ServiceError, ValidationError
from omnidesk.inventory import service as inv


def stock(db, count: int, template: str = "SIM Card", location: str = "", state: str = "new") -> list[int]:
    """`count` items straight into the table (the import has its own tests)."""
    with db.engine.begin() as conn:
        return conn.execute(text(
            "INSERT INTO inventory_item (template_id, itemtext1, itemtext2, item_location, item_state, wholesale_cost, retail_cost) "
            "SELECT t.id, '8944' || lpad(g::text, 16, '0'), '23415' || lpad(g::text, 10, '0'), :loc, :state, 2.5, 10 "
            "FROM inventory_template t, generate_series((SELECT coalesce(max(id), 0) + 1 FROM inventory_item), "
            "(SELECT coalesce(max(id), 0) FROM inventory_item) + :n) g WHERE t.name = :t ORDER BY g RETURNING id"),
            {"n": count, "t": template, "loc": location, "state": state}).scalars().all()


def customer(db, admin, name="Acme Ltd"):
    c = cs.create_customer(db, admin, name=name)
    return cs.change_status(db, admin, c.id, "active")


def states(db) -> Counter:
    with db.engine.connect() as conn:
        return Counter(dict(conn.execute(text("SELECT item_state, count(*) FROM inventory_item GROUP BY 1")).all()))


def test_allocation_takes_the_asked_number_and_records_it(db, admin):
    ids = stock(db, 5)
    c = customer(db, admin)
    picked = inv.allocate(db, admin, "SIM Card", 3, customer_id=c.id)
    assert [p.id for p in picked] == ids[:3]
    for p in picked:
        item = inv.get_item(db, admin, p.id)
        assert (item.item_state, item.customer_id) == ("assigned", c.id) and item.sold_date is not None
        assert [(h.from_state, h.to_state) for h in inv.item_history(db, admin, p.id)] == [(None, "new"), ("new", "assigned")]
    entry = cs.list_activity(db, admin, c.id)[0]
    assert entry.summary.startswith("Allocated 3 SIM Card: 8944") and entry.changes == {"items": ids[:3]}


def test_used_stock_can_be_picked_but_damaged_cannot(db, admin):
    stock(db, 1, state="damaged")
    used = stock(db, 1, state="used")
    c = customer(db, admin)
    assert [p.id for p in inv.allocate(db, admin, "SIM Card", 1, customer_id=c.id)] == used
    with pytest.raises(inv.OutOfStock):
        inv.allocate(db, admin, "SIM Card", 1, customer_id=c.id)


def test_short_stock_takes_nothing_and_says_out_of_stock(db, admin):
    stock(db, 4, location="Store 1")
    c = customer(db, admin)
    before = states(db)
    with pytest.raises(inv.OutOfStock, match="Out of stock: only 4 SIM Card in stock, 5 asked for; nothing was taken"):
        inv.allocate(db, admin, "SIM Card", 5, customer_id=c.id)
    with pytest.raises(inv.OutOfStock, match="none SIM Card in stock at Store 2"):
        inv.allocate(db, admin, "SIM Card", 1, customer_id=c.id, location="Store 2")
    assert states(db) == before == Counter({"new": 4})
    assert [p.id for p in inv.allocate(db, admin, "SIM Card", 4, customer_id=c.id, location="Store 1")]


def test_bad_allocation_requests_are_refused(db, admin):
    stock(db, 2)
    c = customer(db, admin)
    with pytest.raises(ValidationError, match="at least 1"):
        inv.allocate(db, admin, "SIM Card", 0, customer_id=c.id)
    with pytest.raises(ServiceError, match="case-sensitive — did you mean 'SIM Card'"):
        inv.allocate(db, admin, "sim card", 1, customer_id=c.id)
    with pytest.raises(ServiceError, match="no customer 999"):
        inv.allocate(db, admin, "SIM Card", 1, customer_id=999)
    assert states(db) == Counter({"new": 2})


def test_a_rollback_in_the_callers_transaction_returns_the_items_to_stock(db, admin):
    stock(db, 3)
    c = customer(db, admin)
    with pytest.raises(RuntimeError):
        with db.transaction() as session:
            picked = inv.allocate(db, admin, "SIM Card", 2, customer_id=c.id, session=session)
            assert len(picked) == 2
            raise RuntimeError("provisioning failed")
    assert states(db) == Counter({"new": 3})
    assert all(len(inv.item_history(db, admin, i.id)) == 1 for i in inv.list_items(db, admin))


def test_a_second_workstation_skips_the_rows_the_first_is_holding(db, admin):
    """Workstation A holds 5 SIMs in an open transaction; B picks at once (no waiting) and gets others.
    When A rolls back its SIMs are in stock again."""
    stock(db, 10)
    c = customer(db, admin)
    holding, release = threading.Event(), threading.Event()
    got_a: list[int] = []

    def workstation_a():
        with pytest.raises(RuntimeError):
            with db.transaction() as session:
                got_a.extend(p.id for p in inv.allocate(db, admin, "SIM Card", 5, customer_id=c.id, session=session))
                holding.set()
                release.wait(10)
                raise RuntimeError("customer walked out")

    a = threading.Thread(target=workstation_a)
    a.start()
    assert holding.wait(10)
    started = time.perf_counter()
    got_b = [p.id for p in inv.allocate(db, admin, "SIM Card", 5, customer_id=c.id)]
    waited = time.perf_counter() - started
    release.set()
    a.join(10)
    assert not set(got_a) & set(got_b) and len(got_a) == len(got_b) == 5
    assert waited < 2, "B must not wait for A's locks"
    assert states(db) == Counter({"new": 5, "assigned": 5})
    assert {i.id for i in inv.list_items(db, admin, state="new")} == set(got_a)


def test_twenty_workstations_taking_ten_each_from_150_never_share_a_sim(db, admin):
    """The acceptance test: exactly 150 SIMs go out, none twice, the other requests are told 'out of stock'."""
    stock(db, 150)
    c = customer(db, admin)
    many = Database(db.url, pool_size=20)
    barrier = threading.Barrier(20)
    results: list[list[int]] = []
    refusals: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def workstation():
        try:
            barrier.wait(10)
            picked = inv.allocate(many, admin, "SIM Card", 10, customer_id=c.id)
            with lock:
                results.append([p.id for p in picked])
        except inv.OutOfStock as exc:
            with lock:
                refusals.append(str(exc))
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=workstation) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    many.dispose()
    assert not errors, errors
    taken = [i for r in results for i in r]
    assert len(results) == 15 and len(taken) == 150 and len(set(taken)) == 150
    assert len(refusals) == 5 and all(r.startswith("Out of stock: none SIM Card in stock, 10 asked for") for r in refusals)
    assert states(db) == Counter({"assigned": 150})
    with db.engine.connect() as conn:
        history = conn.execute(text(
            "SELECT count(*) FROM inventory_item_history WHERE from_state = 'new' AND to_state = 'assigned'")).scalar_one()
    assert history == 150


def test_release_after_a_committed_pick_returns_items_to_the_state_they_came_from(db, admin):
    new_ids, used_ids = stock(db, 1), stock(db, 1, state="used")
    c = customer(db, admin)
    picked = [p.id for p in inv.allocate(db, admin, "SIM Card", 2, customer_id=c.id)]
    assert sorted(picked) == sorted(new_ids + used_ids)
    back = {v.id: v.item_state for v in inv.release(db, admin, picked, reason="provisioning rolled back")}
    assert back == {new_ids[0]: "new", used_ids[0]: "used"}
    assert "Released SIM Card" in cs.list_activity(db, admin, c.id)[0].summary
    with pytest.raises(ServiceError, match="not Assigned; there is nothing to release"):
        inv.release(db, admin, picked)


@pytest.mark.parametrize("a_commits", [False, True])
def test_when_stock_is_short_a_picker_waits_for_the_others_before_refusing(db, admin, a_commits):
    """10 in stock, A holds 5 uncommitted, B asks for 8: B is not refused while A might still give its 5
    back. If A rolls back B gets its 8; if A commits B is told only 5 are in stock."""
    stock(db, 10)
    c = customer(db, admin)
    holding, finish = threading.Event(), threading.Event()

    def workstation_a():
        try:
            with db.transaction() as session:
                inv.allocate(db, admin, "SIM Card", 5, customer_id=c.id, session=session)
                holding.set()
                finish.wait(10)
                if not a_commits:
                    raise RuntimeError("rolled back")
        except RuntimeError:
            pass

    outcome: list = []

    def workstation_b():
        try:
            outcome.append(len(inv.allocate(db, admin, "SIM Card", 8, customer_id=c.id)))
        except inv.OutOfStock as exc:
            outcome.append(str(exc))

    a = threading.Thread(target=workstation_a)
    a.start()
    assert holding.wait(10)
    b = threading.Thread(target=workstation_b)
    b.start()
    time.sleep(0.5)
    assert outcome == [], "B must wait for A rather than refuse while A's items may come back"
    finish.set()
    a.join(10)
    b.join(10)
    if a_commits:
        assert outcome == ["Out of stock: only 5 SIM Card in stock, 8 asked for; nothing was taken."]
        assert states(db) == Counter({"assigned": 5, "new": 5})
    else:
        assert outcome == [8]
        assert states(db) == Counter({"assigned": 8, "new": 2})

"""Shared setup for the provisioning tests: products on the real playbooks/, stock, a fake OCS/HSS."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from omnidesk.catalog import service as catalog
from omnidesk.customers import service as cs
from omnidesk.inventory import rules as irules
from omnidesk.inventory import service as inv
from omnidesk.provisioning import service as prov

PLAYBOOKS = Path(__file__).resolve().parents[1] / "playbooks"
_n = [0]


def iccid(n: int) -> str:
    body = f"8944{n:015d}"
    return next(body + d for d in "0123456789" if irules.luhn_ok(body + d))


def point_at(db, admin, fake) -> None:
    prov.set_setting(db, admin, "ocs.cgrates", f"{fake.url}/jsonrpc")
    prov.set_setting(db, admin, "hss.url", fake.url)


def customer(db, admin, name="Ann Lee", kind="individual"):
    c = cs.create_customer(db, admin, name=name, account_type=kind)
    return cs.change_status(db, admin, c.id, "active")


def sim(db, admin):
    _n[0] += 1
    n = _n[0]
    return inv.create_item(db, admin, "SIM Card", itemtext1=iccid(n), itemtext2=f"23415{n:010d}")


def number(db, admin):
    _n[0] += 1
    return inv.create_item(db, admin, "Mobile Number", itemtext1=f"+4477009{_n[0]:05d}", itemtext2="London")


def mobile_product(db, admin, plays=PLAYBOOKS, **overrides):
    values = dict(name="Mobile 20GB", category="standalone", service_type="mobile", retail_cost="15.00",
                  wholesale_cost="5.00", retail_setup_cost="10.00", wholesale_setup_cost="2.00", tax_percentage="10",
                  contract_days=30, auto_renew="false", provisioning_play="play_mobile_sim",
                  provisioning_json_vars={"data_gb": 20}, inventory_types=["SIM Card"], icon="fa-solid fa-sim-card")
    values.update(overrides)
    return catalog.create_product(db, admin, playbooks_dir=plays, **values)


def refuse_voice_balance(fake) -> None:
    """The OCS refuses the voice balance (task 4 of play_mobile_sim) and lets the data balance through."""
    original = fake._rpc

    def refuse_voice(method, params):
        if method == "ApierV1.AddBalance" and params.get("BalanceType") == "*voice":
            return None, "INSUFFICIENT_CREDIT"
        return original(method, params)

    fake._rpc = refuse_voice


def table_counts(db) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("service", "billing_transaction", "provisioning_job")}


def item_state(db, item_id: int) -> tuple[str, int | None, int | None]:
    with db.engine.connect() as conn:
        return tuple(conn.execute(text("SELECT item_state, customer_id, service_id FROM inventory_item WHERE id = :i"),
                                  {"i": item_id}).one())


def new_children_left(before: set[int], wait: float = 5.0) -> list[tuple[int, str]]:
    """Child processes started since `before` that are still running after up to `wait` seconds."""
    import time

    import psutil

    deadline = time.monotonic() + wait
    while True:
        left = []
        for p in psutil.Process().children(recursive=True):
            try:
                if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE:
                    left.append((p.pid, " ".join(p.cmdline())[:120]))
            except psutil.NoSuchProcess:
                pass
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


@pytest.fixture(autouse=True)
def no_process_left_behind():
    """Import it into a test module: each test there ends with no process of its own still running."""
    import psutil

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    assert new_children_left(before) == []


@pytest.fixture
def ocs(db, admin):
    """A loopback CGRateS/HSS the provisioning settings point at."""
    from tests.ocs_fake import FakeOcs

    fake = FakeOcs().start()
    point_at(db, admin, fake)
    yield fake
    fake.stop()

"""Provisioning with the real ansible-runner, the real playbooks/ and a loopback CGRateS/HSS:
success applies exactly what the playbook reported, failure and cancel and timeout leave nothing
half-made, and bad orders are refused with a clear message."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text

from omnidesk.catalog import services as svc
from omnidesk.provisioning import service as prov
from tests.ocs_fake import FakeOcs
from tests.provision_helpers import customer, item_state, mobile_product, point_at, sim, table_counts


@pytest.fixture
def ocs():
    fake = FakeOcs().start()
    yield fake
    fake.stop()


@pytest.fixture
def mobile(db, admin, ocs):
    point_at(db, admin, ocs)
    return mobile_product(db, admin)


def test_a_successful_run_creates_exactly_the_reported_service_assignment_and_charges(db, admin, ocs, mobile):
    c = customer(db, admin)
    card = sim(db, admin)
    before = table_counts(db)
    job = prov.request_provision(db, admin, c.id, mobile.id, inventory_items={"SIM Card": card.id})
    assert job.status == "queued" and item_state(db, card.id) == ("assigned", c.id, None)
    seen = []
    done = prov.run_job_now(db, admin, job.id, hooks=prov.Hooks(on_event=[seen.append]))
    assert done.status == "success", done.error
    after = table_counts(db)
    assert after["service"] == before["service"] + 1
    assert after["billing_transaction"] == before["billing_transaction"] + 2
    service = svc.get_service(db, admin, done.service_id)
    assert service.status == "active" and service.service_uuid == job.service_uuid
    assert item_state(db, card.id) == ("assigned", c.id, service.id)
    with db.engine.connect() as conn:
        charges = conn.execute(text("SELECT title, retail_cost, tax_amount, service_id FROM billing_transaction "
                                    "WHERE customer_id = :c ORDER BY id"), {"c": c.id}).all()
    assert [(t, a, tax, sid) for t, a, tax, sid in charges] == [
        ("Mobile 20GB - Setup", Decimal("10.00"), Decimal("1.00"), service.id),
        ("Mobile 20GB - first month", Decimal("15.00"), Decimal("1.50"), service.id),
    ]
    assert ocs.accounts[job.service_uuid]["balances"].keys() == {"DATA_Monthly", "VOICE_Monthly"}
    assert ocs.accounts[job.service_uuid]["balances"]["DATA_Monthly"]["Value"] == 20 * 1073741824
    assert card.itemtexts[1] in ocs.subscribers
    # Each task reached the hooks as it ran (running, then its outcome), and the database has one row per task.
    assert [e.status for e in seen if e.name == "Create the OCS account (ApierV2.SetAccount)"] == [1, 0]
    events = prov.get_job(db, admin, job.id).events
    assert [e.name for e in events if not e.output.get("skipped")][:3] == [
        "Check the variables OmniDesk passes", "Create the OCS account (ApierV2.SetAccount)",
        "Add the data balance (ApierV1.AddBalance)"]
    assert all(e.status == 0 for e in events)


def test_a_run_failing_at_its_fourth_task_rolls_back_and_keeps_only_the_failed_job(db, admin, ocs, mobile):
    c = customer(db, admin)
    card = sim(db, admin)
    before = table_counts(db)
    # Task 4 is the voice balance: let the data balance through and refuse the voice one.
    original = ocs._rpc

    def refuse_voice(method, params):
        if method == "ApierV1.AddBalance" and params.get("BalanceType") == "*voice":
            return None, "INSUFFICIENT_CREDIT"
        return original(method, params)

    ocs._rpc = refuse_voice
    job = prov.request_provision(db, admin, c.id, mobile.id, inventory_items={"SIM Card": card.id})
    done = prov.run_job_now(db, admin, job.id)
    assert done.status == "failed"
    assert "Add the voice balance" in done.error
    after = table_counts(db)
    assert (after["service"], after["billing_transaction"]) == (before["service"], before["billing_transaction"])
    assert item_state(db, card.id) == ("new", None, None)
    assert ocs.accounts == {}, "the rescue removed the OCS account"
    ran = [e for e in done.events if not e.output.get("skipped")]
    assert [(e.name, e.status) for e in ran[:4]] == [
        ("Check the variables OmniDesk passes", 0), ("Create the OCS account (ApierV2.SetAccount)", 0),
        ("Add the data balance (ApierV1.AddBalance)", 0), ("Add the voice balance (ApierV1.AddBalance)", 2)]
    rollback = [e.name for e in ran[4:]]
    assert "Remove the OCS account (ApierV1.RemoveAccount)" in rollback
    assert rollback[-1] == "Provisioning failed and was rolled back"
    assert "ApierV1.RemoveAccount" in ocs.methods()


def test_a_playbook_that_cannot_reach_the_ocs_fails_with_the_reason_and_makes_nothing(db, admin, ocs, mobile):
    prov.set_setting(db, admin, "ocs.cgrates", "http://127.0.0.1:9/jsonrpc")  # nothing listens on port 9
    c = customer(db, admin)
    card = sim(db, admin)
    before = table_counts(db)
    done = prov.run_job_now(db, admin, prov.request_provision(db, admin, c.id, mobile.id,
                                                              inventory_items={"SIM Card": card.id}).id)
    assert done.status == "failed"
    assert "Create the OCS account" in done.error and "refused" in done.error.lower()
    assert table_counts(db)["service"] == before["service"]
    assert item_state(db, card.id) == ("new", None, None)


def test_failure_mail_goes_to_the_failure_list_through_the_outbox(db, admin, ocs, mobile):
    prov.set_setting(db, admin, "provisioning.failure_list", "noc@example.com, ops@example.com")
    ocs.fail["ApierV2.SetAccount"] = "SERVER_ERROR"
    c = customer(db, admin)
    done = prov.run_job_now(db, admin, prov.request_provision(db, admin, c.id, mobile.id,
                                                              inventory_items={"SIM Card": sim(db, admin).id}).id)
    assert done.status == "failed"
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT template, recipients, variables FROM email_outbox")).all()
    assert len(rows) == 1
    template, recipients, variables = rows[0]
    assert template == "provisioning_failure"
    assert [r["Email"] for r in recipients] == ["noc@example.com", "ops@example.com"]
    assert variables["job_id"] == done.id and "SERVER_ERROR" in variables["error"]

"""The example playbooks of playbooks/ end to end: bundle, data top-up, add-on with auto-renew and
CPE configuration, each provisioned and cleaned up against the loopback CGRateS/HSS."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text

from omnidesk.catalog import service as catalog
from omnidesk.catalog import services as svc
from omnidesk.inventory import service as inv
from omnidesk.provisioning import service as prov
from tests.provision_helpers import (  # noqa: F401 — fixtures: every process ended, a loopback OCS/HSS
    PLAYBOOKS, customer, item_state, mobile_product, no_process_left_behind, number, ocs, sim,
)


def _charges(db, customer_id):
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT title, retail_cost, service_id FROM billing_transaction WHERE customer_id = :c "
                                 "ORDER BY id"), {"c": customer_id}).all()


def _mobile_service(db, admin, c):
    product = mobile_product(db, admin)
    done = prov.run_job_now(db, admin, prov.request_provision(db, admin, c.id, product.id,
                                                              inventory_items={"SIM Card": sim(db, admin).id}).id)
    assert done.status == "success", done.error
    return done


def test_bundle_makes_an_internet_service_with_a_voice_child_and_deprovision_ends_both(db, admin, ocs):
    product = catalog.create_product(
        db, admin, playbooks_dir=PLAYBOOKS, name="Home Bundle", category="bundle", service_type="fixed",
        retail_cost="45.00", retail_setup_cost="60.00", tax_percentage="0", provisioning_play="play_bundle_internet_voice",
        inventory_types=["GPON ONT", "Mobile Number"], auto_renew="false")
    c = customer(db, admin)
    ont = inv.create_item(db, admin, "GPON ONT", itemtext1="ALCL0001", itemtext2="AA:BB:CC:00:00:01")
    num = number(db, admin)
    done = prov.run_job_now(db, admin, prov.request_provision(
        db, admin, c.id, product.id, inventory_items={"GPON ONT": ont.id, "Mobile Number": num.id}).id)
    assert done.status == "success", done.error
    services = svc.list_services(db, admin, customer_id=c.id)
    parent = next(s for s in services if s.id == done.service_id)
    child = next(s for s in services if s.id != done.service_id)
    assert parent.name == "Home Bundle - Internet (ALCL0001)" and child.bundled_parent_id == parent.id
    assert child.service_type == "voice" and child.service_uuid == f"{done.service_uuid}_voice"
    assert set(ocs.accounts) == {done.service_uuid, f"{done.service_uuid}_voice"}
    assert [(t, a, sid) for t, a, sid in _charges(db, c.id)] == [
        ("Home Bundle - Setup", Decimal("60.00"), parent.id), ("Home Bundle - first month", Decimal("45.00"), parent.id)]
    assert item_state(db, ont.id) == ("assigned", c.id, parent.id)
    dep = prov.run_job_now(db, admin, prov.request_deprovision(db, admin, parent.id).id)
    assert dep.status == "success", dep.error
    assert {s.status for s in svc.list_services(db, admin, customer_id=c.id)} == {"deactivated"}
    assert ocs.accounts == {}
    # The number goes back to stock; the ONT is returnable hardware and waits to be sent back.
    assert item_state(db, num.id) == ("used", None, None)
    assert item_state(db, ont.id) == ("assigned", c.id, parent.id)


def test_a_data_top_up_adds_the_balance_moves_the_expiry_on_and_charges_once(db, admin, ocs):
    c = customer(db, admin)
    base = _mobile_service(db, admin, c)
    before = svc.get_service(db, admin, base.service_id).deactivate_date
    topup = catalog.create_product(db, admin, playbooks_dir=PLAYBOOKS, name="5GB Top-up", category="addon",
                                   service_type="mobile", retail_cost="5.00", provisioning_play="play_data_topup",
                                   provisioning_json_vars={"data_gb": 5, "days": 30}, auto_renew="false")
    with pytest.raises(Exception, match="choose the service to add it to"):
        prov.request_provision(db, admin, c.id, topup.id)
    done = prov.run_job_now(db, admin, prov.request_provision(db, admin, c.id, topup.id, service_id=base.service_id).id)
    assert done.status == "success", done.error
    balance = ocs.accounts[base.service_uuid]["balances"][f"Topup_{done.id}_Data__{5 * 1073741824}"]
    assert balance["Value"] == 5 * 1073741824 and balance["ExpiryTime"] == "+720h"
    after = svc.get_service(db, admin, base.service_id).deactivate_date
    assert after - before >= dt.timedelta(days=29, hours=23)
    assert _charges(db, c.id)[-1][:2] == ("5GB Top-up", Decimal("5.00"))
    assert len(svc.list_services(db, admin, customer_id=c.id)) == 1


@pytest.mark.parametrize("renew", [True, False])
def test_an_add_on_sets_up_or_removes_its_monthly_renewal_plan(db, admin, ocs, renew):
    c = customer(db, admin)
    base = _mobile_service(db, admin, c)
    boost = catalog.create_product(db, admin, playbooks_dir=PLAYBOOKS, name="Data Boost", slug="data-boost",
                                   category="addon", service_type="mobile", retail_cost="5.00",
                                   provisioning_play="play_addon_autorenew", provisioning_json_vars={"data_gb": 5, "days": 7},
                                   auto_renew="prompt")
    done = prov.run_job_now(db, admin, prov.request_provision(db, admin, c.id, boost.id, service_id=base.service_id,
                                                              auto_renew=renew).id)
    assert done.status == "success", done.error
    plan_id = f"ActionPlan_Monthly_{base.service_uuid}_{boost.id}"
    assert ocs.accounts[base.service_uuid]["balances"][f"Boost_{done.id}_Data__{5 * 1073741824}"]["Weight"] == 20
    if renew:
        assert ocs.action_plans[plan_id]["ActionPlan"][0]["ActionsId"] == "Action_data-boost"
        assert ocs.accounts[base.service_uuid]["ActionPlanIds"] == [plan_id]
        assert done.effects["ocs"]["action_plan"] == plan_id
    else:
        assert plan_id not in ocs.action_plans and "ApierV1.RemoveActionPlan" in ocs.methods()


def test_an_add_on_failing_in_the_ocs_removes_its_balance_and_charges_nothing(db, admin, ocs):
    c = customer(db, admin)
    base = _mobile_service(db, admin, c)
    charges = len(_charges(db, c.id))
    boost = catalog.create_product(db, admin, playbooks_dir=PLAYBOOKS, name="Data Boost", category="addon",
                                   service_type="mobile", retail_cost="5.00", provisioning_play="play_addon_autorenew",
                                   auto_renew="true")
    ocs.fail["ApierV1.SetActionPlan"] = "SERVER_ERROR"
    done = prov.run_job_now(db, admin, prov.request_provision(db, admin, c.id, boost.id, service_id=base.service_id).id)
    assert done.status == "failed" and "SERVER_ERROR" in done.error
    assert not [b for b in ocs.accounts[base.service_uuid]["balances"] if b.startswith(f"Boost_{done.id}_")]
    assert len(_charges(db, c.id)) == charges


def test_cpe_configuration_records_hostname_and_ssid_and_keeps_the_password_out_of_the_log(db, admin, ocs):
    product = catalog.create_product(db, admin, playbooks_dir=PLAYBOOKS, name="Fixed Wireless 50", category="standalone",
                                     service_type="fixed", retail_cost="39.00", retail_setup_cost="99.00",
                                     provisioning_play="play_cpe_config", inventory_types=["Fixed Wireless CPE"],
                                     auto_renew="false")
    c = customer(db, admin)
    cpe = inv.create_item(db, admin, "Fixed Wireless CPE", itemtext1="AA:BB:CC:DD:EE:01", itemtext2="SN0001")
    done = prov.run_job_now(db, admin, prov.request_provision(db, admin, c.id, product.id,
                                                              inventory_items={"Fixed Wireless CPE": cpe.id}).id)
    assert done.status == "success", done.error
    item = inv.get_item(db, admin, cpe.id)
    assert item.itemtexts[5:7] == (f"CPE_{cpe.id}", f"Network_{cpe.id}")
    assert "SN0001" in ocs.subscribers
    with db.engine.connect() as conn:
        log = conn.execute(text("SELECT string_agg(output::text, '') FROM provisioning_event")).scalar_one()
    assert "password=" not in log and "wpa2-pre-shared-key" not in log
    dep = prov.run_job_now(db, admin, prov.request_deprovision(db, admin, done.service_id).id)
    assert dep.status == "success" and ocs.subscribers == {}

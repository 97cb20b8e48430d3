"""A service's OCS balances read from CGRateS (the loopback fake speaks its JSON-RPC): the balance-ID
naming rule, the units and the remaining colours of DECISIONS.md, and clear refusals."""

from __future__ import annotations

from decimal import Decimal

import httpx
import psutil
import pytest

from omnidesk.errors import NotFound
from omnidesk.provisioning import ocs as ocs_balances
from omnidesk.provisioning import service as prov
from tests.ocs_fake import FakeOcs
from tests.provision_helpers import customer, mobile_product, point_at, sim, new_children_left


@pytest.fixture(autouse=True)
def no_process_left_behind():
    """Every test here ends with no process of its own still running (workers, ansible, sleeps)."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    assert new_children_left(before) == []


def test_balance_ids_units_and_colours_follow_the_decisions():
    assert ocs_balances.balance_label("AU_Data_Domestic__107374182400", "*data") == (
        "AU Data Domestic - 100 GB", Decimal(107374182400))
    assert ocs_balances.balance_label("AU_Voice_Domestic__1800000000000000", "*voice")[0] == \
        "AU Voice Domestic - 30,000 minutes"
    assert ocs_balances.balance_label("Initial Balance", "*monetary") == ("Initial Balance", None)
    assert ocs_balances.amount_text("*data", Decimal(5368709120 // 2)) == "2.50 GB"
    assert ocs_balances.amount_text("*sms", Decimal(50)) == "50 SMS"
    assert [ocs_balances.remaining_colour(Decimal(v), Decimal(100)) for v in (51, 50, 20, 19)] == [
        "green", "yellow", "yellow", "red"]
    assert ocs_balances.remaining_colour(Decimal(5), None) is None


def test_a_provisioned_service_shows_its_balances_from_cgrates(db, admin):
    fake = FakeOcs().start()
    try:
        point_at(db, admin, fake)
        c = customer(db, admin)
        done = prov.run_job_now(db, admin, prov.request_provision(
            db, admin, c.id, mobile_product(db, admin).id, inventory_items={"SIM Card": sim(db, admin).id}).id)
        assert done.status == "success", done.error
        data_id = f"Mobile_Data__{20 * 1073741824}"
        fake.accounts[done.service_uuid]["balances"][data_id]["Value"] = 3 * 1073741824  # 17 GB used
        balances = ocs_balances.service_balances(db, admin, done.service_id)
        by_type = {b.balance_type: b for b in balances}
        assert by_type["*data"].label == "Mobile Data - 20 GB"
        assert by_type["*data"].remaining == "3 GB remaining" and by_type["*data"].colour == "red"
        assert by_type["*voice"].label == "Mobile Voice - 100 minutes"
        assert by_type["*voice"].remaining == "100 minutes remaining" and by_type["*voice"].colour == "green"
        assert by_type["*data"].expires is not None
    finally:
        fake.stop()


def test_an_unreachable_or_refusing_ocs_is_a_clear_error(db, admin):
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": 1, "result": None, "error": "NOT_FOUND"})

    client = ocs_balances.OcsClient("http://ocs.invalid/jsonrpc", "t", transport=httpx.MockTransport(refuse))
    with pytest.raises(ocs_balances.OcsError, match="The OCS refused ApierV2.GetAccount: NOT_FOUND."):
        client.balances("Service_x")
    client = ocs_balances.OcsClient("http://127.0.0.1:9/jsonrpc", "t")
    with pytest.raises(ocs_balances.OcsError, match="could not be reached"):
        client.balances("Service_x")
    with pytest.raises(NotFound):
        ocs_balances.service_balances(db, admin, 12345)

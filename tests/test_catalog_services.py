"""Services: created from products with their inventory, the editable/read-only split, statuses,
what happens to the inventory when a service ends, badges and upcoming auto-renewals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from omnidesk.catalog import rules
from omnidesk.catalog import service as catalog
from omnidesk.catalog import services as svc
from omnidesk.customers import service as cs
from omnidesk.errors import ConcurrentChange, NotFound, ServiceError, ValidationError
from omnidesk.inventory import rules as irules
from omnidesk.inventory import service as inv

UTC = dt.timezone.utc
STATUSES = tuple(rules.SERVICE_TRANSITIONS)


def iccid(n: int) -> str:
    body = f"8944{n:015d}"
    return next(body + d for d in "0123456789" if irules.luhn_ok(body + d))


@pytest.fixture
def plays(tmp_path):
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "play_local_mobile_sim.yaml").write_text("- hosts: localhost\n")
    return folder


def mobile_plan(db, admin, plays, **overrides):
    values = dict(name="Prepaid Mobile 20GB", category="standalone", service_type="mobile", retail_cost="15.00",
                  wholesale_cost="5.00", contract_days=30, auto_renew="prompt", provisioning_play="play_local_mobile_sim",
                  provisioning_json_vars={"days": 30, "data_gb": 20}, inventory_types=["SIM Card", "Mobile Number"],
                  icon="fa-solid fa-sim-card")
    values.update(overrides)
    return catalog.create_product(db, admin, playbooks_dir=plays, **values)


def customer(db, admin, name="Ann Lee", kind="individual"):
    c = cs.create_customer(db, admin, name=name, account_type=kind)
    return cs.change_status(db, admin, c.id, "active")


def stock_sim_and_number(db, admin, n=1):
    sim = inv.create_item(db, admin, "SIM Card", itemtext1=iccid(n), itemtext2=f"23415{n:010d}")
    number = inv.create_item(db, admin, "Mobile Number", itemtext1=f"+4477009{n:05d}", itemtext2="London")
    return sim, number


def counts(db) -> dict[str, int]:
    with db.engine.connect() as conn:
        out = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
               for t in ("service", "activity_log", "inventory_item_history")}
        out["assigned"] = conn.execute(text("SELECT count(*) FROM inventory_item WHERE item_state = 'assigned'")).scalar_one()
    return out


def new_service(db, admin, plays, *, auto_renew=True, n=1, **kw):
    product = kw.pop("product", None)
    if product is None:
        try:
            product = catalog.get_product(db, admin, "prepaid-mobile-20gb")
        except NotFound:
            product = mobile_plan(db, admin, plays)
    c = kw.pop("customer", None) or customer(db, admin)
    sim, number = stock_sim_and_number(db, admin, n)
    return svc.create_service(db, admin, c.id, product.id, inventory_items={"SIM Card": sim.id, "Mobile Number": number.id},
                              auto_renew=auto_renew, **kw)


# --- creating ---


def test_a_service_is_created_from_its_product_with_the_chosen_inventory_assigned(db, admin, plays):
    product = mobile_plan(db, admin, plays)
    c = customer(db, admin)
    site = cs.add_site(db, admin, c.id, name="Home", country="GB")
    sim, number = stock_sim_and_number(db, admin)
    start = dt.datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    s = svc.create_service(db, admin, c.id, product.id, site_id=site.id, active_date=start, auto_renew=True,
                           inventory_items={"SIM Card": sim.id, "Mobile Number": number.id})
    assert (s.name, s.product_name, s.customer_name, s.service_type, s.status, s.site_id) == (
        "Prepaid Mobile 20GB", "Prepaid Mobile 20GB", "Ann Lee", "mobile", "active", site.id)
    assert (s.retail_cost, s.wholesale_cost, s.icon, s.auto_renew) == (Decimal("15.00"), Decimal("5.00"), "fa-solid fa-sim-card", True)
    assert s.active_date == start and s.deactivate_date == s.contract_end_date == start + dt.timedelta(days=30)
    assert s.provisioning_play == "play_local_mobile_sim" and s.provisioning_json_vars == {"days": 30, "data_gb": 20}
    assert (s.billed, s.taxable, s.invoiced, s.visible_to_customer, s.usage_visible_to_customer) == (True, True, False, True, True)
    assert [p.id for p in s.inventory] == [sim.id, number.id]
    for item_id in (sim.id, number.id):
        item = inv.get_item(db, admin, item_id)
        assert (item.item_state, item.customer_id, item.service_id) == ("assigned", c.id, s.id)
    assert cs.list_activity(db, admin, c.id)[0].summary == "Added service Prepaid Mobile 20GB (Prepaid Mobile 20GB), renewing automatically"
    assert cs.get_customer(db, admin, c.id).live_services == 1


def test_missing_inventory_is_refused_unless_picking_from_stock_is_asked_for(db, admin, plays):
    product = mobile_plan(db, admin, plays)
    c = customer(db, admin)
    sim, number = stock_sim_and_number(db, admin)
    before = counts(db)
    with pytest.raises(ValidationError, match="Choose a Mobile Number for Prepaid Mobile 20GB"):
        svc.create_service(db, admin, c.id, product.id, auto_renew=False, inventory_items={"SIM Card": sim.id})
    with pytest.raises(ValidationError, match="does not need 'Modem Router'"):
        svc.create_service(db, admin, c.id, product.id, auto_renew=False,
                           inventory_items={"SIM Card": sim.id, "Mobile Number": number.id, "Modem Router": 1})
    with pytest.raises(ValidationError, match=f"Item {number.id} is a Mobile Number, not a SIM Card"):
        svc.create_service(db, admin, c.id, product.id, auto_renew=False,
                           inventory_items={"SIM Card": number.id, "Mobile Number": number.id})
    assert counts(db) == before
    s = svc.create_service(db, admin, c.id, product.id, auto_renew=False, inventory_items={"SIM Card": sim.id}, pick_missing=True)
    assert [p.id for p in s.inventory] == [sim.id, number.id]


def test_a_failure_while_picking_leaves_no_service_and_every_item_in_stock(db, admin, plays):
    product = mobile_plan(db, admin, plays)
    c = customer(db, admin)
    sim, _number = stock_sim_and_number(db, admin)
    inv.change_state(db, admin, _number.id, "out_of_service")  # the only number is not in stock
    before = counts(db)
    with pytest.raises(inv.OutOfStock, match="none Mobile Number in stock"):
        svc.create_service(db, admin, c.id, product.id, auto_renew=False, inventory_items={"SIM Card": sim.id}, pick_missing=True)
    assert counts(db) == before and inv.get_item(db, admin, sim.id).item_state == "new"


def test_the_products_auto_renew_setting_decides_what_the_order_may_choose(db, admin, plays):
    c = customer(db, admin)
    prompt = mobile_plan(db, admin, plays, inventory_types=[])
    with pytest.raises(ValidationError, match="asks whether to renew automatically: answer yes or no"):
        svc.create_service(db, admin, c.id, prompt.id)
    always = mobile_plan(db, admin, plays, name="Always", slug="always", inventory_types=[], auto_renew="true", allow_auto_renew=False)
    assert svc.create_service(db, admin, c.id, always.id).auto_renew is True
    with pytest.raises(ValidationError, match="always renews automatically"):
        svc.create_service(db, admin, c.id, always.id, auto_renew=False)
    never = mobile_plan(db, admin, plays, name="Never", slug="never", inventory_types=[], auto_renew="false", allow_auto_renew=True)
    assert svc.create_service(db, admin, c.id, never.id).auto_renew is False
    assert svc.create_service(db, admin, c.id, never.id, auto_renew=True).auto_renew is True


@pytest.mark.parametrize("change,message", [
    (dict(category="addon"), "is an addon product: add it to an existing service"),
    (dict(enabled=False), "is not available to order now"),
    (dict(available_until=dt.datetime(2025, 1, 1, tzinfo=UTC)), "is not available to order now"),
    (dict(residential=False, business=True), "is not offered to individual customers"),
])
def test_products_that_cannot_be_ordered_are_refused_and_nothing_is_created(db, admin, plays, change, message):
    product = mobile_plan(db, admin, plays, inventory_types=[])
    catalog.update_product(db, admin, product.id, playbooks_dir=plays, **change)
    c = customer(db, admin)
    before = counts(db)
    with pytest.raises(ServiceError, match=message):
        svc.create_service(db, admin, c.id, product.id, auto_renew=False)
    assert counts(db) == before


def test_self_purchase_of_a_staff_only_product_is_refused_and_sites_must_be_the_customers(db, admin, plays):
    product = mobile_plan(db, admin, plays, inventory_types=[], customer_can_purchase=False)
    ann, bob = customer(db, admin), customer(db, admin, "Bob")
    with pytest.raises(ServiceError, match="can only be ordered by staff"):
        svc.create_service(db, admin, ann.id, product.id, auto_renew=False, self_purchase=True)
    bobs = cs.add_site(db, admin, bob.id, name="Bob's flat", country="GB")
    with pytest.raises(ValidationError, match="belongs to another customer"):
        svc.create_service(db, admin, ann.id, product.id, auto_renew=False, site_id=bobs.id)


# --- editing ---


def test_editable_fields_change_and_are_logged(db, admin, plays):
    s = new_service(db, admin, plays)
    end = dt.datetime(2027, 1, 1, tzinfo=UTC)
    edited = svc.update_service(db, admin, s.id, expected_version=s.version, service_name="Mobile - +447700900001",
                                notes="VIP", retail_cost="12.50", deactivate_date=end, billed=False, promo_code="WELCOME",
                                visible_to_customer=False)
    assert (edited.name, edited.notes, edited.retail_cost, edited.deactivate_date, edited.billed, edited.promo_code,
            edited.visible_to_customer) == ("Mobile - +447700900001", "VIP", Decimal("12.50"), end, False, "WELCOME", False)
    entry = cs.list_activity(db, admin, s.customer_id)[0]
    assert entry.summary == "Edited service Mobile - +447700900001" and entry.changes["retail_cost"] == ["15.00", "12.50"]
    with pytest.raises(ConcurrentChange):
        svc.update_service(db, admin, s.id, expected_version=s.version, notes="stale")


@pytest.mark.parametrize("field,value,reason", [
    ("service_uuid", "Mobile_SIM_c2880638", "Service UUID is read-only: it is set by provisioning"),
    ("customer_id", 2, "Customer is read-only: a service stays with the customer it was created for"),
    ("product_id", 2, "Product is read-only"),
    ("invoiced", True, "Invoiced is read-only: billing sets it"),
    ("provisioning_play", "play_x", "Provisioning play is read-only: it is copied from the product"),
    ("provisioning_json_vars", {}, "Provisioning variables is read-only"),
    ("deprovisioning_play", "x", "Deprovisioning play is read-only"),
    ("bundled_parent", 1, "Bundled parent is read-only"),
    ("service_provisioned_date", dt.datetime(2020, 1, 1, tzinfo=UTC), "Provisioned date is read-only"),
    ("created_at", dt.datetime(2020, 1, 1, tzinfo=UTC), "Created is read-only"),
])
def test_an_edit_of_a_read_only_field_is_refused_naming_it_and_nothing_changes(db, admin, plays, field, value, reason):
    s = new_service(db, admin, plays)
    before = counts(db)
    with pytest.raises(ValidationError) as refused:
        svc.update_service(db, admin, s.id, notes="also this", **{field: value})
    assert reason in " ".join(refused.value.errors.values())
    after = svc.get_service(db, admin, s.id)
    assert after.notes == "" and after.version == s.version and counts(db) == before


def test_the_database_keeps_a_services_customer_product_and_uuid(db, admin, plays):
    s = new_service(db, admin, plays)
    svc.record_service_uuid(db, admin, s.id, "Local_Mobile_SIM_a3f2c1d8")
    other = customer(db, admin, "Bob")
    for sql, message in [
        (f"UPDATE service SET customer_id = {other.id} WHERE id = :i", "cannot move to another customer"),
        ("UPDATE service SET product_id = NULL WHERE id = :i", "cannot change its product"),
        ("UPDATE service SET service_uuid = 'other' WHERE id = :i", "keeps its OCS account id Local_Mobile_SIM_a3f2c1d8"),
        ("UPDATE service SET status = 'pending_cancellation' WHERE id = :i", None),
        ("UPDATE service SET status = 'suspended' WHERE id = :i", "A pending cancellation service cannot become suspended"),
    ]:
        if message is None:
            with db.engine.begin() as conn:
                conn.execute(text(sql), {"i": s.id})
            continue
        with pytest.raises(DBAPIError, match=message):
            with db.engine.begin() as conn:
                conn.execute(text(sql), {"i": s.id})
    with pytest.raises(ServiceError, match="already has the OCS account Local_Mobile_SIM_a3f2c1d8"):
        svc.record_service_uuid(db, admin, s.id, "Other_1")


def test_an_item_cannot_belong_to_a_service_of_another_customer_in_the_database(db, admin, plays):
    s = new_service(db, admin, plays)
    other = customer(db, admin, "Bob")
    item = inv.create_item(db, admin, "SIM Card", itemtext1=iccid(50))
    with pytest.raises(DBAPIError, match="fk_inventory_item_service_customer"):
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE inventory_item SET item_state = 'assigned', customer_id = :c, service_id = :s WHERE id = :i"),
                         {"c": other.id, "s": s.id, "i": item.id})


# --- statuses ---


def service_in(db, admin, plays, status: str, *, product, n: int):
    """A service brought to `status` through the allowed path, for its own customer and stock."""
    path = {"active": [], "suspended": ["suspended"], "inactive": ["inactive"],
            "pending_cancellation": ["pending_cancellation"], "deactivated": ["deactivated"]}
    s = new_service(db, admin, plays, product=product, n=n, customer=customer(db, admin, f"Customer {n}"))
    for step in path[status]:
        s = svc.change_service_status(db, admin, s.id, step)
    return s


@pytest.mark.parametrize("current", STATUSES)
def test_every_service_status_transition_is_allowed_or_refused_as_specified(db, admin, plays, current):
    product = mobile_plan(db, admin, plays)
    for n, target in enumerate(STATUSES, start=1):
        s = service_in(db, admin, plays, current, product=product, n=n)
        if target in rules.SERVICE_TRANSITIONS[current]:
            after = svc.change_service_status(db, admin, s.id, target, reason="requested")
            assert after.status == target
            summary = cs.list_activity(db, admin, s.customer_id)[0].summary
            assert summary.startswith(f"Status {rules.STATUS_LABELS[current]} → {rules.STATUS_LABELS[target]}")
            assert summary.endswith(": requested")
        else:
            before = counts(db)
            with pytest.raises(ServiceError) as refused:
                svc.change_service_status(db, admin, s.id, target)
            assert rules.STATUS_LABELS[current] in str(refused.value)
            assert svc.get_service(db, admin, s.id).status == current and counts(db) == before


def test_suspend_and_resume_keep_the_inventory_and_auto_renew(db, admin, plays):
    s = new_service(db, admin, plays)
    svc.change_service_status(db, admin, s.id, "suspended", reason="non-payment")
    back = svc.change_service_status(db, admin, s.id, "active")
    assert back.auto_renew and len(back.inventory) == 2
    assert cs.list_activity(db, admin, s.customer_id)[1].summary == "Status Active → Suspended: non-payment"


def test_cancelling_stops_auto_renew_and_can_be_reversed_during_the_grace(db, admin, plays):
    s = new_service(db, admin, plays)
    pending = svc.change_service_status(db, admin, s.id, "pending_cancellation", reason="customer asked")
    assert pending.auto_renew is False and len(pending.inventory) == 2
    assert svc.change_service_status(db, admin, s.id, "active").status == "active"


def test_deactivation_returns_sims_and_numbers_to_stock_and_waits_for_hardware(db, admin, plays):
    product = mobile_plan(db, admin, plays, name="Fixed Wireless 50", slug="fw50", service_type="fixed",
                          inventory_types=["Fixed Wireless CPE", "Mobile Number"])
    c = customer(db, admin)
    cpe = inv.create_item(db, admin, "Fixed Wireless CPE", itemtext1="AA:BB:CC:DD:EE:FF", itemtext2="FW2024-12345")
    number = inv.create_item(db, admin, "Mobile Number", itemtext1="+61412345678")
    s = svc.create_service(db, admin, c.id, product.id, auto_renew=True,
                           inventory_items={"Fixed Wireless CPE": cpe.id, "Mobile Number": number.id})
    now = dt.datetime.now(UTC)
    ended = svc.change_service_status(db, admin, s.id, "deactivated", reason="moved abroad", now=now)
    assert ended.status == "deactivated" and ended.auto_renew is False and ended.deactivate_date == now
    assert "1 item back to stock; 1 device to be returned within 14 days: moved abroad" in cs.list_activity(db, admin, c.id)[0].summary
    n = inv.get_item(db, admin, number.id)
    assert (n.item_state, n.customer_id, n.service_id) == ("used", None, None)
    box = inv.get_item(db, admin, cpe.id)
    assert box.item_state == "assigned" and box.customer_id == c.id
    assert box.return_due_at == now + dt.timedelta(days=14)
    assert cs.get_customer(db, admin, c.id).live_services == 0
    # not back in 14 days: lost (the customer link kept for the audit); a late return brings it back as Used
    assert inv.mark_overdue_returns_lost(db, admin, now=now + dt.timedelta(days=13)) == []
    assert inv.mark_overdue_returns_lost(db, admin, now=now + dt.timedelta(days=15)) == [cpe.id]
    lost = inv.get_item(db, admin, cpe.id)
    assert (lost.item_state, lost.customer_id, lost.return_due_at) == ("lost", c.id, None)
    assert "not returned within 14 days: marked Lost" in cs.list_activity(db, admin, c.id)[0].summary
    returned = inv.return_item(db, admin, cpe.id)
    assert (returned.item_state, returned.customer_id) == ("used", None)


def test_a_device_returned_in_time_goes_back_to_stock_or_to_repair(db, admin, plays):
    product = mobile_plan(db, admin, plays, name="GPON 100", slug="gpon", service_type="fixed", inventory_types=["GPON ONT"])
    c = customer(db, admin)
    ont = inv.create_item(db, admin, "GPON ONT", itemtext1="ALCL12345678")
    s = svc.create_service(db, admin, c.id, product.id, auto_renew=False, inventory_items={"GPON ONT": ont.id})
    svc.change_service_status(db, admin, s.id, "inactive")
    back = inv.return_item(db, admin, ont.id, condition="damaged")
    assert (back.item_state, back.customer_id, back.return_due_at) == ("damaged", None, None)
    assert inv.mark_overdue_returns_lost(db, admin, now=dt.datetime.now(UTC) + dt.timedelta(days=30)) == []


def test_a_service_brought_back_keeps_its_device_and_it_is_no_longer_due_back(db, admin, plays):
    product = mobile_plan(db, admin, plays, name="GPON 100", slug="gpon", service_type="fixed", inventory_types=["GPON ONT"])
    c = customer(db, admin)
    ont = inv.create_item(db, admin, "GPON ONT", itemtext1="ALCL00000077")
    s = svc.create_service(db, admin, c.id, product.id, auto_renew=False, inventory_items={"GPON ONT": ont.id})
    svc.change_service_status(db, admin, s.id, "inactive", reason="expired")
    assert inv.get_item(db, admin, ont.id).return_due_at is not None
    back = svc.change_service_status(db, admin, s.id, "active", reason="renewed late")
    assert [p.id for p in back.inventory] == [ont.id] and inv.get_item(db, admin, ont.id).return_due_at is None
    assert inv.mark_overdue_returns_lost(db, admin, now=dt.datetime.now(UTC) + dt.timedelta(days=30)) == []


def test_linked_inventory_can_be_added_and_taken_off_a_service(db, admin, plays):
    s = new_service(db, admin, plays)
    spare = inv.create_item(db, admin, "SIM Card", itemtext1=iccid(77))
    assert spare.id in [p.id for p in svc.link_inventory(db, admin, s.id, spare.id).inventory]
    after = svc.unlink_inventory(db, admin, s.id, spare.id, to_state="used", reason="replaced")
    assert spare.id not in [p.id for p in after.inventory]
    assert inv.get_item(db, admin, spare.id).item_state == "used"
    with pytest.raises(NotFound, match="is not linked to Service"):
        svc.unlink_inventory(db, admin, s.id, spare.id)


# --- badges, renewals, lists ---


def test_badges_show_status_auto_renew_expiring_soon_and_overdue():
    now = dt.datetime(2026, 3, 1, tzinfo=UTC)
    texts = lambda *a, **k: [b.text for b in rules.service_badges(*a, **k)]  # noqa: E731
    assert texts("active", now + dt.timedelta(days=7), False, now) == ["Active", "Expiring Soon"]
    assert texts("active", now + dt.timedelta(days=8), True, now) == ["Active", "Auto-Renew"]
    assert texts("suspended", now + dt.timedelta(days=1), False, now, Decimal("12.00")) == ["Suspended", "Expiring Soon", "Overdue"]
    assert texts("deactivated", now + dt.timedelta(days=1), False, now) == ["Deactivated"]
    assert texts("active", now - dt.timedelta(days=1), False, now) == ["Active"]
    assert rules.service_badges("suspended", None, False, now)[0].colour == "orange"


def test_a_service_ending_within_seven_days_is_expiring_soon(db, admin, plays):
    s = new_service(db, admin, plays, auto_renew=False)
    now = dt.datetime.now(UTC)
    svc.update_service(db, admin, s.id, deactivate_date=now + dt.timedelta(days=6))
    other = new_service(db, admin, plays, auto_renew=False, n=2, customer=customer(db, admin, "Bob"))
    svc.update_service(db, admin, other.id, deactivate_date=now + dt.timedelta(days=9))
    soon = svc.get_service(db, admin, s.id)
    assert soon.expiring_soon() and "Expiring Soon" in [b.text for b in soon.badges()]
    assert not svc.get_service(db, admin, other.id).expiring_soon()
    assert [x.id for x in svc.expiring_services(db, admin)] == [s.id]


def test_upcoming_auto_renewals_are_listed_soonest_first_with_product_and_cost(db, admin, plays):
    now = dt.datetime(2026, 3, 1, 10, 45, tzinfo=UTC)
    a = new_service(db, admin, plays, active_date=now - dt.timedelta(days=28))          # renews in 2 days
    b = new_service(db, admin, plays, n=2, customer=customer(db, admin, "Acme Corp"),
                    active_date=now - dt.timedelta(days=30) + dt.timedelta(hours=3))  # renews in 3 hours
    c = new_service(db, admin, plays, n=3, customer=customer(db, admin, "Cat"), auto_renew=False,
                    active_date=now - dt.timedelta(days=29))                            # does not renew
    legacy_customer = customer(db, admin, "Dee")
    with db.engine.begin() as conn:  # a service recorded before the catalog: no product
        legacy = conn.execute(text(
            "INSERT INTO service (customer_id, name, auto_renew, deactivate_date) VALUES (:c, 'FixedWireless_75628fa5', true, :d) RETURNING id"),
            {"c": legacy_customer.id, "d": now + dt.timedelta(days=10)}).scalar_one()
    rows = svc.upcoming_auto_renewals(db, admin, within_days=30, now=now)
    assert [r.service_id for r in rows] == [b.id, a.id, legacy]
    first = rows[0]
    assert (first.customer_name, first.product_name, first.cost, first.status) == ("Acme Corp", "Prepaid Mobile 20GB", Decimal("15.00"), "active")
    assert first.renews_in(now) == "3 hours from now" and rows[1].renews_in(now) == "2 days from now"
    assert (rows[2].product_name, rows[2].cost) == ("N/A", None)
    assert c.id not in [r.service_id for r in rows]
    removed = svc.remove_auto_renew(db, admin, a.id)
    assert removed.auto_renew is False and removed.status == "active" and removed.deactivate_date == a.deactivate_date
    assert cs.list_activity(db, admin, a.customer_id)[0].summary.startswith("Removed auto-renew from service Prepaid Mobile 20GB; it ends")
    assert [r.service_id for r in svc.upcoming_auto_renewals(db, admin, within_days=30, now=now)] == [b.id, legacy]
    with pytest.raises(ServiceError, match="does not renew automatically"):
        svc.remove_auto_renew(db, admin, a.id)


def test_turning_auto_renew_back_on_respects_the_product(db, admin, plays):
    product = mobile_plan(db, admin, plays, inventory_types=[], auto_renew="false", allow_auto_renew=False)
    c = customer(db, admin)
    s = svc.create_service(db, admin, c.id, product.id)
    with pytest.raises(ValidationError, match="does not renew automatically"):
        svc.update_service(db, admin, s.id, auto_renew=True)


def test_services_are_listed_and_searched(db, admin, plays):
    a = new_service(db, admin, plays)
    b = new_service(db, admin, plays, n=2, customer=customer(db, admin, "Acme Corp"))
    svc.change_service_status(db, admin, b.id, "suspended")
    svc.record_service_uuid(db, admin, a.id, "Mobile_SIM_c2880638")
    assert [s.id for s in svc.list_services(db, admin)] == [b.id, a.id]
    assert [s.id for s in svc.list_services(db, admin, status="Suspended")] == [b.id]
    assert [s.id for s in svc.list_services(db, admin, search="acme")] == [b.id]
    assert [s.id for s in svc.list_services(db, admin, search="c2880638")] == [a.id]
    assert [s.id for s in svc.list_services(db, admin, customer_id=a.customer_id)] == [a.id]


def test_addons_offered_to_a_service_match_its_type_dependencies_and_customer(db, admin, plays):
    s = new_service(db, admin, plays)
    boost = catalog.create_product(db, admin, name="5GB Data Boost", category="addon", service_type="mobile", retail_cost="5")
    tied = catalog.create_product(db, admin, name="Roaming Pack", category="addon", service_type="mobile", relies_on=[str(s.product_id)])
    catalog.create_product(db, admin, name="Static IP", category="addon", service_type="fixed")
    catalog.create_product(db, admin, name="Business Boost", category="addon", service_type="mobile", residential=False, business=True)
    catalog.create_product(db, admin, name="Old Boost", category="addon", service_type="mobile", enabled=False)
    with pytest.raises(ValidationError, match="no product 999999 to rely on"):
        catalog.create_product(db, admin, name="Broken", category="addon", service_type="mobile", relies_on=["999999"])
    assert sorted(p.name for p in catalog.addons_for_service(db, admin, s.id)) == sorted([boost.name, tied.name])

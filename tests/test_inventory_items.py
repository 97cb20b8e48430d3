"""Inventory templates and items against the real embedded PostgreSQL: fields, states, history, passwords."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from omnidesk.auth import Actor
from omnidesk.customers import service as cs
from omnidesk.errors import ConcurrentChange, NotFound, PermissionDenied, ServiceError, ValidationError
from omnidesk.inventory import rules
from omnidesk.inventory import service as inv

ICCID = "89440000000000000016"  # 20 digits, Luhn-valid


def luhn_complete(body: str) -> str:
    """body + the check digit that makes it pass Luhn."""
    for d in "0123456789":
        if rules.luhn_ok(body + d):
            return body + d
    raise AssertionError


def iccid(n: int) -> str:
    return luhn_complete(f"8944{n:015d}")


def counts(db) -> dict[str, int]:
    tables = ("inventory_template", "inventory_item", "inventory_item_history", "activity_log", "service")
    with db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}


def active_customer(db, admin, name="Acme Ltd", **kw):
    c = cs.create_customer(db, admin, name=name, **kw)
    return cs.change_status(db, admin, c.id, "active")


def sim(db, admin, n=1, **kw):
    return inv.create_item(db, admin, "SIM Card", itemtext1=iccid(n), itemtext2=f"23415{n:010d}", itemtext3="Physical", **kw)


# --- templates ---


def test_the_four_example_templates_of_the_source_are_there_with_their_costs_and_labels(db, admin):
    templates = {t.name: t for t in inv.list_templates(db, admin)}
    assert set(templates) == {"SIM Card", "Mobile Number", "Fixed Wireless CPE", "GPON ONT"}
    simc = templates["SIM Card"]
    assert (simc.wholesale_cost, simc.retail_cost) == (Decimal("2.50"), Decimal("10.00"))
    assert simc.labels[:4] == ("ICCID", "IMSI", "SIM Type", None)
    assert templates["Fixed Wireless CPE"].labels[:5] == ("MAC Address", "Serial Number", "Firmware Version", "Manufacturer", "Model")
    assert templates["GPON ONT"].labels[:4] == ("Serial Number", "MAC Address", "PON Location", "Model")
    assert (templates["Mobile Number"].wholesale_cost, templates["Mobile Number"].retail_cost) == (Decimal("1.00"), Decimal("0.00"))
    assert templates["Fixed Wireless CPE"].returnable and not simc.returnable


def test_a_template_without_labels_gets_model_number_and_serial_number(db, admin):
    t = inv.create_template(db, admin, name="Modem Router", wholesale_cost="30", retail_cost="80")
    assert t.labels[:3] == ("Model Number", "Serial Number", None)
    assert t.allow_dropdown_staff and not t.allow_dropdown_customer


def test_template_names_are_case_sensitive_and_unique(db, admin):
    inv.create_template(db, admin, name="sim card", wholesale_cost="1", retail_cost="1")  # a different template
    with pytest.raises(ValidationError, match="already an inventory template named 'SIM Card'"):
        inv.create_template(db, admin, name="SIM Card", wholesale_cost="1", retail_cost="1")
    with pytest.raises(NotFound, match="case-sensitive — did you mean 'Mobile Number'"):
        inv.get_template(db, admin, "mobile number")


def test_bad_template_input_names_each_field_and_changes_nothing(db, admin):
    before = counts(db)
    with pytest.raises(ValidationError) as refused:
        inv.create_template(db, admin, name=" ", wholesale_cost="-1", retail_cost="abc", labels={25: "x"})
    assert "labels" in refused.value.errors
    with pytest.raises(ValidationError) as refused:
        inv.create_template(db, admin, name=" ", wholesale_cost="-1", retail_cost="abc")
    assert set(refused.value.errors) == {"name", "wholesale_cost", "retail_cost"}
    with pytest.raises(ValidationError, match="Item Text 4 has no label"):
        inv.create_template(db, admin, name="Thing", wholesale_cost="1", retail_cost="1", unique_fields=[4])
    assert counts(db) == before


def test_relabelling_keeps_item_data_and_shows_it_under_the_new_label(db, admin):
    item = sim(db, admin)
    t = inv.get_template(db, admin, "SIM Card")
    inv.update_template(db, admin, t.id, labels=["ICCID", "IMSI", "Form Factor"])
    again = inv.get_item(db, admin, item.id)
    assert again.itemtexts[2] == "Physical" and again.identifiers[2] == ("Form Factor", "Physical")


def test_a_template_edit_from_a_stale_form_is_refused(db, admin):
    t = inv.create_template(db, admin, name="Router", wholesale_cost="1", retail_cost="2")
    inv.update_template(db, admin, t.id, expected_version=t.version, icon="fa-solid fa-wifi")
    with pytest.raises(ConcurrentChange):
        inv.update_template(db, admin, t.id, expected_version=t.version, icon="fa-solid fa-box")


def test_a_template_in_use_cannot_be_removed_and_the_reason_is_given(db, admin):
    sim(db, admin)
    t = inv.get_template(db, admin, "SIM Card")
    with pytest.raises(ServiceError, match="1 item use it"):
        inv.delete_template(db, admin, t.id)
    spare = inv.create_template(db, admin, name="Spare", wholesale_cost="1", retail_cost="1")
    inv.delete_template(db, admin, spare.id)
    assert "Spare" not in {x.name for x in inv.list_templates(db, admin)}


def test_making_a_field_an_identifier_is_refused_while_items_share_a_value(db, admin):
    t = inv.create_template(db, admin, name="Router", wholesale_cost="1", retail_cost="2")
    inv.create_item(db, admin, "Router", itemtext1="RB4011", itemtext2="S1")
    inv.create_item(db, admin, "Router", itemtext1="RB4011", itemtext2="S2")
    with pytest.raises(ValidationError, match="several Router items share RB4011"):
        inv.update_template(db, admin, t.id, unique_fields=[1])
    assert inv.update_template(db, admin, t.id, unique_fields=[2]).unique_fields == (2,)



# --- items ---


def test_a_new_item_takes_the_template_costs_and_starts_new_with_a_history_row(db, admin):
    item = sim(db, admin)
    assert item.template_name == "SIM Card" and item.item_state == "new"
    assert (item.wholesale_cost, item.retail_cost) == (Decimal("2.50"), Decimal("10.00"))
    assert item.identifiers[:2] == (("ICCID", iccid(1)), ("IMSI", "234150000000001"))
    assert [(h.from_state, h.to_state, h.actor_name) for h in inv.item_history(db, admin, item.id)] == [(None, "new", "admin")]
    own = inv.create_item(db, admin, "SIM Card", itemtext1=iccid(2), wholesale_cost="2.00", retail_cost="12.50")
    assert (own.wholesale_cost, own.retail_cost) == (Decimal("2.00"), Decimal("12.50"))


def test_every_field_of_the_source_is_kept(db, admin):
    item = inv.create_item(
        db, admin, "GPON ONT", itemtext1="ALCL12345678", itemtext2="aa-bb-cc-dd-ee-ff", itemtext3="OLT-1, PON 3, ONT 42",
        itemtext4="Nokia G-010G-A", item_location="Customer Premises", address_line_1="456 Fiber Lane", city="Melbourne",
        state="VIC", postcode="3000", country="au", google_maps_place_id="ChIJ1234567890", latitude="-37.8136",
        longitude="144.9631", management_url="https://192.168.1.1", management_username="admin",
        management_password="s3cret!", config_content="# ONT Configuration\nwlan-ssid: HomeNetwork",
        config_file_path="/configs/ont/alcl12345678.conf", notes="Optical power: -22dBm",
    )
    got = inv.get_item(db, admin, item.id)
    assert got.itemtexts[:4] == ("ALCL12345678", "AA:BB:CC:DD:EE:FF", "OLT-1, PON 3, ONT 42", "Nokia G-010G-A")
    assert (got.address_line_1, got.city, got.state, got.postcode, got.country) == ("456 Fiber Lane", "Melbourne", "VIC", "3000", "AU")
    assert (got.latitude, got.longitude) == (Decimal("-37.813600"), Decimal("144.963100"))
    assert got.plus_code and got.plus_code.startswith("4RJ")
    assert got.management_url_is_link and got.has_management_password and got.management_username == "admin"
    assert got.config_content.startswith("# ONT") and got.config_file_path.endswith(".conf") and got.notes
    assert got.created_at and got.updated_at and got.sold_date is None


def test_an_item_without_itemtext1_is_refused_naming_the_label(db, admin):
    before = counts(db)
    with pytest.raises(ValidationError) as refused:
        inv.create_item(db, admin, "SIM Card", itemtext1=" ", itemtext2="12")
    assert refused.value.errors == {"itemtext1": "ICCID is required.", "itemtext2": "IMSI '12' must be 14 or 15 digits (MCC, MNC and MSIN)."}
    assert counts(db) == before


@pytest.mark.parametrize("value,message", [
    ("89440000000000000017", "fails its Luhn check"),
    ("8944000000000", "18 to 22 digits"),
    ("12440000000000000016", "must start with 89"),
    ("8944000000000000001X", "18 to 22 digits"),
])
def test_an_iccid_is_checked_for_length_prefix_and_luhn_digit(db, admin, value, message):
    with pytest.raises(ValidationError, match=message):
        inv.create_item(db, admin, "SIM Card", itemtext1=value)


def test_an_identifier_already_in_the_template_is_refused_by_field(db, admin):
    first = sim(db, admin)
    before = counts(db)
    with pytest.raises(ValidationError) as refused:
        inv.create_item(db, admin, "SIM Card", itemtext1=iccid(1), itemtext2="234159999999999")
    assert refused.value.errors == {"itemtext1": f"SIM Card ICCID {iccid(1)} is already used by item {first.id}."}
    # the same value in another template is fine: uniqueness is per template
    inv.create_template(db, admin, name="Test SIM", wholesale_cost="0", retail_cost="0", labels=["ICCID", "IMSI"], unique_fields=[1])
    inv.create_item(db, admin, "Test SIM", itemtext1=iccid(1))
    assert counts(db)["inventory_item"] == before["inventory_item"] + 1


def test_the_database_itself_refuses_a_duplicate_identifier(db, admin):
    first = sim(db, admin)
    with pytest.raises(DBAPIError, match=f"SIM Card IMSI 234150000000001 is already used by inventory item {first.id}"):
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO inventory_item (template_id, itemtext1, itemtext2, wholesale_cost, retail_cost) "
                "SELECT id, '89440000000000000099', '234150000000001', 1, 1 FROM inventory_template WHERE name = 'SIM Card'"))


def test_the_database_refuses_an_edit_that_duplicates_an_identifier(db, admin):
    first, second = sim(db, admin, 1), sim(db, admin, 2)
    with pytest.raises(DBAPIError, match=f"SIM Card ICCID {iccid(1)} is already used by inventory item {first.id}"):
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE inventory_item SET itemtext1 = :v WHERE id = :i"), {"v": iccid(1), "i": second.id})
    with pytest.raises(ValidationError, match=f"already used by item {first.id}"):
        inv.update_item(db, admin, second.id, itemtext1=iccid(1))
    assert inv.update_item(db, admin, second.id, itemtext3="eSIM").itemtexts[2] == "eSIM"


def test_management_passwords_are_stored_encrypted_and_bound_to_their_item(db, admin):
    a = inv.create_item(db, admin, "Fixed Wireless CPE", itemtext1="AA:BB:CC:DD:EE:01", itemtext2="FW-1",
                        management_url="https://192.168.100.1", management_password="Pointing45deg!")
    b = inv.create_item(db, admin, "Fixed Wireless CPE", itemtext1="AA:BB:CC:DD:EE:02", itemtext2="FW-2")
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT management_password_enc FROM inventory_item WHERE id = :i"), {"i": a.id}).scalar_one()
        dump = conn.execute(text("SELECT string_agg(t::text, ' ') FROM inventory_item t")).scalar_one()
    assert b"Pointing45deg" not in bytes(stored) and "Pointing45deg" not in dump
    assert inv.reveal_management_password(db, admin, a.id) == "Pointing45deg!"
    assert inv.reveal_management_password(db, admin, b.id) is None
    # a ciphertext copied onto another item does not decrypt there
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE inventory_item SET management_password_enc = :p WHERE id = :i"), {"p": stored, "i": b.id})
    with pytest.raises(ServiceError, match="cannot be decrypted"):
        inv.reveal_management_password(db, admin, b.id)
    # plaintext cannot be written by mistake
    with pytest.raises(DBAPIError, match="ck_inventory_item_password_ciphertext"):
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE inventory_item SET management_password_enc = 'hunter2'::bytea WHERE id = :i"), {"i": a.id})


def test_revealing_a_password_is_logged_and_needs_update_inventory(db, admin):
    customer = active_customer(db, admin)
    cpe = inv.create_item(db, admin, "Fixed Wireless CPE", itemtext1="AA:BB:CC:DD:EE:03", itemtext2="FW-3", management_password="pw")
    inv.assign_item(db, admin, cpe.id, customer.id)
    inv.reveal_management_password(db, admin, cpe.id)
    assert cs.list_activity(db, admin, customer.id)[0].summary.startswith("Revealed the management password of Fixed Wireless CPE")
    viewer = Actor(user_id=None, username="viewer", permissions=frozenset({"view_inventory"}))
    with pytest.raises(PermissionDenied, match="update_inventory"):
        inv.reveal_management_password(db, viewer, cpe.id)
    assert inv.get_item(db, viewer, cpe.id).has_management_password


def test_changing_or_removing_a_password_is_logged_without_the_password(db, admin):
    customer = active_customer(db, admin)
    cpe = inv.create_item(db, admin, "Fixed Wireless CPE", itemtext1="AA:BB:CC:DD:EE:04", itemtext2="FW-4", management_password="old")
    inv.assign_item(db, admin, cpe.id, customer.id)
    inv.update_item(db, admin, cpe.id, management_password="new-secret")
    entry = cs.list_activity(db, admin, customer.id)[0]
    assert entry.changes == {"management_password": ["(hidden)", "(changed)"]} and "new-secret" not in str(entry)
    assert inv.reveal_management_password(db, admin, cpe.id) == "new-secret"
    assert not inv.update_item(db, admin, cpe.id, management_password=None).has_management_password


def test_management_urls_are_web_addresses_or_esim_activation_strings(db, admin):
    esim = inv.create_item(db, admin, "SIM Card", itemtext1=iccid(7), itemtext3="eSIM",
                           management_url="LPA:1$smdp.example.com$ACTIVATION-CODE-ABC123XYZ")
    assert esim.management_url.startswith("LPA:1$") and not esim.management_url_is_link
    with pytest.raises(ValidationError, match="web address"):
        inv.create_item(db, admin, "SIM Card", itemtext1=iccid(8), management_url="ftp://x")


def test_item_edits_from_a_stale_form_and_edits_of_state_or_owner_are_refused(db, admin):
    item = sim(db, admin)
    inv.update_item(db, admin, item.id, expected_version=item.version, item_location="Store 2")
    with pytest.raises(ConcurrentChange):
        inv.update_item(db, admin, item.id, expected_version=item.version, item_location="Store 3")
    with pytest.raises(ValidationError, match="use change_state"):
        inv.update_item(db, admin, item.id, item_state="lost")
    with pytest.raises(ValidationError, match="assign_item"):
        inv.update_item(db, admin, item.id, customer_id=1)
    assert inv.get_item(db, admin, item.id).item_location == "Store 2"


# --- states ---


def item_in(db, admin, state: str, n: int):
    """A SIM in `state`: created so, or (assigned) picked for a customer."""
    if state == "assigned":
        customer = active_customer(db, admin, name=f"Customer {n}")
        item = sim(db, admin, n)
        return inv.assign_item(db, admin, item.id, customer.id)
    return sim(db, admin, n, item_state=state)


def test_every_state_transition_is_allowed_or_refused_as_specified_and_recorded(db, admin):
    n = 0
    for current in rules.ITEM_STATES:
        for target in rules.ITEM_STATES:
            n += 1
            item = item_in(db, admin, current, n)
            allowed = (current, target) in rules.ALLOWED_PAIRS and target != "assigned"
            if allowed:
                after = inv.change_state(db, admin, item.id, target, reason="audit")
                assert after.item_state == target
                last = inv.item_history(db, admin, item.id)[-1]
                assert (last.from_state, last.to_state, last.actor_name, last.reason) == (current, target, "admin", "audit")
                if target in rules.STOCK_STATES:
                    assert after.customer_id is None and after.service_id is None
            else:
                before = counts(db)
                with pytest.raises(ServiceError) as refused:
                    inv.change_state(db, admin, item.id, target)
                message = str(refused.value)
                assert rules.state_label(current) in message and (rules.state_label(target) in message or target == "assigned")
                assert inv.get_item(db, admin, item.id).item_state == current
                assert counts(db) == before


def test_the_source_transitions_are_all_allowed(db, admin):
    source = [("new", "assigned"), ("assigned", "used"), ("new", "internal_use"), ("assigned", "damaged"),
              ("damaged", "new"), ("used", "new")] + [(s, t) for s in rules.ITEM_STATES for t in ("lost", "stolen") if s != t]
    assert set(source) <= rules.ALLOWED_PAIRS
    assert ("internal_use", "damaged") not in rules.ALLOWED_PAIRS


def test_the_database_itself_refuses_a_forbidden_transition_and_records_allowed_ones(db, admin):
    item = sim(db, admin, item_state="internal_use")
    with pytest.raises(DBAPIError, match="An item in state Internal Use cannot become Damaged"):
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE inventory_item SET item_state = 'damaged' WHERE id = :i"), {"i": item.id})
    with db.engine.begin() as conn:
        conn.execute(text("SELECT set_config('omnidesk.actor', 'script', true)"))
        conn.execute(text("UPDATE inventory_item SET item_state = 'used' WHERE id = :i"), {"i": item.id})
    last = inv.item_history(db, admin, item.id)[-1]
    assert (last.from_state, last.to_state, last.actor_name) == ("internal_use", "used", "script")


def test_history_cannot_be_rewritten(db, admin):
    item = sim(db, admin)
    with pytest.raises(DBAPIError, match="append-only"):
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM inventory_item_history WHERE item_id = :i"), {"i": item.id})


def test_stock_cannot_be_linked_to_a_customer_in_the_database(db, admin):
    customer = active_customer(db, admin)
    item = sim(db, admin)
    with pytest.raises(DBAPIError, match="ck_inventory_item_stock_is_unassigned"):
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE inventory_item SET customer_id = :c WHERE id = :i"), {"c": customer.id, "i": item.id})


def test_assigning_stamps_the_sold_date_and_logs_it_for_the_customer(db, admin):
    customer = active_customer(db, admin)
    item = sim(db, admin)
    assigned = inv.assign_item(db, admin, item.id, customer.id)
    assert assigned.item_state == "assigned" and assigned.customer_id == customer.id and assigned.sold_date is not None
    assert cs.list_activity(db, admin, customer.id)[0].summary == f"Assigned SIM Card {iccid(1)} (item {item.id})"
    with pytest.raises(ServiceError, match="is not in stock \\(it is Assigned to customer"):
        inv.assign_item(db, admin, item.id, customer.id)
    back = inv.change_state(db, admin, item.id, "used", reason="customer left")
    assert back.sold_date is None and back.customer_id is None


def test_an_archived_or_closed_customer_cannot_receive_stock(db, admin):
    customer = active_customer(db, admin)
    cs.change_status(db, admin, customer.id, "closed")
    item = sim(db, admin)
    with pytest.raises(ServiceError, match="is closed; only pending or active"):
        inv.assign_item(db, admin, item.id, customer.id)
    assert inv.get_item(db, admin, item.id).item_state == "new"


def test_a_viewer_cannot_change_inventory(db, admin):
    item = sim(db, admin)
    viewer = Actor(user_id=None, username="viewer", permissions=frozenset({"view_inventory"}))
    with pytest.raises(PermissionDenied):
        inv.change_state(db, viewer, item.id, "lost")
    with pytest.raises(PermissionDenied):
        inv.create_item(db, viewer, "SIM Card", itemtext1=iccid(3))


# --- lists and search ---


def test_items_are_found_by_the_start_of_any_identifier_or_their_id_and_filtered(db, admin):
    customer = active_customer(db, admin)
    a, b = sim(db, admin, 1), sim(db, admin, 2)
    number = inv.create_item(db, admin, "Mobile Number", itemtext1="+61412345678", itemtext2="Melbourne", item_location="Australia - VIC")
    inv.assign_item(db, admin, b.id, customer.id)
    assert [r.id for r in inv.list_items(db, admin, search=iccid(1)[:19])] == [a.id]
    assert {r.id for r in inv.list_items(db, admin, search="23415")} == {a.id, b.id}
    assert [r.id for r in inv.list_items(db, admin, search="+614123")] == [number.id]
    assert [r.id for r in inv.list_items(db, admin, search=f"#{number.id}")] == [number.id]
    assert [r.id for r in inv.list_items(db, admin, template="SIM Card", assigned=False)] == [a.id]
    row = inv.list_items(db, admin, assigned=True)[0]
    assert (row.id, row.customer_name, row.item_state) == (b.id, "Acme Ltd", "assigned")
    assert [r.id for r in inv.list_items(db, admin, state="New", location="Australia - VIC")] == [number.id]
    assert inv.count_items(db, admin, template="SIM Card") == 2
    with pytest.raises(ValidationError, match="Item state must be one of"):
        inv.list_items(db, admin, state="Broken")


def test_the_picker_offers_only_unassigned_new_or_used_items_of_exactly_that_template(db, admin):
    customer = active_customer(db, admin)
    a, b, c = sim(db, admin, 1), sim(db, admin, 2, item_state="used"), sim(db, admin, 3, item_state="damaged")
    d = sim(db, admin, 4)
    inv.assign_item(db, admin, d.id, customer.id)
    inv.create_template(db, admin, name="sim card", wholesale_cost="0", retail_cost="0")
    assert [r.id for r in inv.available_items(db, admin, "SIM Card")] == [a.id, b.id]
    assert inv.available_items(db, admin, "sim card") == []
    assert c.item_state == "damaged"


def test_a_search_lists_matches_once_in_identifier_order_and_its_count_can_be_capped(db, admin):
    for n in (3, 1, 2):
        sim(db, admin, n)
    inv.create_template(db, admin, name="Router", wholesale_cost="1", retail_cost="1")
    router = inv.create_item(db, admin, "Router", itemtext1="RB-100", itemtext2="RB-100-S")  # matches "RB" twice
    assert [r.itemtext1 for r in inv.list_items(db, admin, search="8944")] == [iccid(1), iccid(2), iccid(3)]
    assert [r.itemtext1 for r in inv.list_items(db, admin, search="8944", offset=1, limit=1)] == [iccid(2)]
    assert [r.id for r in inv.list_items(db, admin, search="RB")] == [router.id]
    assert inv.count_items(db, admin, search="8944") == 3 and inv.count_items(db, admin, search="RB") == 1
    assert inv.count_items(db, admin, search="8944", cap=2) == 3  # cap + 1: "more than 2"
    assert inv.count_items(db, admin, template="SIM Card", state="new") == 3


def _pairs_in_function(db, name: str) -> set[tuple[str, str]]:
    import re

    with db.engine.connect() as conn:
        source = conn.execute(text("SELECT pg_get_functiondef(CAST(:f AS regproc))"), {"f": name}).scalar_one()
    allowed = source.split("NOT IN (", 1)[1].split(") THEN", 1)[0]  # the (from, to) list of the transition check
    return set(re.findall(r"\('([a-z_]+)', '([a-z_]+)'\)", allowed))


def test_the_database_and_python_agree_on_the_item_and_service_state_machines(db):
    from omnidesk.catalog import rules as catalog_rules

    assert _pairs_in_function(db, "omnidesk_inventory_item_before_write") == set(rules.ALLOWED_PAIRS)
    service_pairs = {(a, b) for a, targets in catalog_rules.SERVICE_TRANSITIONS.items() for b in targets}
    assert _pairs_in_function(db, "omnidesk_service_before_update") == service_pairs

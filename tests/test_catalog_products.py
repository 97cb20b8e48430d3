"""Products: every field of the source, validation on save, clone, and who may order what."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from omnidesk.catalog import rules
from omnidesk.catalog import service as catalog
from omnidesk.customers import service as cs
from omnidesk.errors import ConcurrentChange, NotFound, PermissionDenied, ServiceError, ValidationError
from omnidesk.inventory import service as inv

UTC = dt.timezone.utc


@pytest.fixture
def plays(tmp_path):
    folder = tmp_path / "playbooks"
    folder.mkdir()
    for name in ("play_local_mobile_sim", "play_topup_charge_then_action", "play_addon_assign_modem"):
        (folder / f"{name}.yaml").write_text("- hosts: localhost\n  tasks: []\n")
    return folder


def prepaid_20gb(db, admin, plays, **overrides):
    """The source's "Prepaid Mobile 20GB" (seed 003 L21694-21744)."""
    values = dict(
        name="Prepaid Mobile 20GB", slug="prepaid-mobile-20gb", category="standalone", service_type="mobile",
        icon="fa-solid fa-sim-card", comment="Entry plan", retail_cost="15.00", wholesale_cost="5.00",
        retail_setup_cost="0.00", wholesale_setup_cost="1.00", tax_percentage="10", contract_days=30,
        residential=True, business=False, customer_can_purchase=True, enabled=True,
        available_from=dt.datetime(2025, 1, 1, tzinfo=UTC), auto_renew="prompt", allow_auto_renew=True,
        features="20GB High-Speed Data. Unlimited Calls & Texts. EU Roaming Included",
        terms="Must be activated within 6 months.\nAll credit lost if unused for 12 months.",
        provisioning_play="play_local_mobile_sim",
        provisioning_json_vars='{"days":30,"data_gb":20,"voice_minutes":"unlimited","sms_count":"unlimited"}',
        inventory_types="['SIM Card', 'Mobile Number']",
    )
    values.update(overrides)
    return catalog.create_product(db, admin, playbooks_dir=plays, **values)


def count_products(db) -> tuple[int, int, int]:
    with db.engine.connect() as conn:
        return tuple(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                     for t in ("product", "product_inventory_type", "activity_log"))


def test_a_product_keeps_every_field_of_the_source(db, admin, plays):
    p = prepaid_20gb(db, admin, plays)
    got = catalog.get_product(db, admin, p.id)
    assert (got.name, got.slug, got.category, got.service_type, got.icon, got.comment) == (
        "Prepaid Mobile 20GB", "prepaid-mobile-20gb", "standalone", "mobile", "fa-solid fa-sim-card", "Entry plan")
    assert (got.retail_cost, got.wholesale_cost, got.retail_setup_cost, got.wholesale_setup_cost, got.tax_percentage) == (
        Decimal("15.00"), Decimal("5.00"), Decimal("0.00"), Decimal("1.00"), Decimal("10.000"))
    assert (got.contract_days, got.residential, got.business, got.customer_can_purchase, got.enabled) == (30, True, False, True, True)
    assert (got.auto_renew, got.auto_renew_label, got.allow_auto_renew) == ("prompt", "Prompt", True)
    assert got.available_from == dt.datetime(2025, 1, 1, tzinfo=UTC) and got.available_until is None
    assert got.features == ("20GB High-Speed Data", "Unlimited Calls & Texts", "EU Roaming Included")
    assert got.terms.count("\n") == 1
    assert got.provisioning_play == "play_local_mobile_sim"
    assert got.provisioning_json_vars == {"days": 30, "data_gb": 20, "voice_minutes": "unlimited", "sms_count": "unlimited"}
    assert got.inventory_types == ("SIM Card", "Mobile Number")
    assert got.created_at and got.updated_at and got.action_name == "Action_prepaid-mobile-20gb"
    assert (got.margin.profit, got.margin.markup_percent, got.margin.margin_percent) == (Decimal("10.00"), Decimal("200"), Decimal("67"))
    assert got.setup_margin.profit == Decimal("-1.00")


def test_the_editor_has_the_sources_five_tabs_covering_every_field():
    assert list(catalog.EDITOR_TABS) == ["Basic Info", "Pricing", "Configuration", "Provisioning", "Availability"]
    assert sorted(f for fields in catalog.EDITOR_TABS.values() for f in fields) == sorted(catalog.PRODUCT_FIELDS)


@pytest.mark.parametrize("field,value,message", [
    ("provisioning_json_vars", '{"days": 30,', "not valid JSON: Expecting property name enclosed in double quotes at line 1 column 13"),
    ("provisioning_json_vars", '[1, 2]', "must be a JSON object"),
    ("provisioning_play", "play_does_not_exist", "There is no playbook play_does_not_exist in"),
    ("provisioning_play", "../etc/passwd", "without folder or .yaml"),
    ("inventory_types", ["SIM Card", "sim card"], "no inventory template named 'sim card' (names are case-sensitive — did you mean 'SIM Card'?)"),
    ("inventory_types", ["Modem Router"], "no inventory template named 'Modem Router'"),
    ("inventory_types", "[\"SIM Card', 'Mobile Number']", "must be a list such as"),
    ("inventory_types", ["SIM Card", "SIM Card"], "names 'SIM Card' twice"),
    ("slug", "Mobile SIM", "no spaces"),
    ("category", "combo", "Category must be one of standalone, bundle, addon, promo"),
    ("auto_renew", "maybe", "Auto renew must be Prompt, Yes or No"),
    ("tax_percentage", "120", "between 0 and 100"),
    ("retail_cost", "-5", "cannot be negative"),
    ("features", "['unclosed", "not valid"),
    ("available_until", dt.datetime(2024, 1, 1, tzinfo=UTC), "stops being available"),
    ("relies_on", ["mobile"], "standalone product creates its own service"),
])
def test_the_editor_refuses_bad_values_naming_the_field_and_saves_nothing(db, admin, plays, field, value, message):
    before = count_products(db)
    with pytest.raises(ValidationError) as refused:
        prepaid_20gb(db, admin, plays, **{field: value})
    assert field in refused.value.errors and message in refused.value.errors[field]
    assert count_products(db) == before


def test_an_edit_with_bad_playbook_variables_changes_nothing(db, admin, plays):
    p = prepaid_20gb(db, admin, plays)
    with pytest.raises(ValidationError, match="not valid JSON"):
        catalog.update_product(db, admin, p.id, playbooks_dir=plays, retail_cost="20", provisioning_json_vars="{oops}")
    assert catalog.get_product(db, admin, p.id).retail_cost == Decimal("15.00")


def test_the_source_field_names_and_formats_are_accepted(db, admin, plays):
    p = catalog.create_product(
        db, admin, playbooks_dir=plays, product_name="5GB Data Boost", product_slug="5gb-data-boost", category="addon",
        service_type="mobile", retail_cost="5.00", wholesale_cost="1.50", contract_days=0, auto_renew="false",
        allow_auto_renew=False, inventory_items_list="[]", features_list="['5GB High-Speed Data', 'Valid for 7 Days']",
        provisioning_play="play_topup_charge_then_action.yaml", provisioning_json_vars={"data_gb": 5, "days": 7},
        relies_on_list="",
    )
    assert (p.name, p.slug, p.inventory_types, p.features) == ("5GB Data Boost", "5gb-data-boost", (), ("5GB High-Speed Data", "Valid for 7 Days"))
    assert p.provisioning_play == "play_topup_charge_then_action" and p.auto_renew_label == "No"
    assert catalog.get_product(db, admin, "5GB-Data-Boost").id == p.id  # by slug, any case


def test_slugs_are_unique_whatever_the_case(db, admin, plays):
    prepaid_20gb(db, admin, plays)
    with pytest.raises(ValidationError, match="already used by another product"):
        prepaid_20gb(db, admin, plays, name="Other", slug="Prepaid-Mobile-20GB")


def test_a_product_edit_from_a_stale_form_is_refused(db, admin, plays):
    p = prepaid_20gb(db, admin, plays)
    catalog.update_product(db, admin, p.id, expected_version=p.version, retail_cost="16")
    with pytest.raises(ConcurrentChange):
        catalog.update_product(db, admin, p.id, expected_version=p.version, retail_cost="17")
    assert catalog.get_product(db, admin, p.id).retail_cost == Decimal("16.00")


def test_editing_the_inventory_types_and_renaming_a_template_keeps_the_product_linked(db, admin, plays):
    p = prepaid_20gb(db, admin, plays)
    assert catalog.update_product(db, admin, p.id, playbooks_dir=plays, inventory_types=["Mobile Number", "SIM Card"]).inventory_types == (
        "Mobile Number", "SIM Card")
    t = inv.get_template(db, admin, "SIM Card")
    inv.update_template(db, admin, t.id, name="USIM Card")
    assert catalog.get_product(db, admin, p.id).inventory_types == ("Mobile Number", "USIM Card")
    with pytest.raises(ServiceError, match=f"product Prepaid Mobile 20GB needs it"):
        inv.delete_template(db, admin, t.id)


def test_clone_copies_every_field_with_the_clone_suffix_and_starts_disabled(db, admin, plays):
    p = prepaid_20gb(db, admin, plays)
    c1 = catalog.clone_product(db, admin, p.id)
    c2 = catalog.clone_product(db, admin, p.id)
    assert (c1.name, c1.slug, c1.enabled) == ("Prepaid Mobile 20GB_clone", "prepaid-mobile-20gb-clone", False)
    assert c2.slug == "prepaid-mobile-20gb-clone-2"
    same = ("category", "service_type", "retail_cost", "wholesale_cost", "retail_setup_cost", "wholesale_setup_cost",
            "tax_percentage", "contract_days", "auto_renew", "features", "terms", "provisioning_play",
            "provisioning_json_vars", "inventory_types", "available_from", "residential", "business")
    assert all(getattr(c1, f) == getattr(p, f) for f in same)
    assert c1.id != p.id and len(catalog.list_products(db, admin)) == 3


def test_the_management_list_shows_disabled_and_expired_products_the_order_list_does_not(db, admin, plays):
    live = prepaid_20gb(db, admin, plays)
    prepaid_20gb(db, admin, plays, name="Old plan", slug="old", available_until=dt.datetime(2025, 6, 1, tzinfo=UTC))
    prepaid_20gb(db, admin, plays, name="Hidden", slug="hidden", enabled=False)
    assert len(catalog.list_products(db, admin)) == 3
    assert [p.id for p in catalog.list_products(db, admin, include_disabled=False)] == [live.id]
    assert [p.name for p in catalog.list_products(db, admin, search="old")] == ["Old plan"]


def customer(db, admin, kind="individual", name="Ann Lee"):
    c = cs.create_customer(db, admin, name=name, account_type=kind)
    return cs.change_status(db, admin, c.id, "active")


def test_what_a_customer_may_order_depends_on_type_window_and_self_purchase(db, admin, plays):
    resi = prepaid_20gb(db, admin, plays)
    biz = prepaid_20gb(db, admin, plays, name="Business Mobile", slug="biz", residential=False, business=True)
    both_off = prepaid_20gb(db, admin, plays, name="Quirk", slug="quirk", residential=False, business=False)
    staff_only = prepaid_20gb(db, admin, plays, name="Staff Only", slug="staff-only", customer_can_purchase=False)
    prepaid_20gb(db, admin, plays, name="Future", slug="future", available_from=dt.datetime(2099, 1, 1, tzinfo=UTC))
    prepaid_20gb(db, admin, plays, name="Off", slug="off", enabled=False)
    addon = catalog.create_product(db, admin, name="Boost", category="addon", service_type="mobile")
    ann, acme = customer(db, admin), customer(db, admin, "business", "Acme Ltd")
    names = lambda ps: sorted(p.name for p in ps)  # noqa: E731
    assert names(catalog.catalog_for_customer(db, admin, ann.id)) == sorted([resi.name, both_off.name, staff_only.name])
    assert names(catalog.catalog_for_customer(db, admin, ann.id, self_purchase=True)) == sorted([resi.name, both_off.name])
    assert names(catalog.catalog_for_customer(db, admin, acme.id)) == [biz.name]
    assert names(catalog.catalog_for_customer(db, admin, ann.id, categories=("addon",))) == [addon.name]


def test_the_database_refuses_a_product_that_breaks_its_rules(db, admin, plays):
    p = prepaid_20gb(db, admin, plays)
    for sql, constraint in [
        ("UPDATE product SET auto_renew = 'yes' WHERE id = :i", "ck_product_auto_renew"),
        ("UPDATE product SET provisioning_json_vars = '[1]' WHERE id = :i", "ck_product_json_vars_object"),
        ("UPDATE product SET relies_on = '{mobile}' WHERE id = :i", "ck_product_standalone_relies_on_nothing"),
        ("UPDATE product SET slug = 'has space' WHERE id = :i", "ck_product_slug_format"),
    ]:
        with pytest.raises(DBAPIError, match=constraint):
            with db.engine.begin() as conn:
                conn.execute(text(sql), {"i": p.id})


def test_a_viewer_cannot_change_products(db, admin, plays):
    from omnidesk.auth import Actor

    p = prepaid_20gb(db, admin, plays)
    viewer = Actor(user_id=None, username="viewer", permissions=frozenset({"view_product"}))
    assert catalog.get_product(db, viewer, p.id).name == p.name
    with pytest.raises(PermissionDenied, match="update_product"):
        catalog.update_product(db, viewer, p.id, retail_cost="1")
    with pytest.raises(PermissionDenied):
        catalog.clone_product(db, viewer, p.id)
    with pytest.raises(NotFound):
        catalog.get_product(db, admin, 999)


def test_rules_read_features_auto_renew_and_relative_times_like_the_source():
    assert rules.features("5GB High-Speed Data. Valid for 7 Days") == ["5GB High-Speed Data", "Valid for 7 Days"]
    assert rules.features("['20GB High-Speed Data', 'Unlimited Calls & Texts', 'EU Roaming Included']") == [
        "20GB High-Speed Data", "Unlimited Calls & Texts", "EU Roaming Included"]
    assert [rules.renews_automatically(v) for v in ("true", "True", "1", "yes", "prompt", "false")] == [True] * 4 + [False] * 2
    assert rules.auto_renew("Yes") == "true" and rules.auto_renew(False) == "false"
    now = dt.datetime(2025, 11, 10, 7, 45, tzinfo=UTC)
    assert rules.relative(now + dt.timedelta(hours=3, minutes=5), now) == "3 hours from now"
    assert rules.relative(now + dt.timedelta(days=2, hours=1), now) == "2 days from now"

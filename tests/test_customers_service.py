"""Customer use cases against the real embedded PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from omnidesk.auth import Actor
from omnidesk.customers import rules
from omnidesk.customers import service as cs
from omnidesk.errors import ConcurrentChange, NotFound, PermissionDenied, ServiceError, ValidationError

STATUSES = ("pending", "active", "suspended", "closed")
ALLOWED = {("pending", "active"), ("active", "suspended"), ("suspended", "active"), ("active", "closed"), ("suspended", "closed")}


def new_customer(db, admin, name="Acme Ltd", **kw):
    return cs.create_customer(db, admin, name=name, **kw)


def counts(db) -> dict[str, int]:
    tables = ("customer", "contact", "site", "customer_attribute", "customer_tag", "activity_log")
    with db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}


def customer_in(db, admin, status: str):
    """A customer brought to `status` through the allowed path."""
    path = {"pending": [], "active": ["active"], "suspended": ["active", "suspended"], "closed": ["active", "closed"]}
    c = new_customer(db, admin)
    for step in path[status]:
        c = cs.change_status(db, admin, c.id, step)
    return c


# --- creation and reading ---


def test_a_new_customer_starts_pending_with_its_primary_contact_and_a_log_entry(db, admin):
    c = new_customer(
        db, admin, account_type="business", payment_type="postpaid", credit_limit="2500.00", currency="usd",
        primary_contact={"first_name": "Ann", "last_name": "Lee", "email": "Ann@Acme.example", "phone": "+44 7700 900123"},
    )
    assert c.status == "pending"
    assert c.currency == "USD" and c.credit_limit == Decimal("2500.00")
    assert [(x.contact_type, x.email, x.phone) for x in c.contacts] == [("primary", "Ann@acme.example", "+447700900123")]
    log = cs.list_activity(db, admin, c.id)
    assert log[0].summary == "Created business customer Acme Ltd" and log[0].actor_name == "admin"


def test_showing_a_customer_that_does_not_exist_names_it(db, admin):
    with pytest.raises(NotFound, match="no customer 999"):
        cs.get_customer(db, admin, 999)


# --- status transitions ---


@pytest.mark.parametrize("current", STATUSES)
@pytest.mark.parametrize("target", STATUSES)
def test_every_status_transition_is_allowed_or_refused_as_specified(db, admin, current, target):
    c = customer_in(db, admin, current)
    if (current, target) in ALLOWED:
        assert cs.change_status(db, admin, c.id, target).status == target
        assert cs.list_activity(db, admin, c.id)[0].summary == f"Status {current} → {target}"
    else:
        before = counts(db)
        with pytest.raises(ServiceError) as refused:
            cs.change_status(db, admin, c.id, target)
        assert current in str(refused.value) and target in str(refused.value)
        assert cs.get_customer(db, admin, c.id).status == current
        assert counts(db) == before


@pytest.mark.parametrize("current,target", [("pending", "suspended"), ("closed", "active"), ("active", "pending")])
def test_the_database_itself_refuses_a_forbidden_transition(db, admin, current, target):
    c = customer_in(db, admin, current)
    with pytest.raises(DBAPIError, match=f"cannot become {target}"):
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE customer SET status = :s WHERE id = :id"), {"s": target, "id": c.id})


def test_activating_a_pending_customer_records_the_kyc_approval(db, admin):
    c = cs.change_status(db, admin, new_customer(db, admin).id, "active", reason="passport checked")
    assert c.kyc_approved_by == "admin" and c.kyc_approved_at is not None
    assert cs.list_activity(db, admin, c.id)[0].summary == "Status pending → active: passport checked"


def test_next_statuses_offer_only_the_allowed_moves(db, admin):
    assert customer_in(db, admin, "suspended").next_statuses == ("active", "closed")
    assert customer_in(db, admin, "closed").next_statuses == ()


# --- archive and restore ---


def _add_blocker(db, customer_id: int, blocker: str) -> None:
    with db.engine.begin() as conn:
        if blocker == "service":
            conn.execute(text("INSERT INTO service (customer_id, name, status) VALUES (:c, 'Mobile 5G', 'active')"), {"c": customer_id})
        elif blocker == "invoice":
            conn.execute(
                text("INSERT INTO invoice (customer_id, number, status, start_date, end_date, due_date, total) "
                     "VALUES (:c, 'INV-2026-000001', 'unpaid', '2026-11-01', '2026-11-14', '2026-11-14', 45)"),
                {"c": customer_id},
            )
        else:
            conn.execute(text("INSERT INTO billing_transaction (customer_id, title, retail_cost) VALUES (:c, 'Setup fee', 30)"), {"c": customer_id})


@pytest.mark.parametrize(
    "blocker,named",
    [("service", "1 active service"), ("invoice", "1 unpaid invoice"), ("transaction", "1 uninvoiced transaction")],
)
def test_archive_is_refused_and_the_blocker_is_named(db, admin, blocker, named):
    c = customer_in(db, admin, "active")
    _add_blocker(db, c.id, blocker)
    with pytest.raises(cs.ArchiveBlocked) as refused:
        cs.archive_customer(db, admin, c.id)
    assert named in str(refused.value)
    assert len(refused.value.blockers) == 1
    assert cs.get_customer(db, admin, c.id).archived_at is None


def test_archive_refusal_lists_all_three_blockers_together(db, admin):
    c = customer_in(db, admin, "active")
    for blocker in ("service", "invoice", "transaction"):
        _add_blocker(db, c.id, blocker)
    with pytest.raises(cs.ArchiveBlocked) as refused:
        cs.archive_customer(db, admin, c.id)
    message = str(refused.value)
    assert message.startswith(f"Customer {c.id} (Acme Ltd) cannot be archived")
    assert all(x in message for x in ("active service", "unpaid invoice", "uninvoiced transaction"))


def test_void_transactions_paid_invoices_and_deactivated_services_do_not_block_archiving(db, admin):
    c = customer_in(db, admin, "active")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO service (customer_id, name, status) VALUES (:c, 'Old line', 'deactivated')"), {"c": c.id})
        conn.execute(text("INSERT INTO billing_transaction (customer_id, title, retail_cost, void) VALUES (:c, 'Oops', 5, true)"), {"c": c.id})
        conn.execute(
            text("INSERT INTO invoice (customer_id, status, start_date, end_date, due_date) VALUES (:c, 'paid', '2026-01-01', '2026-01-31', '2026-01-31')"),
            {"c": c.id},
        )
    assert cs.archive_customer(db, admin, c.id).archived


def test_an_archived_customer_is_hidden_read_only_and_restorable(db, admin):
    c = new_customer(db, admin, name="Zed Archive")
    cs.archive_customer(db, admin, c.id)
    assert cs.list_customers(db, admin, search="zed") == []
    assert [r.id for r in cs.list_customers(db, admin, search="zed", include_archived=True)] == [c.id]
    with pytest.raises(ServiceError, match="archived; restore it"):
        cs.update_customer(db, admin, c.id, name="Zed Again")
    restored = cs.restore_customer(db, admin, c.id)
    assert restored.archived_at is None
    assert [e.action for e in cs.list_activity(db, admin, c.id)][:2] == ["restore", "archive"]


# --- bad input changes nothing ---


@pytest.mark.parametrize(
    "fields,field,message",
    [
        ({"name": "   "}, "name", "Customer name is required."),
        ({"name": "x" * 201}, "name", "Customer name is too long: 201 characters, at most 200."),
        ({"name": "Ok", "currency": "pounds"}, "currency", "three-letter ISO 4217 code"),
        ({"name": "Ok", "credit_limit": "-5"}, "credit_limit", "Credit limit cannot be negative."),
        ({"name": "Ok", "credit_limit": "1.005"}, "credit_limit", "more than two decimal places"),
        ({"name": "Ok", "account_type": "alien"}, "account_type", "must be one of individual, business"),
        ({"name": "Ok", "primary_contact": {"first_name": "Ann", "email": "ann@@example"}}, "contact_email", "is not a valid e-mail address"),
        ({"name": "Ok", "primary_contact": {"first_name": "Ann", "phone": "07700 900123"}}, "contact_phone", "E.164"),
        ({"name": "Ok", "primary_contact": {"first_name": "Ann", "phone": "+44 abc"}}, "contact_phone", "E.164"),
        ({"name": "Ok", "contract_start_date": dt.date(2026, 5, 1), "contract_end_date": dt.date(2026, 4, 1)},
         "contract_end_date", "ends (2026-04-01) before it starts (2026-05-01)"),
    ],
)
def test_bad_customer_input_gets_a_specific_message_and_writes_nothing(db, admin, fields, field, message):
    before = counts(db)
    with pytest.raises(ValidationError) as refused:
        cs.create_customer(db, admin, **fields)
    assert message in refused.value.errors[field]
    assert counts(db) == before


def test_every_bad_field_is_reported_at_once(db, admin):
    with pytest.raises(ValidationError) as refused:
        cs.create_customer(db, admin, name="", currency="x", primary_contact={"first_name": "", "email": "nope"})
    assert set(refused.value.errors) == {"name", "currency", "contact_first_name", "contact_email"}


def test_contacts_validate_email_and_e164_phone_and_change_nothing_when_bad(db, admin):
    c = new_customer(db, admin)
    before = counts(db)
    with pytest.raises(ValidationError, match="not a valid e-mail address"):
        cs.add_contact(db, admin, c.id, first_name="Bo", email="bo.example.com")
    with pytest.raises(ValidationError, match="E.164"):
        cs.add_contact(db, admin, c.id, first_name="Bo", phone="12345")
    assert counts(db) == before
    ok = cs.add_contact(db, admin, c.id, contact_type="billing", first_name="Bo", phone="0044 20 7946 0958")
    assert ok.phone == "+442079460958"


def test_a_second_primary_contact_is_refused_by_the_database_rule(db, admin):
    c = new_customer(db, admin, primary_contact={"first_name": "Ann"})
    with pytest.raises(ServiceError, match="already has a primary contact"):
        cs.add_contact(db, admin, c.id, contact_type="primary", first_name="Bob")


def test_duplicate_attribute_key_is_refused_with_the_key_named(db, admin):
    c = new_customer(db, admin)
    cs.add_attribute(db, admin, c.id, "external_crm_id", "SF-12345")
    before = counts(db)
    with pytest.raises(ValidationError) as refused:
        cs.add_attribute(db, admin, c.id, "external_crm_id", "SF-99999")
    assert refused.value.errors["key"] == f"Customer {c.id} (Acme Ltd) already has an attribute external_crm_id; edit that one instead."
    assert counts(db) == before
    assert [a.value for a in cs.get_customer(db, admin, c.id).attributes] == ["SF-12345"]


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("external system id", "x", "must be lowercase snake_case"),
        ("External_ID", "x", "must be lowercase snake_case"),
        ("ok_key", "v" * 151, "Attribute value is 151 characters; at most 150"),
        ("ok_key", "", "Attribute value is required."),
        ("", "x", "Attribute name is required."),
    ],
)
def test_bad_attributes_are_refused(db, admin, key, value, message):
    c = new_customer(db, admin)
    with pytest.raises(ValidationError, match=message):
        cs.add_attribute(db, admin, c.id, key, value)
    assert cs.get_customer(db, admin, c.id).attributes == ()


def test_attribute_booleans_are_stored_lowercase_and_edits_keep_created_time(db, admin):
    c = new_customer(db, admin)
    a = cs.add_attribute(db, admin, c.id, "tax_exempt", "True")
    assert a.value == "true" and a.created_at == a.updated_at
    b = cs.update_attribute(db, admin, a.id, value="SF-54321")
    assert b.created_at == a.created_at and b.updated_at >= a.updated_at


def test_an_attribute_of_another_customer_cannot_be_edited_through_this_one(db, admin):
    mine, theirs = new_customer(db, admin, name="Mine"), new_customer(db, admin, name="Theirs")
    a = cs.add_attribute(db, admin, theirs.id, "support_tier", "gold")
    with pytest.raises(NotFound, match=f"does not belong to customer {mine.id}"):
        cs.update_attribute(db, admin, a.id, value="bronze", customer_id=mine.id)


@pytest.mark.parametrize(
    "lat,lng,message",
    [("91", "0", "Latitude must be between -90 and 90 degrees; got 91."), ("-90.5", "0", "between -90 and 90"),
     ("0", "181", "Longitude must be between -180 and 180"), ("north", "0", "must be a number of degrees"),
     ("51.5", "", "Give both latitude and longitude, or neither.")],
)
def test_bad_site_coordinates_are_refused_and_nothing_is_written(db, admin, lat, lng, message):
    c = new_customer(db, admin)
    before = counts(db)
    with pytest.raises(ValidationError, match=message):
        cs.add_site(db, admin, c.id, name="HQ", latitude=lat, longitude=lng)
    assert counts(db) == before


def test_a_site_gets_its_plus_code_and_default_country(db, admin):
    c = new_customer(db, admin)
    site = cs.add_site(db, admin, c.id, name="Office", city="London", latitude="51.5074", longitude="-0.1278")
    assert site.country == "GB"
    assert site.plus_code == "9C3XGV4C+XV"  # Open Location Code of 51.5074, -0.1278 (11 characters)
    moved = cs.update_site(db, admin, site.id, latitude="-33.8688", longitude="151.2093")
    assert moved.plus_code == "4RRH46J5+FP"


def test_a_site_with_services_cannot_be_removed(db, admin):
    c = new_customer(db, admin)
    site = cs.add_site(db, admin, c.id, name="Depot")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO service (customer_id, site_id, name) VALUES (:c, :s, 'Fibre')"), {"c": c.id, "s": site.id})
    with pytest.raises(ServiceError, match="Site Depot has 1 service delivered to it"):
        cs.delete_site(db, admin, site.id)


# --- tags ---


def test_tags_default_to_2099_and_follow_their_active_window(db, admin):
    c = new_customer(db, admin)
    vip = cs.add_tag(db, admin, c.id, label="VIP Customer", colour="#ffd700", link="https://example.com/vip")
    assert vip.colour == "FFD700" and vip.deactivate_at == rules.DEFAULT_TAG_END and vip.state == "active"
    old = cs.add_tag(
        db, admin, c.id, label="Super Late Invoice", colour="FF0000",
        active_from=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc), deactivate_at=dt.datetime(2025, 2, 1, tzinfo=dt.timezone.utc),
    )
    assert old.state == "expired"
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)
    assert cs.add_tag(db, admin, c.id, label="Renewal due", colour="00AA00", active_from=later).state == "scheduled"


@pytest.mark.parametrize(
    "values,message",
    [({"label": "", "colour": "FFD700"}, "Tag text is required."), ({"label": "VIP", "colour": ""}, "Tag colour is required."),
     ({"label": "VIP", "colour": "gold"}, "six hexadecimal digits"), ({"label": "VIP", "colour": "FFD700", "link": "javascript:alert(1)"}, "http:// or https://")],
)
def test_bad_tags_are_refused(db, admin, values, message):
    c = new_customer(db, admin)
    with pytest.raises(ValidationError, match=message):
        cs.add_tag(db, admin, c.id, **values)


# --- search ---


def test_search_is_case_insensitive_substring_over_name_email_phone_and_id(db, admin):
    a = new_customer(db, admin, name="Harper & Cole Ltd", primary_contact={"first_name": "Ann", "email": "ann.lee@harper.example", "phone": "+447700900123"})
    b = new_customer(db, admin, name="Zoe Quinn", primary_contact={"first_name": "Zoe", "email": "zq@mail.example", "phone": "+61412345678"})
    ids = lambda q: [r.id for r in cs.list_customers(db, admin, search=q)]  # noqa: E731
    assert ids("COLE") == [a.id]
    assert ids("lee@harp") == [a.id]
    assert ids("0900123") == [a.id]
    assert ids("4123456") == [b.id]
    assert ids(str(b.id)) == [b.id] or b.id in ids(str(b.id))
    assert ids("zo") == [b.id]  # two letters match the start of the name
    assert ids("nothing-like-this") == []
    assert ids("50%_") == []  # LIKE wildcards are searched literally
    assert cs.count_customers(db, admin, search="example") == 2


def test_search_follows_contact_changes(db, admin):
    c = new_customer(db, admin, name="Plain Name")
    contact = cs.add_contact(db, admin, c.id, first_name="Kim", email="kim@newdomain.example")
    assert [r.id for r in cs.list_customers(db, admin, search="newdomain")] == [c.id]
    cs.update_contact(db, admin, contact.id, email="kim@other.example")
    assert cs.list_customers(db, admin, search="newdomain") == []
    cs.delete_contact(db, admin, contact.id)
    assert cs.list_customers(db, admin, search="other.example") == []


def test_listing_sorts_and_pages_in_sql(db, admin):
    for name in ("Charlie", "alpha", "Bravo", "Delta"):
        new_customer(db, admin, name=name)
    page = cs.list_customers(db, admin, sort="id", descending=True, limit=2, offset=1)
    assert [r.name for r in page] == ["Bravo", "alpha"]
    with pytest.raises(ServiceError, match="cannot be sorted by 'secret'"):
        cs.list_customers(db, admin, sort="secret")


# --- edits, concurrency, permissions, the log ---


def test_an_edit_records_what_changed_from_and_to(db, admin):
    c = new_customer(db, admin)
    cs.update_customer(db, admin, c.id, name="Acme Group Ltd", credit_limit="100")
    entry = cs.list_activity(db, admin, c.id)[0]
    assert entry.changes == {"name": ["Acme Ltd", "Acme Group Ltd"], "credit_limit": ["0.00", "100.00"]}


def test_saving_over_someone_elses_change_is_refused(db, admin):
    c = new_customer(db, admin)
    cs.update_customer(db, admin, c.id, expected_version=c.version, notes="first")
    with pytest.raises(ConcurrentChange, match="changed by someone else"):
        cs.update_customer(db, admin, c.id, expected_version=c.version, notes="second")
    assert cs.get_customer(db, admin, c.id).notes == "first"


def test_a_user_without_the_permission_is_refused(db, admin):
    viewer = Actor(user_id=None, username="auditor", permissions=frozenset({"view_customer"}))
    with pytest.raises(PermissionDenied, match="auditor may not create customers"):
        cs.create_customer(db, viewer, name="Nope")
    assert cs.count_customers(db, viewer) == 0


def test_the_activity_log_cannot_be_changed_or_emptied(db, admin):
    new_customer(db, admin)
    for statement in ("UPDATE activity_log SET summary = 'forged'", "DELETE FROM activity_log", "TRUNCATE activity_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(text(statement))


def test_the_database_refuses_bad_rows_from_scripts_that_skip_the_app(db, admin):
    c = new_customer(db, admin)
    bad = [
        "INSERT INTO customer_attribute (customer_id, key, value) VALUES (:c, 'Bad Key', 'x')",
        "INSERT INTO site (customer_id, name, country, latitude, longitude) VALUES (:c, 'S', 'GB', 95, 0)",
        "INSERT INTO contact (customer_id, contact_type, first_name, phone) VALUES (:c, 'primary', 'A', '0770')",
        "INSERT INTO customer_tag (customer_id, label, colour) VALUES (:c, 'T', 'gold')",
        "UPDATE customer SET credit_limit = -1 WHERE id = :c",
    ]
    for statement in bad:
        with pytest.raises(DBAPIError):
            with db.engine.begin() as conn:
                conn.execute(text(statement), {"c": c.id})


def test_names_sort_case_insensitively_and_accented_names_are_found_in_any_case(db, admin):
    for name in ("bravo", "Alpha", "ÉLODIE Marchand", "charlie"):
        new_customer(db, admin, name=name)
    assert [r.name for r in cs.list_customers(db, admin)] == ["Alpha", "bravo", "charlie", "ÉLODIE Marchand"]
    assert [r.name for r in cs.list_customers(db, admin, search="élo")] == ["ÉLODIE Marchand"]
    assert [r.name for r in cs.list_customers(db, admin, search="Él")] == ["ÉLODIE Marchand"]
    assert [r.name for r in cs.list_customers(db, admin, search="lodie mar")] == ["ÉLODIE Marchand"]


def test_a_capped_count_stops_just_past_the_cap(db, admin):
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO customer (name, account_type, payment_type, currency) "
            "SELECT 'Example ' || g, 'individual', 'prepaid', 'GBP' FROM generate_series(1, 40) g"
        ))
    assert cs.count_customers(db, admin, search="example") == 40
    assert cs.count_customers(db, admin, search="example", cap=25) == 26
    assert cs.count_customers(db, admin, search="example", cap=100) == 40


def test_digits_find_the_customer_with_that_id_and_phones_containing_them(db, admin):
    a = new_customer(db, admin, name="Phone Owner", primary_contact={"first_name": "P", "phone": "+447700900555"})
    b = new_customer(db, admin, name="Plain")
    assert {r.id for r in cs.list_customers(db, admin, search="900555")} == {a.id}
    assert {r.id for r in cs.list_customers(db, admin, search=str(b.id))} >= {b.id}
    assert [r.id for r in cs.list_customers(db, admin, search=f"#{b.id}")] == [b.id]

"""Demo data: realistic, consistent with the triggers it bypasses, and all-or-nothing."""

from __future__ import annotations

import json
import re

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from omnidesk import demo
from omnidesk.auth import Actor
from omnidesk.customers import rules
from omnidesk.customers import service as cs
from omnidesk.db.engine import Database
from omnidesk.errors import PermissionDenied, ValidationError

TABLES = demo.TABLES
UK = {"latitude": (49.8, 60.9), "longitude": (-8.7, 1.8)}


def counts(db) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def rows(db, sql: str, **params) -> list:
    with db.engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def indexes(db) -> set[str]:
    return {r[0] for r in rows(db, "SELECT indexdef FROM pg_indexes WHERE tablename = ANY(:t)", t=list(TABLES))}


@pytest.fixture
def loaded(db, admin):
    """300 demo customers loaded the small way (in-process, indexes kept)."""
    summary = demo.load_demo_data(db, admin, 300, seed=11)
    return db, summary


def test_every_demo_customer_has_one_primary_contact_and_a_site(loaded):
    db, summary = loaded
    assert (summary.customers, summary.first_customer_id, summary.last_customer_id) == (300, 1, 300)
    n = counts(db)
    assert n["customer"] == 300 and n["site"] == 300 == summary.sites
    assert 300 < n["contact"] == summary.contacts <= 600
    assert n["customer_attribute"] == summary.attributes and n["customer_tag"] == summary.tags
    per_customer = rows(
        db,
        "SELECT c.id, count(*) FILTER (WHERE k.contact_type = 'primary'), count(DISTINCT s.id) "
        "FROM customer c LEFT JOIN contact k ON k.customer_id = c.id LEFT JOIN site s ON s.customer_id = c.id "
        "GROUP BY c.id",
    )
    assert len(per_customer) == 300 and {(p, s) for _, p, s in per_customer} == {(1, 1)}


def test_demo_data_is_a_realistic_mix(loaded):
    db, _ = loaded
    mix = dict(rows(db, "SELECT account_type, count(*) FROM customer GROUP BY 1"))
    assert 180 <= mix["individual"] <= 285 and mix["business"] >= 15
    statuses = dict(rows(db, "SELECT status, count(*) FROM customer GROUP BY 1"))
    assert statuses["active"] > 150 and set(statuses) <= {"active", "pending", "suspended", "closed"} and len(statuses) >= 3
    assert rows(db, "SELECT count(*) FROM customer WHERE payment_type = 'prepaid' AND credit_limit <> 0")[0][0] == 0
    assert rows(db, "SELECT count(*) FROM customer WHERE payment_type = 'postpaid' AND credit_limit = 0")[0][0] == 0
    assert rows(db, "SELECT count(*) FROM customer WHERE (status = 'pending') <> (kyc_approved_at IS NULL)")[0][0] == 0
    businesses = [r[0] for r in rows(db, "SELECT name FROM customer WHERE account_type = 'business'")]
    assert any(" & " in name for name in businesses)
    assert all(re.fullmatch(r"[A-Z][A-Za-z'-]+( & [A-Z][A-Za-z'-]+)? .+", name) for name in businesses), businesses
    individuals = [r[0] for r in rows(db, "SELECT name FROM customer WHERE account_type = 'individual'")]
    assert all(re.fullmatch(r"[A-Z][A-Za-z'-]+ [A-Z][A-Za-z'-]+", name) for name in individuals)
    assert len(set(individuals)) >= 0.9 * len(individuals)  # 364 first names × 500 last names


def test_every_demo_contact_passes_the_database_checks_and_the_services_rules(loaded):
    db, _ = loaded
    contacts = rows(db, "SELECT first_name, email, phone FROM contact")
    for first_name, email, phone in contacts:
        assert first_name.strip()
        assert re.fullmatch(r"[^@\s]+@[^@\s]+", email) and rules.email(email) == email
        assert email.endswith(("@example.net", "@example.com", "@example.org"))
        if phone is not None:
            assert re.fullmatch(r"\+[1-9][0-9]{6,14}", phone) and rules.phone(phone) == phone
            assert phone.startswith("+4477009")
    assert sum(phone is not None for *_, phone in contacts) >= 300


def test_demo_sites_are_in_the_uk_with_their_plus_code(loaded):
    db, _ = loaded
    for city, postcode, country, lat, lng, plus_code in rows(
        db, "SELECT city, postcode, country, latitude, longitude, plus_code FROM site"
    ):
        assert city and country == "GB" and re.fullmatch(r"[A-Z]{1,2}[0-9]{1,2} [0-9][A-Z]{2}", postcode)
        assert UK["latitude"][0] < lat < UK["latitude"][1] and UK["longitude"][0] < lng < UK["longitude"][1]
        assert plus_code == rules.plus_code(lat, lng)


def test_demo_attributes_and_tags_fit_the_rules(loaded):
    db, _ = loaded
    for key, value in rows(db, "SELECT key, value FROM customer_attribute"):
        assert rules.attribute_key(key) == key and rules.attribute_value(value) == value
    tags = rows(db, "SELECT label, colour, deactivate_at > now() FROM customer_tag")
    assert tags and all(rules.tag_colour(colour) == colour and active for _, colour, active in tags)
    assert rows(db, "SELECT max(n) FROM (SELECT count(*) n FROM customer_tag GROUP BY customer_id) t")[0][0] == 1


def test_search_text_is_what_the_triggers_would_have_written(loaded):
    db, summary = loaded
    assert summary.search_text_fixed == 0  # written right the first time: no row had to be rewritten
    mismatched = rows(
        db,
        "SELECT id, search_text, btrim(lower(name) || ' ' || omnidesk_contact_search_text(id)) FROM customer "
        "WHERE search_text IS DISTINCT FROM btrim(lower(name) || ' ' || omnidesk_contact_search_text(id))",
    )
    assert mismatched == []
    assert rows(db, "SELECT count(*) FROM customer WHERE search_text = ''")[0][0] == 0


def test_search_text_written_wrongly_is_corrected_by_the_load(db, admin, monkeypatch):
    made = demo._make_chunk

    def wrong_search_text(job, words):
        chunk = made(job, words)
        lines = [line.rsplit("\t", 1)[0] + "\tWRONG" for line in chunk.data["customer"].decode().splitlines()]
        return demo._Chunk(chunk.customers, {**chunk.data, "customer": ("\n".join(lines) + "\n").encode()}, chunk.rows)

    monkeypatch.setattr(demo, "_make_chunk", wrong_search_text)
    summary = demo.load_demo_data(db, admin, 20, seed=1)
    assert summary.search_text_fixed == 20
    assert rows(db, "SELECT count(*) FROM customer WHERE search_text = 'WRONG'")[0][0] == 0
    mismatched = rows(db, "SELECT count(*) FROM customer WHERE search_text <> btrim(lower(name) || ' ' || omnidesk_contact_search_text(id))")
    assert mismatched[0][0] == 0


def test_a_demo_customer_is_found_by_a_fragment_of_its_email(loaded, admin):
    db, _ = loaded
    customer_id, email = rows(db, "SELECT customer_id, email FROM contact WHERE contact_type = 'primary' ORDER BY id DESC LIMIT 1")[0]
    fragment = email.split("@")[0][2:]  # e.g. "ice.jones+300" from "alice.jones+300@example.net"
    found = cs.list_customers(db, admin, search=fragment, limit=100)
    assert customer_id in [row.id for row in found]
    assert cs.count_customers(db, admin, search=fragment) >= 1


def test_each_demo_customer_has_an_honest_activity_entry_and_the_load_a_summary(loaded, admin):
    db, summary = loaded
    per_customer = rows(db, "SELECT count(*), count(DISTINCT customer_id), min(summary), max(summary) FROM activity_log WHERE customer_id IS NOT NULL")
    assert per_customer[0] == (300, 300, "Created by demo data", "Created by demo data")
    (entry,) = rows(db, "SELECT actor_name, entity_type, summary, changes FROM activity_log WHERE customer_id IS NULL")
    assert entry[:3] == ("admin", "demo_data", "Loaded 300 demo customers (ids 1–300, seed 11)")
    assert entry[3]["customers"] == 300 and entry[3]["contacts"] == summary.contacts
    assert cs.list_activity(db, admin, 1)[0].summary == "Created by demo data"


def test_the_customer_sequence_continues_after_the_demo_ids(loaded, admin):
    db, _ = loaded
    assert cs.create_customer(db, admin, name="Next One").id == 301
    later = demo.load_demo_data(db, admin, 5, seed=2)
    assert (later.first_customer_id, later.last_customer_id) == (302, 306)


def test_if_empty_adds_nothing_to_a_database_with_customers(loaded, admin):
    db, _ = loaded
    before = counts(db)
    summary = demo.load_demo_data(db, admin, 50, only_if_empty=True)
    assert summary.skipped and summary.customers == 0
    assert counts(db) == before


def test_if_empty_loads_into_an_empty_database(db, admin):
    summary = demo.load_demo_data(db, admin, 10, only_if_empty=True)
    assert not summary.skipped and counts(db)["customer"] == 10


def test_a_load_sends_one_notice_instead_of_one_per_row(db, admin):
    with psycopg.connect(db.raw_connection_string(), autocommit=True) as listener:
        listener.execute("LISTEN omnidesk_customers")
        summary = demo.load_demo_data(db, admin, 40, seed=5)
        notices = [json.loads(n.payload) for n in listener.notifies(timeout=1.0, stop_after=100)]
    assert notices == [{"table": "customer", "op": "bulk", "count": 40, "first_id": summary.first_customer_id,
                        "last_id": summary.last_customer_id}]


def test_the_same_seed_gives_the_same_customers_in_process_and_from_a_worker(db, admin):
    before = indexes(db)
    small = demo.load_demo_data(db, admin, 120, seed=99, bulk=False, workers=0)
    big = demo.load_demo_data(db, admin, 120, seed=99, bulk=True, workers=1)
    assert big.rebuilt_indexes and "ix_customer_search_trigrams" in big.rebuilt_indexes
    assert "uq_contact_one_primary" not in big.rebuilt_indexes  # unique indexes stay and keep guarding
    assert indexes(db) == before
    names = rows(db, "SELECT name, status, account_type FROM customer ORDER BY id")
    assert names[:120] == names[120:]
    assert (big.contacts, big.sites, big.attributes, big.tags) == (small.contacts, small.sites, small.attributes, small.tags)
    mismatched = rows(db, "SELECT count(*) FROM customer WHERE search_text <> btrim(lower(name) || ' ' || omnidesk_contact_search_text(id))")
    assert mismatched[0][0] == 0
    # Statistics were gathered, so the planner knows the new rows.
    assert rows(db, "SELECT reltuples FROM pg_class WHERE relname = 'customer'")[0][0] == 240


def test_indexes_are_rebuilt_only_when_the_load_is_large_against_what_is_there():
    assert demo.rebuilds_indexes(1_000_000, 0) and demo.rebuilds_indexes(20_000, 80_000)
    assert not demo.rebuilds_indexes(19_999, 0)  # small: row-by-row maintenance is cheaper
    assert not demo.rebuilds_indexes(20_000, 1_000_000)  # rebuilding a million rows for 20,000 new ones is not


@pytest.mark.parametrize("bulk", [False, True])
def test_a_load_that_fails_midway_leaves_nothing(db, admin, monkeypatch, bulk):
    before_indexes = indexes(db)
    copied = []
    real_copy = demo._copy

    def copy_then_fail(cur, table, data):
        if copied:
            raise RuntimeError("disk on fire")
        copied.append(table)
        real_copy(cur, table, data)

    monkeypatch.setattr(demo, "_copy", copy_then_fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        demo.load_demo_data(db, admin, 50, seed=1, bulk=bulk, workers=0)
    assert copied == ["customer"]
    assert counts(db) == dict.fromkeys(TABLES, 0)
    assert indexes(db) == before_indexes
    monkeypatch.setattr(demo, "_copy", real_copy)
    assert demo.load_demo_data(db, admin, 3, seed=1).first_customer_id == 1  # the failed load used up no ids


def test_a_database_error_midway_is_a_clear_message_and_leaves_nothing(db, admin, monkeypatch):
    made = demo._make_chunk

    def bad_phone(job, words):
        chunk = made(job, words)
        return demo._Chunk(chunk.customers, {**chunk.data, "contact": chunk.data["contact"].replace(b"+4477009", b"07700 9")}, chunk.rows)

    monkeypatch.setattr(demo, "_make_chunk", bad_phone)
    with pytest.raises(demo.DemoDataError, match=r"ck_contact_phone_e164.*nothing was written"):
        demo.load_demo_data(db, admin, 10, seed=1)
    assert counts(db) == dict.fromkeys(TABLES, 0)


def test_loading_demo_data_needs_the_admin_permission(db):
    clerk = Actor(None, "clerk", frozenset({"create_customer", "view_customer"}))
    with pytest.raises(PermissionDenied, match="clerk may not load demo data"):
        demo.load_demo_data(db, clerk, 10)
    assert counts(db)["customer"] == 0


@pytest.mark.parametrize("bad", [0, -5, demo.MAX_CUSTOMERS + 1, True, "10"])
def test_a_bad_number_of_customers_is_refused(db, admin, bad):
    with pytest.raises(ValidationError, match="must be 1 to 10,000,000"):
        demo.load_demo_data(db, admin, bad)


def test_a_connection_that_is_not_a_superuser_is_told_what_demo_data_needs(db, admin, pg_root):
    admin_conninfo, _ = pg_root
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS demo_clerk")
        conn.execute("CREATE ROLE demo_clerk LOGIN PASSWORD 'Clerk-pass-1234'")  # the embedded server asks for it
    clerk_db = Database(
        make_url(db.url).set(username="demo_clerk", password="Clerk-pass-1234").render_as_string(hide_password=False)
    )
    try:
        with pytest.raises(demo.DemoDataError, match="needs a PostgreSQL superuser connection"):
            demo.load_demo_data(clerk_db, admin, 10)
    finally:
        clerk_db.dispose()
        with psycopg.connect(admin_conninfo, autocommit=True) as conn:
            conn.execute("DROP ROLE IF EXISTS demo_clerk")
    assert counts(db)["customer"] == 0

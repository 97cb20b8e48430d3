"""Rating calls in the database: longest prefix, effective dates, increments, unrated calls reported,
and the set-based SQL equal to a straightforward Python reference on a random sample."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from fractions import Fraction

import pytest
from sqlalchemy import text

from omnidesk.customers import service as customers
from omnidesk.rating import importer, rules, service
from omnidesk.rating.models import CallRating

UTC = dt.timezone.utc


def _customer(db, admin, name="Acme Telecom", currency="USD"):
    c = customers.create_customer(db, admin, name=name, account_type="business", currency=currency)
    return customers.change_status(db, admin, c.id, "active").id


def _plan(db, admin, rates: str, *, name="Standard International", increment=6, minimum=6, currency="USD"):
    service.create_rate_plan(db, admin, name=name, currency=currency, billing_increment=increment,
                             minimum_duration=minimum)
    importer.import_rates(db, admin, name, rates.encode())
    return name


def _calls(db, admin, customer_id, calls: list[tuple], **kwargs):
    """calls: (start, number, seconds, disposition)."""
    lines = ["call_id,call_start,caller,called_number,duration,customer_id,disposition"]
    for n, (start, number, seconds, disposition) in enumerate(calls, 1):
        lines.append(f"c{n},{start},+15550100,{number},{seconds},{customer_id},{disposition}")
    return importer.import_cdrs(db, admin, ("\n".join(lines) + "\n").encode(), **kwargs)


def _ratings(db) -> dict[str, CallRating | None]:
    """call id → its rating (None: unrated)."""
    with db.read() as s:
        rows = s.execute(text("""SELECT c.call_id, r.matched_prefix, r.rate, r.billable_seconds, r.cost
                                   FROM cdr c LEFT JOIN cdr_rating r ON r.cdr_id = c.id""")).all()
        return {r.call_id: (None if r.matched_prefix is None else r) for r in rows}


SEED_PLAN = "prefix,rate,description\n1,0.015,USA\n44,0.02,UK\n234,0.025,Nigeria\n"


def test_seed_plan_prices_calls_in_six_second_increments_with_a_six_second_minimum(db, admin):
    customer = _customer(db, admin)
    plan = _plan(db, admin, SEED_PLAN)
    service.assign_rate_plan(db, admin, customer, plan)
    report = _calls(db, admin, customer, [
        ("2026-05-01 10:00:00", "+447700900123", 7, "answered"),    # 12 s × 0.02 / 60
        ("2026-05-01 10:01:00", "+12125550100", 61, "answered"),    # 66 s × 0.015 / 60
        ("2026-05-01 10:02:00", "+2348031234567", 2, "answered"),   # the 6 s minimum
        ("2026-05-01 10:03:00", "+447700900124", 0, "no_answer"),   # not charged, not the minimum
    ])
    assert report.rating.rated == 4 and report.rating.unrated == 0
    r = _ratings(db)
    assert (r["c1"].matched_prefix, r["c1"].billable_seconds, r["c1"].cost) == ("44", 12, Decimal("0.0040"))
    assert (r["c2"].matched_prefix, r["c2"].billable_seconds, r["c2"].cost) == ("1", 66, Decimal("0.0165"))
    assert (r["c3"].matched_prefix, r["c3"].billable_seconds, r["c3"].cost) == ("234", 6, Decimal("0.0025"))
    assert (r["c4"].matched_prefix, r["c4"].billable_seconds, r["c4"].cost) == ("44", 0, Decimal("0.0000"))


def test_costs_are_rounded_half_up_not_half_even(db, admin):
    customer = _customer(db, admin)
    plan = _plan(db, admin, "prefix,rate\n44,0.0165\n", increment=1, minimum=0)
    service.assign_rate_plan(db, admin, customer, plan)
    _calls(db, admin, customer, [("2026-05-01 10:00:00", "447700900123", 6, "answered")])
    assert _ratings(db)["c1"].cost == Decimal("0.0017")  # 0.00165


def test_the_longest_matching_prefix_wins(db, admin):
    customer = _customer(db, admin)
    plan = _plan(db, admin, "prefix,rate,description\n44,0.02,UK\n447,0.10,UK mobile\n4477,0.15,UK mobile (Vodafone)\n"
                            "4,9.99,Zone 4\n")
    service.assign_rate_plan(db, admin, customer, plan)
    _calls(db, admin, customer, [
        ("2026-05-01 10:00:00", "447712345678", 60, "answered"),
        ("2026-05-01 10:00:00", "447612345678", 60, "answered"),
        ("2026-05-01 10:00:00", "442012345678", 60, "answered"),
        ("2026-05-01 10:00:00", "491234567", 60, "answered"),
    ])
    r = _ratings(db)
    assert [(r[c].matched_prefix, r[c].cost) for c in ("c1", "c2", "c3", "c4")] == [
        ("4477", Decimal("0.1500")), ("447", Decimal("0.1000")), ("44", Decimal("0.0200")), ("4", Decimal("9.9900"))]


def test_a_rate_applies_from_its_effective_date_at_midnight_utc(db, admin):
    customer = _customer(db, admin)
    plan = _plan(db, admin, "prefix,rate,description,effective_date\n"
                            "44,0.02,UK,\n"               # from the beginning
                            "44,0.03,UK,2026-06-01\n"     # a price rise
                            "4477,0.50,Vodafone,2026-07-01\n")  # a longer prefix, not yet in force in June
    service.assign_rate_plan(db, admin, customer, plan)
    _calls(db, admin, customer, [
        ("2026-05-31 23:59:59", "447700900123", 60, "answered"),
        ("2026-06-01 00:00:00", "447700900123", 60, "answered"),
        ("2026-06-01T00:30:00+02:00", "447700900123", 60, "answered"),  # still 31 May in UTC
        ("2026-06-15 12:00:00", "447712345678", 60, "answered"),         # 4477 not in force: 44 applies
        ("2026-07-01 00:00:00", "447712345678", 60, "answered"),
    ])
    r = _ratings(db)
    assert [(r[c].matched_prefix, r[c].rate) for c in ("c1", "c2", "c3", "c4", "c5")] == [
        ("44", Decimal("0.020000")), ("44", Decimal("0.030000")), ("44", Decimal("0.020000")),
        ("44", Decimal("0.030000")), ("4477", Decimal("0.500000"))]


def test_calls_no_prefix_matches_stay_unrated_and_are_reported_not_priced_at_zero(db, admin):
    customer = _customer(db, admin)
    plan = _plan(db, admin, SEED_PLAN)
    service.assign_rate_plan(db, admin, customer, plan)
    report = _calls(db, admin, customer, [
        ("2026-05-01 10:00:00", "447700900123", 60, "answered"),
        ("2026-05-01 10:00:00", "33612345678", 60, "answered"),   # France: not in the plan
        ("2026-05-01 10:00:00", "33619876543", 60, "answered"),
        ("2026-05-01 10:00:00", "0207946000", 60, "answered"),    # a national number
    ])
    assert (report.rating.rated, report.rating.no_prefix, report.rating.no_plan) == (1, 3, 0)
    assert report.rating.missing_destinations == (("3361", 2), ("0207", 1))  # most first
    assert "3 matched no prefix of their plan" in report.rating.describe()
    r = _ratings(db)
    assert r["c2"] is None and r["c3"] is None and r["c4"] is None

    # Once the rate sheet covers France, rating again prices exactly the calls that were left.
    importer.import_rates(db, admin, plan, b"33,0.012,France\n")
    again = service.rate_cdrs(db, admin)
    assert (again.rated, again.no_prefix) == (2, 1)
    assert _ratings(db)["c2"].cost == Decimal("0.0120")


def test_customers_without_a_plan_use_the_default_plan_of_their_currency_or_stay_unrated(db, admin):
    dollars = _customer(db, admin, "Dollar Co", "USD")
    pounds = _customer(db, admin, "Pound Co", "GBP")
    plan = _plan(db, admin, SEED_PLAN)
    _calls(db, admin, dollars, [("2026-05-01 10:00:00", "447700900123", 60, "answered")], rate=False)
    lines = "call_id,call_start,called_number,duration,customer_id,answered\n" \
            f"p1,2026-05-01 10:00:00,447700900123,60,{pounds},yes\n"
    importer.import_cdrs(db, admin, lines.encode(), rate=False)
    report = service.rate_cdrs(db, admin, default_plan=plan)
    assert (report.rated, report.no_plan) == (1, 1)
    assert _ratings(db)["c1"].cost == Decimal("0.0200") and _ratings(db)["p1"] is None
    assert "1 belong to customers with no rate plan" in report.describe()


def test_a_plan_in_another_currency_cannot_be_given_to_a_customer(db, admin):
    pounds = _customer(db, admin, "Pound Co", "GBP")
    plan = _plan(db, admin, SEED_PLAN)
    with pytest.raises(service.ServiceError, match="pays in GBP; rate plan Standard International is priced in USD"):
        service.assign_rate_plan(db, admin, pounds, plan)


def test_rerating_after_a_rate_correction_reprices_the_window_and_only_it(db, admin):
    customer = _customer(db, admin)
    plan = _plan(db, admin, SEED_PLAN)
    service.assign_rate_plan(db, admin, customer, plan)
    _calls(db, admin, customer, [("2026-05-01 10:00:00", "447700900123", 60, "answered"),
                                 ("2026-05-02 10:00:00", "447700900123", 60, "answered")])
    importer.import_rates(db, admin, plan, b"44,0.05,UK\n", replace=True)
    report = service.rate_cdrs(db, admin, rerate=True, since=dt.datetime(2026, 5, 2, tzinfo=UTC))
    assert report.rated == 1
    r = _ratings(db)
    assert (r["c1"].cost, r["c2"].cost) == (Decimal("0.0200"), Decimal("0.0500"))


# --- the SQL against a straightforward reference ---


def _reference(rates, increment, minimum, number, start, seconds, disposition):
    """Every rate checked one by one: the longest prefix of the number in force on the call's UTC day,
    the latest such date; exact fractions, rounded half-up by hand."""
    best = None
    for prefix, day, rate in rates:
        if number.startswith(prefix) and day <= start.astimezone(UTC).date():
            if best is None or (len(prefix), day) > (len(best[0]), best[1]):
                best = (prefix, day, rate)
    if best is None:
        return None
    billable = 0
    if disposition == "answered" and seconds > 0:
        billable = max(minimum, ((seconds + increment - 1) // increment) * increment)
    exact = Fraction(billable) * Fraction(best[2]) / 60 * 10_000
    whole, rest = divmod(exact, 1)
    cost = Decimal(int(whole) + (1 if rest >= Fraction(1, 2) else 0)).scaleb(-4)
    return best[0], billable, cost


def test_set_based_rating_equals_a_straightforward_reference_on_a_random_sample(db, admin):
    rnd = random.Random(20261122)
    customer = _customer(db, admin)
    increment, minimum = 6, 30
    service.create_rate_plan(db, admin, name="Sample", currency="USD", billing_increment=increment,
                             minimum_duration=minimum)
    prefixes = set()
    while len(prefixes) < 400:
        prefixes.add(str(rnd.randint(1, 9)) + "".join(rnd.choices("0123456789", k=rnd.randint(0, 5))))
    rates = []
    for prefix in sorted(prefixes):
        for day in rnd.sample([dt.date(1970, 1, 1), dt.date(2026, 3, 1), dt.date(2026, 4, 15)], rnd.randint(1, 3)):
            rates.append((prefix, day, Decimal(rnd.randint(0, 2_000_000)).scaleb(-6)))
    sheet = "prefix,rate,description,effective_date\n" + "".join(
        f"{p},{r},d,{d.isoformat()}\n" for p, d, r in rates)
    importer.import_rates(db, admin, "Sample", sheet.encode())
    service.assign_rate_plan(db, admin, customer, "Sample")
    calls = []
    base = dt.datetime(2026, 2, 20, tzinfo=UTC)
    for _ in range(3000):
        prefix = rnd.choice(sorted(prefixes)) if rnd.random() < 0.9 else "0"
        number = (prefix + "".join(rnd.choices("0123456789", k=12)))[:rnd.randint(max(len(prefix), 4), 15)]
        start = base + dt.timedelta(seconds=rnd.randint(0, 90 * 86400))
        calls.append((start.isoformat(), number, rnd.choice([0, 1, 5, 6, 7, 29, 30, 31, 59, 60, 61, 3599]),
                      rnd.choice(["answered", "answered", "answered", "busy", "no_answer"])))
    _calls(db, admin, customer, calls)
    got = _ratings(db)
    mismatches = []
    for n, (start, number, seconds, disposition) in enumerate(calls, 1):
        dialled = rules.called_number(number)  # as imported: a leading 00 is the international prefix
        expected = _reference(rates, increment, minimum, dialled, dt.datetime.fromisoformat(start), seconds, disposition)
        row = got[f"c{n}"]
        actual = None if row is None else (row.matched_prefix, row.billable_seconds, row.cost)
        if actual != expected:
            mismatches.append((n, number, start, seconds, disposition, expected, actual))
    assert mismatches == []
    assert sum(1 for v in got.values() if v is None) > 0  # the sample does include unrated calls


def test_two_workstations_rating_at_once_price_every_call_exactly_once(db, admin):
    import threading

    customer = _customer(db, admin)
    plan = _plan(db, admin, SEED_PLAN)
    service.assign_rate_plan(db, admin, customer, plan)
    _calls(db, admin, customer, [("2026-05-01 10:00:00", f"4477009{n:05d}", 60, "answered") for n in range(2000)],
           rate=False)
    barrier, reports, errors = threading.Barrier(2), [], []

    def workstation():
        try:
            barrier.wait()
            reports.append(service.rate_cdrs(db, admin))
        except Exception as exc:  # noqa: BLE001 — any refusal fails the test below
            errors.append(exc)

    threads = [threading.Thread(target=workstation) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(r.rated for r in reports) == [0, 2000]  # the second waited, then found nothing left
    with db.read() as s:
        assert s.scalar(text("SELECT count(*) FROM cdr_rating")) == 2000


def test_the_database_keeps_ratings_pointing_at_a_plan_that_exists(db, admin):
    from omnidesk.db.integrity import execute_or_refuse
    from omnidesk.errors import ServiceError

    customer = _customer(db, admin)
    plan = _plan(db, admin, SEED_PLAN)
    service.assign_rate_plan(db, admin, customer, plan)
    _calls(db, admin, customer, [("2026-05-01 10:00:00", "447700900123", 60, "answered")])
    with pytest.raises(ServiceError, match="Rate plan Standard International has priced calls; it cannot be deleted"):
        with db.transaction() as s:
            execute_or_refuse(s, text("DELETE FROM customer_rate_plan; DELETE FROM rate_plan"))
    with pytest.raises(ServiceError, match="There is no rate plan 999"):
        with db.transaction() as s:
            execute_or_refuse(s, text("UPDATE cdr_rating SET rate_plan_id = 999"))
    with db.transaction() as s:  # without priced calls a plan can go
        s.execute(text("DELETE FROM cdr_rating; DELETE FROM customer_rate_plan; DELETE FROM rate_plan"))
        assert s.scalar(text("SELECT count(*) FROM rate_plan")) == 0

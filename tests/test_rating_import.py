"""Rate sheet and CDR imports: every row or none, and every bad row listed with its line and reason."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text

from omnidesk.auth import Actor
from omnidesk.customers import service as customers
from omnidesk.errors import NotFound, PermissionDenied, ValidationError
from omnidesk.rating import importer, reports, service
from omnidesk.rating.importer import ImportRejected


def _customer(db, admin, name="Acme Telecom", currency="USD"):
    c = customers.create_customer(db, admin, name=name, account_type="business", currency=currency)
    return customers.change_status(db, admin, c.id, "active").id


def _count(db, table: str) -> int:
    with db.read() as s:
        return s.scalar(text(f"SELECT count(*) FROM {table}"))


@pytest.fixture
def plan(db, admin):
    return service.create_rate_plan(db, admin, name="Standard International", currency="USD",
                                    billing_increment=6, minimum_duration=6).name


def test_a_rate_sheet_in_the_seed_format_is_imported_whole(db, admin, plan):
    report = importer.import_rates(db, admin, plan, b"prefix,rate,description\n1,0.015,USA\n44,0.02,UK\n234,0.025,Nigeria\n")
    assert (report.added, report.replaced) == (3, 0)
    rates = service.list_rates(db, admin, plan)
    assert [(r.prefix, r.rate, r.description, r.effective_date) for r in rates] == [
        ("1", Decimal("0.015000"), "USA", dt.date(1970, 1, 1)),
        ("234", Decimal("0.025000"), "Nigeria", dt.date(1970, 1, 1)),
        ("44", Decimal("0.020000"), "UK", dt.date(1970, 1, 1)),
    ]
    view = service.get_rate_plan(db, admin, plan)
    assert (view.prefixes, view.rates, view.billing_increment, view.minimum_duration) == (3, 3, 6, 6)


def test_a_rate_sheet_with_good_and_bad_rows_imports_nothing_and_lists_every_bad_row(db, admin, plan):
    sheet = (
        "prefix,rate,description,effective_date\n"
        "44,0.02,UK,\n"                  # 2 good
        "44a,0.02,UK typo,\n"            # 3 bad prefix digits
        "33,-0.01,France,\n"             # 4 negative rate
        "49,abc,Germany,\n"              # 5 not a number
        "234,0.025,Nigeria,\n"           # 6 good
        "44,0.03,UK again,\n"            # 7 duplicate of line 2
        "1,0.015,USA,31/01/2026\n"       # 8 bad date
        "x1,-2,Both wrong,\n"            # 9 two reasons on one line
        "44,0.03,UK rise,2026-06-01\n"   # 10 good: another date for 44
        "7,0.05\n"                       # 11 too few fields
    )
    with pytest.raises(ImportRejected) as caught:
        importer.import_rates(db, admin, plan, sheet.encode())
    problems = {p.line: p.reason for p in caught.value.problems}
    assert sorted(problems) == [3, 4, 5, 7, 8, 9, 11]
    assert "prefix '44a' must be digits only" in problems[3]
    assert "rate -0.01 is negative" in problems[4]
    assert "rate 'abc' is not a number" in problems[5]
    assert "prefix 44 from 1970-01-01 is also on line 2" in problems[7]
    assert "effective date '31/01/2026'" in problems[8]
    assert "prefix 'x1' must be digits only" in problems[9] and "rate -2 is negative" in problems[9]
    assert "2 fields, the header has 4" in problems[11]
    assert str(caught.value).startswith("Nothing was imported: 7 bad lines in 10 rows.")
    assert "line 3: prefix '44a'" in str(caught.value)
    assert _count(db, "rate_plan_rate") == 0


def test_a_rate_sheet_without_a_header_is_read_as_prefix_rate_description(db, admin, plan):
    report = importer.import_rates(db, admin, plan, b"+44,0.02,UK\n1,0.015,USA\n", effective_date=dt.date(2026, 6, 1))
    assert report.added == 2
    assert {(r.prefix, r.effective_date) for r in service.list_rates(db, admin, plan)} == {
        ("44", dt.date(2026, 6, 1)), ("1", dt.date(2026, 6, 1))}


def test_a_rate_already_in_the_plan_is_refused_unless_replacing_and_then_changed(db, admin, plan):
    importer.import_rates(db, admin, plan, b"prefix,rate\n44,0.02\n1,0.015\n")
    with pytest.raises(ImportRejected, match=r"line 2: prefix 44 from 1970-01-01 is already in Standard "
                                             r"International at 0.020000; import with replace"):
        importer.import_rates(db, admin, plan, b"prefix,rate\n44,0.03\n234,0.025\n")
    assert len(service.list_rates(db, admin, plan)) == 2
    report = importer.import_rates(db, admin, plan, b"prefix,rate\n44,0.03\n234,0.025\n", replace=True)
    assert (report.added, report.replaced) == (1, 1)
    assert {r.prefix: r.rate for r in service.list_rates(db, admin, plan)} == {
        "1": Decimal("0.015000"), "44": Decimal("0.030000"), "234": Decimal("0.025000")}


def test_the_rates_in_force_on_a_day_show_one_per_prefix(db, admin, plan):
    importer.import_rates(db, admin, plan, b"prefix,rate,effective_date\n44,0.02,\n44,0.03,2026-06-01\n44,0.04,2027-01-01\n")
    assert [r.rate for r in service.list_rates(db, admin, plan, in_force_on=dt.date(2026, 7, 1))] == [Decimal("0.030000")]
    assert len(service.list_rates(db, admin, plan)) == 3


def test_a_rate_sheet_with_unknown_or_missing_columns_names_them(db, admin, plan):
    with pytest.raises(ImportRejected) as caught:
        importer.import_rates(db, admin, plan, b"prefix,cost,colour\n44,0.02,red\n")
    reasons = [p.reason for p in caught.value.problems]
    assert any("column 'cost' is not known" in r for r in reasons)
    assert any("no rate column" in r for r in reasons)


def test_importing_into_a_plan_that_does_not_exist_says_so(db, admin, plan):
    with pytest.raises(NotFound, match="There is no rate plan 'standard international'; names are case-sensitive "
                                       "— did you mean 'Standard International'"):
        importer.import_rates(db, admin, "standard international", b"44,0.02\n")


def test_two_plans_cannot_share_a_name_and_a_plan_needs_a_sane_increment(db, admin, plan):
    with pytest.raises(ValidationError, match="already a rate plan named"):
        service.create_rate_plan(db, admin, name=plan, currency="USD")
    with pytest.raises(ValidationError) as caught:
        service.create_rate_plan(db, admin, name="Broken", currency="dollars", billing_increment=0, minimum_duration=-1)
    assert set(caught.value.errors) == {"currency", "billing_increment", "minimum_duration"}


# --- CDRs ---

CDR_HEADER = "call_id,call_start,caller,called_number,duration,customer_id,disposition\n"


def test_a_cdr_file_with_good_and_bad_rows_imports_nothing_and_lists_every_bad_row(db, admin, plan):
    customer = _customer(db, admin)
    cdrs = CDR_HEADER + (
        f"a1,2026-05-01 10:00:00,+15550100,+447700900123,60,{customer},ANSWERED\n"      # 2 good
        f"a2,yesterday,+15550100,+447700900123,60,{customer},ANSWERED\n"              # 3 bad start
        f"a3,2026-05-01 10:00:00,+15550100,+44-ABC,60,{customer},ANSWERED\n"           # 4 bad number
        f"a4,2026-05-01 10:00:00,+15550100,+447700900123,-5,{customer},ANSWERED\n"     # 5 negative duration
        f"a5,2026-05-01 10:00:00,+15550100,+447700900123,60,99999,ANSWERED\n"          # 6 unknown customer
        f"a6,2026-05-01 10:00:00,+15550100,+447700900123,60,{customer},HUNG\n"         # 7 bad disposition
        f"a1,2026-05-01 10:05:00,+15550100,+447700900123,60,{customer},ANSWERED\n"     # 8 call id repeated
        f"a8,2026-05-01 10:00:00,+15550100,+447700900123,60,{customer},NO ANSWER\n"    # 9 good
    )
    with pytest.raises(ImportRejected) as caught:
        importer.import_cdrs(db, admin, cdrs.encode())
    problems = {p.line: p.reason for p in caught.value.problems}
    assert sorted(problems) == [3, 4, 5, 6, 7, 8]
    assert "call start 'yesterday'" in problems[3]
    assert "called number '+44-ABC' must be digits" in problems[4]
    assert "duration -5 is negative" in problems[5]
    assert "there is no customer 99999" in problems[6]
    assert "disposition 'HUNG' is not one of" in problems[7]
    assert "call id a1 is also on line 2" in problems[8]
    assert _count(db, "cdr") == 0 and _count(db, "cdr_rating") == 0


def test_the_same_calls_cannot_be_imported_twice(db, admin, plan):
    customer = _customer(db, admin)
    cdrs = CDR_HEADER + f"a1,2026-05-01 10:00:00,+15550100,+447700900123,60,{customer},ANSWERED\n"
    importer.import_cdrs(db, admin, cdrs.encode())
    with pytest.raises(ImportRejected, match="line 2: call id a1 was already imported"):
        importer.import_cdrs(db, admin, cdrs.encode())
    assert _count(db, "cdr") == 1


def test_a_cdr_file_must_say_whether_calls_were_answered(db, admin, plan):
    with pytest.raises(ImportRejected, match="no disposition \\(or answered yes/no\\) column"):
        importer.import_cdrs(db, admin, b"call_start,called_number,duration,customer_id\n2026-05-01 10:00:00,44,60,1\n")


def test_imported_calls_are_rated_on_import_and_stored_with_prefix_billable_seconds_and_cost(db, admin, plan):
    customer = _customer(db, admin)
    importer.import_rates(db, admin, plan, b"44,0.02,UK\n")
    service.assign_rate_plan(db, admin, customer, plan)
    cdrs = "start,src,dst,billsec,account,answered\n" + \
           f"2026-05-01 10:00:00,+15550100,00447700900123,7,{customer},yes\n"
    report = importer.import_cdrs(db, admin, cdrs.encode())
    assert report.imported == 1 and report.rating.rated == 1
    with db.read() as s:
        row = s.execute(text("SELECT c.called_number, r.matched_prefix, r.billable_seconds, r.cost "
                             "FROM cdr c JOIN cdr_rating r ON r.cdr_id = c.id")).one()
    assert tuple(row) == ("447700900123", "44", 12, Decimal("0.0040"))


# --- permissions ---


def test_rate_plans_and_rating_need_their_permissions(db, admin, plan):
    customer = _customer(db, admin)
    viewer = Actor(None, "viewer", frozenset({"view_product"}))
    assert [p.name for p in service.list_rate_plans(db, viewer)] == [plan]
    with pytest.raises(PermissionDenied, match="viewer may not create rate plans \\(needs the update_product permission\\)"):
        service.create_rate_plan(db, viewer, name="Mine", currency="USD")
    with pytest.raises(PermissionDenied, match="needs the update_product permission"):
        importer.import_rates(db, viewer, plan, b"44,0.02\n")
    with pytest.raises(PermissionDenied, match="needs the update_customer permission"):
        service.assign_rate_plan(db, viewer, customer, plan)
    with pytest.raises(PermissionDenied, match="needs the create_customer_transaction permission"):
        importer.import_cdrs(db, viewer, (CDR_HEADER + f"a1,2026-05-01 10:00:00,1,44,6,{customer},answered\n").encode())
    with pytest.raises(PermissionDenied, match="needs the create_customer_transaction permission"):
        service.rate_cdrs(db, viewer)
    with pytest.raises(PermissionDenied, match="needs the view_report permission"):
        reports.usage_per_day(db, viewer, since=dt.date(2026, 5, 1), until=dt.date(2026, 5, 31))
    nobody = Actor(None, "nobody", frozenset())
    with pytest.raises(PermissionDenied, match="needs the view_product permission"):
        service.list_rate_plans(db, nobody)
    assert _count(db, "rate_plan_rate") == 0 and _count(db, "cdr") == 0


def test_imports_and_rating_are_written_to_the_activity_log(db, admin, plan):
    customer = _customer(db, admin)
    importer.import_rates(db, admin, plan, b"44,0.02,UK\n")
    service.assign_rate_plan(db, admin, customer, plan)
    importer.import_cdrs(db, admin, (CDR_HEADER + f"a1,2026-05-01 10:00:00,1,44777,6,{customer},answered\n"
                                                  f"a2,2026-05-01 10:00:00,1,33777,6,{customer},answered\n").encode())
    with db.read() as s:
        summaries = s.scalars(text("SELECT summary FROM activity_log WHERE entity_type IN ('rate_plan', 'cdr', "
                                   "'customer_rate_plan') ORDER BY id")).all()
    assert summaries[0].startswith("Created rate plan Standard International (USD, 6 s increments, 6 s minimum)")
    assert summaries[1] == "Imported 1 rate into Standard International from uploaded data (1 new, 0 replaced)"
    assert summaries[2] == f"Put Customer {customer} (Acme Telecom) on rate plan Standard International"
    assert summaries[3].startswith("Imported 2 calls from uploaded data. Rated 1 call; 1 left unrated: "
                                   "1 matched no prefix of their plan (numbers starting 3377… (1))")


def test_bad_lines_are_numbered_as_in_the_file_even_after_quoted_line_breaks_and_blank_lines(db, admin, plan):
    sheet = 'prefix,rate,description\n44,0.02,"UK\nall networks"\n\n33,x,France\n'
    with pytest.raises(ImportRejected) as caught:
        importer.import_rates(db, admin, plan, sheet.encode())
    assert [p.line for p in caught.value.problems] == [5]

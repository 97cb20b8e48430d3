"""`omnidesk rates|cdr|reports`: the rating workflow of seed 000 from a shell, with --json for scripts."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from omnidesk.customers import service as customers
from cli_helpers import run


@pytest.fixture(autouse=True)
def _cli_environment(env):
    """Every test here runs the CLI against its test database (conftest's env)."""


def test_a_plan_is_created_filled_from_a_rate_sheet_and_prices_imported_calls(db, admin, capsys, tmp_path):
    customer = customers.change_status(db, admin, customers.create_customer(
        db, admin, name="Acme", currency="USD").id, "active").id
    code, out, err = run(capsys, "rates", "create", "Standard International", "--currency", "USD",
                         "--increment", "6", "--minimum", "6")
    assert (code, err) == (0, "") and "Created rate plan Standard International" in out
    sheet = tmp_path / "rates.csv"
    sheet.write_text("prefix,rate,description\n1,0.015,USA\n44,0.02,UK\n234,0.025,Nigeria\n")
    code, out, err = run(capsys, "rates", "import", "Standard International", str(sheet))
    assert (code, err) == (0, "") and out.startswith("Imported 3 rates into Standard International: 3 new, 0 replaced")
    assert run(capsys, "rates", "assign", str(customer), "Standard International")[0] == 0
    calls = tmp_path / "cdrs.csv"
    calls.write_text("call_start,called_number,duration,customer_id,disposition\n"
                     f"2026-05-01 10:00:00,+447700900123,7,{customer},ANSWERED\n"
                     f"2026-05-01 10:05:00,+33612345678,60,{customer},ANSWERED\n")
    code, out, err = run(capsys, "cdr", "import", str(calls))
    assert code == 0
    assert "Rated 1 call; 1 left unrated: 1 matched no prefix of their plan (numbers starting 3361… (1))" in out

    code, out, _ = run(capsys, "report", "usage", "--since", "2026-05-01", "--until", "2026-05-01", "--json")
    assert code == 0
    assert json.loads(out) == [{"day": "2026-05-01", "calls": 2, "answered": 2, "minutes": "1.12",
                                "billable_minutes": "0.20", "cost": "0.0040", "unrated": 1}]
    code, out, _ = run(capsys, "reports", "asr", "--since", "2026-05-01", "--json")
    assert [(r["prefix"], r["asr"]) for r in json.loads(out)] == [("44", "100.0"), (None, "100.0")]
    code, out, _ = run(capsys, "reports", "low-balance")
    assert code == 0 and "Acme" in out


def test_a_bad_rate_sheet_prints_every_bad_line_and_imports_nothing(db, admin, capsys, tmp_path):
    assert run(capsys, "rates", "create", "Plan", "--currency", "USD")[0] == 0
    sheet = tmp_path / "rates.csv"
    sheet.write_text("prefix,rate,description\n44,0.02,UK\n4a,0.02,Typo\n33,-1,France\n")
    code, out, err = run(capsys, "rates", "import", "Plan", str(sheet))
    assert code == 1 and out == ""
    assert err.splitlines() == ["Nothing was imported: 2 bad lines in 3 rows.",
                                "line 3: prefix '4a' must be digits only, such as 44 or 2348",
                                "line 4: rate -1 is negative"]
    with db.read() as s:
        assert s.scalar(text("SELECT count(*) FROM rate_plan_rate")) == 0


def test_rating_names_a_plan_that_does_not_exist(db, capsys):
    code, out, err = run(capsys, "cdr", "rate", "--default-plan", "Nope")
    assert code == 1 and "There is no rate plan 'Nope'" in err

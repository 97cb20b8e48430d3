"""The `omnidesk` command, run in-process against the real embedded PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import psycopg
from sqlalchemy import text

from omnidesk import cli
from omnidesk.customers import service as cs
from omnidesk.db import models
from cli_helpers import run


def counts(db) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in ("customer", "contact", "activity_log")}


# --- basics ---


def test_version_prints_the_package_version(capsys):
    assert run(capsys, "--version") == (0, "omnidesk 0.1.0\n", "")


def test_a_usage_error_exits_2_with_argparse_message(env, capsys):
    code, out, err = run(capsys, "customers", "list", "--limit", "0")
    assert code == 2 and "--limit: must be at least 1" in err and out == ""


def test_the_clis_choices_are_the_models_and_services_choices():
    assert cli.ACCOUNT_TYPES == models.ACCOUNT_TYPES
    assert cli.PAYMENT_TYPES == models.PAYMENT_TYPES
    assert cli.CUSTOMER_STATUSES == models.CUSTOMER_STATUSES
    assert cli.SORT_KEYS == cs.SORT_COLUMNS


def test_without_a_command_the_desktop_app_starts_with_the_chosen_profile(env, capsys, monkeypatch):
    calls = []
    fake = types.ModuleType("omnidesk.ui.app")
    fake.run_gui = lambda argv, settings: calls.append((argv, settings)) or 7
    monkeypatch.setitem(sys.modules, "omnidesk.ui.app", fake)
    assert cli.main(["--profile", "store"]) == 7
    (argv, settings), = calls
    assert settings.profile == "store" and settings.database_url == env.url
    assert argv[1:] == ["--profile", "store"]


def test_the_gui_command_is_the_same_as_no_command(env, capsys, monkeypatch):
    calls = []
    fake = types.ModuleType("omnidesk.ui.app")
    fake.run_gui = lambda argv, settings: calls.append((argv, settings.profile)) or 0
    monkeypatch.setitem(sys.modules, "omnidesk.ui.app", fake)
    assert cli.main(["gui", "--profile", "broadcast"]) == 0
    assert cli.main(["--profile", "store", "gui"]) == 0
    assert [(argv[1:], profile) for argv, profile in calls] == [
        (["--profile", "broadcast"], "broadcast"), (["--profile", "store"], "store")
    ]


def test_commands_do_not_load_qt(env, tmp_path):
    script = "import sys, omnidesk.cli as c; code = c.main(['customers', 'list']); print(code, 'PySide6' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "0 False", result.stderr


# --- configuration and database errors ---


def test_a_config_file_that_is_not_toml_is_a_clear_message(env, capsys, tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text("database_url = \n", encoding="utf-8")
    monkeypatch.setenv("OMNIDESK_CONFIG", str(config))
    code, out, err = run(capsys, "customers", "list")
    assert code == 1 and out == ""
    assert err.startswith(f"{config} is not valid TOML") and "Traceback" not in err


def test_a_config_file_with_an_unknown_setting_names_it(env, capsys, tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text('databse_url = "postgresql://x/y"\n', encoding="utf-8")
    monkeypatch.setenv("OMNIDESK_CONFIG", str(config))
    code, out, err = run(capsys, "db", "status")
    assert code == 1
    assert err == f"{config}: unknown setting(s) databse_url; known: data_dir, database_url, map_tile_url, profile\n"


def test_a_map_tile_url_that_is_not_a_tile_template_is_refused_by_name(env, capsys, tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text('map_tile_url = "tiles.example.net/osm"\n', encoding="utf-8")
    monkeypatch.setenv("OMNIDESK_CONFIG", str(config))
    code, out, err = run(capsys, "db", "status")
    assert code == 1 and out == ""
    assert err.startswith("map_tile_url must be an http(s) tile URL with {z}, {x} and {y} in it")


def test_an_unreachable_database_is_a_message_not_a_traceback(env, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("OMNIDESK_DATABASE_URL", f"postgresql://postgres@/omnidesk?host={tmp_path / 'no-server'}")
    code, out, err = run(capsys, "customers", "list")
    assert code == 1 and err.startswith("The database is not reachable (") and "Traceback" not in err


def test_db_status_of_a_current_database(env, capsys):
    code, out, err = run(capsys, "db", "status")
    _, head, _ = env.schema_state()
    lines = dict(line.split(":", 1) for line in out.splitlines())
    assert code == 0 and err == ""
    assert lines["Database"].strip() == env.display_name
    assert lines["Server"].strip() == "shared"
    assert lines["Revision"].strip() == head and lines["Head"].strip() == head
    assert lines["State"].strip() == "current"
    assert lines["URL"].strip().startswith("postgresql+psycopg://postgres@/") and ":@" not in lines["URL"]


def test_db_status_of_a_database_from_a_newer_omnidesk_exits_1(env, capsys):
    with env.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    code, out, err = run(capsys, "db", "status")
    assert code == 1 and "Revision:  9999_future" in out and "State:     too new" in out


def test_db_upgrade_migrates_an_empty_database_then_says_it_is_current(env, pg_root, capsys, monkeypatch):
    admin_conninfo, _ = pg_root
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "cli_empty" WITH (FORCE)')
        conn.execute('CREATE DATABASE "cli_empty"')
    try:
        monkeypatch.setenv("OMNIDESK_DATABASE_URL", admin_conninfo.replace("/postgres?", "/cli_empty?"))
        assert run(capsys, "db", "status")[1].splitlines()[-1] == "State:     empty (run `omnidesk db upgrade`)"
        code, out, _ = run(capsys, "db", "upgrade")
        assert code == 0 and out.startswith("Upgraded cli_empty (embedded) from an empty database to ")
        code, out, _ = run(capsys, "db", "upgrade")
        assert code == 0 and out.startswith("cli_empty (embedded) is already current")
    finally:
        with psycopg.connect(admin_conninfo, autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "cli_empty" WITH (FORCE)')


def test_db_stop_with_a_shared_database_has_nothing_to_stop(env, capsys):
    assert run(capsys, "db", "stop") == (0, "OmniDesk is set to use a shared database server; there is no embedded server to stop.\n", "")


def test_db_stop_when_the_embedded_server_is_not_running_says_so(env, capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("OMNIDESK_DATABASE_URL")
    code, out, _ = run(capsys, "db", "stop")
    assert code == 0 and out == f"The embedded PostgreSQL in {tmp_path / 'data' / 'pgdata'} is not running.\n"


# --- customers ---


def test_a_created_customer_round_trips_through_list_and_show(env, capsys):
    code, out, err = run(
        capsys, "customers", "create", "--name", "Harper & Cole Ltd", "--type", "business", "--payment", "postpaid",
        "--credit-limit", "2500", "--email", "Ops@Harper-Cole.example", "--phone", "+44 7700 900123", "--json",
    )
    assert code == 0, err
    created = json.loads(out)
    assert created["status"] == "pending" and created["credit_limit"] == "2500.00"
    assert [(c["contact_type"], c["first_name"], c["email"], c["phone"]) for c in created["contacts"]] == [
        ("primary", "Harper", "Ops@harper-cole.example", "+447700900123")
    ]

    code, out, _ = run(capsys, "customers", "list", "--search", "harper-cole", "--json")
    listed = json.loads(out)
    assert code == 0 and [row["id"] for row in listed] == [created["id"]]
    assert listed[0]["email"] == "Ops@harper-cole.example" and listed[0]["credit_limit"] == "2500.00"
    assert listed[0]["created_at"] == created["created_at"]  # ISO 8601 both ways

    code, out, _ = run(capsys, "customers", "show", str(created["id"]), "--json")
    shown = json.loads(out)
    assert code == 0 and shown == created


def test_the_plain_list_is_an_aligned_table_with_a_count(env, admin, capsys):
    for name in ("Alpha Ltd", "Beta Communications Ltd"):
        cs.create_customer(env, admin, name=name, credit_limit="12345.5")
    code, out, _ = run(capsys, "customers", "list", "--sort", "name", "--desc")
    header, first, second, blank, footer = out.splitlines()
    assert code == 0 and blank == ""
    assert header.split() == ["ID", "Name", "Type", "Status", "Payment", "Credit", "E-mail", "Phone"]
    assert "Beta Communications Ltd" in first and "Alpha Ltd" in second
    assert first.index("individual") == second.index("individual") == header.index("Type")
    assert first.rstrip().endswith("12,345.50 GBP")
    assert footer == "1–2 of 2 customers"


def test_show_lists_contacts_sites_attributes_and_tags(env, admin, capsys):
    c = cs.create_customer(env, admin, name="Ann Lee", primary_contact={"first_name": "Ann", "email": "ann@example.net"})
    cs.add_site(env, admin, c.id, name="Home", city="York", postcode="YO1 7HH", latitude="53.9590", longitude="-1.0815")
    cs.add_attribute(env, admin, c.id, "support_tier", "gold")
    cs.add_tag(env, admin, c.id, label="VIP Customer", colour="FFD700")
    code, out, _ = run(capsys, "customers", "show", str(c.id))
    assert code == 0
    assert out.startswith(f"Customer {c.id} (Ann Lee)\n  Type:            individual\n  Status:          pending (can become active)")
    assert "ann@example.net" in out and "YO1 7HH" in out and "53.959000, -1.081500" in out
    assert "  support_tier = gold" in out and "  VIP Customer  #FFD700  active" in out


def test_showing_a_missing_customer_exits_1(env, capsys):
    assert run(capsys, "customers", "show", "424242") == (1, "", "There is no customer 424242.\n")


def test_create_with_a_bad_email_names_the_option_and_writes_nothing(env, capsys):
    before = counts(env)
    code, out, err = run(capsys, "customers", "create", "--name", "Bad Mail", "--email", "not-an-email", "--phone", "12")
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "email: 'not-an-email' is not a valid e-mail address: An email address must have an @-sign.",
        "phone: '12' is not an international phone number; write it in E.164 form with the country code, "
        "e.g. +447700900123.",
    ]
    assert counts(env) == before


def test_create_with_an_email_and_no_first_name_uses_the_names_first_word(env, capsys):
    code, out, _ = run(capsys, "customers", "create", "--name", "Zoe Quinn", "--email", "zoe@example.net", "--json")
    assert code == 0
    assert [(c["first_name"], c["last_name"]) for c in json.loads(out)["contacts"]] == [("Zoe", "")]


def test_list_filters_by_status_and_pages(env, admin, capsys):
    ids = [cs.create_customer(env, admin, name=f"Customer {i:02d}").id for i in range(5)]
    cs.change_status(env, admin, ids[0], "active")
    code, out, _ = run(capsys, "customers", "list", "--status", "active", "--json")
    assert [row["id"] for row in json.loads(out)] == [ids[0]]
    code, out, _ = run(capsys, "customers", "list", "--sort", "id", "--limit", "2", "--offset", "2", "--json")
    assert [row["id"] for row in json.loads(out)] == ids[2:4]
    code, out, _ = run(capsys, "customers", "list", "--sort", "id", "--limit", "2", "--offset", "2")
    assert out.splitlines()[-1] == "3–4 of 5 customers"


# --- demo data ---


def test_demo_data_command_loads_then_if_empty_leaves_the_database_alone(env, capsys):
    code, out, _ = run(capsys, "demo-data", "--customers", "25", "--seed", "3")
    assert code == 0 and out.startswith("Loaded 25 demo customers (ids 1–25) with ")
    code, out, _ = run(capsys, "demo-data", "--customers", "25", "--if-empty")
    assert code == 0 and out == "The database already has customers; --if-empty left it unchanged.\n"
    assert counts(env)["customer"] == 25

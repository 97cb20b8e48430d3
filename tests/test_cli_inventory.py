"""`omnidesk inventory …` and `omnidesk products …`, run through cli.main against the real embedded PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import text

from omnidesk import cli_inventory
from omnidesk.catalog import models as catalog_models
from omnidesk.customers import service as cs
from omnidesk.inventory import labels, rules
from omnidesk.inventory import service as inv
from cli_helpers import run


@pytest.fixture
def env(env, tmp_path, monkeypatch):
    """conftest's CLI environment plus a playbook folder."""
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "play_local_mobile_sim.yaml").write_text("- hosts: localhost\n", encoding="utf-8")
    monkeypatch.setenv("OMNIDESK_PLAYBOOKS_DIR", str(playbooks))
    return env


def run_json(capsys, *argv: str):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def iccid(n: int) -> str:
    body = f"8944{n:015d}"
    return next(body + d for d in "0123456789" if rules.luhn_ok(body + d))


def sim_lines(count: int, start: int = 1) -> list[str]:
    return ["ICCID,IMSI,SIM Type"] + [f"{iccid(n)},23415{n:010d},Physical" for n in range(start, start + count)]


def write(tmp_path, lines: list[str], name: str = "box.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def count(db, table: str) -> int:
    with db.engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def imported(env, capsys, tmp_path, n: int = 5) -> list[int]:
    code, out, err = run(capsys, "inventory", "import", str(write(tmp_path, sim_lines(n))), "--template", "SIM Card",
                         "--location", "Store 1")
    assert code == 0, err
    return [row["id"] for row in run_json(capsys, "inventory", "list", "--template", "SIM Card")]


# --- parsing ---


def test_the_clis_choices_are_the_models_choices():
    assert cli_inventory.ITEM_STATES == rules.ITEM_STATES
    assert cli_inventory.ITEMTEXT_COUNT == rules.ITEMTEXT_COUNT
    assert cli_inventory.PRODUCT_CATEGORIES == catalog_models.CATEGORIES
    assert cli_inventory.AUTO_RENEW == catalog_models.AUTO_RENEW
    assert cli_inventory.LABEL_CONTENTS == labels.CONTENTS


def test_an_unknown_state_is_a_usage_error_naming_the_choices(env, capsys):
    code, out, err = run(capsys, "inventory", "list", "--state", "broken")
    assert code == 2 and "invalid choice: 'broken'" in err and "out_of_service" in err


def test_the_installed_command_lists_the_templates(env):
    """The real `python -m omnidesk` process, not only cli.main."""
    result = subprocess.run([sys.executable, "-m", "omnidesk", "inventory", "template", "list"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    names = [line.split("  ")[1].strip() for line in result.stdout.splitlines()[1:] if line.strip()]
    assert sorted(names) == ["Fixed Wireless CPE", "GPON ONT", "Mobile Number", "SIM Card"]


# --- templates ---


def test_template_list_shows_the_seeded_templates_with_stock_counts(env, capsys, tmp_path):
    imported(env, capsys, tmp_path, 3)
    templates = {t["name"]: t for t in run_json(capsys, "inventory", "template", "list")}
    assert set(templates) == {"SIM Card", "Mobile Number", "Fixed Wireless CPE", "GPON ONT"}
    assert (templates["SIM Card"]["in_stock"], templates["SIM Card"]["total"]) == (3, 3)
    assert templates["GPON ONT"]["in_stock"] == 0
    code, out, err = run(capsys, "inventory", "template", "list")
    assert code == 0 and out.splitlines()[0].split()[:4] == ["ID", "Name", "In", "stock"]
    sim = next(line for line in out.splitlines() if "SIM Card" in line)
    assert "ICCID" in sim and " 3 " in sim


def test_template_add_with_labels_and_identifier_then_a_duplicate_is_refused(env, capsys):
    code, out, err = run(capsys, "inventory", "template", "add", "eSIM Profile", "--label", "1=EID",
                         "--label", "2=Activation Code", "--identifier", "1", "--retail-cost", "2.50")
    assert code == 0, err
    assert "Added inventory template eSIM Profile" in out and "Item text 1:  EID" in out
    created = inv.get_template(env, _admin(env), "eSIM Profile")
    assert created.labels[:2] == ("EID", "Activation Code") and created.unique_fields == (1,)
    assert str(created.retail_cost) == "2.50"
    code, out, err = run(capsys, "inventory", "template", "add", "eSIM Profile")
    assert code == 1 and "NAME: There is already an inventory template named 'eSIM Profile'" in err


def test_template_add_refuses_a_label_that_is_not_n_equals_text(env, capsys):
    code, out, err = run(capsys, "inventory", "template", "add", "Router", "--label", "Serial")
    assert code == 1 and "--label takes N=TEXT" in err
    assert "Router" not in run(capsys, "inventory", "template", "list")[1]


def _admin(db):
    from omnidesk.auth import builtin_admin

    return builtin_admin(db)


# --- import ---


def test_a_clean_csv_imports_every_line(env, capsys, tmp_path):
    path = write(tmp_path, sim_lines(25))
    code, out, err = run(capsys, "inventory", "import", str(path), "--template", "SIM Card", "--location", "Warehouse A")
    assert code == 0, err
    assert out.startswith("Imported 25 SIM Card items (items ")
    rows = run_json(capsys, "inventory", "list", "--template", "SIM Card", "--limit", "1000")
    assert len(rows) == 25 and {r["item_location"] for r in rows} == {"Warehouse A"}
    assert {r["itemtext1"] for r in rows} == {iccid(n) for n in range(1, 26)}


def test_a_csv_with_bad_lines_imports_nothing_and_prints_every_bad_line_with_its_reason(env, capsys, tmp_path):
    lines = sim_lines(60)
    good = iccid(4)
    lines[4] = f"{good[:-1]}{(int(good[-1]) + 1) % 10},234150000000004,Physical"  # line 5: wrong check digit
    lines[11] = f"{iccid(3)},234150000000011,Physical"       # line 12: the ICCID of line 4 again
    lines[19] = f"{iccid(19)},23415ABC,Physical"             # line 20: IMSI not digits
    for n in range(30, 55):                                   # lines 31–55: 25 more bad IMSIs, past the 20 a message holds
        lines[n] = f"{iccid(n)},1,Physical"
    before = count(env, "inventory_item")
    code, out, err = run(capsys, "inventory", "import", str(write(tmp_path, lines)), "--template", "SIM Card")
    assert code == 1 and out == ""
    report = err.splitlines()
    assert report[0] == f"Nothing was imported from {tmp_path / 'box.csv'}: 28 bad lines in 60 rows."
    numbers = [int(line.split(":")[0].removeprefix("line ")) for line in report[1:]]
    assert numbers == [5, 12, 20, *range(31, 56)]
    assert "check digit" in report[1].lower() or "luhn" in report[1].lower()
    assert "line 4" in report[2]  # the duplicate names the line it repeats
    assert "IMSI" in report[3]
    assert count(env, "inventory_item") == before == 0


def test_import_into_an_unknown_template_is_refused_and_imports_nothing(env, capsys, tmp_path):
    code, out, err = run(capsys, "inventory", "import", str(write(tmp_path, sim_lines(3))), "--template", "sim card")
    assert code == 1 and "sim card" in err and "SIM Card" in err
    assert count(env, "inventory_item") == 0


def test_import_of_a_missing_file_says_so(env, capsys, tmp_path):
    code, out, err = run(capsys, "inventory", "import", str(tmp_path / "nope.csv"), "--template", "SIM Card")
    assert code == 1 and "nope.csv cannot be read" in err


# --- list and show ---


def test_list_filters_by_state_location_assignment_and_identifier_prefix(env, capsys, tmp_path):
    ids = imported(env, capsys, tmp_path, 12)
    admin = _admin(env)
    customer = cs.change_status(env, admin, cs.create_customer(env, admin, name="Ada Shop").id, "active")
    picked = [p.id for p in inv.allocate(env, admin, "SIM Card", 2, customer_id=customer.id)]
    inv.change_state(env, admin, ids[0], "out_of_service", reason="porting quarantine")

    assert sorted(r["id"] for r in run_json(capsys, "inventory", "list", "--assigned")) == sorted(picked)
    assert len(run_json(capsys, "inventory", "list", "--unassigned")) == 10
    assert [r["id"] for r in run_json(capsys, "inventory", "list", "--state", "out_of_service")] == [ids[0]]
    assert len(run_json(capsys, "inventory", "list", "--state", "new", "--location", "Store 1")) == 9
    assert run_json(capsys, "inventory", "list", "--location", "Store 2") == []
    assert [r["itemtext1"] for r in run_json(capsys, "inventory", "list", "--search", iccid(11)[:18])] == [iccid(10), iccid(11), iccid(12)]
    assert len(run_json(capsys, "inventory", "list", "--limit", "4")) == 4

    code, out, err = run(capsys, "inventory", "list", "--assigned")
    assert code == 0 and f"{customer.id} Ada Shop" in out and "1–2 of 2 items" in out
    code, out, err = run(capsys, "inventory", "list", "--limit", "5")
    assert code == 0 and "1–5 of 12 items" in out
    code, out, err = run(capsys, "inventory", "list", "--location", "Nowhere")
    assert (code, out) == (0, "No inventory items match.\n")


def test_list_of_an_unknown_template_names_the_near_miss(env, capsys):
    code, out, err = run(capsys, "inventory", "list", "--template", "SIM card")
    assert code == 1 and out == ""
    assert "There is no inventory template named 'SIM card'" in err and "did you mean 'SIM Card'" in err


def test_show_prints_identifiers_and_history_and_json_has_them(env, capsys, tmp_path):
    item_id = imported(env, capsys, tmp_path, 1)[0]
    code, out, err = run(capsys, "inventory", "show", str(item_id))
    assert code == 0, err
    assert out.splitlines()[0] == f"SIM Card {iccid(1)} (item {item_id})"
    assert "ICCID:" in out and "234150000000001" in out and "Store 1" in out
    assert "History (1)" in out and "imported from box.csv" in out
    data = run_json(capsys, "inventory", "show", str(item_id))
    assert data["itemtexts"]["itemtext1"] == iccid(1) and data["labels"]["itemtext2"] == "IMSI"
    assert [(h["from_state"], h["to_state"]) for h in data["history"]] == [(None, "new")]
    assert "management_password" not in json.dumps(data).replace("has_management_password", "")


def test_show_of_a_missing_item_exits_1(env, capsys):
    assert run(capsys, "inventory", "show", "999") == (1, "", "There is no inventory item 999.\n")


# --- state changes ---


def test_a_legal_state_change_is_reported_and_recorded_in_the_history(env, capsys, tmp_path):
    item_id = imported(env, capsys, tmp_path, 1)[0]
    code, out, err = run(capsys, "inventory", "set-state", str(item_id), "internal_use", "--reason", "demo phone")
    assert code == 0, err
    assert out == f"SIM Card {iccid(1)} (item {item_id}): New → Internal Use (demo phone).\n"
    history = run_json(capsys, "inventory", "show", str(item_id))["history"]
    assert [(h["from_state"], h["to_state"], h["reason"]) for h in history][-1] == ("new", "internal_use", "demo phone")


def test_an_illegal_state_change_is_refused_naming_both_states_and_changes_nothing(env, capsys, tmp_path):
    item_id = imported(env, capsys, tmp_path, 1)[0]
    assert run(capsys, "inventory", "set-state", str(item_id), "internal_use")[0] == 0
    code, out, err = run(capsys, "inventory", "set-state", str(item_id), "new")
    assert code == 1 and out == ""
    assert "An item in state Internal Use cannot become New" in err
    code, out, err = run(capsys, "inventory", "set-state", str(item_id), "damaged")
    assert code == 1 and "Internal Use cannot become Damaged" in err
    data = run_json(capsys, "inventory", "show", str(item_id))
    assert data["item_state"] == "internal_use" and len(data["history"]) == 2


def test_assigned_is_not_reached_by_set_state(env, capsys, tmp_path):
    item_id = imported(env, capsys, tmp_path, 1)[0]
    code, out, err = run(capsys, "inventory", "set-state", str(item_id), "assigned")
    assert code == 1 and "becomes Assigned by picking it for a customer" in err
    assert run_json(capsys, "inventory", "show", str(item_id))["item_state"] == "new"


# --- labels ---


def test_labels_write_a_pdf_of_the_templates_items(env, capsys, tmp_path):
    imported(env, capsys, tmp_path, 3)
    out_file = tmp_path / "labels.pdf"
    code, out, err = run(capsys, "inventory", "labels", "--template", "SIM Card", "--state", "new", "--out", str(out_file))
    assert code == 0, err
    assert out.startswith(f"Wrote SIM Card labels to {out_file}")
    assert out_file.read_bytes().startswith(b"%PDF")


def test_labels_for_an_unknown_template_or_no_items_write_no_file(env, capsys, tmp_path):
    out_file = tmp_path / "labels.pdf"
    code, out, err = run(capsys, "inventory", "labels", "--template", "Nope", "--out", str(out_file))
    assert code == 1 and "There is no inventory template named 'Nope'" in err and not out_file.exists()
    code, out, err = run(capsys, "inventory", "labels", "--template", "GPON ONT", "--out", str(out_file))
    assert code == 1 and "There are no items to print labels for" in err and not out_file.exists()
    code, out, err = run(capsys, "inventory", "labels", "--template", "SIM Card", "--out", str(tmp_path / "no" / "l.pdf"))
    assert code == 1 and "does not exist" in err


# --- products ---


def test_products_add_list_show_and_clone(env, capsys):
    code, out, err = run(
        capsys, "products", "add", "--name", "Mobile 20GB", "--category", "standalone", "--service-type", "mobile",
        "--retail-cost", "15", "--wholesale-cost", "5", "--contract-days", "30", "--feature", "20 GB data",
        "--feature", "Unlimited calls", "--playbook", "play_local_mobile_sim", "--playbook-vars", '{"data_gb": 20}',
        "--inventory-type", "SIM Card", "--inventory-type", "Mobile Number", "--auto-renew", "true", "--enabled",
    )
    assert code == 0, err
    assert out.startswith("Added product Mobile 20GB (id ")
    listed = run_json(capsys, "products", "list")
    assert [(p["name"], p["slug"], p["inventory_types"]) for p in listed] == [
        ("Mobile 20GB", "mobile-20gb", ["SIM Card", "Mobile Number"])
    ]
    product = run_json(capsys, "products", "show", "mobile-20gb")
    assert product["provisioning_play"] == "play_local_mobile_sim" and product["provisioning_json_vars"] == {"data_gb": 20}
    assert product["features"] == ["20 GB data", "Unlimited calls"] and product["retail_cost"] == "15.00"
    assert product["margin"]["profit"] == "10.00" and product["enabled"] is True
    code, out, err = run(capsys, "products", "show", str(product["id"]))
    assert code == 0 and "Inventory:" in out and "SIM Card, Mobile Number" in out and "- 20 GB data" in out

    code, out, err = run(capsys, "products", "clone", str(product["id"]))
    assert code == 0 and "as Mobile 20GB_clone" in out and "disabled" in out
    clone = run_json(capsys, "products", "show", "mobile-20gb-clone")
    assert clone["enabled"] is False and clone["inventory_types"] == ["SIM Card", "Mobile Number"]
    assert [p["name"] for p in run_json(capsys, "products", "list", "--available")] == ["Mobile 20GB"]


def test_products_add_from_a_json_file_with_options_winning(env, capsys, tmp_path):
    spec = tmp_path / "product.json"
    spec.write_text(json.dumps({"product_name": "Fibre 500", "category": "standalone", "service_type": "internet",
                                "retail_cost": "40", "provisioning_json_vars": {"speed": 500},
                                "inventory_items_list": "['GPON ONT']"}), encoding="utf-8")
    created = run_json(capsys, "products", "add", "--file", str(spec), "--retail-cost", "45")
    assert (created["name"], created["retail_cost"], created["inventory_types"]) == ("Fibre 500", "45.00", ["GPON ONT"])
    assert created["provisioning_json_vars"] == {"speed": 500}


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--playbook-vars", '{"days": 30,}', "--playbook-vars: Provisioning variables are not valid JSON"),
    ("--playbook-vars", "[1, 2]", "--playbook-vars: Provisioning variables must be a JSON object"),
    ("--playbook", "play_missing", "--playbook: There is no playbook play_missing in "),
    ("--inventory-type", "Router", "--inventory-type: There is no inventory template named 'Router'"),
    ("--inventory-type", "sim card", "did you mean 'SIM Card'"),
])
def test_products_add_refuses_bad_provisioning_fields_and_creates_nothing(env, capsys, option, value, message):
    code, out, err = run(capsys, "products", "add", "--name", "Broken", "--category", "standalone",
                         "--service-type", "mobile", option, value)
    assert code == 1 and out == ""
    assert message in err
    assert count(env, "product") == 0


def test_products_add_refuses_unreadable_input_before_the_database(env, capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{name: 1}", encoding="utf-8")
    code, out, err = run(capsys, "products", "add", "--file", str(bad))
    assert code == 1 and "bad.json is not JSON" in err
    code, out, err = run(capsys, "products", "add", "--category", "standalone")
    assert code == 1 and "A product needs a name" in err
    assert count(env, "product") == 0


def test_products_show_and_clone_of_a_missing_product_exit_1(env, capsys):
    assert run(capsys, "products", "show", "404") == (1, "", "There is no product 404.\n")
    assert run(capsys, "products", "clone", "no-such") == (1, "", "There is no product no-such.\n")

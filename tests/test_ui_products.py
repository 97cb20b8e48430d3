"""The Products tab and the five-tab product editor: listing, search, add, the service's refusals shown
at their field with nothing saved, clone, enable and disable."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from omnidesk.catalog import service as catalog
from omnidesk.ui.products.editor import ProductDialog
from omnidesk.ui.products.workspace import ProductsWorkspace

pytestmark = pytest.mark.usefixtures("settled_gui")


@pytest.fixture
def plays(tmp_path):
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "play_local_mobile_sim.yaml").write_text("- hosts: localhost\n")
    return folder


def mobile_plan(db, admin, plays, **overrides):
    values = dict(name="Prepaid Mobile 20GB", category="standalone", service_type="mobile", retail_cost="15.00",
                  wholesale_cost="5.00", contract_days=30, provisioning_play="play_local_mobile_sim",
                  provisioning_json_vars={"days": 30}, inventory_types=["SIM Card", "Mobile Number"])
    values.update(overrides)
    return catalog.create_product(db, admin, playbooks_dir=plays, **values)


def product_rows(db) -> list[tuple]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT id, name, provisioning_play, provisioning_json_vars::text, version FROM product ORDER BY id"))]


@pytest.fixture
def workspace(qtbot, db, admin, plays):
    mobile_plan(db, admin, plays)
    mobile_plan(db, admin, plays, name="5GB Data Boost", category="addon", inventory_types=[], contract_days=7)
    w = ProductsWorkspace(db, admin, playbooks_dir=plays)
    qtbot.addWidget(w)
    w.resize(1300, 700)
    w.show()
    qtbot.waitUntil(lambda: w.table.rowCount() == 2, timeout=10_000)
    return w


def names_shown(ws) -> list[str]:
    return [ws.table.item(r, 0).text() for r in range(ws.table.rowCount())]


def test_products_are_listed_searched_and_filtered_by_category(qtbot, workspace):
    ws = workspace
    assert names_shown(ws) == ["5GB Data Boost", "Prepaid Mobile 20GB"]
    row = names_shown(ws).index("Prepaid Mobile 20GB")
    assert ws.table.item(row, 9).text() == "SIM Card, Mobile Number"
    assert ws.table.item(row, 8).text() == "Prompt"
    with qtbot.waitSignal(ws.loaded, timeout=10_000):
        ws.search.setText("boost")
    assert names_shown(ws) == ["5GB Data Boost"]
    ws.search.clear()
    with qtbot.waitSignal(ws.loaded, timeout=10_000):
        ws.category_filter.setCurrentIndex(ws.category_filter.findData("standalone"))
    assert names_shown(ws) == ["Prepaid Mobile 20GB"]


def test_the_editor_has_the_five_tabs_of_the_source_with_every_field(qtbot, workspace):
    ws = workspace
    ws.table.selectRow(names_shown(ws).index("Prepaid Mobile 20GB"))
    dialog = ws.edit_product()
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == [
        "Basic Info", "Pricing", "Configuration", "Provisioning", "Availability"]
    for key, tab in dialog._tab_of.items():
        assert dialog._fields[key].widget.isVisibleTo(dialog.tabs.widget(tab)), key
    assert dialog.name.text() == "Prepaid Mobile 20GB"
    assert dialog.inventory_types.edit.text() == "SIM Card, Mobile Number"
    assert dialog.costs["retail_cost"].text() == "15.00"
    assert "markup 200 %" in dialog.margin_label.text()
    dialog.reject()


def test_invalid_playbook_variables_are_refused_at_the_field_and_nothing_is_saved(qtbot, workspace, db):
    ws = workspace
    before = product_rows(db)
    ws.table.selectRow(names_shown(ws).index("Prepaid Mobile 20GB"))
    dialog = ws.edit_product()
    dialog.tabs.setCurrentIndex(3)
    dialog.json_vars.setPlainText('{"days": 30,}')
    assert "not valid JSON" in dialog.error_text("provisioning_json_vars")
    assert not dialog.save_button.isEnabled()
    dialog.save()
    qtbot.wait(200)
    assert dialog.isVisible()
    dialog.json_vars.setPlainText('["days", 30]')
    assert "must be a JSON object" in dialog.error_text("provisioning_json_vars")
    assert product_rows(db) == before
    dialog.reject()


def test_a_playbook_that_does_not_exist_is_refused_by_the_service_and_nothing_changes(qtbot, workspace, db):
    ws = workspace
    before = product_rows(db)
    ws.table.selectRow(names_shown(ws).index("Prepaid Mobile 20GB"))
    dialog = ws.edit_product()
    dialog.name.setText("Prepaid Mobile 25GB")
    dialog.play.setText("play_does_not_exist")
    assert dialog.save_button.isEnabled(), "only the service knows which playbooks exist"
    dialog.save()
    qtbot.waitUntil(lambda: dialog.error_text("provisioning_play") != "", timeout=10_000)
    assert "There is no playbook play_does_not_exist" in dialog.error_text("provisioning_play")
    assert dialog.tab_with_error() == "Provisioning", "the editor turns to the tab of the refused field"
    assert dialog.isVisible() and dialog.name.text() == "Prepaid Mobile 25GB", "what was typed is kept"
    assert product_rows(db) == before, "nothing was saved, not even the new name"
    dialog.reject()


def test_an_inventory_type_without_a_template_is_refused_and_no_product_is_added(qtbot, workspace, db):
    ws = workspace
    before = product_rows(db)
    dialog = ws.new_product()
    dialog.name.setText("Home Fibre 100")
    dialog.service_type.setText("fixed")
    dialog.inventory_types.setText("GPON ONT, Sim Card")
    dialog.save()
    qtbot.waitUntil(lambda: dialog.error_text("inventory_types") != "", timeout=10_000)
    message = dialog.error_text("inventory_types")
    assert "'Sim Card'" in message and "did you mean 'SIM Card'" in message
    assert dialog.tab_with_error() == "Provisioning"
    assert product_rows(db) == before
    dialog.reject()


def test_a_product_is_added_through_the_editor_and_shown_selected(qtbot, workspace, db, admin):
    ws = workspace
    dialog = ws.new_product()
    dialog.name.setText("Home Fibre 100")
    dialog.service_type.setText("fixed")
    dialog.category.setCurrentIndex(dialog.category.findData("bundle"))
    dialog.features.setPlainText("100 Mbps down\nFree installation")
    dialog.costs["retail_cost"].setText("45")
    dialog.tax.setText("12.5")
    dialog.auto_renew.setCurrentIndex(dialog.auto_renew.findData("true"))
    dialog.play.setText("play_local_mobile_sim")
    dialog.json_vars.setPlainText('{"speed": 100}')
    dialog.inventory_types.setText("GPON ONT")
    with qtbot.waitSignal(ws.loaded, timeout=10_000):
        dialog.save()
    p = catalog.get_product(db, admin, "home-fibre-100")
    assert (p.category, p.service_type, p.auto_renew, p.inventory_types) == ("bundle", "fixed", "true", ("GPON ONT",))
    assert p.features == ("100 Mbps down", "Free installation") and p.provisioning_json_vars == {"speed": 100}
    assert str(p.tax_percentage) == "12.500" and p.retail_cost == 45
    assert ws.selected().id == p.id


def test_clone_makes_a_disabled_copy_and_enable_disable_toggle_it(qtbot, workspace, db, admin):
    ws = workspace
    ws.table.selectRow(names_shown(ws).index("Prepaid Mobile 20GB"))
    with qtbot.waitSignal(ws.loaded, timeout=10_000):
        ws.clone_button.click()
    clone = ws.selected()
    assert clone.name == "Prepaid Mobile 20GB_clone" and not clone.enabled
    row = names_shown(ws).index("Prepaid Mobile 20GB_clone")
    assert ws.table.item(row, 10).text() == "Disabled"
    assert ws.enable_button.text() == "Enable"
    with qtbot.waitSignal(ws.loaded, timeout=10_000):
        ws.enable_button.click()
    assert catalog.get_product(db, admin, clone.id).enabled
    assert ws.enable_button.text() == "Disable"
    with qtbot.waitSignal(ws.loaded, timeout=10_000):
        ws.enable_button.click()
    assert not catalog.get_product(db, admin, clone.id).enabled


def test_inventory_types_can_be_picked_from_the_templates_there_are(qtbot, workspace):
    dialog = workspace.new_product()
    menu = dialog.inventory_types.menu
    qtbot.waitUntil(lambda: len(menu.actions()) == 4, timeout=10_000)
    assert [a.text() for a in menu.actions()] == ["Fixed Wireless CPE", "GPON ONT", "Mobile Number", "SIM Card"]
    by_name = {a.text(): a for a in menu.actions()}
    by_name["SIM Card"].setChecked(True)
    by_name["Mobile Number"].setChecked(True)
    assert dialog.inventory_types.edit.text() == "SIM Card, Mobile Number"
    assert dialog.value("inventory_types") == ["SIM Card", "Mobile Number"]
    by_name["SIM Card"].setChecked(False)
    assert dialog.inventory_types.edit.text() == "Mobile Number"
    dialog.reject()

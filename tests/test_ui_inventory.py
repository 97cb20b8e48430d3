"""The Inventory tab: filters and search narrow the paged table, the item detail with its QR code and
history, state changes offered only where allowed, refusals shown, and the templates editor."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from omnidesk.customers import service as cs
from omnidesk.inventory import labels
from omnidesk.inventory import rules as irules
from omnidesk.inventory import service as inv
from omnidesk.ui import ops
from omnidesk.ui.inventory.workspace import InventoryWorkspace

pytestmark = pytest.mark.usefixtures("settled_gui")


def iccid(n: int) -> str:
    body = f"8944{n:015d}"
    return next(body + d for d in "0123456789" if irules.luhn_ok(body + d))


def stock(db, admin):
    """Three SIMs (two in Leeds, one in the warehouse, one of them sold to a customer) and two numbers."""
    sims = [inv.create_item(db, admin, "SIM Card", itemtext1=iccid(n), itemtext2=f"23415{n:010d}",
                            item_location="Leeds store" if n < 3 else "Warehouse") for n in (1, 2, 3)]
    numbers = [inv.create_item(db, admin, "Mobile Number", itemtext1=f"+4477009{n:05d}", item_location="Warehouse")
               for n in (1, 2)]
    customer = cs.create_customer(db, admin, name="Ann Lee")
    cs.change_status(db, admin, customer.id, "active")
    inv.assign_item(db, admin, sims[0].id, customer.id)
    return sims, numbers, customer


@pytest.fixture
def workspace(qtbot, db, admin):
    w = InventoryWorkspace(db, admin)
    qtbot.addWidget(w)
    w.resize(1300, 760)
    w.show()
    return w


def wait_rows(qtbot, ws, n: int) -> list:
    qtbot.waitUntil(lambda: ws.model.count == n and len(ws.model.loaded_rows()) == n, timeout=10_000)
    return ws.model.loaded_rows()


def choose(combo, data) -> None:
    combo.setCurrentIndex(combo.findData(data))


def test_each_filter_and_the_search_narrow_the_rows(qtbot, workspace, db, admin):
    sims, numbers, customer = stock(db, admin)
    ws = workspace
    ws.model.reload()
    ws.load_filters()
    assert len(wait_rows(qtbot, ws, 5)) == 5
    assert ws.count_label.text() == "5 items"
    qtbot.waitUntil(lambda: ws.location_filter.count() == 3, timeout=10_000)
    assert [ws.location_filter.itemText(i) for i in range(3)] == ["All locations", "Leeds store", "Warehouse"]

    choose(ws.template_filter, "SIM Card")
    rows = wait_rows(qtbot, ws, 3)
    assert {r.template_name for r in rows} == {"SIM Card"}
    assert ws.count_label.text() == "3 items found"

    choose(ws.location_filter, "Warehouse")
    assert [r.id for r in wait_rows(qtbot, ws, 1)] == [sims[2].id]

    choose(ws.location_filter, None)
    choose(ws.assigned_filter, True)
    rows = wait_rows(qtbot, ws, 1)
    assert rows[0].id == sims[0].id and rows[0].customer_name == "Ann Lee"
    assert ws.model.data(ws.model.index(0, 6)) == f"Ann Lee ({customer.id})"

    choose(ws.assigned_filter, False)
    assert {r.id for r in wait_rows(qtbot, ws, 2)} == {sims[1].id, sims[2].id}

    choose(ws.assigned_filter, None)
    choose(ws.template_filter, None)
    choose(ws.state_filter, "assigned")
    assert [r.id for r in wait_rows(qtbot, ws, 1)] == [sims[0].id]
    choose(ws.state_filter, None)

    ws.search.setText(iccid(2)[:-1])  # the start of one ICCID (all but its check digit)
    assert [r.id for r in wait_rows(qtbot, ws, 1)] == [sims[1].id]
    ws.search.setText("+44770090000")  # both numbers start so
    assert {r.id for r in wait_rows(qtbot, ws, 2)} == {n.id for n in numbers}
    ws.search.setText("999999")
    wait_rows(qtbot, ws, 0)
    assert ws.count_label.text() == "0 items found"


def open_item(qtbot, ws, item_id: int) -> None:
    with qtbot.waitSignal(ws.detail.loaded, timeout=10_000):
        ws.open_item(item_id)


def offered(ws) -> list[str]:
    return [state for state, button in ws.detail.state_buttons.items() if not button.isHidden()]


def test_the_item_detail_shows_every_field_the_qr_code_and_the_history(qtbot, workspace, db, admin):
    cpe = inv.create_item(
        db, admin, "Fixed Wireless CPE", itemtext1="00:1A:2B:3C:4D:5E", itemtext2="CPE-0001", item_location="Van 3",
        management_url="https://192.168.1.1", management_username="admin", management_password="s3cret!",
        address_line_1="12 Canal Wharf", city="Leeds", latitude="53.7930", longitude="-1.5540",
        config_content="hostname cpe-0001\n", notes="Spare for the Leeds depot",
    )
    ws = workspace
    open_item(qtbot, ws, cpe.id)
    d = ws.detail
    assert d.title.text() == "Fixed Wireless CPE 00:1A:2B:3C:4D:5E"
    assert d.state_pill.text() == "New"
    pixmap = d.qr.pixmap()
    assert (pixmap.width(), pixmap.height()) == (labels.DETAIL_SIZE, labels.DETAIL_SIZE) == (128, 128)
    assert 'href="https://192.168.1.1"' in d.qr_link.text()
    assert d.fields["item_location"].text() == "Van 3"
    assert d.fields["address"].text() == "12 Canal Wharf, Leeds"
    assert d.fields["plus_code"].text() not in ("", "—")
    assert d.fields["management_password"].text().startswith("••••")
    assert "s3cret!" not in d.fields["management_password"].text()
    assert d.config.toPlainText().strip() == "hostname cpe-0001"
    assert d.history_table.rowCount() == 1
    assert d.history_table.item(0, 2).text() == "New"
    assert d.tabs.tabText(1) == "History (1)"
    assert offered(ws) == ["internal_use", "out_of_service", "lost", "stolen"], "only the moves New allows; never Assigned"

    d.reveal_button.click()
    qtbot.waitUntil(lambda: d.fields["management_password"].text() == "s3cret!", timeout=5_000)


def test_an_item_without_a_management_url_shows_no_qr_code(qtbot, workspace, db, admin):
    sim = inv.create_item(db, admin, "SIM Card", itemtext1=iccid(7))
    open_item(qtbot, workspace, sim.id)
    assert workspace.detail.qr_area.isHidden()
    assert workspace.detail.qr.pixmap().isNull()


def test_a_state_change_asks_for_a_reason_and_is_recorded(qtbot, workspace, db, admin):
    sim = inv.create_item(db, admin, "SIM Card", itemtext1=iccid(1))
    ws = workspace
    open_item(qtbot, ws, sim.id)
    ws.detail.state_buttons["internal_use"].click()
    dialog = ws.detail.open_dialog
    assert "New → Internal Use" in dialog.labelText()
    dialog.setTextValue("demo handset for the shop")
    with qtbot.waitSignal(ws.detail.loaded, timeout=10_000):
        dialog.accept()
    assert inv.get_item(db, admin, sim.id).item_state == "internal_use"
    assert ws.detail.state_pill.text() == "Internal Use"
    assert ws.detail.history_table.rowCount() == 2
    newest = [ws.detail.history_table.item(0, c).text() for c in range(1, 5)]
    assert newest == ["New", "Internal Use", "admin", "demo handset for the shop"]
    assert offered(ws) == ["used", "out_of_service", "lost", "stolen"]


def test_an_illegal_transition_is_refused_with_both_states_named_and_nothing_changes(qtbot, workspace, db, admin):
    sim = inv.create_item(db, admin, "SIM Card", itemtext1=iccid(1))
    ws = workspace
    open_item(qtbot, ws, sim.id)
    assert "internal_use" in offered(ws)
    # Another workstation reports the SIM lost while this one still shows it New.
    inv.change_state(db, admin, sim.id, "lost", reason="audit")
    with qtbot.waitSignal(ops.tracker().error_shown, timeout=10_000) as shown:
        ws.detail.change_state("internal_use")
    assert "cannot become Internal Use" in shown.args[0] and "Lost" in shown.args[0]
    box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())
    assert "cannot become Internal Use" in box.text()
    assert inv.get_item(db, admin, sim.id).item_state == "lost", "the refused change left the item as it was"
    assert [h.to_state for h in inv.item_history(db, admin, sim.id)] == ["new", "lost"]
    qtbot.waitUntil(lambda: ws.detail.state_pill.text() == "Lost", timeout=10_000)
    assert offered(ws) == ["used", "stolen"], "after the refusal the view shows what is really allowed"


def test_templates_are_listed_added_and_a_duplicate_name_is_refused_at_the_field(qtbot, workspace, db, admin):
    page = workspace.templates
    qtbot.waitUntil(lambda: page.table.rowCount() == 4, timeout=10_000)
    assert sorted(page.table.item(r, 0).text() for r in range(4)) == [
        "Fixed Wireless CPE", "GPON ONT", "Mobile Number", "SIM Card"]

    dialog = page.new_template()  # deletes itself when closed
    dialog.name.setText("SIM Card")
    dialog.label_edits[0].setText("ICCID")
    dialog.save()
    qtbot.waitUntil(lambda: dialog.error_text("name") != "", timeout=10_000)
    assert "already an inventory template named 'SIM Card'" in dialog.error_text("name")
    assert len(inv.list_templates(db, admin)) == 4

    dialog.name.setText("Modem Router")
    dialog.retail.setText("89.00")
    with qtbot.waitSignal(page.loaded, timeout=10_000):
        dialog.save()
    router = inv.get_template(db, admin, "Modem Router")
    assert router.retail_cost == 89 and router.labels[:2] == ("ICCID", "Serial Number")
    assert page.table.rowCount() == 5
    qtbot.waitUntil(lambda: workspace.template_filter.findData("Modem Router") > 0, timeout=10_000)


def test_the_main_window_gets_inventory_products_and_services_tabs_once_attached(qtbot, db, admin):
    from omnidesk.ui.main_window import MainWindow

    window = MainWindow(profile="staff")
    qtbot.addWidget(window)
    window.tabs.setCurrentIndex(window.TABS.index("Broadcast"))
    try:
        window.attach(db, admin, live=False)
        titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
        assert titles == ["Customers", "Billing", "Inventory", "Products", "Services", "Provisioning", "Broadcast",
                          "Users && Roles"]
        assert window.tabs.widget(2) is window.inventory
        assert window.tabs.tabText(window.tabs.currentIndex()) == "Broadcast", "the open tab stays open"
        qtbot.waitUntil(lambda: window.inventory.templates.table.rowCount() == 4, timeout=10_000)
    finally:
        window.shutdown()


def test_items_added_on_another_workstation_appear_in_the_table(qtbot, db, admin):
    from omnidesk.ui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    try:
        window.attach(db, admin)
        ws = window.inventory
        qtbot.waitUntil(lambda: window.catalog_live is not None and window.catalog_live.listening, timeout=10_000)
        qtbot.waitUntil(lambda: ws.model.count == 0, timeout=10_000)
        inv.create_item(db, admin, "SIM Card", itemtext1=iccid(5))  # another workstation, through the database
        qtbot.waitUntil(lambda: ws.model.count == 1, timeout=10_000)
        inv.create_template(db, admin, name="Modem Router", wholesale_cost="40", retail_cost="89")
        qtbot.waitUntil(lambda: ws.template_filter.findData("Modem Router") > 0, timeout=10_000)
    finally:
        window.shutdown()

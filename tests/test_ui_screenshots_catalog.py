"""Render the inventory, product and service screens offscreen to artifacts/screenshots/ so people can look at them."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QMessageBox

from omnidesk.catalog import service as catalog
from omnidesk.catalog import services as svc
from omnidesk.customers import service as cs
from omnidesk.inventory import rules as irules
from omnidesk.inventory import service as inv
from omnidesk.ui import inspection, ops
from omnidesk.ui.app import apply_stylesheet
from omnidesk.ui.customers.detail import CustomerDetailView
from omnidesk.ui.main_window import MainWindow
from omnidesk.ui.products.editor import ProductDialog
from omnidesk.ui.products.workspace import ProductsWorkspace
from omnidesk.ui.services.renewals import ServicesWorkspace

UTC = dt.timezone.utc


@pytest.fixture(autouse=True)
def settled(db, qtbot):
    apply_stylesheet(QApplication.instance())
    yield
    assert inspection.settle(15), "background operations were still running after the test"
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox):
            widget.close()


@pytest.fixture
def plays(tmp_path):
    folder = tmp_path / "playbooks"
    folder.mkdir()
    for name in ("play_local_mobile_sim", "play_fibre_cpe"):
        (folder / f"{name}.yaml").write_text("- hosts: localhost\n")
    return folder


def iccid(n: int) -> str:
    body = f"8944{n:015d}"
    return next(body + d for d in "0123456789" if irules.luhn_ok(body + d))


def saved_picture(widget, name: str) -> QImage:
    path = inspection.grab(widget, name)
    image = QImage(str(path))
    assert not image.isNull() and image.width() > 200 and image.height() > 100, name
    assert inspection.distinct_colours(image) > 5, f"{name} is blank"
    return image


def sample(db, admin, plays):
    cpe = inv.create_item(
        db, admin, "Fixed Wireless CPE", itemtext1="00:1A:2B:3C:4D:5E", itemtext2="CPE-2025-0001", itemtext3="3.2.1",
        itemtext4="Ubiquiti", itemtext5="LTU-LR", item_location="Van 3", management_url="https://192.168.1.1",
        management_username="admin", management_password="s3cret!", address_line_1="12 Canal Wharf", city="Leeds",
        postcode="LS11 5PS", country="GB", latitude="53.7930", longitude="-1.5540",
        config_content="hostname cpe-0001\nwireless.ssid=Acme-Depot\n", notes="Spare for the Leeds depot",
    )
    inv.change_state(db, admin, cpe.id, "internal_use", reason="bench test before install")
    mobile = catalog.create_product(
        db, admin, playbooks_dir=plays, name="Prepaid Mobile 20GB", category="standalone", service_type="mobile",
        retail_cost="15.00", wholesale_cost="5.00", tax_percentage="10", contract_days=30, auto_renew="prompt",
        provisioning_play="play_local_mobile_sim", provisioning_json_vars={"days": 30, "data_gb": 20},
        inventory_types=["SIM Card", "Mobile Number"], icon="fa-solid fa-sim-card",
        features=["20GB data", "Unlimited calls and texts", "Valid 30 days"],
        terms="Credit expires after 30 days.")
    catalog.create_product(
        db, admin, playbooks_dir=plays, name="Home Fibre 100", category="bundle", service_type="fixed",
        retail_cost="45.00", wholesale_cost="20.00", retail_setup_cost="99.00", wholesale_setup_cost="60.00",
        contract_days=365, auto_renew="true", provisioning_play="play_fibre_cpe", inventory_types=["GPON ONT"])
    catalog.create_product(db, admin, playbooks_dir=plays, name="5GB Data Boost", category="addon", service_type="mobile",
                           retail_cost="5.00", contract_days=7, auto_renew="false", relies_on=["mobile"], enabled=False)
    acme = cs.create_customer(db, admin, name="Acme Wireless Ltd", account_type="business")
    cs.change_status(db, admin, acme.id, "active")
    cs.add_site(db, admin, acme.id, name="Leeds depot", address_line_1="12 Canal Wharf", city="Leeds")
    now = dt.datetime.now(UTC)
    services = []
    for n, ends in ((101, 3), (102, 30), (103, 12)):
        inv.create_item(db, admin, "SIM Card", itemtext1=iccid(n),
                        management_url=f"LPA:1$smdp.example.com$ACTIVATION-{n}" if n == 101 else None)
        inv.create_item(db, admin, "Mobile Number", itemtext1=f"+4477009{n:05d}")
        s = svc.create_service(db, admin, acme.id, mobile.id, pick_missing=True, auto_renew=n != 103,
                               name=f"Driver phone {n - 100}")
        services.append(svc.update_service(db, admin, s.id, deactivate_date=now + dt.timedelta(days=ends)))
    svc.change_service_status(db, admin, services[2].id, "suspended", reason="non-payment")
    for n in range(1, 25):
        inv.create_item(db, admin, "SIM Card", itemtext1=iccid(n), itemtext2=f"23415{n:010d}", itemtext3="Physical",
                        item_location="Leeds store" if n % 3 else "Central warehouse")
        inv.create_item(db, admin, "Mobile Number", itemtext1=f"+4477009{n:05d}", itemtext2="London",
                        itemtext3="Mobile", item_location="Central warehouse")
    return cpe, mobile, acme, services


def test_screenshots_of_the_inventory_tab(qtbot, db, admin, plays):
    cpe, _mobile, _acme, _services = sample(db, admin, plays)
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1400, 860)
    window.show()
    qtbot.waitExposed(window)
    try:
        window.attach(db, admin, live=False)
        ws = window.inventory
        window.tabs.setCurrentWidget(ws)
        qtbot.waitUntil(lambda: ws.model.count is not None and inspection.visible_rows_loaded(ws.table), timeout=10_000)
        saved_picture(window, "inventory_list")
        with qtbot.waitSignal(ws.detail.loaded, timeout=10_000):
            ws.open_item(cpe.id)
        qtbot.wait(50)
        image = saved_picture(window, "inventory_item_detail")
        assert image.width() >= 1200
        ws.detail.tabs.setCurrentIndex(1)
        qtbot.wait(20)
        saved_picture(ws.detail, "inventory_item_history")
        ws.detail.tabs.setCurrentIndex(0)

        ws.template_filter.setCurrentIndex(ws.template_filter.findData("SIM Card"))
        ws.location_filter.setCurrentIndex(ws.location_filter.findData("Leeds store"))
        ws.search.setText(iccid(1)[:17])
        qtbot.waitUntil(lambda: bool(ws.model.query.search and ws.model.count and inspection.visible_rows_loaded(ws.table)),
                        timeout=10_000)
        assert all(r.template_name == "SIM Card" and r.item_location == "Leeds store" for r in ws.model.loaded_rows())
        saved_picture(window, "inventory_filtered")

        dialog = ws.detail.ask_state_change("damaged")
        qtbot.waitExposed(dialog)
        saved_picture(dialog, "inventory_state_change")
        dialog.reject()

        inv.change_state(db, admin, cpe.id, "lost", reason="missing at the audit")
        with qtbot.waitSignal(ops.tracker().error_shown, timeout=10_000):
            ws.detail.change_state("out_of_service")  # still shown as Internal Use; allowed from there, not from Lost
        qtbot.waitUntil(lambda: any(w.isVisible() for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)),
                        timeout=5_000)
        box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())
        saved_picture(box, "inventory_transition_refused")
        box.close()

        ws.tabs.setCurrentIndex(1)
        qtbot.waitUntil(lambda: ws.templates.table.rowCount() == 4, timeout=10_000)
        saved_picture(window, "inventory_templates")
        ws.templates.table.selectRow(3)
        dialog = ws.templates.edit_template()
        qtbot.waitExposed(dialog)
        saved_picture(dialog, "dialog_inventory_template")
        dialog.reject()
    finally:
        window.shutdown()


def test_screenshots_of_the_products_tab_and_editor(qtbot, db, admin, plays):
    sample(db, admin, plays)
    ws = ProductsWorkspace(db, admin, playbooks_dir=plays)
    qtbot.addWidget(ws)
    ws.resize(1300, 560)
    ws.show()
    qtbot.waitUntil(lambda: ws.table.rowCount() == 3, timeout=10_000)
    ws.table.selectRow(2)
    saved_picture(ws, "products_list")
    dialog = ws.edit_product()
    qtbot.waitExposed(dialog)
    qtbot.wait(50)
    for i, title in enumerate(ProductDialog.TABS):
        dialog.tabs.setCurrentIndex(i)
        qtbot.wait(20)
        saved_picture(dialog, f"dialog_product_{title.lower().replace(' ', '_')}")
    dialog.play.setText("play_not_there")
    dialog.inventory_types.setText("Sim Card, Mobile Number")
    dialog.save()
    qtbot.waitUntil(lambda: dialog.error_text("inventory_types") != "" or dialog.error_text("provisioning_play") != "",
                    timeout=10_000)
    qtbot.wait(50)
    saved_picture(dialog, "dialog_product_refused")
    dialog.json_vars.setPlainText('{"days": 30,')
    qtbot.wait(20)
    saved_picture(dialog, "dialog_product_bad_json")
    dialog.reject()


def test_screenshots_of_services(qtbot, db, admin, plays):
    _cpe, _mobile, acme, services = sample(db, admin, plays)
    view = CustomerDetailView(db, admin)
    qtbot.addWidget(view)
    view.resize(1100, 680)
    view.show()
    with qtbot.waitSignal(view.services.loaded, timeout=10_000):
        view.show_customer(acme.id)
    view.tabs.setCurrentIndex(view.TABS.index("Services"))
    view.services.table.selectRow(next(r for r, s in enumerate(view.services.services) if s.id == services[0].id))
    qtbot.waitUntil(lambda: view.services.inventory_table.rowCount() == 2, timeout=10_000)
    qtbot.wait(50)
    saved_picture(view, "detail_services")

    view.services.edit_service()
    qtbot.waitUntil(lambda: getattr(view.services, "open_dialog", None) is not None, timeout=10_000)
    dialog = view.services.open_dialog
    qtbot.waitExposed(dialog)
    saved_picture(dialog, "dialog_service_edit")
    dialog.reject()

    ws = ServicesWorkspace(db, admin)
    qtbot.addWidget(ws)
    ws.resize(1200, 420)
    with qtbot.waitSignal(ws.renewals.loaded, timeout=10_000):
        ws.show()
    qtbot.wait(50)
    saved_picture(ws, "services_upcoming_renewals")
    ws.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: ws.expiring.table.rowCount() == 1, timeout=10_000)
    qtbot.wait(50)
    saved_picture(ws, "services_expiring_soon")

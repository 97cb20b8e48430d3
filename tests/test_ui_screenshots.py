"""Render every customer screen and dialog offscreen to artifacts/screenshots/ so people can look at them."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QMessageBox

from omnidesk.customers import service
from omnidesk.ui import inspection
from omnidesk.ui.app import apply_stylesheet
from omnidesk.ui.customers.detail import CustomerDetailView
from omnidesk.ui.customers.dialogs import AttributeDialog, ContactDialog, CustomerDialog, SiteDialog, TagDialog
from omnidesk.ui.main_window import MainWindow

@pytest.fixture(autouse=True)
def settled(db, qtbot):
    apply_stylesheet(QApplication.instance())
    yield
    assert inspection.settle(15), "background operations were still running after the test"
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox):
            widget.close()


def sample_customers(db, admin):
    acme = service.create_customer(
        db, admin, name="Acme Wireless Ltd", account_type="business", payment_type="postpaid", credit_limit="2500.00",
        tax_identifier="GB123456789", contract_start_date=dt.date(2025, 1, 1), contract_end_date=dt.date(2027, 12, 31),
        notes="Fixed-wireless backhaul for three depots. Billing contact prefers e-mail.",
        primary_contact={"first_name": "Priya", "last_name": "Shah", "email": "priya.shah@acme.example", "phone": "+447700900123"},
    )
    service.change_status(db, admin, acme.id, "active")
    service.add_contact(db, admin, acme.id, contact_type="billing", first_name="Tom", last_name="Reed",
                        email="accounts@acme.example", phone="+441632960001")
    service.add_site(db, admin, acme.id, name="Leeds depot", address_line_1="12 Canal Wharf", city="Leeds",
                     postcode="LS11 5PS", latitude="53.7930", longitude="-1.5540", address_note="Gate code 4412")
    service.add_attribute(db, admin, acme.id, "preferred_language", "en")
    service.add_attribute(db, admin, acme.id, "account_manager", "J. Patel")
    service.add_tag(db, admin, acme.id, label="VIP", colour="FFD700", link="https://crm.example/vip")
    service.add_tag(db, admin, acme.id, label="Fibre ready", colour="1F883D")
    service.add_tag(db, admin, acme.id, label="Expired promo", colour="CF222E",
                    active_from=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc),
                    deactivate_at=dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc))
    for name, email in (("Brightside Cafe", "hello@brightside.example"), ("Carla Mendes", "carla@mail.example"),
                        ("Delta Logistics plc", "it@delta.example"), ("Evan O'Neill", None)):
        contact = {"first_name": name.split()[0], "email": email} if email else None
        service.create_customer(db, admin, name=name, primary_contact=contact)
    return acme


def saved_picture(widget, name: str) -> QImage:
    path = inspection.grab(widget, name)
    image = QImage(str(path))
    assert not image.isNull() and image.width() > 200 and image.height() > 100, name
    assert inspection.distinct_colours(image) > 5, f"{name} is blank"
    return image


def shown(qtbot, dialog):
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def retype(qtbot, edit, text: str) -> None:
    edit.setFocus()
    edit.selectAll()
    edit.del_()
    if text:
        qtbot.keyClicks(edit, text)


def test_screenshot_of_the_main_window_with_a_customer_open(qtbot, db, admin):
    acme = sample_customers(db, admin)
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1400, 860)
    window.show()
    qtbot.waitExposed(window)
    saved_picture(window, "main_window_starting")
    try:
        window.attach(db, admin)
        ws = window.customers
        qtbot.waitUntil(lambda: ws.model.count == 5 and ws.model.row_at(4) is not None, timeout=10_000)
        ws.table.selectRow(0)
        with qtbot.waitSignal(ws.detail.loaded, timeout=10_000):
            ws.open_customer(acme.id)
        qtbot.waitUntil(lambda: window.live_label.text() == "● Live updates", timeout=10_000)
        assert ws.detail.name_label.text() == "Acme Wireless Ltd"
        pills = [p.text() for p in ws.detail.tag_area.findChildren(type(ws.detail.name_label), "tagPill")]
        assert sorted(pills) == ["Fibre ready", "VIP"], "only active tags are shown as pills"
        assert [b.text() for b in ws.detail.status_buttons.values() if not b.isHidden()] == ["Suspend…", "Close…"]

        image = saved_picture(window, "main_window")
        assert (inspection.SCREENSHOTS / "main_window.png").stat().st_size > 10_000
        assert image.width() >= 1200 and image.height() >= 700
        assert inspection.distinct_colours(image) > 20, "the screenshot is (nearly) a single colour"

        for i, title in enumerate(CustomerDetailView.TABS):
            ws.detail.tabs.setCurrentIndex(i)
            qtbot.wait(20)
            saved_picture(ws.detail, f"detail_{title.lower()}")
        window.tabs.setCurrentIndex(1)
        saved_picture(window, "billing_placeholder")
    finally:
        window.shutdown()


def test_each_dialog_with_its_messages(qtbot, db, admin):
    acme = sample_customers(db, admin)
    detail = service.get_customer(db, admin, acme.id)

    new = shown(qtbot, CustomerDialog(None, db, admin))
    retype(qtbot, new.name, "A")
    retype(qtbot, new.name, "")
    retype(qtbot, new.credit_limit, "12.345")
    retype(qtbot, new.email, "priya@@acme")
    retype(qtbot, new.phone, "07700 900123")
    assert not new.save_button.isEnabled()
    saved_picture(new, "dialog_customer_new_invalid")

    edit = shown(qtbot, CustomerDialog(None, db, admin, detail))
    saved_picture(edit, "dialog_customer_edit")

    contact = shown(qtbot, ContactDialog(None, db, admin, acme.id, detail.contacts[0]))
    retype(qtbot, contact.email, "not an address")
    saved_picture(contact, "dialog_contact_invalid")

    site = shown(qtbot, SiteDialog(None, db, admin, acme.id))
    retype(qtbot, site.name, "Head office")
    retype(qtbot, site.latitude, "91")
    retype(qtbot, site.longitude, "-0.1278")
    saved_picture(site, "dialog_site_invalid")
    retype(qtbot, site.latitude, "51.5074")
    saved_picture(site, "dialog_site_plus_code")

    attribute = shown(qtbot, AttributeDialog(None, db, admin, acme.id))
    retype(qtbot, attribute.key, "preferred_language")
    retype(qtbot, attribute.value_edit, "fr")
    attribute.save()
    qtbot.waitUntil(lambda: attribute.error_text("key") != "", timeout=10_000)
    saved_picture(attribute, "dialog_attribute_duplicate")

    tag = shown(qtbot, TagDialog(None, db, admin, acme.id))
    retype(qtbot, tag.label, "Priority support")
    retype(qtbot, tag.colour, "#0969DA")
    retype(qtbot, tag.link, "crm.example")
    saved_picture(tag, "dialog_tag_invalid")


def test_the_archive_refusal_box(qtbot, db, admin):
    acme = sample_customers(db, admin)
    from sqlalchemy import text

    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO billing_transaction (customer_id, title, retail_cost) VALUES (:c, 'Router', 99)"),
                     {"c": acme.id})
    view = CustomerDetailView(db, admin)
    qtbot.addWidget(view)
    view.resize(640, 560)
    view.show()
    with qtbot.waitSignal(view.loaded, timeout=10_000):
        view.show_customer(acme.id)
    view.archive_button.click()
    box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())
    box.buttons()[0].click()
    qtbot.waitUntil(
        lambda: any(w.isVisible() and "cannot be archived" in w.text()
                    for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)),
        timeout=10_000,
    )
    refusal = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and "cannot be archived" in w.text())
    saved_picture(refusal, "archive_refused")

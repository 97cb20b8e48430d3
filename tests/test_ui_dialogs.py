"""Dialogs validate each field as it is typed, and show what the service still refuses beside the field."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import QDateTime, Qt
from sqlalchemy import func, select

from omnidesk.customers import service
from omnidesk.db.models import CustomerAttribute
from omnidesk.ui.customers.dialogs import AttributeDialog, ContactDialog, CustomerDialog, SiteDialog, TagDialog


pytestmark = pytest.mark.usefixtures("settled_gui")


@pytest.fixture
def customer(db, admin):
    return service.create_customer(db, admin, name="Acme Ltd")


def shown(qtbot, dialog):
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def retype(qtbot, edit, text: str) -> None:
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    if text:
        qtbot.keyClicks(edit, text)


def test_the_customer_dialog_refuses_bad_fields_with_their_messages_and_disables_save(qtbot, db, admin):
    dialog = shown(qtbot, CustomerDialog(None, db, admin))
    assert not dialog.save_button.isEnabled(), "an empty form cannot be saved"
    assert dialog.error_text("name") == "", "no red text before the user has typed"

    retype(qtbot, dialog.name, "Acme")
    assert dialog.save_button.isEnabled()
    retype(qtbot, dialog.name, "")
    assert dialog.error_text("name") == "Customer name is required."
    assert dialog._fields["name"].error.isVisible()
    assert not dialog.save_button.isEnabled()

    dialog.name.setText("x" * 201)
    assert dialog.error_text("name") == "Customer name is too long: 201 characters, at most 200."
    assert not dialog.save_button.isEnabled()
    dialog.name.setText("x" * 200)
    assert dialog.error_text("name") == ""
    assert dialog.save_button.isEnabled()

    retype(qtbot, dialog.first_name, "Ann")
    retype(qtbot, dialog.email, "ann@@example")
    assert dialog.error_text("contact_email").startswith("'ann@@example' is not a valid e-mail address")
    assert not dialog.save_button.isEnabled()
    retype(qtbot, dialog.email, "ann@example.com")
    assert dialog.error_text("contact_email") == ""

    retype(qtbot, dialog.phone, "07700 900123")
    assert dialog.error_text("contact_phone") == (
        "'07700 900123' is not an international phone number; write it in E.164 form with the country code, "
        "e.g. +447700900123."
    )
    assert not dialog.save_button.isEnabled()
    retype(qtbot, dialog.phone, "+44 7700 900123")
    assert dialog.error_text("contact_phone") == ""

    retype(qtbot, dialog.credit_limit, "12.345")
    assert dialog.error_text("credit_limit") == "Credit limit has more than two decimal places: 12.345."
    retype(qtbot, dialog.credit_limit, "1500")
    assert dialog.save_button.isEnabled()
    assert service.count_customers(db, admin) == 0, "nothing is written while typing"

    with qtbot.waitSignal(dialog.saved, timeout=10_000) as saved:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    detail = saved.args[0]
    assert (detail.name, detail.credit_limit, detail.contacts[0].phone) == ("x" * 200, 1500, "+447700900123")


def test_a_contact_is_needed_when_any_contact_field_is_filled(qtbot, db, admin):
    dialog = shown(qtbot, CustomerDialog(None, db, admin))
    retype(qtbot, dialog.name, "Acme")
    retype(qtbot, dialog.email, "ops@acme.example")
    assert dialog.error_text("contact_first_name") == "First name is required."
    assert not dialog.save_button.isEnabled()


def test_the_contract_cannot_end_before_it_starts(qtbot, db, admin):
    dialog = shown(qtbot, CustomerDialog(None, db, admin))
    retype(qtbot, dialog.name, "Acme")
    dialog.contract_start.set_value(dt.date(2026, 5, 1))
    dialog.contract_end.set_value(dt.date(2026, 4, 1))
    assert dialog.error_text("contract_end_date") == "The contract ends (2026-04-01) before it starts (2026-05-01)."
    assert not dialog.save_button.isEnabled()


def test_the_site_dialog_refuses_latitude_91_and_shows_the_plus_code(qtbot, db, admin, customer):
    dialog = shown(qtbot, SiteDialog(None, db, admin, customer.id))
    retype(qtbot, dialog.name, "Head office")
    retype(qtbot, dialog.latitude, "91")
    retype(qtbot, dialog.longitude, "-0.1278")
    assert dialog.error_text("latitude") == "Latitude must be between -90 and 90 degrees; got 91."
    assert not dialog.save_button.isEnabled()
    retype(qtbot, dialog.latitude, "51.5074")
    assert dialog.error_text("latitude") == ""
    assert dialog.plus_code.text() == "9C3XGV4C+XV"
    retype(qtbot, dialog.longitude, "")
    assert dialog.error_text("latitude") == "Give both latitude and longitude, or neither."
    assert not dialog.save_button.isEnabled()
    retype(qtbot, dialog.longitude, "-0.1278")
    with qtbot.waitSignal(dialog.saved, timeout=10_000) as saved:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert saved.args[0].plus_code == "9C3XGV4C+XV"
    assert saved.args[0].country == "GB"


def test_the_attribute_dialog_shows_the_services_duplicate_message_and_writes_nothing(qtbot, db, admin, customer):
    service.add_attribute(db, admin, customer.id, "preferred_language", "en")
    dialog = shown(qtbot, AttributeDialog(None, db, admin, customer.id))
    retype(qtbot, dialog.key, "Preferred Language")
    assert "must be lowercase snake_case" in dialog.error_text("key") and "'preferred_language'" in dialog.error_text("key")
    retype(qtbot, dialog.key, "preferred_language")
    retype(qtbot, dialog.value_edit, "fr")
    assert dialog.save_button.isEnabled(), "the rules alone cannot know the name is taken"
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.error_text("key") != "", timeout=10_000)
    assert dialog.error_text("key") == (
        f"Customer {customer.id} (Acme Ltd) already has an attribute preferred_language; edit that one instead."
    )
    assert dialog.isVisible(), "the dialog stays open with what the user typed"
    assert not dialog.save_button.isEnabled()
    with db.read() as s:
        rows = s.execute(select(CustomerAttribute.key, CustomerAttribute.value)).all()
    assert rows == [("preferred_language", "en")]
    retype(qtbot, dialog.key, "secondary_language")
    assert dialog.error_text("key") == "" and dialog.save_button.isEnabled()


def test_the_attribute_value_is_limited_to_150_characters(qtbot, db, admin, customer):
    dialog = shown(qtbot, AttributeDialog(None, db, admin, customer.id))
    retype(qtbot, dialog.key, "note")
    dialog.value_edit.setText("v" * 151)
    assert dialog.error_text("value").startswith("Attribute value is 151 characters; at most 150.")
    assert not dialog.save_button.isEnabled()


def test_the_contact_dialog_reports_a_second_primary_contact_without_closing(qtbot, db, admin):
    detail = service.create_customer(db, admin, name="Acme", primary_contact={"first_name": "Ann"})
    dialog = shown(qtbot, ContactDialog(None, db, admin, detail.id))
    retype(qtbot, dialog.first_name, "Bob")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.general_error.isVisible(), timeout=10_000)
    assert "primary" in dialog.general_error.text().lower()
    assert dialog.isVisible()
    with db.read() as s:
        from omnidesk.db.models import Contact

        assert s.scalar(select(func.count()).select_from(Contact)) == 1


def test_the_tag_dialog_checks_colour_link_and_window_and_previews_the_pill(qtbot, db, admin, customer):
    dialog = shown(qtbot, TagDialog(None, db, admin, customer.id))
    assert dialog.deactivate_at.dateTime().toPython().year == 2099
    retype(qtbot, dialog.label, "VIP")
    retype(qtbot, dialog.colour, "#12345G")
    assert dialog.error_text("colour") == "Tag colour must be six hexadecimal digits such as FFD700; got '#12345G'."
    retype(qtbot, dialog.colour, "#1f883d")
    assert dialog.preview.text() == "VIP" and "#1f883d" in dialog.preview.styleSheet()
    retype(qtbot, dialog.link, "ftp://x")
    assert dialog.error_text("link").startswith("Tag link must be a web address")
    retype(qtbot, dialog.link, "https://crm.example/vip")
    dialog.deactivate_at.setDateTime(QDateTime.currentDateTime().addDays(-1))
    assert dialog.error_text("deactivate_at") == "A tag must be deactivated after it becomes active."
    assert not dialog.save_button.isEnabled()
    dialog.deactivate_at.setDateTime(QDateTime.currentDateTime().addDays(30))
    with qtbot.waitSignal(dialog.saved, timeout=10_000) as saved:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    tag = saved.args[0]
    assert (tag.label, tag.colour, tag.link, tag.state) == ("VIP", "1F883D", "https://crm.example/vip", "active")


def test_editing_a_customer_saves_only_through_the_service_with_its_version(qtbot, db, admin, customer):
    dialog = shown(qtbot, CustomerDialog(None, db, admin, customer))
    assert dialog.name.text() == "Acme Ltd" and dialog.save_button.isEnabled()
    service.update_customer(db, admin, customer.id, notes="changed elsewhere")
    retype(qtbot, dialog.name, "Acme Limited")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.general_error.isVisible(), timeout=10_000)
    assert "changed by someone else" in dialog.general_error.text()
    assert service.get_customer(db, admin, customer.id).name == "Acme Ltd"

"""The customer detail view: status actions, archive, records with Add/Edit/Delete, live reload."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox
from sqlalchemy import text

from omnidesk.customers import service
from omnidesk.ui.customers.detail import CustomerDetailView
from omnidesk.ui.live import LiveUpdates


pytestmark = pytest.mark.usefixtures("settled_gui")


def visible_boxes() -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


def answer(qtbot, label: str) -> None:
    """Click `label` on the one open question box."""
    qtbot.waitUntil(lambda: len(visible_boxes()) == 1, timeout=5_000)
    box = visible_boxes()[0]
    button = next(b for b in box.buttons() if b.text() == label)
    button.click()


@pytest.fixture
def view(qtbot, db, admin):
    v = CustomerDetailView(db, admin)
    qtbot.addWidget(v)
    v.resize(700, 600)
    v.show()
    return v


def open_customer(qtbot, view, customer_id: int) -> None:
    with qtbot.waitSignal(view.loaded, timeout=10_000):
        view.show_customer(customer_id)


def shown_status_actions(view) -> list[str]:
    return [b.text() for b in view.status_buttons.values() if not b.isHidden()]


def test_only_the_allowed_status_actions_are_offered_and_each_asks_first(qtbot, view, db, admin):
    customer = service.create_customer(db, admin, name="Acme")
    open_customer(qtbot, view, customer.id)
    assert view.status_badge.text() == "Pending"
    assert shown_status_actions(view) == ["Activate…"]

    view.status_buttons["active"].click()
    assert "Activate Customer" in visible_boxes()[0].text()
    answer(qtbot, "Cancel")
    qtbot.wait(100)
    assert service.get_customer(db, admin, customer.id).status == "pending", "cancelling changes nothing"

    view.status_buttons["active"].click()
    with qtbot.waitSignal(view.loaded, timeout=10_000):
        answer(qtbot, "Activate")
    assert view.status_badge.text() == "Active"
    assert shown_status_actions(view) == ["Suspend…", "Close…"]
    assert view.activity_table.item(0, 2).text() == "Status pending → active"
    assert view.fields["kyc"].text().endswith("by admin")


def test_archive_refusal_names_each_blocker(qtbot, view, db, admin):
    customer = service.create_customer(db, admin, name="Acme")
    with db.engine.begin() as conn:
        for title in ("Router", "Install"):
            conn.execute(
                text("INSERT INTO billing_transaction (customer_id, title, retail_cost) VALUES (:c, :t, 10)"),
                {"c": customer.id, "t": title},
            )
    open_customer(qtbot, view, customer.id)
    assert view.fields["transactions"].text() == "2"
    view.archive_button.click()
    answer(qtbot, "Archive")
    qtbot.waitUntil(lambda: any("cannot be archived" in b.text() for b in visible_boxes()), timeout=10_000)
    refusal = next(b for b in visible_boxes() if "cannot be archived" in b.text())
    assert refusal.text() == (
        f"Customer {customer.id} (Acme) cannot be archived: 2 uninvoiced transactions (invoice or void them first)."
    )
    assert service.get_customer(db, admin, customer.id).archived_at is None


def test_archive_and_restore(qtbot, view, db, admin):
    customer = service.create_customer(db, admin, name="Acme")
    open_customer(qtbot, view, customer.id)
    assert not view.archive_button.isHidden() and view.restore_button.isHidden()
    view.archive_button.click()
    with qtbot.waitSignal(view.loaded, timeout=10_000):
        answer(qtbot, "Archive")
    assert view.archived_badge.isVisibleTo(view)
    assert view.restore_button.isVisibleTo(view) and not view.edit_button.isEnabled()
    assert not view.contacts.add_button.isEnabled(), "an archived customer's records cannot be changed"
    assert shown_status_actions(view) == []
    with qtbot.waitSignal(view.loaded, timeout=10_000):
        view.restore_button.click()
    assert not view.archived_badge.isVisibleTo(view) and view.edit_button.isEnabled()


def test_contacts_can_be_added_edited_and_deleted(qtbot, view, db, admin):
    customer = service.create_customer(db, admin, name="Acme")
    open_customer(qtbot, view, customer.id)
    assert view.contacts.stack.currentWidget() is view.contacts.empty

    view.contacts.add_button.click()
    dialog = view.open_dialog
    dialog.first_name.setText("Ann")
    dialog.email.setText("ann@acme.example")
    with qtbot.waitSignal(view.loaded, timeout=10_000):
        dialog.save_button.click()
    assert [c.full_name for c in view.contacts.records] == ["Ann"]
    assert view.tabs.tabText(1) == "Contacts (1)"

    view.contacts.select(0)
    view.contacts.edit_button.click()
    dialog = view.open_dialog
    assert dialog.first_name.text() == "Ann"
    dialog.last_name.setText("Lee")
    with qtbot.waitSignal(view.loaded, timeout=10_000):
        dialog.save_button.click()
    assert view.contacts.table.item(0, 1).text() == "Ann Lee"

    view.contacts.select(0)
    view.contacts.delete_button.click()
    assert visible_boxes()[0].text() == "Remove the primary contact Ann Lee?"
    with qtbot.waitSignal(view.loaded, timeout=10_000):
        answer(qtbot, "Delete")
    assert view.contacts.records == [] and service.get_customer(db, admin, customer.id).contacts == ()


def test_only_active_tags_become_pills(qtbot, view, db, admin):
    import datetime as dt

    customer = service.create_customer(db, admin, name="Acme")
    service.add_tag(db, admin, customer.id, label="VIP", colour="FFD700", link="https://crm.example/vip")
    service.add_tag(db, admin, customer.id, label="Later", colour="0969DA",
                    active_from=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3))
    service.add_tag(db, admin, customer.id, label="Old", colour="CF222E",
                    active_from=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc),
                    deactivate_at=dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc))
    open_customer(qtbot, view, customer.id)
    pills = view.tag_area.findChildren(type(view.name_label), "tagPill")
    assert [(p.text(), p.link) for p in pills] == [("VIP", "https://crm.example/vip")]
    assert "#ffd700" in pills[0].styleSheet()
    assert view.tag_section.table.rowCount() == 3


def test_the_open_customer_reloads_when_another_workstation_changes_it(qtbot, view, db, admin):
    customer = service.create_customer(db, admin, name="Acme")
    other = service.create_customer(db, admin, name="Other")
    live = LiveUpdates.for_database(db)
    live.changes.connect(view.notice_changes)
    live.start()
    try:
        open_customer(qtbot, view, customer.id)
        qtbot.waitUntil(lambda: live.listening, timeout=10_000)
        loads = []
        view.loaded.connect(loads.append)
        service.add_site(db, admin, other.id, name="Elsewhere")  # another customer: no reload
        qtbot.wait(600)
        assert loads == []
        service.add_site(db, admin, customer.id, name="Depot", latitude="51.5074", longitude="-0.1278")
        qtbot.waitUntil(lambda: [s.name for s in view.sites.records] == ["Depot"], timeout=10_000)
        assert view.sites.table.item(0, 2).text() == "9C3XGV4C+XV"
        assert len(loads) == 1, "the burst of notices of one change caused one reload"
    finally:
        live.stop()

"""A customer's Services sub-tab (badges, status moves, the editable/read-only split, linked inventory
with QR codes, Remove auto-renew) and the Upcoming auto-renewals and Expiring soon views."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QLineEdit, QMessageBox, QPlainTextEdit

from omnidesk.catalog import service as catalog
from omnidesk.catalog import services as svc
from omnidesk.customers import service as cs
from omnidesk.inventory import rules as irules
from omnidesk.inventory import service as inv
from omnidesk.ui import ops
from omnidesk.ui.customers.detail import CustomerDetailView
from omnidesk.ui.services.customer_services import CustomerServicesSection
from omnidesk.ui.services.renewals import ServicesWorkspace

pytestmark = pytest.mark.usefixtures("settled_gui")
UTC = dt.timezone.utc


def iccid(n: int) -> str:
    body = f"8944{n:015d}"
    return next(body + d for d in "0123456789" if irules.luhn_ok(body + d))


@pytest.fixture
def plays(tmp_path):
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "play_local_mobile_sim.yaml").write_text("- hosts: localhost\n")
    return folder


@pytest.fixture
def plan(db, admin, plays):
    return catalog.create_product(
        db, admin, playbooks_dir=plays, name="Prepaid Mobile 20GB", category="standalone", service_type="mobile",
        retail_cost="15.00", wholesale_cost="5.00", contract_days=30, auto_renew="prompt",
        provisioning_play="play_local_mobile_sim", inventory_types=["SIM Card", "Mobile Number"])


def active_customer(db, admin, name="Ann Lee"):
    c = cs.create_customer(db, admin, name=name)
    return cs.change_status(db, admin, c.id, "active")


def new_service(db, admin, plan, customer, n: int, *, ends_in_days: float | None = None, auto_renew=True, **sim):
    inv.create_item(db, admin, "SIM Card", itemtext1=iccid(n), **sim)
    inv.create_item(db, admin, "Mobile Number", itemtext1=f"+4477009{n:05d}")
    s = svc.create_service(db, admin, customer.id, plan.id, pick_missing=True, auto_renew=auto_renew,
                           name=f"Mobile {n}")
    if ends_in_days is not None:
        s = svc.update_service(db, admin, s.id, deactivate_date=dt.datetime.now(UTC) + dt.timedelta(days=ends_in_days))
    return s


def visible_boxes() -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


def answer(qtbot, label: str) -> None:
    qtbot.waitUntil(lambda: len(visible_boxes()) == 1, timeout=5_000)
    next(b for b in visible_boxes()[0].buttons() if b.text() == label).click()


@pytest.fixture
def section(qtbot, db, admin):
    s = CustomerServicesSection(db, admin)
    qtbot.addWidget(s)
    s.resize(1100, 600)
    s.show()
    return s


def show(qtbot, section, customer_id: int) -> None:
    with qtbot.waitSignal(section.loaded, timeout=10_000):
        section.show_customer(customer_id)


def row_of(section, service_id: int) -> int:
    return next(r for r, s in enumerate(section.services) if s.id == service_id)


def shown_actions(section) -> list[str]:
    return [b.text() for b in section.status_buttons.values() if not b.isHidden()]


def test_expiring_soon_is_shown_for_a_service_ending_in_3_days_and_not_for_30(qtbot, section, db, admin, plan):
    ann = active_customer(db, admin)
    soon = new_service(db, admin, plan, ann, 1, ends_in_days=3)
    later = new_service(db, admin, plan, ann, 2, ends_in_days=30)
    plain = new_service(db, admin, plan, ann, 3, ends_in_days=3, auto_renew=False)
    show(qtbot, section, ann.id)
    assert section.badges[row_of(section, soon.id)] == ("Active", "Auto-Renew", "Expiring Soon")
    assert section.badges[row_of(section, later.id)] == ("Active", "Auto-Renew")
    assert section.badges[row_of(section, plain.id)] == ("Active", "Expiring Soon")
    pills = section.table.cellWidget(row_of(section, soon.id), 3).findChildren(type(section.message))
    assert [p.text() for p in pills] == ["Active", "Auto-Renew", "Expiring Soon"], "the badges are drawn, not just known"
    later_pills = section.table.cellWidget(row_of(section, later.id), 3).findChildren(type(section.message))
    assert "Expiring Soon" not in [p.text() for p in later_pills]
    r = row_of(section, soon.id)
    assert section.table.item(r, 2).text() == "Prepaid Mobile 20GB"
    assert section.table.item(r, 8).text() == f"{iccid(1)}, +447700900001"


def test_only_the_allowed_status_moves_are_offered_and_a_suspension_is_saved(qtbot, section, db, admin, plan):
    ann = active_customer(db, admin)
    s = new_service(db, admin, plan, ann, 1)
    show(qtbot, section, ann.id)
    assert shown_actions(section) == ["Suspend…", "Cancel…", "End…", "Deactivate…"]
    section.status_buttons["suspended"].click()
    with qtbot.waitSignal(section.loaded, timeout=10_000):
        answer(qtbot, "Suspend")
    assert svc.get_service(db, admin, s.id).status == "suspended"
    assert section.badges[0][0] == "Suspended"
    assert shown_actions(section) == ["Resume…", "Cancel…", "Deactivate…"]
    assert not section.renew_button.isHidden(), "suspending keeps auto-renew"


def test_a_move_no_longer_allowed_is_refused_by_the_service_and_nothing_changes(qtbot, section, db, admin, plan):
    ann = active_customer(db, admin)
    s = new_service(db, admin, plan, ann, 1)
    show(qtbot, section, ann.id)
    svc.change_service_status(db, admin, s.id, "deactivated")  # elsewhere, meanwhile
    with qtbot.waitSignal(ops.tracker().error_shown, timeout=10_000) as shown:
        section.change_status(section.selected(), "suspended")
    assert "cannot become Suspended" in shown.args[0] and "Deactivated is final" in shown.args[0]
    assert svc.get_service(db, admin, s.id).status == "deactivated"
    qtbot.waitUntil(lambda: section.badges and section.badges[0][0] == "Deactivated", timeout=10_000)
    assert shown_actions(section) == []


def test_the_editor_offers_only_editable_fields_shows_the_rest_read_only_and_sends_what_changed(qtbot, section, db, admin, plan):
    ann = active_customer(db, admin)
    cs.add_site(db, admin, ann.id, name="Home", address_line_1="1 High St", city="Leeds")
    s = new_service(db, admin, plan, ann, 1)
    show(qtbot, section, ann.id)
    section.edit_service()
    qtbot.waitUntil(lambda: getattr(section, "open_dialog", None) is not None, timeout=10_000)
    dialog = section.open_dialog
    assert set(dialog._fields) == set(svc.EDITABLE) - {"status"}, "every editable field but status (moved by the buttons)"
    assert not set(dialog._fields) & set(svc.READ_ONLY)
    assert dialog.read_only["product_id"].text() == f"Prepaid Mobile 20GB ({plan.id})"
    assert "read-only" in dialog.read_only["provisioning_play"].toolTip()
    editors = (QLineEdit, QPlainTextEdit, QComboBox, QCheckBox)
    assert not any(isinstance(w, editors) for w in dialog.read_only.values())
    assert dialog.changes() == {}, "filling the form in is not a change"

    dialog.name.setText("Ann's phone")
    dialog.site.setCurrentIndex(1)
    assert set(dialog.changes()) == {"name", "site_id"}
    with qtbot.waitSignal(section.loaded, timeout=10_000):
        dialog.save()
    saved = svc.get_service(db, admin, s.id)
    assert saved.name == "Ann's phone" and saved.site_id is not None
    assert saved.active_date == s.active_date, "untouched dates are not rewritten"
    assert section.table.item(0, 1).text() == "Ann's phone"


def test_linked_inventory_is_listed_with_64_pixel_qr_codes(qtbot, section, db, admin, plan):
    ann = active_customer(db, admin)
    new_service(db, admin, plan, ann, 1, management_url="LPA:1$smdp.example.com$ACTIVATION-CODE-ABC123XYZ")
    show(qtbot, section, ann.id)
    qtbot.waitUntil(lambda: section.inventory_table.rowCount() == 2, timeout=10_000)
    assert section.inventory_caption.text() == "Linked inventory (2)"
    sim_row = next(r for r in range(2) if section.inventory_table.item(r, 1).text().startswith("SIM Card"))
    pixmap = section.inventory_table.cellWidget(sim_row, 0).pixmap()
    assert (pixmap.width(), pixmap.height()) == (64, 64)
    assert "href" not in section.inventory_table.cellWidget(sim_row, 3).text(), "an eSIM string is not a web link"
    number_row = 1 - sim_row
    assert section.inventory_table.cellWidget(number_row, 0).pixmap().isNull(), "no management URL, no QR code"


def test_remove_auto_renew_asks_then_stops_renewal_and_keeps_the_status(qtbot, section, db, admin, plan):
    ann = active_customer(db, admin)
    s = new_service(db, admin, plan, ann, 1, ends_in_days=10)
    show(qtbot, section, ann.id)
    section.renew_button.click()
    assert "remove the scheduled auto-renewal for: Mobile 1" in visible_boxes()[0].text()
    with qtbot.waitSignal(section.loaded, timeout=10_000):
        answer(qtbot, "Remove Auto-Renewal")
    after = svc.get_service(db, admin, s.id)
    assert not after.auto_renew and after.status == "active"
    assert section.badges[0] == ("Active",)
    assert section.renew_button.isHidden()


def test_the_customer_detail_has_a_services_tab(qtbot, db, admin, plan):
    ann = active_customer(db, admin)
    new_service(db, admin, plan, ann, 1)
    view = CustomerDetailView(db, admin)
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    with qtbot.waitSignal(view.services.loaded, timeout=10_000):
        view.show_customer(ann.id)
    index = view.TABS.index("Services")
    assert view.tabs.widget(index) is view.services
    assert view.tabs.tabText(index) == "Services (1)"
    assert view.tabs.tabText(view.TABS.index("Activity")) == "Activity"


def test_upcoming_auto_renewals_are_listed_soonest_first_and_expiring_soon_within_7_days(qtbot, db, admin, plan):
    ann, bob = active_customer(db, admin), active_customer(db, admin, "Bob Roe")
    in_20 = new_service(db, admin, plan, ann, 1, ends_in_days=20)
    in_3 = new_service(db, admin, plan, bob, 2, ends_in_days=3)
    new_service(db, admin, plan, ann, 3, ends_in_days=5, auto_renew=False)  # expires, does not renew
    new_service(db, admin, plan, ann, 4, ends_in_days=60)
    ws = ServicesWorkspace(db, admin)
    qtbot.addWidget(ws)
    ws.resize(1200, 600)
    with qtbot.waitSignal(ws.renewals.loaded, timeout=10_000):
        ws.show()
    view = ws.renewals
    assert [r.service_id for r in view.rows] == [in_3.id, in_20.id], "30 days ahead, soonest first, renewing only"
    assert view.table.item(0, 0).text() == f"Bob Roe ({bob.id})"
    assert view.table.item(0, 3).text() == "15.00"
    assert "from now" in view.table.item(0, 4).text()
    with qtbot.waitSignal(view.loaded, timeout=10_000):
        view.horizon.setCurrentIndex(view.horizon.findData(7))
    assert [r.service_id for r in view.rows] == [in_3.id]

    qtbot.waitUntil(lambda: ws.expiring.table.rowCount() == 2, timeout=10_000)
    assert [s.name for s in ws.expiring.services] == ["Mobile 2", "Mobile 3"]

    view.table.selectRow(0)
    view.remove_button.click()
    with qtbot.waitSignal(view.loaded, timeout=10_000):
        answer(qtbot, "Remove Auto-Renewal")
    assert view.rows == [] and not svc.get_service(db, admin, in_3.id).auto_renew


def test_the_services_tab_keeps_its_qr_size_in_step_with_the_labels_module():
    from omnidesk.inventory import labels
    from omnidesk.ui.services import customer_services

    assert customer_services.QR_SIZE == labels.TABLE_SIZE == 64
    assert customer_services.MAX_SERVICES == svc.MAX_PAGE


def test_add_service_opens_the_provisioning_wizard_for_this_customer_and_only_for_those_who_may(qtbot, db, admin,
                                                                                               section):
    from tests.security_helpers import signed_in

    customer = active_customer(db, admin)
    show(qtbot, section, customer.id)
    assert section.add_button.isVisibleTo(section)
    section.add_button.click()
    qtbot.waitUntil(lambda: getattr(section, "wizard", None) is not None and section.wizard.isVisible(), timeout=5_000)
    assert section.wizard.objectName() == "addServiceWizard" and section.wizard.customer_id == customer.id
    section.wizard.reject()
    support, _ = signed_in(db, admin, "sue", ["Support"])  # views and changes services, provisions nothing
    other = CustomerServicesSection(support.db, support.actor)
    qtbot.addWidget(other)
    assert not other.add_button.isVisibleTo(other)


def test_the_balances_pane_follows_the_selected_service_even_when_chosen_mid_answer(qtbot, db, admin, plan, section):
    customer = active_customer(db, admin)
    for n in (31, 32):
        new_service(db, admin, plan, customer, n)
    show(qtbot, section, customer.id)
    section.table.selectRow(0)
    qtbot.waitUntil(lambda: section.balances.message.text() != "", timeout=5_000)  # settled on row 0
    wanted = section.services[0].id
    section.balances.message.setText("")
    section.table.selectRow(1)  # its answer is on its way when ...
    section.table.selectRow(0)  # ... the operator goes back
    qtbot.waitUntil(lambda: section.balances.message.text() != "", timeout=2_500)  # before the 3-second refresh
    assert f"Service {wanted} " in section.balances.message.text()

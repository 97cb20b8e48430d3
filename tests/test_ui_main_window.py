"""The main window: its tabs, the status bar and the broadcast profile (its screenshot: test_ui_screenshots)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel

from omnidesk.ui.main_window import MainWindow


pytestmark = pytest.mark.usefixtures("settled_gui")


@pytest.fixture
def window(qtbot):
    w = MainWindow(profile="staff")
    qtbot.addWidget(w)
    w.resize(1400, 860)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.shutdown()


def test_the_window_has_the_four_areas_and_says_where_and_who(qtbot, window, db, admin):
    assert window.windowTitle() == "OmniDesk"
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["Customers", "Billing", "Inventory", "Broadcast"]
    assert window.database_label.text() == "Database: connecting…"
    window.attach(db, admin)
    assert window.database_label.text() == f"Database: {db.display_name}"
    assert window.user_label.text() == "User: admin"
    qtbot.waitUntil(lambda: window.live_label.text() == "● Live updates", timeout=10_000)
    assert window.tabs.currentWidget() is window.customers
    assert window.tabs.widget(1) is window.billing  # the Billing tab (issue 5) in place of its placeholder


def test_the_live_indicator_reports_a_lost_connection(qtbot, window, db, admin):
    window.attach(db, admin)
    qtbot.waitUntil(lambda: window.live_label.text() == "● Live updates", timeout=10_000)
    window.live._on_state(False, "not receiving changes from other workstations (server closed the connection)")
    assert window.live_label.text() == "○ Live updates: off"
    assert "server closed the connection" in window.live_label.toolTip()


def test_the_broadcast_profile_opens_straight_into_the_broadcast_workspace_and_nothing_else(qtbot, db, admin):
    w = MainWindow(profile="broadcast")
    qtbot.addWidget(w)
    assert [w.tabs.tabText(i) for i in range(w.tabs.count())] == ["Broadcast"]
    w.attach(db, admin, live=False)
    try:
        assert [w.tabs.tabText(i) for i in range(w.tabs.count())] == ["Broadcast", "Users && Roles"]
        assert w.tabs.currentWidget() is w.broadcast and w.customers is None
        assert w.broadcast.tabs.tabText(0) == "New warning"
        qtbot.waitUntil(lambda: w.broadcast.compose.template.count() > 0, timeout=10_000)
    finally:
        w.shutdown()


def test_without_a_broadcast_permission_the_tab_is_gone_or_says_why(qtbot, db, admin):
    from tests.security_helpers import signed_in

    support, _ = signed_in(db, admin, "sue", ["Support"])
    staff = MainWindow(profile="staff")
    qtbot.addWidget(staff)
    staff.attach(support.db, support.actor, live=False)
    assert "Broadcast" not in [staff.tabs.tabText(i) for i in range(staff.tabs.count())]
    kiosk = MainWindow(profile="broadcast")
    qtbot.addWidget(kiosk)
    kiosk.attach(support.db, support.actor, live=False)
    assert [kiosk.tabs.tabText(i) for i in range(kiosk.tabs.count())] == ["Broadcast"]
    assert kiosk.broadcast is None
    assert kiosk.tabs.widget(0).findChild(QLabel, "placeholderTitle").text() == "Public warnings are not part of your role"
    for w in (staff, kiosk):
        w.shutdown()

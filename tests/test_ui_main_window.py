"""The main window: its tabs, the status bar and the broadcast profile (its screenshot: test_ui_screenshots)."""

from __future__ import annotations

import pytest

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


def test_the_broadcast_profile_opens_on_the_broadcast_tab(qtbot, db, admin):
    w = MainWindow(profile="broadcast")
    qtbot.addWidget(w)
    assert w.tabs.tabText(w.tabs.currentIndex()) == "Broadcast"
    w.attach(db, admin, live=False)
    assert w.tabs.tabText(w.tabs.currentIndex()) == "Broadcast", "filling in the customers does not steal the tab"

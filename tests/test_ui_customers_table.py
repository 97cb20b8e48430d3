"""The customers table: paged from the server, sorted and searched in SQL, updated live by NOTIFY."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import text

from omnidesk.customers import service
from omnidesk.db.engine import Database
from omnidesk.ui import inspection
from omnidesk.ui.customers.table_model import PLACEHOLDER
from omnidesk.ui.customers.workspace import CustomersWorkspace
from omnidesk.ui.live import LiveUpdates


pytestmark = pytest.mark.usefixtures("settled_gui")


def insert_customers(db, n: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO customer (name, account_type, payment_type, currency) "
                "SELECT 'Customer '||g, 'individual', 'prepaid', 'GBP' FROM generate_series(1, :n) g"
            ),
            {"n": n},
        )


def workspace(qtbot, db, admin, **kwargs) -> CustomersWorkspace:
    ws = CustomersWorkspace(db, admin, **kwargs)
    qtbot.addWidget(ws)
    ws.resize(1100, 640)
    ws.show()
    qtbot.waitExposed(ws)
    return ws


def names(ws: CustomersWorkspace) -> list[str | None]:
    model = ws.model
    return [row.name if (row := model.row_at(r)) else None for r in range(model.rowCount())]


def test_a_customer_created_on_another_connection_appears_without_any_refresh(qtbot, db, admin):
    service.create_customer(db, admin, name="Alice Here")
    live = LiveUpdates.for_database(db)
    ws = workspace(qtbot, db, admin, live=live)
    live.start()
    try:
        qtbot.waitUntil(lambda: live.listening and live.connected, timeout=10_000)
        qtbot.waitUntil(lambda: names(ws) == ["Alice Here"], timeout=10_000)
        qtbot.waitUntil(lambda: ws.count_label.text() == "1 customer", timeout=10_000)

        elsewhere = Database(db.url, application_name="another-workstation")
        worker = threading.Thread(
            target=lambda: service.create_customer(elsewhere, admin, name="Bob Elsewhere", primary_contact={
                "first_name": "Bob", "email": "bob@example.net", "phone": "+447700900123"})
        )
        worker.start()
        worker.join(10)
        elsewhere.dispose()

        qtbot.waitUntil(lambda: names(ws) == ["Alice Here", "Bob Elsewhere"], timeout=10_000)
        qtbot.waitUntil(lambda: ws.count_label.text() == "2 customers", timeout=10_000)
        bob = ws.model.row_at(1)
        assert (bob.email, bob.phone) == ("bob@example.net", "+447700900123")
        shown = ws.model.index(1, 7).data()
        assert shown == "bob@example.net"
    finally:
        live.stop()


def test_a_burst_of_notices_causes_one_refresh(qtbot, db, admin):
    insert_customers(db, 3)
    ws = workspace(qtbot, db, admin)
    qtbot.waitUntil(lambda: ws.model.count == 3, timeout=10_000)
    refreshes = []
    original = ws.model.refresh
    ws.model.refresh = lambda: (refreshes.append(1), original())  # type: ignore[method-assign]
    ws.model._refresh_timer.timeout.disconnect()
    ws.model._refresh_timer.timeout.connect(ws.model.refresh)
    ws.model._refresh_deadline.timeout.disconnect()
    ws.model._refresh_deadline.timeout.connect(ws.model.refresh)
    for i in range(1000):
        ws.notice_changes([{"table": "customer", "op": "update", "id": i, "customer_id": i}])
    qtbot.wait(600)
    assert refreshes == [1]


def test_scrolling_to_the_end_of_5000_customers_holds_at_most_the_page_cap(qtbot, db, admin):
    insert_customers(db, 5000)
    ws = workspace(qtbot, db, admin, page_size=200, max_pages=6)
    model = ws.model
    qtbot.waitUntil(lambda: model.count == 5000 and model.rowCount() == 5000, timeout=10_000)
    assert ws.count_label.text() == "5,000 customers"
    bar = ws.table.verticalScrollBar()
    value = 0
    while value < bar.maximum():
        value = min(bar.maximum(), value + bar.pageStep() * 3)
        bar.setValue(value)
        qtbot.waitUntil(lambda: inspection.visible_rows_loaded(ws.table), timeout=10_000)
        assert len(model.cached_pages()) <= 6
    assert model.max_pages_held <= 6
    assert 6 <= len(set(model.pages_read)) <= 25
    # The last page was read from the other end (a short OFFSET); it must still be the true end.
    expected = [r.name for r in service.list_customers(db, admin, offset=4990, limit=10)]
    assert [model.row_at(r).name for r in range(4990, 5000)] == expected
    assert expected[-1] == "Customer 999"


def test_jumping_to_the_end_reads_only_the_pages_on_screen(qtbot, db, admin):
    insert_customers(db, 5000)
    ws = workspace(qtbot, db, admin, page_size=200, max_pages=6)
    model = ws.model
    qtbot.waitUntil(lambda: model.count == 5000 and inspection.visible_rows_loaded(ws.table), timeout=10_000)
    ws.table.scrollToBottom()
    qtbot.waitUntil(lambda: inspection.visible_rows_loaded(ws.table), timeout=10_000)
    assert set(model.pages_read) <= {0, 23, 24}, model.pages_read
    untouched = model.index(2500, 1).data()  # the middle was never on screen, so it is not loaded
    assert untouched == PLACEHOLDER


def test_sorting_by_a_header_click_happens_in_sql(qtbot, db, admin):
    for name in ("Charlie", "alpha", "Bravo"):
        service.create_customer(db, admin, name=name)
    ws = workspace(qtbot, db, admin)
    qtbot.waitUntil(lambda: names(ws) == ["alpha", "Bravo", "Charlie"] or names(ws) == ["Bravo", "Charlie", "alpha"],
                    timeout=10_000)
    by_name = names(ws)
    ws.table.horizontalHeader().setSortIndicator(1, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: names(ws) == list(reversed(by_name)), timeout=10_000)
    assert (ws.model.query.sort, ws.model.query.descending) == ("name", True)
    ws.table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: names(ws) == ["Charlie", "alpha", "Bravo"], timeout=10_000)
    # E-mail cannot be sorted by the server: the request is refused and the indicator stays on ID.
    ws.table.horizontalHeader().setSortIndicator(7, Qt.SortOrder.AscendingOrder)
    assert ws.table.horizontalHeader().sortIndicatorSection() == 0
    assert ws.model.query.sort == "id"


def test_search_filters_as_you_type(qtbot, db, admin):
    insert_customers(db, 300)
    service.create_customer(db, admin, name="Zebra Telecom", primary_contact={"first_name": "Zed", "email": "noc@zebra.example"})
    ws = workspace(qtbot, db, admin)
    qtbot.waitUntil(lambda: ws.model.count == 301, timeout=10_000)
    assert "1–2 letters" in ws.search.placeholderText()
    ws.search.setFocus()
    qtbot.keyClicks(ws.search, "ZEBRA.ex")
    qtbot.waitUntil(lambda: names(ws) == ["Zebra Telecom"], timeout=10_000)
    qtbot.waitUntil(lambda: ws.count_label.text() == "1 customer found", timeout=10_000)
    ws.search.clear()
    qtbot.keyClicks(ws.search, "Customer 29")
    qtbot.waitUntil(lambda: ws.model.count == 11 and None not in names(ws), timeout=10_000)
    assert sorted(names(ws)) == sorted(["Customer 29", *(f"Customer 29{i}" for i in range(10))])


def test_results_of_an_older_search_are_discarded(qtbot, db, admin, monkeypatch):
    insert_customers(db, 50)
    release = threading.Event()
    real = service.list_customers

    def list_customers(db_, actor, **kwargs):
        if kwargs.get("search") == "Customer 1":
            release.wait(10)  # the older query answers last
        return real(db_, actor, **kwargs)

    monkeypatch.setattr(service, "list_customers", list_customers)
    ws = workspace(qtbot, db, admin)
    qtbot.waitUntil(lambda: ws.model.count == 50, timeout=10_000)
    ws.model.update_query(search="Customer 1")
    ws.model.update_query(search="Customer 2")
    qtbot.waitUntil(lambda: ws.model.count == 11 and None not in names(ws), timeout=10_000)
    release.set()
    qtbot.waitUntil(lambda: inspection.settle(0.01), timeout=10_000)
    qtbot.wait(50)
    assert all(n.startswith("Customer 2") for n in names(ws)), names(ws)
    assert ws.model.count == 11


def test_status_filter_and_show_archived(qtbot, db, admin):
    kept = service.create_customer(db, admin, name="Kept")
    gone = service.create_customer(db, admin, name="Gone")
    service.change_status(db, admin, kept.id, "active")
    service.archive_customer(db, admin, gone.id)
    ws = workspace(qtbot, db, admin)
    qtbot.waitUntil(lambda: names(ws) == ["Kept"], timeout=10_000)
    ws.show_archived.setChecked(True)
    qtbot.waitUntil(lambda: names(ws) == ["Gone", "Kept"], timeout=10_000)
    assert ws.model.index(0, 1).data() == "Gone (archived)"
    ws.status_filter.setCurrentIndex(ws.status_filter.findData("active"))
    qtbot.waitUntil(lambda: names(ws) == ["Kept"], timeout=10_000)


def test_enter_or_a_double_click_on_a_row_opens_the_customer(qtbot, db, admin):
    service.create_customer(db, admin, name="Acme")
    service.create_customer(db, admin, name="Brightside")
    ws = workspace(qtbot, db, admin)
    qtbot.waitUntil(lambda: names(ws) == ["Acme", "Brightside"], timeout=10_000)
    detail = ws.detail
    assert not detail.isVisible()

    ws.table.setFocus()
    ws.table.setCurrentIndex(ws.model.index(0, 1))
    with qtbot.waitSignal(detail.loaded, timeout=10_000):
        qtbot.keyClick(ws.table, Qt.Key.Key_Return)
    assert detail.isVisible() and detail.name_label.text() == "Acme"

    second_row = ws.table.visualRect(ws.model.index(1, 1)).center()
    qtbot.mouseClick(ws.table.viewport(), Qt.MouseButton.LeftButton, pos=second_row)  # QTest's double click lacks the press
    with qtbot.waitSignal(detail.loaded, timeout=10_000):
        qtbot.mouseDClick(ws.table.viewport(), Qt.MouseButton.LeftButton, pos=second_row)
    assert detail.name_label.text() == "Brightside"


def test_a_broad_search_lists_up_to_the_count_cap_and_asks_to_refine(qtbot, db, admin, monkeypatch):
    monkeypatch.setattr(service, "SEARCH_COUNT_CAP", 250)
    insert_customers(db, 600)
    ws = workspace(qtbot, db, admin)
    qtbot.waitUntil(lambda: ws.model.count == 600, timeout=10_000)
    assert ws.count_label.text() == "600 customers", "the whole list is counted exactly"
    ws.model.update_query(search="customer")
    qtbot.waitUntil(lambda: ws.model.count_capped and ws.model.rowCount() == 250, timeout=10_000)
    assert ws.count_label.text() == "250+ customers found: refine the search to see the rest"
    ws.table.scrollToBottom()
    qtbot.waitUntil(lambda: inspection.visible_rows_loaded(ws.table), timeout=10_000)
    expected = [r.name for r in service.list_customers(db, admin, search="customer", offset=240, limit=10)]
    assert [ws.model.row_at(r).name for r in range(240, 250)] == expected
    ws.model.update_query(search="customer 59")
    qtbot.waitUntil(lambda: ws.model.count == 11 and not ws.model.count_capped, timeout=10_000)
    assert ws.count_label.text() == "11 customers found"

"""The background-operation helper: the GUI thread keeps running, results and errors come back to it."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QThread, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from sqlalchemy import text

from omnidesk.customers import service
from omnidesk.errors import PermissionDenied, ValidationError
from omnidesk.ui import ops


pytestmark = pytest.mark.usefixtures("settled_gui")


def open_boxes() -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


def test_the_gui_thread_keeps_ticking_while_a_slow_query_runs(qtbot, db):
    owner = QWidget()
    qtbot.addWidget(owner)
    ticks: list[float] = []
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    results, threads = [], []

    def slow_query() -> int:
        threads.append(threading.current_thread())
        with db.read() as s:
            return s.execute(text("SELECT 42 FROM pg_sleep(1.5)")).scalar_one()

    def done(value: int) -> None:
        results.append((value, QThread.currentThread() is QApplication.instance().thread()))

    timer.start()
    started = time.monotonic()
    ops.query(owner, slow_query, done)
    assert ops.in_flight() == 1
    qtbot.waitUntil(lambda: bool(results), timeout=15_000)
    elapsed = time.monotonic() - started
    timer.stop()

    assert results == [(42, True)], "the result arrives on the GUI thread"
    assert threads and threads[0] is not threading.main_thread(), "the query ran on a worker thread"
    assert elapsed >= 1.4
    during = [t for t in ticks if t <= started + 1.5]
    assert len(during) >= 25, f"only {len(during)} timer ticks in 1.5 s: the GUI thread was blocked"
    gaps = [b - a for a, b in zip([started, *ticks], ticks)]
    assert max(gaps) < 0.5, f"the GUI thread stalled for {max(gaps):.2f} s"
    assert ops.in_flight() == 0


def test_a_service_refusal_is_shown_exactly_as_the_service_wrote_it(qtbot, db, admin):
    owner = QWidget()
    qtbot.addWidget(owner)
    shown: list[str] = []
    ops.tracker().error_shown.connect(shown.append)
    try:
        ops.mutate(owner, lambda: service.create_customer(db, admin, name="   "), lambda _r: pytest.fail("must not succeed"))
        qtbot.waitUntil(lambda: bool(shown), timeout=10_000)
        assert shown == ["Customer name is required."]
        boxes = open_boxes()
        assert [b.text() for b in boxes] == ["Customer name is required."]
        assert boxes[0].informativeText() == ""
    finally:
        ops.tracker().error_shown.disconnect(shown.append)


def test_permission_and_validation_errors_keep_their_message(qtbot, db):
    owner = QWidget()
    qtbot.addWidget(owner)
    shown: list[str] = []
    ops.tracker().error_shown.connect(shown.append)

    def refuse():
        raise PermissionDenied("clerk may not archive customers (needs the delete_customer permission).")

    def invalid():
        raise ValidationError({"email": "'x' is not a valid e-mail address."})

    try:
        ops.mutate(owner, refuse)
        ops.query(owner, invalid)
        qtbot.waitUntil(lambda: len(shown) == 2, timeout=10_000)
        assert sorted(shown) == [
            "'x' is not a valid e-mail address.",
            "clerk may not archive customers (needs the delete_customer permission).",
        ]
    finally:
        ops.tracker().error_shown.disconnect(shown.append)


def test_an_unexpected_error_says_something_went_wrong_with_the_details(qtbot, db):
    owner = QWidget()
    qtbot.addWidget(owner)

    def broken():
        raise KeyError("missing_column")

    ops.query(owner, broken, lambda _r: pytest.fail("must not succeed"))
    qtbot.waitUntil(lambda: bool(open_boxes()), timeout=10_000)
    box = open_boxes()[0]
    assert box.text() == "Something went wrong"
    assert "KeyError" in box.informativeText() and "missing_column" in box.informativeText()
    assert "Traceback" in box.detailedText()


def test_the_result_is_dropped_when_the_asking_widget_was_destroyed(qtbot, db):
    owner = QWidget()
    release = threading.Event()
    delivered, errors = [], []
    ops.query(owner, lambda: release.wait(10) and "late", delivered.append, errors.append)
    owner.deleteLater()
    qtbot.waitUntil(lambda: not ops.alive(owner), timeout=5_000)
    release.set()
    qtbot.waitUntil(lambda: ops.in_flight() == 0, timeout=10_000)
    assert delivered == [] and errors == [] and open_boxes() == []


def test_a_success_message_reaches_the_status_bar_signal(qtbot, db, admin):
    owner = QWidget()
    qtbot.addWidget(owner)
    with qtbot.waitSignal(ops.tracker().message, timeout=10_000) as signal:
        ops.mutate(owner, lambda: service.create_customer(db, admin, name="Acme Ltd"), success_message=lambda d: f"Created {d.label}.")
    assert signal.args[0].startswith("Created Customer ") and signal.args[0].endswith("(Acme Ltd).")

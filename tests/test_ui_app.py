"""Starting the GUI through run_gui: the window comes first, the database behind it."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from sqlalchemy import text

from omnidesk.config import Settings
from omnidesk.ui import inspection
from omnidesk.ui.app import run_gui
from omnidesk.ui.main_window import MainWindow


@pytest.fixture(autouse=True)
def settled(db, qtbot):
    yield
    assert inspection.settle(15), "background operations were still running after the test"
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, (QMessageBox, MainWindow)):
            widget.close()


def settings_for(db, tmp_path: Path, profile: str = "staff") -> Settings:
    return Settings(database_url=db.url, data_dir=tmp_path, config_file=tmp_path / "config.toml", profile=profile)


def main_windows() -> list[MainWindow]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]


def test_run_gui_shows_the_window_then_the_customers_and_quits_when_asked(qtbot, db, admin, tmp_path, monkeypatch, capsys):
    from omnidesk.customers import service
    from tests import security_helpers

    service.create_customer(db, admin, name="Acme")
    # The benchmark's way in: a staff member who needs no second factor, named in the environment.
    monkeypatch.setenv("OMNIDESK_USERNAME", "bench")
    monkeypatch.setenv("OMNIDESK_PASSWORD", security_helpers.make_user(db, admin, "bench", ["Support"]))
    monkeypatch.setenv("OMNIDESK_EXIT_WHEN_READY", "1")
    seen_before_ready = []
    QTimer.singleShot(0, lambda: seen_before_ready.extend(w.database_label.text() for w in main_windows()))
    code = run_gui(["omnidesk"], settings_for(db, tmp_path))
    assert code == 0
    assert seen_before_ready == ["Database: connecting…"], "the window was shown before the database was open"
    assert capsys.readouterr().out.startswith("ready after ")
    with db.read() as s:  # quitting ends the staff session in the database
        assert s.scalar(text("SELECT count(*) FROM staff_session WHERE ended_at IS NULL")) == 0
        assert s.scalar(text("SELECT count(*) FROM staff_session")) == 1


def test_a_database_newer_than_the_app_is_refused_with_a_clear_message(qtbot, db, tmp_path):
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    messages: list[str] = []

    def close_the_error() -> None:
        boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
        if not boxes:
            QTimer.singleShot(20, close_the_error)
            return
        messages.append(boxes[0].windowTitle() + " | " + boxes[0].text())
        boxes[0].accept()

    QTimer.singleShot(20, close_the_error)
    code = run_gui(["omnidesk"], settings_for(db, tmp_path))
    assert code == 1
    assert len(messages) == 1
    title, message = messages[0].split(" | ")
    assert title == "This database is newer than this OmniDesk"
    assert message.startswith("This database has schema 9999_from_the_future, which is newer than this OmniDesk")
    assert "Install the newer OmniDesk" in message

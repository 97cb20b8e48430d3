"""Quit in the login dialog, or Cancel in the enrolment wizard, while a step is still running: the step's
late answer must not sign anyone in, and a session it opened in the database is ended.

Each test holds the real step (against the real database) at a gate, cancels, then lets it finish."""

from __future__ import annotations

import threading
import time

import keyring
import pyotp
import pytest
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QWizard
from sqlalchemy import text

from omnidesk.auth import session as auth_session
from omnidesk.ui import inspection
from omnidesk.ui.app import apply_stylesheet
from omnidesk.ui.auth.login import LoginDialog
from omnidesk.ui.main_window import MainWindow
from tests import security_helpers as helpers


@pytest.fixture(autouse=True)
def settled(db, qtbot):
    apply_stylesheet(QApplication.instance())
    before = keyring.get_keyring()
    keyring.set_keyring(helpers.memory_keyring())
    yield
    assert inspection.settle(15), "background operations were still running after the test"
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, MainWindow):
            widget.shutdown()
        if isinstance(widget, (QMessageBox, MainWindow, LoginDialog, QWizard)):
            widget.close()
    keyring.set_keyring(before)


class Gate:
    """Wraps a method of StaffLogin/StaffSession so that the real call waits until released."""

    def __init__(self, monkeypatch, cls, name: str):
        self.entered, self.released, self.returned = threading.Event(), threading.Event(), threading.Event()
        real = getattr(cls, name)

        def held(obj, *args, **kwargs):
            self.entered.set()
            assert self.released.wait(20), "the test never released the step"
            try:
                return real(obj, *args, **kwargs)
            finally:
                self.returned.set()

        monkeypatch.setattr(cls, name, held)


def sessions(db, username: str) -> tuple[int, int]:
    """(sessions ever opened, sessions still open) of `username` in the database."""
    with db.read() as s:
        return tuple(s.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE ss.ended_at IS NULL) FROM staff_session ss "
            "JOIN staff_user u ON u.id = ss.user_id WHERE u.username = :u"), {"u": username}).one())


def dialog_for(qtbot, db) -> tuple[LoginDialog, list]:
    dialog = LoginDialog(helpers.url(db), db.display_name, helpers.suffix(db))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    signed = []
    dialog.signed_in.connect(signed.append)
    return dialog, signed


def password_step(qtbot, dialog, username: str) -> None:
    dialog.username.setText(username)
    dialog.password.setText(helpers.NEW_PASSWORD)
    dialog.submit_password()


@pytest.mark.parametrize("when", ["while_running", "after_it_answered"])
def test_quit_while_the_code_is_checked_signs_nobody_in_and_ends_the_session(qtbot, db, admin, monkeypatch, when):
    session, enrolment = helpers.signed_in(db, admin, "lena", ["Admin"])
    session.sign_out()
    assert sessions(db, "lena") == (1, 0)
    dialog, signed = dialog_for(qtbot, db)
    password_step(qtbot, dialog, "lena")
    qtbot.waitUntil(lambda: dialog.current_step() == "code" and not dialog.busy, timeout=10_000)

    gate = Gate(monkeypatch, auth_session.StaffLogin, "verify")
    dialog.code.setText(pyotp.TOTP(enrolment.secret).at(time.time() + 30))
    dialog.submit_code()
    qtbot.waitUntil(gate.entered.is_set, timeout=10_000)
    if when == "while_running":
        dialog.reject()  # what Quit does
        gate.released.set()
    else:  # the database has answered and the answer waits for the GUI thread when Quit comes
        gate.released.set()
        assert gate.returned.wait(20)
        time.sleep(0.2)  # no events processed: the outcome is still queued
        dialog.reject()
    assert inspection.settle(15)
    qtbot.waitUntil(lambda: sessions(db, "lena")[1] == 0, timeout=10_000)

    assert signed == [] and dialog.session is None
    assert dialog.result() == QDialog.DialogCode.Rejected and not dialog.isVisible()
    assert sessions(db, "lena") == (2, 0), "the code opened a session in the database, and it was ended"
    with db.read() as s:
        assert s.scalar(text("SELECT count(*) FROM activity_log WHERE action = 'signed_out' "
                             "AND actor_name = 'lena'")) == 2


def test_quit_while_the_password_is_checked_goes_no_further(qtbot, db, admin, monkeypatch):
    helpers.make_user(db, admin, "mona", ["Support"])  # password only: the next step would sign in at once
    entered, released = threading.Event(), threading.Event()
    real_sign_in = auth_session.sign_in

    def held_sign_in(*args, **kwargs):
        entered.set()
        assert released.wait(20)
        return real_sign_in(*args, **kwargs)

    monkeypatch.setattr(auth_session, "sign_in", held_sign_in)
    dialog, signed = dialog_for(qtbot, db)
    password_step(qtbot, dialog, "mona")
    qtbot.waitUntil(entered.is_set, timeout=10_000)
    dialog.reject()
    released.set()
    assert inspection.settle(15)
    qtbot.wait(100)
    assert signed == [] and dialog.login is None and dialog.current_step() == "password"
    assert sessions(db, "mona") == (0, 0), "the password-only session was never opened"


def test_cancel_in_the_wizard_while_the_first_code_is_checked_signs_nobody_in(qtbot, db, admin, monkeypatch):
    helpers.make_user(db, admin, "nils", ["Admin"])  # Admin requires 2FA: the wizard comes first
    dialog, signed = dialog_for(qtbot, db)
    password_step(qtbot, dialog, "nils")
    qtbot.waitUntil(lambda: dialog.wizard is not None and dialog.wizard.isVisible(), timeout=10_000)
    wizard = dialog.wizard
    wizard.password_page.password.setText(helpers.NEW_PASSWORD)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.qr_page, timeout=10_000)
    wizard.next()
    wizard.codes_page.saved.setChecked(True)
    wizard.next()
    assert wizard.currentPage() is wizard.confirm_page

    gate = Gate(monkeypatch, auth_session.StaffLogin, "confirm_enrolment")
    wizard.confirm_page.code.setText(pyotp.TOTP(wizard.enrolment.secret).now())
    wizard.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(gate.entered.is_set, timeout=10_000)
    wizard.button(QWizard.WizardButton.CancelButton).click()
    assert not wizard.isVisible() and dialog.current_step() == "password"
    gate.released.set()
    assert inspection.settle(15)
    qtbot.waitUntil(lambda: sessions(db, "nils")[1] == 0, timeout=10_000)

    assert signed == [] and dialog.session is None and wizard.session is None
    assert dialog.isVisible() and dialog.current_step() == "password", "back to username and password"
    assert sessions(db, "nils") == (1, 0), "the confirmed code opened a session in the database, and it was ended"


def test_cancel_in_the_wizard_from_my_account_keeps_the_window_signed_in(qtbot, db, admin, monkeypatch):
    session, _none = helpers.signed_in(db, admin, "olga", ["Support"])  # 2FA optional: set up from My account
    window = MainWindow()
    qtbot.addWidget(window)
    window.attach(session.db, session.actor, live=False, session=session)
    menu = window.account_menu
    qtbot.waitUntil(lambda: menu.state is not None, timeout=10_000)
    wizard = menu.open_enrolment()
    enrolled = []
    wizard.enrolled.connect(enrolled.append)
    wizard.password_page.password.setText(helpers.NEW_PASSWORD)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.qr_page, timeout=10_000)
    wizard.next()
    wizard.codes_page.saved.setChecked(True)
    wizard.next()
    gate = Gate(monkeypatch, auth_session.StaffSession, "confirm_enrolment")
    wizard.confirm_page.code.setText(pyotp.TOTP(wizard.enrolment.secret).now())
    wizard.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(gate.entered.is_set, timeout=10_000)
    wizard.button(QWizard.WizardButton.CancelButton).click()
    gate.released.set()
    assert inspection.settle(15)
    qtbot.wait(100)
    assert enrolled == []
    assert session.still_open(), "the step answered with the window's own session: that one stays open"
    assert sessions(db, "olga") == (1, 1)
    window.shutdown()
    session.sign_out()

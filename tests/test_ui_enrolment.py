"""The two-factor enrolment wizard (at first sign-in and from "My account"), new backup codes and
turning two-factor off, against the real database."""

from __future__ import annotations

import time

import keyring
import pyotp
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QComboBox, QLineEdit, QMessageBox, QWizard

from omnidesk.auth import session as auth_session
from omnidesk.auth import totp
from omnidesk.auth.session import WrongCode
from omnidesk.ui import inspection
from omnidesk.ui.app import apply_stylesheet
from omnidesk.ui.auth.account import AccountMenu, BackupCodesDialog, DisableTwoFactorDialog, NewBackupCodesDialog
from omnidesk.ui.auth.login import LoginDialog
from omnidesk.ui.main_window import MainWindow
from tests import security_helpers as helpers


@pytest.fixture(autouse=True)
def settled(db, qtbot):
    apply_stylesheet(QApplication.instance())
    before = keyring.get_keyring()
    keyring.set_keyring(helpers.memory_keyring())  # never the computer's real keyring
    yield
    assert inspection.settle(15), "background operations were still running after the test"
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, MainWindow):
            widget.shutdown()
        if isinstance(widget, (QMessageBox, MainWindow, LoginDialog, QWizard, BackupCodesDialog, NewBackupCodesDialog)):
            widget.close()
    keyring.set_keyring(before)


def two_factor_on(db, username: str) -> bool:
    from sqlalchemy import text

    with db.read() as s:
        return s.scalar(text("SELECT a.totp_secret IS NOT NULL FROM staff_auth a JOIN staff_user u ON u.id = a.user_id "
                             "WHERE u.username = :u"), {"u": username})


def open_sessions(db, username: str) -> int:
    from sqlalchemy import text

    with db.read() as s:
        return s.scalar(text("SELECT count(*) FROM staff_session ss JOIN staff_user u ON u.id = ss.user_id "
                             "WHERE u.username = :u AND ss.ended_at IS NULL"), {"u": username})


def wait_page(qtbot, wizard, page) -> None:
    qtbot.waitUntil(lambda: wizard.currentPage() is page and page.isEnabled(), timeout=10_000)


def test_an_administrator_without_2fa_is_taken_through_the_wizard_before_the_main_window(qtbot, db, admin, tmp_path):
    helpers.make_user(db, admin, "grace", ["Admin"])  # Admin requires a second factor; none set up yet
    dialog = LoginDialog(helpers.url(db), db.display_name, helpers.suffix(db))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.username.setText("grace")
    dialog.password.setText(helpers.NEW_PASSWORD)
    dialog.submit_password()
    qtbot.waitUntil(lambda: dialog.wizard is not None and dialog.wizard.isVisible(), timeout=10_000)
    wizard = dialog.wizard
    assert dialog.session is None and open_sessions(db, "grace") == 0, "no session before the second factor"
    inspection.grab(wizard, "enrolment-1-password")

    # 1. the current password, checked by PostgreSQL
    wizard.password_page.password.setText("Not-Her-Password-1")
    wizard.next()
    qtbot.waitUntil(lambda: wizard.password_page.message.isVisibleTo(wizard), timeout=10_000)
    assert wizard.password_page.message.text() == "That is not your current password."
    assert wizard.currentPage() is wizard.password_page
    wizard.password_page.password.setText(helpers.NEW_PASSWORD)
    wizard.next()
    wait_page(qtbot, wizard, wizard.qr_page)

    # 2. the QR code and the secret as text
    pixmap = wizard.qr_page.qr.pixmap()
    assert not pixmap.isNull() and pixmap.width() >= 150
    image = pixmap.toImage()
    assert inspection.distinct_colours(image) == 2, "a black-and-white QR code"
    secret = wizard.enrolment.secret
    assert wizard.qr_page.secret.text().replace(" ", "") == secret
    assert "issuer=OmniDesk" in wizard.enrolment.uri and "grace" in wizard.enrolment.uri
    inspection.grab(wizard, "enrolment-2-qr")
    wizard.next()
    wait_page(qtbot, wizard, wizard.codes_page)

    # 3. ten backup codes, copy and print; Next only once they are saved
    codes_view = wizard.codes_page.codes
    assert len(codes_view.code_labels) == 10
    shown = [label.text().split()[-1] for label in codes_view.code_labels]
    assert shown == [totp.format_backup_code(c) for c in wizard.enrolment.backup_codes]
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    qtbot.mouseClick(codes_view.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text().splitlines() == shown
    from PySide6.QtPrintSupport import QPrintDialog

    qtbot.mouseClick(codes_view.print_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(isinstance(w, QPrintDialog) and w.isVisible()
                                for w in QApplication.topLevelWidgets()), timeout=5000)
    print_dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QPrintDialog) and w.isVisible())
    pdf = tmp_path / "codes.pdf"
    printers = print_dialog.findChild(QComboBox, "printers")
    printers.setCurrentIndex(printers.findText("Print to File (PDF)"))  # offered even with no printer installed
    print_dialog.findChild(QLineEdit, "filename").setText(str(pdf))  # what the person types as the file
    print_dialog.accept()
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000
    import subprocess

    page = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "OmniDesk backup codes" in page and "grace" in page
    assert all(code in page for code in shown), "every code is on the printed page"
    inspection.grab(wizard, "enrolment-3-backup-codes")
    wizard.codes_page.saved.setChecked(True)
    assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    wizard.next()
    wait_page(qtbot, wizard, wizard.confirm_page)

    # 4. a code proves the app holds the secret; the wrong one is refused and nothing is switched on
    right = pyotp.TOTP(secret)
    wrong = next(c for c in (f"{n:06d}" for n in range(4321, 999999, 7919))
                 if all(c != right.at(time.time() + k * 30) for k in (-1, 0, 1)))
    qtbot.keyClicks(wizard.confirm_page.code, wrong)
    qtbot.waitUntil(lambda: wizard.confirm_page.message.isVisibleTo(wizard), timeout=10_000)
    assert wizard.confirm_page.message.text() == (
        "That code does not match the new secret; check the app's clock and try the next code.")
    assert not two_factor_on(db, "grace")
    inspection.grab(wizard, "enrolment-4-confirm")
    with qtbot.waitSignal(dialog.signed_in, timeout=10_000) as signal:
        qtbot.keyClicks(wizard.confirm_page.code, right.now())  # the sixth digit finishes
    session = signal.args[0]
    assert session.actor.username == "grace" and two_factor_on(db, "grace")
    assert open_sessions(db, "grace") == 1
    session.sign_out()

    # a backup code from the wizard now signs grace in, once
    login = auth_session.sign_in(helpers.url(db), "grace", helpers.NEW_PASSWORD, role_suffix=helpers.suffix(db))
    assert login.state.next_step == "code"
    login.verify(shown[3]).sign_out()
    login = auth_session.sign_in(helpers.url(db), "grace", helpers.NEW_PASSWORD, role_suffix=helpers.suffix(db))
    with pytest.raises(WrongCode, match="already been used"):
        login.verify(shown[3])
    login.abandon()


def top(kind):
    found = [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]
    return found[-1] if found else None


def menu_for(qtbot, session) -> tuple[MainWindow, AccountMenu]:
    window = MainWindow()
    qtbot.addWidget(window)
    window.attach(session.db, session.actor, live=False, session=session)
    menu = window.account_menu
    qtbot.waitUntil(lambda: menu.state is not None, timeout=10_000)
    return window, menu


def test_my_account_makes_new_backup_codes_and_the_old_ones_stop_working(qtbot, db, admin):
    session, enrolment = helpers.signed_in(db, admin, "heidi", ["Admin"])
    window, menu = menu_for(qtbot, session)
    assert menu.new_codes.isEnabled() and not menu.set_up.isEnabled()
    assert not menu.turn_off.isEnabled(), "an administrator's roles require two-factor"
    assert menu.turn_off.toolTip() == "Your roles require two-factor authentication"

    # First a code from the app: an unlocked desk alone must not be enough to mint new codes.
    menu.new_codes.trigger()
    qtbot.waitUntil(lambda: top(NewBackupCodesDialog) is not None, timeout=10_000)
    ask = top(NewBackupCodesDialog)
    app = pyotp.TOTP(enrolment.secret)
    near = {app.at(time.time() + 30 * k) for k in range(-2, 3)}
    ask.code.setText(next(c for c in ("000000", "111111", "222222") if c not in near))
    ask.action_button.click()
    qtbot.waitUntil(lambda: ask.message.isVisibleTo(ask), timeout=10_000)
    assert ask.message.text().startswith("Wrong code; no new backup codes were made. 4 more tries")
    assert ask.isVisible() and ask.code.text() == "" and top(BackupCodesDialog) is None
    inspection.grab(ask, "account-new-backup-codes-ask")
    login = auth_session.sign_in(helpers.url(db), "heidi", helpers.NEW_PASSWORD, role_suffix=helpers.suffix(db))
    login.verify(enrolment.backup_codes[1]).sign_out()  # the old codes still work: nothing was issued
    ask.code.setText(app.at(time.time() + 30))
    ask.action_button.click()
    qtbot.waitUntil(lambda: top(BackupCodesDialog) is not None, timeout=10_000)
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, BackupCodesDialog) and w.isVisible())
    new_codes = dialog.codes.codes
    assert len(new_codes) == 10 and set(new_codes).isdisjoint(enrolment.backup_codes)
    inspection.grab(dialog, "account-new-backup-codes")
    dialog.close()

    login = auth_session.sign_in(helpers.url(db), "heidi", helpers.NEW_PASSWORD, role_suffix=helpers.suffix(db))
    with pytest.raises(WrongCode):
        login.verify(enrolment.backup_codes[0])
    login.verify(new_codes[0]).sign_out()
    window.shutdown()


def test_turning_two_factor_off_needs_a_current_code_and_is_offered_only_where_roles_allow(qtbot, db, admin):
    session, _none = helpers.signed_in(db, admin, "ivan", ["Support"])  # Support: 2FA optional
    window, menu = menu_for(qtbot, session)
    assert menu.set_up.isEnabled() and not menu.new_codes.isEnabled() and not menu.turn_off.isEnabled()

    wizard = menu.open_enrolment()  # voluntarily, from My account
    wizard.password_page.password.setText(helpers.NEW_PASSWORD)
    wizard.next()
    wait_page(qtbot, wizard, wizard.qr_page)
    wizard.next()
    wizard.codes_page.saved.setChecked(True)
    wizard.next()
    wait_page(qtbot, wizard, wizard.confirm_page)
    secret = wizard.enrolment.secret
    with qtbot.waitSignal(wizard.enrolled, timeout=10_000):
        qtbot.keyClicks(wizard.confirm_page.code, pyotp.TOTP(secret).now())
    assert two_factor_on(db, "ivan")
    qtbot.waitUntil(lambda: menu.turn_off.isEnabled(), timeout=10_000)

    dialog = menu.open_disable()
    dialog.code.setText("12")
    dialog.submit()
    qtbot.waitUntil(lambda: dialog.message.isVisibleTo(dialog), timeout=10_000)
    assert dialog.message.text() == "Enter the 6 digits your authenticator app shows now."
    assert two_factor_on(db, "ivan")
    inspection.grab(dialog, "account-turn-off-2fa")
    dialog.code.setText(pyotp.TOTP(secret).now())  # the code that confirmed the enrolment: used up (0017)
    dialog.submit()
    qtbot.waitUntil(lambda: "already been used" in dialog.message.text(), timeout=10_000)
    assert two_factor_on(db, "ivan")
    inspection.grab(dialog, "account-turn-off-2fa-reused")
    dialog.code.setText(pyotp.TOTP(secret).at(time.time() + 30))
    with qtbot.waitSignal(dialog.accepted, timeout=10_000):
        dialog.submit()
    assert not two_factor_on(db, "ivan")
    qtbot.waitUntil(lambda: menu.set_up.isEnabled() and not menu.turn_off.isEnabled(), timeout=10_000)
    assert isinstance(dialog, DisableTwoFactorDialog)
    window.shutdown()
    session.sign_out()


def test_the_qr_png_is_a_real_picture():
    enrolment_uri = totp.provisioning_uri(totp.new_secret(), "someone")
    image = QImage.fromData(totp.qr_png(enrolment_uri))
    assert not image.isNull() and image.width() == image.height() and image.width() > 150

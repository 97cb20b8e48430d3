"""The login dialog against the real database: password, code, lock-out, forced change, remember me,
and the application's whole start: window → database → sign-in → workspaces as the staff member."""

from __future__ import annotations

import json
import time

import keyring
import keyring.backends.fail
import pyotp
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWizard
from sqlalchemy import text

from omnidesk.auth import remember, users
from omnidesk.config import Settings
from omnidesk.ui import inspection
from omnidesk.ui.app import Launcher, apply_stylesheet
from omnidesk.ui.auth.login import LoginDialog
from omnidesk.ui.main_window import MainWindow
from tests import security_helpers as helpers


@pytest.fixture(autouse=True)
def settled(db, qtbot):
    apply_stylesheet(QApplication.instance())
    yield
    assert inspection.settle(15), "background operations were still running after the test"
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, (QMessageBox, MainWindow, LoginDialog, QWizard)):
            if isinstance(widget, MainWindow):
                widget.shutdown()
            widget.close()


@pytest.fixture(autouse=True)
def memory_keyring():
    """No test touches the computer's real keyring."""
    before = keyring.get_keyring()
    backend = helpers.memory_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(before)


def dialog_for(qtbot, db) -> LoginDialog:
    dialog = LoginDialog(helpers.url(db), db.display_name, helpers.suffix(db))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: dialog.keyring_reason is not None or dialog.remember.isEnabled(), timeout=5000)
    return dialog


def type_password(qtbot, dialog: LoginDialog, username: str, password: str) -> None:
    dialog.username.setText(username)
    dialog.password.setText(password)
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)


def shown_message(dialog: LoginDialog) -> str:
    for label in (dialog.password_message, dialog.code_message, dialog.change_message):
        if label.isVisibleTo(dialog) and label.text():
            return label.text()
    return ""


def wait_for_message(qtbot, dialog: LoginDialog) -> str:
    qtbot.waitUntil(lambda: not dialog.busy and shown_message(dialog) != "", timeout=10_000)
    return shown_message(dialog)


def next_code(secret: str) -> str:
    """The code of the next 30-second step: accepted (one step of tolerance) and never the one enrolment used."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_full_start_password_then_the_sixth_digit_then_the_main_window_as_that_user(qtbot, db, admin, tmp_path):
    session, enrolment = helpers.signed_in(db, admin, "alice", ["Admin"])
    session.sign_out()
    settings = Settings(database_url=db.url, data_dir=tmp_path, config_file=tmp_path / "c.toml")
    quits = []
    launcher = Launcher(QApplication.instance(), settings, quit=quits.append)
    launcher.start()
    qtbot.waitUntil(lambda: launcher.login is not None and launcher.login.isVisible(), timeout=15_000)
    window, dialog = launcher.window, launcher.login
    assert window.customers is None, "nothing is shown before someone signs in"
    inspection.grab(dialog, "login-password")

    type_password(qtbot, dialog, "alice", helpers.NEW_PASSWORD)
    qtbot.waitUntil(lambda: dialog.current_step() == "code" and not dialog.busy, timeout=10_000)
    assert "Alice" in dialog.code_for.text()
    inspection.grab(dialog, "login-code")
    with qtbot.waitSignal(dialog.signed_in, timeout=10_000):
        qtbot.keyClicks(dialog.code, next_code(enrolment.secret))  # no Enter: the sixth digit submits

    qtbot.waitUntil(lambda: window.customers is not None, timeout=10_000)
    assert window.user_label.text() == "User: alice"
    window.resize(1360, 820)
    qtbot.waitUntil(lambda: window.account_menu.state is not None, timeout=10_000)
    inspection.grab(window, "main-window-signed-in")
    assert window.actor.username == "alice" and window.db.session_token, "the workspaces act as alice's session"
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert "Users && Roles" in titles, "an administrator gets the Users & Roles tab"
    assert window.account_menu is not None and window.account_menu.title() == "My &account"
    with window.db.read() as s:  # the workspaces' connections carry alice's session: RLS lets them read
        assert s.scalar(text("SELECT current_user")).startswith("alice@")
        assert s.scalar(text("SELECT count(*) FROM customer")) == 0

    launcher.sign_out()
    qtbot.waitUntil(lambda: launcher.login is not None and launcher.login.isVisible(), timeout=10_000)
    assert launcher.window is not window and launcher.window.customers is None
    inspection.settle(10)
    with db.read() as s:
        open_sessions = s.scalar(text(
            "SELECT count(*) FROM staff_session ss JOIN staff_user u ON u.id = ss.user_id "
            "WHERE u.username = 'alice' AND ss.ended_at IS NULL"))
    assert open_sessions == 0, "signing out ends the session in the database"
    assert quits == []


def test_wrong_password_unknown_user_and_sql_looking_names_get_the_same_message(qtbot, db, admin):
    helpers.make_user(db, admin, "bob", ["Support"])
    dialog = dialog_for(qtbot, db)
    seen = []
    for username, password in (("bob", "Wrong-Password-1"), ("nobody", "Wrong-Password-1"),
                               ("x'; DROP TABLE staff_user; --", "a")):
        type_password(qtbot, dialog, username, password)
        seen.append(wait_for_message(qtbot, dialog))
        assert dialog.current_step() == "password"
        assert dialog.password.text() == ""
        dialog.password_message.clear()
    assert seen == ["Wrong username or password."] * 3
    with db.read() as s:
        assert s.scalar(text("SELECT count(*) FROM staff_user WHERE username = 'bob'")) == 1


def test_wrong_codes_say_how_many_tries_are_left_then_the_account_is_locked(qtbot, db, admin):
    session, enrolment = helpers.signed_in(db, admin, "carol", ["Admin"])
    session.sign_out()
    dialog = dialog_for(qtbot, db)
    type_password(qtbot, dialog, "carol", helpers.NEW_PASSWORD)
    qtbot.waitUntil(lambda: dialog.current_step() == "code" and not dialog.busy, timeout=10_000)

    dialog.code.setText("12ab")
    dialog.submit_code()
    assert shown_message(dialog).startswith("That is not a code")
    dialog.code.clear()

    right = pyotp.TOTP(enrolment.secret)
    wrong = next(c for c in (f"{n:06d}" for n in range(1000, 999999, 7919))
                 if all(c != right.at(time.time() + k * 30) for k in (-1, 0, 1, 2)))
    messages = []
    for _ in range(4):
        dialog.code_message.clear()
        qtbot.keyClicks(dialog.code, wrong)
        messages.append(wait_for_message(qtbot, dialog))
        assert dialog.code.text() == "", "a wrong code is cleared for the next try"
    assert messages[0] == "Wrong code; 4 more tries before the account is locked for 30 minutes."
    assert messages[3] == "Wrong code; 1 more try before the account is locked for 30 minutes."
    inspection.grab(dialog, "login-wrong-code")

    dialog.code_message.clear()
    qtbot.keyClicks(dialog.code, wrong)
    qtbot.waitUntil(lambda: dialog.current_step() == "password" and shown_message(dialog) != "", timeout=10_000)
    assert "locked for 30 minutes" in shown_message(dialog)

    dialog.password_message.clear()
    type_password(qtbot, dialog, "carol", helpers.NEW_PASSWORD)
    message = wait_for_message(qtbot, dialog)
    assert message.startswith("This account is locked until ") and "after 5 wrong codes" in message
    assert dialog.current_step() == "password"


def test_a_backup_code_signs_in_once_and_a_reused_one_is_refused_with_nothing_counted(qtbot, db, admin):
    session, enrolment = helpers.signed_in(db, admin, "olga", ["Admin"])
    session.sign_out()
    code = enrolment.backup_codes[0]
    typed = f"{code[:4].lower()}-{code[4:].lower()}"  # as read off paper: lower case, with the dash
    dialog = dialog_for(qtbot, db)
    type_password(qtbot, dialog, "olga", helpers.NEW_PASSWORD)
    qtbot.waitUntil(lambda: dialog.current_step() == "code" and not dialog.busy, timeout=10_000)
    qtbot.keyClicks(dialog.code, typed)
    assert not dialog.busy, "a backup code is not submitted before Enter"
    with qtbot.waitSignal(dialog.signed_in, timeout=10_000) as signal:
        qtbot.keyClick(dialog.code, Qt.Key.Key_Return)
    signal.args[0].sign_out()

    again = dialog_for(qtbot, db)
    type_password(qtbot, again, "olga", helpers.NEW_PASSWORD)
    qtbot.waitUntil(lambda: again.current_step() == "code" and not again.busy, timeout=10_000)
    qtbot.keyClicks(again.code, typed)
    qtbot.keyClick(again.code, Qt.Key.Key_Return)
    assert wait_for_message(qtbot, again) == "That backup code has already been used; each one works once."
    assert again.current_step() == "code"


def test_a_temporary_password_must_be_changed_first_and_refusals_name_the_rule(qtbot, db, admin):
    _view, temporary = users.create_user(db, admin, username="dave", full_name="Dave", roles=["Support"])
    dialog = dialog_for(qtbot, db)
    type_password(qtbot, dialog, "dave", temporary)
    qtbot.waitUntil(lambda: dialog.current_step() == "change_password" and not dialog.busy, timeout=10_000)
    inspection.grab(dialog, "login-change-password")

    for new, repeat, expected in (
        ("Short-1a", "Short-1a", "The password must be at least 12 characters long (it has 8)."),
        ("no-upper-case-1", "no-upper-case-1", "The password must contain an upper-case letter."),
        ("Dave-is-great-42", "Dave-is-great-42", "The password must not contain the username."),
        ("Correct-Horse-42", "Correct-Horse-43", "The two passwords differ; type the same new password twice."),
    ):
        dialog.new_password.setText(new)
        dialog.repeat_password.setText(repeat)
        dialog.submit_new_password()
        assert shown_message(dialog) == expected
    with db.read() as s:
        assert s.scalar(text("SELECT a.must_change_password FROM staff_auth a JOIN staff_user u ON u.id = a.user_id "
                             "WHERE u.username = 'dave'")), "no refusal changed anything"

    dialog.new_password.setText("Correct-Horse-42")
    dialog.repeat_password.setText("Correct-Horse-42")
    with qtbot.waitSignal(dialog.signed_in, timeout=15_000) as signal:
        dialog.submit_new_password()
    session = signal.args[0]
    assert session.actor.username == "dave"  # Support needs no second factor: straight in
    session.sign_out()
    login = helpers.auth_session.sign_in(helpers.url(db), "dave", "Correct-Horse-42", role_suffix=helpers.suffix(db))
    assert login.state.next_step == "none"
    login.abandon()


def test_remember_me_keeps_only_the_username_and_server_in_the_keyring(qtbot, db, admin, memory_keyring):
    helpers.make_user(db, admin, "erin", ["Support"])
    dialog = dialog_for(qtbot, db)
    assert dialog.remember.isEnabled() and not dialog.keyring_note.isVisibleTo(dialog)
    dialog.remember.setChecked(True)
    with qtbot.waitSignal(dialog.signed_in, timeout=10_000) as signal:
        type_password(qtbot, dialog, "erin", helpers.NEW_PASSWORD)
    signal.args[0].sign_out()
    inspection.settle(5)
    assert list(memory_keyring.entries) == [(remember.SERVICE, remember.ENTRY)]
    stored = json.loads(memory_keyring.entries[(remember.SERVICE, remember.ENTRY)])
    assert stored == {"server": db.display_name, "username": "erin"}
    assert helpers.NEW_PASSWORD not in json.dumps(list(memory_keyring.entries.values()))

    again = dialog_for(qtbot, db)
    qtbot.waitUntil(lambda: again.username.text() == "erin", timeout=5000)
    assert again.remember.isChecked()

    other_server = LoginDialog(helpers.url(db), "elsewhere (10.0.0.9:5432)", helpers.suffix(db))
    qtbot.addWidget(other_server)
    qtbot.waitUntil(lambda: other_server.remember.isEnabled(), timeout=5000)
    inspection.settle(5)
    assert other_server.username.text() == "", "a username is remembered for its own server only"

    again.remember.setChecked(False)  # unticking forgets it
    with qtbot.waitSignal(again.signed_in, timeout=10_000) as signal:
        type_password(qtbot, again, "erin", helpers.NEW_PASSWORD)
    signal.args[0].sign_out()
    inspection.settle(5)
    assert memory_keyring.entries == {}


def test_without_a_secure_keyring_the_dialog_says_so_and_stores_nothing(qtbot, db, admin):
    keyring.set_keyring(keyring.backends.fail.Keyring())
    helpers.make_user(db, admin, "frank", ["Support"])
    dialog = dialog_for(qtbot, db)
    qtbot.waitUntil(lambda: dialog.keyring_note.isVisibleTo(dialog), timeout=5000)
    assert not dialog.remember.isEnabled() and not dialog.remember.isChecked()
    assert dialog.keyring_note.text().startswith("This computer has no secure keyring")
    assert dialog.keyring_note.text().endswith("Nothing is stored.")
    inspection.grab(dialog, "login-no-keyring")
    with pytest.raises(remember.NoSecureKeyring):
        remember.remember(db.display_name, "frank")
    with qtbot.waitSignal(dialog.signed_in, timeout=10_000) as signal:
        type_password(qtbot, dialog, "frank", helpers.NEW_PASSWORD)
    signal.args[0].sign_out()
    assert remember.recall(db.display_name) is None


def test_a_plain_text_keyring_counts_as_no_secure_keyring():
    from keyring.backend import KeyringBackend

    class PlaintextKeyring(KeyringBackend):  # as keyrings.alt.file names its unencrypted file backend
        priority = 1

        def get_password(self, service, username):
            return None

        def set_password(self, service, username, password):
            raise AssertionError("nothing may be written to a plain-text keyring")

        def delete_password(self, service, username):
            pass

    keyring.set_keyring(PlaintextKeyring())
    assert remember.insecure_reason() == remember.NO_SECURE_KEYRING
    with pytest.raises(remember.NoSecureKeyring):
        remember.remember("omnidesk (embedded)", "someone")


def test_the_first_administrator_of_a_new_embedded_database_is_announced_once(capsys):
    from omnidesk.ui.app import announce_first_admin

    text_ = announce_first_admin("admin", "Ab3#Ab3#Ab3#")
    out = capsys.readouterr().out
    assert "username: admin" in out and "password: Ab3#Ab3#Ab3#" in out and out.strip() == text_.strip()


def test_connect_gives_the_built_in_administrator_a_login_only_on_the_embedded_database(db, tmp_path, monkeypatch):
    from omnidesk.ui import app

    settings = Settings(database_url=db.url, data_dir=tmp_path, config_file=tmp_path / "c.toml")
    workstation = app.connect(settings)
    assert workstation.first_admin is None, "a shared database is set up with `omnidesk admin init`"
    assert not users.builtin_admin_has_login(db)
    assert workstation.role_suffix == helpers.suffix(db)

    # The embedded case: the same database reached as if it were the workstation's own.
    monkeypatch.setattr("omnidesk.db.engine.configured_database",
                        lambda settings=None, application_name="omnidesk": type(db)(db.url))
    embedded = Settings(database_url=None, data_dir=tmp_path, config_file=tmp_path / "c.toml")
    workstation = app.connect(embedded)
    assert workstation.first_admin is not None and workstation.first_admin[0] == "admin"
    password = workstation.first_admin[1]
    assert len(password) == 12
    login = helpers.auth_session.sign_in(helpers.url(db), "admin", password, role_suffix=helpers.suffix(db))
    assert login.state.next_step == "change_password"
    login.abandon()
    assert app.connect(embedded).first_admin is None, "created once, never again"



def test_when_the_database_ends_the_session_the_app_asks_to_sign_in_again(qtbot, db, admin, tmp_path):
    from omnidesk.customers import service as customers

    customers.create_customer(db, admin, name="Acme")  # a row for the session gate to guard
    helpers.make_user(db, admin, "nina", ["Support"])
    settings = Settings(database_url=db.url, data_dir=tmp_path, config_file=tmp_path / "c.toml")
    launcher = Launcher(QApplication.instance(), settings, quit=lambda _code=0: None)
    launcher.start()
    qtbot.waitUntil(lambda: launcher.login is not None and launcher.login.isVisible(), timeout=15_000)
    window = launcher.window
    with qtbot.waitSignal(launcher.login.signed_in, timeout=10_000):
        type_password(qtbot, launcher.login, "nina", helpers.NEW_PASSWORD)
    qtbot.waitUntil(lambda: window.customers is not None, timeout=10_000)
    inspection.settle(10)

    with db.transaction() as s:  # as an administrator's lock or the 8-hour timeout would
        s.execute(text("UPDATE staff_session SET ended_at = now() WHERE ended_at IS NULL"))
    window.customers.search.setText("Acme")
    qtbot.waitUntil(lambda: launcher.window is not window and launcher.login is not None
                    and launcher.login.isVisible(), timeout=15_000)
    assert launcher.login.notice.text().startswith("Your session has ended")
    inspection.grab(launcher.login, "login-session-ended")
    launcher.stop_watching()


def test_on_a_new_database_the_dialog_points_to_the_password_printed_in_the_terminal(qtbot, db, tmp_path, capsys):
    from omnidesk.ui.app import Workstation

    settings = Settings(database_url=db.url, data_dir=tmp_path, config_file=tmp_path / "c.toml")
    launcher = Launcher(QApplication.instance(), settings, quit=lambda _code=0: None)
    launcher.window.show()
    launcher.connected(Workstation(helpers.url(db), db.display_name, helpers.suffix(db), ("admin", "Ab3#Cd4%Ef5&")))
    assert "password: Ab3#Cd4%Ef5&" in capsys.readouterr().out
    dialog = launcher.login
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    assert dialog.notice.isVisibleTo(dialog)
    assert dialog.notice.text() == ("This database is new. Sign in as “admin” with the temporary password printed in "
                                    "the terminal that started OmniDesk.")
    assert "Ab3#" not in dialog.notice.text(), "the password itself is never shown in the window"
    assert dialog.username.text() == "admin"
    inspection.grab(dialog, "login-new-database")

"""The Users & Roles workspace, used by a signed-in administrator against the real database."""

from __future__ import annotations

import keyring
import pytest
from PySide6.QtWidgets import QApplication, QMessageBox
from sqlalchemy import text

from omnidesk.auth import session as auth_session
from omnidesk.auth import users
from omnidesk.ui import inspection
from omnidesk.ui.app import apply_stylesheet
from omnidesk.ui.main_window import MainWindow
from omnidesk.ui.users.workspace import TemporaryPasswordDialog, UserDialog, UsersWorkspace
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
        if isinstance(widget, (QMessageBox, TemporaryPasswordDialog, UserDialog, MainWindow)):
            widget.close()
    keyring.set_keyring(before)


@pytest.fixture
def root(db, admin):
    """A real administrator, signed in with two factors: the workspace acts through their session."""
    session, _enrolment = helpers.signed_in(db, admin, "root", ["Admin"])
    yield session
    session.sign_out()


def workspace_for(qtbot, session) -> UsersWorkspace:
    ws = UsersWorkspace(session.db, session.actor)
    qtbot.addWidget(ws)
    ws.resize(1200, 700)
    ws.show()
    qtbot.waitExposed(ws)
    qtbot.waitUntil(lambda: bool(ws.users_page.rows and ws.roles_page.roles), timeout=10_000)
    return ws


def top(kind):
    found = [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]
    return found[-1] if found else None


def click_confirm(qtbot) -> None:
    qtbot.waitUntil(lambda: top(QMessageBox) is not None, timeout=5000)
    box = top(QMessageBox)
    next(b for b in box.buttons() if b.text() == "Continue").click()


def row_of(ws, username: str) -> users.UserView | None:
    return next((u for u in ws.users_page.rows if u.username == username), None)


def test_an_administrator_creates_a_user_with_a_role_and_sees_the_temporary_password_once(qtbot, db, root):
    ws = workspace_for(qtbot, root)
    page = ws.users_page
    assert [u.username for u in page.rows] == ["admin", "root"]
    assert page.new_button.isEnabled()

    dialog = page.open_new()
    dialog.username.setText("Judy Smith")  # a space: refused before anything is sent
    assert not dialog.save_button.isEnabled()
    dialog.touch_all()
    assert dialog.error_text("username").startswith("A username is 2 to 30 characters")
    dialog.username.setText("judy")
    dialog.full_name.setText("Judy Smith")
    dialog.email.setText("judy@example.net")
    dialog.role_boxes["Support"].setChecked(True)
    inspection.grab(dialog, "users-new-user")
    dialog.save()
    qtbot.waitUntil(lambda: top(TemporaryPasswordDialog) is not None, timeout=10_000)
    shown = top(TemporaryPasswordDialog)
    password = shown.password
    assert len(password) == 12 and shown.value.text() == password
    inspection.grab(shown, "users-temporary-password")
    shown.close()

    qtbot.waitUntil(lambda: row_of(ws, "judy") is not None, timeout=10_000)
    judy = row_of(ws, "judy")
    assert judy.roles == ("Support",) and judy.must_change_password and judy.status == "active"
    login = auth_session.sign_in(helpers.url(db), "judy", password, role_suffix=helpers.suffix(db))
    assert login.state.next_step == "change_password", "the temporary password works once, to choose a new one"
    login.abandon()

    # Edit: give Judy Finance too
    assert page.select("judy")
    edit = page.open_edit()
    assert edit.username.isReadOnly() and edit.role_boxes["Support"].isChecked()
    edit.role_boxes["Finance"].setChecked(True)
    edit.full_name.setText("Judy Smith-Jones")
    edit.save()
    qtbot.waitUntil(lambda: row_of(ws, "judy").roles == ("Finance", "Support"), timeout=10_000)
    assert row_of(ws, "judy").full_name == "Judy Smith-Jones"
    assert users.get_user(db, root.actor, "judy").roles == ("Finance", "Support")

    # the same username twice: the database's refusal shows in the dialog
    again = page.open_new()
    again.username.setText("judy")
    again.save()
    qtbot.waitUntil(lambda: again.general_error.isVisibleTo(again), timeout=10_000)
    assert "The username 'judy' is taken" in again.general_error.text()
    again.reject()
    inspection.grab(ws, "users-workspace")


def test_lock_reset_and_delete_then_restore_from_the_workspace(qtbot, db, root, admin):
    helpers.make_user(db, admin, "karl", ["Support"])
    ws = workspace_for(qtbot, root)
    page = ws.users_page
    qtbot.waitUntil(lambda: row_of(ws, "karl") is not None, timeout=10_000)
    page.select("root")
    assert not page.lock_button.isEnabled() and not page.delete_button.isEnabled(), "nobody locks or deletes themself"

    page.select("karl")
    assert page.lock_button.text() == "Lock" and not page.reset_2fa_button.isEnabled(), "karl has no 2FA to reset"
    page.toggle_lock()
    click_confirm(qtbot)
    qtbot.waitUntil(lambda: row_of(ws, "karl").status == "locked", timeout=10_000)
    assert page.lock_button.text() == "Unlock"
    with pytest.raises(auth_session.AccountLocked):
        auth_session.sign_in(helpers.url(db), "karl", helpers.NEW_PASSWORD, role_suffix=helpers.suffix(db))
    page.toggle_lock()
    click_confirm(qtbot)
    qtbot.waitUntil(lambda: row_of(ws, "karl").status == "active", timeout=10_000)

    page.reset_password()
    click_confirm(qtbot)
    qtbot.waitUntil(lambda: top(TemporaryPasswordDialog) is not None, timeout=10_000)
    temporary = top(TemporaryPasswordDialog).password
    top(TemporaryPasswordDialog).close()
    with pytest.raises(auth_session.WrongCredentials):
        auth_session.sign_in(helpers.url(db), "karl", helpers.NEW_PASSWORD, role_suffix=helpers.suffix(db))
    login = auth_session.sign_in(helpers.url(db), "karl", temporary, role_suffix=helpers.suffix(db))
    assert login.state.must_change_password
    login.abandon()

    page.select("karl")
    page.toggle_delete()
    click_confirm(qtbot)
    qtbot.waitUntil(lambda: row_of(ws, "karl") is None, timeout=10_000)
    page.show_deleted.setChecked(True)
    qtbot.waitUntil(lambda: row_of(ws, "karl") is not None and row_of(ws, "karl").status == "deleted", timeout=10_000)
    page.select("karl")
    assert page.delete_button.text() == "Restore" and not page.edit_button.isEnabled()
    page.toggle_delete()
    click_confirm(qtbot)
    qtbot.waitUntil(lambda: row_of(ws, "karl").status != "deleted", timeout=10_000)

    page.search.setText("kar")
    qtbot.waitUntil(lambda: [u.username for u in page.rows] == ["karl"], timeout=10_000)


def test_the_role_editor_grants_and_revokes_permissions_over_the_catalog(qtbot, db, root):
    ws = workspace_for(qtbot, root)
    ws.tabs.setCurrentWidget(ws.roles_page)
    roles = ws.roles_page
    names = [r.name for r in roles.roles]
    roles.role_list.setCurrentRow(names.index("Store Clerk"))
    assert roles.title.text() == "Store Clerk (built-in)" and not roles.delete_button.isEnabled()
    assert roles.boxes["view_customer"].isChecked() and not roles.boxes["view_report"].isChecked()
    assert len(roles.boxes) == len(users.permission_catalog(db))
    assert not roles.save_button.isEnabled()
    roles.boxes["view_report"].setChecked(True)
    roles.boxes["update_inventory"].setChecked(False)
    assert roles.save_button.isEnabled()
    inspection.grab(ws, "users-role-editor")
    roles.save()
    qtbot.waitUntil(lambda: not roles.save_button.isEnabled() and "view_report" in roles.current().permissions,
                    timeout=10_000)
    clerk = users.get_role(db, root.actor, "Store Clerk")
    assert "view_report" in clerk.permissions and "update_inventory" not in clerk.permissions

    roles.create_role("Night Shift")
    qtbot.waitUntil(lambda: roles.current() is not None and roles.current().name == "Night Shift", timeout=10_000)
    assert roles.delete_button.isEnabled() and not any(b.isChecked() for b in roles.boxes.values())
    roles.create_role("night shift")
    qtbot.waitUntil(lambda: roles.message.isVisibleTo(ws), timeout=10_000)
    assert roles.message.text() == "There is already a role called 'night shift'."


def test_the_tab_is_only_for_holders_of_manage_users(qtbot, db, admin):
    support, _ = helpers.signed_in(db, admin, "lena", ["Support"])
    window = MainWindow()
    qtbot.addWidget(window)
    window.attach(support.db, support.actor, live=False, session=support)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert "Users && Roles" not in titles and window.users is None
    assert window.user_label.text() == "User: lena"
    window.shutdown()
    # and the database refuses what the tab would have offered, whatever the client does
    from omnidesk.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        users.create_user(support.db, admin, username="sneaky", roles=["Admin"])
    support.sign_out()


def test_reset_2fa_from_the_workspace_sends_the_user_back_to_the_wizard(qtbot, db, root, admin):
    from omnidesk.customers import service as customers

    customers.create_customer(db, admin, name="Acme")  # a row for the session gate to guard
    maria, _enrolment = helpers.signed_in(db, admin, "maria", ["Broadcast Approver", "Read-only Auditor"])  # 2FA required
    with maria.db.read() as s:
        assert s.scalar(text("SELECT count(*) FROM customer")) == 1
    ws = workspace_for(qtbot, root)
    page = ws.users_page
    qtbot.waitUntil(lambda: row_of(ws, "maria") is not None, timeout=10_000)
    page.select("maria")
    assert row_of(ws, "maria").two_factor and page.reset_2fa_button.isEnabled()
    page.reset_two_factor()
    click_confirm(qtbot)
    qtbot.waitUntil(lambda: not row_of(ws, "maria").two_factor, timeout=10_000)
    assert not page.reset_2fa_button.isEnabled()
    from omnidesk.errors import SessionEnded

    with pytest.raises(SessionEnded):  # her open session ended with it
        with maria.db.read() as s:
            s.execute(text("SELECT count(*) FROM customer"))
    login = auth_session.sign_in(helpers.url(db), "maria", helpers.NEW_PASSWORD, role_suffix=helpers.suffix(db))
    assert login.state.next_step == "enrol"
    login.abandon()
    maria.db.dispose()

"""The Users & Roles dialogs save all or nothing: a refusal of the roles (or of one permission) leaves
the name, the e-mail and the other permissions as they were, and says why."""

from __future__ import annotations

import keyring
import pytest
import shiboken6
from PySide6.QtWidgets import QApplication, QMessageBox

from omnidesk.auth import users
from omnidesk.ui import inspection
from omnidesk.ui.app import apply_stylesheet
from omnidesk.ui.users.workspace import UserDialog, UsersWorkspace
from tests import security_helpers as helpers


@pytest.fixture(autouse=True)
def settled(db, qtbot):
    apply_stylesheet(QApplication.instance())
    before = keyring.get_keyring()
    keyring.set_keyring(helpers.memory_keyring())
    yield
    assert inspection.settle(15), "background operations were still running after the test"
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, (QMessageBox, UserDialog)):
            widget.close()
    keyring.set_keyring(before)


def workspace_for(qtbot, session) -> UsersWorkspace:
    ws = UsersWorkspace(session.db, session.actor)
    qtbot.addWidget(ws)
    ws.resize(1200, 700)
    ws.show()
    qtbot.waitExposed(ws)
    qtbot.waitUntil(lambda: bool(ws.users_page.rows and ws.roles_page.roles), timeout=10_000)
    return ws


def test_the_user_dialog_keeps_nothing_when_the_roles_are_refused(qtbot, db, admin):
    pat = helpers.user_manager(db, admin)
    helpers.make_user(db, admin, "vic", ["Support"])
    users.update_user(db, admin, "vic", full_name="Vic Old", email="vic@old.example")
    ws = workspace_for(qtbot, pat)
    assert ws.users_page.select("vic")
    dialog = ws.users_page.open_edit()
    dialog.full_name.setText("Vic New")
    dialog.email.setText("vic@new.example")
    dialog.role_boxes["Admin"].setChecked(True)  # only an administrator may give Admin; Pat is none
    dialog.save()
    qtbot.waitUntil(lambda: dialog.general_error.isVisibleTo(dialog), timeout=10_000)
    assert "Only an administrator may give or take the role Admin" in dialog.general_error.text()
    assert dialog.isVisible(), "the dialog stays open with what was typed"
    inspection.grab(dialog, "users-save-refused")
    vic = users.get_user(db, admin, "vic")
    assert (vic.full_name, vic.email, vic.roles) == ("Vic Old", "vic@old.example", ("Support",))

    # Untick Admin and save again: name, e-mail and roles go through together.
    dialog.role_boxes["Admin"].setChecked(False)
    dialog.role_boxes["Finance"].setChecked(True)
    dialog.save()
    qtbot.waitUntil(lambda: not shiboken6.isValid(dialog) or not dialog.isVisible(), timeout=10_000)
    vic = users.get_user(db, admin, "vic")
    assert (vic.full_name, vic.email, vic.roles) == ("Vic New", "vic@new.example", ("Finance", "Support"))
    pat.sign_out()


def test_the_role_editor_keeps_the_grant_out_when_the_revoke_is_refused(qtbot, db, admin):
    pat = helpers.user_manager(db, admin)
    users.create_role(db, admin, "Desk", permissions=["view_customer", "manage_users"])
    ws = workspace_for(qtbot, pat)
    ws.tabs.setCurrentWidget(ws.roles_page)
    roles = ws.roles_page
    roles.role_list.setCurrentRow([r.name for r in roles.roles].index("Desk"))
    roles.boxes["view_report"].setChecked(True)  # Pat may give this...
    roles.boxes["manage_users"].setChecked(False)  # ...but only an administrator may take this
    roles.save()
    qtbot.waitUntil(lambda: roles.message.isVisibleTo(ws), timeout=10_000)
    assert roles.message.text().startswith("Only an administrator may add or remove the admin and manage_users")
    assert users.get_role(db, admin, "Desk").permissions == ("manage_users", "view_customer")
    pat.sign_out()

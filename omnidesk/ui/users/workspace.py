"""Users & Roles: staff users (create, edit, roles, reset password or 2FA, lock, delete/restore) and the
role editor over the permission catalog. Only for holders of manage_users (or admin).

Everything goes through omnidesk.auth.users on workers; the database refuses what the actor may not
do whatever this screen shows.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from omnidesk.auth import users
from omnidesk.customers.rules import FieldError
from omnidesk.ui import ops
from omnidesk.ui.forms import FormDialog, text_of

COLUMNS = ("Username", "Name", "E-mail", "Roles", "Status", "2FA", "Last signed in")
USERNAME_RULE = "2 to 30 characters: a lower-case letter, then lower-case letters, digits, “.”, “_” or “-”."


def _when(value) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "never"


class TemporaryPasswordDialog(QDialog):
    """The 12-character temporary password, shown once, with Copy."""

    def __init__(self, username: str, password: str, parent: QWidget | None = None, *, created: bool = True):
        super().__init__(parent)
        self.setObjectName("temporaryPasswordDialog")
        self.setWindowTitle("Temporary password")
        self.setMinimumWidth(480)
        self.password = password
        what = "The account is ready." if created else "The password was reset; their sessions have ended."
        self.value = QLabel(password, objectName="plusCode")
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        copy = QPushButton("Copy", objectName="copyPassword")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(password))
        row = QHBoxLayout()
        row.addWidget(QLabel(f"Username: <b>{username}</b>  ·  Password:"))
        row.addWidget(self.value)
        row.addWidget(copy)
        row.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(
            f"{what} Give this temporary password to {username} in person or by phone. It is shown only now; "
            f"{username} must choose a new one at first sign-in.", wordWrap=True))
        layout.addLayout(row)
        layout.addWidget(buttons)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)


class UserDialog(FormDialog):
    """New user (creates the login role) or edit of name, e-mail and roles."""

    def __init__(self, parent: QWidget | None, db, actor, roles: list[str], user: users.UserView | None = None):
        super().__init__(parent, "Edit staff user" if user else "New staff user",
                         save_label="Save" if user else "Create user")
        self.db, self.actor, self.user = db, actor, user
        self.username = self.add_field("username", "Username", QLineEdit(), self._check_username,
                                       hint="" if user else USERNAME_RULE)
        self.full_name = self.add_field("full_name", "Full name", QLineEdit(), lambda: text_of(self.full_name).strip())
        self.email = self.add_field("email", "E-mail", QLineEdit(), self._check_email)
        self.add_section("Roles", "A user holds every permission of every role ticked here.")
        grid = QGridLayout()
        self.role_boxes: dict[str, QCheckBox] = {}
        for i, name in enumerate(roles):
            box = QCheckBox(name, objectName=f"role_{name}")
            self.role_boxes[name] = box
            grid.addWidget(box, i // 2, i % 2)
        self.outer.addLayout(grid)
        if user is not None:
            self.username.setText(user.username)
            self.username.setReadOnly(True)
            self.full_name.setText(user.full_name)
            self.email.setText(user.email or "")
            for name in user.roles:
                if name in self.role_boxes:
                    self.role_boxes[name].setChecked(True)
        self.finish_layout()

    def _check_username(self) -> str:
        import re

        value = text_of(self.username).strip().lower()
        if not re.fullmatch(r"[a-z][a-z0-9_.-]{1,29}", value):
            raise FieldError(f"A username is {USERNAME_RULE}")
        return value

    def _check_email(self) -> str:
        value = text_of(self.email).strip()
        if value and "@" not in value:
            raise FieldError(f"{value!r} is not an e-mail address.")
        return value

    def chosen_roles(self) -> list[str]:
        return [name for name, box in self.role_boxes.items() if box.isChecked()]

    def operation(self):
        db, actor, roles = self.db, self.actor, self.chosen_roles()
        username, full_name, email = self.value("username"), self.value("full_name"), self.value("email")
        if self.user is None:
            return (lambda: users.create_user(db, actor, username=username, full_name=full_name, email=email,
                                              roles=roles)), f"Created staff user {username}"

        return (lambda: users.save_user(db, actor, username, full_name=full_name, email=email, roles=roles)), \
            f"Saved {username}"


class UsersPage(QWidget):
    def __init__(self, db, actor, parent: QWidget | None = None):
        super().__init__(parent)
        self.db, self.actor = db, actor
        self.rows: list[users.UserView] = []
        self.role_names: list[str] = []
        self.search = QLineEdit(objectName="userSearch", placeholderText="Search username, name or e-mail")
        self.search.setClearButtonEnabled(True)
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self.reload)
        self.search.textChanged.connect(self._debounce.start)
        self.show_deleted = QCheckBox("Show deleted", objectName="showDeleted")
        self.show_deleted.toggled.connect(self.reload)
        self.count = QLabel("", objectName="countLabel")
        self.new_button = QPushButton("New user…", objectName="primaryButton")
        self.new_button.clicked.connect(self.open_new)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.show_deleted)
        top.addWidget(self.count)
        top.addWidget(self.new_button)

        self.table = QTableWidget(0, len(COLUMNS), objectName="usersTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _i: self.open_edit())

        self.edit_button = QPushButton("Edit and roles…", objectName="editUser")
        self.edit_button.clicked.connect(self.open_edit)
        self.reset_password_button = QPushButton("Reset password", objectName="resetPassword")
        self.reset_password_button.clicked.connect(self.reset_password)
        self.reset_2fa_button = QPushButton("Reset 2FA", objectName="resetTwoFactor")
        self.reset_2fa_button.clicked.connect(self.reset_two_factor)
        self.lock_button = QPushButton("Lock", objectName="lockUser")
        self.lock_button.clicked.connect(self.toggle_lock)
        self.delete_button = QPushButton("Delete", objectName="dangerButton")
        self.delete_button.clicked.connect(self.toggle_delete)
        actions = QHBoxLayout()
        for button in (self.edit_button, self.reset_password_button, self.reset_2fa_button, self.lock_button):
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(self.delete_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        may = actor.can("manage_users")
        self.new_button.setEnabled(may)
        self._selection_changed()

    # --- loading ---

    def reload(self) -> None:
        db, actor, text, deleted = self.db, self.actor, self.search.text(), self.show_deleted.isChecked()
        ops.query(self, lambda: (users.list_users(db, actor, search=text, include_deleted=deleted),
                                 [r.name for r in users.list_roles(db, actor)]), self._loaded)

    def _loaded(self, result) -> None:
        rows, self.role_names = result
        selected = self.selected()
        self.rows = rows
        self.table.setRowCount(len(rows))
        for r, u in enumerate(rows):
            values = (u.username, u.full_name, u.email or "", ", ".join(u.roles), u.status,
                      "on" if u.two_factor else "off", _when(u.last_signed_in))
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                if u.deleted_at is not None:
                    item.setForeground(Qt.GlobalColor.gray)
                self.table.setItem(r, c, item)
        self.count.setText(f"{len(rows)} user{'s' if len(rows) != 1 else ''}")
        if selected is not None:
            self.select(selected.username)
        self._selection_changed()

    def selected(self) -> users.UserView | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.rows[rows[0].row()] if rows and rows[0].row() < len(self.rows) else None

    def select(self, username: str) -> bool:
        for r, u in enumerate(self.rows):
            if u.username == username:
                self.table.selectRow(r)
                return True
        return False

    def _selection_changed(self) -> None:
        user = self.selected()
        may = self.actor.can("manage_users")
        live = user is not None and user.deleted_at is None
        own = user is not None and user.username == self.actor.username
        self.edit_button.setEnabled(may and live)
        self.reset_password_button.setEnabled(may and live and user.has_login)
        self.reset_2fa_button.setEnabled(may and live and user.two_factor)
        self.lock_button.setEnabled(may and live and not own and user.has_login)
        self.lock_button.setText("Unlock" if user is not None and user.locked_until is not None else "Lock")
        self.delete_button.setEnabled(may and user is not None and not own)
        self.delete_button.setText("Restore" if user is not None and user.deleted_at is not None else "Delete")

    # --- actions ---

    def open_new(self) -> UserDialog:
        dialog = UserDialog(self, self.db, self.actor, self.role_names)
        dialog.saved.connect(self._created)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _created(self, result) -> None:
        view, password = result
        self.reload()
        QTimer.singleShot(0, lambda: self.select(view.username))
        TemporaryPasswordDialog(view.username, password, self).open()

    def open_edit(self) -> UserDialog | None:
        user = self.selected()
        if user is None or not self.edit_button.isEnabled():
            return None
        dialog = UserDialog(self, self.db, self.actor, self.role_names, user)
        dialog.saved.connect(lambda _v: self.reload())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _act(self, question: str, fn, done_message: str, *, informative: str = "", destructive: bool = False,
             on_done=None):
        user = self.selected()
        if user is None:
            return None
        db, actor, name = self.db, self.actor, user.username

        def go():
            ops.mutate(self, lambda: fn(db, actor, name), lambda r: (self.reload(), on_done and on_done(name, r)),
                       done_message.format(name=name))

        return ops.confirm(self, question.format(name=name), go, yes_label="Continue", informative=informative,
                           destructive=destructive)

    def reset_password(self):
        return self._act(
            "Give {name} a new temporary password?", users.reset_password, "Reset the password of {name}",
            informative="Their current password stops working and their sessions end.",
            on_done=lambda name, password: TemporaryPasswordDialog(name, password, self, created=False).open())

    def reset_two_factor(self):
        return self._act("Reset two-factor authentication of {name}?", users.reset_two_factor,
                         "Reset two-factor authentication of {name}",
                         informative="They set up an authenticator app again at their next sign-in; their sessions end.")

    def toggle_lock(self):
        user = self.selected()
        if user is None:
            return None
        if user.locked_until is not None:
            return self._act("Unlock {name}?", lambda db, a, n: users.set_locked(db, a, n, False), "Unlocked {name}")
        return self._act("Lock {name}?", lambda db, a, n: users.set_locked(db, a, n, True), "Locked {name}",
                         informative="They cannot sign in until someone unlocks them; their sessions end.",
                         destructive=True)

    def toggle_delete(self):
        user = self.selected()
        if user is None:
            return None
        if user.deleted_at is not None:
            return self._act("Restore {name}?", lambda db, a, n: users.set_deleted(db, a, n, False), "Restored {name}")
        return self._act("Delete {name}?", lambda db, a, n: users.set_deleted(db, a, n, True), "Deleted {name}",
                         informative="Their login is disabled; the record and its history are kept and can be restored.",
                         destructive=True)


def _split_permission(name: str) -> tuple[str, str] | None:
    """('view_own', 'customer') for view_own_customer; ('create', 'customer') for create_customer; None if global."""
    for verb in ("view_own", "view", "create", "update", "delete"):
        if name.startswith(verb + "_"):
            return verb, name[len(verb) + 1:]
    return None


VERBS = (("view", "View"), ("create", "Create"), ("update", "Change"), ("delete", "Delete"), ("view_own", "View own"))


class RolesPage(QWidget):
    """Roles on the left; the chosen role's permissions as grouped checkboxes on the right."""

    def __init__(self, db, actor, parent: QWidget | None = None):
        super().__init__(parent)
        self.db, self.actor = db, actor
        self.roles: list[users.RoleView] = []
        self.catalog: list[tuple[str, str, str]] = []
        self.boxes: dict[str, QCheckBox] = {}
        self.role_list = QListWidget(objectName="roleList")
        self.role_list.currentRowChanged.connect(self._show_role)
        self.new_role_button = QPushButton("New role…", objectName="newRole")
        self.new_role_button.clicked.connect(self.new_role)
        left = QVBoxLayout()
        left.addWidget(self.role_list, 1)
        left.addWidget(self.new_role_button)
        left_widget = QWidget()
        left_widget.setLayout(left)

        self.title = QLabel("", objectName="formSection")
        self.description = QLabel("", objectName="fieldHint", wordWrap=True)
        self.editor = QWidget(objectName="permissionEditor")
        self.editor_layout = QVBoxLayout(self.editor)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.editor)
        self.save_button = QPushButton("Save permissions", objectName="saveButton")
        self.save_button.clicked.connect(self.save)
        self.delete_button = QPushButton("Delete role", objectName="dangerButton")
        self.delete_button.clicked.connect(self.delete_role)
        self.message = QLabel("", objectName="formError", wordWrap=True)
        self.message.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        right = QVBoxLayout()
        right.addWidget(self.title)
        right.addWidget(self.description)
        right.addWidget(scroll, 1)
        right.addWidget(self.message)
        right.addLayout(buttons)
        right_widget = QWidget()
        right_widget.setLayout(right)

        splitter = QSplitter()
        splitter.addWidget(left_widget)
        splitter.addWidget(right_widget)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([240, 900])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        may = actor.can("manage_users")
        self.new_role_button.setEnabled(may)
        self.save_button.setEnabled(False)
        self.delete_button.setEnabled(False)

    def reload(self, select: str | None = None) -> None:
        db, actor = self.db, self.actor
        current = select or (self.current().name if self.current() else None)
        ops.query(self, lambda: (users.list_roles(db, actor), users.permission_catalog(db)),
                  lambda result: self._loaded(result, current))

    def _loaded(self, result, select: str | None) -> None:
        self.roles, catalog = result
        if catalog != self.catalog:
            self.catalog = catalog
            self._build_editor()
        self.role_list.blockSignals(True)
        self.role_list.clear()
        for role in self.roles:
            item = QListWidgetItem(f"{role.name}  ({role.users})")
            item.setToolTip(role.description)
            self.role_list.addItem(item)
        self.role_list.blockSignals(False)
        names = [r.name for r in self.roles]
        self.role_list.setCurrentRow(names.index(select) if select in names else 0 if names else -1)
        self._show_role(self.role_list.currentRow())

    def _build_editor(self) -> None:
        while self.editor_layout.count():
            item = self.editor_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.boxes = {}
        general = QGroupBox("General")
        general_grid = QGridLayout(general)
        entities: dict[str, dict[str, tuple[str, str]]] = {}
        labels: dict[str, str] = {}
        n = 0
        for name, description, _scope in self.catalog:
            split = _split_permission(name)
            if split is None:
                box = QCheckBox(description or name, objectName=f"perm_{name}")
                box.setToolTip(name)
                general_grid.addWidget(box, n // 2, n % 2)
                n += 1
                self.boxes[name] = box
                continue
            verb, group = split
            entities.setdefault(group, {})[verb] = (name, description)
            if verb == "view":
                labels[group] = description.split(" ", 1)[1] if " " in description else group
        by_record = QGroupBox("Records")
        grid = QGridLayout(by_record)
        for c, (_verb, title) in enumerate(VERBS, start=1):
            grid.addWidget(QLabel(f"<b>{title}</b>"), 0, c, Qt.AlignmentFlag.AlignCenter)
        for r, group in enumerate(sorted(entities, key=lambda g: labels.get(g, g)), start=1):
            grid.addWidget(QLabel(labels.get(group, group).capitalize()), r, 0)
            for c, (verb, _title) in enumerate(VERBS, start=1):
                if verb in entities[group]:
                    name, description = entities[group][verb]
                    box = QCheckBox(objectName=f"perm_{name}")
                    box.setToolTip(f"{description} ({name})")
                    grid.addWidget(box, r, c, Qt.AlignmentFlag.AlignCenter)
                    self.boxes[name] = box
        for box in self.boxes.values():
            box.toggled.connect(self._edited)
        self.editor_layout.addWidget(general)
        self.editor_layout.addWidget(by_record)
        self.editor_layout.addStretch(1)

    def current(self) -> users.RoleView | None:
        row = self.role_list.currentRow()
        return self.roles[row] if 0 <= row < len(self.roles) else None

    def _show_role(self, _row: int) -> None:
        role = self.current()
        self.message.hide()
        held = set(role.permissions) if role else set()
        for name, box in self.boxes.items():
            box.blockSignals(True)
            box.setChecked(name in held)
            box.blockSignals(False)
            box.setEnabled(role is not None and self.actor.can("manage_users"))
        if role is None:
            self.title.setText("")
            self.description.setText("")
        else:
            self.title.setText(f"{role.name}{' (built-in)' if role.builtin else ''}")
            self.description.setText(
                f"{(role.description or 'No description').rstrip('.')}. "
                f"Held by {role.users} user{'s' if role.users != 1 else ''}.")
        self.delete_button.setEnabled(role is not None and not role.builtin and self.actor.can("manage_users"))
        self.save_button.setEnabled(False)

    def ticked(self) -> set[str]:
        return {name for name, box in self.boxes.items() if box.isChecked()}

    def _edited(self, *_args) -> None:
        role = self.current()
        self.save_button.setEnabled(role is not None and self.ticked() != set(role.permissions))

    def save(self) -> None:
        role = self.current()
        if role is None:
            return
        db, actor, name = self.db, self.actor, role.name
        grant, revoke = sorted(self.ticked() - set(role.permissions)), sorted(set(role.permissions) - self.ticked())

        self.save_button.setEnabled(False)
        ops.mutate(self, lambda: users.change_permissions(db, actor, name, grant=grant, revoke=revoke),
                   lambda _r: self.reload(name), f"Saved the permissions of {name}", self._refused)

    def _refused(self, exc: Exception) -> None:
        from omnidesk.errors import ServiceError

        if not isinstance(exc, ServiceError):
            ops.show_error(self, exc)
            return
        self.message.setText(str(exc))
        self.message.show()
        self._edited()

    def new_role(self) -> None:
        name, ok = QInputDialog.getText(self, "New role", "Name of the new role:")
        if ok and name.strip():
            self.create_role(name.strip())

    def create_role(self, name: str) -> None:
        db, actor = self.db, self.actor
        ops.mutate(self, lambda: users.create_role(db, actor, name), lambda role: self.reload(role.name),
                   f"Created role {name}", self._refused)

    def delete_role(self):
        role = self.current()
        if role is None:
            return None
        db, actor, name = self.db, self.actor, role.name
        return ops.confirm(
            self, f"Delete the role {name}?",
            lambda: ops.mutate(self, lambda: users.delete_role(db, actor, name), lambda _r: self.reload(),
                               f"Deleted role {name}", self._refused),
            yes_label="Delete", informative=f"Its {role.users} user(s) lose its permissions.", destructive=True)


class UsersWorkspace(QWidget):
    def __init__(self, db, actor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("usersWorkspace")
        self.users_page = UsersPage(db, actor)
        self.roles_page = RolesPage(db, actor)
        self.tabs = QTabWidget(objectName="detailTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.users_page, "Users")
        self.tabs.addTab(self.roles_page, "Roles")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        self._loaded = False

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._loaded:  # nothing is read until someone opens the tab
            self._loaded = True
            self.users_page.reload()
            self.roles_page.reload()

    def reload(self) -> None:
        self._loaded = True
        self.users_page.reload()
        self.roles_page.reload()

"""The login dialog: username and password, then the 6-digit code (or a backup code), or the forced
password change, or the enrolment wizard, until a StaffSession exists.

Every step runs on a worker (omnidesk.ui.ops); the database decides. Quit while a step is in flight
throws its answer away and ends any session it opened (omnidesk.ui.auth.steps). Messages never say whether a
username exists.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from omnidesk.auth import totp
from omnidesk.errors import ServiceError
from omnidesk.ui import ops
from omnidesk.ui.auth.steps import CancellableSteps


def _message_label(name: str) -> QLabel:
    label = QLabel("", objectName="formError", wordWrap=True)
    label.setAccessibleName(name)
    label.hide()
    return label


def _say(label: QLabel, text: str) -> None:
    label.setText(text)
    label.setVisible(bool(text))


def _caption(text: str, field: QWidget) -> QLabel:
    """A field's caption; its & letter (Alt+letter) moves the focus to the field."""
    label = QLabel(text)
    label.setBuddy(field)
    return label


def _heading(text: str) -> QLabel:
    return QLabel(text, objectName="placeholderTitle")


class LoginDialog(QDialog):
    """Emits `signed_in(StaffSession)` and accepts once the user is fully signed in."""

    signed_in = Signal(object)

    def __init__(self, url: str, server: str, role_suffix: str | None = None, parent: QWidget | None = None,
                 *, notice: str = ""):
        super().__init__(parent)
        self.url, self.server, self.role_suffix = url, server, role_suffix
        self.login = None  # the StaffLogin once the password was accepted
        self.session = None
        self.wizard = None
        self.busy = False
        self.steps = CancellableSteps(self)
        self.keyring_reason = self.recalled_username = None
        self.setObjectName("loginDialog")
        self.setWindowTitle("Sign in to OmniDesk")
        self.setModal(True)
        self.setMinimumWidth(420)

        self.pages = QStackedWidget()
        self.pages.addWidget(self._password_page(notice))
        self.pages.addWidget(self._code_page())
        self.pages.addWidget(self._change_page())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(self.pages)
        self._load_remembered()

    # --- pages ---

    def _password_page(self, notice: str) -> QWidget:
        page = QWidget(objectName="passwordPage")
        self.username = QLineEdit(objectName="username", placeholderText="Username")
        self.password = QLineEdit(objectName="password", placeholderText="Password",
                                  echoMode=QLineEdit.EchoMode.Password)
        self.remember = QCheckBox("Re&member my username on this computer", objectName="rememberMe")
        self.keyring_note = QLabel("", objectName="fieldHint", wordWrap=True)
        self.keyring_note.hide()
        self.password_message = _message_label("Sign-in message")
        self.sign_in_button = QPushButton("Sign in", objectName="primaryButton", default=True)
        self.sign_in_button.clicked.connect(self.submit_password)
        self.username.returnPressed.connect(self.password.setFocus)
        self.password.returnPressed.connect(self.submit_password)
        self.notice = QLabel(notice, objectName="fieldHint", wordWrap=True)
        self.notice.setVisible(bool(notice))
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(_heading("Sign in"))
        layout.addWidget(QLabel(f"Database: {self.server}", objectName="fieldHint"))
        layout.addWidget(self.notice)
        layout.addSpacing(8)
        layout.addWidget(_caption("&Username", self.username))
        layout.addWidget(self.username)
        layout.addWidget(_caption("&Password", self.password))
        layout.addWidget(self.password)
        layout.addWidget(self.remember)
        layout.addWidget(self.keyring_note)
        layout.addWidget(self.password_message)
        layout.addStretch(1)
        layout.addLayout(self._buttons(self.sign_in_button))
        return page

    def _code_page(self) -> QWidget:
        page = QWidget(objectName="codePage")
        self.code = QLineEdit(objectName="code", placeholderText="123456", maxLength=11)
        self.code.textEdited.connect(self._code_edited)
        self.code.returnPressed.connect(self.submit_code)
        self.code_message = _message_label("Code message")
        self.verify_button = QPushButton("Verify", objectName="primaryButton", default=True)
        self.verify_button.clicked.connect(self.submit_code)
        self.code_for = QLabel("", objectName="fieldHint")
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(_heading("Two-factor code"))
        layout.addWidget(self.code_for)
        layout.addSpacing(8)
        layout.addWidget(QLabel("Enter the 6-digit code your authenticator app shows for OmniDesk.", wordWrap=True))
        layout.addWidget(self.code)
        layout.addWidget(QLabel(
            "Lost your phone? Type one of your backup codes (like ABCD-EFGH) instead and press Enter.",
            objectName="fieldHint", wordWrap=True))
        layout.addWidget(self.code_message)
        layout.addStretch(1)
        layout.addLayout(self._buttons(self.verify_button, back=True))
        return page

    def _change_page(self) -> QWidget:
        from omnidesk.auth.passwords import MIN_LENGTH

        page = QWidget(objectName="changePage")
        self.new_password = QLineEdit(objectName="newPassword", echoMode=QLineEdit.EchoMode.Password)
        self.repeat_password = QLineEdit(objectName="repeatPassword", echoMode=QLineEdit.EchoMode.Password)
        self.change_message = _message_label("Password message")
        self.change_button = QPushButton("Change password", objectName="primaryButton", default=True)
        self.change_button.clicked.connect(self.submit_new_password)
        self.new_password.returnPressed.connect(self.repeat_password.setFocus)
        self.repeat_password.returnPressed.connect(self.submit_new_password)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(_heading("Choose a new password"))
        layout.addWidget(QLabel(
            "Your password is temporary or has expired. Choose a new one before you continue.", wordWrap=True))
        layout.addWidget(QLabel(
            f"At least {MIN_LENGTH} characters, with an upper-case letter, a lower-case letter, a digit and a "
            "symbol, and not containing your username.", objectName="fieldHint", wordWrap=True))
        layout.addSpacing(6)
        layout.addWidget(_caption("&New password", self.new_password))
        layout.addWidget(self.new_password)
        layout.addWidget(_caption("&Repeat the new password", self.repeat_password))
        layout.addWidget(self.repeat_password)
        layout.addWidget(self.change_message)
        layout.addStretch(1)
        layout.addLayout(self._buttons(self.change_button, back=True))
        return page

    def _buttons(self, primary: QPushButton, *, back: bool = False) -> QHBoxLayout:
        row = QHBoxLayout()
        if back:
            other = QPushButton("Use another account")
            other.clicked.connect(self.start_over)
            row.addWidget(other)
        row.addStretch(1)
        cancel = QPushButton("Quit")  # nothing is open without signing in: leaving the dialog leaves OmniDesk
        cancel.clicked.connect(self.reject)
        row.addWidget(cancel)
        row.addWidget(primary)
        return row

    def _say(self, label: QLabel, text: str) -> None:
        """Show (or hide) a message and grow the dialog so that it fits, wrapped."""
        _say(label, text)
        if text and self.isVisible():
            self.layout().activate()
            needed = self.layout().totalHeightForWidth(self.width())
            if needed > self.height():
                self.resize(self.width(), needed)

    # --- remember me ---

    def _load_remembered(self) -> None:
        from omnidesk.auth import remember

        def read():
            reason = remember.insecure_reason()
            return reason, (None if reason else remember.recall(self.server))

        ops.query(self, read, self._remembered, lambda _exc: self._remembered((None, None)))

    def _remembered(self, result) -> None:
        reason, username = result
        self.keyring_reason, self.recalled_username = reason, username
        if reason:
            self.remember.setChecked(False)
            self.remember.setEnabled(False)
            self._say(self.keyring_note, reason + " Nothing is stored.")
        elif username:
            self.remember.setChecked(True)
            if not self.username.text():
                self.username.setText(username)
                self.password.setFocus()

    def _store_remembered(self, username: str) -> None:
        from omnidesk.auth import remember

        keep, server = self.remember.isChecked() and self.remember.isEnabled(), self.server
        if not keep and not self.recalled_username:
            return  # nothing was remembered: leave the keyring alone

        def store():
            if keep:
                remember.remember(server, username)
            else:
                remember.forget()

        ops.query(None, store, None, lambda _exc: None)  # a keyring hiccup must not stop the sign-in

    # --- steps ---

    def current_step(self) -> str:
        return {0: "password", 1: "code", 2: "change_password"}[self.pages.currentIndex()]

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.pages.setEnabled(not busy)
        if busy:
            self.setCursor(Qt.CursorShape.BusyCursor)
        else:
            self.unsetCursor()

    def _run(self, fn, on_done) -> None:
        """Run a step on a worker; after Quit its late answer is dropped and any session it opened ended."""
        self._set_busy(True)

        def done(result):
            self._set_busy(False)
            on_done(result)

        def failed(exc):
            self._set_busy(False)
            self._failed(exc)

        self.steps.run(fn, done, failed)

    def submit_password(self) -> None:
        if self.busy:
            return
        from omnidesk.auth import session as auth_session

        username, password = self.username.text().strip(), self.password.text()
        if not username or not password:
            self._say(self.password_message, "Enter your username and password.")
            return
        self._say(self.password_message, "")
        url, suffix = self.url, self.role_suffix
        self._run(lambda: auth_session.sign_in(url, username, password, role_suffix=suffix), self._password_accepted)

    def _password_accepted(self, login) -> None:
        self.login = login
        self.password.clear()
        self._store_remembered(login.username)
        self._next_step()

    def _next_step(self) -> None:
        state = self.login.state
        step = state.next_step
        if step == "change_password":
            self._say(self.change_message, "")
            self.pages.setCurrentIndex(2)
            self.new_password.setFocus()
        elif step == "code":
            self.code_for.setText(f"Signing in as {state.full_name or state.username}")
            self._say(self.code_message, "")
            self.code.clear()
            self.pages.setCurrentIndex(1)
            self.code.setFocus()
        elif step == "enrol":
            self.open_enrolment()
        else:
            login = self.login
            self._run(login.without_second_factor, self._finished)

    def _code_edited(self, text: str) -> None:
        if len(totp.normalize_totp_code(text)) == totp.DIGITS and totp.code_kind(text) == "totp":
            self.submit_code()  # the sixth digit submits

    def submit_code(self) -> None:
        if self.busy or self.login is None:
            return
        code = self.code.text()
        if totp.code_kind(code) is None:
            self._say(self.code_message, "That is not a code: enter the 6 digits from your authenticator app "
                                    "or an 8-character backup code.")
            return
        self._say(self.code_message, "")
        login = self.login
        self._run(lambda: login.verify(code), self._finished)

    def submit_new_password(self) -> None:
        if self.busy or self.login is None:
            return
        from omnidesk.auth.passwords import check_policy
        from omnidesk.errors import ValidationError

        new, repeat = self.new_password.text(), self.repeat_password.text()
        if new != repeat:
            self._say(self.change_message, "The two passwords differ; type the same new password twice.")
            return
        try:
            check_policy(new, username=self.login.username)
        except ValidationError as exc:
            self._say(self.change_message, str(exc))
            return
        self._say(self.change_message, "")
        login = self.login

        def changed(_state) -> None:
            self.new_password.clear()
            self.repeat_password.clear()
            self._next_step()

        self._run(lambda: login.change_password(new), changed)

    def open_enrolment(self) -> None:
        from omnidesk.ui.auth.enrolment import EnrolmentWizard

        self.wizard = EnrolmentWizard(self.login, self)
        self.wizard.setWindowTitle("Set up two-factor authentication (required for your roles)")
        self.wizard.enrolled.connect(self._finished)
        self.wizard.rejected.connect(self.start_over)
        self.wizard.open()

    def _finished(self, session) -> None:
        self.session = session
        self.login = None  # its database now belongs to the session
        self.signed_in.emit(session)
        self.accept()

    def _failed(self, exc: Exception) -> None:
        from omnidesk.auth.session import AccountLocked, NotACode, WrongCode, WrongCredentials

        if not isinstance(exc, ServiceError):
            ops.show_error(self, exc, title="Signing in failed")
            return
        message = str(exc)
        if isinstance(exc, WrongCode):
            message = message.rstrip(".") + "."
            if exc.locked:
                self.start_over()
                self._say(self.password_message, message.rstrip(".") + ". Try again later or ask an administrator "
                                            "to unlock your account.")
                return
            self.code.clear()
            self.code.setFocus()
            self._say(self.code_message, message)
        elif isinstance(exc, NotACode) and self.current_step() == "code":
            self._say(self.code_message, message)
        elif isinstance(exc, (WrongCredentials, AccountLocked)) or self.current_step() == "password":
            if self.current_step() != "password":
                self.start_over()
            self.password.clear()
            self.password.setFocus()
            self._say(self.password_message, message)
        elif self.current_step() == "change_password":
            self._say(self.change_message, message)
        else:
            self._say(self.code_message, message)

    def start_over(self) -> None:
        """Back to username and password (the half-finished login's connections are closed)."""
        if self.login is not None:
            login, self.login = self.login, None
            ops.query(None, login.abandon, None, lambda _exc: None)
        self.pages.setCurrentIndex(0)
        self._say(self.password_message, "")
        self.password.setFocus()

    def reject(self) -> None:
        if self.steps.cancel():
            self._set_busy(False)
        if self.wizard is not None and ops.alive(self.wizard) and self.wizard.isVisible():
            self.wizard.reject()  # abandons its step in flight too
        if self.login is not None:
            login, self.login = self.login, None
            ops.query(None, login.abandon, None, lambda _exc: None)
        super().reject()

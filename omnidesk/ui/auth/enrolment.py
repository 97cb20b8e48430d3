"""The two-factor enrolment wizard: current password → QR code and secret → 10 backup codes → a code.

Works for someone signing in for the first time (a StaffLogin, right after the password) and for a
signed-in user from "My account" (a StaffSession): both offer confirm_password, begin_enrolment
and confirm_enrolment. Every step that touches the database runs on a worker, with the values the
page read on the GUI thread; Cancel abandons a step in flight.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from omnidesk.auth import totp
from omnidesk.errors import ServiceError
from omnidesk.ui import ops
from omnidesk.ui.auth.codes import BackupCodesView
from omnidesk.ui.auth.steps import CancellableSteps


def _message_label() -> QLabel:
    label = QLabel("", objectName="formError", wordWrap=True)
    label.hide()
    return label


def _say(label: QLabel, text: str) -> None:
    label.setText(text)
    label.setVisible(bool(text))


class _AsyncPage(QWizardPage):
    """A page whose Next/Finish first runs a check on a worker; the wizard moves on when it passes.

    prepare() runs on the GUI thread: it reads the page's fields and returns the step as a function
    of plain values, which alone goes to the worker. Cancelling the wizard while the step is in
    flight throws its answer away (see omnidesk.ui.auth.steps).
    """

    def __init__(self, title: str, subtitle: str = ""):
        super().__init__()
        self.setTitle(title)
        if subtitle:
            self.setSubTitle(subtitle)
        self.passed = False
        self.working = False
        self.message = _message_label()
        self.steps = CancellableSteps(self)

    def validatePage(self) -> bool:
        if self.passed:
            return True
        if not self.working:
            _say(self.message, "")
            try:
                step, keep = self.prepare()
            except ServiceError as exc:  # refused before anything was sent
                self._failed(exc)
                return False
            self.working = True
            self.setEnabled(False)
            self.steps.run(step, self._passed, self._failed, keep=keep)
        return False

    def prepare(self) -> tuple[Callable[[], object], object]:
        """On the GUI thread: (the step, built from plain values; what it may return that is not its own)."""
        raise NotImplementedError

    def cancel_step(self) -> None:
        """The wizard was cancelled: the step in flight, if any, is abandoned."""
        if self.steps.cancel():
            self.working = False
            self.setEnabled(True)

    def on_passed(self, result) -> None:
        pass

    def _passed(self, result) -> None:
        self.working = False
        self.setEnabled(True)
        self.passed = True
        self.on_passed(result)
        wizard = self.wizard()
        if wizard.currentPage() is self:
            if wizard.nextId() == -1:
                wizard.button(QWizard.WizardButton.FinishButton).click()
            else:
                wizard.next()

    def _failed(self, exc: Exception) -> None:
        self.working = False
        self.setEnabled(True)
        if isinstance(exc, ServiceError):
            text = str(exc)
            _say(self.message, text if text.endswith((".", "!", "?")) else text + ".")
            self.on_refused(exc)
        else:
            ops.show_error(self, exc)

    def on_refused(self, exc: ServiceError) -> None:
        pass


def confirm_password_and_begin(who, password: str):
    """The password page's step, on the worker: the current password, then a new secret and codes."""
    who.confirm_password(password)
    return who.begin_enrolment()


def confirm_enrolment(who, enrolment, code: str):
    """The last page's step, on the worker: the database checks the code against the new secret."""
    return who.confirm_enrolment(enrolment, code)


class PasswordPage(_AsyncPage):
    def __init__(self):
        super().__init__("Confirm it is you", "Enter your current password to set up two-factor authentication.")
        self.password = QLineEdit(objectName="enrolPassword", echoMode=QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("Current password")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Password"))
        layout.addWidget(self.password)
        layout.addWidget(self.message)
        layout.addStretch(1)

    def prepare(self):
        who, password = self.wizard().who, self.password.text()
        if not password:
            from omnidesk.auth.session import WrongCredentials

            raise WrongCredentials("Enter your current password.")
        return (lambda: confirm_password_and_begin(who, password)), None

    def on_passed(self, enrolment) -> None:
        self.password.clear()
        self.wizard().set_enrolment(enrolment)

    def on_refused(self, exc) -> None:
        self.password.selectAll()
        self.password.setFocus()


class QrPage(QWizardPage):
    def __init__(self):
        super().__init__()
        self.setTitle("Scan the code with your authenticator app")
        self.setSubTitle("Google Authenticator, Microsoft Authenticator, FreeOTP, 1Password and others all work.")
        self.qr = QLabel(objectName="enrolQr", alignment=Qt.AlignmentFlag.AlignCenter)
        self.qr.setMinimumSize(220, 220)
        self.secret = QLabel("", objectName="plusCode", wordWrap=True)
        self.secret.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        hint = QLabel(
            "Cannot scan? Add an entry by hand with this key (time-based, 6 digits, 30 seconds):",
            objectName="fieldHint", wordWrap=True,
        )
        beside = QVBoxLayout()
        beside.addStretch(1)
        beside.addWidget(hint)
        beside.addWidget(self.secret)
        beside.addStretch(1)
        row = QHBoxLayout(self)
        row.addWidget(self.qr)
        row.addSpacing(16)
        row.addLayout(beside, 1)

    def show_enrolment(self, enrolment) -> None:
        pixmap = QPixmap()
        pixmap.loadFromData(enrolment.qr_png(), "PNG")
        self.qr.setPixmap(pixmap)
        self.secret.setText(totp.format_secret(enrolment.secret))


class CodesPage(QWizardPage):
    def __init__(self):
        super().__init__()
        self.setTitle("Save your backup codes")
        self.setSubTitle(
            "If you lose your phone, each of these codes signs you in once. Copy or print them now: "
            "they are not shown again."
        )
        self.codes = BackupCodesView()
        self.saved = QCheckBox("I have saved these codes somewhere safe", objectName="codesSaved")
        self.saved.toggled.connect(self.completeChanged)
        layout = QVBoxLayout(self)
        layout.addWidget(self.codes)
        layout.addSpacing(10)
        layout.addWidget(self.saved)
        layout.addStretch(1)

    def isComplete(self) -> bool:
        return self.saved.isChecked()


class ConfirmPage(_AsyncPage):
    def __init__(self):
        super().__init__("Enter a code from the app", "Type the 6 digits the app shows now for OmniDesk.")
        self.code = QLineEdit(objectName="enrolCode", maxLength=7)
        self.code.setPlaceholderText("123456")
        self.code.textEdited.connect(self._edited)
        layout = QVBoxLayout(self)
        layout.addWidget(self.code)
        layout.addWidget(self.message)
        layout.addStretch(1)
        self.session = None

    def _edited(self, text: str) -> None:
        if len(totp.normalize_totp_code(text)) == totp.DIGITS and totp.code_kind(text) == "totp":
            self.wizard().button(QWizard.WizardButton.FinishButton).click()

    def prepare(self):
        wizard = self.wizard()
        who, enrolment, code = wizard.who, wizard.enrolment, self.code.text()
        if totp.code_kind(code) != "totp":
            from omnidesk.auth.session import NotACode

            raise NotACode("Enter the 6 digits your authenticator app shows.")
        # From My account the step answers with the window's own session: never end that one.
        return (lambda: confirm_enrolment(who, enrolment, code)), who

    def on_passed(self, session) -> None:
        self.session = session

    def on_refused(self, exc) -> None:
        self.code.clear()
        self.code.setFocus()


class EnrolmentWizard(QWizard):
    """Finishes with `session` set (a StaffSession) once the database accepted the first code."""

    enrolled = Signal(object)

    def __init__(self, who, parent: QWidget | None = None):
        super().__init__(parent)
        self.who = who
        self.enrolment = None
        self.setObjectName("enrolmentWizard")
        self.setWindowTitle("Set up two-factor authentication")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.password_page = PasswordPage()
        self.qr_page = QrPage()
        self.codes_page = CodesPage()
        self.confirm_page = ConfirmPage()
        for page in (self.password_page, self.qr_page, self.codes_page, self.confirm_page):
            self.addPage(page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Turn on")
        self.resize(640, 440)
        self.session = None
        self.accepted.connect(self._accepted)
        self.rejected.connect(self.cancel_steps)  # Cancel, Escape or closing the window

    def cancel_steps(self) -> None:
        """Cancel: a step still in flight is abandoned; if it opened a session, that session is ended."""
        for page in (self.password_page, self.confirm_page):
            page.cancel_step()

    def set_enrolment(self, enrolment) -> None:
        self.enrolment = enrolment
        self.qr_page.show_enrolment(enrolment)
        self.codes_page.codes.username = getattr(self.who, "username", "")
        self.codes_page.codes.set_codes(enrolment.backup_codes)

    def _accepted(self) -> None:
        # QWizard.done() lets Finish through only once the confirm page's check passed.
        self.session = self.confirm_page.session
        self.enrolled.emit(self.session)

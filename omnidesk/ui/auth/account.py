"""The "My account" menu of the main window: two-factor setup, new backup codes, turning 2FA off, sign out."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QMenu,
    QVBoxLayout,
    QWidget,
)

from omnidesk.errors import ServiceError
from omnidesk.ui import ops
from omnidesk.ui.auth.codes import BackupCodesView


class BackupCodesDialog(QDialog):
    """New backup codes, shown once (the old ones stopped working when these were made)."""

    def __init__(self, username: str, codes, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("backupCodesDialog")
        self.setWindowTitle("New backup codes")
        self.setMinimumWidth(440)
        self.codes = BackupCodesView(username)
        self.codes.set_codes(codes)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(
            "Your old backup codes no longer work. Each of these signs you in once; copy or print them now, "
            "they are not shown again.", wordWrap=True))
        layout.addSpacing(6)
        layout.addWidget(self.codes)
        layout.addWidget(buttons)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)


class _CodeProofDialog(QDialog):
    """Asks for the 6 digits the authenticator app shows now; the database checks them in `action`.

    The field is read here, on the GUI thread; the worker gets the plain text. A refusal (wrong,
    reused or malformed code) shows under the field and the dialog stays open.
    """

    succeeded = Signal(object)  # what the action returned, just before the dialog closes

    object_name = title = explanation = action_label = done_message = ""
    danger = False  # the action button in red

    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setObjectName(self.object_name)
        self.setWindowTitle(self.title)
        self.setMinimumWidth(440)
        self.code = QLineEdit(objectName="proofCode", placeholderText="123456", maxLength=7)
        self.message = QLabel("", objectName="formError", wordWrap=True)
        self.message.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.action_button = self.buttons.addButton(self.action_label, QDialogButtonBox.ButtonRole.AcceptRole)
        if self.danger:
            self.action_button.setObjectName("dangerButton")  # before it is laid out, so the style sheet sees it
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(self.explanation, wordWrap=True))
        layout.addWidget(self.code)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    @staticmethod
    def action(session, code: str):  # on the worker, with plain values only (no widget)
        raise NotImplementedError

    def submit(self) -> None:
        code, session, action = self.code.text(), self.session, type(self).action
        self.setEnabled(False)

        def done(result):
            self.succeeded.emit(result)
            self.accept()

        def failed(exc):
            self.setEnabled(True)
            if not isinstance(exc, ServiceError):
                ops.show_error(self, exc)
                return
            self.message.setText(str(exc))
            self.message.show()
            self.code.clear()
            self.code.setFocus()
            self.adjustSize()  # room for the message

        ops.mutate(self, lambda: action(session, code), done, self.done_message, failed)


class DisableTwoFactorDialog(_CodeProofDialog):
    """The database turns 2FA off only where the user's roles allow it."""

    object_name = "disableTwoFactorDialog"
    title = "Turn off two-factor authentication"
    explanation = ("Signing in will then need only your password. Enter the 6 digits your authenticator app "
                   "shows to confirm.")
    action_label = "Turn off"
    done_message = "Two-factor authentication is off"
    danger = True

    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(session, parent)
        self.turn_off = self.action_button

    @staticmethod
    def action(session, code: str):
        return session.disable_two_factor(code)


class NewBackupCodesDialog(_CodeProofDialog):
    """New backup codes only with a current code: an unlocked desk alone must not mint a second factor."""

    object_name = "newBackupCodesDialog"
    title = "New backup codes"
    explanation = ("Your current backup codes will stop working. To make new ones, enter the 6 digits your "
                   "authenticator app shows now.")
    action_label = "Make new codes"
    done_message = "New backup codes made; the old ones no longer work"

    @staticmethod
    def action(session, code: str):
        return session.regenerate_backup_codes(code)


class AccountMenu(QMenu):
    """Reads the user's two-factor state on a worker and offers what applies."""

    sign_out_requested = Signal()
    state_changed = Signal(object)  # LoginState

    def __init__(self, session, parent: QWidget | None = None):
        super().__init__("My &account", parent)
        self.setObjectName("accountMenu")
        self.session = session
        self.state = None
        self.who = self.addAction(f"Signed in as {session.actor.username}")
        self.who.setEnabled(False)
        self.addSeparator()
        self.set_up = self.addAction("Set up two-factor authentication…", self.open_enrolment)
        self.new_codes = self.addAction("New backup codes…", self.regenerate_codes)
        self.turn_off = self.addAction("Turn off two-factor authentication…", self.open_disable)
        self.addSeparator()
        self.sign_out = self.addAction("Sign out", self.sign_out_requested.emit)
        for action in (self.set_up, self.new_codes, self.turn_off):
            action.setEnabled(False)
        self.refresh()

    def refresh(self) -> None:
        session = self.session
        ops.query(self, session.login_state, self._show_state, lambda _exc: None)

    def _show_state(self, state) -> None:
        self.state = state
        self.set_up.setEnabled(not state.enrolled)
        self.new_codes.setEnabled(state.enrolled)
        self.turn_off.setEnabled(state.enrolled and not state.two_factor_required)
        self.turn_off.setToolTip(
            "Your roles require two-factor authentication" if state.two_factor_required else "")
        self.setToolTipsVisible(True)
        self.state_changed.emit(state)

    def open_enrolment(self):
        from omnidesk.ui.auth.enrolment import EnrolmentWizard

        wizard = EnrolmentWizard(self.session, self.parentWidget())
        wizard.enrolled.connect(lambda _s: (self.refresh(), ops.tracker().message.emit(
            "Two-factor authentication is on")))
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.open()
        return wizard

    def regenerate_codes(self) -> NewBackupCodesDialog:
        """Asks for a current code first; the new codes are shown once the database accepted it."""
        session, parent = self.session, self.parentWidget()
        dialog = NewBackupCodesDialog(session, parent)
        # The codes come with the signal: the slot holds no reference to the dialog it is connected to.
        dialog.succeeded.connect(lambda codes: BackupCodesDialog(session.username, codes, parent).open())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_disable(self):
        dialog = DisableTwoFactorDialog(self.session, self.parentWidget())
        dialog.accepted.connect(self.refresh)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

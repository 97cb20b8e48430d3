"""The Broadcast workspace: compose and target a new warning, confirm it with your code, then follow
every message (approval, transmission, per-cell results, update, stop) in one list.

It is the whole window in the `broadcast` profile and a tab in the staff profile for users holding
a cell broadcast permission.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSplitter, QTabWidget, QVBoxLayout, QWidget

from omnidesk.broadcast import service as broadcast
from omnidesk.errors import ServiceError
from omnidesk.ui import ops
from omnidesk.ui.broadcast.compose import ComposeForm
from omnidesk.ui.broadcast.messages import CodeDialog, MessagesView
from omnidesk.ui.broadcast.target_panel import TargetPanel
from omnidesk.ui.broadcast.templates import TemplatesView

CBC_PERMISSIONS = ("view_cbc_message", "create_cbc_message", "approve_cbc_message")


def may_use(actor) -> bool:
    return any(actor.can(p) for p in CBC_PERMISSIONS)


class BroadcastWorkspace(QWidget):
    def __init__(self, db, actor, *, tile_url: str | None = None, live=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.db, self.actor = db, actor
        self.settings = broadcast.BroadcastSettings(True, 500)
        self.tabs = QTabWidget(objectName="broadcastTabs")
        self.messages = MessagesView(db, actor, live=live)
        self.compose = self.target = None
        if actor.can("create_cbc_message"):
            self.compose = ComposeForm()
            self.target = TargetPanel(db, actor, tile_url=tile_url)
            self.problems = QLabel("", objectName="composeProblems", wordWrap=True)
            self.create_button = QPushButton("Review and confirm with your code…", objectName="createMessage")
            self.create_button.setProperty("primary", True)
            split = QSplitter(Qt.Orientation.Horizontal)
            split.addWidget(self.compose)
            split.addWidget(self.target)
            split.setSizes([420, 980])
            bottom = QHBoxLayout()
            bottom.addWidget(self.problems, 1)
            bottom.addWidget(self.create_button)
            page = QWidget(objectName="newWarning")
            page_layout = QVBoxLayout(page)
            page_layout.addWidget(split, 1)
            page_layout.addLayout(bottom)
            self.tabs.addTab(page, "New warning")
            self.compose.changed.connect(self._check)
            self.target.coverage_changed.connect(lambda _c: self._check())
            self.create_button.clicked.connect(self.create_and_confirm)
        self.tabs.addTab(self.messages, "Messages")
        self.templates = TemplatesView(db, actor)
        self.tabs.addTab(self.templates, "Templates")
        if self.compose is not None:
            self.templates.changed.connect(self._reload_templates)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)

    def load(self) -> None:
        """Read templates, settings, sites and zones, and the message list, on workers."""
        if self.compose is not None:
            self._reload_templates()
            self.target.load()
        self.messages.reload()
        self.templates.reload()

    def _reload_templates(self) -> None:
        db, actor = self.db, self.actor
        ops.query(self, lambda: (broadcast.list_templates(db, actor), broadcast.get_settings(db, actor)),
                  self._templates_loaded)

    def _templates_loaded(self, result) -> None:
        templates, self.settings = result
        self.messages.detail.text_limit = self.templates.limit = self.settings.text_limit
        self.messages.detail.two_person_rule = self.settings.two_person_rule
        self.compose.set_templates(templates, self.settings.text_limit)
        self._check()

    def _check(self) -> None:
        problems = self.compose.problems()
        if self.target.coverage is None:
            problems.append("The warning area cannot be used; draw it again or choose Whole network.")
        self.problems.setText(" ".join(problems))
        self.create_button.setEnabled(not problems)

    # ------------------------------------------------------------------ create, review, confirm

    def create_and_confirm(self) -> None:
        """Save the draft, show what will go out, and ask for the creator's code to submit it."""
        values = dict(self.compose.values())
        coverage = self.target.coverage
        values["target"] = None if coverage is None or coverage.shape is None else coverage.shape
        db, actor = self.db, self.actor

        def create():
            message = broadcast.create_message(db, actor, **values)
            return message, broadcast.review(db, actor, message.id)

        ops.mutate(self, create, self._ask_code)

    def _ask_code(self, result) -> None:
        message, review = result
        rule = ("A second user with the approve permission must then approve it."
                if self.settings.two_person_rule else "It is then ready to transmit.")
        dialog = CodeDialog("Confirm the warning", f"Confirm message #{message.id} with the code from your "
                            f"authenticator app. {rule}", review=list(review.lines), parent=self)
        dialog.setObjectName("confirmDialog")
        db, actor = self.db, self.actor

        def accepted() -> None:
            code = dialog.code.text()
            ops.mutate(self, lambda: broadcast.submit(db, actor, message.id, code), self._submitted,
                       success_message=f"Message #{message.id} confirmed",
                       on_error=lambda exc: self._code_refused(dialog, exc))

        dialog.accepted.connect(accepted)
        dialog.rejected.connect(lambda: self._show_message(message.id))  # the draft stays, in the list
        dialog.open()
        self.confirm_dialog = dialog

    def _code_refused(self, dialog: CodeDialog, exc: Exception) -> None:
        if not isinstance(exc, ServiceError):
            ops.show_error(self, exc)
            return
        dialog.code.clear()
        dialog.show_error(str(exc))
        dialog.open()

    def _submitted(self, message) -> None:
        self._show_message(message.id)

    def _show_message(self, message_id: int) -> None:
        self.tabs.setCurrentWidget(self.messages)
        self.messages.reload()
        self.messages.open_message(message_id)


__all__ = ["BroadcastWorkspace", "may_use"]

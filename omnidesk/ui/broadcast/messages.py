"""Broadcast messages: the list (history, filtered), one message in full, and what may be done with it.

Approve and reject ask for the user's own authenticator code, which the database checks together
with the two-person rule; transmit, update and stop go to the CBC engine. An active message is
monitored per peer and per cell, refreshed from the database's change notices (the engine may run
on another machine), with a slow timer as a fallback when notices are not arriving.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import QRegularExpression, Qt, QTimer, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from omnidesk.broadcast import service as broadcast
from omnidesk.broadcast import texts as texts_mod
from omnidesk.broadcast.models import STATUSES
from omnidesk.errors import ServiceError
from omnidesk.ui import ops
from omnidesk.ui.broadcast.compose import LanguageList
from omnidesk.ui.widgets import StatusBadge, humane

FALLBACK_REFRESH_MS = 5000  # while a message is active and change notices are not arriving
ACTIVE = ("active",)


def _when(value) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value is not None else "—"


def make_table(columns: list[str], name: str) -> QTableWidget:
    table = QTableWidget(0, len(columns), objectName=name)
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def fill_table(table: QTableWidget, rows: list[list]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            item = QTableWidgetItem("" if value is None else str(value))
            if isinstance(value, int):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)


class CodeDialog(QDialog):
    """Asks for the user's 6-digit authenticator code (and, to reject, a reason). The sixth digit
    submits, as at sign-in; the database, not this dialog, decides whether the code is right."""

    def __init__(self, title: str, prompt: str, *, reason: bool = False, review: list[str] | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(520)
        self.code = QLineEdit(objectName="codeInput", maxLength=6, placeholderText="6 digits")
        self.code.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,6}"), self.code))
        self.reason = QPlainTextEdit(objectName="reasonInput") if reason else None
        self.error = QLabel("", objectName="fieldError", wordWrap=True)
        self.error.hide()
        form = QFormLayout()
        if self.reason is not None:
            self.reason.setPlaceholderText("Why is it rejected? Its creator reads this.")
            self.reason.setFixedHeight(70)
            form.addRow("Reason", self.reason)
        form.addRow("Your code", self.code)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._submit)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        if review:
            layout.addWidget(review_text(review))
        layout.addWidget(QLabel(prompt, wordWrap=True))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.code.textChanged.connect(self._typed)

    def _typed(self, text: str) -> None:
        self.error.hide()
        if len(text) == 6 and (self.reason is None or self.reason.toPlainText().strip()):
            self._submit()

    def _submit(self) -> None:
        if self.reason is not None and not self.reason.toPlainText().strip():
            self.show_error("Say why the message is rejected.")
            return
        if len(self.code.text()) != 6:
            self.show_error("The code is the 6 digits your authenticator app shows now.")
            return
        self.accept()

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    def reason_text(self) -> str:
        return self.reason.toPlainText().strip() if self.reason is not None else ""


def review_text(lines: list[str]) -> QPlainTextEdit:
    """Everything that will go out, one line each, for reading before the decision."""
    box = QPlainTextEdit("\n".join(lines), objectName="reviewText", readOnly=True)
    box.setMinimumHeight(150)
    return box


class TransmitDialog(QDialog):
    """The review screen: what goes out, per language and per peer, then Transmit."""

    def __init__(self, review, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Transmit message #{review.message.id}")
        self.setMinimumWidth(560)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        send = buttons.addButton("Transmit now", QDialogButtonBox.ButtonRole.AcceptRole)
        send.setObjectName("transmitNow")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("This goes out to phones in the target area as soon as you transmit:", wordWrap=True))
        layout.addWidget(review_text(list(review.lines)))
        layout.addWidget(buttons)


class UpdateDialog(QDialog):
    """New texts and parameters for an active warning, each language counted as it is typed, confirmed with
    the updater's own authenticator code (the sixth digit submits, as at sign-in). The database checks the
    code; under the two-person rule the update then waits for another user's approval."""

    def __init__(self, message, limit: int, parent: QWidget | None = None, *, two_person_rule: bool = True):
        super().__init__(parent)
        self.setWindowTitle(f"Update message #{message.id}")
        self.setMinimumWidth(620)
        self.message = message
        self.languages = LanguageList(limit, fixed_languages=True)  # an update re-sends the same languages
        self.languages.set_texts(message.texts)
        self.repetitions = QSpinBox(objectName="updateRepetitions", minimum=0, maximum=65535,
                                    specialValueText="until stopped or expired")
        self.repetitions.setValue(message.number_of_broadcasts)
        self.period = QSpinBox(objectName="updatePeriod", minimum=1, maximum=4095, suffix=" s")
        self.period.setValue(message.repetition_period)
        self.code = QLineEdit(objectName="codeInput", maxLength=6, placeholderText="6 digits")
        self.code.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,6}"), self.code))
        self.error = QLabel("", objectName="fieldError", wordWrap=True)
        self.error.hide()
        form = QFormLayout()
        form.addRow("Repetitions", self.repetitions)
        form.addRow("Every", self.period)
        form.addRow("Your code", self.code)
        after = ("It then waits for a second user's approval (two-person rule) before it goes out."
                 if two_person_rule else "It goes out as soon as your code is accepted.")
        layout = QVBoxLayout(self)
        layout.addWidget(self.languages)
        layout.addLayout(form)
        layout.addWidget(QLabel(f"Confirm the update with the code from your authenticator app. {after}",
                                objectName="updateNotice", wordWrap=True))
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(
            "Ask for approval" if two_person_rule else "Send update")
        buttons.accepted.connect(self._submit)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.code.textChanged.connect(self._typed)
        self.languages.changed.connect(self.error.hide)

    def _typed(self, text: str) -> None:
        self.error.hide()
        if len(text) == 6:
            self._submit()

    def _submit(self) -> None:
        problems = self.languages.problems()
        if problems:
            self.show_error(" ".join(problems))
            return
        if not self.changes():
            self.show_error("The update changes nothing: edit a text, the repetitions or the period.")
            return
        if len(self.code.text()) != 6:
            self.show_error("The code is the 6 digits your authenticator app shows now.")
            return
        self.accept()

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    def texts(self) -> list[dict[str, str]]:
        return self.languages.values()

    def changes(self) -> dict:
        """What request_update takes: only what differs from the message."""
        out: dict = {}
        if self.texts() != self.message.texts:
            out["texts"] = self.texts()
        if self.repetitions.value() != self.message.number_of_broadcasts:
            out["repetitions"] = self.repetitions.value()
        if self.period.value() != self.message.repetition_period:
            out["repetition_period"] = self.period.value()
        return out


class MessageDetail(QWidget):
    """One message: texts, target, people and times, results per peer and cell, and its history."""

    changed = Signal()  # after an action changed the message
    shown = Signal(object)  # the message as just read (refreshes included)

    def __init__(self, db, actor, parent: QWidget | None = None):
        super().__init__(parent)
        self.db, self.actor = db, actor
        self.message = None
        self.text_limit = texts_mod.DEFAULT_TEXT_LIMIT  # the console's limit, once the workspace has read it
        self.title = QLabel("Choose a message", objectName="detailTitle")
        self.badge = StatusBadge()
        self.facts = QLabel("", objectName="messageFacts", wordWrap=True)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.approve_button = QPushButton("Approve…", objectName="approveMessage")
        self.reject_button = QPushButton("Reject…", objectName="rejectMessage")
        self.submit_button = QPushButton("Confirm with your code…", objectName="submitMessage")
        self.transmit_button = QPushButton("Transmit", objectName="transmitMessage")
        self.update_button = QPushButton("Update…", objectName="updateMessage")
        self.stop_button = QPushButton("Stop", objectName="stopMessage")
        self.stop_button.setProperty("destructive", True)
        self.release_button = QPushButton("Release transmit claim", objectName="releaseClaim")
        self.release_button.setToolTip("A workstation started transmitting this message and did not finish. "
                                       "Released only after 5 minutes; check the CBC engine first that it did not go out.")
        self.two_person_rule = True  # as the workspace read it from the settings
        # an update asked for and not sent yet: what it changes, and what may be done with it
        self.pending_update = QFrame(objectName="pendingUpdate")
        self.pending_text = QLabel("", objectName="pendingUpdateText", wordWrap=True)
        self.pending_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.approve_update_button = QPushButton("Approve update…", objectName="approveUpdate")
        self.reject_update_button = QPushButton("Reject update…", objectName="rejectUpdate")
        self.send_update_button = QPushButton("Send update", objectName="sendUpdate")
        pending_buttons = QHBoxLayout()
        for button in (self.approve_update_button, self.reject_update_button, self.send_update_button):
            pending_buttons.addWidget(button)
        pending_buttons.addStretch(1)
        pending_layout = QVBoxLayout(self.pending_update)
        pending_layout.addWidget(self.pending_text)
        pending_layout.addLayout(pending_buttons)
        self.pending_update.hide()
        self.peers = make_table(["Peer", "Protocol", "State", "Acknowledged", "Failed", "Note"], "resultPeers")
        self.cells = make_table(["Peer", "Cell", "Language", "Outcome", "Cause", "Broadcasts completed"], "resultCells")
        self.events = make_table(["When", "Who", "What", "Detail"], "messageEvents")
        self.results_summary = QLabel("", objectName="resultsSummary", wordWrap=True)
        tabs = QTabWidget(objectName="detailTabs")
        results = QWidget()
        results_layout = QVBoxLayout(results)
        results_layout.addWidget(self.results_summary)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.peers)
        split.addWidget(self.cells)
        results_layout.addWidget(split)
        tabs.addTab(results, "Results")
        tabs.addTab(self.events, "History")

        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addWidget(self.badge)
        header.addStretch(1)
        actions = QHBoxLayout()
        for button in (self.submit_button, self.approve_button, self.reject_button, self.transmit_button,
                       self.release_button, self.update_button, self.stop_button):
            actions.addWidget(button)
            button.hide()
        actions.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.facts)
        layout.addLayout(actions)
        layout.addWidget(self.pending_update)
        layout.addWidget(tabs, 1)

        self.submit_button.clicked.connect(self._submit)
        self.approve_button.clicked.connect(lambda: self._decide("approve"))
        self.reject_button.clicked.connect(lambda: self._decide("reject"))
        self.transmit_button.clicked.connect(self._transmit)
        self.update_button.clicked.connect(self._update)
        self.stop_button.clicked.connect(self._stop)
        self.release_button.clicked.connect(self._release)
        self.approve_update_button.clicked.connect(lambda: self._decide_update("approve"))
        self.reject_update_button.clicked.connect(lambda: self._decide_update("reject"))
        self.send_update_button.clicked.connect(self._send_update)

    # ------------------------------------------------------------------ showing

    def show_message(self, message) -> None:
        self.message = message
        self.shown.emit(message)
        m = message
        self.title.setText(f"Message #{m.id} · {m.template or 'no template'}")
        self.badge.set_status(m.status)
        lines = [f"<b>Identifier</b> {m.message_identifier} · {humane(m.category)} · every {m.repetition_period} s · "
                 + ("until stopped or expired" if m.number_of_broadcasts == 0 else f"{m.number_of_broadcasts} times")
                 + (f" · expires after {m.expiry_minutes} min" if m.expiry_minutes else "")]
        lines += [f"<b>{t['language']}</b> {_escape(t['text'])}" for t in m.texts]
        lines.append(f"<b>Target</b> {_escape(m.target_summary)}")
        people = f"Created by {m.created_by} {_when(m.created_at)}"
        if m.approved_by:
            people += f" · approved by {m.approved_by} {_when(m.approved_at)}"
        if m.rejected_by:
            people += f" · rejected by {m.rejected_by}: “{_escape(m.reject_reason or '')}”"
        if m.transmitted_at:
            people += f" · transmitted {_when(m.transmitted_at)}"
        if m.update_count:
            people += f" · updated {m.update_count}×"
        lines.append(people)
        self.facts.setText("<br>".join(lines))
        self._show_results(m)
        fill_table(self.events, [[_when(e.at), e.actor, humane(e.event), _detail(e.detail)] for e in m.events])
        can = self.actor.can
        self.approve_button.setVisible(m.status == "pending_approval" and can("approve_cbc_message"))
        self.reject_button.setVisible(m.status == "pending_approval" and can("approve_cbc_message"))
        self.transmit_button.setVisible(m.status == "approved" and can("create_cbc_message"))
        self.release_button.setVisible(m.status == "approved" and m.transmit_claimed_at is not None
                                       and can("create_cbc_message"))
        self.update_button.setVisible(m.status == "active" and can("update_cbc_message"))
        mine = m.created_by == self.actor.username
        self.submit_button.setVisible(m.status == "draft" and mine and can("create_cbc_message"))
        # as the service and the database have it: the creator cancels their own draft or pending message;
        # anything further along needs delete_cbc_message
        self.stop_button.setVisible(m.status in ("active", "approved") and can("delete_cbc_message")
                                    or m.status in ("draft", "pending_approval") and (mine or can("delete_cbc_message")))
        self.stop_button.setText("Stop" if m.status == "active" else "Cancel message")
        self._show_pending_update(m)

    def _show_pending_update(self, m) -> None:
        u = m.open_update
        self.pending_update.setVisible(u is not None)
        if u is None:
            self.update_button.setEnabled(True)
            self.update_button.setToolTip("")
            return
        waiting = u.status == "pending_approval"
        head = (f"<b>Update #{u.id}</b> asked for by {u.requested_by} {_when(u.requested_at)} — "
                + ("waits for another user's approval" if waiting
                   else f"approved by {u.approved_by} {_when(u.approved_at)}, not sent yet"))
        self.pending_text.setText("<br>".join([head] + [_escape(line) for line in u.lines()]))
        can, mine = self.actor.can, u.requested_by == self.actor.username
        self.approve_update_button.setVisible(waiting and m.status == "active" and can("approve_cbc_message") and not mine)
        self.reject_update_button.setVisible(waiting and can("approve_cbc_message") and not mine)
        self.send_update_button.setVisible(not waiting and m.status == "active" and can("update_cbc_message"))
        self.update_button.setEnabled(False)  # one update at a time
        self.update_button.setToolTip(f"Update #{u.id} is still open")

    def _show_results(self, m) -> None:
        results = m.results()
        offline = set(results["offline_peers"])
        fill_table(self.peers, [[p["peer"], p["protocol"], humane(p["state"] or ""), p["acknowledged"], p["failed"],
                            "OFFLINE" if p["offline"] else (p["reason"] or "")] for p in results["peers"]])
        fill_table(self.cells, [[p["peer"], c["cell"], c["language"], humane(c["outcome"] or "waiting"), c["cause"] or "",
                            c["broadcasts_completed"] if c["broadcasts_completed"] is not None else ""]
                           for p in results["peers"] for c in p["cells"]])
        if results["state"] is None:
            self.results_summary.setText("Not transmitted yet.")
        else:
            text = (f"Warning {humane(results['state'])}, update {results.get('update_number', 0)}: "
                    f"{results['cells_ok']:,} cells acknowledged, {results['cells_failed']:,} failed")
            if offline:
                text += f"; offline: {', '.join(sorted(offline))}"
            self.results_summary.setText(text + ".")

    def refresh(self) -> None:
        if self.message is None:
            return
        db, actor, message_id = self.db, self.actor, self.message.id
        ops.query(self, lambda: broadcast.get_message(db, actor, message_id), self.show_message,
                  lambda exc: None)  # a refresh that fails keeps what is shown; the next one tries again

    # ------------------------------------------------------------------ actions

    def _run(self, fn, message: str) -> None:
        ops.mutate(self, fn, self._done, success_message=message)

    def _done(self, message) -> None:
        self.show_message(message)
        self.changed.emit()

    def _decide(self, decision: str) -> None:
        m = self.message
        dialog = CodeDialog("Approve" if decision == "approve" else "Reject",
                            f"{'Approve' if decision == 'approve' else 'Reject'} message #{m.id} "
                            f"({m.template}) with the code from your authenticator app.",
                            reason=decision == "reject", parent=self)
        dialog.setObjectName(f"{decision}Dialog")
        db, actor, message_id = self.db, self.actor, m.id
        self._with_code(dialog, lambda code: (
            partial(broadcast.approve, db, actor, message_id, code) if decision == "approve"
            else partial(broadcast.reject, db, actor, message_id, code, dialog.reason_text())),
            f"Message #{message_id} {decision}d")

    def _submit(self) -> None:
        """A draft left when its confirmation was closed: review it and confirm it with the creator's code."""
        db, actor, message_id = self.db, self.actor, self.message.id

        def reviewed(review) -> None:
            dialog = CodeDialog("Confirm the warning", f"Confirm message #{message_id} with the code from your "
                                "authenticator app.", review=list(review.lines), parent=self)
            dialog.setObjectName("confirmDialog")
            self._with_code(dialog, lambda code: partial(broadcast.submit, db, actor, message_id, code),
                            f"Message #{message_id} confirmed")

        ops.query(self, lambda: broadcast.review(db, actor, message_id), reviewed)

    def _with_code(self, dialog, work: Callable[[str], Callable[[], Any]], success_message) -> None:
        """Open `dialog`; on OK, `work(code)` (called here, on the GUI thread, so it reads the dialog's
        fields here) gives what runs in the background. A code the database refuses asks again."""
        def accepted() -> None:
            ops.mutate(self, work(dialog.code.text()), self._done, success_message=success_message,
                       on_error=lambda exc: self._refused_code(dialog, exc))

        dialog.accepted.connect(accepted)
        dialog.open()

    def _refused_code(self, dialog: CodeDialog, exc: Exception) -> None:
        if isinstance(exc, broadcast.UpdateFailed):
            # the code was accepted and the step taken; the engine refused what followed: no code to ask again
            ops.show_error(self, exc)
            self.refresh()
            self.changed.emit()
        elif isinstance(exc, ServiceError):
            # The database said no (wrong or used code, own message, no permission): ask again.
            dialog.code.clear()
            dialog.show_error(str(exc))
            dialog.open()
        else:
            ops.show_error(self, exc)

    def _transmit(self) -> None:
        db, actor, message_id = self.db, self.actor, self.message.id

        def reviewed(review) -> None:
            dialog = TransmitDialog(review, self)
            dialog.setObjectName("transmitDialog")
            dialog.accepted.connect(lambda: self._run(lambda: broadcast.transmit(db, actor, message_id),
                                                      f"Message #{message_id} handed to the CBC engine"))
            dialog.open()

        ops.query(self, lambda: broadcast.review(db, actor, message_id), reviewed)

    def _update(self) -> None:
        db, actor, m = self.db, self.actor, self.message
        dialog = UpdateDialog(m, self.text_limit, self, two_person_rule=self.two_person_rule)
        dialog.setObjectName("updateDialog")
        self._with_code(dialog, lambda code: partial(broadcast.request_update, db, actor, m.id, code, **dialog.changes()),
                        lambda done: (f"Message #{m.id} updated and sent again" if done.update_count > m.update_count
                                      else f"Update of message #{m.id} waits for approval"))

    def _decide_update(self, decision: str) -> None:
        m, u = self.message, self.message.open_update
        verb = "Approve" if decision == "approve" else "Reject"
        dialog = CodeDialog(f"{verb} update", f"{verb} update #{u.id} of message #{m.id}, asked for by "
                            f"{u.requested_by}, with the code from your authenticator app.",
                            reason=decision == "reject", review=u.lines(), parent=self)
        dialog.setObjectName(f"{decision}UpdateDialog")
        db, actor, update_id = self.db, self.actor, u.id
        self._with_code(dialog, lambda code: (
            partial(broadcast.approve_update, db, actor, update_id, code) if decision == "approve"
            else partial(broadcast.reject_update, db, actor, update_id, code, dialog.reason_text())),
            f"Update #{update_id} {decision}d")

    def _send_update(self) -> None:
        db, actor, u = self.db, self.actor, self.message.open_update
        self._run(lambda: broadcast.send_update(db, actor, u.id), f"Update #{u.id} sent to the CBC engine")

    def _release(self) -> None:
        db, actor, m = self.db, self.actor, self.message
        ops.confirm(self, f"Release the transmit claim of message #{m.id}?",
                    lambda: self._run(lambda: broadcast.release_transmit_claim(db, actor, m.id),
                                      f"Message #{m.id} can be transmitted or cancelled again"),
                    yes_label="Release claim",
                    informative="Only if the workstation that claimed it died: check the CBC engine's warnings "
                                "first that the message did not go out, or it may be sent twice.")

    def _stop(self) -> None:
        db, actor, m = self.db, self.actor, self.message
        active = m.status == "active"
        ops.confirm(self, f"{'Stop' if active else 'Cancel'} message #{m.id}?",
                    lambda: self._run(lambda: broadcast.stop(db, actor, m.id),
                                      f"Message #{m.id} {'stopped on every peer' if active else 'cancelled'}"),
                    yes_label="Stop broadcasting" if active else "Cancel message",
                    informative="Every peer is told to stop (Kill / Stop-Warning)." if active else "",
                    destructive=True)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _detail(detail: dict) -> str:
    def shown(value) -> str:
        if isinstance(value, list) and all(isinstance(t, dict) and "text" in t for t in value):
            return "; ".join(f"[{t.get('language', '')}] {t['text']}" for t in value)  # a message's texts
        return str(value)

    return ", ".join(f"{k}: {shown(v)}" for k, v in (detail or {}).items())


class MessagesView(QWidget):
    """Every message, newest first, filtered by status and text; the chosen one in full beside it."""

    def __init__(self, db, actor, *, live=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.db, self.actor = db, actor
        self.messages: list = []
        self.status = QComboBox(objectName="statusFilter")
        self.status.addItem("All statuses", None)
        for status in STATUSES:
            self.status.addItem(humane(status), status)
        self.search = QLineEdit(objectName="messageSearch", placeholderText="Search texts, targets, reasons",
                                clearButtonEnabled=True)
        self.list = make_table(["#", "Status", "Template", "Identifier", "Created by", "Created", "Target"], "messageList")
        self.detail = MessageDetail(db, actor)
        filters = QHBoxLayout()
        filters.addWidget(self.status)
        filters.addWidget(self.search, 1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(filters)
        left_layout.addWidget(self.list)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(split)

        self._search_delay = QTimer(self, singleShot=True, interval=250)
        self._search_delay.timeout.connect(self.reload)
        self.search.textChanged.connect(self._search_delay.start)
        self.status.currentIndexChanged.connect(self.reload)
        self.list.itemSelectionChanged.connect(self._chosen)
        self.detail.changed.connect(self.reload)
        self.detail.shown.connect(self._follow)
        # Live: the engine's and other workstations' changes arrive as notices; the timer covers a
        # listener that is down, and only while something is active.
        self._fallback = QTimer(self, interval=FALLBACK_REFRESH_MS)
        self._fallback.timeout.connect(self._tick)
        self._fallback.start()
        self.live = live
        if live is not None:
            live.changes.connect(lambda _batch: self.detail.refresh() or self.reload())

    def _tick(self) -> None:
        if self.live is not None and self.live.connected:
            return
        if self.detail.message is not None and self.detail.message.status in ACTIVE:
            self.detail.refresh()

    def reload(self) -> None:
        db, actor = self.db, self.actor
        status, search = self.status.currentData(), self.search.text().strip() or None
        ops.query(self, lambda: broadcast.history(db, actor, status=status, search=search), self._listed)

    def _listed(self, messages) -> None:
        chosen = self.detail.message.id if self.detail.message is not None else None
        self.messages = messages
        self.list.blockSignals(True)
        fill_table(self.list, [[m.id, humane(m.status), m.template or "", m.message_identifier, m.created_by,
                           _when(m.created_at), m.target_summary] for m in messages])
        self.list.blockSignals(False)
        for row, m in enumerate(messages):
            if m.id == chosen:
                self.list.selectRow(row)

    def _follow(self, message) -> None:
        """A refreshed detail whose status the list does not show yet (the engine or another workstation
        moved it on): read the list again."""
        listed = next((m for m in self.messages if m.id == message.id), None)
        if listed is not None and listed.status != message.status:
            self.reload()

    def _chosen(self) -> None:
        rows = self.list.selectionModel().selectedRows()
        if rows:
            self.open_message(self.messages[rows[0].row()].id)

    def open_message(self, message_id: int) -> None:
        db, actor = self.db, self.actor
        ops.query(self, lambda: broadcast.get_message(db, actor, message_id), self.detail.show_message)


__all__ = ["CodeDialog", "MessageDetail", "MessagesView", "TransmitDialog", "UpdateDialog", "fill_table", "make_table",
           "review_text"]

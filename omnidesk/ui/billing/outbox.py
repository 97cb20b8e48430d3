"""The desktop's e-mail sender: while OmniDesk runs, queued invoice e-mails that are due go out on a
worker every minute, so an e-mail queued here (or anywhere) is sent without anyone running a command.
Rows are claimed with FOR UPDATE SKIP LOCKED, so several workstations sending never send one twice;
a failure stays queued with its back-off (omnidesk/billing/mail.py). Runs only where Mailjet is
configured (MAILJET_* variables) and for staff who may record invoice payments."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from omnidesk.billing import mail
from omnidesk.ui import ops

INTERVAL_MS = 60_000


class OutboxSender(QObject):
    round_done = Signal(object)  # mail.SendReport
    round_failed = Signal(str)

    def __init__(self, db, actor, parent: QObject | None = None, *, sender: mail.MailjetSender | None = None,
                 interval_ms: int = INTERVAL_MS):
        super().__init__(parent)
        self.db, self.actor = db, actor
        self._sender = sender
        self._running = False
        self._stopped = False
        self.last_error = ""
        self.timer = QTimer(self, interval=interval_ms)
        self.timer.timeout.connect(self.send_now)

    @classmethod
    def wanted(cls, actor) -> bool:
        return mail.configured() and actor.can("update_customer_invoice")

    def start(self) -> None:
        self.timer.start()
        self.send_now()

    def stop(self) -> None:
        """No more rounds; the HTTP client closes now, or when the round still running ends."""
        self.timer.stop()
        self._stopped = True
        if not self._running:
            self._close_sender()

    def _close_sender(self) -> None:
        if self._sender is not None:
            self._sender.close()
            self._sender = None

    def send_now(self) -> None:
        if self._running or self._stopped:
            return  # the last round is still going (a slow Mailjet): never two rounds at once
        self._running = True
        db, actor = self.db, self.actor

        def work() -> mail.SendReport:
            if self._sender is None:
                self._sender = mail.sender_from_environment(db)
            return mail.send_outbox(db, actor, self._sender)

        def done(report: mail.SendReport) -> None:
            self._running = False
            if self._stopped:
                self._close_sender()
                return
            self.last_error = ""
            if report.sent:
                ops.tracker().message.emit(f"{report.sent} invoice e-mail{'s' if report.sent != 1 else ''} sent.")
            self.round_done.emit(report)

        def failed(exc: Exception) -> None:  # e.g. the database is unreachable: try again next round, quietly
            self._running = False
            if self._stopped:
                self._close_sender()
                return
            self.last_error = ops.error_text(exc)[0]
            self.round_failed.emit(self.last_error)

        ops.query(self, work, done, failed)

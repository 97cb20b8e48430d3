"""Live updates: change notices from other workstations (LISTEN/NOTIFY), delivered as Qt signals."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

from omnidesk.db.notify import CUSTOMERS_CHANNEL, ChangeListener
from omnidesk.ui import ops


class _Mailbox:
    """The listener thread's side: plain Python, so it stays valid whatever happens to the widgets."""

    def __init__(self, owner: "LiveUpdates"):
        self.owner = owner
        self.tracker = ops.tracker()  # created on the GUI thread, before any listener thread runs
        self.lock = threading.Lock()
        self.pending: list[dict] = []

    def received(self, notice: dict) -> None:
        with self.lock:
            first = not self.pending
            self.pending.append(notice)
        if first:
            self.tracker.post(self.flush)

    def state(self, connected: bool, message: str) -> None:
        self.tracker.post(lambda: ops.alive(self.owner) and self.owner._on_state(connected, message))

    def flush(self) -> None:
        with self.lock:
            batch, self.pending = self.pending, []
        if batch and ops.alive(self.owner):
            self.owner._deliver(batch)


class LiveUpdates(QObject):
    """Wraps a ChangeListener; `changes` carries batches of notices on the GUI thread.

    Notices are batched on the listener thread so a burst (say 5,000 rows imported in one
    transaction) crosses to the GUI thread as a handful of calls rather than one per row. The
    listener thread never touches this object's Qt side: it hands its news to the ops tracker,
    which outlives every window, so a window closing mid-notice cannot be hit from another thread.
    """

    changes = Signal(list)  # list[dict]: {table, op, id, customer_id}
    state_changed = Signal(bool, str)  # connected, message

    def __init__(self, conninfo: str, channels: tuple[str, ...] = (CUSTOMERS_CHANNEL,), parent: QObject | None = None):
        super().__init__(parent)
        self._conninfo = conninfo
        self._channels = channels
        self._mailbox = _Mailbox(self)
        self._listener: ChangeListener | None = None
        self.connected = False
        self.status_message = "not started"

    @classmethod
    def for_database(cls, db, parent: QObject | None = None) -> "LiveUpdates":
        return cls(db.raw_connection_string(), (CUSTOMERS_CHANNEL,), parent)

    def start(self) -> None:
        """Start listening without waiting for the connection; `state_changed` reports when it is up."""
        if self._listener is not None:
            return
        self._listener = ChangeListener(self._conninfo, self._channels, self._mailbox.received, self._mailbox.state)
        self._listener.start(wait=0)

    def stop(self, *, wait: bool = True) -> None:
        """Stop listening. `wait=False` (when the app is exiting) does not wait for the thread's
        0.5 s poll to end; the thread is a daemon and closes its connection on its way out."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        if wait:
            listener.stop()
        else:
            threading.Thread(target=listener.stop, name="omnidesk-listen-stop", daemon=True).start()

    @property
    def listening(self) -> bool:
        return self._listener is not None and self._listener.listening

    # --- GUI thread (called through the mailbox) ---

    def _deliver(self, batch: list[dict]) -> None:
        if self._listener is not None:
            self.changes.emit(batch)

    def _on_state(self, connected: bool, message: str) -> None:
        if self._listener is None:
            return
        self.connected = connected
        self.status_message = message
        self.state_changed.emit(connected, message)

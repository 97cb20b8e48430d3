"""Background steps of signing in that Cancel can abandon (login dialog, enrolment wizard).

A step runs on a worker through omnidesk.ui.ops. After Cancel its answer, when it comes, is thrown
away and whatever it opened is closed: a StaffSession is ended in the database (omnidesk_end_session)
and its connections disposed, a StaffLogin's connections are disposed. The check happens twice:
on the worker right after the step (so it holds even when the application quits at once, as it does
when the login dialog is cancelled: ops.shutdown waits for the workers), and on the GUI thread when
the answer arrives (Cancel may come in between; the owner must then still exist, as a cancelled
dialog does until the application ends).

The step function must be built on the GUI thread from plain values (strings, the StaffLogin): the
worker never reads a widget.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject

from omnidesk.ui import ops

log = logging.getLogger(__name__)


def close_opened(result: Any, *, keep: Any = None) -> None:
    """End what an abandoned step opened (never `keep`, e.g. the signed-in window's own session)."""
    from omnidesk.auth.session import StaffLogin, StaffSession

    if result is None or result is keep:
        return
    try:
        if isinstance(result, StaffSession):
            result.sign_out()
        elif isinstance(result, StaffLogin):
            result.abandon()
    except Exception:  # the database may be gone; the session then expires on its own
        log.exception("could not close what a cancelled sign-in step opened")


class _Discarded:
    """What the worker hands back when the step was cancelled before it finished (already closed)."""


class CancellableSteps:
    """One step at a time for `owner`; cancel() makes the answer of the step in flight go unheard."""

    def __init__(self, owner: QObject):
        self.owner = owner
        self._cancelled: threading.Event | None = None  # the step in flight's flag
        self._callbacks: tuple | None = None  # its (on_done, on_failed), on the GUI thread only

    def run(self, fn: Callable[[], Any], on_done: Callable[[Any], None], on_failed: Callable[[Exception], None],
            *, keep: Any = None) -> None:
        """Run `fn` on a worker; `on_done(result)` or `on_failed(exc)` on the GUI thread unless cancelled.

        `keep`: an object the step may return that is not its own to close (see close_opened).
        The callbacks (which hold widgets) stay here on the GUI thread; what goes to the worker holds
        no widget, so a widget is never released there.
        """
        cancelled = self._cancelled = threading.Event()
        self._callbacks = (on_done, on_failed)

        def work():
            result = fn()
            if cancelled.is_set():
                close_opened(result, keep=keep)
                return _Discarded
            return result

        # The owner as parent, as everywhere else: once it is deleted its answers go unheard, and the
        # worker's own check above is what closes a cancelled step's session.
        ops.query(self.owner, work, functools.partial(self._answered, cancelled, keep),
                  functools.partial(self._refused, cancelled))

    def _current(self, cancelled: threading.Event) -> bool:
        return self._cancelled is cancelled and not cancelled.is_set()

    def _answered(self, cancelled: threading.Event, keep: Any, result: Any) -> None:
        if result is _Discarded:
            return
        if not self._current(cancelled):
            ops.query(None, lambda: close_opened(result, keep=keep), None, lambda _exc: None)
            return
        on_done, _ = self._callbacks
        self._cancelled = self._callbacks = None
        on_done(result)

    def _refused(self, cancelled: threading.Event, exc: Exception) -> None:
        if self._current(cancelled):
            _, on_failed = self._callbacks
            self._cancelled = self._callbacks = None
            on_failed(exc)

    def cancel(self) -> bool:
        """Abandon the step in flight (if any); True when there was one."""
        cancelled, self._cancelled = self._cancelled, None
        self._callbacks = None
        if cancelled is None:
            return False
        cancelled.set()
        return True

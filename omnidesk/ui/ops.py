"""Background operations: run service calls on a worker thread and hand the outcome to the GUI thread.

Every screen goes through `query` (reads) or `mutate` (changes), in the manner of Anki's
QueryOp/CollectionOp, so no screen freezes while the database works and no screen invents its own
threading. The worker never touches a widget: its result or exception is queued back to the GUI
thread, where the callback runs only if the widget that asked still exists.
"""

from __future__ import annotations

import gc
import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, Qt, QThread, QThreadPool, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from omnidesk.errors import ServiceError

log = logging.getLogger(__name__)

# The engine's pool holds 4 connections plus 4 overflow; more workers would only queue for them.
MAX_WORKERS = 4


class OpTracker(QObject):
    """Counts operations in flight and broadcasts what the status bar and the tests want to know."""

    busy_changed = Signal(bool)
    count_changed = Signal(int)
    message = Signal(str)  # a success message for the status bar
    error_shown = Signal(str)  # the text of each error box, as it is shown
    # Workers put their outcome in a locked list and wake the GUI thread with an argument-less
    # signal (as Anki's TaskManager does): no Python object crosses threads inside a Qt event.
    _wake = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.running = 0
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(MAX_WORKERS)
        self._lock = threading.Lock()
        self._outcomes: list[tuple[Callable[[], None], bool]] = []
        self._wake.connect(self._deliver_outcomes, Qt.ConnectionType.QueuedConnection)
        self.garbage_collector = GuiThreadGarbageCollector(self)

    def post(self, closure: Callable[[], None], *, finishes_operation: bool = False) -> None:
        """From any thread: run `closure` on the GUI thread soon.

        Other threads (workers, the change listener) reach the GUI only through here, because this
        object lives as long as the process, unlike the widgets they report to.
        """
        with self._lock:
            first = not self._outcomes
            self._outcomes.append((closure, finishes_operation))
        if first:
            self._wake.emit()

    @Slot()
    def _deliver_outcomes(self) -> None:
        with self._lock:
            outcomes, self._outcomes = self._outcomes, []
        for closure, finishes_operation in outcomes:
            try:
                closure()
            except Exception:
                log.exception("a callback on the GUI thread failed")
            finally:
                if finishes_operation:
                    self.running -= 1
                    self.count_changed.emit(self.running)
                    if self.running == 0:
                        self.busy_changed.emit(False)

    def _started(self) -> None:
        self.running += 1
        self.count_changed.emit(self.running)
        if self.running == 1:
            self.busy_changed.emit(True)


class GuiThreadGarbageCollector(QObject):
    """Collects Python's cyclic garbage on the GUI thread only (as Anki and calibre do).

    Left automatic, a collection starts in whichever thread happens to allocate, so a worker could
    free a cycle holding a widget and delete it off the GUI thread, which crashes Qt. Automatic
    collection is switched off and the same generational thresholds are checked every 500 ms here.
    """

    def __init__(self, parent: QObject | None = None, interval_ms: int = 500):
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self, interval=interval_ms)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> None:
        young, middle, old = gc.get_count()
        if young > self.threshold[0]:
            gc.collect(2 if old > self.threshold[2] else 1 if middle > self.threshold[1] else 0)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], finish: Callable[[Any, BaseException | None], None]):
        super().__init__()
        self.setAutoDelete(True)
        self._fn = fn
        self._finish = finish

    def run(self) -> None:
        try:
            result, error = self._fn(), None
        except Exception as exc:  # handed to the GUI thread; nothing may escape a worker
            result, error = None, exc
        # Hand everything the operation holds to the GUI thread, so that whatever it references
        # (closures over widgets included) is released there and not here; this runnable is
        # deleted once run() returns.
        fn, finish = self._fn, self._finish
        self._fn = self._finish = None
        t = _tracker
        if t is None or not shiboken6.isValid(t):
            return  # the application has shut down; nobody is left to tell
        try:
            t.post(lambda fn=fn: finish(result, error), finishes_operation=True)
        except RuntimeError:
            pass  # deleted between the check and the emit, at exit


_tracker: OpTracker | None = None


def tracker() -> OpTracker:
    """The process-wide tracker; created on first use, which must be on the GUI thread."""
    global _tracker
    if _tracker is None:
        app = QApplication.instance()
        if app is None or QThread.currentThread() is not app.thread():
            raise RuntimeError("omnidesk.ui.ops must first be used on the GUI thread of a running QApplication")
        _tracker = OpTracker()
    return _tracker


def shutdown(timeout_ms: int = 2000) -> bool:
    """At exit: wait a little for operations still running, so none dies halfway through a write."""
    if _tracker is None or not shiboken6.isValid(_tracker):
        return True
    return _tracker.pool.waitForDone(timeout_ms)


def in_flight() -> int:
    """How many operations have started and not yet delivered their outcome."""
    return tracker().running


def alive(widget: QObject | None) -> bool:
    return widget is not None and shiboken6.isValid(widget)


def _submit(
    parent: QObject | None,
    fn: Callable[[], Any],
    on_done: Callable[[Any], None] | None,
    on_error: Callable[[Exception], None] | None,
    success_message: str | Callable[[Any], str] | None,
) -> None:
    t = tracker()

    def finish(result: Any, error: BaseException | None) -> None:
        if parent is not None and not alive(parent):
            return  # the screen that asked is gone; nobody wants the answer
        if error is not None:
            if on_error is not None:
                on_error(error)
            else:
                show_error(parent if isinstance(parent, QWidget) else None, error)
            return
        if on_done is not None:
            on_done(result)
        if success_message:
            t.message.emit(success_message(result) if callable(success_message) else success_message)

    t._started()
    t.pool.start(_Task(fn, finish))


def query(
    parent: QObject | None,
    fn: Callable[[], Any],
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[Exception], None] | None = None,
) -> None:
    """Read something in the background; `on_done(result)` runs on the GUI thread.

    Without `on_error`, a failure is shown in a message box over `parent`.
    """
    _submit(parent, fn, on_done, on_error, None)


def mutate(
    parent: QObject | None,
    fn: Callable[[], Any],
    on_done: Callable[[Any], None] | None = None,
    success_message: str | Callable[[Any], str] | None = None,
    on_error: Callable[[Exception], None] | None = None,
) -> None:
    """Change something in the background; on success `on_done(result)` runs and the message is shown."""
    _submit(parent, fn, on_done, on_error, success_message)


def error_text(exc: BaseException, *, as_is: bool = False) -> tuple[str, str]:
    """(main text, informative text) for an error box; `as_is` for exceptions written for users."""
    if as_is or isinstance(exc, ServiceError):
        return str(exc), ""
    return "Something went wrong", f"{exc.__class__.__name__}: {exc}"


def show_error(
    parent: QWidget | None,
    exc: BaseException,
    *,
    title: str = "OmniDesk",
    application_modal: bool = False,
    as_is: bool = False,
) -> QMessageBox:
    """A modal box that does not block the caller; refusals read as they were written."""
    text, informative = error_text(exc, as_is=as_is)
    box = QMessageBox(parent)
    box.setWindowTitle(title)
    if application_modal:
        box.setWindowModality(Qt.WindowModality.ApplicationModal)  # before open(): changing it later hides the box
    box.setText(text)
    if informative:
        box.setIcon(QMessageBox.Icon.Critical)
        box.setInformativeText(informative)
        box.setDetailedText("".join(traceback.format_exception(exc)))
    else:
        box.setIcon(QMessageBox.Icon.Warning)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setObjectName("errorBox")
    box.open()
    tracker().error_shown.emit(text if not informative else f"{text}\n{informative}")
    return box


def confirm(
    parent: QWidget | None,
    text: str,
    on_yes: Callable[[], None],
    *,
    yes_label: str = "OK",
    informative: str = "",
    destructive: bool = False,
) -> QMessageBox:
    """Ask before doing something; `on_yes` runs only when the user agrees. Does not block."""
    box = QMessageBox(parent)
    box.setWindowTitle("OmniDesk")
    box.setIcon(QMessageBox.Icon.Warning if destructive else QMessageBox.Icon.Question)
    box.setText(text)
    if informative:
        box.setInformativeText(informative)
    yes = box.addButton(yes_label, QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel if destructive else yes)
    box.setObjectName("confirmBox")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def answered() -> None:
        if box.clickedButton() is yes:
            on_yes()

    box.finished.connect(answered)
    box.open()
    return box

"""The enrolment wizard reads its fields on the GUI thread and hands the worker plain values.

The step is held back (the thread pool's start is intercepted), the page changes or disappears on the
GUI thread, then the step runs on a real worker thread: it must use what was on the page when Next or
Finish was pressed, and never reach for a widget (which, read from a worker, is a race with the GUI
thread and, once deleted, a crash)."""

from __future__ import annotations

import threading

import pytest
import shiboken6
from PySide6.QtWidgets import QApplication, QWidget, QWizard

from omnidesk.auth import totp
from omnidesk.auth.session import Enrolment
from omnidesk.ui import inspection, ops
from omnidesk.ui.auth.enrolment import EnrolmentWizard


class FakeWho:
    """Stands in for a StaffLogin: records what each step was handed and on which thread."""

    username = "fiona"

    def __init__(self):
        self.calls: list[tuple[str, tuple, str]] = []
        self.secret = totp.new_secret()

    def _record(self, name, *args):
        assert not any(isinstance(a, QWidget) for a in args), f"{name} was handed a widget: {args!r}"
        self.calls.append((name, args, threading.current_thread().name))

    def confirm_password(self, password):
        self._record("confirm_password", password)

    def begin_enrolment(self):
        self._record("begin_enrolment")
        return Enrolment(self.secret, totp.provisioning_uri(self.secret, self.username),
                         tuple(totp.new_backup_codes()))

    def confirm_enrolment(self, enrolment, code):
        self._record("confirm_enrolment", enrolment, code)
        return "a session"


@pytest.fixture
def held(monkeypatch, qtbot):
    """Tasks given to the thread pool, kept until the test runs them on a worker thread of its own."""
    tasks: list = []
    monkeypatch.setattr(ops.tracker().pool, "start", tasks.append)
    yield tasks
    for task in tasks:  # anything left: run it so the operation count returns to zero
        run_on_worker(task)
    assert inspection.settle(10)


def run_on_worker(task) -> None:
    worker = threading.Thread(target=task.run, name="step-worker")
    worker.start()
    worker.join(20)


def wizard_for(qtbot, who) -> EnrolmentWizard:
    wizard = EnrolmentWizard(who)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitExposed(wizard)
    return wizard


def test_the_password_step_uses_the_password_typed_when_next_was_pressed(qtbot, held):
    who = FakeWho()
    wizard = wizard_for(qtbot, who)
    wizard.password_page.password.setText("Typed-Before-Next-1")
    wizard.next()
    assert len(held) == 1 and who.calls == [], "nothing runs on the GUI thread"
    wizard.password_page.password.setText("Typed-Afterwards-2")  # the person keeps typing meanwhile
    run_on_worker(held.pop())
    assert [(name, args) for name, args, _ in who.calls] == [("confirm_password", ("Typed-Before-Next-1",)),
                                                            ("begin_enrolment", ())]
    assert {thread for _, _, thread in who.calls} == {"step-worker"}
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.qr_page, timeout=5000)
    assert wizard.enrolment.secret == who.secret


def test_the_code_step_runs_with_its_values_even_when_the_wizard_is_gone(qtbot, held):
    who = FakeWho()
    wizard = wizard_for(qtbot, who)
    wizard.password_page.password.setText("Typed-Before-Next-1")
    wizard.next()
    run_on_worker(held.pop())
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.qr_page, timeout=5000)
    wizard.next()
    wizard.codes_page.saved.setChecked(True)
    wizard.next()
    enrolment = wizard.enrolment
    wizard.confirm_page.code.setText("123456")
    wizard.button(QWizard.WizardButton.FinishButton).click()
    assert len(held) == 1

    # The wizard and its pages are deleted before the step gets to run.
    wizard.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(wizard), timeout=5000)
    run_on_worker(held.pop())
    assert who.calls[-1][:2] == ("confirm_enrolment", (enrolment, "123456")), \
        "the step had everything it needed before it started"
    assert inspection.settle(10)
    assert QApplication.instance() is not None

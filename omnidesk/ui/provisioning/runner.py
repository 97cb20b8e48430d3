"""The desktop's provisioning runner and how a screen follows a job it runs (no widgets here).

One `DesktopRunner` (a child process, see omnidesk/provisioning/desktop_runner.py) per signed-in
database, started the first time this desktop orders, retries or deprovisions something. Screens
follow their jobs with a `JobWatcher` (NOTIFY): whichever runner takes the job, this desktop's or
a server's `omnidesk worker`, its tasks reach the screen as they happen.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

from omnidesk.provisioning import service as prov
from omnidesk.provisioning.desktop_runner import DesktopRunner, RunnerSettings
from omnidesk.ui import ops

_runners: "weakref.WeakKeyDictionary[object, DesktopRunner]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def desktop_runner(db, actor, playbooks_dir=None) -> DesktopRunner:
    """This desktop's runner (made, not started, at the first call; reads the shared settings, so
    call it on a worker thread)."""
    with _lock:
        runner = _runners.get(db)
    if runner is None:
        jobs = int(prov.get_settings(db)["provisioning.desktop_jobs"])
        made = DesktopRunner(db, actor.username, settings=RunnerSettings(concurrency=jobs), playbooks_dir=playbooks_dir)
        with _lock:
            runner = _runners.setdefault(db, made)
    return runner


def stop_desktop_runner(db, *, end_session: bool) -> bool:
    """At sign-out or exit: the runner finishes its running jobs and (with `end_session`) ends the
    staff session after them. True when it took over ending the session."""
    with _lock:
        runner = _runners.pop(db, None) if db is not None else None
    return runner.stop(end_session=end_session) if runner is not None else False


def resume_queued_jobs(widget, db, actor) -> None:
    """At sign-in: start the runner if jobs this user ordered are still queued (the last session
    ended before they ran, and no server's worker took them)."""
    def check() -> bool:
        waiting = bool(prov.list_jobs(db, actor, status="queued", initiated_by=actor.username, limit=1))
        if waiting:
            desktop_runner(db, actor).ensure_running()
        return waiting

    ops.query(widget, check, None, lambda _exc: None)


def queue_and_run(db, actor, order: Callable[[], object]) -> object:
    """On a worker thread: `order()` queues a job (retry, deprovision…); then this desktop's runner is started."""
    job = order()
    desktop_runner(db, actor).ensure_running()
    return job


class JobFollower:
    """Follows one job for a widget: `on_event(EventView)` per task and `on_job(JobView)` per change,
    on the GUI thread and only while the widget exists; `on_failed(exception)` if it cannot start."""

    def __init__(self, widget, db, actor, on_event: Callable, on_job: Callable, on_failed: Callable,
                 playbooks_dir=None):
        self.widget, self.db, self.actor, self.playbooks_dir = widget, db, actor, playbooks_dir
        self.on_event, self.on_job, self.on_failed = on_event, on_job, on_failed
        self.watcher: prov.JobWatcher | None = None

    def _deliver(self, fn, value) -> None:
        widget = self.widget
        ops.tracker().post(lambda: fn(value) if ops.alive(widget) else None)

    def follow(self, job_id: int) -> None:
        """Listen first, then make sure a runner is there, then read what happened meanwhile: no task is missed."""
        self.stop()
        hooks = prov.Hooks(on_event=[lambda e: self._deliver(self.on_event, e)],
                           on_job=[lambda j: self._deliver(self.on_job, j)])
        watcher = self.watcher = prov.JobWatcher(self.db, hooks, job_ids={job_id})

        def start():
            watcher.start()
            desktop_runner(self.db, self.actor, self.playbooks_dir).ensure_running()
            return prov.get_job(self.db, self.actor, job_id)

        ops.query(self.widget, start, self.on_job, self.on_failed)

    def stop(self) -> None:
        watcher, self.watcher = self.watcher, None
        if watcher is not None:  # its thread notices within half a second; nobody waits for it
            threading.Thread(target=watcher.stop, name="omnidesk-unfollow", daemon=True).start()

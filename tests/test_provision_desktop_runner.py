"""A desktop's own runner: a child process with the signed-in person's session, claiming only
their jobs, finishing what it started when the desktop signs out or closes, then ending the session."""

from __future__ import annotations

import threading

import psutil

from omnidesk.provisioning import service as prov
from omnidesk.provisioning.desktop_runner import DesktopRunner, RunnerSettings
from security_helpers import signed_in
from tests.provision_helpers import (  # noqa: F401 — fixtures: every process ended, a loopback OCS/HSS
    customer, item_state, mobile_product, no_process_left_behind, ocs, sim,
)


def _follow(db, job_id):
    """A JobWatcher on one job: (events seen, set when the job has finished)."""
    seen, done = [], threading.Event()
    hooks = prov.Hooks(on_event=[seen.append], on_job=[lambda j: j.finished and done.set()])
    return prov.JobWatcher(db, hooks, job_ids={job_id}).start(), seen, done


def test_the_desktop_runner_runs_its_users_job_in_a_lower_priority_process(db, admin, ocs):
    product = mobile_product(db, admin)
    c = customer(db, admin)
    card, other_card = sim(db, admin), sim(db, admin)
    session, _ = signed_in(db, admin, "pia", ["Provisioning Specialist"])
    runner = DesktopRunner(session.db, session.actor.username, settings=RunnerSettings(concurrency=2, niceness=7))
    try:
        someone_elses = prov.request_provision(db, admin, c.id, product.id, inventory_items={"SIM Card": other_card.id})
        job = prov.request_provision(session.db, session.actor, c.id, product.id, inventory_items={"SIM Card": card.id})
        watcher, seen, done = _follow(session.db, job.id)
        runner.ensure_running()
        assert done.wait(120), "the job did not finish"
        assert psutil.Process(runner.process.pid).nice() == 7
        watcher.stop()
        finished = prov.get_job(session.db, session.actor, job.id)
        assert finished.status == "success", finished.error
        assert finished.claimed_by.startswith(f"{runner.runner_name}/")
        assert item_state(db, card.id) == ("assigned", c.id, finished.service_id)
        # The desktop saw each task live, through NOTIFY, as the child recorded it.
        assert {e.name for e in seen} >= {e.name for e in finished.events if e.phase == "run"}
        # It works with pia's rights, so it leaves admin's job to admin's desktop or a server.
        assert prov.get_job(db, admin, someone_elses.id).status == "queued"
    finally:
        took_over = runner.stop(end_session=True)
        assert runner.wait(30) == 0
    assert took_over and not session.still_open(), "the runner ended the session once it had finished"
    session.db.dispose()


def test_signing_out_mid_run_lets_the_job_finish_before_the_session_ends(db, admin, ocs):
    product = mobile_product(db, admin)
    c = customer(db, admin)
    card = sim(db, admin)
    session, _ = signed_in(db, admin, "pia", ["Provisioning Specialist"])
    runner = DesktopRunner(session.db, session.actor.username, settings=RunnerSettings(concurrency=1))
    job = prov.request_provision(session.db, session.actor, c.id, product.id, inventory_items={"SIM Card": card.id})
    started = threading.Event()
    watcher = prov.JobWatcher(session.db, prov.Hooks(on_event=[lambda e: started.set()]), job_ids={job.id}).start()
    runner.ensure_running()
    assert started.wait(60), "the job never started"
    watcher.stop()
    assert runner.stop(end_session=True)  # the desktop is signing out: the runner ends the session
    assert runner.wait(120) == 0
    finished = prov.get_job(db, admin, job.id)
    assert finished.status == "success", finished.error
    assert item_state(db, card.id) == ("assigned", c.id, finished.service_id)
    assert not session.still_open()
    session.db.dispose()


def test_a_desktop_that_dies_leaves_its_runner_to_finish_and_exit(db, admin, ocs):
    """End of input without the end-session line: what the child sees when the desktop is killed."""
    product = mobile_product(db, admin)
    c = customer(db, admin)
    session, _ = signed_in(db, admin, "pia", ["Provisioning Specialist"])
    runner = DesktopRunner(session.db, session.actor.username)
    try:
        runner.ensure_running()
        runner.process.stdin.close()
        assert runner.process.wait(60) == 0
        # Nothing new is claimed once the desktop is gone.
        job = prov.request_provision(session.db, session.actor, c.id, product.id,
                                     inventory_items={"SIM Card": sim(db, admin).id})
        assert prov.get_job(db, admin, job.id).status == "queued"
        assert session.still_open(), "a session is ended only when the desktop asks"
    finally:
        runner.stop()
        session.sign_out()


def test_an_idle_runner_wakes_for_a_new_job_without_polling(db, admin, ocs):
    import time

    product = mobile_product(db, admin)
    c = customer(db, admin)
    worker = prov.Worker(db, concurrency=1, name="waking", idle_wait=600, wake_on_notify=True).start()
    try:
        time.sleep(1.0)  # it has looked once, found nothing, and sleeps for ten minutes unless woken
        job = prov.request_provision(db, admin, c.id, product.id, inventory_items={"SIM Card": sim(db, admin).id})
        deadline = time.monotonic() + 20
        while prov.get_job(db, admin, job.id).status == "queued" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert prov.get_job(db, admin, job.id).claimed_by == "waking/1", "the NOTIFY of the new job woke the runner"
    finally:
        worker.stop()
    assert prov.get_job(db, admin, job.id).status == "success"

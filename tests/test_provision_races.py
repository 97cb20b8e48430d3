"""Provisioning failures told honestly and finishes that cannot race, with the real ansible-runner,
the real PostgreSQL and a loopback CGRateS/HSS:

- the database going away mid-run stops the run (no process left), rolls it back and fails the job
  saying so once the database is back;
- a rollback or cleanup that failed says which task, and keeps the held SIM out of stock with a note;
- the stale-job sweep and a live runner's finish never overwrite each other nor release twice;
- two deprovision requests for one service queue one job.
"""

from __future__ import annotations

import threading
import time

import psutil
import psycopg
import pytest
from sqlalchemy import text

from omnidesk.errors import ServiceError
from omnidesk.inventory import service as inv
from omnidesk.provisioning import service as prov
from tests.provision_helpers import (  # noqa: F401 — fixtures: every process ended, a loopback OCS/HSS
    customer, item_state, mobile_product, no_process_left_behind, ocs, refuse_voice_balance, sim,
    table_counts,
)
from tests.test_provision import SLOW_PLAY, _gone, _run_until_sleeping

# The slow play with a deprovision (rollback) that fails when the OCS refuses to remove the account.
FRAGILE_PLAY = SLOW_PLAY.rsplit("ignore_errors: true", 1)[0] + (
    "register: removed\n          failed_when: removed.json.error is not none\n")


@pytest.fixture
def plays(tmp_path):
    folder = tmp_path / "plays"
    folder.mkdir()
    (folder / "play_slow.yaml").write_text(SLOW_PLAY)
    (folder / "play_fragile.yaml").write_text(FRAGILE_PLAY)
    return folder


def _outbox(db) -> list[dict]:
    with db.engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT variables FROM email_outbox ORDER BY id"))]


def _releases(db, admin, item_id: int) -> int:
    return sum(1 for h in inv.item_history(db, admin, item_id) if h.from_state == "assigned" and h.to_state == "new")


def _wait(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


# --- 1. the database goes away mid-run ---


def test_the_database_going_away_mid_run_stops_the_run_rolls_back_and_fails_the_job_once_it_is_back(
        db, admin, ocs, plays, pg_root):
    product = mobile_product(db, admin, plays=plays, name="Slow plan", provisioning_play="play_slow")
    c = customer(db, admin)
    card = sim(db, admin)
    job = prov.request_provision(db, admin, c.id, product.id, inventory_items={"SIM Card": card.id}, playbooks_dir=plays)
    t, result, pids = _run_until_sleeping(db, admin, job.id, plays)
    assert job.service_uuid in ocs.accounts
    name = db.engine.url.database
    with psycopg.connect(pg_root[0], autocommit=True) as owner:
        owner.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            owner.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            # The runner finds out at its next cancel check, kills the run and rolls back the OCS account
            # while the database is still away.
            assert _wait(lambda: not _gone(pids)), f"processes of the run were left running: {_gone(pids)}"
            assert _wait(lambda: ocs.accounts == {}, 90), "the rollback did not remove the OCS account"
            assert t.is_alive(), "the job was finished while its database was away"
        finally:
            owner.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    t.join(60)
    assert not t.is_alive()
    done = result["job"]
    assert done.status == "failed"
    assert done.error.startswith("The database went away mid-run (") and done.error.endswith("and rolled back."), done.error
    assert item_state(db, card.id) == ("new", None, None)
    assert table_counts(db)["service"] == 0
    # The rollback's events, kept while the database was away, were written when it came back.
    assert [e.phase for e in done.events if e.name == "Remove the OCS account (ApierV1.RemoveAccount)"
            and not e.output.get("skipped")] == ["rollback"]
    assert not [e for e in done.events if e.status == 1]


def test_a_database_that_refuses_an_event_stops_the_run_and_says_so(db, admin, ocs, plays):
    product = mobile_product(db, admin, plays=plays, name="Slow plan", provisioning_play="play_slow")
    c = customer(db, admin)
    card = sim(db, admin)
    job = prov.request_provision(db, admin, c.id, product.id, inventory_items={"SIM Card": card.id}, playbooks_dir=plays)
    with db.transaction() as s:  # the sleep task's event cannot be written
        s.execute(text("CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$BEGIN RAISE EXCEPTION 'provisioning_event is read-only today'; END$$"))
        s.execute(text("CREATE TRIGGER refuse_event BEFORE INSERT ON provisioning_event FOR EACH ROW "
                       "WHEN (NEW.name = 'Wait for the network') EXECUTE FUNCTION refuse_event()"))
    started = time.monotonic()
    done = prov.run_job_now(db, admin, job.id, playbooks_dir=plays)
    assert time.monotonic() - started < 45, "the 60 s sleep was not cut short"
    assert done.status == "failed"
    assert done.error.startswith("The database refused to record the run (") and done.error.endswith(
        "so it was stopped and rolled back."), done.error
    assert "provisioning_event is read-only today" in done.error
    assert ocs.accounts == {} and item_state(db, card.id) == ("new", None, None)
    assert [e.phase for e in done.events if e.name == "Remove the OCS account (ApierV1.RemoveAccount)"
            and not e.output.get("skipped")] == ["rollback"]


def test_a_callback_that_raises_never_leaves_the_playbook_running(ocs, plays):
    """ansible-runner lets a callback's exception escape with ansible-playbook still running; the runner
    keeps the error, kills the whole run and says so."""
    from omnidesk.provisioning.runner import run_playbook

    tree = []
    # Only this run's processes: in a full run this process already has others (a map's web engine).
    before = {p.pid for p in psutil.Process().children(recursive=True)}

    def broken_recorder(event):
        if event.name == "Wait for the network" and event.status == 1:
            time.sleep(0.5)  # the task's sleep has started
            tree.extend(p.pid for p in psutil.Process().children(recursive=True) if p.pid not in before)
            raise RuntimeError("the event could not be written")

    result = run_playbook(plays / "play_slow.yaml", {"omnidesk": {"ocs_url": f"{ocs.url}/jsonrpc"}, "service_uuid": "S1"},
                          on_task=broken_recorder, timeout=60)
    assert result.status == "error" and isinstance(result.callback_error, RuntimeError)
    assert result.error == "The run was stopped: RuntimeError: the event could not be written"
    assert result.seconds < 30
    assert tree and _gone(tree) == []


# --- 2. a failed rollback is not "rolled back" ---


def test_a_rollback_that_fails_says_which_task_and_keeps_the_sim_out_of_stock(db, admin, ocs, plays):
    prov.set_setting(db, admin, "provisioning.failure_list", "noc@example.com")
    product = mobile_product(db, admin, plays=plays, name="Fragile plan", provisioning_play="play_fragile")
    c = customer(db, admin)
    card = sim(db, admin)
    job = prov.request_provision(db, admin, c.id, product.id, inventory_items={"SIM Card": card.id}, playbooks_dir=plays)
    t, result, pids = _run_until_sleeping(db, admin, job.id, plays)
    ocs.fail["ApierV1.RemoveAccount"] = "SERVER_ERROR"
    prov.cancel_job(db, admin, job.id)
    t.join(60)
    assert not t.is_alive() and _gone(pids) == []
    done = result["job"]
    assert done.status == "cancelled"
    assert "rolled back" not in done.error
    assert done.error.startswith("Cancelled; the run was stopped, but the rollback failed at task "
                                 "'Remove the OCS account (ApierV1.RemoveAccount)'"), done.error
    assert f"Item {card.id} is kept out of stock (Out Of Service) until the outside systems are checked for " \
           f"{job.service_uuid}." in done.error
    assert job.service_uuid in ocs.accounts, "the OCS really still has the account"
    # The SIM is neither back in stock nor given to a service: Out Of Service, still the customer's, with a note.
    assert item_state(db, card.id) == ("out_of_service", c.id, None)
    item = inv.get_item(db, admin, card.id)
    assert f"provisioning job {job.id} cancelled and the rollback failed at task" in item.notes
    assert "check them, then set the item to Used" in item.notes
    with pytest.raises(ServiceError, match="not in stock"):
        prov.request_provision(db, admin, c.id, product.id, inventory_items={"SIM Card": card.id}, playbooks_dir=plays)
    # The failure list is told, even though the job was a cancel.
    [mail] = _outbox(db)
    assert mail["job_id"] == job.id and mail["rollback_failed"] is True
    assert mail["rollback_failed_task"] == "Remove the OCS account (ApierV1.RemoveAccount)"
    assert "the rollback failed" in mail["error"]
    # Staff check the OCS, then return the SIM to stock.
    assert inv.change_state(db, admin, card.id, "used", reason="OCS checked").item_state == "used"


def test_a_rescue_whose_cleanup_fails_is_not_reported_as_rolled_back(db, admin, ocs):
    prov.set_setting(db, admin, "provisioning.failure_list", "noc@example.com")
    product = mobile_product(db, admin)
    c = customer(db, admin)
    card = sim(db, admin)
    refuse_voice_balance(ocs)  # task 4 fails, and so does the cleanup's account removal
    ocs.fail["ApierV1.RemoveAccount"] = "SERVER_ERROR"
    job = prov.request_provision(db, admin, c.id, product.id, inventory_items={"SIM Card": card.id})
    done = prov.run_job_now(db, admin, job.id)
    assert done.status == "failed"
    assert "cleanup ran" not in done.error
    assert ("But the cleanup failed at task 'Remove the OCS account (ApierV1.RemoveAccount)': the service answered "
            "HTTP 200 with error 'SERVER_ERROR'.") in done.error, done.error
    assert item_state(db, card.id) == ("out_of_service", c.id, None)
    assert table_counts(db)["service"] == 0
    [mail] = _outbox(db)
    assert mail["rollback_failed"] is True and "cleanup failed" in mail["error"]


# --- 3. the stale sweep against a live runner's finish ---


@pytest.mark.parametrize("cleanup", ["works", "fails"])
def test_a_runner_finishing_after_the_sweep_failed_its_job_rolls_back_instead_of_making_a_service(
        db, admin, ocs, cleanup):
    prov.set_setting(db, admin, "provisioning.failure_list", "noc@example.com")
    product = mobile_product(db, admin)
    c = customer(db, admin)
    card = sim(db, admin)
    job = prov.request_provision(db, admin, c.id, product.id, inventory_items={"SIM Card": card.id})
    swept = []

    def sweep_at_the_last_task(event):
        # While the playbook reports its service, a sweep elsewhere decides the job's runner is gone.
        if event.name == "Report the service and its charges to OmniDesk" and event.status == 0 and not swept:
            with db.transaction() as s:
                s.execute(text("UPDATE provisioning_job SET started_at = started_at - interval '1 hour' "
                               "WHERE id = :i"), {"i": job.id})
            swept.append(prov.fail_stale_jobs(db, admin))
            if cleanup == "fails":
                ocs.fail["ApierV1.RemoveAccount"] = "SERVER_ERROR"

    done = prov.run_job_now(db, admin, job.id, hooks=prov.Hooks(on_event=[sweep_at_the_last_task]))
    assert swept == [[job.id]]
    assert done.status == "failed"
    assert done.error.startswith("Its runner stopped before the job finished (timed out).")
    assert table_counts(db)["service"] == 0 and table_counts(db)["billing_transaction"] == 0
    assert _releases(db, admin, card.id) == 1, "the sweep released the SIM, and nobody again"
    mails = _outbox(db)
    assert mails[0]["job_id"] == job.id and mails[0]["rollback_failed"] is False
    if cleanup == "works":
        assert "finished later; what it had made outside was rolled back." in done.error
        assert ocs.accounts == {} and ocs.subscribers == {}, "the late runner's cleanup removed what it made"
        assert item_state(db, card.id) == ("new", None, None)
        assert len(mails) == 1, "one failure, one e-mail"
    else:
        assert ("finished later; the rollback failed at task 'Remove the OCS account (ApierV1.RemoveAccount)': the "
                "service answered HTTP 200 with error 'SERVER_ERROR'. Item") in done.error, done.error
        assert job.service_uuid in ocs.accounts
        # Back in stock by the sweep, out of it again now that the OCS is known not to be clean.
        assert item_state(db, card.id) == ("out_of_service", None, None)
        assert [m["rollback_failed"] for m in mails] == [False, True]


def _claimed_and_stale(db, admin, runner: str):
    """A queued SIM order claimed by `runner` an hour ago: (job, customer, SIM)."""
    product = mobile_product(db, admin)
    c = customer(db, admin)
    card = sim(db, admin)
    job = prov.request_provision(db, admin, c.id, product.id, inventory_items={"SIM Card": card.id})
    assert prov.claim_next(db, runner) == job.id
    with db.transaction() as s:
        s.execute(text("UPDATE provisioning_job SET started_at = now() - interval '1 hour' WHERE id = :i"), {"i": job.id})
    return job, c, card


def _waiting_on_a_lock(db) -> int:
    # A new transaction each time: pg_stat_activity is a snapshot held for the rest of a transaction.
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND wait_event_type = 'Lock'")).scalar_one()


def _sweep_while_another_transaction_changes_the_job(db, admin, job_id: int, change: str) -> list[int]:
    """The sweep picks the job as stale and waits on its row, which another transaction holds,
    changes with `change` and commits; returns what the sweep failed."""
    swept = {}
    with db.engine.connect() as other:
        other.execute(text("SELECT id FROM provisioning_job WHERE id = :i FOR UPDATE"), {"i": job_id})
        sweeper = threading.Thread(target=lambda: swept.setdefault("ids", prov.fail_stale_jobs(db, admin)))
        sweeper.start()
        assert _wait(lambda: _waiting_on_a_lock(db) == 1, 10), "the sweep did not wait on the job's row"
        other.execute(text(f"UPDATE provisioning_job SET {change} WHERE id = :i"), {"i": job_id})
        other.commit()
    sweeper.join(30)
    return swept["ids"]


def test_a_sweep_that_waited_on_the_row_does_not_overwrite_a_success(db, admin, ocs):
    """The runner's finish holds the row and commits success while the sweep waits on it; the
    sweep then finds the job ended and leaves it (and its SIM) alone."""
    job, c, card = _claimed_and_stale(db, admin, "host:1/1")
    assert _sweep_while_another_transaction_changes_the_job(db, admin, job.id,
                                                            "status = 'success', finished_at = now()") == []
    view = prov.get_job(db, admin, job.id)
    assert view.status == "success" and view.error == ""
    assert item_state(db, card.id) == ("assigned", c.id, None)
    assert _releases(db, admin, card.id) == 0


def test_the_sweep_leaves_a_job_a_new_runner_claimed_since(db, admin, ocs):
    job, c, card = _claimed_and_stale(db, admin, "old-host:1/1")
    assert _sweep_while_another_transaction_changes_the_job(
        db, admin, job.id, "claimed_by = 'new-host:2/1', started_at = now()") == []
    assert prov.get_job(db, admin, job.id).status == "running"
    assert item_state(db, card.id) == ("assigned", c.id, None)


# --- 4. one deprovision per service ---


def test_two_deprovision_requests_at_once_queue_one_job(db, admin, ocs, monkeypatch):
    product = mobile_product(db, admin)
    c = customer(db, admin)
    done = prov.run_job_now(db, admin, prov.request_provision(db, admin, c.id, product.id,
                                                              inventory_items={"SIM Card": sim(db, admin).id}).id)
    assert done.status == "success", done.error
    # Both requests are held just after their check for an open job, so without a lock both would pass it.
    both_checked = threading.Barrier(2)
    describe = prov.describe_playbook

    def slow_describe(path):
        try:
            both_checked.wait(3)
        except threading.BrokenBarrierError:
            pass
        return describe(path)

    monkeypatch.setattr(prov, "describe_playbook", slow_describe)
    outcomes: list = []

    def request():
        try:
            outcomes.append(prov.request_deprovision(db, admin, done.service_id))
        except ServiceError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=request) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    jobs = [o for o in outcomes if isinstance(o, prov.JobView)]
    refusals = [str(o) for o in outcomes if isinstance(o, ServiceError)]
    assert len(jobs) == 1 and len(refusals) == 1, outcomes
    assert refusals[0] == (f"Service {done.service_id} ({svc_name(db, done.service_id)}) already has deprovisioning "
                           f"job {jobs[0].id} queued; nothing was queued. Wait for it to finish (or cancel it) first.")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM provisioning_job WHERE action = 'deprovision'")).scalar_one() == 1


def svc_name(db, service_id: int) -> str:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT name FROM service WHERE id = :i"), {"i": service_id}).scalar_one()

"""Provisioning with the real ansible-runner, the real playbooks/ and a loopback CGRateS/HSS:
success applies exactly what the playbook reported, failure and cancel and timeout leave nothing
half-made, and bad orders are refused with a clear message."""

from __future__ import annotations

import os
import threading
import time
from decimal import Decimal
from pathlib import Path

import psutil

import pytest
from sqlalchemy import text

from omnidesk.catalog import services as svc
from omnidesk.errors import NotFound, ServiceError, ValidationError
from omnidesk.provisioning import service as prov
from tests.provision_helpers import (  # noqa: F401 — fixtures: every process ended, a loopback OCS/HSS
    customer, item_state, mobile_product, no_process_left_behind, number, ocs, point_at, refuse_voice_balance, sim,
    table_counts,
)


@pytest.fixture
def mobile(db, admin, ocs):
    point_at(db, admin, ocs)
    return mobile_product(db, admin)


def test_a_successful_run_creates_exactly_the_reported_service_assignment_and_charges(db, admin, ocs, mobile):
    c = customer(db, admin)
    card = sim(db, admin)
    before = table_counts(db)
    job = prov.request_provision(db, admin, c.id, mobile.id, inventory_items={"SIM Card": card.id})
    assert job.status == "queued" and item_state(db, card.id) == ("assigned", c.id, None)
    seen = []
    done = prov.run_job_now(db, admin, job.id, hooks=prov.Hooks(on_event=[seen.append]))
    assert done.status == "success", done.error
    after = table_counts(db)
    assert after["service"] == before["service"] + 1
    assert after["billing_transaction"] == before["billing_transaction"] + 2
    service = svc.get_service(db, admin, done.service_id)
    assert service.status == "active" and service.service_uuid == job.service_uuid
    assert item_state(db, card.id) == ("assigned", c.id, service.id)
    with db.engine.connect() as conn:
        charges = conn.execute(text("SELECT title, retail_cost, tax_amount, service_id FROM billing_transaction "
                                    "WHERE customer_id = :c ORDER BY id"), {"c": c.id}).all()
    assert [(t, a, tax, sid) for t, a, tax, sid in charges] == [
        ("Mobile 20GB - Setup", Decimal("10.00"), Decimal("1.00"), service.id),
        ("Mobile 20GB - first month", Decimal("15.00"), Decimal("1.50"), service.id),
    ]
    data_id, voice_id = f"Mobile_Data__{20 * 1073741824}", f"Mobile_Voice__{100 * 60 * 10**9}"
    assert ocs.accounts[job.service_uuid]["balances"].keys() == {data_id, voice_id}
    assert ocs.accounts[job.service_uuid]["balances"][data_id]["Value"] == 20 * 1073741824
    assert card.itemtexts[1] in ocs.subscribers
    # Each task reached the hooks as it ran (running, then its outcome), and the database has one row per task.
    assert [e.status for e in seen if e.name == "Create the OCS account (ApierV2.SetAccount)"] == [1, 0]
    events = prov.get_job(db, admin, job.id).events
    assert [e.name for e in events if not e.output.get("skipped")][:3] == [
        "Check the variables OmniDesk passes", "Create the OCS account (ApierV2.SetAccount)",
        "Add the data balance (ApierV1.AddBalance)"]
    assert all(e.status == 0 for e in events)


def test_a_run_failing_at_its_fourth_task_rolls_back_and_keeps_only_the_failed_job(db, admin, ocs, mobile):
    c = customer(db, admin)
    card = sim(db, admin)
    before = table_counts(db)
    refuse_voice_balance(ocs)  # task 4
    job = prov.request_provision(db, admin, c.id, mobile.id, inventory_items={"SIM Card": card.id})
    done = prov.run_job_now(db, admin, job.id)
    assert done.status == "failed"
    assert "Add the voice balance" in done.error
    after = table_counts(db)
    assert (after["service"], after["billing_transaction"]) == (before["service"], before["billing_transaction"])
    assert item_state(db, card.id) == ("new", None, None)
    assert ocs.accounts == {}, "the rescue removed the OCS account"
    ran = [e for e in done.events if not e.output.get("skipped")]
    assert [(e.name, e.status) for e in ran[:4]] == [
        ("Check the variables OmniDesk passes", 0), ("Create the OCS account (ApierV2.SetAccount)", 0),
        ("Add the data balance (ApierV1.AddBalance)", 0), ("Add the voice balance (ApierV1.AddBalance)", 2)]
    rollback = [e.name for e in ran[4:]]
    assert "Remove the OCS account (ApierV1.RemoveAccount)" in rollback
    assert rollback[-1] == "End the run as failed"
    assert "ApierV1.RemoveAccount" in ocs.methods()


def test_a_playbook_that_cannot_reach_the_ocs_fails_with_the_reason_and_makes_nothing(db, admin, ocs, mobile):
    prov.set_setting(db, admin, "ocs.cgrates", "http://127.0.0.1:9/jsonrpc")  # nothing listens on port 9
    c = customer(db, admin)
    card = sim(db, admin)
    before = table_counts(db)
    done = prov.run_job_now(db, admin, prov.request_provision(db, admin, c.id, mobile.id,
                                                              inventory_items={"SIM Card": card.id}).id)
    assert done.status == "failed"
    assert "Create the OCS account" in done.error and "refused" in done.error.lower()
    assert table_counts(db)["service"] == before["service"]
    # The rescue could not reach the OCS either, so nobody knows it is clean: the SIM is kept aside.
    assert "But the cleanup failed at task 'Remove the OCS account (ApierV1.RemoveAccount)'" in done.error, done.error
    assert f"Item {card.id} is kept out of stock (Out Of Service)" in done.error
    assert item_state(db, card.id) == ("out_of_service", c.id, None)


def test_failure_mail_goes_to_the_failure_list_through_the_outbox(db, admin, ocs, mobile):
    prov.set_setting(db, admin, "provisioning.failure_list", "noc@example.com, ops@example.com")
    ocs.fail["ApierV2.SetAccount"] = "SERVER_ERROR"
    c = customer(db, admin)
    done = prov.run_job_now(db, admin, prov.request_provision(db, admin, c.id, mobile.id,
                                                              inventory_items={"SIM Card": sim(db, admin).id}).id)
    assert done.status == "failed"
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT template, recipients, variables FROM email_outbox")).all()
    assert len(rows) == 1
    template, recipients, variables = rows[0]
    assert template == "provisioning_failure"
    assert [r["Email"] for r in recipients] == ["noc@example.com", "ops@example.com"]
    assert variables["job_id"] == done.id and "SERVER_ERROR" in variables["error"]


SLOW_PLAY = """
- name: Slow provisioning (test)
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Provision
      when: action | default('provision') != 'deprovision'
      block:
        - name: Create the OCS account (ApierV2.SetAccount)
          ansible.builtin.uri:
            url: "{{ omnidesk.ocs_url }}"
            method: POST
            body_format: json
            body: {method: ApierV2.SetAccount, id: 1, params: [{Tenant: t, Account: "{{ service_uuid }}"}]}
        - name: Wait for the network
          ansible.builtin.command: sleep 60
        - name: Report
          ansible.builtin.set_stats:
            data: {omnidesk_services: [{name: slow}]}
      rescue:
        - name: Remove the OCS account (ApierV1.RemoveAccount)
          ansible.builtin.uri:
            url: "{{ omnidesk.ocs_url }}"
            method: POST
            body_format: json
            body: {method: ApierV1.RemoveAccount, id: 2, params: [{Tenant: t, Account: "{{ service_uuid }}"}]}
          ignore_errors: true
        - ansible.builtin.fail: {msg: rolled back}
    - name: Deprovision
      when: action | default('provision') == 'deprovision'
      block:
        - name: Remove the OCS account (ApierV1.RemoveAccount)
          ansible.builtin.uri:
            url: "{{ omnidesk.ocs_url }}"
            method: POST
            body_format: json
            body: {method: ApierV1.RemoveAccount, id: 2, params: [{Tenant: t, Account: "{{ service_uuid }}"}]}
          ignore_errors: true
"""


@pytest.fixture
def slow_plays(tmp_path):
    folder = tmp_path / "plays"
    folder.mkdir()
    (folder / "play_slow.yaml").write_text(SLOW_PLAY)
    return folder


def _run_until_sleeping(db, admin, job_id, plays):
    """Start the job on a thread; return (thread, result holder, pids of every process of the run while it sleeps)."""
    sleeping = threading.Event()
    result = {}

    def on_event(e):
        if e.name == "Wait for the network" and e.status == 1:
            sleeping.set()

    # Only this run's processes: whatever else this test process has running (children of earlier
    # tests in a full run) was there before the run started.
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    t = threading.Thread(target=lambda: result.setdefault(
        "job", prov.run_job_now(db, admin, job_id, hooks=prov.Hooks(on_event=[on_event]), playbooks_dir=plays)))
    t.start()
    assert sleeping.wait(60), "the sleep task never started"
    deadline = time.monotonic() + 10
    sleepers, tree = [], []
    while not sleepers and time.monotonic() < deadline:
        tree = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
        sleepers = [p for p in tree if p.name() == "sleep"]
        time.sleep(0.05)
    assert sleepers, "the task's sleep process was not found"
    assert any("ansible-playbook" in " ".join(p.cmdline()) for p in tree), "the run's ansible-playbook was not found"
    return t, result, [p.pid for p in tree]


def _gone(pids):
    alive = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            if p.status() != psutil.STATUS_ZOMBIE:
                alive.append((pid, p.name()))
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.parametrize("where", ["this process", "another workstation"])
def test_cancel_during_a_sleep_task_ends_every_process_and_rolls_back(db, admin, ocs, slow_plays, where):
    point_at(db, admin, ocs)
    product = mobile_product(db, admin, plays=slow_plays, name="Slow plan", provisioning_play="play_slow")
    c = customer(db, admin)
    card = sim(db, admin)
    job = prov.request_provision(db, admin, c.id, product.id, inventory_items={"SIM Card": card.id},
                                 playbooks_dir=slow_plays)
    t, result, pids = _run_until_sleeping(db, admin, job.id, slow_plays)
    assert job.service_uuid in ocs.accounts
    if where == "this process":
        prov.cancel_job(db, admin, job.id)
    else:  # only the row says so: the runner finds out from the database
        with db.transaction() as s:
            s.execute(text("UPDATE provisioning_job SET cancel_requested = true WHERE id = :i"), {"i": job.id})
    t.join(60)
    assert not t.is_alive()
    assert _gone(pids) == [], "processes of the cancelled run were left running"
    done = result["job"]
    assert done.status == "cancelled"
    assert ocs.accounts == {}, "the rollback run removed the OCS account"
    assert item_state(db, card.id) == ("new", None, None)
    assert [e.phase for e in done.events if e.name == "Remove the OCS account (ApierV1.RemoveAccount)"
            and not e.output.get("skipped")] == ["rollback"]
    assert [e.status for e in done.events if e.name == "Wait for the network" and e.phase == "run"] == [2]
    assert table_counts(db)["service"] == 0


def _autogroup_nice(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/autogroup").read_text().split("nice")[1])
    except (OSError, IndexError, ValueError):
        return None


def test_a_run_and_its_task_workers_take_the_cpu_last(db, admin, ocs, slow_plays):
    """Twenty runs on two cores must not take the desktop's CPU. Linux shares the CPU between
    sessions before nice values count, and ansible's task workers each start a session: they are
    made nicest both ways, or a run's task would weigh as much as the whole desktop."""
    point_at(db, admin, ocs)
    product = mobile_product(db, admin, plays=slow_plays, name="Slow plan", provisioning_play="play_slow")
    job = prov.request_provision(db, admin, customer(db, admin).id, product.id,
                                 inventory_items={"SIM Card": sim(db, admin).id}, playbooks_dir=slow_plays)
    t, result, pids = _run_until_sleeping(db, admin, job.id, slow_plays)
    try:
        sleeper = next(psutil.Process(p) for p in pids if psutil.Process(p).name() == "sleep")
        assert sleeper.nice() == 19
        assert os.getsid(sleeper.pid) != os.getsid(0), "ansible's worker runs the task in its own session"
        if _autogroup_nice(os.getpid()) is not None:  # the kernel groups by session
            assert _autogroup_nice(sleeper.pid) == 19
    finally:
        prov.cancel_job(db, admin, job.id)
        t.join(60)
    assert result["job"].status == "cancelled"


def test_a_job_past_its_timeout_is_failed_and_rolled_back(db, admin, ocs, slow_plays):
    point_at(db, admin, ocs)
    product = mobile_product(db, admin, plays=slow_plays, name="Slow plan", provisioning_play="play_slow",
                             provisioning_json_vars={"provisioning_timeout": 4})
    c = customer(db, admin)
    card = sim(db, admin)
    job = prov.request_provision(db, admin, c.id, product.id, inventory_items={"SIM Card": card.id},
                                 playbooks_dir=slow_plays)
    assert job.timeout_seconds == 4
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    started = time.monotonic()
    done = prov.run_job_now(db, admin, job.id, playbooks_dir=slow_plays)
    assert time.monotonic() - started < 30
    assert done.status == "failed" and "Timed out after 4 s" in done.error
    assert ocs.accounts == {}
    assert item_state(db, card.id) == ("new", None, None)
    assert table_counts(db)["service"] == 0
    assert not [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.name() == "sleep"]


def _nothing_queued(db, before):
    assert table_counts(db) == before


def test_an_unknown_product_is_refused_and_nothing_is_queued(db, admin, mobile):
    c = customer(db, admin)
    before = table_counts(db)
    with pytest.raises(NotFound, match="There is no product 999; nothing was queued"):
        prov.request_provision(db, admin, c.id, 999)
    _nothing_queued(db, before)


def test_missing_required_inventory_is_refused_naming_the_type(db, admin, mobile):
    c = customer(db, admin)
    before = table_counts(db)
    with pytest.raises(ValidationError) as exc:
        prov.request_provision(db, admin, c.id, mobile.id)
    assert exc.value.errors["inventory"] == "Choose a SIM Card for Mobile 20GB; nothing was queued."
    _nothing_queued(db, before)


def test_inventory_not_in_stock_is_refused_and_the_other_order_keeps_it(db, admin, mobile):
    first, second = customer(db, admin), customer(db, admin, name="Bo Chan")
    card = sim(db, admin)
    prov.request_provision(db, admin, first.id, mobile.id, inventory_items={"SIM Card": card.id})
    before = table_counts(db)
    with pytest.raises(ServiceError, match=r"is not in stock \(it is Assigned to customer \d+\); choose another"):
        prov.request_provision(db, admin, second.id, mobile.id, inventory_items={"SIM Card": card.id})
    _nothing_queued(db, before)
    assert item_state(db, card.id) == ("assigned", first.id, None)


def test_an_item_of_the_wrong_type_is_refused(db, admin, mobile):
    c = customer(db, admin)
    num = number(db, admin)
    before = table_counts(db)
    with pytest.raises(ValidationError) as exc:
        prov.request_provision(db, admin, c.id, mobile.id, inventory_items={"SIM Card": num.id})
    assert exc.value.errors["inventory"] == f"Item {num.id} is a Mobile Number, not a SIM Card; nothing was queued."
    _nothing_queued(db, before)
    assert item_state(db, num.id) == ("new", None, None)


def test_a_playbook_with_a_yaml_error_is_refused_with_where_the_error_is(db, admin, tmp_path):
    plays = tmp_path / "plays"
    plays.mkdir()
    (plays / "play_broken.yaml").write_text("- name: Broken\n  hosts: localhost\n  tasks:\n    - debug: {msg: [unclosed}\n")
    product = mobile_product(db, admin, plays=plays, name="Broken plan", provisioning_play="play_broken")
    c = customer(db, admin)
    card = sim(db, admin)
    before = table_counts(db)
    with pytest.raises(ServiceError, match=r"Playbook play_broken.yaml is not valid YAML at line 4, column \d+: .*nothing was queued"):
        prov.request_provision(db, admin, c.id, product.id, inventory_items={"SIM Card": card.id}, playbooks_dir=plays)
    _nothing_queued(db, before)
    assert item_state(db, card.id) == ("new", None, None)


def test_a_playbook_broken_after_queueing_fails_the_job_with_ansibles_message(db, admin, tmp_path, ocs):
    point_at(db, admin, ocs)
    plays = tmp_path / "plays"
    plays.mkdir()
    (plays / "play_later.yaml").write_text("- name: Fine\n  hosts: localhost\n  tasks: []\n")
    product = mobile_product(db, admin, plays=plays, name="Later plan", provisioning_play="play_later")
    c = customer(db, admin)
    card = sim(db, admin)
    job = prov.request_provision(db, admin, c.id, product.id, inventory_items={"SIM Card": card.id}, playbooks_dir=plays)
    (plays / "play_later.yaml").write_text("- name: Broken\n  hosts: localhost\n  tasks:\n    - debug: {msg: [unclosed}\n")
    done = prov.run_job_now(db, admin, job.id, playbooks_dir=plays)
    assert done.status == "failed" and done.error.startswith("The playbook did not run:")
    assert "yaml" in done.error.lower() or "syntax" in done.error.lower()
    assert table_counts(db)["service"] == 0
    assert item_state(db, card.id) == ("new", None, None)


def test_a_request_may_override_product_variables_but_not_what_omnidesk_sets(db, admin, mobile, ocs):
    c = customer(db, admin)
    with pytest.raises(ValidationError, match="customer_id is set by OmniDesk"):
        prov.request_provision(db, admin, c.id, mobile.id, inventory_items={"SIM Card": sim(db, admin).id},
                               overrides={"customer_id": 1})
    job = prov.request_provision(db, admin, c.id, mobile.id, inventory_items={"SIM Card": sim(db, admin).id},
                                 overrides={"data_gb": 50, "hss_password": "hunter22"})
    assert job.variables["data_gb"] == 50 and job.variables["customer_id"] == c.id
    assert job.variables["hss_password"] == "********"
    assert job.variables["SIM Card"] == job.inventory["SIM Card"]
    done = prov.run_job_now(db, admin, job.id)
    assert done.status == "success", done.error
    assert ocs.accounts[job.service_uuid]["balances"][f"Mobile_Data__{50 * 1073741824}"]["Value"] == 50 * 1073741824
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT variables::text || effects::text FROM provisioning_job")).scalars().all()
        outputs = conn.execute(text("SELECT string_agg(output::text, '') FROM provisioning_event")).scalar_one()
    assert not any("hunter22" in s for s in stored) and "hunter22" not in outputs


def test_deprovision_deactivates_the_service_removes_it_from_the_network_and_returns_the_sim(db, admin, ocs, mobile):
    c = customer(db, admin)
    card = sim(db, admin)
    done = prov.run_job_now(db, admin, prov.request_provision(db, admin, c.id, mobile.id,
                                                              inventory_items={"SIM Card": card.id}).id)
    assert done.status == "success", done.error
    dep = prov.request_deprovision(db, admin, done.service_id)
    assert dep.action == "deprovision" and dep.service_uuid == done.service_uuid
    with pytest.raises(ServiceError, match="already has deprovisioning job"):
        prov.request_deprovision(db, admin, done.service_id)
    finished = prov.run_job_now(db, admin, dep.id)
    assert finished.status == "success", finished.error
    assert svc.get_service(db, admin, done.service_id).status == "deactivated"
    assert ocs.accounts == {} and ocs.subscribers == {}
    assert item_state(db, card.id) == ("used", None, None)
    with pytest.raises(ServiceError, match="already deactivated"):
        prov.request_deprovision(db, admin, done.service_id)


def test_a_queued_job_cancelled_gives_its_items_back_and_can_be_retried(db, admin, ocs, mobile):
    c = customer(db, admin)
    card = sim(db, admin)
    job = prov.request_provision(db, admin, c.id, mobile.id, inventory_items={"SIM Card": card.id})
    assert prov.cancel_job(db, admin, job.id).status == "cancelled"
    assert item_state(db, card.id) == ("new", None, None)
    with pytest.raises(ServiceError, match="already ended"):
        prov.cancel_job(db, admin, job.id)
    again = prov.retry_job(db, admin, job.id)
    assert again.retry_of == job.id and item_state(db, card.id) == ("assigned", c.id, None)
    assert prov.run_job_now(db, admin, again.id).status == "success"
    with pytest.raises(ServiceError, match="only a failed or cancelled job can be retried"):
        prov.retry_job(db, admin, again.id)


def test_other_workstations_hear_each_job_and_event_change_through_notify(db, admin, ocs, mobile):
    from omnidesk.db.notify import ChangeListener

    heard = []
    listener = ChangeListener(db.raw_connection_string(), (prov.CHANNEL,), heard.append).start()
    try:
        assert listener.listening
        c = customer(db, admin)
        job = prov.request_provision(db, admin, c.id, mobile.id, inventory_items={"SIM Card": sim(db, admin).id})
        done = prov.run_job_now(db, admin, job.id)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(n.get("status") == "success" for n in heard):
            time.sleep(0.05)
    finally:
        listener.stop()
    job_statuses = [n["status"] for n in heard if n["table"] == "provisioning_job"]
    assert job_statuses[0] == "queued" and "running" in job_statuses and job_statuses[-1] == "success"
    events = [n for n in heard if n["table"] == "provisioning_event"]
    assert {n["job_id"] for n in events} == {done.id}
    assert len(events) >= 2 * len([e for e in done.events if not e.output.get("skipped")])


def test_a_job_whose_runner_vanished_is_failed_after_its_timeout_and_its_items_released(db, admin, mobile):
    c = customer(db, admin)
    card = sim(db, admin)
    job = prov.request_provision(db, admin, c.id, mobile.id, inventory_items={"SIM Card": card.id})
    assert prov.claim_next(db, "lost-host:1/1") == job.id
    assert prov.fail_stale_jobs(db, admin) == []  # still inside its timeout
    with db.transaction() as s:
        s.execute(text("UPDATE provisioning_job SET started_at = now() - interval '10 minutes' WHERE id = :i"), {"i": job.id})
    assert prov.fail_stale_jobs(db, admin) == [job.id]
    view = prov.get_job(db, admin, job.id)
    assert view.status == "failed" and "runner stopped" in view.error
    assert item_state(db, card.id) == ("new", None, None)
    assert prov.claim_next(db, "other") is None


def test_a_job_watcher_hands_over_every_event_of_a_job_another_runner_runs(db, admin, ocs, mobile):
    c = customer(db, admin)
    job = prov.request_provision(db, admin, c.id, mobile.id, inventory_items={"SIM Card": sim(db, admin).id})
    seen, jobs = [], []
    watcher = prov.JobWatcher(db, prov.Hooks(on_event=[seen.append], on_job=[jobs.append]), job_ids={job.id}).start()
    try:
        done = prov.run_job_now(db, admin, job.id)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (jobs and jobs[-1].status == "success"):
            time.sleep(0.05)
    finally:
        watcher.stop()
    assert jobs[-1].status == "success" and jobs[-1].events == done.events
    finished = {e.number: e.status for e in seen if e.status != 1}
    assert finished == {e.number: e.status for e in done.events}

"""`omnidesk provision|deprovision|worker` against the real database, playbooks and ansible-runner;
and one queue shared by two `omnidesk worker` processes and the desktop's runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from sqlalchemy import text

from omnidesk.catalog import service as catalog
from omnidesk.provisioning import service as prov
from omnidesk.provisioning.desktop_runner import DesktopRunner, RunnerSettings
from tests.cli_helpers import run
from tests.ocs_fake import FakeOcs
from tests.provision_helpers import (  # noqa: F401 — fixture: every process ended
    customer, item_state, mobile_product, no_process_left_behind, point_at, sim,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def ocs():
    fake = FakeOcs().start()
    yield fake
    fake.stop()


def test_run_with_wait_prints_each_task_and_the_result(env, admin, ocs, capsys):
    db = env
    point_at(db, admin, ocs)
    product = mobile_product(db, admin)
    c = customer(db, admin)
    card = sim(db, admin)
    code, out, err = run(capsys, "provision", "run", "--customer", str(c.id), "--product", str(product.id),
                         "--inventory", f"SIM Card={card.id}", "--var", "data_gb=5", "--wait")
    assert code == 0, err
    assert "[ok] Create the OCS account (ApierV2.SetAccount)" in out
    assert "Status:" in out and "success" in out
    code, out, err = run(capsys, "provision", "list", "--json")
    jobs = json.loads(out)
    assert [(j["status"], j["customer_id"]) for j in jobs] == [("success", c.id)]
    service_id = jobs[0]["service_id"]
    code, out, err = run(capsys, "provision", "show", str(jobs[0]["id"]))
    assert code == 0 and "Events:" in out and "Report the service and its charges to OmniDesk" in out
    code, out, err = run(capsys, "deprovision", "--service", str(service_id), "--wait", "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "success"
    assert item_state(db, card.id) == ("used", None, None)


def test_refusals_are_one_clear_line_and_queue_nothing(env, admin, ocs, capsys):
    db = env
    point_at(db, admin, ocs)
    product = mobile_product(db, admin)
    c = customer(db, admin)
    code, out, err = run(capsys, "provision", "run", "--customer", str(c.id), "--product", "999")
    assert (code, err.strip()) == (1, "There is no product 999; nothing was queued.")
    code, out, err = run(capsys, "provision", "run", "--customer", str(c.id), "--product", str(product.id))
    assert (code, err.strip()) == (1, "inventory: Choose a SIM Card for Mobile 20GB; nothing was queued.")
    code, out, err = run(capsys, "provision", "run", "--customer", str(c.id), "--product", str(product.id),
                         "--inventory", "SIM Card")
    assert (code, err.strip()) == (1, "--inventory: 'SIM Card' is not KEY=VALUE.")
    code, out, err = run(capsys, "provision", "cancel", "77")
    assert (code, err.strip()) == (1, "There is no provisioning job 77.")
    code, out, err = run(capsys, "provision", "list")
    assert out.strip() == "No provisioning jobs."


def test_settings_are_shown_and_changed_with_checks(env, capsys):
    code, out, err = run(capsys, "provision", "settings", "--set", "provisioning.failure_list=noc@example.com",
                         "--set", "provisioning.default_timeout=120", "--json")
    assert code == 0, err
    values = json.loads(out)
    assert values["provisioning.failure_list"] == ["noc@example.com"] and values["provisioning.default_timeout"] == 120
    code, out, err = run(capsys, "provision", "settings", "--set", "provisioning.default_timeout=soon")
    assert code == 1 and "whole number of seconds" in err


TRIVIAL_PLAY = """
- name: Trivial provisioning
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Report
      ansible.builtin.set_stats:
        data: {omnidesk_services: [{name: "job {{ job_id }}"}]}
"""


def test_two_workers_and_the_desktops_runner_never_run_a_job_twice(env, admin, tmp_path):
    db = env
    plays = tmp_path / "plays"
    plays.mkdir()
    (plays / "play_trivial.yaml").write_text(TRIVIAL_PLAY)
    product = catalog.create_product(db, admin, playbooks_dir=plays, name="Trivial", category="standalone",
                                     service_type="generic", retail_cost="0", provisioning_play="play_trivial",
                                     inventory_types=[], auto_renew="false")
    c = customer(db, admin)
    jobs = [prov.request_provision(db, admin, c.id, product.id, playbooks_dir=plays).id for _ in range(50)]
    environ = {**os.environ, "OMNIDESK_PLAYBOOKS_DIR": str(plays), "PYTHONPATH": str(ROOT)}
    heard = []  # this process follows the other processes' jobs through NOTIFY
    watcher = prov.JobWatcher(db, prov.Hooks(on_event=[heard.append])).start()
    # The desktop's own runner (as the GUI starts it), one worker with more jobs at once than the
    # default connection pool holds, and one with a single job.
    desktop = DesktopRunner(db, admin.username, settings=RunnerSettings(concurrency=2), playbooks_dir=plays)
    desktop.ensure_running()
    workers = [subprocess.Popen([sys.executable, "-m", "omnidesk", "worker", "--concurrency", n, "--until-idle"],
                                env=environ, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for n in ("10", "1")]
    try:
        outputs = [w.communicate(timeout=240) for w in workers]
    finally:  # never leave a worker process behind, even when the test fails
        desktop.stop()  # the desktop's runner finishes what it has, then exits
        assert desktop.wait(120) == 0
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len({e.job_id for e in heard if e.status == 0}) < len(jobs):
        time.sleep(0.1)
    watcher.stop()
    assert {e.job_id for e in heard if e.name == "Report" and e.status == 0} == set(jobs)
    assert all(w.returncode == 0 for w in workers), outputs
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status, claimed_by, service_id FROM provisioning_job ORDER BY id")).all()
        reports = conn.execute(text("SELECT job_id, count(*) FROM provisioning_event WHERE name = 'Report' "
                                    "GROUP BY job_id")).all()
        services = conn.execute(text("SELECT name FROM service")).scalars().all()
    assert [r.id for r in rows] == jobs
    assert {r.status for r in rows} == {"success"}
    assert sorted(services) == sorted(f"job {j}" for j in jobs), "one service per job, none twice"
    assert {job_id: n for job_id, n in reports} == {j: 1 for j in jobs}, "every job's playbook ran exactly once"
    processes = {r.claimed_by.rsplit("/", 1)[0] for r in rows}
    assert len(processes) == 3 and desktop.runner_name in processes, f"all three runners took jobs: {processes}"


def test_ctrl_c_during_run_wait_stops_the_run_and_rolls_it_back(env, admin, ocs, tmp_path):
    import signal

    from tests.test_provision import SLOW_PLAY, _gone

    db = env
    point_at(db, admin, ocs)
    plays = tmp_path / "plays"
    plays.mkdir()
    (plays / "play_slow.yaml").write_text(SLOW_PLAY)
    product = mobile_product(db, admin, plays=plays, name="Slow plan", provisioning_play="play_slow")
    c = customer(db, admin)
    card = sim(db, admin)
    environ = {**os.environ, "OMNIDESK_PLAYBOOKS_DIR": str(plays), "PYTHONPATH": str(ROOT)}
    cli = subprocess.Popen([sys.executable, "-m", "omnidesk", "provision", "run", "--customer", str(c.id), "--product",
                            str(product.id), "--inventory", f"SIM Card={card.id}", "--wait"],
                           env=environ, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           # a shell's background job (CI's) starts with Ctrl-C ignored; a terminal's has it
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        sleepers = []
        while not sleepers and time.monotonic() < deadline:
            sleepers = [p for p in psutil.Process(cli.pid).children(recursive=True) if p.name() == "sleep"]
            time.sleep(0.1)
        assert sleepers, "the playbook's sleep task never started"
        run_tree = [p.pid for p in psutil.Process(cli.pid).children(recursive=True)]
        cli.send_signal(signal.SIGINT)  # Ctrl-C
        out, err = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait(10)
    assert cli.returncode == 1, (out, err)
    assert "Stopping job" in err and "cancelled" in out
    assert _gone(run_tree) == [], "processes of the stopped run were left running"
    (job,) = prov.list_jobs(db, admin)
    assert job.status == "cancelled"
    assert ocs.accounts == {}, "the rollback removed the OCS account"
    assert item_state(db, card.id) == ("new", None, None)

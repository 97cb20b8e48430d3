"""Provisioning under the database's own security: a Provisioning Specialist signed in with their
own login role can queue and run a job end to end (every table it touches is granted through the
provision permissions), and a Support user may look at jobs but not start one."""

from __future__ import annotations

import psycopg
import pytest

from omnidesk.errors import PermissionDenied
from omnidesk.provisioning import service as prov
from security_helpers import NEW_PASSWORD, raw, signed_in
from tests.provision_helpers import (  # noqa: F401 — fixtures: every process ended, a loopback OCS/HSS
    customer, item_state, mobile_product, no_process_left_behind, ocs, sim,
)


def test_a_provisioning_specialist_runs_a_job_end_to_end_as_their_own_login_role(db, admin, ocs):
    prov.set_setting(db, admin, "provisioning.failure_list", "noc@example.com")
    product = mobile_product(db, admin)
    c = customer(db, admin)
    card = sim(db, admin)
    session, _ = signed_in(db, admin, "pia", ["Provisioning Specialist"])
    try:
        job = prov.request_provision(session.db, session.actor, c.id, product.id, inventory_items={"SIM Card": card.id})
        done = prov.run_job_now(session.db, session.actor, job.id)
        assert done.status == "success", done.error
        assert item_state(db, card.id) == ("assigned", c.id, done.service_id)
        # A failure (with its e-mail to the failure list) works under the same grants.
        ocs.fail["ApierV2.SetAccount"] = "SERVER_ERROR"
        failed = prov.run_job_now(session.db, session.actor, prov.request_provision(
            session.db, session.actor, c.id, product.id, inventory_items={"SIM Card": sim(db, admin).id}).id)
        assert failed.status == "failed" and "SERVER_ERROR" in failed.error
        assert [j.id for j in prov.list_jobs(session.db, session.actor)] == [failed.id, job.id]
        # A cleanup that fails too keeps the SIM Out Of Service with a note, under the same grants.
        ocs.fail["ApierV1.RemoveAccount"] = "SERVER_ERROR"
        spare = sim(db, admin)
        kept = prov.run_job_now(session.db, session.actor, prov.request_provision(
            session.db, session.actor, c.id, product.id, inventory_items={"SIM Card": spare.id}).id)
        assert kept.status == "failed" and "But the cleanup failed at task" in kept.error, kept.error
        assert item_state(db, spare.id) == ("out_of_service", c.id, None)
    finally:
        session.sign_out()


def test_support_may_look_at_jobs_but_not_queue_one(db, admin, ocs):
    product = mobile_product(db, admin)
    c = customer(db, admin)
    session, _ = signed_in(db, admin, "sue", ["Support"])
    try:
        assert prov.list_jobs(session.db, session.actor) == []
        with pytest.raises(PermissionDenied, match="needs the create_provision permission"):
            prov.request_provision(session.db, session.actor, c.id, product.id,
                                   inventory_items={"SIM Card": sim(db, admin).id})
    finally:
        session.sign_out()
    with raw(db, "sue", NEW_PASSWORD) as conn:
        conn.execute("SELECT omnidesk_open_session_without_2fa()")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for table provisioning_job"):
            conn.execute("UPDATE provisioning_job SET status = 'cancelled'")

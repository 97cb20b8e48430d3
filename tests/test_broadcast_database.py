"""The broadcast approval rules hold in PostgreSQL itself: these tests connect as staff with plain psycopg,
bypassing every OmniDesk check, and call the same SECURITY DEFINER functions the workstation calls."""

from __future__ import annotations

import json
import time

import psycopg
import pyotp
import pytest
from sqlalchemy import text

from security_helpers import NEW_PASSWORD, make_user, raw, set_clock, signed_in


class Clock:
    """Moves the database's clock a few TOTP steps at a time, so each step of a test has a fresh code
    (enrolment used the current one, and a code never works twice)."""

    def __init__(self, db):
        self.db = db
        self.offset = 0

    def advance(self, seconds: int = 90) -> None:
        self.offset += seconds
        set_clock(self.db, f"interval '{self.offset} seconds'")

    def code(self, enrolment) -> str:
        self.advance()
        return pyotp.TOTP(enrolment.secret).at(time.time() + self.offset)


def _connect(db, username: str, session) -> psycopg.Connection:
    conn = raw(db, username, NEW_PASSWORD)
    conn.execute("SELECT omnidesk_resume_session(%s)", [session.db.session_token])
    return conn


def _template_id(db, name="Flood") -> int:
    with db.read() as s:
        return s.scalar(text("SELECT id FROM broadcast_template WHERE name = :n"), {"n": name})


def _draft(conn, template_id: int, texts=None) -> int:
    texts = texts or [{"language": "en", "text": "FLOOD WARNING. Move to higher ground."}]
    return conn.execute(
        "INSERT INTO broadcast_message (template_id, message_identifier, repetition_period, texts) "
        "VALUES (%s, 9999, 60, %s::jsonb) RETURNING id", [template_id, json.dumps(texts)]).fetchone()[0]


def _row(db, message_id: int) -> dict:
    with db.read() as s:
        return dict(s.execute(text("SELECT m.*, (SELECT username FROM staff_user WHERE id = m.approved_by) approver "
                                   "FROM broadcast_message m WHERE id = :i"), {"i": message_id}).mappings().one())


def _submit(conn, message_id, code):
    return conn.execute("SELECT omnidesk_broadcast_submit(%s, %s)", [message_id, code]).fetchone()[0]


def _decide(conn, message_id, decision, code, reason=None, approver=None):
    return conn.execute("SELECT omnidesk_broadcast_decide(%s, %s, %s, %s, %s)",
                        [message_id, decision, code, reason, approver]).fetchone()[0]


@pytest.fixture
def people(db, admin):
    carol, carol_totp = signed_in(db, admin, "carol", ["Broadcast Creator"])
    alice, alice_totp = signed_in(db, admin, "alice", ["Broadcast Approver"])
    return {"carol": (carol, carol_totp), "alice": (alice, alice_totp)}


def test_the_identifier_comes_from_the_template_and_a_message_starts_as_a_draft(db, people):
    with _connect(db, "carol", people["carol"][0]) as conn:
        message_id = _draft(conn, _template_id(db))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="starts as a draft"):
            conn.execute("INSERT INTO broadcast_message (template_id, message_identifier, repetition_period, texts, "
                         "status) VALUES (%s, 4371, 60, '[{\"text\": \"x\"}]', 'approved')", [_template_id(db)])
    row = _row(db, message_id)
    assert row["message_identifier"] == 4371 and row["status"] == "draft"  # not the 9999 the client sent
    assert row["created_by"] == people["carol"][0].actor.user_id


def test_a_temporary_table_named_like_the_templates_cannot_change_the_identifier(db, people):
    with _connect(db, "carol", people["carol"][0]) as conn:
        conn.execute("CREATE TEMPORARY TABLE broadcast_template (id integer, message_identifier integer)")
        conn.execute("INSERT INTO broadcast_template VALUES (%s, 4370)", [_template_id(db)])
        message_id = _draft(conn, _template_id(db))
    assert _row(db, message_id)["message_identifier"] == 4371


def test_a_user_without_create_cbc_message_cannot_insert_a_message(db, people):
    with _connect(db, "alice", people["alice"][0]) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for table broadcast_message"):
            _draft(conn, _template_id(db))
    with db.read() as s:
        assert s.scalar(text("SELECT count(*) FROM broadcast_message")) == 0


def test_submit_and_approve_each_take_a_valid_fresh_code_and_a_replayed_one_is_refused(db, people):
    clock = Clock(db)
    carol, carol_totp = people["carol"]
    alice, alice_totp = people["alice"]
    with _connect(db, "carol", carol) as conn:
        first, second = _draft(conn, _template_id(db)), _draft(conn, _template_id(db))
        wrong = _submit(conn, first, "000000" if pyotp.TOTP(carol_totp.secret).now() != "000000" else "111111")
        assert wrong["ok"] is False and wrong["error"] == "wrong_code"
        assert _row(db, first)["status"] == "draft"
        code = clock.code(carol_totp)
        assert _submit(conn, first, code) == {"ok": True, "status": "pending_approval"}
        replay = _submit(conn, second, code)
        assert replay["ok"] is False and replay["error"] == "reused"
        assert _row(db, second)["status"] == "draft"
    with _connect(db, "alice", alice) as conn:
        with pytest.raises(psycopg.Error, match="not a code") as not_code:
            _decide(conn, first, "approve", "12a")
        assert not_code.value.sqlstate == "ODC01"
        code = clock.code(alice_totp)
        assert _decide(conn, first, "approve", code) == {"ok": True, "status": "approved"}
        # the same code cannot approve anything else, even a moment later
        with _connect(db, "carol", carol) as creator:
            _submit(creator, second, clock.code(carol_totp))
        clock.offset -= 90  # back inside the tolerance window of the code just used
        set_clock(db, f"interval '{clock.offset} seconds'")
        replay = _decide(conn, second, "approve", code)
        assert replay["ok"] is False and replay["error"] == "reused"
    assert _row(db, first)["approver"] == "alice" and _row(db, first)["approved_at"] is not None
    assert _row(db, second)["status"] == "pending_approval"
    with db.read() as s:
        events = s.execute(text("SELECT event, actor_name FROM broadcast_event WHERE message_id = :i ORDER BY id"),
                           {"i": second}).all()
    assert [tuple(e) for e in events] == [("code_refused", "carol"), ("submitted", "carol"), ("code_refused", "alice")]


def test_a_creator_cannot_approve_their_own_message_while_the_two_person_rule_is_on(db, admin):
    clock = Clock(db)
    both, totp = signed_in(db, admin, "dana", ["Broadcast Creator", "Broadcast Approver"])
    with _connect(db, "dana", both) as conn:
        message_id = _draft(conn, _template_id(db))
        assert _submit(conn, message_id, clock.code(totp))["status"] == "pending_approval"
        with pytest.raises(psycopg.Error, match="two-person rule is on: dana created message") as refused:
            _decide(conn, message_id, "approve", clock.code(totp))
        assert refused.value.sqlstate == "ODA01"
        # nor by writing the row directly
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="approval functions"):
            conn.execute("UPDATE broadcast_message SET status = 'approved', approved_by = created_by WHERE id = %s",
                         [message_id])
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="cannot become approved"):
            conn.execute("UPDATE broadcast_message SET status = 'approved' WHERE id = %s", [message_id])
    assert _row(db, message_id)["status"] == "pending_approval"
    # With the rule off (a setting), the creator's own confirmation approves the message.
    with db.transaction() as s:
        s.execute(text("UPDATE broadcast_setting SET two_person_rule = false"))
    with _connect(db, "dana", both) as conn:
        solo = _draft(conn, _template_id(db))
        assert _submit(conn, solo, clock.code(totp)) == {"ok": True, "status": "approved"}
    assert _row(db, solo)["approver"] == "dana"


def test_switching_the_rule_off_does_not_let_a_creator_approve_what_waits_and_the_switch_is_logged(db, admin):
    clock = Clock(db)
    both, totp = signed_in(db, admin, "dana", ["Broadcast Creator", "Broadcast Approver"])
    with _connect(db, "dana", both) as conn:
        message_id = _draft(conn, _template_id(db))
        assert _submit(conn, message_id, clock.code(totp))["status"] == "pending_approval"
    with db.transaction() as s:
        s.execute(text("UPDATE broadcast_setting SET two_person_rule = false"))
    with _connect(db, "dana", both) as conn:
        with pytest.raises(psycopg.Error, match="dana created message"):
            _decide(conn, message_id, "approve", clock.code(totp))
    assert _row(db, message_id)["status"] == "pending_approval"
    with db.read() as s:
        logged = s.execute(text("SELECT summary, changes FROM activity_log WHERE entity_type = 'broadcast_setting'")).all()
    assert [(summary, changes["two_person_rule"]) for summary, changes in logged] == [
        ("Broadcast settings: two-person rule OFF, text limit 500", [True, False])]


def test_rejecting_takes_a_reason_and_the_approver_code(db, people):
    clock = Clock(db)
    carol, carol_totp = people["carol"]
    alice, alice_totp = people["alice"]
    with _connect(db, "carol", carol) as conn:
        message_id = _draft(conn, _template_id(db))
        _submit(conn, message_id, clock.code(carol_totp))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # no approve_cbc_message
            _decide(conn, message_id, "reject", clock.code(carol_totp), "no")
    with _connect(db, "alice", alice) as conn:
        with pytest.raises(psycopg.Error, match="Say why"):
            _decide(conn, message_id, "reject", clock.code(alice_totp), "  ")
        assert _decide(conn, message_id, "reject", clock.code(alice_totp), "Wrong area")["status"] == "rejected"
    row = _row(db, message_id)
    assert row["status"] == "rejected" and row["reject_reason"] == "Wrong area" and row["approved_by"] is None


def test_no_one_can_delete_history(db, people):
    clock = Clock(db)
    carol, carol_totp = people["carol"]
    with _connect(db, "carol", carol) as conn:
        message_id = _draft(conn, _template_id(db))
        _submit(conn, message_id, clock.code(carol_totp))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            conn.execute("DELETE FROM broadcast_message WHERE id = %s", [message_id])
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            conn.execute("DELETE FROM broadcast_event")
        # nor can anyone forge the steps the approval functions write
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="written by the database itself"):
            conn.execute("INSERT INTO broadcast_event (message_id, event) VALUES (%s, 'approved')", [message_id])
    # Not even the owner of the tables (the CLI's connection) can delete or rewrite it.
    for sql in ("DELETE FROM broadcast_message", "DELETE FROM broadcast_event", "TRUNCATE broadcast_event CASCADE",
                "UPDATE broadcast_event SET event = 'nothing'"):
        with pytest.raises(Exception, match="never"):
            with db.transaction() as s:
                s.execute(text(sql))
    with db.read() as s:
        assert s.scalar(text("SELECT count(*) FROM broadcast_message")) == 1
        assert s.scalar(text("SELECT count(*) FROM broadcast_event WHERE event = 'submitted'")) == 1


def test_every_status_change_is_notified_to_other_workstations(db, people):
    clock = Clock(db)
    carol, carol_totp = people["carol"]
    with psycopg.connect(db.raw_connection_string(), autocommit=True) as listener:
        listener.execute("LISTEN omnidesk_broadcast")
        with _connect(db, "carol", carol) as conn:
            message_id = _draft(conn, _template_id(db))
            _submit(conn, message_id, clock.code(carol_totp))
        notices = [json.loads(n.payload) for n in listener.notifies(timeout=5, stop_after=2)]
    assert notices == [{"table": "broadcast_message", "op": "INSERT", "id": message_id, "status": "draft"},
                       {"table": "broadcast_message", "op": "UPDATE", "id": message_id, "status": "pending_approval"}]


def test_a_colleague_at_the_same_workstation_approves_with_their_own_code(db, people):
    clock = Clock(db)
    carol, carol_totp = people["carol"]
    _, alice_totp = people["alice"]
    with _connect(db, "carol", carol) as conn:
        message_id = _draft(conn, _template_id(db))
        _submit(conn, message_id, clock.code(carol_totp))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="needs the approve_cbc_message"):
            _decide(conn, message_id, "approve", clock.code(carol_totp), approver="carol")
        refused = _decide(conn, message_id, "approve", clock.code(carol_totp), approver="alice")
        assert refused["error"] == "wrong_code"  # carol's code is not alice's
        assert _decide(conn, message_id, "approve", clock.code(alice_totp), approver="alice")["status"] == "approved"
    assert _row(db, message_id)["approver"] == "alice"


def test_when_the_engine_ends_the_warning_its_message_expires_or_is_cancelled(db, admin):
    with db.transaction() as s:
        s.execute(text("UPDATE broadcast_setting SET two_person_rule = false"))
        ids = []
        for _ in range(2):
            message_id = s.execute(text(
                "INSERT INTO broadcast_message (template_id, message_identifier, repetition_period, texts, created_by, "
                "status, approved_by) VALUES (:t, 0, 60, '[{\"language\": \"en\", \"text\": \"x\"}]', :a, 'approved', :a) "
                "RETURNING id"), {"t": _template_id(db), "a": admin.user_id}).scalar()
            warning_id = s.execute(text(
                "INSERT INTO cbc_warning (message_identifier, message_code, repetition_period, texts, state) "
                "VALUES (4371, :c, 60, '[{\"text\": \"x\"}]', 'active') RETURNING id"), {"c": message_id}).scalar()
            s.execute(text("UPDATE broadcast_message SET status = 'active', warning_id = :w WHERE id = :m"),
                      {"w": warning_id, "m": message_id})
            ids.append((message_id, warning_id))
    with db.transaction() as s:
        s.execute(text("UPDATE cbc_warning SET state = 'expired', finished_at = now() WHERE id = :w"), {"w": ids[0][1]})
        s.execute(text("UPDATE cbc_warning SET state = 'stopped', reason = 'stopped on the BSC' WHERE id = :w"),
                  {"w": ids[1][1]})
    assert _row(db, ids[0][0])["status"] == "expired" and _row(db, ids[0][0])["finished_at"] is not None
    assert _row(db, ids[1][0])["status"] == "cancelled"
    with db.read() as s:
        events = s.execute(text("SELECT message_id, event, actor_name FROM broadcast_event ORDER BY id")).all()
    assert [tuple(e) for e in events] == [(ids[0][0], "expired", "cell broadcast centre"),
                                          (ids[1][0], "stopped", "cell broadcast centre")]

"""An update of an active warning needs the same proof as the warning (migration 0013), in PostgreSQL
itself: staff connect with plain psycopg, bypassing every OmniDesk check, and find that neither a direct
write nor the engine's command table changes what an active warning says without a fresh code and, under
the two-person rule, a second person's approval."""

from __future__ import annotations

import json

import psycopg
import pytest
from sqlalchemy import text

from security_helpers import signed_in
from tests.test_broadcast_database import Clock, _connect, _template_id

FIRST = [{"language": "en", "text": "FLOOD WARNING. Move to higher ground."}]
NEW = [{"language": "en", "text": "FLOOD WARNING. Water is rising. Leave now."}]


def _active(db, creator_id: int) -> tuple[int, int]:
    """An active message of creator_id with its engine warning, made by the owner (as transmit leaves it)."""
    with db.transaction() as s:
        message_id = s.execute(text(
            "INSERT INTO broadcast_message (template_id, message_identifier, repetition_period, texts, created_by, "
            "status, approved_by) VALUES (:t, 0, 60, CAST(:x AS jsonb), :c, 'approved', :c) RETURNING id"),
            {"t": _template_id(db), "x": json.dumps(FIRST), "c": creator_id}).scalar()
        warning_id = s.execute(text(
            "INSERT INTO cbc_warning (message_identifier, message_code, repetition_period, texts, state) "
            "VALUES (4371, :c, 60, CAST(:x AS jsonb), 'active') RETURNING id"),
            {"c": message_id, "x": json.dumps(FIRST)}).scalar()
        s.execute(text("UPDATE broadcast_message SET status = 'active', warning_id = :w WHERE id = :m"),
                  {"w": warning_id, "m": message_id})
    return message_id, warning_id


def _message(db, message_id):
    with db.read() as s:
        return dict(s.execute(text("SELECT * FROM broadcast_message WHERE id = :i"), {"i": message_id}).mappings().one())


def _requests(db, message_id):
    with db.read() as s:
        return [dict(r) for r in s.execute(text(
            "SELECT u.*, (SELECT username FROM staff_user WHERE id = u.approved_by) approver "
            "FROM broadcast_update u WHERE message_id = :i ORDER BY id"), {"i": message_id}).mappings()]


def _events(db, message_id):
    with db.read() as s:
        return [tuple(e) for e in s.execute(text(
            "SELECT event, actor_name FROM broadcast_event WHERE message_id = :i ORDER BY id"), {"i": message_id})]


def _commands(db, warning_id):
    with db.read() as s:
        return s.scalar(text("SELECT count(*) FROM cbc_command WHERE warning_id = :w AND kind = 'update'"),
                        {"w": warning_id})


def _request(conn, message_id, code, texts=NEW, broadcasts=None, period=None):
    return conn.execute("SELECT omnidesk_broadcast_request_update(%s, %s, %s::jsonb, %s, %s, NULL)",
                        [message_id, code, None if texts is None else json.dumps(texts), broadcasts, period]).fetchone()[0]


def _decide(conn, update_id, decision, code, reason=None, approver=None):
    return conn.execute("SELECT omnidesk_broadcast_decide_update(%s, %s, %s, %s, %s)",
                        [update_id, decision, code, reason, approver]).fetchone()[0]


def _hand_over(conn, update_id, username):
    """What service.send_update does: claim the request, then queue the engine's command with its changes."""
    claim = conn.execute("SELECT omnidesk_broadcast_claim_update(%s, %s)", [update_id, username]).fetchone()[0]
    assert claim["ok"], claim
    conn.execute("INSERT INTO cbc_command (warning_id, kind, payload) VALUES (%s, 'update', %s::jsonb)",
                 [claim["warning"], json.dumps(claim["changes"])])
    return claim


@pytest.fixture
def people(db, admin):
    carol, carol_totp = signed_in(db, admin, "carol", ["Broadcast Creator"])
    alice, alice_totp = signed_in(db, admin, "alice", ["Broadcast Approver"])
    return {"carol": (carol, carol_totp), "alice": (alice, alice_totp)}


def test_a_holder_of_update_cbc_message_cannot_change_an_active_message_or_its_warning_directly(db, people):
    carol, _ = people["carol"]
    message_id, warning_id = _active(db, carol.actor.user_id)
    assert carol.actor.can("update_cbc_message")
    with _connect(db, "carol", carol) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="changes by an update request, confirmed with an authenticator code"):
            conn.execute("UPDATE broadcast_message SET texts = %s::jsonb WHERE id = %s", [json.dumps(NEW), message_id])
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="changes by an update request"):
            conn.execute("UPDATE broadcast_message SET number_of_broadcasts = 3 WHERE id = %s", [message_id])
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="update count goes up only when an approved update"):
            conn.execute("UPDATE broadcast_message SET update_count = update_count + 1 WHERE id = %s", [message_id])
        # nor by queueing the engine's update command for its warning
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="updated only by an approved update request"):
            conn.execute("INSERT INTO cbc_command (warning_id, kind, payload) VALUES (%s, 'update', %s::jsonb)",
                         [warning_id, json.dumps({"texts": NEW})])
        # nor by rewriting the engine's warning, or sending it again
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="what it says changes only by an approved update"):
            conn.execute("UPDATE cbc_warning SET texts = %s::jsonb WHERE id = %s", [json.dumps(NEW), warning_id])
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="transmitted once; it is not sent again"):
            conn.execute("INSERT INTO cbc_command (warning_id, kind) VALUES (%s, 'send')", [warning_id])
        # nor by writing a request, or its history, itself
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for table broadcast_update"):
            conn.execute("INSERT INTO broadcast_update (message_id, requested_by, texts, status, approved_by) "
                         "VALUES (%s, %s, %s::jsonb, 'approved', %s)",
                         [message_id, carol.actor.user_id, json.dumps(NEW), carol.actor.user_id])
        for event in ("updated", "update_approved", "transmitted_twice"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="written by the database itself"):
                conn.execute("INSERT INTO broadcast_event (message_id, event) VALUES (%s, %s)", [message_id, event])
        conn.execute("INSERT INTO broadcast_event (message_id, event) VALUES (%s, 'stop_requested')", [message_id])
    row = _message(db, message_id)
    assert (row["texts"], row["number_of_broadcasts"], row["update_count"]) == (FIRST, 0, 0)
    assert _commands(db, warning_id) == 0 and _requests(db, message_id) == []


def test_an_update_request_with_a_wrong_or_replayed_code_is_refused(db, people):
    clock = Clock(db)
    carol, carol_totp = people["carol"]
    message_id, _ = _active(db, carol.actor.user_id)
    other_id, _ = _active(db, carol.actor.user_id)
    with _connect(db, "carol", carol) as conn:
        code = clock.code(carol_totp)
        wrong = _request(conn, message_id, "000000" if code != "000000" else "111111")
        assert wrong["ok"] is False and wrong["error"] == "wrong_code" and "4 more tries" in wrong["message"]
        with pytest.raises(psycopg.Error, match="not a code") as not_code:
            _request(conn, message_id, "12345")
        assert not_code.value.sqlstate == "ODC01"
        assert _requests(db, message_id) == []
        first = _request(conn, message_id, code)
        assert first["ok"] is True and first["status"] == "pending_approval"
        replay = _request(conn, other_id, code)  # the same code, for another message
        assert replay["ok"] is False and replay["error"] == "reused"
        # one open request per message, and only an active message is updated
        with pytest.raises(psycopg.Error, match=f"Update request #{first['update']} of message #{message_id} is still open"):
            _request(conn, message_id, clock.code(carol_totp))
    assert _requests(db, other_id) == []
    assert [e for e in _events(db, other_id)] == [("code_refused", "carol")]
    assert _events(db, message_id) == [("code_refused", "carol"), ("update_requested", "carol")]
    assert _message(db, message_id)["texts"] == FIRST  # asked for, not applied


def test_under_the_two_person_rule_the_requester_cannot_approve_and_another_approver_must(db, admin, people):
    clock = Clock(db)
    dana, dana_totp = signed_in(db, admin, "dana", ["Broadcast Creator", "Broadcast Approver"])
    alice, alice_totp = people["alice"]
    message_id, warning_id = _active(db, dana.actor.user_id)
    with _connect(db, "dana", dana) as conn:
        asked = _request(conn, message_id, clock.code(dana_totp), texts=None, broadcasts=5)
        assert asked["status"] == "pending_approval"
        with pytest.raises(psycopg.Error, match="two-person rule is on: dana asked for update") as refused:
            _decide(conn, asked["update"], "approve", clock.code(dana_totp))
        assert refused.value.sqlstate == "ODA01"
        with pytest.raises(psycopg.Error, match="only an approved update is sent"):
            _hand_over(conn, asked["update"], "dana")
    # switching the rule off does not let the requester decide what already waits
    with db.transaction() as s:
        s.execute(text("UPDATE broadcast_setting SET two_person_rule = false"))
    with _connect(db, "dana", dana) as conn:
        with pytest.raises(psycopg.Error, match="dana asked for update"):
            _decide(conn, asked["update"], "approve", clock.code(dana_totp))
    with db.transaction() as s:
        s.execute(text("UPDATE broadcast_setting SET two_person_rule = true"))
    with _connect(db, "alice", alice) as conn:
        wrong = _decide(conn, asked["update"], "approve", "000000" if clock.code(alice_totp) != "000000" else "111111")
        assert wrong["error"] == "wrong_code"
        assert _decide(conn, asked["update"], "approve", clock.code(alice_totp))["status"] == "approved"
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="needs the update_cbc_message"):
            _hand_over(conn, asked["update"], "alice")  # an approver alone does not send
    [request] = _requests(db, message_id)
    assert (request["status"], request["approver"]) == ("approved", "alice")
    assert _message(db, message_id)["update_count"] == 0  # approved, not yet sent
    with _connect(db, "dana", dana) as conn:
        _hand_over(conn, asked["update"], "dana")
        # the same changes cannot be queued a second time: the request is sent
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="updated only by an approved update request"):
            conn.execute("INSERT INTO cbc_command (warning_id, kind, payload) VALUES (%s, 'update', %s::jsonb)",
                         [warning_id, json.dumps({"number_of_broadcasts": 5})])
    row = _message(db, message_id)
    assert (row["number_of_broadcasts"], row["texts"], row["update_count"]) == (5, FIRST, 1)
    [request] = _requests(db, message_id)
    assert request["status"] == "sent" and request["update_number"] == 1 and request["command_id"] is not None
    assert _commands(db, warning_id) == 1
    assert [e for e, _ in _events(db, message_id)] == [
        "update_requested", "code_refused", "update_approved", "updated"]


def test_with_the_rule_off_the_request_is_approved_at_once_and_a_reject_needs_a_reason(db, people):
    clock = Clock(db)
    carol, carol_totp = people["carol"]
    alice, alice_totp = people["alice"]
    message_id, _ = _active(db, carol.actor.user_id)
    with _connect(db, "carol", carol) as conn:
        asked = _request(conn, message_id, clock.code(carol_totp))
        with _connect(db, "alice", alice) as approver:
            with pytest.raises(psycopg.Error, match="Say why update"):
                _decide(approver, asked["update"], "reject", clock.code(alice_totp), "  ")
            assert _decide(approver, asked["update"], "reject", clock.code(alice_totp), "Wrong river")["status"] == "rejected"
        with db.transaction() as s:
            s.execute(text("UPDATE broadcast_setting SET two_person_rule = false"))
        solo = _request(conn, message_id, clock.code(carol_totp))
        assert solo == {"ok": True, "status": "approved", "update": solo["update"]}
        _hand_over(conn, solo["update"], "carol")
    rejected, sent = _requests(db, message_id)
    assert (rejected["status"], rejected["reject_reason"]) == ("rejected", "Wrong river")
    assert (sent["status"], sent["approver"]) == ("sent", "carol")
    assert _message(db, message_id)["texts"] == NEW
    assert [e for e, _ in _events(db, message_id)] == [
        "update_requested", "update_rejected", "update_requested", "update_approved", "updated"]


def test_update_requests_are_never_deleted_and_changes_are_announced(db, people):
    clock = Clock(db)
    carol, carol_totp = people["carol"]
    message_id, _ = _active(db, carol.actor.user_id)
    with psycopg.connect(db.raw_connection_string(), autocommit=True) as listener:
        listener.execute("LISTEN omnidesk_broadcast")
        with _connect(db, "carol", carol) as conn:
            asked = _request(conn, message_id, clock.code(carol_totp))
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                conn.execute("DELETE FROM broadcast_update")
        notices = [json.loads(n.payload) for n in listener.notifies(timeout=5, stop_after=1)]
    assert notices == [{"table": "broadcast_update", "op": "INSERT", "id": message_id, "update": asked["update"],
                        "status": "pending_approval"}]
    with pytest.raises(Exception, match="never"):
        with db.transaction() as s:
            s.execute(text("DELETE FROM broadcast_update"))
    assert len(_requests(db, message_id)) == 1


def test_a_message_that_ends_closes_its_open_update_request(db, people):
    clock = Clock(db)
    carol, carol_totp = people["carol"]
    alice, alice_totp = people["alice"]
    message_id, warning_id = _active(db, carol.actor.user_id)
    with _connect(db, "carol", carol) as conn:
        asked = _request(conn, message_id, clock.code(carol_totp))
    with db.transaction() as s:  # the centre reports the warning stopped on every peer
        s.execute(text("UPDATE cbc_warning SET state = 'stopped', reason = 'stopped on the BSC' WHERE id = :w"),
                  {"w": warning_id})
    [request] = _requests(db, message_id)
    assert request["status"] == "failed" and request["failure_reason"] == (
        f"message #{message_id} was cancelled before the update was sent")
    assert _events(db, message_id)[-2:] == [("update_failed", "OmniDesk"), ("stopped", "cell broadcast centre")]
    with _connect(db, "alice", alice) as conn:
        with pytest.raises(psycopg.Error, match="is failed; only one waiting for approval can be approved"):
            _decide(conn, asked["update"], "approve", clock.code(alice_totp))
    assert _message(db, message_id)["texts"] == FIRST

"""Migration 0016: a public warning reaches the cell broadcast centre from a staff login only as an approved
broadcast message. These tests connect as a Broadcast Creator's own login with plain psycopg (bypassing every
OmniDesk check), as someone with psql would, and check that transmit does its three steps in one transaction."""

from __future__ import annotations

import json

import psycopg
import pytest
from sqlalchemy import text

from omnidesk.broadcast import service as bs
from omnidesk.cbc import store

from security_helpers import signed_in
from tests.test_broadcast_database import _connect

FLOOD_TEXT = [{"language": "en", "text": "FLOOD WARNING. Move to higher ground now."}]
# the warning columns transmit fills from the message row (cbc.store.queue_warning)
COLUMNS = {"message_identifier": "m.message_identifier", "message_code": "5", "geographical_scope": "1",
           "update_number": "0", "category": "m.category", "repetition_period": "m.repetition_period",
           "number_of_broadcasts": "m.number_of_broadcasts", "warning_period": "m.warning_period",
           "texts": "m.texts", "targets": "m.target_cells", "state": "'queued'", "created_by": "m.created_by"}


def _as_approved(**changes: str) -> str:
    """INSERT of a warning saying what the message %s was approved to say, but for changes (SQL)."""
    columns = COLUMNS | changes
    return (f"INSERT INTO cbc_warning ({', '.join(columns)}) SELECT {', '.join(columns.values())} "
            "FROM broadcast_message m WHERE m.id = %s RETURNING id")


def _approved(db, admin, creator, *, claimed=True) -> int:
    """An approved message of creator's (approved with codes elsewhere; here set by the owner)."""
    message = bs.create_message(db, admin, template="Flood", texts=FLOOD_TEXT)
    with db.transaction() as s:
        s.execute(text("UPDATE broadcast_message SET status = 'approved', approved_by = :a, approved_at = now(), "
                       "submitted_at = now(), created_by = :c WHERE id = :i"),
                  {"a": admin.user_id, "c": creator.actor.user_id, "i": message.id})
    if claimed:
        with creator.db.transaction() as s:
            s.execute(text("UPDATE broadcast_message SET transmit_claimed_at = now() WHERE id = :i"), {"i": message.id})
    return message.id


def _counts(db) -> tuple[int, int]:
    with db.read() as s:
        return (s.scalar(text("SELECT count(*) FROM cbc_warning")), s.scalar(text("SELECT count(*) FROM cbc_command")))


def _status(db, message_id: int) -> tuple[str, object, object]:
    with db.read() as s:
        return tuple(s.execute(text("SELECT status, warning_id, transmit_claimed_at FROM broadcast_message "
                                    "WHERE id = :i"), {"i": message_id}).one())


def test_a_creator_cannot_insert_a_warning_and_send_it_from_psql(db, admin):
    carol, _ = signed_in(db, admin, "carol", ["Broadcast Creator"])
    with _connect(db, "carol", carol) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege,
                           match=r"Warning #\d+ is not the transmission of an approved broadcast message"):
            with conn.transaction():
                wid = conn.execute(
                    "INSERT INTO cbc_warning (message_identifier, message_code, repetition_period, texts, state) "
                    "VALUES (4370, 3, 60, %s::jsonb, 'queued') RETURNING id", [json.dumps(FLOOD_TEXT)]).fetchone()[0]
                conn.execute("INSERT INTO cbc_command (warning_id, kind) VALUES (%s, 'send')", [wid])
        # nor a warning marked live with no command at all, which a restarted centre would adopt and send
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not the transmission of an approved"):
            conn.execute("INSERT INTO cbc_warning (message_identifier, message_code, repetition_period, texts, state) "
                         "VALUES (4370, 4, 60, %s::jsonb, 'active')", [json.dumps(FLOOD_TEXT)])
        # staff still read warnings and their commands as before
        assert conn.execute("SELECT count(*) FROM cbc_warning").fetchone()[0] == 0
    assert _counts(db) == (0, 0)


def test_a_send_for_a_warning_no_approved_claimed_message_carries_is_refused(db, admin):
    carol, _ = signed_in(db, admin, "carol", ["Broadcast Creator"])
    with db.transaction() as s:  # a warning queued from the centre's console (owner), not sent yet
        console = s.execute(text(
            "INSERT INTO cbc_warning (message_identifier, message_code, repetition_period, texts, state) "
            "VALUES (4370, 9, 60, CAST(:x AS jsonb), 'queued') RETURNING id"), {"x": json.dumps(FLOOD_TEXT)}).scalar()
    unclaimed = _approved(db, admin, carol, claimed=False)
    with _connect(db, "carol", carol) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege,
                           match=f"Warning #{console} is not the transmission of an approved broadcast message"):
            conn.execute("INSERT INTO cbc_command (warning_id, kind) VALUES (%s, 'send')", [console])
        # an approved message never claimed for transmission (transmit claims it in the same transaction)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not the transmission of an approved"):
            with conn.transaction():
                wid = conn.execute(_as_approved(), [unclaimed]).fetchone()[0]
                conn.execute("INSERT INTO cbc_command (warning_id, kind) VALUES (%s, 'send')", [wid])
                conn.execute("UPDATE broadcast_message SET status = 'active', warning_id = %s, transmitted_at = now() "
                             "WHERE id = %s", [wid, unclaimed])
    assert _counts(db) == (1, 0)
    assert _status(db, unclaimed)[:2] == ("approved", None)


def test_a_send_whose_content_differs_from_the_approved_message_is_refused_the_same_content_goes(db, admin):
    carol, _ = signed_in(db, admin, "carol", ["Broadcast Creator"])
    message_id = _approved(db, admin, carol)
    other = json.dumps([{"language": "en", "text": "All clear, go back home."}])
    with _connect(db, "carol", carol) as conn:
        for changes in [{"texts": f"'{other}'::jsonb"}, {"repetition_period": "5"}, {"category": "'background'"},
                        {"warning_period": "999999"}, {"number_of_broadcasts": "3"},
                        {"targets": """'{"bsc1": []}'::jsonb"""}, {"update_number": "2"}, {"geographical_scope": "0"},
                        {"texts": """jsonb_build_array(m.texts->0 || '{"message_identifier": 4370}')"""}]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege,
                               match=f"does not say what broadcast message #{message_id} was approved to say"):
                with conn.transaction():
                    wid = conn.execute(_as_approved(**changes), [message_id]).fetchone()[0]
                    conn.execute("INSERT INTO cbc_command (warning_id, kind) VALUES (%s, 'send')", [wid])
                    conn.execute("UPDATE broadcast_message SET status = 'active', warning_id = %s, "
                                 "transmitted_at = now() WHERE id = %s", [wid, message_id])
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="its warning is linked once"):  # 0009
            with conn.transaction():
                wid = conn.execute(_as_approved(message_identifier="4370"), [message_id]).fetchone()[0]
                conn.execute("INSERT INTO cbc_command (warning_id, kind) VALUES (%s, 'send')", [wid])
                conn.execute("UPDATE broadcast_message SET status = 'active', warning_id = %s WHERE id = %s",
                             [wid, message_id])
        assert _status(db, message_id)[:2] == ("approved", None) and _counts(db) == (0, 0)
        # exactly the approved content, activated in the same transaction: the database lets it go
        with conn.transaction():
            wid = conn.execute(_as_approved(), [message_id]).fetchone()[0]
            conn.execute("INSERT INTO cbc_command (warning_id, kind) VALUES (%s, 'send')", [wid])
            conn.execute("UPDATE broadcast_message SET status = 'active', warning_id = %s, transmitted_at = now() "
                         "WHERE id = %s", [wid, message_id])
        assert _status(db, message_id)[:2] == ("active", wid)
        # ... once: a second send of that warning is refused
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="was transmitted once; it is not sent again"):
            conn.execute("INSERT INTO cbc_command (warning_id, kind) VALUES (%s, 'send')", [wid])


def test_a_failure_between_queueing_the_warning_and_activating_the_message_sends_nothing(db, admin, monkeypatch):
    carol, _ = signed_in(db, admin, "carol", ["Broadcast Creator"])
    store.add_peer(db, admin, name="bsc1", protocol="cbsp", port=1)
    message_id = _approved(db, admin, carol, claimed=False)
    real_event = bs._event

    def crash(s, actor, mid, event, detail=None):
        if event == "transmitted":  # the warning and its send command are flushed; the message not yet written
            with db.read() as other:  # the centre (another connection) sees nothing to send
                assert other.scalar(text("SELECT count(*) FROM cbc_command")) == 0
            raise ConnectionError("the workstation lost the database")
        return real_event(s, actor, mid, event, detail)

    monkeypatch.setattr(bs, "_event", crash)
    with pytest.raises(ConnectionError):
        bs.transmit(carol.db, carol.actor, message_id, require_centre=False)
    assert _counts(db) == (0, 0)  # no warning, no send command
    assert _status(db, message_id) == ("approved", None, None)  # and no claim left behind: transmit again
    monkeypatch.setattr(bs, "_event", real_event)
    sent = bs.transmit(carol.db, carol.actor, message_id, require_centre=False)
    assert sent.status == "active" and sent.warning_id is not None and _counts(db) == (1, 1)
    with db.read() as s:
        assert s.execute(text("SELECT texts->0->>'text', state FROM cbc_warning")).one() == (FLOOD_TEXT[0]["text"],
                                                                                             "queued")


def test_staff_update_stop_only_broadcast_messages_warnings_and_never_revive_a_warning_or_rewrite_a_command(db, admin):
    carol, _ = signed_in(db, admin, "carol", ["Broadcast Creator"])
    with db.transaction() as s:  # a live warning from the centre's console (owner), and its done send
        console = s.execute(text(
            "INSERT INTO cbc_warning (message_identifier, message_code, repetition_period, texts, state) "
            "VALUES (4370, 9, 60, CAST(:x AS jsonb), 'active') RETURNING id"), {"x": json.dumps(FLOOD_TEXT)}).scalar()
        done = s.execute(text("INSERT INTO cbc_command (warning_id, kind, done_at) VALUES (:w, 'stop', now()) "
                              "RETURNING id"), {"w": console}).scalar()
    with _connect(db, "carol", carol) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege,
                           match=f"Warning #{console} is not a broadcast message.s: .* \\(omnidesk cbc update\\)"):
            conn.execute("INSERT INTO cbc_command (warning_id, kind, payload) VALUES (%s, 'update', %s::jsonb)",
                         [console, json.dumps({"texts": [{"language": "en", "text": "Anything"}]})])
        with pytest.raises(psycopg.errors.InsufficientPrivilege,
                           match=f"Warning #{console} is not a broadcast message you may stop"):
            conn.execute("INSERT INTO cbc_command (warning_id, kind) VALUES (%s, 'stop')", [console])
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=f"Command #{done} .* can only be withdrawn"):
            conn.execute("UPDATE cbc_command SET kind = 'send', done_at = NULL WHERE id = %s", [done])
        conn.execute("UPDATE cbc_warning SET state = 'stopped', reason = 'by hand', finished_at = now() WHERE id = %s",
                     [console])  # recording it stopped is still allowed (0014)
        with pytest.raises(psycopg.errors.InsufficientPrivilege,
                           match=f"Warning #{console} is stopped: a staff login can only record it as stopped"):
            conn.execute("UPDATE cbc_warning SET state = 'active' WHERE id = %s", [console])
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="when it was created and sent"):
            conn.execute("UPDATE cbc_warning SET sent_at = now() + interval '1 day' WHERE id = %s", [console])
    with db.read() as s:
        assert s.execute(text("SELECT kind, done_at IS NOT NULL FROM cbc_command")).all() == [("stop", True)]
        assert s.scalar(text("SELECT state FROM cbc_warning")) == "stopped"
    # the console (owner) still updates and stops its warnings: the rules are for staff logins
    with db.transaction() as s:
        s.execute(text("UPDATE cbc_warning SET state = 'active' WHERE id = :w"), {"w": console})
        s.execute(text("INSERT INTO cbc_command (warning_id, kind) VALUES (:w, 'stop')"), {"w": console})


def test_a_stop_of_a_transmitted_message_still_works_for_its_stopper(db, admin):
    carol, _ = signed_in(db, admin, "carol", ["Broadcast Creator"])
    store.add_peer(db, admin, name="bsc1", protocol="cbsp", port=1)
    message_id = _approved(db, admin, carol, claimed=False)
    sent = bs.transmit(carol.db, carol.actor, message_id, require_centre=False)
    with db.transaction() as s:  # the centre took it up (it sets the states), so a stop is a command for it
        s.execute(text("UPDATE cbc_warning SET state = 'active' WHERE id = :w"), {"w": sent.warning_id})
    with db.transaction() as s:
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": store.CENTRE_LOCK_KEY})  # as a running centre
        stopped = bs.stop(carol.db, carol.actor, message_id)
    assert stopped.status == "cancelled"
    with db.read() as s:
        assert s.execute(text("SELECT kind FROM cbc_command ORDER BY id")).scalars().all() == ["send", "stop"]


def test_the_migration_downgrades_to_0014_and_upgrades_again(db, admin):
    from alembic import command

    from omnidesk.db.engine import alembic_config

    def guards() -> set[str]:
        with db.read() as s:
            return set(s.scalars(text("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'broadcast_%' "
                                      "AND tgrelid IN ('cbc_warning'::regclass, 'cbc_command'::regclass)")))

    ours = {"broadcast_send_check_warning", "broadcast_send_check_command", "broadcast_command_change_guard",
            "broadcast_warning_state_guard"}
    assert ours <= guards()
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0015")
    assert not ours & guards() and "broadcast_command_guard" in guards()
    with db.read() as s:  # 0013's command guard is back as it was
        assert "not (yet) a broadcast message's" in s.scalar(text(
            "SELECT prosrc FROM pg_proc WHERE proname = 'omnidesk_broadcast_command_guard'"))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert ours <= guards()


def test_the_engine_api_tells_a_staff_login_why_a_console_send_or_stop_is_refused(db, admin):
    carol, _ = signed_in(db, admin, "carol", ["Broadcast Creator"])
    store.add_peer(db, admin, name="bsc1", protocol="cbsp", port=1)
    warning = {"message_identifier": 4370, "repetition_period": 60, "texts": FLOOD_TEXT}
    with pytest.raises(store.BroadcastRefused, match=r"Warning #\d+ is not the transmission of an approved broadcast "
                                                     r"message.*Nothing was sent\.$"):
        store.submit_warning(carol.db, carol.actor, warning, require_centre=False)
    assert _counts(db) == (0, 0)
    console = store.submit_warning(db, admin, warning, require_centre=False)  # the owner's console sends it
    with pytest.raises(store.BroadcastRefused, match=f"Warning #{console.id} is not a broadcast message you may stop"):
        with db.transaction() as s:  # a running centre, so the stop is a command
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": store.CENTRE_LOCK_KEY})
            store.request_stop(carol.db, carol.actor, console.id)
    assert store.request_stop(db, admin, console.id).state == "stopped"  # queued, no centre: withdrawn

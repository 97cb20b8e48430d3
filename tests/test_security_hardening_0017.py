"""Migration 0017's hardenings, checked in PostgreSQL itself with plain psycopg as the staff member (as
someone at an unlocked desk with psql would): turning two-factor off takes a code once only and counts
wrong ones towards the lock; an approver cannot edit cbc_warning rows directly yet still approves."""

from __future__ import annotations

import json
import time

import psycopg
import pyotp
import pytest
from sqlalchemy import text

from omnidesk.auth import session as auth_session
from omnidesk.auth.session import WrongCode
from security_helpers import NEW_PASSWORD, raw, set_clock, signed_in, suffix, url


def _auth(db, username: str) -> dict:
    with db.read() as s:
        return dict(s.execute(text("SELECT a.totp_secret IS NOT NULL AS two_factor, a.failed_attempts, a.locked_until "
                                   "FROM staff_auth a JOIN staff_user u ON u.id = a.user_id WHERE u.username = :u"),
                              {"u": username}).mappings().one())


def _audited(db, action: str) -> int:
    with db.read() as s:
        return s.scalar(text("SELECT count(*) FROM activity_log WHERE action = :a"), {"a": action})


def _wrong_code(secret: str) -> str:
    """Six digits that match no step within ±2 of now (so the database must refuse them)."""
    app, now = pyotp.TOTP(secret), time.time()
    near = {app.at(now + 30 * k) for k in range(-2, 3)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


def _voluntarily_enrolled(db, admin, username: str):
    """A Support user (whose roles do not require two-factor) who turned it on; the enrolment used now's code."""
    session, enrolment = signed_in(db, admin, username, ["Support"])
    assert enrolment is None, "Support does not require two-factor"
    enrolment = session.begin_enrolment()
    session.confirm_enrolment(enrolment, pyotp.TOTP(enrolment.secret).now())
    assert _auth(db, username)["two_factor"]
    return session, enrolment


def _connect(db, username: str, session) -> psycopg.Connection:
    conn = raw(db, username, NEW_PASSWORD)
    conn.execute("SELECT omnidesk_resume_session(%s)", (session.db.session_token,))
    return conn


def _disable(conn, code):
    return conn.execute("SELECT omnidesk_disable_two_factor(%s)", (code,)).fetchone()[0]


def test_a_code_already_used_cannot_turn_two_factor_off_and_a_fresh_one_can(db, admin):
    session, enrolment = _voluntarily_enrolled(db, admin, "rita")
    app = pyotp.TOTP(enrolment.secret)
    with _connect(db, "rita", session) as conn:
        for bad in (None, "", "12345", "1 OR 1=1"):
            with pytest.raises(psycopg.Error, match="not a code") as refused:
                _disable(conn, bad)
            assert refused.value.sqlstate == "ODC01"
        # The code that confirmed the enrolment (as one seen over the shoulder at sign-in) is used up.
        replay = _disable(conn, app.now())
        assert replay["ok"] is False and replay["error"] == "reused"
        assert "already been used" in replay["message"]
        assert _auth(db, "rita")["two_factor"], "a replayed code leaves two-factor on"
        assert _audited(db, "two_factor_disabled") == 0
        assert _disable(conn, app.at(time.time() + 30)) == {"ok": True}
    assert _auth(db, "rita") == {"two_factor": False, "failed_attempts": 0, "locked_until": None}
    assert _audited(db, "two_factor_disabled") == 1
    # Signing in now needs only the password.
    login = auth_session.sign_in(url(db), "rita", NEW_PASSWORD, role_suffix=suffix(db))
    assert login.state.next_step == "none"
    login.abandon()
    session.sign_out()


def test_five_wrong_codes_to_turn_two_factor_off_lock_the_account_like_sign_in(db, admin):
    session, enrolment = _voluntarily_enrolled(db, admin, "sami")
    wrong = _wrong_code(enrolment.secret)
    with _connect(db, "sami", session) as conn:
        answers = [_disable(conn, wrong) for _ in range(5)]
        assert [a.get("attempts_left") for a in answers[:4]] == [4, 3, 2, 1]
        assert all(a["ok"] is False for a in answers)
        assert "two-factor authentication stays on. 4 more tries" in answers[0]["message"]
        assert "1 more try before" in answers[3]["message"]
        assert answers[4]["error"] == "locked"
        # Locked: even a right, unused code is refused until the lock ends.
        with pytest.raises(psycopg.Error, match="locked") as refused:
            _disable(conn, pyotp.TOTP(enrolment.secret).at(time.time() + 30))
        assert refused.value.sqlstate == "ODL01"
    state = _auth(db, "sami")
    assert state["two_factor"] and state["locked_until"] is not None
    assert _audited(db, "two_factor_disabled") == 0
    # ... and the lock is the sign-in lock: the password step now reports it.
    with pytest.raises(auth_session.AccountLocked):
        login = auth_session.sign_in(url(db), "sami", NEW_PASSWORD, role_suffix=suffix(db))
        login.verify(pyotp.TOTP(enrolment.secret).at(time.time() + 30))
    session.sign_out()


def test_roles_that_require_two_factor_refuse_before_the_code_is_used_or_counted(db, admin):
    session, enrolment = signed_in(db, admin, "tara", ["Broadcast Approver"])
    wrong = _wrong_code(enrolment.secret)
    with _connect(db, "tara", session) as conn:
        for code in (wrong, pyotp.TOTP(enrolment.secret).at(time.time() + 30)):
            with pytest.raises(psycopg.Error, match="require two-factor") as refused:
                _disable(conn, code)
            assert refused.value.sqlstate == "ODR01"
    assert _auth(db, "tara")["two_factor"] and _auth(db, "tara")["failed_attempts"] == 0
    session.sign_out()


def test_the_service_reports_a_wrong_code_with_the_tries_left_and_turns_off_with_a_right_one(db, admin):
    session, enrolment = _voluntarily_enrolled(db, admin, "uwe")
    with pytest.raises(WrongCode, match="Wrong code; two-factor authentication stays on") as wrong:
        session.disable_two_factor(_wrong_code(enrolment.secret))
    assert wrong.value.attempts_left == 4 and not wrong.value.locked
    with pytest.raises(WrongCode, match="already been used"):
        session.disable_two_factor(pyotp.TOTP(enrolment.secret).now())
    assert _auth(db, "uwe")["two_factor"]
    session.disable_two_factor(pyotp.TOTP(enrolment.secret).at(time.time() + 30))
    assert _auth(db, "uwe") == {"two_factor": False, "failed_attempts": 0, "locked_until": None}
    session.sign_out()


# --------------------------------------------------------------- approvers and cbc_warning


def test_an_approver_cannot_update_cbc_warning_directly_but_still_approves(db, admin):
    carol, carol_totp = signed_in(db, admin, "carol", ["Broadcast Creator"])
    alice, alice_totp = signed_in(db, admin, "alice", ["Broadcast Approver"])
    offset = 0

    def fresh(enrolment) -> str:  # move the database clock on: enrolment used the current step
        nonlocal offset
        offset += 90
        set_clock(db, f"interval '{offset} seconds'")
        return pyotp.TOTP(enrolment.secret).at(time.time() + offset)

    with _connect(db, "alice", alice) as conn:
        assert conn.execute("SELECT has_table_privilege('cbc_warning', 'UPDATE')").fetchone()[0] is False
        assert conn.execute("SELECT has_table_privilege('cbc_warning', 'SELECT')").fetchone()[0] is True
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for table cbc_warning"):
            conn.execute("UPDATE cbc_warning SET state = state")
    # A creator keeps what stopping a warning needs (delete_cbc_message).
    with _connect(db, "carol", carol) as conn:
        assert conn.execute("SELECT has_table_privilege('cbc_warning', 'UPDATE')").fetchone()[0] is True
        with db.read() as s:
            template = s.scalar(text("SELECT id FROM broadcast_template WHERE name = 'Flood'"))
        texts = json.dumps([{"language": "en", "text": "FLOOD WARNING. Move to higher ground."}])
        message = conn.execute("INSERT INTO broadcast_message (template_id, message_identifier, repetition_period, "
                               "texts) VALUES (%s, 9999, 60, %s::jsonb) RETURNING id", (template, texts)).fetchone()[0]
        assert conn.execute("SELECT omnidesk_broadcast_submit(%s, %s)",
                            (message, fresh(carol_totp))).fetchone()[0] == {"ok": True, "status": "pending_approval"}
    with _connect(db, "alice", alice) as conn:
        decided = conn.execute("SELECT omnidesk_broadcast_decide(%s, 'approve', %s, NULL, NULL)",
                               (message, fresh(alice_totp))).fetchone()[0]
        assert decided == {"ok": True, "status": "approved"}
    with db.read() as s:
        assert s.scalar(text("SELECT status FROM broadcast_message WHERE id = :i"), {"i": message}) == "approved"
    carol.sign_out()
    alice.sign_out()


# --------------------------------------------------------------- downgrade


@pytest.fixture
def scratch_url(pg_root):
    admin_conninfo, _ = pg_root
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "hardening_0017" WITH (FORCE)')
        conn.execute('CREATE DATABASE "hardening_0017"')
    yield admin_conninfo.replace("/postgres?", "/hardening_0017?")
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "hardening_0017" WITH (FORCE)')


def _what_0017_changes(conn) -> dict:
    return {
        "returns": conn.execute(text(
            "SELECT pg_get_function_result('omnidesk_disable_two_factor(text)'::regprocedure)")).scalar(),
        "staff_may_call": conn.execute(text("SELECT has_function_privilege(omnidesk_staff_group(), "
                                            "'omnidesk_disable_two_factor(text)', 'EXECUTE')")).scalar(),
        "public_may_call": conn.execute(text("SELECT has_function_privilege('public', "
                                             "'omnidesk_disable_two_factor(text)', 'EXECUTE')")).scalar(),
        "index": conn.execute(text("SELECT to_regclass('ix_broadcast_message_warning_id') IS NOT NULL")).scalar(),
        "grant_row": conn.execute(text("SELECT count(*) FROM permission_grant g JOIN permission p ON p.id = "
                                       "g.permission_id WHERE p.name = 'approve_cbc_message' AND g.privilege = "
                                       "'UPDATE' AND g.table_name = 'cbc_warning'")).scalar(),
        "approver_may_update": conn.execute(text(
            "SELECT has_table_privilege(omnidesk_role_group(r.id), 'cbc_warning', 'UPDATE') "
            "FROM role r WHERE r.name = 'Broadcast Approver'")).scalar(),
    }


def test_downgrading_0017_restores_what_0016_had_and_upgrading_again_reapplies_it(scratch_url):
    from alembic import command

    from omnidesk.db.engine import Database, alembic_config

    database = Database(scratch_url)
    database.upgrade()
    hardened = {"returns": "jsonb", "staff_may_call": True, "public_may_call": False, "index": True,
                "grant_row": 0, "approver_may_update": False}
    with database.engine.connect() as conn:
        assert _what_0017_changes(conn) == hardened
    cfg = alembic_config()
    with database.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0016")
    with database.engine.connect() as conn:
        assert _what_0017_changes(conn) == {"returns": "void", "staff_may_call": True, "public_may_call": False,
                                            "index": False, "grant_row": 1, "approver_may_update": True}
    database.upgrade()
    with database.engine.connect() as conn:
        assert _what_0017_changes(conn) == hardened
    database.dispose()

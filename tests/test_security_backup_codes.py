"""New backup codes need a current authenticator code, and the database itself asks for it: these tests
connect as the staff member with plain psycopg, bypassing every OmniDesk check, as someone at an
unlocked desk with psql would."""

from __future__ import annotations

import time

import psycopg
import pyotp
import pytest
from sqlalchemy import text

from omnidesk.auth import session as auth_session
from omnidesk.auth import totp
from omnidesk.auth.session import NotACode, WrongCode
from security_helpers import NEW_PASSWORD, raw, signed_in, suffix, url


def _stored_codes(db, username: str) -> list[bytes]:
    with db.read() as s:
        return list(s.scalars(text("SELECT c.code_hash FROM staff_backup_code c JOIN staff_user u ON u.id = c.user_id "
                                   "WHERE u.username = :u ORDER BY c.id"), {"u": username}))


def _failed_attempts(db, username: str) -> int:
    with db.read() as s:
        return s.scalar(text("SELECT a.failed_attempts FROM staff_auth a JOIN staff_user u ON u.id = a.user_id "
                             "WHERE u.username = :u"), {"u": username})


def _audited(db, action: str) -> int:
    with db.read() as s:
        return s.scalar(text("SELECT count(*) FROM activity_log WHERE action = :a"), {"a": action})


def _wrong_code(secret: str) -> str:
    """Six digits that match no step within ±1 of now (so the database must refuse them)."""
    app, now = pyotp.TOTP(secret), time.time()
    near = {app.at(now + 30 * k) for k in range(-2, 3)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


def test_psql_cannot_mint_backup_codes_without_a_current_code(db, admin):
    session, enrolment = signed_in(db, admin, "nora", ["Admin"])
    app = pyotp.TOTP(enrolment.secret)
    before = _stored_codes(db, "nora")
    assert len(before) == 10
    mine = list(totp.new_backup_codes())
    with raw(db, "nora", NEW_PASSWORD) as conn:
        conn.execute("SELECT omnidesk_resume_session(%s)", (session.db.session_token,))
        # 0004's session-only function is gone, not merely unused by the client.
        with pytest.raises(psycopg.errors.UndefinedFunction):
            conn.execute("SELECT omnidesk_regenerate_backup_codes(%s::text[])", (mine,))
        # No code, or something that is not one: refused outright.
        for bad in (None, "", "12345", "ABCD-EFGH", "1 OR 1=1"):
            with pytest.raises(psycopg.Error, match="not a code") as refused:
                conn.execute("SELECT omnidesk_regenerate_backup_codes(%s, %s)", (bad, mine))
            assert refused.value.sqlstate == "ODC01"
        # A wrong code is answered (so that the failure counts) and issues nothing.
        answer = conn.execute("SELECT omnidesk_regenerate_backup_codes(%s, %s)",
                              (_wrong_code(enrolment.secret), mine)).fetchone()[0]
        assert answer["ok"] is False and answer["error"] == "wrong_code" and answer["attempts_left"] == 4
        assert "no new backup codes were made" in answer["message"]
    assert _stored_codes(db, "nora") == before
    assert _failed_attempts(db, "nora") == 1, "a wrong code counts towards the 5-tries lock, as at sign-in"
    assert _audited(db, "backup_codes_regenerated") == 0

    nxt = app.at(time.time() + 30)  # the next step: never used (sign-in used the current one)
    with raw(db, "nora", NEW_PASSWORD) as conn:
        conn.execute("SELECT omnidesk_resume_session(%s)", (session.db.session_token,))
        assert conn.execute("SELECT omnidesk_regenerate_backup_codes(%s, %s)", (nxt, mine)).fetchone()[0] == {"ok": True}
        # The same code a second time: refused as used, the codes just made stay.
        after = _stored_codes(db, "nora")
        again = conn.execute("SELECT omnidesk_regenerate_backup_codes(%s, %s)",
                             (nxt, list(totp.new_backup_codes()))).fetchone()[0]
        assert again["ok"] is False and again["error"] == "reused"
    assert after != before and _stored_codes(db, "nora") == after
    assert _failed_attempts(db, "nora") == 0
    assert _audited(db, "backup_codes_regenerated") == 1

    # The old codes stopped working; the new ones sign in.
    login = auth_session.sign_in(url(db), "nora", NEW_PASSWORD, role_suffix=suffix(db))
    with pytest.raises(WrongCode):
        login.verify(enrolment.backup_codes[0])
    login.verify(mine[0]).sign_out()
    session.sign_out()


def test_wrong_codes_for_new_backup_codes_lock_the_account_like_sign_in(db, admin):
    session, enrolment = signed_in(db, admin, "otto", ["Admin"])
    before = _stored_codes(db, "otto")
    wrong = _wrong_code(enrolment.secret)
    with raw(db, "otto", NEW_PASSWORD) as conn:
        conn.execute("SELECT omnidesk_resume_session(%s)", (session.db.session_token,))
        answers = [conn.execute("SELECT omnidesk_regenerate_backup_codes(%s, %s)",
                                (wrong, list(totp.new_backup_codes()))).fetchone()[0] for _ in range(5)]
        assert [a.get("attempts_left") for a in answers[:4]] == [4, 3, 2, 1]
        assert answers[4]["error"] == "locked"
        # Locked: even the right code is refused until the lock ends.
        with pytest.raises(psycopg.Error, match="locked") as refused:
            conn.execute("SELECT omnidesk_regenerate_backup_codes(%s, %s)",
                         (pyotp.TOTP(enrolment.secret).at(time.time() + 30), list(totp.new_backup_codes())))
        assert refused.value.sqlstate == "ODL01"
    assert _stored_codes(db, "otto") == before
    session.sign_out()


def test_the_service_asks_for_a_code_and_reports_a_wrong_one(db, admin):
    session, enrolment = signed_in(db, admin, "pia", ["Admin"])
    before = _stored_codes(db, "pia")
    with pytest.raises(NotACode):
        session.regenerate_backup_codes("")
    with pytest.raises(WrongCode, match="Wrong code; no new backup codes were made") as wrong:
        session.regenerate_backup_codes(_wrong_code(enrolment.secret))
    assert wrong.value.attempts_left == 4
    assert _stored_codes(db, "pia") == before
    codes = session.regenerate_backup_codes(pyotp.TOTP(enrolment.secret).at(time.time() + 30))
    assert len(codes) == 10 and _stored_codes(db, "pia") != before
    session.sign_out()

"""PostgreSQL itself enforces who may do what: these tests connect as staff with plain psycopg
(bypassing every OmniDesk check) and through the sign-in functions the login dialog uses."""

from __future__ import annotations

import pyotp
import psycopg
import pytest
from sqlalchemy import text

from omnidesk.auth import session as auth_session
from omnidesk.auth import users
from omnidesk.auth.passwords import PasswordRejected
from omnidesk.customers.service import create_customer, list_customers
from omnidesk.errors import PermissionDenied, SessionEnded
from security_helpers import NEW_PASSWORD, conninfo, make_user, raw, set_clock, signed_in, suffix, url


def _customer(db, admin, name="Acme Pty Ltd"):
    return create_customer(db, admin, name=name, account_type="business", payment_type="postpaid", currency="AUD")


def test_before_the_second_factor_nothing_is_readable(db, admin):
    _customer(db, admin)
    make_user(db, admin, "sam", ["Support"])
    with raw(db, "sam", NEW_PASSWORD) as conn:
        with pytest.raises(psycopg.Error, match="Not signed in") as refused:
            conn.execute("SELECT name FROM customer").fetchall()
        assert refused.value.sqlstate == "ODS01"
        with pytest.raises(psycopg.Error, match="Not signed in"):
            conn.execute("INSERT INTO customer (name, account_type, payment_type, currency) "
                         "VALUES ('x', 'business', 'postpaid', 'AUD')")
        # A token someone made up does not open anything either.
        conn.execute("SELECT set_config('omnidesk.session', 'deadbeef', false)")
        with pytest.raises(psycopg.Error, match="Not signed in"):
            conn.execute("SELECT count(*) FROM customer").fetchone()
        # After the password-only session the Support role allows, the same query works.
        conn.execute("SELECT omnidesk_open_session_without_2fa()")
        assert conn.execute("SELECT name FROM customer").fetchall() == [("Acme Pty Ltd",)]


def test_a_role_without_view_customer_invoice_cannot_select_invoices(db, admin):
    users.create_role(db, admin, "Counter", permissions=["view_customer"])
    make_user(db, admin, "cara", ["Counter"])
    with raw(db, "cara", NEW_PASSWORD) as conn:
        conn.execute("SELECT omnidesk_open_session_without_2fa()")
        conn.execute("SELECT count(*) FROM customer").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for table invoice"):
            conn.execute("SELECT * FROM invoice").fetchall()
    # Granting the permission to the role is what makes the same SELECT work.
    users.grant_permissions(db, admin, "Counter", ["view_customer_invoice"])
    with raw(db, "cara", NEW_PASSWORD) as conn:
        conn.execute("SELECT omnidesk_open_session_without_2fa()")
        assert conn.execute("SELECT count(*) FROM invoice").fetchone() == (0,)


def test_a_support_user_cannot_give_themselves_a_role(db, admin):
    session, _ = signed_in(db, admin, "sue", ["Support"])
    token = session.db.session_token
    with raw(db, "sue", NEW_PASSWORD) as conn:
        conn.execute("SELECT omnidesk_resume_session(%s)", (token,))
        me = conn.execute("SELECT omnidesk_current_staff_id()").fetchone()[0]
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="user_role"):
            conn.execute("INSERT INTO user_role (user_id, role_id) SELECT %s, id FROM role WHERE name = 'Admin'", (me,))
        group = f"omnidesk_role_1@{suffix(db)}"  # the Admin role's group: its name is no secret, joining it is
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f'GRANT "{group}" TO CURRENT_USER')
        with pytest.raises(psycopg.Error, match="manage_users"):
            conn.execute("SELECT omnidesk_create_user('evil', '', '', 'SCRAM-SHA-256$4096:YQ==$YQ==:YQ==', ARRAY['Admin'])")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE staff_user SET login_role = current_user WHERE username = 'admin'")
    assert users.get_user(db, admin, "sue").roles == ("Support",)
    # Through the service the refusal reads as a permission message, and nothing changes.
    with pytest.raises(PermissionDenied):
        users.set_user_roles(session.db, session.actor, "sue", ["Admin"])
    assert users.get_user(db, admin, "sue").roles == ("Support",)


def test_a_user_manager_who_is_not_admin_cannot_hand_out_admin(db, admin):
    users.create_role(db, admin, "People", permissions=["manage_users"])
    make_user(db, admin, "pat", ["Support"])
    with db.transaction() as s:  # only an admin may give a role carrying manage_users: the owner is one
        s.execute(text("INSERT INTO user_role SELECT u.id, r.id FROM staff_user u, role r "
                       "WHERE u.username = 'pat' AND r.name = 'People'"))
    make_user(db, admin, "vic", ["Support"])
    with raw(db, "pat", NEW_PASSWORD) as conn:
        conn.execute("SELECT omnidesk_open_session_without_2fa()")
        conn.execute("INSERT INTO user_role SELECT u.id, r.id FROM staff_user u, role r "
                     "WHERE u.username = 'vic' AND r.name = 'Finance'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="Only an administrator"):
            conn.execute("INSERT INTO user_role SELECT u.id, r.id FROM staff_user u, role r "
                         "WHERE u.username = 'vic' AND r.name = 'Admin'")
    assert set(users.get_user(db, admin, "vic").roles) == {"Support", "Finance"}


def test_nobody_can_change_or_delete_activity_log_rows(db, admin):
    _customer(db, admin)
    session, enrolment = signed_in(db, admin, "ada", ["Admin"])
    assert enrolment is not None, "Admin requires a second factor"
    with raw(db, "ada", NEW_PASSWORD) as conn:
        conn.execute("SELECT omnidesk_resume_session(%s)", (session.db.session_token,))
        assert conn.execute("SELECT count(*) FROM activity_log").fetchone()[0] > 0
        for statement in ("UPDATE activity_log SET summary = 'nothing happened'", "DELETE FROM activity_log",
                          "TRUNCATE activity_log"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        # Entries written by a staff login carry that login, whatever the client claims.
        conn.execute("INSERT INTO activity_log (actor_name, entity_type, action, summary) "
                     "VALUES ('someone else', 'note', 'noted', 'claims to be someone else')")
        assert conn.execute("SELECT actor_name FROM activity_log WHERE action = 'noted'").fetchone() == ("ada",)
    # Not even the owner can: the append-only trigger refuses it.
    with pytest.raises(Exception, match="append-only"):
        with db.transaction() as s:
            s.execute(text("DELETE FROM activity_log"))


def test_the_totp_secret_is_unreadable_by_every_login_role(db, admin):
    sessions = {}
    for name, roles in (("ada", ["Admin"]), ("sam", ["Support"]), ("bob", ["Broadcast Creator"])):
        sessions[name], _ = signed_in(db, admin, name, roles)
    for name, session in sessions.items():
        with raw(db, name, NEW_PASSWORD) as conn:
            conn.execute("SELECT omnidesk_resume_session(%s)", (session.db.session_token,))
            for table in ("staff_auth", "staff_backup_code", "staff_session", "security_config"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(f"SELECT * FROM {table}").fetchall()
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT omnidesk_open_session(1, 'totp')")
    with db.read() as s:  # the secrets are there (Support signs in with a password alone)
        assert s.scalar(text("SELECT count(*) FROM staff_auth WHERE totp_secret IS NOT NULL")) == 2


def test_rfc6238_vectors_through_the_sign_in_check(db, admin):
    """RFC 6238 appendix B (SHA-1), last six digits: the verification the login uses, at those times."""
    password = make_user(db, admin, "rita", ["Support"])
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of the RFC's ASCII key "12345678901234567890"
    with db.transaction() as s:
        s.execute(text("UPDATE staff_auth SET totp_secret = :s FROM staff_user u "
                       "WHERE u.id = staff_auth.user_id AND u.username = 'rita'"), {"s": secret})
    vectors = [(59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"), (1234567890, "89005924"),
               (2000000000, "69279037")]
    for at, code in vectors:
        set_clock(db, f"to_timestamp({at}) - now()")
        with db.transaction() as s:
            s.execute(text("UPDATE staff_auth SET totp_last_counter = NULL, failed_attempts = 0"))
        login = auth_session.sign_in(url(db), "rita", password, role_suffix=suffix(db))
        session = login.verify(code[-6:])
        assert session.actor.username == "rita"
        session.sign_out()


def test_codes_one_step_away_are_accepted_two_steps_away_refused(db, admin):
    session, enrolment = signed_in(db, admin, "ada", ["Admin"])
    session.sign_out()
    totp = pyotp.TOTP(enrolment.secret)
    with db.read() as s:
        now = s.scalar(text("SELECT extract(epoch FROM omnidesk_now())"))
    base = int(now) // 30 * 30 + 300  # well clear of the enrolment code's step
    set_clock(db, f"to_timestamp({base + 10}) - now()")
    for offset, accepted in ((-30, True), (30, True), (60, False), (-60, False)):
        login = auth_session.sign_in(url(db), "ada", NEW_PASSWORD, role_suffix=suffix(db))
        code = totp.at(base + 10 + offset)
        if accepted:
            login.verify(code).sign_out()
            set_clock(db, f"to_timestamp({base + 10 + 90}) - now()")  # a later step, so the next code is not a replay
            base += 90
        else:
            with pytest.raises(auth_session.WrongCode):
                login.verify(code)
            login.abandon()


def test_a_totp_code_and_a_backup_code_each_work_once(db, admin):
    session, enrolment = signed_in(db, admin, "ada", ["Admin"])
    session.sign_out()
    code = enrolment.backup_codes[3]
    login = auth_session.sign_in(url(db), "ada", NEW_PASSWORD, role_suffix=suffix(db))
    login.verify(code.lower()[:4] + "-" + code.lower()[4:]).sign_out()  # typed in lower case with a dash
    login = auth_session.sign_in(url(db), "ada", NEW_PASSWORD, role_suffix=suffix(db))
    with pytest.raises(auth_session.WrongCode, match="already been used") as reused:
        login.verify(code)
    assert reused.value.attempts_left is None  # a reused code is not a guess: nothing is counted
    # The code the enrolment confirmed with cannot be replayed either.
    with pytest.raises(auth_session.WrongCode, match="already been used"):
        login.verify(pyotp.TOTP(enrolment.secret).now())
    with db.read() as s:
        assert s.scalar(text("SELECT failed_attempts FROM staff_auth a JOIN staff_user u ON u.id = a.user_id "
                             "WHERE u.username = 'ada'")) == 0


def test_five_wrong_codes_lock_the_account_for_thirty_minutes(db, admin):
    session, enrolment = signed_in(db, admin, "ada", ["Admin"])
    session.sign_out()
    login = auth_session.sign_in(url(db), "ada", NEW_PASSWORD, role_suffix=suffix(db))
    wrong = "000000" if pyotp.TOTP(enrolment.secret).now() != "000000" else "111111"
    for left in (4, 3, 2, 1):
        with pytest.raises(auth_session.WrongCode) as refused:
            login.verify(wrong)
        assert refused.value.attempts_left == left
    with pytest.raises(auth_session.WrongCode, match="locked for 30 minutes") as locked:
        login.verify(wrong)
    assert locked.value.locked
    # Locked: even the right code is refused, at this connection and at a new sign-in.
    with pytest.raises(auth_session.AccountLocked):
        login.verify(pyotp.TOTP(enrolment.secret).now())
    login.abandon()
    with pytest.raises(auth_session.AccountLocked, match="locked until"):
        auth_session.sign_in(url(db), "ada", NEW_PASSWORD, role_suffix=suffix(db))
    set_clock(db, "interval '29 minutes'")
    with pytest.raises(auth_session.AccountLocked):
        auth_session.sign_in(url(db), "ada", NEW_PASSWORD, role_suffix=suffix(db))
    set_clock(db, "interval '31 minutes'")
    login = auth_session.sign_in(url(db), "ada", NEW_PASSWORD, role_suffix=suffix(db))
    totp = pyotp.TOTP(enrolment.secret)
    with db.read() as s:
        at = s.scalar(text("SELECT extract(epoch FROM omnidesk_now())"))
    assert login.verify(totp.at(int(at))).actor.username == "ada"


def test_password_policy_refusals_name_the_rule(db, admin):
    _customer(db, admin)
    _, temporary = users.create_user(db, admin, username="nina", roles=["Support"])
    assert len(temporary) == 12
    login = auth_session.sign_in(url(db), "nina", temporary, role_suffix=suffix(db))
    assert login.state.next_step == "change_password"
    for password, rule in (("Short-1a", "length"), ("all-lower-case-1", "upper"), ("ALL-UPPER-CASE-1", "lower"),
                           ("No-Digits-Here!", "digit"), ("NoSymbols12345", "symbol"), ("Nina-Password-1", "username")):
        with pytest.raises(PasswordRejected) as refused:
            login.change_password(password)
        assert refused.value.rule == rule
    # The temporary password still works: nothing was changed.
    login.abandon()
    login = auth_session.sign_in(url(db), "nina", temporary, role_suffix=suffix(db))
    assert login.change_password(NEW_PASSWORD).next_step == "none"
    # A changed password alone still opens nothing.
    with raw(db, "nina", NEW_PASSWORD) as conn:
        with pytest.raises(psycopg.Error, match="Not signed in"):
            conn.execute("SELECT count(*) FROM customer").fetchone()


def test_a_temporary_password_must_be_changed_before_any_session(db, admin):
    _, temporary = users.create_user(db, admin, username="tom", roles=["Support"])
    with psycopg.connect(conninfo(db, "tom", temporary), autocommit=True) as conn:
        with pytest.raises(psycopg.Error, match="temporary") as refused:
            conn.execute("SELECT omnidesk_open_session_without_2fa()")
        assert refused.value.sqlstate == "ODP01"


@pytest.mark.parametrize("username", ["nobody", "admin' OR '1'='1", "x; DROP TABLE customer; --", "", "ADA"])
def test_unknown_users_and_sql_looking_names_get_the_same_message_as_a_wrong_password(db, admin, username):
    make_user(db, admin, "ada", ["Support"])
    with pytest.raises(auth_session.WrongCredentials) as refused:
        auth_session.sign_in(url(db), username, "Wrong-password-1" if username != "ADA" else "Not-her-password-9",
                             role_suffix=suffix(db))
    assert str(refused.value) == "Wrong username or password."
    with pytest.raises(auth_session.WrongCredentials) as wrong_password:
        auth_session.sign_in(url(db), "ada", "Wrong-password-1", role_suffix=suffix(db))
    assert str(wrong_password.value) == str(refused.value)
    with db.read() as s:
        assert s.scalar(text("SELECT count(*) FROM customer")) == 0
        assert s.scalar(text("SELECT count(*) FROM staff_user")) == 2


@pytest.mark.parametrize("code", ["12345", "1234567", "abc", "12345a", "", "O0O0-O0O0", "'; --"])
def test_input_that_is_no_code_is_refused_and_not_counted(db, admin, code):
    session, _ = signed_in(db, admin, "ada", ["Admin"])
    session.sign_out()
    login = auth_session.sign_in(url(db), "ada", NEW_PASSWORD, role_suffix=suffix(db))
    with pytest.raises(auth_session.NotACode):
        login.verify(code)
    # The database refuses the same input by itself when the client is bypassed.
    with raw(db, "ada", NEW_PASSWORD) as conn:
        with pytest.raises(psycopg.Error, match="not a code"):
            conn.execute("SELECT omnidesk_verify_code(%s)", (code,))
    with db.read() as s:
        assert s.scalar(text("SELECT failed_attempts FROM staff_auth a JOIN staff_user u ON u.id = a.user_id "
                             "WHERE u.username = 'ada'")) == 0
    login.abandon()


def test_a_signed_in_session_works_through_the_services_and_ends_on_sign_out(db, admin):
    _customer(db, admin, "Bluebird Telecom")
    session, _ = signed_in(db, admin, "sam", ["Support"])
    rows = _search(session.db, session.actor, search="bluebird")
    assert [r.name for r in rows] == ["Bluebird Telecom"]
    db_of_session = session.db
    token = db_of_session.session_token
    session.sign_out()
    reused = auth_session.sign_in(url(db), "sam", NEW_PASSWORD, role_suffix=suffix(db)).db
    reused.session_token = token
    with pytest.raises(SessionEnded):
        _search(reused, session.actor, search="bluebird")
    reused.dispose()


def test_sessions_end_after_eight_hours_without_activity(db, admin):
    _customer(db, admin)
    session, _ = signed_in(db, admin, "sam", ["Support"])
    session.db.session_resume_seconds = 0  # every query counts as activity (normally once a minute)
    set_clock(db, "interval '7 hours 59 minutes'")
    _search(session.db, session.actor, search="")  # activity: the session is extended
    set_clock(db, "interval '15 hours 58 minutes'")
    _search(session.db, session.actor, search="")
    set_clock(db, "interval '24 hours'")
    with pytest.raises(SessionEnded):
        _search(session.db, session.actor, search="")


def test_at_most_three_sessions_per_user(db, admin):
    _customer(db, admin)
    first, _ = signed_in(db, admin, "sam", ["Support"])
    others = []
    for _ in range(3):
        login = auth_session.sign_in(url(db), "sam", NEW_PASSWORD, role_suffix=suffix(db))
        others.append(login.without_second_factor())
    with pytest.raises(SessionEnded):
        _search(first.db, first.actor, search="")
    for s in others:
        _search(s.db, s.actor, search="")


def test_view_own_customer_shows_only_the_customers_a_user_manages(db, admin):
    mine = _customer(db, admin, "Mine Ltd")
    _customer(db, admin, "Theirs Ltd")
    users.create_role(db, admin, "Account Manager", permissions=["view_own_customer"])
    session, _ = signed_in(db, admin, "amy", ["Account Manager"])
    with db.transaction() as s:
        s.execute(text("UPDATE customer SET account_manager_user_id = (SELECT id FROM staff_user WHERE username = 'amy') "
                       "WHERE id = :id"), {"id": mine.id})
    with raw(db, "amy", NEW_PASSWORD) as conn:
        conn.execute("SELECT omnidesk_resume_session(%s)", (session.db.session_token,))
        assert conn.execute("SELECT name FROM customer ORDER BY name").fetchall() == [("Mine Ltd",)]


def _search(db, actor, *, search):
    return list_customers(db, actor, search=search)

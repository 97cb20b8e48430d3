"""Shared steps of the security tests: make a staff user, sign them in, connect as them with psycopg."""

from __future__ import annotations

import pyotp
import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from omnidesk.auth import session as auth_session
from omnidesk.auth import users

NEW_PASSWORD = "Correct-Horse-42"


def suffix(db) -> str:
    with db.read() as s:
        return s.scalar(text("SELECT role_suffix FROM security_config"))


def url(db) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def conninfo(db, username: str, password: str) -> str:
    """A libpq URL for connecting as the staff user's login role, bypassing OmniDesk entirely."""
    login = auth_session.login_role_name(username, suffix(db))
    return make_url(url(db)).set(drivername="postgresql", username=login, password=password).render_as_string(
        hide_password=False
    )


def make_user(db, admin, username: str, roles: list[str]) -> str:
    """A staff user whose temporary password was already changed to NEW_PASSWORD; returns the password."""
    _, temporary = users.create_user(db, admin, username=username, full_name=username.title(), roles=roles)
    login = auth_session.sign_in(url(db), username, temporary, role_suffix=suffix(db))
    login.change_password(NEW_PASSWORD)
    login.abandon()
    return NEW_PASSWORD


def signed_in(db, admin, username: str, roles: list[str]):
    """(StaffSession, totp secret or None): the user fully signed in, enrolled when their roles require it."""
    password = make_user(db, admin, username, roles)
    login = auth_session.sign_in(url(db), username, password, role_suffix=suffix(db))
    if login.state.next_step == "none":
        return login.without_second_factor(), None
    enrolment = login.begin_enrolment()
    session = login.confirm_enrolment(enrolment, pyotp.TOTP(enrolment.secret).now())
    return session, enrolment


def user_manager(db, admin, username: str = "pat"):
    """A StaffSession of a user manager who is no administrator (role People: manage_users only, no 2FA)."""
    users.create_role(db, admin, "People", permissions=["manage_users"])
    password = make_user(db, admin, username, ["Support"])
    with db.transaction() as s:  # only an admin may give a role carrying manage_users: the owner is one
        s.execute(text("INSERT INTO user_role SELECT u.id, r.id FROM staff_user u, role r "
                       "WHERE u.username = :u AND r.name = 'People'"), {"u": username})
    return auth_session.sign_in(url(db), username, password, role_suffix=suffix(db)).without_second_factor()


def set_clock(db, offset_sql: str) -> None:
    """Move the database's clock for the security functions (owner only), e.g. "interval '31 minutes'"."""
    with db.transaction() as s:
        s.execute(text(f"UPDATE security_config SET clock_offset = {offset_sql}"))


def raw(db, username: str, password: str) -> psycopg.Connection:
    return psycopg.connect(conninfo(db, username, password), autocommit=True)


def memory_keyring():
    """A secure-looking keyring that keeps its entries in a dict, for keyring.set_keyring in tests."""
    from keyring.backend import KeyringBackend
    from keyring.errors import PasswordDeleteError

    class InMemoryKeyring(KeyringBackend):
        priority = 1

        def __init__(self):
            super().__init__()
            self.entries: dict[tuple[str, str], str] = {}

        def get_password(self, service, username):
            return self.entries.get((service, username))

        def set_password(self, service, username, password):
            self.entries[(service, username)] = password

        def delete_password(self, service, username):
            if self.entries.pop((service, username), None) is None:
                raise PasswordDeleteError(username)

    return InMemoryKeyring()

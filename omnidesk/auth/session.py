"""Signing a staff member in: password (PostgreSQL checks it), then the second factor (the
database checks it and opens a session), then a Database whose every connection carries that
session. No Qt; the login dialog, the CLI and the tests use these functions.

Messages never tell an unknown username from a wrong password.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from omnidesk.auth import Actor, load_actor, totp
from omnidesk.auth.passwords import PasswordRejected, check_policy, scram_verifier
from omnidesk.db.engine import Database, normalise_url
from omnidesk.errors import DatabaseUnavailable, PermissionDenied, ServiceError, first_line

USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,29}$")
WRONG_CREDENTIALS = "Wrong username or password."


class SignInRefused(ServiceError):
    """A step of signing in was refused; the message says what to do."""


class WrongCredentials(SignInRefused):
    pass


class AccountLocked(SignInRefused):
    pass


class PasswordChangeRequired(SignInRefused):
    pass


class NotACode(SignInRefused):
    pass


class TwoFactorNotSetUp(SignInRefused):
    pass


class TwoFactorRequired(SignInRefused):
    pass


class WrongCode(SignInRefused):
    def __init__(self, message: str, *, attempts_left: int | None = None, locked: bool = False):
        super().__init__(message)
        self.attempts_left = attempts_left
        self.locked = locked


_SQLSTATE_ERRORS = {
    "ODU01": WrongCredentials,
    "ODL01": AccountLocked,
    "ODP01": PasswordChangeRequired,
    "ODC01": NotACode,
    "ODE01": TwoFactorNotSetUp,
    "ODR01": TwoFactorRequired,
}


def database_error(exc: DBAPIError) -> ServiceError | None:
    """The ServiceError for an OmniDesk security refusal raised by the database, or None."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    message = first_line(exc.orig, "Refused by the database.").rstrip(".") + "."
    if sqlstate in _SQLSTATE_ERRORS:
        return _SQLSTATE_ERRORS[sqlstate](message)
    if sqlstate == "42501":
        return PermissionDenied(message)
    if sqlstate in ("ODA01", "ODV01"):
        return SignInRefused(message)
    return None


def call(db: Database, sql: str, params: dict | None = None, *, scalar: bool = True):
    """Run one security function in its own transaction, mapping its refusals to ServiceErrors.

    db.transaction() already turns a lost connection into DatabaseUnavailable and an ended
    session into SessionEnded.
    """
    try:
        with db.transaction() as session:
            result = session.execute(text(sql), params or {})
            return result.scalar() if scalar else result.all()
    except DBAPIError as exc:
        mapped = database_error(exc)
        if mapped is None:
            raise
        raise mapped from exc


def role_suffix_for(database_name: str) -> str:
    """The suffix migration 0004 derives from the database's name (security_config.role_suffix)."""
    return re.sub(r"[^a-z0-9_]", "_", database_name.lower())[:32]


def login_role_name(username: str, suffix: str) -> str:
    return f"{username.lower()}@{suffix}"


@dataclass(frozen=True)
class LoginState:
    user_id: int
    username: str
    full_name: str
    enrolled: bool
    two_factor_required: bool
    locked_until: dt.datetime | None
    must_change_password: bool

    @property
    def next_step(self) -> str:
        """'change_password', 'code', 'enrol' or 'none' (no second factor needed)."""
        if self.must_change_password:
            return "change_password"
        if self.enrolled:
            return "code"
        return "enrol" if self.two_factor_required else "none"


@dataclass
class StaffSession:
    """A signed-in staff member: a Database whose connections carry the session, and the Actor."""

    db: Database
    actor: Actor
    expires_at: dt.datetime | None

    def sign_out(self) -> None:
        try:
            call(self.db, "SELECT omnidesk_end_session()")
        finally:
            self.db.session_token = None
            self.db.dispose()

    def still_open(self) -> bool:
        """False once the database ended this session (8 hours idle, signed out elsewhere, reset by an admin)."""
        from omnidesk.errors import SessionEnded

        try:
            call(self.db, "SELECT omnidesk_require_session()")
        except SessionEnded:
            return False
        return True

    # --- "My account": what a signed-in user does about their own second factor ---

    @property
    def username(self) -> str:
        return self.actor.username

    def login_state(self) -> LoginState:
        """Whether this user has a second factor and whether their roles require one."""
        return _login_state(self.db)

    def confirm_password(self, password: str) -> None:
        """WrongCredentials unless `password` is this user's current one (PostgreSQL checks it)."""
        check_password(self.db, password)

    def begin_enrolment(self) -> Enrolment:
        """A new secret and backup codes; the old second factor keeps working until confirmed."""
        secret = totp.new_secret()
        call(self.db, "SELECT omnidesk_enrol_begin(:s)", {"s": secret})
        return Enrolment(secret, totp.provisioning_uri(secret, self.username), tuple(totp.new_backup_codes()))

    def confirm_enrolment(self, enrolment: Enrolment, code: str) -> StaffSession:
        result = call(
            self.db, "SELECT omnidesk_enrol_confirm(:c, :b)", {"c": code, "b": list(enrolment.backup_codes)}
        )
        result = result if isinstance(result, dict) else json.loads(result)
        if not result.get("ok"):
            raise WrongCode(result.get("message", "Wrong code.").rstrip(".") + ".")
        return self

    def regenerate_backup_codes(self, code: str) -> tuple[str, ...]:
        """10 new backup codes (returned once), proved by a current code from the authenticator app;
        the old ones stop working. The database checks the code (once only, counted towards the lock)."""
        if totp.code_kind(code) != "totp":
            raise NotACode("Enter the 6 digits your authenticator app shows now.")
        codes = tuple(totp.new_backup_codes())
        result = call(self.db, "SELECT omnidesk_regenerate_backup_codes(:c, :b)", {"c": code, "b": list(codes)})
        result = result if isinstance(result, dict) else json.loads(result)
        if not result.get("ok"):
            raise WrongCode(result.get("message", "Wrong code.").rstrip(".") + ".",
                            attempts_left=result.get("attempts_left"), locked=result.get("error") == "locked")
        return codes

    def disable_two_factor(self, code: str) -> None:
        """Turn the second factor off, proved by a current code; refused where the roles require it.
        The database checks the code (once only, counted towards the lock)."""
        if totp.code_kind(code) != "totp":
            raise NotACode("Enter the 6 digits your authenticator app shows now.")
        result = call(self.db, "SELECT omnidesk_disable_two_factor(:c)", {"c": code})
        result = result if isinstance(result, dict) else json.loads(result)
        if not result.get("ok"):
            raise WrongCode(result.get("message", "Wrong code.").rstrip(".") + ".",
                            attempts_left=result.get("attempts_left"), locked=result.get("error") == "locked")


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment wizard shows: the secret (QR and text) and the 10 backup codes."""

    secret: str
    uri: str
    backup_codes: tuple[str, ...]

    def qr_png(self) -> bytes:
        return totp.qr_png(self.uri)


class StaffLogin:
    """A sign-in whose password step succeeded: the next steps and, at the end, a StaffSession."""

    def __init__(self, url: str, username: str, password: str, db: Database, state: LoginState):
        self._url = url
        self.username = username
        self._password = password
        self.db = db
        self.state = state

    def refresh(self) -> LoginState:
        self.state = _login_state(self.db)
        return self.state

    def verify(self, code: str) -> StaffSession:
        """The 6-digit code or a backup code; WrongCode (with the tries left) when it does not match."""
        if totp.code_kind(code) is None:
            raise NotACode("That is not a code: enter the 6 digits from your authenticator app or an 8-character backup code.")
        result = call(self.db, "SELECT omnidesk_verify_code(:code)", {"code": code})
        return self._session_from(result)

    def without_second_factor(self) -> StaffSession:
        return self._session_from(call(self.db, "SELECT omnidesk_open_session_without_2fa()"))

    def change_password(self, new_password: str) -> LoginState:
        """The forced change of a temporary password (or any change before the session opens)."""
        check_policy(new_password, username=self.username)
        if new_password == self._password:
            raise PasswordRejected("reuse", "The new password must differ from the current one.")
        call(self.db, "SELECT omnidesk_change_password(:v)", {"v": scram_verifier(new_password)})
        self._password = new_password
        self.db.dispose()
        self.db = Database(_login_url(self._url, self.db.engine.url.username, new_password), application_name="omnidesk")
        return self.refresh()

    def begin_enrolment(self) -> Enrolment:
        secret = totp.new_secret()
        call(self.db, "SELECT omnidesk_enrol_begin(:s)", {"s": secret})
        return Enrolment(secret, totp.provisioning_uri(secret, self.username), tuple(totp.new_backup_codes()))

    def confirm_enrolment(self, enrolment: Enrolment, code: str) -> StaffSession:
        result = call(
            self.db, "SELECT omnidesk_enrol_confirm(:c, :b)", {"c": code, "b": list(enrolment.backup_codes)}
        )
        return self._session_from(result)

    def confirm_password(self, password: str) -> None:
        """WrongCredentials unless `password` is this user's current one (PostgreSQL checks it)."""
        check_password(self.db, password)

    def abandon(self) -> None:
        self.db.dispose()

    def _session_from(self, result) -> StaffSession:
        result = result if isinstance(result, dict) else json.loads(result)
        if not result.get("ok"):
            raise WrongCode(result.get("message", "Wrong code."), attempts_left=result.get("attempts_left"),
                            locked=result.get("error") == "locked")
        self.db.session_token = result["token"]
        expires = result.get("expires_at")
        return StaffSession(
            db=self.db,
            actor=load_actor(self.db, self.username),
            expires_at=dt.datetime.fromisoformat(expires) if isinstance(expires, str) else expires,
        )


def _login_url(url: str, login_role: str, password: str) -> str:
    return make_url(normalise_url(url)).set(username=login_role, password=password).render_as_string(hide_password=False)


def _login_state(db: Database) -> LoginState:
    raw = call(db, "SELECT omnidesk_login_state()")
    data = raw if isinstance(raw, dict) else json.loads(raw)
    locked = data.get("locked_until")
    return LoginState(
        user_id=data["user_id"],
        username=data["username"],
        full_name=data.get("full_name") or "",
        enrolled=bool(data["enrolled"]),
        two_factor_required=bool(data["two_factor_required"]),
        locked_until=dt.datetime.fromisoformat(locked) if isinstance(locked, str) else locked,
        must_change_password=bool(data["must_change_password"]),
    )


def sign_in(url: str, username: str, password: str, *, role_suffix: str | None = None) -> StaffLogin:
    """The password step. `url` is the workstation's database URL (any user in it is replaced).

    An unknown user, a wrong password and a username that could not exist all get the same
    WrongCredentials message.
    """
    username = (username or "").strip().lower()
    if not USERNAME.match(username) or not password:
        raise WrongCredentials(WRONG_CREDENTIALS)
    base = make_url(normalise_url(url))
    suffix = role_suffix or role_suffix_for(base.database or "")
    db = Database(_login_url(url, login_role_name(username, suffix), password), application_name="omnidesk", pool_size=2)
    try:
        state = _login_state(db)
    except DatabaseUnavailable as exc:
        db.dispose()
        cause = exc.__cause__.orig if exc.__cause__ is not None else None
        if isinstance(cause, psycopg.OperationalError) and _is_auth_failure(cause):
            raise WrongCredentials(WRONG_CREDENTIALS) from None
        raise
    except ServiceError:
        db.dispose()
        raise
    if state.locked_until is not None:
        db.dispose()
        if state.locked_until.year >= 9999:
            raise AccountLocked("This account is locked until an administrator unlocks it.")
        raise AccountLocked(
            f"This account is locked until {state.locked_until.astimezone():%H:%M} after 5 wrong codes; "
            "try again then or ask an administrator to unlock it."
        )
    return StaffLogin(url, username, password, db, state)


def check_password(db: Database, password: str) -> None:
    """Connect once more as the login role of `db` with `password`: WrongCredentials when PostgreSQL refuses it."""
    conninfo = make_url(db.url).set(drivername="postgresql", password=password).render_as_string(hide_password=False)
    try:
        psycopg.connect(conninfo, connect_timeout=10, application_name="omnidesk").close()
    except psycopg.OperationalError as exc:
        if _is_auth_failure(exc):
            raise WrongCredentials("That is not your current password.") from None
        raise DatabaseUnavailable(f"The database could not be reached: {first_line(exc, 'no answer')}") from exc


def _is_auth_failure(exc: psycopg.OperationalError) -> bool:
    text_ = str(exc)
    return any(
        marker in text_
        for marker in ("password authentication failed", "no password supplied", "not permitted to log in")
    )
